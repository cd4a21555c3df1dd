#include "core/task_pool.hpp"

#include <algorithm>

#include "util/thread_priority.hpp"

namespace ome_writers::detail {

TaskPool::TaskPool(int threads) : max_pending_(static_cast<std::size_t>(threads) * 2) {
  for (int i = 0; i < threads; ++i)
    workers_.emplace_back([this] {
      make_background_thread();
      run();
    });
}

TaskPool::~TaskPool() { shutdown(); }

void TaskPool::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void TaskPool::record_failure() {
  std::lock_guard lock(mutex_);
  if (!failure_) failure_ = std::current_exception();
}

void TaskPool::submit(std::function<void()> task) {
  if (workers_.empty()) {
    try {
      task();
    } catch (...) {
      record_failure();
    }
    return;
  }
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return tasks_.size() < max_pending_; });
    tasks_.push_back(std::move(task));
  }
  work_ready_.notify_one();
}

void TaskPool::allow_pending(std::size_t tasks) {
  std::lock_guard lock(mutex_);
  max_pending_ = std::max(max_pending_, tasks);
}

void TaskPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++running_;
    }
    changed_.notify_all();
    try {
      task();
    } catch (...) {
      record_failure();
    }
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    changed_.notify_all();
  }
}

void TaskPool::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return tasks_.empty() && running_ == 0; });
  if (failure_) std::rethrow_exception(failure_);
}

void TaskPool::rethrow_if_failed() {
  std::lock_guard lock(mutex_);
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace ome_writers::detail
