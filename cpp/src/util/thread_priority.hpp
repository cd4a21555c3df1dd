// Writer threads yield to the thread that appends frames, and bring their
// memory in (allocator arena, stack) before they take any lock append() takes.
#pragma once

namespace ome_writers::detail {

/// Marks the calling thread as background work: on Linux it becomes
/// SCHED_BATCH (its wake-ups do not preempt the acquisition thread, so an
/// append is not descheduled in the middle of its copy). Best effort.
void make_background_thread() noexcept;

/// Marks the calling thread as work that may wait for a free core (SCHED_IDLE
/// on Linux): mapping memory ahead of need, which the appender does itself
/// when it outruns it. Best effort.
void make_idle_thread() noexcept;

}  // namespace ome_writers::detail
