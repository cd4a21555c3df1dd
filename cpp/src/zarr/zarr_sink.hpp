// OME-Zarr v0.5 writer: one Zarr v3 array per position, chunk buffers that
// assemble multi-frame chunks and shards, parallel encoding, crash-safe metadata.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec/codecs.hpp"
#include "core/layout.hpp"
#include "core/sink.hpp"
#include "core/task_pool.hpp"
#include "util/fs.hpp"

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
  /// Plain (uncompressed) chunks go to the disk from the frames' buffers.
  bool wants_aligned_frames() const override;
  void flush() override;
  void close() override;
  /// One syncfs() for the whole store: thousands of chunk files would cost a
  /// journal commit each with fsync(). (The chunks themselves went out with
  /// O_DIRECT; this commits their metadata.)
  void sync() const override { sync_filesystem(root_); }
  std::uint64_t bytes_written() const override { return bytes_written_.load(); }

  std::string metadata_json() const override;
  void update_metadata_json(const std::string& json) override;
  void set_global_metadata(const std::string& name_space, const std::string& json) override;
  bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                  void* out) const override;
  std::vector<std::int64_t> current_shape(std::int64_t position) const override;

  /// Folds the frame-metadata journals of a store left by a crashed process
  /// into its zarr.json files. Returns the number of entries recovered.
  static std::size_t recover(const std::filesystem::path& root);

 private:
  struct Slab;
  struct ArrayState;

  void prepare_output();
  void write_groups();
  void write_group(const std::string& rel) const;
  void write_array_metadata(ArrayState& a);
  ArrayState& array(std::int64_t position);
  std::shared_ptr<Slab> slab_for(ArrayState& a, const std::vector<std::int64_t>& index);
  void place(ArrayState& a, const FrameLocation& where, FrameBuffer* frame);
  void write_slab(ArrayState& a, const std::shared_ptr<Slab>& slab);
  void encode_unit(const ArrayState& a, const Slab& slab, std::int64_t ty, std::int64_t tx,
                   const std::vector<std::int64_t>& shape, bool rewrite);
  void extract_chunk(const Slab& slab, const std::vector<std::int64_t>& start,
                     const std::vector<std::int64_t>& shape, std::byte* out, bool to_disk) const;
  std::filesystem::path unit_path(const ArrayState& a, const Slab& slab, std::int64_t ty,
                                  std::int64_t tx) const;

  const StreamSettings& settings_;
  const Layout& layout_;
  MemoryBudget& budget_;
  TaskPool& tasks_;
  ChunkCodec codec_;
  AlignedBuffer zeros_;  // one frame of fill value (frames a unit never received)
  std::filesystem::path root_;
  std::size_t element_bytes_;
  bool whole_frame_chunks_;  // a chunk's y and x extents are the frame's

  mutable std::mutex mutex_;  // guards groups_, arrays_' metadata and slabs
  std::map<std::string, nlohmann::ordered_json> groups_;  // relative path -> attributes
  std::vector<std::unique_ptr<ArrayState>> arrays_;
  std::atomic<std::uint64_t> bytes_written_{0};
  bool closed_ = false;
};

}  // namespace ome_writers::detail
