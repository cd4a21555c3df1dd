// Large buffers straight from the OS (mmap on Linux), so that freeing them
// returns the memory at once: glibc keeps freed heap blocks below its
// (self-raising) mmap threshold, which would let RSS exceed the memory budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include "platform/platform.hpp"

namespace ome_writers::detail {

/// Page-aligned, zero-filled memory of `bytes`. The kernel maps the pages on
/// first touch, or all at once (one call, no fault per page) with `populate`.
inline std::byte* map_pages(std::size_t bytes, bool populate = false) {
  std::byte* p = platform::map_pages(bytes, populate);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

/// True when `p` starts a 4 KiB page (what unbuffered writes need of a buffer).
inline bool is_page_aligned(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % 4096 == 0;
}

inline void unmap_pages(std::byte* p, std::size_t bytes) noexcept {
  platform::unmap_pages(p, bytes);
}

}  // namespace ome_writers::detail
