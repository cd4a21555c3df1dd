// Read-your-writes for live views: the frames that are still in the stream's
// own memory (a queue slot or a caller's borrowed buffer), found by their
// storage place, so that a viewer reads a frame the moment append() returns.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ome_writers::detail {

/// The frames whose buffers are alive, keyed by (position, storage index)
/// (see Layout::frame_key). A buffer registers itself when it is queued and
/// leaves before its memory is reused or handed back to its owner; from then
/// on the sink serves the frame (from a chunk being written, or the files).
///
/// A reader copies a frame without holding the lock (the entry is pinned
/// instead), so append() never waits for a copy; only the writer thread that
/// is about to release a pinned buffer waits, for one frame's copy at most.
class LiveFrames {
 public:
  /// Room for `frames` entries, so that add() on the appending thread never
  /// rehashes the whole table, and for as many spare nodes.
  void reserve(std::size_t frames);
  /// `data` holds the frame with this key from now on.
  void add(std::uint64_t key, const std::byte* data);
  /// The frame moved from `from` to `to` (a borrowed frame copied into a pooled
  /// slot); returns once no reader is copying from `from`.
  void move(std::uint64_t key, const std::byte* from, const std::byte* to);
  /// The buffer `data` is about to be released; returns once no reader is
  /// copying from it. A key that `data` no longer holds is left alone.
  void remove(std::uint64_t key, const std::byte* data);
  /// Copies the frame into `out` (`bytes` long) if its buffer is alive.
  bool read(std::uint64_t key, void* out, std::size_t bytes) const;

 private:
  struct Entry {
    const std::byte* data = nullptr;
    int readers = 0;
  };

  using Map = std::unordered_map<std::uint64_t, Entry>;

  mutable std::mutex mutex_;
  mutable std::condition_variable unpinned_;
  mutable Map entries_;
  // The nodes of removed entries, for add() to reuse. An entry is added on the
  // appending thread and removed on the writer's: a node per frame would be
  // allocated on one and freed on the other with the lock held, where a free
  // that waits for glibc's arena lock stalls the next append (frame_queue.hpp).
  std::vector<Map::node_type> spare_;
};

}  // namespace ome_writers::detail
