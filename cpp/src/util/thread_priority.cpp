#include "util/thread_priority.hpp"

#include "platform/platform.hpp"

namespace ome_writers::detail {

void make_background_thread() noexcept { platform::set_background_priority(); }

void make_idle_thread() noexcept { platform::set_idle_priority(); }

}  // namespace ome_writers::detail
