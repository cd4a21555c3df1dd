#include "core/memory_budget.hpp"

#include <algorithm>

namespace ome_writers::detail {

bool MemoryBudget::acquire_for_frame(std::uint64_t bytes, std::chrono::duration<double> timeout,
                                     bool* waited, std::chrono::nanoseconds* waited_for) {
  std::unique_lock lock(mutex_);
  auto has_room = [&] { return queued_frames_ == 0 || used_ + bytes <= limit_; };
  *waited = false;
  if (waited_for != nullptr) *waited_for = std::chrono::nanoseconds::zero();
  if (!has_room()) {
    *waited = true;
    // Once the budget is full, wait for room for a few more frames rather
    // than one: the writer then wakes this thread once per few frames it
    // writes, not for each (a futex wake and two context switches each).
    // Few, because while one append waits for a large slice, the camera's
    // own buffer must hold every frame that arrives meanwhile.
    const std::uint64_t slack = std::min(limit_ / kWakeSlices, kWakeFrames * bytes);
    wake_when_used_ = limit_ >= bytes + slack ? limit_ - bytes - slack : 0;
    ++waiters_;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline =
        start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    const bool woken = room_.wait_until(lock, deadline, [&] { return waiter_may_go(); });
    --waiters_;
    if (waited_for != nullptr) {
      *waited_for = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now() - start);
    }
    if (!woken && !has_room()) return false;
  }
  used_ += bytes;
  ++queued_frames_;
  if (used_ + kept_ > peak_) peak_ = used_ + kept_;
  return true;
}

void MemoryBudget::force_acquire(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  used_ += bytes;
  if (used_ + kept_ > peak_) peak_ = used_ + kept_;
}

void MemoryBudget::adopt_frame() {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    --queued_frames_;
    wake = waiters_ > 0 && waiter_may_go();
  }
  if (wake) room_.notify_all();
}

void MemoryBudget::release(std::uint64_t bytes, bool frame) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    used_ -= bytes;
    if (frame) --queued_frames_;
    wake = waiters_ > 0 && waiter_may_go();
  }
  if (wake) room_.notify_all();
}

void MemoryBudget::mark_borrowed(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  borrowed_ += bytes;
}

void MemoryBudget::unmark_borrowed(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  borrowed_ -= bytes;
}

bool MemoryBudget::try_keep(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  // Borrowed frames are the caller's memory: they bound the queue, not what
  // this process may keep mapped.
  if (used_ - borrowed_ + kept_ + bytes > limit_) return false;
  kept_ += bytes;
  if (used_ + kept_ > peak_) peak_ = used_ + kept_;
  return true;
}

void MemoryBudget::unkeep(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  kept_ -= bytes;
}

std::uint64_t MemoryBudget::used() const {
  std::lock_guard lock(mutex_);
  return used_;
}

std::uint64_t MemoryBudget::kept() const {
  std::lock_guard lock(mutex_);
  return kept_;
}

std::uint64_t MemoryBudget::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

}  // namespace ome_writers::detail
