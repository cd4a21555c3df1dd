// Bounded frame queue: append() puts a frame buffer (a pooled copy or a
// borrowed frame) into it and returns; the writer thread takes items in order.
// The memory budget behind the buffers provides the bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/buffer_pool.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers::detail {

/// One entry of the queue.
struct QueueItem {
  enum class Kind { kFrame, kSkip, kFlush, kClose };
  Kind kind = Kind::kFrame;
  FrameBuffer buffer;                ///< kFrame
  std::string metadata;              ///< kFrame: JSON object text or empty
  std::uint64_t metadata_bytes = 0;  ///< kFrame: budget bytes its metadata holds
  std::uint64_t count = 0;           ///< kSkip: frames skipped
  std::uint64_t ticket = 0;          ///< kFlush/kClose: completion ticket
  std::uint64_t first_frame = 0;     ///< kSkip: acquisition number of the first skipped frame
  FrameLocation location;            ///< kFrame: where the frame goes
  /// kFrame/kSkip: when append() or skip() queued it (the checkpoint is due
  /// one interval later).
  std::chrono::steady_clock::time_point queued{};
};

/// FIFO between append() and the writer thread.
class FrameQueue {
 public:
  FrameQueue();
  void push(QueueItem item);
  /// Blocks until an item is available.
  QueueItem pop();
  /// Waits until an item is available or `deadline` passes (then nullopt).
  std::optional<QueueItem> pop_until(std::chrono::steady_clock::time_point deadline);

 private:
  /// The i-th queued item from the front; the lock is held.
  QueueItem& at(std::size_t i) { return slots_[(head_ + i) % slots_.size()]; }
  /// Moves the front item out; the lock is held.
  QueueItem take_front();

  std::mutex mutex_;
  std::condition_variable ready_;
  // A ring of slots that only grows, not a deque: items move in and out of
  // slots that stay allocated, so neither side calls malloc or free with the
  // lock held. A deque allocated a block on push (the appending thread) and
  // freed it on pop (the writer). glibc's free then takes the lock of the
  // arena that allocated it. A writer that slept there while holding this lock
  // could not run again until a scheduler tick, because the shard assemblers
  // kept both cores busy. Meanwhile the next append waited here 2-4 ms, with
  // the queue far from full.
  std::vector<QueueItem> slots_;
  std::size_t head_ = 0;   ///< index of the front item
  std::size_t count_ = 0;  ///< items queued
};

}  // namespace ome_writers::detail
