// Slabs: the frames that share units along the index axes (the vocabulary is
// in zarr_sink.hpp), where their units' files go, and the assembly of chunks
// out of their frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/buffer_pool.hpp"
#include "core/layout.hpp"
#include "util/aligned_buffer.hpp"

namespace ome_writers::detail {

/// Frames that share units along the index axes, held in memory until all of
/// them have arrived.
struct Slab {
  /// The slab at `key` with no frame yet.
  static Slab at(const Layout& layout, const std::vector<std::int64_t>& key);

  std::vector<std::int64_t> key;     // slab coordinates along the index axes
  std::vector<std::int64_t> start;   // first element along the index axes
  std::vector<std::int64_t> extent;  // elements along the index axes
  std::int64_t frames = 1;           // product of extent
  std::int64_t expected = 1;         // frames inside the array (extent if unbounded)
  std::int64_t arrived = 0;
  std::int64_t with_data = 0;
  std::int64_t with_data_written = 0;  // with_data when its units were last handed to the writers
  bool written_before = false;
  int units_pending = 0;  // encode tasks not yet finished (guarded by the sink's mutex)
  // The queue's own buffers, in C order over the index axes (no copy): empty
  // where a frame has not arrived (it reads as the fill value).
  std::vector<FrameBuffer> held;

  /// Position of the frame at `index` (storage index axes) among held.
  std::size_t local_index(const std::vector<std::int64_t>& index) const;

  /// The frame at `local`, or `zeros` (one frame of fill value) when it has not arrived.
  const std::byte* frame_data(std::size_t local, const AlignedBuffer& zeros) const {
    return held[local] ? held[local].data() : zeros.data();
  }
};

/// Key of the slab that holds the frame at `storage_index`.
std::vector<std::int64_t> slab_key(const Layout& layout,
                                   const std::vector<std::int64_t>& storage_index);

/// Frames in a whole slab.
std::int64_t slab_frames(const Layout& layout);

/// How many units a slab has along y and x.
struct UnitGrid {
  std::int64_t y = 1;
  std::int64_t x = 1;
};
UnitGrid unit_grid(const Layout& layout);

/// File of the unit at (uy, ux) of a slab: c/<key...>/<uy>/<ux> in the array.
std::filesystem::path unit_path(const std::filesystem::path& array_dir, const Slab& slab,
                                std::int64_t uy, std::int64_t ux);

/// Copies the chunk at `start` of `shape` (index axes relative to the slab,
/// then y and x in the frame) out of a slab's frames into `out`, C order;
/// the part outside the frame is zero. `zeros` stands in for frames that
/// have not arrived. Bytes bound for the disk (`to_disk`, not for an encoder)
/// bypass the cache.
void assemble_chunk(const Layout& layout, const Slab& slab, const AlignedBuffer& zeros,
                    const std::vector<std::int64_t>& start, const std::vector<std::int64_t>& shape,
                    std::byte* out, bool to_disk);

}  // namespace ome_writers::detail
