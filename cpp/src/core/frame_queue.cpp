#include "core/frame_queue.hpp"

#include <utility>

namespace ome_writers::detail {

namespace {
// Enough for the items a stream keeping up has in flight. A queue that
// outgrows it doubles, which a stream whose writer falls behind does a few
// times at most (the memory budget bounds the frames queued).
constexpr std::size_t kInitialSlots = 256;
}  // namespace

FrameQueue::FrameQueue() : slots_(kInitialSlots) {}

void FrameQueue::push(QueueItem item) {
  {
    std::lock_guard lock(mutex_);
    if (count_ == slots_.size()) {
      std::vector<QueueItem> grown(slots_.size() * 2);
      for (std::size_t i = 0; i < count_; ++i) grown[i] = std::move(at(i));
      slots_.swap(grown);
      head_ = 0;
    }
    at(count_) = std::move(item);
    ++count_;
  }
  ready_.notify_one();
}

QueueItem FrameQueue::take_front() {
  QueueItem item = std::move(at(0));
  head_ = (head_ + 1) % slots_.size();
  --count_;
  return item;
}

QueueItem FrameQueue::pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return count_ != 0; });
  return take_front();
}

std::optional<QueueItem> FrameQueue::pop_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_until(lock, deadline, [&] { return count_ != 0; })) return std::nullopt;
  return take_front();
}

}  // namespace ome_writers::detail
