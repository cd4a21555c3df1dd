#include "core/live_frames.hpp"

#include <cstring>

namespace ome_writers::detail {

void LiveFrames::reserve(std::size_t frames) {
  std::lock_guard lock(mutex_);
  entries_.reserve(frames);
  spare_.reserve(frames);
}

void LiveFrames::add(std::uint64_t key, const std::byte* data) {
  std::lock_guard lock(mutex_);
  if (!spare_.empty()) {
    Map::node_type node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = key;
    node.mapped() = Entry{data, 0};
    auto placed = entries_.insert(std::move(node));
    if (placed.inserted) return;
    spare_.push_back(std::move(placed.node));  // the key is there already: update it below
  }
  entries_[key].data = data;
}

void LiveFrames::move(std::uint64_t key, const std::byte* from, const std::byte* to) {
  std::unique_lock lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.data != from) return;
  // New readers copy from the new buffer at once; the old one stays valid
  // until the readers that pinned it are done.
  it->second.data = to;
  unpinned_.wait(lock, [&] {
    auto found = entries_.find(key);
    return found == entries_.end() || found->second.readers == 0;
  });
}

void LiveFrames::remove(std::uint64_t key, const std::byte* data) {
  std::unique_lock lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.data != data) return;
  // The sink serves the frame by now: later readers go there, and only the
  // copies already under way are waited for.
  it->second.data = nullptr;
  unpinned_.wait(lock, [&] { return entries_.at(key).readers == 0; });
  Map::node_type node = entries_.extract(key);
  // Kept for add() while there is room; otherwise freed once the lock is let go.
  if (spare_.size() < spare_.capacity()) spare_.push_back(std::move(node));
  lock.unlock();
}

bool LiveFrames::read(std::uint64_t key, void* out, std::size_t bytes) const {
  const std::byte* data = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.data == nullptr) return false;
    data = it->second.data;
    ++it->second.readers;
  }
  std::memcpy(out, data, bytes);
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    last = --entries_.at(key).readers == 0;
  }
  if (last) unpinned_.notify_all();
  return true;
}

}  // namespace ome_writers::detail
