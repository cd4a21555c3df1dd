#include "tiff/strip_encoder.hpp"

#include <libdeflate.h>
#include <zstd.h>

#include "codec/codecs.hpp"
#include "ome_writers/errors.hpp"
#include "util/thread_cache.hpp"

namespace ome_writers::detail {

namespace {

// Fast levels: a camera stream must keep up, and on noisy microscopy data
// higher levels gain little.
constexpr int kTiffZstdLevel = 3;
constexpr int kTiffDeflateLevel = 1;

}  // namespace

StripEncoder::StripEncoder(const TiffPlaneFormat& format, DataType dtype, Compression compression,
                           int level, TaskPool* tasks)
    : format_(format),
      sample_bytes_(bytes_per_element(dtype)),
      compression_(compression),
      level_(level != 0                          ? level
             : compression == Compression::kZstd ? kTiffZstdLevel
                                                 : kTiffDeflateLevel),
      tasks_(tasks) {}

void StripEncoder::encode_plane(const std::byte* pixels) {
  const std::uint32_t strips = format_.strip_count();
  while (strips_.size() < strips) strips_.push_back(std::make_unique<AlignedBuffer>());
  for (std::uint32_t s = 0; s < strips; ++s) {
    const std::uint32_t rows = format_.strip_rows(s);
    const std::byte* p = pixels + format_.strip_offset(s);
    AlignedBuffer* out = strips_[s].get();
    auto job = [this, p, rows, out] { encode_strip(p, rows, *out); };
    if (tasks_ != nullptr) {
      tasks_->submit(job);
    } else {
      job();
    }
  }
  if (tasks_ != nullptr) tasks_->wait();
}

void StripEncoder::encode_strip(const std::byte* pixels, std::size_t rows,
                                AlignedBuffer& out) const {
  struct Diffed {};
  AlignedBuffer& diffed = thread_cache<AlignedBuffer, Diffed>();
  const std::byte* src = pixels;
  if (format_.predictor) {
    difference_rows(pixels, rows, diffed);
    src = diffed.data();
  }
  const std::size_t n = rows * format_.row_bytes;
  if (compression_ == Compression::kZstd) {
    compress_zstd(src, n, out);
  } else {
    compress_deflate(src, n, out);
  }
}

void StripEncoder::difference_rows(const std::byte* pixels, std::size_t rows,
                                   AlignedBuffer& out) const {
  const std::size_t row_bytes = format_.row_bytes;
  const std::size_t width = format_.width;
  out.resize(rows * row_bytes);
  // Per row, modulo the sample size.
  auto diff = [&](auto sample) {
    using T = decltype(sample);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto* in = reinterpret_cast<const T*>(pixels + r * row_bytes);
      auto* o = reinterpret_cast<T*>(out.data() + r * row_bytes);
      o[0] = in[0];
      for (std::size_t x = 1; x < width; ++x) o[x] = static_cast<T>(in[x] - in[x - 1]);
    }
  };
  switch (sample_bytes_) {
    case 1:
      diff(std::uint8_t{});
      break;
    case 2:
      diff(std::uint16_t{});
      break;
    default:
      diff(std::uint32_t{});
      break;
  }
}

void StripEncoder::compress_zstd(const std::byte* src, std::size_t n, AlignedBuffer& out) const {
  out.resize(ZSTD_compressBound(n));
  const std::size_t m =
      ZSTD_compressCCtx(thread_zstd_context(), out.data(), out.size(), src, n, level_);
  if (ZSTD_isError(m)) throw Error(ErrorCode::kInternal, "zstd compression failed");
  out.resize(m);
}

void StripEncoder::compress_deflate(const std::byte* src, std::size_t n, AlignedBuffer& out) const {
  // libdeflate rather than zlib for speed; its zlib format is what TIFF's
  // Adobe Deflate expects.
  struct Compressor {
    libdeflate_compressor* c = nullptr;
    int level = 0;
    ~Compressor() { libdeflate_free_compressor(c); }
  };
  Compressor& compressor = thread_cache<Compressor>();
  if (compressor.c == nullptr || compressor.level != level_) {
    libdeflate_free_compressor(compressor.c);
    compressor.c = libdeflate_alloc_compressor(level_);
    compressor.level = level_;
  }
  if (compressor.c == nullptr)
    throw Error(ErrorCode::kInternal, "cannot allocate a deflate compressor");
  out.resize(libdeflate_zlib_compress_bound(compressor.c, n));
  const std::size_t m = libdeflate_zlib_compress(compressor.c, src, n, out.data(), out.size());
  if (m == 0) throw Error(ErrorCode::kInternal, "deflate compression failed");
  out.resize(m);
}

}  // namespace ome_writers::detail
