// OME-Zarr v0.5 writer: one Zarr v3 array per position, frames held in memory
// until the units they belong to are complete, parallel encoding, crash-safe
// metadata.
//
// One vocabulary for the whole zarr/ room:
// - chunk: what one codec call encodes (the layout's `chunk` extents): the
//   unit itself when not sharded, an inner chunk of a shard when sharded.
// - unit: what is written at once, as one file: one cell of the array's chunk
//   grid (the layout's `shard` extents), i.e. a chunk when not sharded, a
//   shard (inner chunks, then their index) when sharded.
// - slab: the frames that share units along the index axes (one unit's extent
//   along them, the whole frame in y and x). A slab's frames are held until
//   all of them have arrived; then its units, one per cell (uy, ux) of the
//   slab's unit grid in y and x, are encoded and written in parallel.
//
// Files: zarr_sink (arrays, slabs, groups, write/skip/flush/close), slab
// (chunk assembly), unit_writer (the encoding and write paths), shard (the
// shard format), unit_reader (frames back from unit files), recovery.cpp.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "codec/codecs.hpp"
#include "core/layout.hpp"
#include "core/memory_budget.hpp"
#include "core/rewrite_pacer.hpp"
#include "core/sink.hpp"
#include "core/task_pool.hpp"
#include "util/fs.hpp"
#include "zarr/slab.hpp"
#include "zarr/unit_reader.hpp"
#include "zarr/unit_writer.hpp"

namespace ome_writers::detail {

class ZarrSink final : public Sink {
 public:
  /// Creates the store: group hierarchy, group and array metadata. Throws
  /// kFileExists when the output exists and overwrite is off.
  ZarrSink(const StreamSettings& settings, const Layout& layout, MemoryBudget& budget,
           TaskPool& tasks);
  ~ZarrSink() override;

  void write_frame(const FrameLocation& where, FrameBuffer frame,
                   const std::string& metadata_json) override;
  void skip_frame(const FrameLocation& where) override;
  /// Plain (uncompressed) units go to the disk from the frames' buffers.
  bool wants_aligned_frames() const override;
  bool checkpoint() override;
  void close() override;
  /// One syncfs() for the whole store: thousands of unit files would cost a
  /// journal commit each with fsync(). (The units themselves went out with
  /// O_DIRECT; this commits their metadata.)
  void sync() const override { sync_filesystem(root_); }
  std::uint64_t bytes_written() const override;

  std::string metadata_json() const override;
  void update_metadata_json(const std::string& json) override;
  void set_global_metadata(const std::string& name_space, const std::string& json) override;
  bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                  void* out) const override;
  std::vector<std::int64_t> current_shape(std::int64_t position) const override;
  int levels() const override;
  bool read_level_frame(std::int64_t position, int level,
                        const std::vector<std::int64_t>& storage_index, void* out) const override;
  std::vector<std::int64_t> level_shape(std::int64_t position, int level) const override;

  /// Folds the frame-metadata journals of a store left by a crashed process
  /// into its zarr.json files. Returns the number of entries recovered.
  /// (In recovery.cpp.)
  static std::size_t recover(const std::filesystem::path& root);

 private:
  struct ArrayState;
  /// The geometry and the writers of one pyramid level (0 = full resolution).
  struct Level;
  /// A plane of a level kept until its partner in z arrives.
  struct PendingPlane;

  void prepare_output();
  /// Until every unit submitted so far is stored: the encoders, then the io
  /// thread they hand chunks to.
  void wait_for_units();
  void write_groups();
  void write_group(const std::string& rel) const;
  void write_array_metadata(ArrayState& a);
  ArrayState& array(std::int64_t position);
  bool read_from(const ArrayState& a, const std::vector<std::int64_t>& storage_index,
                 void* out) const;
  /// Every array: each position's full resolution, then its reduced levels.
  std::vector<ArrayState*> every_array() const;
  std::shared_ptr<Slab> slab_for(ArrayState& a, const std::vector<std::int64_t>& index);
  void place(ArrayState& a, const FrameLocation& where, FrameBuffer* frame);
  /// Computes what the plane at `index` of level `level - 1` (nullptr: never
  /// arrived) completes of level `level` and below, and places it.
  void feed_levels(ArrayState& base, std::size_t level, const std::vector<std::int64_t>& index,
                   const std::byte* data);
  /// Level `level`'s plane at `index` from one or two planes of the level
  /// above; places it after feeding the levels below.
  void reduce_and_place(ArrayState& base, std::size_t level, const std::vector<std::int64_t>& index,
                        const std::byte* first, const std::byte* second);
  /// Reduces the planes still waiting for a z partner that will not come
  /// (the partner reads as the fill value).
  void flush_pending_planes();
  /// Hands the units of a complete (or flushed partial) slab to the encoders.
  void write_slab(ArrayState& a, const std::shared_ptr<Slab>& slab);
  /// Throws Error(kIo) when the store was removed or replaced under the
  /// stream (its directories would otherwise be re-created silently, with
  /// the earlier frames gone).
  void check_store() const;
  [[noreturn]] void store_lost() const;

  const StreamSettings& settings_;
  const Layout& layout_;
  MemoryBudget& budget_;
  TaskPool& tasks_;
  ChunkCodec codec_;
  std::filesystem::path root_;
  std::optional<FileIdentity> root_identity_;
  std::vector<std::unique_ptr<Level>> levels_;  // [0] is the full resolution
  int z_axis_ = -1;                             // storage axis the pyramid halves, or -1

  mutable std::mutex mutex_;  // guards groups_, arrays_' metadata and slabs
  std::map<std::string, nlohmann::ordered_json> groups_;  // relative path -> attributes
  std::vector<std::unique_ptr<ArrayState>> arrays_;
  RewritePacer frame_metadata_pacer_;  // the image groups' zarr.json with frame metadata
  bool closed_ = false;
  // Stores compressed chunks while the encoders go on (UnitWriter::write).
  // Last, so that it is joined while the arrays its tasks finish still exist.
  TaskPool io_;
};

}  // namespace ome_writers::detail
