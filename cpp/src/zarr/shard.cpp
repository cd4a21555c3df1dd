#include "zarr/shard.hpp"

#include <cstring>

namespace ome_writers::detail {

namespace {

void append_le(std::vector<std::byte>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}

/// Steps grid coordinates `c` to the next inner chunk in C order.
void advance(std::vector<std::int64_t>& c, const std::vector<std::int64_t>& counts) {
  for (std::size_t i = counts.size(); i-- > 0;) {
    if (++c[i] < counts[i]) return;
    c[i] = 0;
  }
}

}  // namespace

InnerChunkGrid::InnerChunkGrid(const Layout& layout) {
  for (const auto& axis : layout.axes) {
    counts.push_back(axis.shard / axis.chunk);
    chunk_shape.push_back(axis.chunk);
  }
  std::int64_t elements = 1;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    total *= counts[i];
    elements *= chunk_shape[i];
  }
  chunk_bytes = static_cast<std::size_t>(elements) * bytes_per_element(layout.dtype);
}

ShardIndex::ShardIndex(std::int64_t inner_chunks)
    : entries_(static_cast<std::size_t>(inner_chunks) * 2, kMissing) {}

void ShardIndex::set(std::int64_t n, std::uint64_t offset, std::uint64_t nbytes) {
  entries_[static_cast<std::size_t>(n) * 2] = offset;
  entries_[static_cast<std::size_t>(n) * 2 + 1] = nbytes;
}

void ShardIndex::append_to(AlignedBuffer& shard) const {
  std::vector<std::byte> bytes;
  bytes.reserve(entries_.size() * 8 + 4);
  for (auto v : entries_) append_le(bytes, v, 8);
  append_le(bytes, crc32c(bytes.data(), bytes.size()), 4);
  shard.append(bytes.data(), bytes.size());
}

bool ShardIndex::fits(std::string_view file, std::int64_t inner_chunks) {
  const std::size_t entries = file.size() >= 4 ? (file.size() - 4) / 16 : 0;
  return static_cast<std::int64_t>(entries) >= inner_chunks;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> ShardIndex::entry(std::string_view file,
                                                                         std::int64_t inner_chunks,
                                                                         std::int64_t n) {
  const char* index = file.data() + file.size() - 4 - static_cast<std::size_t>(inner_chunks) * 16;
  std::uint64_t offset = 0;
  std::uint64_t nbytes = 0;
  std::memcpy(&offset, index + n * 16, 8);
  std::memcpy(&nbytes, index + n * 16 + 8, 8);
  if (offset == kMissing) return std::nullopt;
  return std::make_pair(offset, nbytes);
}

ShardAssembler::ShardAssembler(const Layout& layout, const ChunkCodec& codec,
                               const AlignedBuffer& zeros)
    : layout_(layout), codec_(codec), zeros_(zeros), grid_(layout) {}

void ShardAssembler::assemble(const Slab& slab, std::int64_t uy, std::int64_t ux,
                              const std::vector<std::int64_t>& shape, AlignedBuffer& chunk,
                              AlignedBuffer& encoded, AlignedBuffer& out) const {
  out.clear();
  // The whole shard at once: growing it step by step would copy it and fault
  // in fresh pages several times over on every encoder thread.
  out.reserve(static_cast<std::size_t>(grid_.total) * (grid_.chunk_bytes + 16) + 4);
  ShardIndex index(grid_.total);
  std::vector<std::int64_t> c(grid_.counts.size(), 0);
  for (std::int64_t n = 0; n < grid_.total; ++n, advance(c, grid_.counts)) {
    const std::vector<std::int64_t> start = inner_start(c, uy, ux);
    if (!inside(slab, start, shape)) continue;
    const std::size_t offset = out.size();
    index.set(n, offset, append_inner_chunk(slab, start, chunk, encoded, out));
  }
  index.append_to(out);
}

std::vector<std::int64_t> ShardAssembler::inner_start(const std::vector<std::int64_t>& c,
                                                      std::int64_t uy, std::int64_t ux) const {
  const std::size_t k = layout_.index_rank();
  std::vector<std::int64_t> start(c.size());
  for (std::size_t i = 0; i < k; ++i) start[i] = c[i] * grid_.chunk_shape[i];
  start[k] = uy * layout_.axes[k].shard + c[k] * grid_.chunk_shape[k];
  start[k + 1] = ux * layout_.axes[k + 1].shard + c[k + 1] * grid_.chunk_shape[k + 1];
  return start;
}

bool ShardAssembler::inside(const Slab& slab, const std::vector<std::int64_t>& start,
                            const std::vector<std::int64_t>& shape) const {
  const std::size_t k = layout_.index_rank();
  for (std::size_t i = 0; i < k; ++i) {
    if (slab.start[i] + start[i] >= shape[i]) return false;
  }
  return start[k] < layout_.height && start[k + 1] < layout_.width;
}

std::size_t ShardAssembler::append_inner_chunk(const Slab& slab,
                                               const std::vector<std::int64_t>& start,
                                               AlignedBuffer& chunk, AlignedBuffer& encoded,
                                               AlignedBuffer& out) const {
  const std::size_t bytes = grid_.chunk_bytes;
  if (!codec_.compresses()) {
    // Uncompressed: assemble the inner chunk in place in the shard.
    const std::size_t offset = out.size();
    out.resize(offset + bytes);
    assemble_chunk(layout_, slab, zeros_, start, grid_.chunk_shape, out.data() + offset,
                   /*to_disk=*/true);
    return bytes;
  }
  chunk.resize(bytes);
  assemble_chunk(layout_, slab, zeros_, start, grid_.chunk_shape, chunk.data(), /*to_disk=*/false);
  codec_.encode(chunk.data(), bytes, encoded);
  out.append(encoded.data(), encoded.size());
  return encoded.size();
}

}  // namespace ome_writers::detail
