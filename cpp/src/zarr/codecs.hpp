// Chunk codecs of Zarr v3: bytes (little endian), blosc, zstd, and the crc32c
// checksum of the sharding index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ome_writers/settings.hpp"
#include "ome_writers/types.hpp"
#include "util/aligned_buffer.hpp"

namespace ome_writers::detail {

/// CRC-32C (Castagnoli), as the Zarr v3 crc32c codec defines it.
std::uint32_t crc32c(const void* data, std::size_t nbytes, std::uint32_t crc = 0) noexcept;

/// Compresses chunks with one configured codec (thread-safe, no shared state).
class ChunkCodec {
 public:
  ChunkCodec(Compression compression, DataType dtype);

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
};

}  // namespace ome_writers::detail
