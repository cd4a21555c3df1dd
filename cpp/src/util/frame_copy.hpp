// Copying a frame into a queue slot.
//
// A queued frame is read next by another thread (an encoder) or by the disk's
// DMA, not by the core that copies it, so filling the cache with it only
// evicts the caller's working set. For large frames the copy therefore uses
// non-temporal stores: they skip the read-for-ownership of each destination
// line, which makes copying into a slot that is not in the cache (the usual
// case for a queue holding many frames) as fast as a copy between hot buffers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace ome_writers::detail {

/// Frames at least this large are copied with non-temporal stores.
inline constexpr std::size_t kStreamingCopyMin = std::size_t{256} << 10;

/// memcpy(dst, src, bytes), with non-temporal stores for large copies on x86-64.
void copy_frame(void* dst, const void* src, std::size_t bytes) noexcept;

/// memcpy(dst, src, bytes) with non-temporal stores at any size, for bytes no
/// core reads next (they go to the disk). Unfenced: call streaming_fence()
/// before another thread or the disk reads them.
void copy_streaming(void* dst, const void* src, std::size_t bytes) noexcept;
void streaming_fence() noexcept;

/// Copies large frames with the caller and one helper thread together: one
/// core alone cannot pull a cold frame out of memory at the machine's full
/// bandwidth. The frame is cut into blocks that both threads claim in turn;
/// if the helper is not running (its core is busy), the caller copies every
/// block itself, so a copy never waits for more than the helper's current block.
class FrameCopier {
 public:
  /// Frames at least this large are shared with the helper.
  static constexpr std::size_t kSplitMin = std::size_t{4} << 20;
  static constexpr std::size_t kBlock = std::size_t{512} << 10;

  FrameCopier() = default;
  ~FrameCopier();
  FrameCopier(const FrameCopier&) = delete;
  FrameCopier& operator=(const FrameCopier&) = delete;

  /// Starts the helper now if frames of `bytes` will need it: a thread
  /// started at the first copy waited there for the address-space lock
  /// behind the slot warmer (5-10 ms on that append).
  void prepare(std::size_t bytes);
  /// Joins the helper (a closed stream keeps no threads).
  void stop();

  /// Like copy_frame(); only one copy at a time (the appending thread's).
  void copy(void* dst, const void* src, std::size_t bytes);

 private:
  struct Job {
    std::uint32_t id = 0;
    unsigned char* dst = nullptr;
    const unsigned char* src = nullptr;
    std::size_t bytes = 0;
    std::size_t blocks = 0;
  };
  void run();
  void copy_blocks(const Job& job);
  /// Starts the helper unless it runs (mutex_ held).
  void start_helper();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::thread helper_;
  const bool two_cores_ = std::thread::hardware_concurrency() >= 2;
  bool stopping_ = false;
  Job job_;  // the current shared copy (guarded by mutex_)
  // (job id << 32) | next unclaimed block: a claim succeeds only for the job
  // it was taken for, so a helper that woke late never touches the next job.
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<std::size_t> finished_{0};
};

}  // namespace ome_writers::detail
