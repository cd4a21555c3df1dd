// Codecs shared by both formats: the Zarr v3 chunk codecs (bytes, blosc,
// zstd), the crc32c checksum of the sharding index, and the per-thread zstd
// context that the OME-TIFF strip encoder uses too.
#pragma once

#include <cstddef>
#include <cstdint>

struct ZSTD_CCtx_s;
typedef struct ZSTD_CCtx_s ZSTD_CCtx;  // NOLINT: zstd's own declaration
#include <string>
#include <vector>

#include "ome_writers/settings.hpp"
#include "ome_writers/types.hpp"
#include "util/aligned_buffer.hpp"

namespace ome_writers::detail {

/// This thread's reusable zstd compression context.
ZSTD_CCtx* thread_zstd_context();

/// CRC-32C (Castagnoli), as the Zarr v3 crc32c codec defines it.
std::uint32_t crc32c(const void* data, std::size_t nbytes, std::uint32_t crc = 0) noexcept;

/// The level a Zarr codec uses when the caller asks for none (`requested` 0),
/// else `requested`. blosc: clevel; zstd: the zstd level.
int zarr_codec_level(Compression compression, DataType dtype, int requested);

/// Compresses chunks with one configured codec (thread-safe, no shared state).
///
/// blosc shuffles integer data bit by bit (each bit plane of a camera image is
/// compressed on its own: noisy low bits no longer hide the structure of the
/// high ones) and floating-point data byte by byte (bit planes of a float
/// mantissa are noise).
class ChunkCodec {
 public:
  /// `level` 0 picks zarr_codec_level()'s default.
  ChunkCodec(Compression compression, DataType dtype, int level = 0);

  /// True when encode() changes the bytes (anything but "none").
  bool compresses() const { return compression_ != Compression::kNone; }
  /// Compresses `nbytes` at `data` into `out` (resized to the encoded size).
  void encode(const void* data, std::size_t nbytes, AlignedBuffer& out) const;
  /// Inverse of encode(); `nbytes` is the decoded size.
  void decode(const void* data, std::size_t encoded_bytes, void* out, std::size_t nbytes) const;
  /// The codec entries after "bytes" in the array's zarr.json, as JSON text
  /// ("" for none), e.g. {"name":"blosc","configuration":{...}}.
  std::string codec_json() const;

 private:
  Compression compression_;
  std::size_t typesize_;
  int level_;
  bool bitshuffle_;
};

}  // namespace ome_writers::detail
