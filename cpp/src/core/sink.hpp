// The interface between the writer thread and a file format.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/buffer_pool.hpp"
#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers::detail {

/// A file format writer. write_frame/skip_frame/flush/close run on the writer
/// thread, in acquisition order; the metadata accessors may run on any thread.
class Sink {
 public:
  virtual ~Sink() = default;

  /// Stores one frame; the sink owns the buffer from here on.
  virtual void write_frame(const FrameLocation& where, FrameBuffer frame,
                           const std::string& metadata_json) = 0;
  /// True when the sink writes frames straight from their buffers with
  /// O_DIRECT: a borrowed frame that is not page aligned is then better copied
  /// into a pooled slot by the writer thread (which also hands the caller's
  /// buffer back sooner) than bounced by each file write.
  virtual bool wants_aligned_frames() const { return false; }
  /// Records a frame that has no data (fill value).
  virtual void skip_frame(const FrameLocation& where) = 0;
  /// Makes every frame received so far readable in place by standard readers
  /// and safe from a crash of this process: data, shapes, IFD links, and the
  /// journal. The large metadata documents (frame metadata in zarr.json, the
  /// OME-XML) are rewritten too, unless that would take more than about 5% of
  /// the writer's time (RewritePacer); the journal then holds what they lack.
  /// Called by flush() and by the periodic checkpoint. Returns false when a
  /// document was left for later (it is tried again one interval on).
  virtual bool checkpoint() = 0;
  /// Writes the final metadata and releases the files.
  virtual void close() = 0;
  /// After checkpoint() or close(): makes what they wrote durable against an OS
  /// crash or a power loss (data, sizes, journal, directory entries).
  virtual void sync() const = 0;
  /// Bytes written to files so far.
  virtual std::uint64_t bytes_written() const = 0;

  virtual std::string metadata_json() const = 0;
  virtual void update_metadata_json(const std::string& json) = 0;
  virtual void set_global_metadata(const std::string& name_space, const std::string& json) = 0;
  virtual bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                          void* out) const = 0;
  virtual std::vector<std::int64_t> current_shape(std::int64_t position) const = 0;

  /// Pyramid datasets, full resolution included (1: no pyramid).
  virtual int levels() const { return 1; }
  /// read_frame() of pyramid level `level` (storage index in that level's array).
  virtual bool read_level_frame(std::int64_t position, int level,
                                const std::vector<std::int64_t>& storage_index, void* out) const {
    check_level(level);
    return read_frame(position, storage_index, out);
  }
  /// current_shape() of pyramid level `level`.
  virtual std::vector<std::int64_t> level_shape(std::int64_t position, int level) const {
    check_level(level);
    return current_shape(position);
  }

 protected:
  /// Throws kIndexOutOfRange unless 0 <= level < levels().
  void check_level(int level) const {
    if (level < 0 || level >= levels()) {
      throw Error(ErrorCode::kIndexOutOfRange, "pyramid level " + std::to_string(level) +
                                                   " does not exist (levels: 0 to " +
                                                   std::to_string(levels() - 1) + ")");
    }
  }
};

}  // namespace ome_writers::detail
