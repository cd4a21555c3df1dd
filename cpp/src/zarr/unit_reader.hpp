// Reads frames back from the unit files of an array (chunks or shards).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "codec/codecs.hpp"
#include "core/layout.hpp"
#include "zarr/shard.hpp"
#include "zarr/slab.hpp"

namespace ome_writers::detail {

/// Decodes frames from unit files; safe to call from any thread.
class UnitReader {
 public:
  UnitReader(const Layout& layout, const ChunkCodec& codec);

  /// Copies the frame at `storage_index` of the array at `array_dir` into
  /// `out` (frame_bytes; fill value where no chunk holds it). Returns false
  /// when none of the units of its slab has a file.
  bool read_frame(const std::filesystem::path& array_dir,
                  const std::vector<std::int64_t>& storage_index, void* out) const;

 private:
  /// The frame being read: where it lies in its slab, and where it goes.
  struct Target {
    Slab slab;
    std::vector<std::int64_t> local;  // index within the slab, per index axis
    std::byte* out;
    std::vector<std::byte> decoded;  // scratch
  };
  /// Copies the frame's plane out of an unsharded unit file (one chunk).
  void read_chunk(const std::string& file, std::int64_t uy, std::int64_t ux, Target& t) const;
  /// Copies the frame's plane out of the inner chunks of a shard file that hold it.
  void read_shard(const std::string& file, std::int64_t uy, std::int64_t ux, Target& t) const;
  /// Copies the rows of `plane` of a decoded chunk at (y0, x0) of the frame into t.out.
  void copy_rows(const std::byte* chunk, std::int64_t plane, std::int64_t y0, std::int64_t x0,
                 Target& t) const;

  const Layout& layout_;
  const ChunkCodec& codec_;
  const std::size_t element_bytes_;
  const InnerChunkGrid grid_;
};

}  // namespace ome_writers::detail
