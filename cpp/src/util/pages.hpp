// Large buffers straight from the kernel (mmap), so that freeing them returns
// the memory at once: glibc keeps freed heap blocks below its (self-raising)
// mmap threshold, which would let RSS exceed the memory budget.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace ome_writers::detail {

/// Page-aligned, zero-filled memory of `bytes`. The kernel maps the pages on
/// first touch, or all at once (one call, no fault per page) with `populate`.
inline std::byte* map_pages(std::size_t bytes, bool populate = false) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Large frames fault in 2 MiB pages where the kernel allows it.
  if (bytes >= (2u << 20)) ::madvise(p, bytes, MADV_HUGEPAGE);
  return static_cast<std::byte*>(p);
}

/// True when `p` starts a 4 KiB page (what O_DIRECT needs of a buffer).
inline bool is_page_aligned(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % 4096 == 0;
}

inline void unmap_pages(std::byte* p, std::size_t bytes) noexcept {
  if (p != nullptr) ::munmap(p, bytes);
}

}  // namespace ome_writers::detail
