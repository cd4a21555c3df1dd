#include "util/frame_copy.hpp"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define OME_WRITERS_HAVE_SSE2 1
#endif

namespace ome_writers::detail {

void copy_frame(void* dst, const void* src, std::size_t bytes) noexcept {
#ifdef OME_WRITERS_HAVE_SSE2
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (bytes < kStreamingCopyMin) {
    std::memcpy(d, s, bytes);
    return;
  }
  // Align the destination to 64 bytes with an ordinary copy of the head.
  const std::size_t head = (64 - (reinterpret_cast<std::uintptr_t>(d) & 63)) & 63;
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
  // Streaming stores are weakly ordered: fence them before the slot is
  // published to the writer thread.
  _mm_sfence();
  std::memcpy(d + lines * 64, s + lines * 64, bytes - lines * 64);
#else
  std::memcpy(dst, src, bytes);
#endif
}

}  // namespace ome_writers::detail
