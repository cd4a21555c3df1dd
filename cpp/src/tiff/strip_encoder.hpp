// Encodes a plane's strips for TIFF's Zstd and Adobe Deflate codecs, in
// parallel, so that libtiff only writes them (raw strips).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/task_pool.hpp"
#include "ome_writers/settings.hpp"
#include "tiff/plane_format.hpp"
#include "util/aligned_buffer.hpp"

namespace ome_writers::detail {

class StripEncoder {
 public:
  /// Encodes planes of `format` with `compression` (kZstd or kDeflate) at
  /// `level` (0: the codec's default). `tasks` (optional) encodes strips in
  /// parallel. `format` must outlive the encoder.
  StripEncoder(const TiffPlaneFormat& format, DataType dtype, Compression compression, int level,
               TaskPool* tasks);

  StripEncoder(const StripEncoder&) = delete;
  StripEncoder& operator=(const StripEncoder&) = delete;
  /// Waits for the strips still encoding (their plane is about to be freed).
  ~StripEncoder();

  /// Encodes every strip of a stored plane in parallel, then hands each to
  /// `emit(s, bytes)` in order.
  using Emit = std::function<void(std::uint32_t, const AlignedBuffer&)>;
  void encode_plane(const std::byte* pixels, const Emit& emit);

  /// The same in two steps, for a pipeline: start() queues a plane's strips
  /// on the pool and returns at once; finish() emits them. One plane may be
  /// started while another is still unfinished (two at most), so that the
  /// encoders work on the next plane while the writer writes this one (a
  /// plane's tail and its write otherwise left cores idle: ~10% of two).
  /// `pixels` must stay valid until finish() returns or throws.
  int start(const std::byte* pixels);
  void finish(int slot, const Emit& emit);

 private:
  void encode_strip(const std::byte* pixels, std::size_t rows, AlignedBuffer& out) const;
  /// Horizontal differencing (TIFF predictor 2) of `rows` rows into `out`.
  void difference_rows(const std::byte* pixels, std::size_t rows, AlignedBuffer& out) const;
  void compress_zstd(const std::byte* src, std::size_t n, AlignedBuffer& out) const;
  void compress_deflate(const std::byte* src, std::size_t n, AlignedBuffer& out) const;

  const TiffPlaneFormat& format_;
  std::size_t sample_bytes_;
  Compression compression_;
  int level_;
  TaskPool* tasks_;

  // A plane's strips: encoded into their buffers by the pool's threads.
  struct Slot {
    std::vector<std::unique_ptr<AlignedBuffer>> strips;
    // Guarded by mutex_: strips queued, and those no longer running (encoded
    // or failed).
    std::uint32_t submitted = 0;
    std::uint32_t finished = 0;
    bool failed = false;
    bool busy = false;  // started and not yet finished (writer thread only)
  };
  /// Waits until no task of `slot` runs any more (after a failure, or when
  /// its plane is given up).
  void settle(Slot& slot);
  Slot slots_[2];
  mutable std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace ome_writers::detail
