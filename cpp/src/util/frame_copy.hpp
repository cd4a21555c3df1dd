// Copying a frame into a queue slot.
//
// A queued frame is read next by another thread (an encoder) or by the disk's
// DMA, not by the core that copies it, so filling the cache with it only
// evicts the caller's working set. For large frames the copy therefore uses
// non-temporal stores: they skip the read-for-ownership of each destination
// line, which makes copying into a slot that is not in the cache (the usual
// case for a queue holding many frames) as fast as a copy between hot buffers.
#pragma once

#include <cstddef>

namespace ome_writers::detail {

/// Frames at least this large are copied with non-temporal stores.
inline constexpr std::size_t kStreamingCopyMin = std::size_t{256} << 10;

/// memcpy(dst, src, bytes), with non-temporal stores for large copies on x86-64.
void copy_frame(void* dst, const void* src, std::size_t bytes) noexcept;

}  // namespace ome_writers::detail
