// A stream that writes 2-D frames, as they arrive, to OME-Zarr or OME-TIFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ome_writers/export.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers {

/// Counters of a running stream.
struct StreamStats {
  std::uint64_t frames_appended = 0;  ///< frames given to append() (skips included)
  std::uint64_t frames_written = 0;   ///< frames handed to the file writers
  std::uint64_t bytes_written = 0;    ///< bytes written to files (after compression)
  std::uint64_t queue_bytes = 0;      ///< bytes held by queued frames and chunk buffers now
  std::uint64_t peak_queue_bytes = 0;
  std::uint64_t append_waits = 0;  ///< appends that had to wait for room
  double append_wait_seconds = 0;  ///< time those appends spent waiting
  std::uint64_t checkpoints = 0;   ///< checkpoints done (periodic and flush())
  double checkpoint_seconds = 0;   ///< writer time they took, syncs included
};

/// Where a frame goes: which position and which index in storage order.
struct FrameLocation {
  std::int64_t position = 0;
  std::vector<std::int64_t> storage_index;
};

/// Writes frames to an OME-Zarr store or OME-TIFF file(s). Thread-compatible:
/// call append() from one thread at a time. The file work happens on writer
/// threads; an error there is rethrown by the next append(), flush() or close().
class OME_WRITERS_EXPORT Stream {
 public:
  /// Validates the settings and creates the output (directories, metadata).
  /// Throws Error(kFileExists) when the output exists and overwrite is off.
  explicit Stream(StreamSettings settings);
  /// Closes the stream if it is open, swallowing errors (call close() to see them).
  ~Stream();
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  /// Copies one frame (height*width elements of the stream's dtype, C order)
  /// into the queue and returns. frame_metadata_json is empty or a JSON object.
  /// Blocks while the memory budget is full, up to the append timeout.
  void append(const void* data, std::size_t nbytes, std::string_view frame_metadata_json = {});

  /// Zero-copy append: queues the caller's frame itself instead of a copy (for
  /// frame-grabber buffers that the camera software recycles on its own). The
  /// stream reads `data` until it calls `release`, once: when the frame's bytes
  /// are in the files or encoded into a chunk, when a failed or closed stream
  /// drops the frame, or, for uncompressed Zarr chunks (written with O_DIRECT,
  /// which needs page-aligned memory) from a buffer that is not page aligned,
  /// as soon as a writer thread has copied it. After close() every frame has
  /// been released; destroying the stream releases the rest. The bytes must
  /// stay valid and unchanged until then. `release` runs on a writer thread:
  /// it must be quick, must not throw, and must not call this stream.
  /// Borrowed frames count against the memory budget like copied ones, so
  /// this blocks like append() while the budget is full. If this throws, the
  /// frame was not taken and `release` is never called.
  void append_borrowed(const void* data, std::size_t nbytes, std::string_view frame_metadata_json,
                       std::function<void()> release);

  /// Advances past `frames` frames without data (they read as the fill value).
  void skip(std::uint64_t frames = 1);

  /// Waits until every appended frame is in the files, writes partially filled
  /// chunks and the current metadata, and syncs them to stable storage (files,
  /// journal, directory entries), so that a process crash, an OS crash or a
  /// power loss after flush() loses nothing appended before it.
  void flush();

  /// Drains the queue, writes the final metadata and closes the files. Idempotent.
  void close();

  /// True after close().
  bool closed() const noexcept;

  /// Frame height and width, from the last two dimensions.
  std::int64_t frame_height() const noexcept;
  std::int64_t frame_width() const noexcept;
  /// Bytes of one frame.
  std::size_t frame_bytes() const noexcept;

  /// The settings, as validated.
  const StreamSettings& settings() const noexcept;

  /// The output path (file or directory).
  std::string output_path() const;

  /// Where the n-th frame in acquisition order goes. Throws kIndexOutOfRange
  /// past the declared number of frames.
  FrameLocation locate(std::uint64_t frame_number) const;

  /// Current counters.
  StreamStats stats() const;

  /// How long the last append() or append_borrowed() waited for room in the
  /// memory budget, in seconds (0 when it did not wait). For the thread that
  /// appends, right after its call (e.g. to report long waits).
  double last_append_wait_seconds() const noexcept;

  /// Metadata documents as a JSON object. Zarr: {group path: attributes};
  /// TIFF: {file index as string: OME-XML text}, "-1" for a companion file.
  std::string metadata_json() const;

  /// Zarr: replaces the attributes of the named groups and writes them now.
  /// TIFF: replaces the OME-XML of the named files (only after close()).
  void update_metadata_json(const std::string& json);

  /// Stores a summary object under `name_space` (not "ome" or "ome_writers").
  void set_global_metadata(const std::string& name_space, const std::string& json);

  /// Copies one frame into `out` (frame_bytes() long), for live viewing: any
  /// frame whose append() has returned, wherever it is by now (a queue slot, a
  /// borrowed buffer, a chunk being assembled, the files). Returns false for a
  /// frame not appended yet; a skipped frame reads as the fill value (or
  /// returns false while nothing is stored around it). Safe from any thread
  /// while the stream writes; it never holds up append(). Throws
  /// kIndexOutOfRange for a position or storage index outside the arrays.
  bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                  void* out) const;

  /// Current extent of each storage dimension of a position (grows for an
  /// unbounded first dimension).
  std::vector<std::int64_t> current_shape(std::int64_t position) const;

  /// Pyramid datasets, full resolution included (1 without a pyramid).
  int levels() const;
  /// read_frame() of pyramid level `level` (0: read_frame() itself), with the
  /// storage index of that level's array (z halved when the pyramid halves
  /// it). `out` holds level_shape()'s last two extents. Returns false until
  /// the writer has computed the plane (it does so when the frames it
  /// summarises have reached it). Throws kIndexOutOfRange for a level that
  /// does not exist.
  bool read_level_frame(std::int64_t position, int level,
                        const std::vector<std::int64_t>& storage_index, void* out) const;
  /// current_shape() of pyramid level `level`.
  std::vector<std::int64_t> level_shape(std::int64_t position, int level) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// Library version, e.g. "0.4.0".
OME_WRITERS_EXPORT const char* version() noexcept;

/// The C libraries this build runs and their versions, as (name, version)
/// pairs: "libtiff", "zstd", "blosc", "libdeflate", "pugixml".
OME_WRITERS_EXPORT std::vector<std::pair<std::string, std::string>> dependency_versions();

/// Repairs the metadata of an output left by a process that died before
/// close(): folds the journals kept beside the data into the metadata files
/// (OME-Zarr: zarr.json frame_metadata and shapes; OME-TIFF: the OME-XML).
/// `path` is the stream's output path. Returns the number of frames described.
OME_WRITERS_EXPORT std::uint64_t recover(const std::string& path);

}  // namespace ome_writers
