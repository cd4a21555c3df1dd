#include "util/thread_priority.hpp"

#if defined(__linux__)
#include <sched.h>
#endif

namespace ome_writers::detail {

void make_background_thread() noexcept {
#if defined(__linux__)
  // SCHED_BATCH keeps the thread's share of the CPU (throughput is unchanged)
  // but the scheduler no longer lets its wake-ups preempt a running thread,
  // such as the one that appends. Not SCHED_IDLE or a high nice value: they
  // would spare the appender every delay, but starve the writers as soon as
  // other busy programs share the cores (figures in benchmarks/README.md).
  sched_param param{};
  param.sched_priority = 0;
  (void)::sched_setscheduler(0, SCHED_BATCH, &param);
#endif
}

void make_idle_thread() noexcept {
#if defined(__linux__)
  sched_param param{};
  param.sched_priority = 0;
  (void)::sched_setscheduler(0, SCHED_IDLE, &param);
#endif
}

}  // namespace ome_writers::detail
