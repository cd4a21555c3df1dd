// Bounded frame queue: append() copies a frame into a pooled buffer and
// returns; the writer thread takes frames in order. A memory budget shared with
// the chunk buffers provides backpressure.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/live_frames.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers::detail {

/// Bytes held by queued frames and chunk buffers, with waiting for room.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::uint64_t limit) : limit_(limit) {}

  /// Takes `bytes` for a queued frame. Waits while the budget is full and at
  /// least one frame is already queued (so a budget smaller than one chunk
  /// never deadlocks); once it had to wait, it resumes when a slice of the
  /// budget is free or the queue is empty. Returns false on timeout (after a
  /// last check for room for this one frame).
  bool acquire_for_frame(std::uint64_t bytes, std::chrono::duration<double> timeout, bool* waited);
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

class BufferPool;

/// A frame-sized buffer from the pool, or a caller's frame borrowed for
/// zero-copy appends; returns itself (and its budget) on destruction, a
/// borrowed frame by calling its release function. Sinks only read the bytes.
class FrameBuffer {
 public:
  FrameBuffer() = default;
  FrameBuffer(BufferPool* pool, std::byte* data) : pool_(pool), data_(data) {}
  FrameBuffer(BufferPool* pool, const std::byte* data, std::function<void()> release)
      : pool_(pool), data_(const_cast<std::byte*>(data)), release_(std::move(release)) {}
  FrameBuffer(FrameBuffer&& other) noexcept
      : pool_(other.pool_),
        data_(other.data_),
        release_(std::move(other.release_)),
        adopted_(other.adopted_),
        live_(other.live_),
        live_key_(other.live_key_) {
    other.data_ = nullptr;
    other.release_ = nullptr;
    other.adopted_ = false;
    other.live_ = nullptr;
  }
  FrameBuffer& operator=(FrameBuffer&& other) noexcept;
  FrameBuffer(const FrameBuffer&) = delete;
  FrameBuffer& operator=(const FrameBuffer&) = delete;
  ~FrameBuffer() { reset(); }

  std::byte* data() const { return data_; }
  explicit operator bool() const { return data_ != nullptr; }
  /// A caller's frame (zero-copy append), not a pooled block.
  bool borrowed() const { return static_cast<bool>(release_); }
  /// Turns a borrowed frame into a pooled copy of it and releases the caller's
  /// buffer; the budget it holds and its adopted state carry over.
  void make_owned();
  void reset();
  /// The writer keeps this frame (in a chunk still being assembled): it stops
  /// counting as queued, so append() is never refused for want of frames the
  /// writer itself holds. Its bytes stay in the budget until it is released.
  void adopt();
  /// Live views read this frame, stored under `key`, from this buffer until
  /// it is released (see LiveFrames).
  void track(LiveFrames& live, std::uint64_t key);

 private:
  BufferPool* pool_ = nullptr;
  std::byte* data_ = nullptr;
  std::function<void()> release_;  ///< set for a borrowed frame
  bool adopted_ = false;
  LiveFrames* live_ = nullptr;  ///< set while live views read from this buffer
  std::uint64_t live_key_ = 0;
};

/// Reuses frame-sized, page-aligned blocks so that append() does not allocate.
class BufferPool {
 public:
  BufferPool(std::size_t block_bytes, MemoryBudget& budget);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// A block whose budget the caller has already acquired.
  FrameBuffer take();
  /// Wraps a caller's frame (budget already acquired); `release` runs when the
  /// writer is done with it.
  FrameBuffer borrow(const std::byte* data, std::function<void()> release);
  std::size_t block_bytes() const { return block_bytes_; }

  /// Allocates and touches one spare block while the budget has room for it,
  /// so that append() copies into memory that is already mapped (no page
  /// faults on the caller's thread). Called by the writer thread.
  void prepare_spare();

  /// Allocates and touches `blocks` blocks up front (a stream's first frames
  /// then copy into mapped memory too).
  void prewarm(std::size_t blocks);

  /// Unmaps every idle block (a closed stream keeps no memory).
  void release_idle();

 private:
  friend class FrameBuffer;
  void give_back(std::byte* block, bool adopted = false);
  std::byte* take_block();
  /// A pooled copy of a borrowed frame (its budget carries over).
  std::byte* copy_borrowed(const std::byte* data);
  void return_borrowed(bool adopted);
  void adopt();
  std::byte* allocate() const;
  void deallocate(std::byte* block) const;

  const std::size_t block_bytes_;
  MemoryBudget& budget_;
  std::mutex mutex_;
  std::vector<std::byte*> free_;
};

/// One entry of the queue.
struct QueueItem {
  enum class Kind { kFrame, kSkip, kFlush, kClose };
  Kind kind = Kind::kFrame;
  FrameBuffer buffer;             ///< kFrame
  std::string metadata;           ///< kFrame: JSON object text or empty
  std::uint64_t count = 0;        ///< kSkip: frames skipped
  std::uint64_t ticket = 0;       ///< kFlush/kClose: completion ticket
  std::uint64_t first_frame = 0;  ///< kSkip: acquisition number of the first skipped frame
  FrameLocation location;         ///< kFrame: where the frame goes
};

/// FIFO between append() and the writer thread.
class FrameQueue {
 public:
  void push(QueueItem item);
  /// Blocks until an item is available.
  QueueItem pop();

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<QueueItem> items_;
};

}  // namespace ome_writers::detail
