#include "util/thread_priority.hpp"

#if defined(__linux__)
#include <sched.h>
#endif

namespace ome_writers::detail {

void make_background_thread() noexcept {
#if defined(__linux__)
  // SCHED_BATCH keeps the thread's share of the CPU (throughput is unchanged)
  // but the scheduler no longer lets its wake-ups preempt a running thread.
  // Measured on 2 cores, 512x512 frames streamed as fast as Python can append:
  // append p99 143-179 us with SCHED_OTHER writer threads, 107-116 us with SCHED_BATCH.
  // Not SCHED_IDLE or a high nice value: they would keep a compressing stream's
  // encoders from ever delaying the appender (2048x2048 blosc-zstd: in-room
  // append p99 1.0-1.7x a hot memcpy instead of up to 8 ms), but with two
  // busy-looping processes on the same 2 cores that stream fell from 517 MB/s
  // (SCHED_BATCH) to 22 MB/s (nice 19) and 4 MB/s (SCHED_IDLE).
  sched_param param{};
  param.sched_priority = 0;
  (void)::sched_setscheduler(0, SCHED_BATCH, &param);
#endif
}

}  // namespace ome_writers::detail
