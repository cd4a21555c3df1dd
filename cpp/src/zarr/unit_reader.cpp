#include "zarr/unit_reader.hpp"

#include <algorithm>
#include <cstring>

#include "ome_writers/errors.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

UnitReader::UnitReader(const Layout& layout, const ChunkCodec& codec)
    : layout_(layout),
      codec_(codec),
      element_bytes_(bytes_per_element(layout.dtype)),
      grid_(layout) {}

bool UnitReader::read_frame(const std::filesystem::path& array_dir,
                            const std::vector<std::int64_t>& storage_index, void* out) const {
  Target t{
      Slab::at(layout_, slab_key(layout_, storage_index)), {}, static_cast<std::byte*>(out), {}};
  for (std::size_t i = 0; i < t.slab.key.size(); ++i) {
    t.local.push_back(storage_index[i] - t.slab.start[i]);
  }
  std::memset(t.out, 0, layout_.frame_bytes);
  bool found = false;
  const UnitGrid units = unit_grid(layout_);
  for (std::int64_t uy = 0; uy < units.y; ++uy) {
    for (std::int64_t ux = 0; ux < units.x; ++ux) {
      std::string file;
      try {
        file = read_file(unit_path(array_dir, t.slab, uy, ux));
      } catch (const Error&) {
        continue;
      }
      found = true;
      if (layout_.sharded) {
        read_shard(file, uy, ux, t);
      } else {
        read_chunk(file, uy, ux, t);
      }
    }
  }
  return found;
}

void UnitReader::read_chunk(const std::string& file, std::int64_t uy, std::int64_t ux,
                            Target& t) const {
  const std::size_t k = layout_.index_rank();
  std::int64_t plane = 0;
  for (std::size_t i = 0; i < k; ++i) plane = plane * t.slab.extent[i] + t.local[i];
  const std::size_t n =
      static_cast<std::size_t>(t.slab.frames * layout_.axes[k].chunk * layout_.axes[k + 1].chunk) *
      element_bytes_;
  t.decoded.resize(n);
  codec_.decode(file.data(), file.size(), t.decoded.data(), n);
  copy_rows(t.decoded.data(), plane, uy * layout_.axes[k].chunk, ux * layout_.axes[k + 1].chunk, t);
}

void UnitReader::read_shard(const std::string& file, std::int64_t uy, std::int64_t ux,
                            Target& t) const {
  if (!ShardIndex::fits(file, grid_.total)) return;
  // The inner chunks that hold the frame: one row of them across y and x.
  const std::size_t k = layout_.index_rank();
  std::int64_t row = 0;    // their position in C order over the index axes' grid
  std::int64_t plane = 0;  // the frame's plane inside each of them
  for (std::size_t i = 0; i < k; ++i) {
    const auto c = grid_.chunk_shape[i];
    row = row * grid_.counts[i] + t.local[i] / c;
    plane = plane * c + t.local[i] % c;
  }
  const std::int64_t gy = grid_.counts[k];
  const std::int64_t gx = grid_.counts[k + 1];
  for (std::int64_t cy = 0; cy < gy; ++cy) {
    for (std::int64_t cx = 0; cx < gx; ++cx) {
      const auto entry = ShardIndex::entry(file, grid_.total, (row * gy + cy) * gx + cx);
      if (!entry) continue;
      t.decoded.resize(grid_.chunk_bytes);
      codec_.decode(file.data() + entry->first, entry->second, t.decoded.data(), grid_.chunk_bytes);
      const std::int64_t y0 = uy * layout_.axes[k].shard + cy * grid_.chunk_shape[k];
      const std::int64_t x0 = ux * layout_.axes[k + 1].shard + cx * grid_.chunk_shape[k + 1];
      if (y0 < layout_.height && x0 < layout_.width) copy_rows(t.decoded.data(), plane, y0, x0, t);
    }
  }
}

void UnitReader::copy_rows(const std::byte* chunk, std::int64_t plane, std::int64_t y0,
                           std::int64_t x0, Target& t) const {
  const std::size_t k = layout_.index_rank();
  const std::int64_t cy = layout_.axes[k].chunk;
  const std::int64_t cx = layout_.axes[k + 1].chunk;
  const std::int64_t rows = std::min(cy, layout_.height - y0);
  const std::int64_t cols = std::min(cx, layout_.width - x0);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::memcpy(t.out + static_cast<std::size_t>((y0 + r) * layout_.width + x0) * element_bytes_,
                chunk + static_cast<std::size_t>((plane * cy + r) * cx) * element_bytes_,
                static_cast<std::size_t>(cols) * element_bytes_);
  }
}

}  // namespace ome_writers::detail
