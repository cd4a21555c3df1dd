#include "zarr/slab.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "util/frame_copy.hpp"

namespace ome_writers::detail {

namespace {

void copy_bytes(void* dst, const void* src, std::size_t n) noexcept { std::memcpy(dst, src, n); }

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

Slab Slab::at(const Layout& layout, const std::vector<std::int64_t>& key) {
  Slab slab;
  slab.key = key;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto& axis = layout.axes[i];
    const std::int64_t start = key[i] * axis.shard;
    slab.start.push_back(start);
    slab.extent.push_back(axis.shard);
    slab.frames *= axis.shard;
    slab.expected *= axis.count == 0 ? axis.shard : std::min(axis.shard, axis.count - start);
  }
  slab.held.resize(static_cast<std::size_t>(slab.frames));
  return slab;
}

std::size_t Slab::local_index(const std::vector<std::int64_t>& index) const {
  std::int64_t local = 0;
  for (std::size_t i = 0; i < extent.size(); ++i) local = local * extent[i] + (index[i] - start[i]);
  return static_cast<std::size_t>(local);
}

std::vector<std::int64_t> slab_key(const Layout& layout,
                                   const std::vector<std::int64_t>& storage_index) {
  std::vector<std::int64_t> key(layout.index_rank());
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = storage_index[i] / layout.axes[i].shard;
  return key;
}

std::int64_t slab_frames(const Layout& layout) {
  std::int64_t frames = 1;
  for (std::size_t i = 0; i < layout.index_rank(); ++i) frames *= layout.axes[i].shard;
  return frames;
}

UnitGrid unit_grid(const Layout& layout) {
  const std::size_t k = layout.index_rank();
  return {ceil_div(layout.height, layout.axes[k].shard),
          ceil_div(layout.width, layout.axes[k + 1].shard)};
}

std::filesystem::path unit_path(const std::filesystem::path& array_dir, const Slab& slab,
                                std::int64_t uy, std::int64_t ux) {
  std::filesystem::path p = array_dir / "c";
  for (auto k : slab.key) p /= std::to_string(k);
  p /= std::to_string(uy);
  p /= std::to_string(ux);
  return p;
}

void assemble_chunk(const Layout& layout, const Slab& slab, const AlignedBuffer& zeros,
                    const std::vector<std::int64_t>& start, const std::vector<std::int64_t>& shape,
                    std::byte* out, bool to_disk) {
  const std::size_t element_bytes = bytes_per_element(layout.dtype);
  const std::size_t k = slab.extent.size();
  const std::int64_t y0 = start[k];
  const std::int64_t x0 = start[k + 1];
  const std::int64_t cy = shape[k];
  const std::int64_t cx = shape[k + 1];
  const std::int64_t rows = std::min(cy, layout.height - y0);
  const std::int64_t cols = std::min(cx, layout.width - x0);
  std::int64_t planes = 1;
  for (std::size_t i = 0; i < k; ++i) planes *= shape[i];
  const std::size_t chunk_bytes = static_cast<std::size_t>(planes * cy * cx) * element_bytes;
  if (rows < cy || cols < cx) std::memset(out, 0, chunk_bytes);
  std::vector<std::int64_t> counter(k, 0);
  for (std::int64_t p = 0; p < planes; ++p) {
    std::int64_t local = 0;
    for (std::size_t i = 0; i < k; ++i) local = local * slab.extent[i] + start[i] + counter[i];
    const std::byte* frame = slab.frame_data(static_cast<std::size_t>(local), zeros);
    std::byte* plane = out + static_cast<std::size_t>(p * cy * cx) * element_bytes;
    const std::byte* first =
        frame + static_cast<std::size_t>(y0 * layout.width + x0) * element_bytes;
    const std::size_t row_bytes = static_cast<std::size_t>(cols) * element_bytes;
    if (cols == layout.width && cx == cols) {  // whole rows: one block
      (to_disk ? copy_streaming : copy_bytes)(plane, first,
                                              static_cast<std::size_t>(rows) * row_bytes);
    } else {
      const auto copy = to_disk && row_bytes >= 256 ? copy_streaming : copy_bytes;
      for (std::int64_t r = 0; r < rows; ++r) {
        copy(plane + static_cast<std::size_t>(r * cx) * element_bytes,
             first + static_cast<std::size_t>(r * layout.width) * element_bytes, row_bytes);
      }
    }
    for (std::size_t i = k; i-- > 0;) {
      if (++counter[i] < shape[i]) break;
      counter[i] = 0;
    }
  }
  if (to_disk) streaming_fence();
}

}  // namespace ome_writers::detail
