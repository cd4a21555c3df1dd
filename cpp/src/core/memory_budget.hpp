// The memory budget shared by queued frames and chunk buffers: append() waits
// for room in it (backpressure), writer threads take and return bytes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ome_writers::detail {

/// Bytes held by queued frames and chunk buffers, with waiting for room.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::uint64_t limit) : limit_(limit) {}

  /// Takes `bytes` for a queued frame. Waits while the budget is full and at
  /// least one frame is already queued (so a budget smaller than one chunk
  /// never deadlocks); once it had to wait, it resumes when a slice of the
  /// budget is free or the queue is empty. Returns false on timeout (after a
  /// last check for room for this one frame). `waited_for`, when given, is
  /// set to how long it waited (zero when it did not).
  bool acquire_for_frame(std::uint64_t bytes, std::chrono::duration<double> timeout, bool* waited,
                         std::chrono::nanoseconds* waited_for = nullptr);
  /// Takes `bytes` without waiting (chunk buffers on the writer thread).
  void force_acquire(std::uint64_t bytes);
  /// A queued frame's bytes now belong to the writer (see FrameBuffer::adopt).
  void adopt_frame();
  void release(std::uint64_t bytes, bool frame);

  /// Part of `used` is a caller's borrowed frame (zero-copy append) until it
  /// is released or copied into a pooled block.
  void mark_borrowed(std::uint64_t bytes);
  void unmark_borrowed(std::uint64_t bytes);

  /// Idle pooled memory counts too: a block may be kept for reuse only while
  /// in-use bytes of this process (borrowed frames are the caller's) plus kept
  /// bytes stay within the limit. Returns false when the caller must free the
  /// block instead.
  bool try_keep(std::uint64_t bytes);
  /// A kept block is in use again (or freed).
  void unkeep(std::uint64_t bytes);

  std::uint64_t used() const;
  std::uint64_t kept() const;
  std::uint64_t peak() const;
  std::uint64_t limit() const { return limit_; }

 private:
  /// A waiting appender resumes when kWakeFrames more frames fit, or
  /// 1/kWakeSlices of the budget is free if that is less.
  static constexpr std::uint64_t kWakeFrames = 4;
  static constexpr std::uint64_t kWakeSlices = 16;
  bool waiter_may_go() const { return queued_frames_ == 0 || used_ <= wake_when_used_; }

  const std::uint64_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::uint64_t used_ = 0;
  std::uint64_t kept_ = 0;
  std::uint64_t peak_ = 0;
  std::uint64_t queued_frames_ = 0;
  std::uint64_t borrowed_ = 0;        // of used_: callers' frames
  int waiters_ = 0;                   // appenders waiting for room
  std::uint64_t wake_when_used_ = 0;  // they may go once used_ is this low
};

}  // namespace ome_writers::detail
