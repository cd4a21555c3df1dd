// A growable byte buffer aligned for O_DIRECT (4096 bytes).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

#include "util/pages.hpp"

namespace ome_writers::detail {

inline constexpr std::size_t kIoAlignment = 4096;

/// Like std::vector<std::byte> without value-initialisation on resize, with
/// page-aligned storage so that O_DIRECT can write straight from it.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer() { release(); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }

  /// Sets the size; keeps the contents up to the old size when it grows.
  void resize(std::size_t n) {
    if (n > capacity_) grow(std::max(n, capacity_ + capacity_ / 2));
    size_ = n;
  }
  void clear() { size_ = 0; }
  /// Makes room for n bytes in one mapping (no step-wise growth and copies).
  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }
  /// Appends bytes.
  void append(const void* src, std::size_t n) {
    const std::size_t old = size_;
    if (old + n > capacity_) grow(std::max(old + n, capacity_ * 2));
    std::memcpy(data_ + old, src, n);
    size_ = old + n;
  }

 private:
  void grow(std::size_t n) {
    const std::size_t cap = (n + kIoAlignment - 1) / kIoAlignment * kIoAlignment;
    auto* fresh = map_pages(cap);
    if (size_ > 0) std::memcpy(fresh, data_, size_);
    release();
    data_ = fresh;
    capacity_ = cap;
  }
  void release() {
    unmap_pages(data_, capacity_);
    data_ = nullptr;
    capacity_ = 0;
  }

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace ome_writers::detail
