// Encodes the units of complete slabs and writes each to its file.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "codec/codecs.hpp"
#include "core/layout.hpp"
#include "core/memory_budget.hpp"
#include "core/task_pool.hpp"
#include "util/aligned_buffer.hpp"
#include "zarr/shard.hpp"
#include "zarr/slab.hpp"

namespace ome_writers::detail {

/// Whether the units of `layout` are compressed chunks of one whole frame
/// bound for O_DIRECT files: those UnitWriter::write leaves to an io thread.
bool stores_through_io_thread(const Layout& layout, bool compresses, bool direct_io);

/// Writes units; encoder threads call write() at once (for different units).
class UnitWriter {
 public:
  /// `direct_io`: new unit files are written with O_DIRECT.
  UnitWriter(const Layout& layout, const ChunkCodec& codec, MemoryBudget& budget, bool direct_io);

  /// Encodes the unit at (uy, ux) of a slab and writes its file in the array
  /// at `array_dir`. `shape` is the array's current shape; `rewrite` replaces
  /// a file written before (by a flush of the partial slab) atomically, so
  /// that readers never see it half written.
  ///
  /// `done` is released once the unit is stored or has failed. With `io`, a
  /// unit of stores_through_io_thread() is stored by an `io` thread while
  /// this one encodes the next (the caller waits for `io` too), and `done`
  /// is released there.
  void write(const std::filesystem::path& array_dir, const Slab& slab, std::int64_t uy,
             std::int64_t ux, const std::vector<std::int64_t>& shape, bool rewrite,
             TaskPool* io = nullptr, std::shared_ptr<void> done = {});

  /// A chunk's y and x extents are the frame's.
  bool whole_frame_chunks() const { return whole_frame_chunks_; }
  /// Bytes written to unit files so far.
  std::uint64_t bytes_written() const { return bytes_written_.load(); }

 private:
  struct Buffers;
  /// Whether an unsharded unit is its frames back to back, written straight
  /// from their buffers.
  bool writes_frames_as_they_are(const Slab& slab, bool rewrite) const;
  void write_gathered(const std::filesystem::path& path, const Slab& slab);
  /// An unsharded unit: assembled (unless it is one whole frame), encoded
  /// when the codec compresses, stored.
  void write_chunk(const std::filesystem::path& path, const Slab& slab, std::int64_t uy,
                   std::int64_t ux, bool rewrite, Buffers& buffers);
  /// Encodes a whole-frame chunk into a spare buffer and hands the buffer
  /// and `done` to an `io` thread, which stores it and gives the buffer back.
  void encode_then_hand_off(const std::filesystem::path& path, const Slab& slab, TaskPool& io,
                            std::shared_ptr<void> done);
  std::shared_ptr<AlignedBuffer> take_spare();
  void give_spare(std::shared_ptr<AlignedBuffer> buffer);
  /// Writes a unit's bytes: atomically for a rewrite, else with O_DIRECT when enabled.
  void store(const std::filesystem::path& path, const void* data, std::size_t nbytes, bool rewrite);

  const Layout& layout_;
  const ChunkCodec& codec_;
  MemoryBudget& budget_;
  const bool direct_io_;
  const bool whole_frame_chunks_;
  const bool through_io_;  // stores_through_io_thread()
  AlignedBuffer zeros_;    // one frame of fill value (frames a slab never received)
  const ShardAssembler shards_;
  std::atomic<std::uint64_t> bytes_written_{0};
  // Encoded chunks between an encoder and the io thread, reused; at most the
  // encoders' count plus the io queue's depth exist, each charged once.
  std::mutex spare_mutex_;
  std::vector<std::shared_ptr<AlignedBuffer>> spare_;
};

}  // namespace ome_writers::detail
