// The shard format (Zarr v3 sharding_indexed, index at the end): inner chunks
// in C order over (index axes, y, x), then one (offset, nbytes) pair of
// little-endian uint64 per inner chunk, then the CRC-32C of those pairs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/codecs.hpp"
#include "core/layout.hpp"
#include "util/aligned_buffer.hpp"
#include "zarr/slab.hpp"

namespace ome_writers::detail {

/// How a shard is divided into inner chunks.
struct InnerChunkGrid {
  explicit InnerChunkGrid(const Layout& layout);

  std::vector<std::int64_t> counts;       // inner chunks along (index axes, y, x)
  std::vector<std::int64_t> chunk_shape;  // elements of one inner chunk along them
  std::int64_t total = 1;                 // inner chunks in a shard
  std::size_t chunk_bytes = 0;            // bytes of one decoded inner chunk
};

/// Where each inner chunk of a shard lies; inner chunks never written read
/// as the fill value.
class ShardIndex {
 public:
  static constexpr std::uint64_t kMissing = ~std::uint64_t{0};

  explicit ShardIndex(std::int64_t inner_chunks);
  void set(std::int64_t n, std::uint64_t offset, std::uint64_t nbytes);
  /// Appends the index and its CRC-32C to a shard.
  void append_to(AlignedBuffer& shard) const;

  /// Whether a shard file is long enough to end with an index of `inner_chunks` entries.
  static bool fits(std::string_view file, std::int64_t inner_chunks);
  /// (offset, nbytes) of inner chunk `n` of a shard file that fits(), or
  /// nullopt when that chunk was never written. The CRC is not checked.
  static std::optional<std::pair<std::uint64_t, std::uint64_t>> entry(std::string_view file,
                                                                      std::int64_t inner_chunks,
                                                                      std::int64_t n);

 private:
  std::vector<std::uint64_t> entries_;  // offset, nbytes, offset, nbytes...
};

/// Assembles the shards of slabs in memory: encoder threads call it at once.
class ShardAssembler {
 public:
  ShardAssembler(const Layout& layout, const ChunkCodec& codec, const AlignedBuffer& zeros);

  /// Builds the shard at (uy, ux) of a slab in `out`: only inner chunks
  /// inside `shape` (the array's current shape) and the frame are stored.
  /// `chunk` and `encoded` are scratch buffers.
  void assemble(const Slab& slab, std::int64_t uy, std::int64_t ux,
                const std::vector<std::int64_t>& shape, AlignedBuffer& chunk,
                AlignedBuffer& encoded, AlignedBuffer& out) const;

 private:
  /// Start of inner chunk `c` (grid coordinates): index axes relative to the
  /// slab, then y and x in the frame.
  std::vector<std::int64_t> inner_start(const std::vector<std::int64_t>& c, std::int64_t uy,
                                        std::int64_t ux) const;
  /// Whether an inner chunk at `start` lies inside the array's current shape and the frame.
  bool inside(const Slab& slab, const std::vector<std::int64_t>& start,
              const std::vector<std::int64_t>& shape) const;
  /// Appends one inner chunk to `out`; returns its stored size.
  std::size_t append_inner_chunk(const Slab& slab, const std::vector<std::int64_t>& start,
                                 AlignedBuffer& chunk, AlignedBuffer& encoded,
                                 AlignedBuffer& out) const;

  const Layout& layout_;
  const ChunkCodec& codec_;
  const AlignedBuffer& zeros_;
  const InnerChunkGrid grid_;
};

}  // namespace ome_writers::detail
