#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/frame_queue.hpp"
#include "core/live_frames.hpp"
#include "core/task_pool.hpp"
#include "ome_writers/errors.hpp"
#include "util/frame_copy.hpp"

namespace ome_writers::detail {
namespace {

using namespace std::chrono_literals;

TEST(MemoryBudget, TimesOutWhenFullAndAFrameIsQueued) {
  MemoryBudget budget(100);
  bool waited = false;
  ASSERT_TRUE(budget.acquire_for_frame(80, 1s, &waited));
  EXPECT_FALSE(waited);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(budget.acquire_for_frame(80, 50ms, &waited));
  EXPECT_TRUE(waited);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_EQ(budget.used(), 80u);
}

TEST(MemoryBudget, AlwaysAdmitsOneFrameSoALargeChunkCannotDeadlock) {
  MemoryBudget budget(100);
  budget.force_acquire(500);  // chunk buffers beyond the budget
  bool waited = false;
  EXPECT_TRUE(budget.acquire_for_frame(80, 10ms, &waited));
  EXPECT_EQ(budget.peak(), 580u);
}

TEST(MemoryBudget, WakesAWaiterWhenAFrameIsReleased) {
  MemoryBudget budget(100);
  bool waited = false;
  ASSERT_TRUE(budget.acquire_for_frame(60, 1s, &waited));
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    budget.release(60, true);
  });
  EXPECT_TRUE(budget.acquire_for_frame(60, 5s, &waited));
  EXPECT_TRUE(waited);
  releaser.join();
}

// A full budget wakes its waiter once a few more frames fit (4 here, less than
// a sixteenth of it), not for every frame written; a waiter that times out
// still takes room for its one frame.
TEST(MemoryBudget, WakesAWaiterOnceAFewMoreFramesFit) {
  constexpr std::uint64_t kFrame = 10;
  MemoryBudget budget(128 * kFrame);
  bool waited = false;
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(budget.acquire_for_frame(kFrame, 1s, &waited));
  std::atomic<bool> admitted{false};
  std::thread appender([&] {
    bool w = false;
    admitted = budget.acquire_for_frame(kFrame, 10s, &w);
    EXPECT_TRUE(w);
  });
  std::this_thread::sleep_for(20ms);
  for (int i = 0; i < 4; ++i) budget.release(kFrame, true);  // room for 4 frames, under a slice
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(admitted.load());
  budget.release(kFrame, true);  // the fifth: room for this frame and 4 more
  appender.join();
  EXPECT_TRUE(admitted.load());
  // Full again; one frame is freed while a waiter waits: it is not woken for
  // that, and when its time is up it takes the one free slot.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(budget.acquire_for_frame(kFrame, 1s, &waited));
  ASSERT_EQ(budget.used(), 128 * kFrame);
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    budget.release(kFrame, true);
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(budget.acquire_for_frame(kFrame, 150ms, &waited));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_TRUE(waited);
  releaser.join();
  EXPECT_EQ(budget.used(), 128 * kFrame);
}

TEST(BufferPool, ReusesBlocksAndReturnsTheirBudget) {
  MemoryBudget budget(1 << 20);
  BufferPool pool(4096, budget);
  bool waited = false;
  ASSERT_TRUE(budget.acquire_for_frame(4096, 1s, &waited));
  std::byte* first = nullptr;
  {
    FrameBuffer b = pool.take();
    first = b.data();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
  }
  EXPECT_EQ(budget.used(), 0u);
  ASSERT_TRUE(budget.acquire_for_frame(4096, 1s, &waited));
  FrameBuffer again = pool.take();
  EXPECT_EQ(again.data(), first);
}

// Mapped blocks are slots of one reservation as large as the budget: a block
// given up when the budget is full goes back to the OS and its slot is used
// again (zeroed); blocks the writer forces past the budget still get memory.
TEST(BufferPool, MappedBlocksReuseTheirSlotsAndGoPastTheBudget) {
  constexpr std::size_t kBlock = 64 << 10;  // mapped, not from the heap
  MemoryBudget budget(4 * kBlock);
  BufferPool pool(kBlock, budget);
  const std::size_t slot = pool.charged_bytes();
  std::vector<FrameBuffer> held;
  std::vector<std::byte*> seen;
  for (int i = 0; i < 12; ++i) {  // 3x the budget, as pyramid planes may need
    held.push_back(pool.take_for_writer());
    std::byte* p = held.back().data();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u);
    EXPECT_EQ(std::count(p, p + kBlock, std::byte{0}), static_cast<std::ptrdiff_t>(kBlock)) << i;
    std::memset(p, 0xA0 + i, kBlock);
    seen.push_back(p);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a block handed out twice";
  for (int i = 0; i < 12; ++i) {  // each still holds what was written to it
    const std::byte* p = held[static_cast<std::size_t>(i)].data();
    EXPECT_EQ(std::count(p, p + kBlock, std::byte(0xA0 + i)), static_cast<std::ptrdiff_t>(kBlock));
  }
  held.clear();  // 4 stay idle (the budget), the rest go back to the OS
  EXPECT_EQ(budget.kept(), 4 * slot);
  EXPECT_EQ(budget.used(), 0u);
  pool.release_idle();
  EXPECT_EQ(budget.kept(), 0u);
  for (int i = 0; i < 12; ++i) {  // slots given back read as zeros when used again
    held.push_back(pool.take_for_writer());
    const std::byte* p = held.back().data();
    EXPECT_EQ(std::count(p, p + kBlock, std::byte{0}), static_cast<std::ptrdiff_t>(kBlock)) << i;
  }
}

/// Polls `done` for up to 5 s (the warmer runs on its own thread).
template <typename Done>
bool eventually(Done done) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The warmer maps nothing until a frame is copied, then keeps `lead` idle
// blocks ahead of the takes, counts returned blocks as idle, and stops at
// `most` blocks made.
TEST(BufferPool, KeepsALeadOfIdleBlocksOnceAFrameIsCopied) {
  constexpr std::size_t kBlock = 64 << 10;  // mapped, not from the heap
  MemoryBudget budget(64 * kBlock);
  BufferPool pool(kBlock, budget);
  const std::size_t slot = pool.charged_bytes();
  std::atomic<bool> stop{false};
  std::thread warmer([&] { pool.keep_warm(4, 10, stop); });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(budget.kept(), 0u) << "mapped slots before any frame was copied";

  bool waited = false;
  std::vector<FrameBuffer> held;
  auto take = [&] {
    ASSERT_TRUE(budget.acquire_for_frame(slot, 1s, &waited));
    held.push_back(pool.take());
  };
  take();
  EXPECT_TRUE(eventually([&] { return budget.kept() == 4 * slot; })) << budget.kept() / slot;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(budget.kept(), 4 * slot) << "the lead is 4 blocks";

  held.pop_back();  // written: its block is idle again, nothing more to map
  EXPECT_EQ(budget.kept(), 5 * slot);
  for (int i = 0; i < 7; ++i) {  // the warmer refills behind each take: 6 more made
    take();
    ASSERT_TRUE(eventually([&] { return budget.kept() == 4 * slot; })) << i;
  }
  take();
  take();  // 10 made: no refill
  EXPECT_TRUE(eventually([&] { return budget.kept() == 2 * slot; })) << budget.kept() / slot;
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(budget.kept(), 2 * slot) << "made more than `most` blocks";

  stop = true;
  pool.wake_waiters();
  warmer.join();
}

// With the budget full of queued frames the warmer maps nothing more; the
// blocks written come back as idle ones.
TEST(BufferPool, WarmerStaysWithinAFullBudget) {
  constexpr std::size_t kBlock = 64 << 10;
  MemoryBudget budget(3 * kBlock);
  BufferPool pool(kBlock, budget);
  const std::size_t slot = pool.charged_bytes();
  std::atomic<bool> stop{false};
  std::thread warmer([&] { pool.keep_warm(8, 100, stop); });
  bool waited = false;
  std::vector<FrameBuffer> held;
  ASSERT_TRUE(budget.acquire_for_frame(slot, 1s, &waited));
  held.push_back(pool.take());
  EXPECT_TRUE(eventually([&] { return budget.kept() == 2 * slot; })) << budget.kept() / slot;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(budget.acquire_for_frame(slot, 1s, &waited));
    held.push_back(pool.take());
  }
  EXPECT_EQ(budget.kept(), 0u);
  EXPECT_FALSE(budget.acquire_for_frame(slot, 20ms, &waited));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(budget.used() + budget.kept(), 3 * slot);
  held.clear();
  EXPECT_EQ(budget.kept(), 3 * slot);
  stop = true;
  pool.wake_waiters();
  warmer.join();
}

// Borrowed frames bound the queue but are the caller's memory: idle blocks
// may still be kept while they fill the budget.
TEST(MemoryBudget, BorrowedFramesLeaveRoomForIdleBlocks) {
  MemoryBudget budget(4 * 4096);
  bool waited = false;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(budget.acquire_for_frame(4096, 1s, &waited));
  EXPECT_FALSE(budget.try_keep(4096));
  budget.mark_borrowed(4 * 4096);
  EXPECT_TRUE(budget.try_keep(4096));
  EXPECT_EQ(budget.kept(), 4096u);
  budget.unmark_borrowed(3 * 4096);  // three copied into pooled blocks: ours again
  EXPECT_FALSE(budget.try_keep(4096));
  EXPECT_FALSE(budget.acquire_for_frame(4096, 10ms, &waited));  // the queue stays bounded
}

TEST(FrameQueue, KeepsOrder) {
  FrameQueue q;
  for (std::uint64_t i = 0; i < 5; ++i) {
    QueueItem item;
    item.kind = QueueItem::Kind::kSkip;
    item.count = i;
    q.push(std::move(item));
  }
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(q.pop().count, i);
}

QueueItem numbered(std::uint64_t i) {
  QueueItem item;
  item.kind = QueueItem::Kind::kSkip;
  item.count = i;
  // Longer than a short string's inline buffer: each item owns heap memory.
  item.metadata =
      "{\"frame\": " + std::to_string(i) + ", \"padding\": \"" + std::string(40, 'x') + "\"}";
  item.location.storage_index = {static_cast<std::int64_t>(i), static_cast<std::int64_t>(i) + 1};
  return item;
}

void expect_numbered(const QueueItem& item, std::uint64_t i) {
  EXPECT_EQ(item.count, i);
  EXPECT_EQ(item.metadata, numbered(i).metadata);
  EXPECT_EQ(item.location.storage_index, numbered(i).location.storage_index);
}

// The queue is a ring that grows: items stay in order, whole, when the ring
// wraps around and when it grows while wrapped.
TEST(FrameQueue, KeepsOrderAndItemsAcrossWrapAndGrowth) {
  FrameQueue q;
  std::uint64_t pushed = 0;
  std::uint64_t popped = 0;
  for (; pushed < 200; ++pushed) q.push(numbered(pushed));
  for (; popped < 150; ++popped) expect_numbered(q.pop(), popped);
  for (; pushed < 1200; ++pushed) q.push(numbered(pushed));  // wraps, then doubles twice
  for (; popped < 1000; ++popped) expect_numbered(q.pop(), popped);
  for (; pushed < 1500; ++pushed) q.push(numbered(pushed));
  for (; popped < 1500; ++popped) expect_numbered(q.pop(), popped);
  EXPECT_FALSE(q.pop_until(std::chrono::steady_clock::now() + 10ms).has_value());
  q.push(numbered(7));
  auto item = q.pop_until(std::chrono::steady_clock::now() + 10s);
  ASSERT_TRUE(item.has_value());
  expect_numbered(*item, 7);
}

TEST(FrameQueue, HandsEveryItemOverInOrderBetweenThreads) {
  FrameQueue q;
  constexpr std::uint64_t kItems = 100000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kItems; ++i) q.push(numbered(i));
  });
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < kItems; ++i) {
    const QueueItem item = q.pop();
    if (item.count != i || item.metadata != numbered(i).metadata) ++wrong;
  }
  producer.join();
  EXPECT_EQ(wrong, 0u);
}

// Removed entries' nodes are reused by later adds: every live frame still
// reads back its own bytes, and a removed one reads as gone.
TEST(LiveFrames, ReusesRemovedEntriesAndKeepsEachFramesBytes) {
  constexpr std::size_t kBytes = 64;
  std::vector<std::vector<std::byte>> frames(40, std::vector<std::byte>(kBytes));
  for (std::size_t f = 0; f < frames.size(); ++f) {
    std::fill(frames[f].begin(), frames[f].end(), static_cast<std::byte>(f + 1));
  }
  LiveFrames live;
  live.reserve(8);
  std::vector<std::byte> out(kBytes);
  for (std::uint64_t round = 0; round < 5; ++round) {
    const std::uint64_t first = round * 8;
    for (std::uint64_t k = first; k < first + 8; ++k) live.add(k, frames[k].data());
    for (std::uint64_t k = first; k < first + 8; ++k) {
      ASSERT_TRUE(live.read(k, out.data(), kBytes)) << k;
      EXPECT_EQ(out, frames[k]) << k;
    }
    for (std::uint64_t k = first; k < first + 8; ++k) live.remove(k, frames[k].data());
    for (std::uint64_t k = first; k < first + 8; ++k)
      EXPECT_FALSE(live.read(k, out.data(), kBytes));
  }
  // A key added again while present now names the new buffer; the old
  // buffer's remove() leaves it alone.
  live.add(3, frames[3].data());
  live.add(3, frames[30].data());
  live.remove(3, frames[3].data());
  ASSERT_TRUE(live.read(3, out.data(), kBytes));
  EXPECT_EQ(out, frames[30]);
  live.remove(3, frames[30].data());
  EXPECT_FALSE(live.read(3, out.data(), kBytes));
}

TEST(TaskPool, RethrowsTheFirstFailureOnWait) {
  TaskPool pool(2);
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) {
    pool.submit([&, i] {
      ++ran;
      if (i == 3) throw Error(ErrorCode::kIo, "disk full");
    });
  }
  EXPECT_THROW(pool.wait(), Error);
  EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace ome_writers::detail

namespace ome_writers::detail {
namespace {

// copy_frame takes the streaming path at kStreamingCopyMin: check both paths,
// every head/tail misalignment, and that nothing beyond the copy is touched.
TEST(CopyFrame, CopiesExactlyAtEverySizeAndAlignment) {
  const std::size_t sizes[] = {0,
                               1,
                               63,
                               4096,
                               kStreamingCopyMin - 1,
                               kStreamingCopyMin,
                               kStreamingCopyMin + 1,
                               kStreamingCopyMin + 63,
                               3 * kStreamingCopyMin + 17};
  std::vector<unsigned char> src(4 * kStreamingCopyMin + 256);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 131 + 7);
  for (const std::size_t n : sizes) {
    for (const std::size_t dst_off : {0u, 1u, 17u, 63u}) {
      for (const std::size_t src_off : {0u, 5u}) {
        std::vector<unsigned char> dst(n + 192, 0xEE);
        copy_frame(dst.data() + 64 + dst_off, src.data() + src_off, n);
        for (std::size_t i = 0; i < 64 + dst_off; ++i) ASSERT_EQ(dst[i], 0xEE) << n;
        ASSERT_EQ(std::memcmp(dst.data() + 64 + dst_off, src.data() + src_off, n), 0)
            << "size " << n << " dst offset " << dst_off << " src offset " << src_off;
        for (std::size_t i = 64 + dst_off + n; i < dst.size(); ++i) ASSERT_EQ(dst[i], 0xEE) << n;
      }
    }
  }
}

}  // namespace
}  // namespace ome_writers::detail

namespace ome_writers::detail {
namespace {

// Shared copies: every byte lands, for sizes around the split and the block
// size, across many consecutive jobs (a helper that wakes late must never
// write into the next job's frame).
TEST(FrameCopier, CopiesExactlyAcrossManyJobs) {
  FrameCopier copier;
  const std::size_t sizes[] = {FrameCopier::kSplitMin - 1, FrameCopier::kSplitMin,
                               FrameCopier::kSplitMin + FrameCopier::kBlock / 2 + 3,
                               3 * FrameCopier::kSplitMin + 1};
  std::vector<unsigned char> src(3 * FrameCopier::kSplitMin + 64);
  std::vector<unsigned char> dst(src.size());
  for (int round = 0; round < 40; ++round) {
    const std::size_t n = sizes[round % 4];
    for (std::size_t i = 0; i < src.size(); ++i) {
      src[i] = static_cast<unsigned char>(i * 7 + static_cast<std::size_t>(round) * 13);
    }
    std::fill(dst.begin(), dst.end(), 0xEE);
    copier.copy(dst.data(), src.data(), n);
    ASSERT_EQ(std::memcmp(dst.data(), src.data(), n), 0) << "round " << round;
    for (std::size_t i = n; i < dst.size(); ++i) ASSERT_EQ(dst[i], 0xEE) << "round " << round;
  }
}

}  // namespace
}  // namespace ome_writers::detail
