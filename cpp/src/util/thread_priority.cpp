#include "util/thread_priority.hpp"

#include <cstddef>
#include <cstdlib>

#include "platform/platform.hpp"

namespace ome_writers::detail {

namespace {

// A new thread's first allocation binds it to an allocator arena (glibc makes
// one: a mapping, an mprotect and page faults on fresh memory), and its first
// deep calls fault in stack pages. Done at the thread's start, not later
// inside a section that append() also locks: on a VM that hands freed memory
// back to its host each such fault can cost tens of µs, and an append waited
// that long for the writer's first frame (issue #20).
void warm_thread_memory() noexcept {
  void* volatile block = std::malloc(64);  // volatile: the pair is not elided
  std::free(block);
  constexpr std::size_t kStackBytes = 64 << 10;
  [[maybe_unused]] volatile unsigned char stack[kStackBytes];
  for (std::size_t i = 0; i < kStackBytes; i += 4096) stack[i] = 0;
}

}  // namespace

void make_background_thread() noexcept {
  platform::set_background_priority();
  warm_thread_memory();
}

void make_idle_thread() noexcept {
  platform::set_idle_priority();
  warm_thread_memory();
}

}  // namespace ome_writers::detail
