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

StripEncoder::~StripEncoder() {
  for (Slot& slot : slots_) {
    if (slot.busy) settle(slot);
  }
}

int StripEncoder::start(const std::byte* pixels) {
  const int index = slots_[0].busy ? 1 : 0;
  Slot& slot = slots_[index];
  if (slot.busy) throw Error(ErrorCode::kInternal, "two planes are already encoding");
  const std::uint32_t strips = format_.strip_count();
  while (slot.strips.size() < strips) slot.strips.push_back(std::make_unique<AlignedBuffer>());
  {
    std::lock_guard lock(mutex_);
    slot.finished = 0;
    slot.submitted = strips;
    slot.failed = false;
  }
  slot.busy = true;
  for (std::uint32_t s = 0; s < strips; ++s) {
    const std::uint32_t rows = format_.strip_rows(s);
    const std::byte* p = pixels + format_.strip_offset(s);
    AlignedBuffer* out = slot.strips[s].get();
    auto job = [this, &slot, p, rows, out] {
      bool ok = false;
      struct Mark {  // runs when the strip is done, encoded or failed
        StripEncoder& encoder;
        Slot& slot;
        const bool& ok;
        ~Mark() {
          bool last = false;
          {
            std::lock_guard lock(encoder.mutex_);
            if (!ok) slot.failed = true;
            last = ++slot.finished == slot.submitted;
          }
          // Only the plane's last strip wakes the writer (see finish()).
          if (last) encoder.changed_.notify_all();
        }
      } mark{*this, slot, ok};
      encode_strip(p, rows, *out);
      ok = true;
    };
    try {
      if (tasks_ != nullptr) {
        tasks_->submit(job);  // the pool keeps a failure for rethrow_if_failed()
      } else {
        job();
      }
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        slot.submitted = tasks_ != nullptr ? s : s + 1;  // the strips that ran
      }
      settle(slot);
      throw;
    }
  }
  return index;
}

void StripEncoder::settle(Slot& slot) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return slot.finished == slot.submitted; });
  slot.busy = false;
}

void StripEncoder::finish(int index, const Emit& emit) {
  Slot& slot = slots_[index];
  // One wake-up for the whole plane, once every strip is encoded: the next
  // plane keeps the encoders busy meanwhile. (A writer woken per strip waited
  // each time for a core, ~1.5 ms here, and became the pace of the stream.)
  settle(slot);
  bool failed = false;
  {
    std::lock_guard lock(mutex_);
    failed = slot.failed;
  }
  if (failed) {
    if (tasks_ != nullptr) tasks_->rethrow_if_failed();
    throw Error(ErrorCode::kInternal, "a strip could not be encoded");
  }
  for (std::uint32_t s = 0; s < format_.strip_count(); ++s) emit(s, *slot.strips[s]);
}

void StripEncoder::encode_plane(const std::byte* pixels, const Emit& emit) {
  finish(start(pixels), emit);
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
