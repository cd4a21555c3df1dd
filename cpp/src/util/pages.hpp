// Large buffers straight from the kernel (mmap), so that freeing them returns
// the memory at once: glibc keeps freed heap blocks below its (self-raising)
// mmap threshold, which would let RSS exceed the memory budget.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>

namespace ome_writers::detail {

/// Page-aligned, zero-filled (on first touch) memory of `bytes`.
inline std::byte* map_pages(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Large frames fault in 2 MiB pages where the kernel allows it.
  if (bytes >= (2u << 20)) ::madvise(p, bytes, MADV_HUGEPAGE);
  return static_cast<std::byte*>(p);
}

inline void unmap_pages(std::byte* p, std::size_t bytes) noexcept {
  if (p != nullptr) ::munmap(p, bytes);
}

}  // namespace ome_writers::detail
