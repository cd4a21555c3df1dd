// Frame buffers: page-aligned pooled blocks that append() copies frames into,
// or a caller's frame borrowed for a zero-copy append; both count against the
// memory budget until they are released.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/live_frames.hpp"
#include "core/memory_budget.hpp"

namespace ome_writers::detail {

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
  friend class BufferPool;
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
  /// A block the writer fills itself (a pyramid level's plane): charged to
  /// the budget without waiting, and never counted as a queued frame.
  FrameBuffer take_for_writer();
  /// Wraps a caller's frame (budget already acquired); `release` runs when the
  /// writer is done with it.
  FrameBuffer borrow(const std::byte* data, std::function<void()> release);
  std::size_t block_bytes() const { return block_bytes_; }
  /// What one block costs in memory, and in the budget: a mapping is whole
  /// pages, a heap block (small frames) a few bytes more than the frame.
  std::size_t charged_bytes() const { return charged_bytes_; }

  /// Allocates and touches one spare block while the budget has room for it,
  /// so that append() copies into memory that is already mapped (no page
  /// faults on the caller's thread). Called by the writer thread.
  void prepare_spare();

  /// Allocates and touches up to `blocks` blocks now (a stream's first
  /// frames then copy into mapped memory too).
  void prewarm(std::size_t blocks);

  /// Runs until `stop` is set: once a block is first taken from the pool (a
  /// copied frame; a stream that only borrows its frames, `copy=False`,
  /// never needs a slot), keeps `lead` idle blocks mapped ahead of the
  /// appends, making at most `most` blocks in all. Blocks the writer gives
  /// back count as idle: a writer that keeps up leaves nothing to map.
  void keep_warm(std::size_t lead, std::size_t most, const std::atomic<bool>& stop);
  /// Wakes keep_warm() after its `stop` was set.
  void wake_waiters();

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
  std::byte* allocate();
  void deallocate(std::byte* block);
  bool in_arena(const std::byte* block) const {
    return arena_ != nullptr && block >= arena_ && block < arena_ + arena_slots_ * charged_bytes_;
  }

  const std::size_t block_bytes_;
  // Frames below this come from the heap: a mapping each would cost a whole
  // page per frame (8x a 16x16 uint16 frame) and a kernel mapping each (a
  // process may have only 65530), and they are too small for O_DIRECT anyway.
  static constexpr std::size_t kHeapBelow = 64 << 10;
  const bool heap_;
  const std::size_t charged_bytes_;
  MemoryBudget& budget_;
  std::mutex mutex_;
  std::vector<std::byte*> free_;
  std::condition_variable warm_;  // keep_warm() waits on it; takes wake it
  // Mapped blocks are slots of one reservation, made when the pool is: a
  // block then costs no mmap or munmap later, which take the address-space
  // lock for writing and so waited behind the warmer's populating (ms on a
  // busy VM: an append that mapped its own slot stalled that long). Blocks
  // beyond it (a budget that allows more) are mapped one by one.
  std::byte* arena_ = nullptr;
  std::size_t arena_slots_ = 0;
  std::size_t arena_next_ = 0;         // slots never used yet start here
  std::vector<std::byte*> discarded_;  // slots whose memory went back to the OS
  std::size_t lead_ = 0;               // keep_warm()'s lead, 0 when none runs
  std::uint64_t taken_ = 0;            // blocks taken so far
};

}  // namespace ome_writers::detail
