#include "core/buffer_pool.hpp"

#include <cstring>
#include <limits>
#include <new>

#include "platform/platform.hpp"
#include "util/frame_copy.hpp"
#include "util/pages.hpp"

namespace ome_writers::detail {

namespace {

// Hands a borrowed frame back to its owner. The contract forbids the release
// function to throw; a writer thread would have nowhere to report it.
void call_release(std::function<void()>& release) noexcept {
  auto fn = std::move(release);
  release = nullptr;
  try {
    fn();
  } catch (...) {
  }
}

}  // namespace

FrameBuffer& FrameBuffer::operator=(FrameBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = other.pool_;
    data_ = other.data_;
    release_ = std::move(other.release_);
    adopted_ = other.adopted_;
    live_ = other.live_;
    live_key_ = other.live_key_;
    other.data_ = nullptr;
    other.release_ = nullptr;
    other.adopted_ = false;
    other.live_ = nullptr;
  }
  return *this;
}

void FrameBuffer::reset() {
  if (data_ == nullptr) return;
  if (live_ != nullptr) {
    live_->remove(live_key_, data_);
    live_ = nullptr;
  }
  if (release_) {
    pool_->return_borrowed(adopted_);
    call_release(release_);
  } else {
    pool_->give_back(data_, adopted_);
  }
  data_ = nullptr;
  adopted_ = false;
}

void FrameBuffer::make_owned() {
  if (!release_) return;
  std::byte* borrowed = data_;
  data_ = pool_->copy_borrowed(borrowed);
  if (live_ != nullptr) live_->move(live_key_, borrowed, data_);
  call_release(release_);
}

void FrameBuffer::track(LiveFrames& live, std::uint64_t key) {
  live.add(key, data_);
  live_ = &live;
  live_key_ = key;
}

void FrameBuffer::adopt() {
  if (data_ != nullptr && !adopted_) {
    pool_->adopt();
    adopted_ = true;
  }
}

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kHeapAlign = 64;  // a cache line

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

}  // namespace

BufferPool::BufferPool(std::size_t block_bytes, MemoryBudget& budget)
    : block_bytes_(block_bytes == 0 ? 1 : block_bytes),
      heap_(block_bytes_ < kHeapBelow),
      charged_bytes_(round_up(block_bytes_, heap_ ? kHeapAlign : kPage)),
      budget_(budget) {
  if (heap_) return;
  // As many slots as the budget holds blocks (address space only: memory
  // backs a slot once it is populated).
  const std::uint64_t slots = budget_.limit() / charged_bytes_ + 1;
  if (slots > std::numeric_limits<std::size_t>::max() / charged_bytes_) return;
  arena_ = platform::reserve_pages(static_cast<std::size_t>(slots) * charged_bytes_);
  if (arena_ != nullptr) arena_slots_ = static_cast<std::size_t>(slots);
}

std::byte* BufferPool::allocate() {
  if (heap_) {
    auto* block =
        static_cast<std::byte*>(::operator new (charged_bytes_, std::align_val_t{kHeapAlign}));
    std::memset(block, 0, charged_bytes_);  // mapped now, not on the appending thread
    return block;
  }
  std::byte* slot = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!discarded_.empty()) {
      slot = discarded_.back();
      discarded_.pop_back();
    } else if (arena_next_ < arena_slots_) {
      slot = arena_ + arena_next_++ * charged_bytes_;
    }
  }
  // Populated in a few calls: a fault per page on the appending thread costs
  // ~2x more.
  if (slot != nullptr) {
    platform::populate_pages(slot, block_bytes_);
    return slot;
  }
  return map_pages(block_bytes_, /*populate=*/true);
}

void BufferPool::deallocate(std::byte* block) {
  if (heap_) {
    ::operator delete (block, std::align_val_t{kHeapAlign});
  } else if (in_arena(block)) {
    platform::discard_pages(block, charged_bytes_);
    std::lock_guard lock(mutex_);
    discarded_.push_back(block);
  } else {
    unmap_pages(block, block_bytes_);
  }
}

BufferPool::~BufferPool() {
  release_idle();
  if (arena_ != nullptr) unmap_pages(arena_, arena_slots_ * charged_bytes_);
}

void BufferPool::release_idle() {
  std::vector<std::byte*> idle;
  {
    std::lock_guard lock(mutex_);
    idle.swap(free_);
  }
  for (auto* block : idle) {
    budget_.unkeep(charged_bytes_);
    deallocate(block);
  }
  // glibc keeps freed heap blocks for reuse: hand them back to the system.
  if (heap_ && !idle.empty()) platform::trim_heap();
}

void BufferPool::prewarm(std::size_t blocks) {
  for (std::size_t i = 0; i < blocks; ++i) {
    if (!budget_.try_keep(charged_bytes_)) return;
    std::byte* block = allocate();
    std::lock_guard lock(mutex_);
    free_.push_back(block);
  }
}

void BufferPool::prepare_spare() {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) return;
  }
  if (!budget_.try_keep(charged_bytes_)) return;
  std::byte* block = allocate();
  std::lock_guard lock(mutex_);
  free_.push_back(block);
}

FrameBuffer BufferPool::take() { return FrameBuffer(this, take_block()); }

FrameBuffer BufferPool::take_for_writer() {
  budget_.force_acquire(charged_bytes_);
  FrameBuffer frame(this, take_block());
  frame.adopted_ = true;  // given back without touching the queued-frame count
  return frame;
}

void BufferPool::keep_warm(std::size_t lead, std::size_t most, const std::atomic<bool>& stop) {
  std::unique_lock lock(mutex_);
  lead_ = lead;
  std::uint64_t refused_at = 0;  // the take count when the budget last had no room
  for (std::size_t made = 0; made < most;) {
    warm_.wait(lock, [&] {
      return stop.load(std::memory_order_relaxed) || (taken_ > refused_at && free_.size() < lead_);
    });
    if (stop.load(std::memory_order_relaxed)) break;
    // The budget is full of queued frames: their blocks come back as they
    // are written, so try again only after the next take.
    if (!budget_.try_keep(charged_bytes_)) {
      refused_at = taken_;
      continue;
    }
    lock.unlock();  // appends take blocks while this one is mapped
    std::byte* block = allocate();
    lock.lock();
    free_.push_back(block);
    ++made;
  }
  lead_ = 0;
}

void BufferPool::wake_waiters() {
  { std::lock_guard lock(mutex_); }  // a waiter is either waiting or sees the flag
  warm_.notify_all();
}

std::byte* BufferPool::take_block() {
  {
    std::lock_guard lock(mutex_);
    ++taken_;
    if (lead_ != 0 && free_.size() <= lead_) warm_.notify_one();
    if (!free_.empty()) {
      std::byte* block = free_.back();
      free_.pop_back();
      budget_.unkeep(charged_bytes_);
      return block;
    }
  }
  return allocate();
}

std::byte* BufferPool::copy_borrowed(const std::byte* data) {
  std::byte* block = take_block();
  budget_.unmark_borrowed(charged_bytes_);  // the frame is in this process's memory now
  copy_frame(block, data, block_bytes_);
  return block;
}

FrameBuffer BufferPool::borrow(const std::byte* data, std::function<void()> release) {
  budget_.mark_borrowed(charged_bytes_);
  return FrameBuffer(this, data, std::move(release));
}

void BufferPool::return_borrowed(bool adopted) {
  budget_.unmark_borrowed(charged_bytes_);
  budget_.release(charged_bytes_, !adopted);
}

void BufferPool::adopt() { budget_.adopt_frame(); }

void BufferPool::give_back(std::byte* block, bool adopted) {
  budget_.release(charged_bytes_, !adopted);
  {
    std::lock_guard lock(mutex_);
    if (budget_.try_keep(charged_bytes_)) {
      free_.push_back(block);
      return;
    }
  }
  deallocate(block);
}

}  // namespace ome_writers::detail
