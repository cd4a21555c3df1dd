#include "core/frame_queue.hpp"

namespace ome_writers::detail {

void FrameQueue::push(QueueItem item) {
  {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
  }
  ready_.notify_one();
}

QueueItem FrameQueue::pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !items_.empty(); });
  QueueItem item = std::move(items_.front());
  items_.pop_front();
  return item;
}

std::optional<QueueItem> FrameQueue::pop_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_until(lock, deadline, [&] { return !items_.empty(); })) return std::nullopt;
  QueueItem item = std::move(items_.front());
  items_.pop_front();
  return item;
}

}  // namespace ome_writers::detail
