#include <gtest/gtest.h>

#include "core/layout.hpp"
#include "ome_writers/errors.hpp"
#include "test_support.hpp"

namespace ome_writers::detail {
namespace {

using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

std::vector<std::int64_t> idx(std::initializer_list<std::int64_t> v) { return v; }

TEST(Layout, RoutesFramesInAcquisitionOrderToNgffStorageOrder) {
  // Acquired t, z, c; stored t, c, z (NGFF order).
  const Layout l(settings({dim("t", 2, T::kTime), dim("z", 3, T::kSpace), dim("c", 2, T::kChannel),
                           dim("y", 4), dim("x", 5)}));
  ASSERT_EQ(l.axes.size(), 5u);
  EXPECT_EQ(l.axes[0].name, "t");
  EXPECT_EQ(l.axes[1].name, "c");
  EXPECT_EQ(l.axes[2].name, "z");
  EXPECT_EQ(*l.total_frames, 12u);
  // frame 0 -> t0 z0 c0; frame 1 -> t0 z0 c1; frame 2 -> t0 z1 c0; frame 7 -> t1 z0 c1.
  EXPECT_EQ(l.locate(0).storage_index, idx({0, 0, 0}));
  EXPECT_EQ(l.locate(1).storage_index, idx({0, 1, 0}));
  EXPECT_EQ(l.locate(2).storage_index, idx({0, 0, 1}));
  EXPECT_EQ(l.locate(7).storage_index, idx({1, 1, 0}));
  EXPECT_THROW(l.locate(12), Error);
}

TEST(Layout, AcquisitionStorageOrderKeepsTheOrder) {
  auto s = settings({dim("t", 2, T::kTime), dim("z", 3, T::kSpace), dim("c", 2, T::kChannel),
                     dim("y", 4), dim("x", 5)});
  s.storage_order = StorageOrder::kAcquisition;
  const Layout l(s);
  EXPECT_EQ(l.axes[1].name, "z");
  EXPECT_EQ(l.locate(1).storage_index, idx({0, 0, 1}));
}

TEST(Layout, ExplicitStorageOrderList) {
  auto s = settings({dim("c", 2, T::kChannel), dim("t", 3, T::kTime), dim("y", 4), dim("x", 5)});
  s.storage_order = StorageOrder::kList;
  s.storage_order_list = {"t", "c", "y", "x"};
  const Layout l(s);
  EXPECT_EQ(l.axes[0].name, "t");
  EXPECT_EQ(l.locate(1).storage_index, idx({1, 0}));  // c0 t1
  s.storage_order_list = {"t", "c", "x", "y"};
  EXPECT_THROW(Layout{s}, Error);
}

TEST(Layout, PositionsAreNotArrayAxes) {
  Dimension p = dim("p", 3, T::kPosition);
  for (int i = 0; i < 3; ++i) p.positions.push_back(Position{"P" + std::to_string(i)});
  // p interleaved between t and c.
  const Layout l(
      settings({dim("t", 2, T::kTime), p, dim("c", 2, T::kChannel), dim("y", 4), dim("x", 5)}));
  EXPECT_EQ(l.positions.size(), 3u);
  EXPECT_EQ(l.axes.size(), 4u);
  const auto f = l.locate(2 * 3 + 2 * 1 + 1);  // t1 p1 c1
  EXPECT_EQ(f.position, 1);
  EXPECT_EQ(f.storage_index, idx({1, 1}));
}

TEST(Layout, UnboundedFirstDimensionNeverRunsOut) {
  const Layout l(settings(
      {dim("t", std::nullopt, T::kTime), dim("c", 2, T::kChannel), dim("y", 4), dim("x", 5)}));
  EXPECT_TRUE(l.unbounded);
  EXPECT_FALSE(l.total_frames.has_value());
  EXPECT_EQ(l.locate(1'000'001).storage_index, idx({500'000, 1}));
}

TEST(Layout, ChunksAndShards) {
  const Layout l(settings(
      {dim("t", 10, T::kTime, 2, 3), dim("y", 64, T::kUnset, 16, 2), dim("x", 64, T::kUnset, 32)}));
  EXPECT_TRUE(l.sharded);
  EXPECT_EQ(l.axes[0].chunk, 2);
  EXPECT_EQ(l.axes[0].shard, 6);
  EXPECT_EQ(l.axes[1].shard, 32);
  EXPECT_EQ(l.axes[2].shard, 32);  // unset shard_size_chunks: one chunk per shard
}

TEST(Layout, RejectsInvalidDimensionLists) {
  EXPECT_THROW(Layout(settings({dim("y", 4)})), Error);
  EXPECT_THROW(Layout(settings({dim("t", 2), dim("t", 3), dim("x", 4)})), Error);
  EXPECT_THROW(Layout(settings({dim("t", 2), dim("c", std::nullopt), dim("y", 4), dim("x", 4)})),
               Error);
  EXPECT_THROW(Layout(settings({dim("t", 2), dim("y", 4, T::kTime), dim("x", 4)})), Error);
  try {
    Layout(settings({dim("p", std::nullopt, T::kPosition), dim("y", 4), dim("x", 4)}));
    FAIL() << "unbounded positions must be rejected";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
  }
}

TEST(Layout, RefusesCountsAndFramesTooLargeToHandle) {
  auto message = [](std::vector<Dimension> dims) -> std::string {
    try {
      Layout{settings(std::move(dims))};
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(message({dim("t", kMaxCount + 1), dim("y", 4), dim("x", 4)}),
            "dimension 't' count must be at most 2^53 (9007199254740992), got 9007199254740993");
  EXPECT_EQ(message({dim("t", kMaxCount), dim("y", 4), dim("x", 4)}), "accepted");
  EXPECT_EQ(message({dim("t", 2), dim("y", 1000000000000), dim("x", 512)}),
            "a frame of 1000000000000 x 512 uint16 is larger than 1099511627776 bytes");
  EXPECT_EQ(message({dim("t", 2), dim("y", 1LL << 40), dim("x", 1LL << 40)}),
            "a frame of 1099511627776 x 1099511627776 uint16 is larger than 1099511627776 bytes");
  EXPECT_EQ(message({dim("t", 2), dim("y", 1 << 19), dim("x", 1 << 20)}), "accepted");  // 2^40
}

}  // namespace
}  // namespace ome_writers::detail
