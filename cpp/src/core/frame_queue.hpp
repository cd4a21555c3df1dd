// Bounded frame queue: append() puts a frame buffer (a pooled copy or a
// borrowed frame) into it and returns; the writer thread takes items in order.
// The memory budget behind the buffers provides the bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

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
  void push(QueueItem item);
  /// Blocks until an item is available.
  QueueItem pop();
  /// Waits until an item is available or `deadline` passes (then nullopt).
  std::optional<QueueItem> pop_until(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<QueueItem> items_;
};

}  // namespace ome_writers::detail
