// Per-thread objects (compression contexts, scratch buffers) that live until
// their thread ends.
#pragma once

#include "platform/platform.hpp"

namespace ome_writers::detail {

/// The calling thread's T (one per Tag), value-initialised on first use and
/// destroyed when the thread ends. A thread_local object, except on Windows:
/// mingw-w64's emulated TLS can free a thread's thread_local storage before
/// libstdc++ runs their destructors (a use after free at thread exit, which
/// crashed the consumer example under wine), so there the object lives on the
/// heap and the platform layer destroys it when the thread exits.
template <class T, class Tag = T>
T& thread_cache() {
#if defined(_WIN32)
  thread_local T* object = nullptr;
  if (object == nullptr) {
    object = new T();
    if (!platform::at_thread_exit([](void* p) { delete static_cast<T*>(p); }, object)) {
      // No exit hook: the object stays with the thread's (leaked) memory.
    }
  }
  return *object;
#else
  thread_local T object;
  return object;
#endif
}

}  // namespace ome_writers::detail
