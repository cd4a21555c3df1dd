#include "util/frame_copy.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define OME_WRITERS_HAVE_SSE2 1
#endif

namespace ome_writers::detail {

void copy_streaming(void* dst, const void* src, std::size_t bytes) noexcept {
#ifdef OME_WRITERS_HAVE_SSE2
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  // Align the destination to 64 bytes with an ordinary copy of the head.
  const std::size_t head = std::min(bytes, (64 - (reinterpret_cast<std::uintptr_t>(d) & 63)) & 63);
  std::memcpy(d, s, head);
  d += head;
  s += head;
  bytes -= head;
  const std::size_t lines = bytes / 64;
  for (std::size_t i = 0; i < lines; ++i) {
    const auto* in = reinterpret_cast<const __m128i*>(s + i * 64);
    auto* out = reinterpret_cast<__m128i*>(d + i * 64);
    const __m128i a = _mm_loadu_si128(in);
    const __m128i b = _mm_loadu_si128(in + 1);
    const __m128i c = _mm_loadu_si128(in + 2);
    const __m128i e = _mm_loadu_si128(in + 3);
    _mm_stream_si128(out, a);
    _mm_stream_si128(out + 1, b);
    _mm_stream_si128(out + 2, c);
    _mm_stream_si128(out + 3, e);
  }
  std::memcpy(d + lines * 64, s + lines * 64, bytes - lines * 64);
#else
  std::memcpy(dst, src, bytes);
#endif
}

void streaming_fence() noexcept {
#ifdef OME_WRITERS_HAVE_SSE2
  _mm_sfence();
#endif
}

void copy_frame(void* dst, const void* src, std::size_t bytes) noexcept {
  if (bytes < kStreamingCopyMin) {
    std::memcpy(dst, src, bytes);
    return;
  }
  copy_streaming(dst, src, bytes);
  // Streaming stores are weakly ordered: fence them before the slot is
  // published to the writer thread.
  streaming_fence();
}

void FrameCopier::prepare(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  if (bytes >= kSplitMin && two_cores_) start_helper();
}

void FrameCopier::start_helper() {
  if (helper_.joinable()) return;
  stopping_ = false;
  helper_ = std::thread([this] { run(); });
}

void FrameCopier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (helper_.joinable()) helper_.join();
}

FrameCopier::~FrameCopier() { stop(); }

void FrameCopier::copy_blocks(const Job& job) {
  for (;;) {
    std::uint64_t v = claim_.load(std::memory_order_acquire);
    do {
      if ((v >> 32) != job.id || (v & 0xFFFFFFFFu) >= job.blocks) return;
    } while (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
    const std::size_t at = static_cast<std::size_t>(v & 0xFFFFFFFFu) * kBlock;
    copy_frame(job.dst + at, job.src + at, std::min(kBlock, job.bytes - at));
    finished_.fetch_add(1, std::memory_order_release);
  }
}

void FrameCopier::run() {
  std::uint32_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || job_.id != seen; });
    if (stopping_) return;
    const Job job = job_;
    seen = job.id;
    lock.unlock();
    copy_blocks(job);
    lock.lock();
    done_.notify_one();
  }
}

void FrameCopier::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes < kSplitMin || !two_cores_) {
    copy_frame(dst, src, bytes);
    return;
  }
  Job job;
  {
    std::lock_guard lock(mutex_);
    start_helper();
    job.id = job_.id + 1 == 0 ? 1 : job_.id + 1;
    job.dst = static_cast<unsigned char*>(dst);
    job.src = static_cast<const unsigned char*>(src);
    job.bytes = bytes;
    job.blocks = (bytes + kBlock - 1) / kBlock;
    job_ = job;
    finished_.store(0, std::memory_order_relaxed);
    claim_.store(static_cast<std::uint64_t>(job.id) << 32, std::memory_order_release);
  }
  wake_.notify_one();
  copy_blocks(job);
  // Every block is claimed; wait for the helper's last one (if it took any).
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) == job.blocks; });
}

}  // namespace ome_writers::detail
