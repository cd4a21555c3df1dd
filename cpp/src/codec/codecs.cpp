#include "codec/codecs.hpp"

#include <blosc.h>
#include <zstd.h>

#include <array>
#include <cstring>
#include <new>

#include "ome_writers/errors.hpp"
#include "util/thread_cache.hpp"

namespace ome_writers::detail {

namespace {

// Slicing-by-8 tables for the reflected Castagnoli polynomial.
struct Crc32cTables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  Crc32cTables() {
    constexpr std::uint32_t kPoly = 0x82F63B78u;
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i) {
      for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

const Crc32cTables& tables() {
  static const Crc32cTables kTables;
  return kTables;
}

}  // namespace

ZSTD_CCtx* thread_zstd_context() {
  // One context per thread, reused: ZSTD_compress() would allocate and
  // initialise a fresh one (several MiB of tables) for every chunk.
  struct Context {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ~Context() { ZSTD_freeCCtx(ctx); }
  };
  Context& context = thread_cache<Context>();
  if (context.ctx == nullptr) throw std::bad_alloc();
  return context.ctx;
}

namespace {

/// Integer (and boolean) data is shuffled bit by bit, floating-point byte by byte.
bool bit_shuffled(DataType dtype) { return is_integer(dtype) || dtype == DataType::kBool; }

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t nbytes, std::uint32_t crc) noexcept {
  const auto& t = tables().t;
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (nbytes >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= crc;
    crc = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF] ^
          t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
    p += 8;
    nbytes -= 8;
  }
  while (nbytes-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

int zarr_codec_level(Compression compression, DataType dtype, int requested) {
  if (requested != 0) return requested;
  switch (compression) {
    case Compression::kBloscZstd:
      // clevel 2 = zstd level 3 inside blosc: with the bit shuffle it compresses
      // integer frames as well as clevel 3 does, faster. Floats keep 0.3.2's
      // clevel 3 (no bit shuffle to make up for a lower level).
      return bit_shuffled(dtype) ? 2 : 3;
    case Compression::kBloscLz4:
      return 5;
    case Compression::kZstd:
      // Plain zstd has no shuffle: a camera stream needs level 1's speed more
      // than level 3's smaller chunks (levels are an option).
      return 1;
    default:
      return 0;
  }
}

ChunkCodec::ChunkCodec(Compression compression, DataType dtype, int level)
    : compression_(compression),
      typesize_(bytes_per_element(dtype)),
      level_(zarr_codec_level(compression, dtype, level)),
      bitshuffle_(bit_shuffled(dtype)) {}

void ChunkCodec::encode(const void* data, std::size_t nbytes, AlignedBuffer& out) const {
  switch (compression_) {
    case Compression::kNone:
      out.resize(nbytes);
      std::memcpy(out.data(), data, nbytes);
      return;
    case Compression::kBloscZstd:
    case Compression::kBloscLz4: {
      const bool zstd = compression_ == Compression::kBloscZstd;
      out.resize(nbytes + BLOSC_MAX_OVERHEAD);
      const int n =
          blosc_compress_ctx(level_, bitshuffle_ ? BLOSC_BITSHUFFLE : BLOSC_SHUFFLE, typesize_,
                             nbytes, data, out.data(), out.size(), zstd ? "zstd" : "lz4", 0, 1);
      if (n <= 0) throw Error(ErrorCode::kInternal, "blosc compression failed");
      out.resize(static_cast<std::size_t>(n));
      return;
    }
    case Compression::kZstd: {
      out.resize(ZSTD_compressBound(nbytes));
      const std::size_t n =
          ZSTD_compressCCtx(thread_zstd_context(), out.data(), out.size(), data, nbytes, level_);
      if (ZSTD_isError(n)) {
        throw Error(ErrorCode::kInternal,
                    std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      }
      out.resize(n);
      return;
    }
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("compression '") + to_string(compression_) + "' is not a Zarr codec");
  }
}

void ChunkCodec::decode(const void* data, std::size_t encoded_bytes, void* out,
                        std::size_t nbytes) const {
  switch (compression_) {
    case Compression::kNone:
      if (encoded_bytes != nbytes) throw Error(ErrorCode::kIo, "chunk has the wrong size");
      std::memcpy(out, data, nbytes);
      return;
    case Compression::kBloscZstd:
    case Compression::kBloscLz4: {
      const int n = blosc_decompress_ctx(data, out, nbytes, 1);
      if (n < 0 || static_cast<std::size_t>(n) != nbytes) {
        throw Error(ErrorCode::kIo, "blosc chunk could not be decoded");
      }
      return;
    }
    case Compression::kZstd: {
      const std::size_t n = ZSTD_decompress(out, nbytes, data, encoded_bytes);
      if (ZSTD_isError(n) || n != nbytes) {
        throw Error(ErrorCode::kIo, "zstd chunk could not be decoded");
      }
      return;
    }
    default:
      throw Error(ErrorCode::kInternal, "unsupported Zarr codec");
  }
}

std::string ChunkCodec::codec_json() const {
  switch (compression_) {
    case Compression::kBloscZstd:
    case Compression::kBloscLz4: {
      const bool zstd = compression_ == Compression::kBloscZstd;
      return std::string(R"({"name":"blosc","configuration":{"cname":")") +
             (zstd ? "zstd" : "lz4") + R"(","clevel":)" + std::to_string(level_) +
             R"(,"shuffle":")" + (bitshuffle_ ? "bitshuffle" : "shuffle") + R"(","typesize":)" +
             std::to_string(typesize_) + R"(,"blocksize":0}})";
    }
    case Compression::kZstd:
      return R"({"name":"zstd","configuration":{"level":)" + std::to_string(level_) +
             R"(,"checksum":false}})";
    default:
      return "";
  }
}

}  // namespace ome_writers::detail
