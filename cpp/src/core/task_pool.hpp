// A small fixed pool of threads that encode and write chunks.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ome_writers::detail {

/// Runs tasks on a fixed set of threads. The first exception a task throws is
/// kept and rethrown by wait() (and by rethrow_if_failed()).
class TaskPool {
 public:
  /// `threads` == 0 runs every task inline in submit().
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  /// Queues a task. Blocks while more than `max_pending` tasks wait, so the
  /// producer cannot run ahead of the encoders without bound.
  void submit(std::function<void()> task);
  /// Lets submit() queue at least `tasks` before it blocks (a TIFF plane's
  /// strips, two planes deep).
  void allow_pending(std::size_t tasks);
  /// Waits until every submitted task has finished; rethrows the first failure.
  void wait();
  /// Rethrows the first failure, if any, without waiting.
  void rethrow_if_failed();
  int threads() const { return static_cast<int>(workers_.size()); }
  /// Finishes the queued tasks and joins the threads; later tasks run inline
  /// in submit(). (A closed stream keeps no threads.)
  void shutdown();

 private:
  void run();
  void record_failure();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;
  std::size_t running_ = 0;
  std::size_t max_pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr failure_;
};

}  // namespace ome_writers::detail
