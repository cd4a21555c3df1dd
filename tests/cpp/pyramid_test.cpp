#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <vector>
#include "platform/platform.hpp"

#include "core/layout.hpp"
#include "core/pyramid.hpp"
#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "platform/platform.hpp"
#include "test_support.hpp"

namespace ome_writers {
namespace {

using detail::downsample_plane;
using testing::dim;
using testing::settings;

// The block of a reduced pixel, gathered the slow way: every pixel of the
// 2x2 (x2 planes) block that exists.
template <typename T>
std::vector<T> block(const std::vector<T>& a, const std::vector<T>* b, std::int64_t h,
                     std::int64_t w, std::int64_t i, std::int64_t j) {
  std::vector<T> v;
  for (const std::vector<T>* plane : {&a, b}) {
    if (plane == nullptr) continue;
    for (std::int64_t y = 2 * i; y < std::min(2 * i + 2, h); ++y) {
      for (std::int64_t x = 2 * j; x < std::min(2 * j + 2, w); ++x) {
        v.push_back((*plane)[static_cast<std::size_t>(y * w + x)]);
      }
    }
  }
  return v;
}

template <typename T>
T naive(const std::vector<T>& v, DownsampleMethod method) {
  switch (method) {
    case DownsampleMethod::kMin:
      return *std::min_element(v.begin(), v.end());
    case DownsampleMethod::kMax:
      return *std::max_element(v.begin(), v.end());
    case DownsampleMethod::kDecimate:
      return v.front();
    case DownsampleMethod::kMode: {
      std::map<T, int> count;
      for (T x : v) ++count[x];
      T best = v.front();
      int most = 0;
      for (const auto& [value, n] : count) {  // ascending: ties keep the smallest
        if (n > most) {
          most = n;
          best = value;
        }
      }
      return best;
    }
    case DownsampleMethod::kMean: {
      long double sum = 0;
      for (T x : v) sum += static_cast<long double>(x);
      const long double mean = sum / static_cast<long double>(v.size());
      if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(mean);
      } else {
        return static_cast<T>(std::nearbyint(mean));  // the default rounding: half to even
      }
    }
  }
  return T{};
}

template <typename T>
void check_all(DataType dtype, T lo, T hi) {
  std::mt19937_64 rng(42);
  const DownsampleMethod methods[] = {DownsampleMethod::kMean, DownsampleMethod::kMin,
                                      DownsampleMethod::kMax, DownsampleMethod::kDecimate,
                                      DownsampleMethod::kMode};
  for (std::int64_t h : {1, 2, 3, 5, 8}) {
    for (std::int64_t w : {1, 2, 3, 7, 16, 33}) {
      for (bool two : {false, true}) {
        std::vector<T> a(static_cast<std::size_t>(h * w));
        std::vector<T> b(a.size());
        // Few distinct values: ties and repeated values (mode) happen.
        std::uniform_int_distribution<int> pick(0, 5);
        std::vector<T> values{lo, hi, T(lo + 1), T(hi - 1), T((lo + hi) / 2), T((lo + hi) / 2 + 1)};
        for (auto& x : a) x = values[static_cast<std::size_t>(pick(rng))];
        for (auto& x : b) x = values[static_cast<std::size_t>(pick(rng))];
        const std::int64_t oh = (h + 1) / 2;
        const std::int64_t ow = (w + 1) / 2;
        for (auto method : methods) {
          if (method == DownsampleMethod::kMode && std::is_floating_point_v<T>) continue;
          std::vector<T> out(static_cast<std::size_t>(oh * ow));
          downsample_plane(dtype, method, reinterpret_cast<const std::byte*>(a.data()),
                           two ? reinterpret_cast<const std::byte*>(b.data()) : nullptr, h, w,
                           reinterpret_cast<std::byte*>(out.data()));
          for (std::int64_t i = 0; i < oh; ++i) {
            for (std::int64_t j = 0; j < ow; ++j) {
              const T expected = naive(block(a, two ? &b : nullptr, h, w, i, j), method);
              ASSERT_EQ(out[static_cast<std::size_t>(i * ow + j)], expected)
                  << "dtype " << dtype_name(dtype) << " method " << to_string(method) << " h " << h
                  << " w " << w << " planes " << (two ? 2 : 1) << " at " << i << "," << j;
            }
          }
        }
      }
    }
  }
}

TEST(Pyramid, KernelsMatchANaiveReference) {
  check_all<std::uint8_t>(DataType::kUInt8, 0, 255);
  check_all<std::int8_t>(DataType::kInt8, -128, 127);
  check_all<std::uint16_t>(DataType::kUInt16, 0, 65535);
  check_all<std::int16_t>(DataType::kInt16, -32768, 32767);
  check_all<std::uint32_t>(DataType::kUInt32, 0, 4294967295u);
  check_all<std::int32_t>(DataType::kInt32, -2147483647 - 1, 2147483647);
  // Small enough for the long double reference to be exact.
  check_all<std::int64_t>(DataType::kInt64, -(std::int64_t{1} << 60), std::int64_t{1} << 60);
  check_all<std::uint64_t>(DataType::kUInt64, 0, std::uint64_t{1} << 59);
  check_all<float>(DataType::kFloat32, -1000.5f, 3000.25f);
  check_all<double>(DataType::kFloat64, -1e9, 1e9);
}

TEST(Pyramid, MeanRoundsHalfToEven) {
  // 2x1 blocks: (1 + 2) / 2 = 1.5 -> 2, (2 + 3) / 2 = 2.5 -> 2, (-3 + -2) / 2 = -2.5 -> -2.
  const std::int16_t a[] = {1, 2, 2, 3, -3, -2};
  std::int16_t out[3];
  downsample_plane(DataType::kInt16, DownsampleMethod::kMean, reinterpret_cast<const std::byte*>(a),
                   nullptr, 1, 6, reinterpret_cast<std::byte*>(out));
  EXPECT_EQ(out[0], 2);
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(out[2], -2);
}

StreamSettings zarr_settings(std::int64_t h, std::int64_t w) {
  auto s =
      settings({dim("t", 2, DimensionType::kTime), dim("z", 5, DimensionType::kSpace, 2),
                dim("y", h, DimensionType::kSpace, 64), dim("x", w, DimensionType::kSpace, 64)});
  s.dtype = DataType::kUInt16;
  return s;
}

void expect_invalid(const StreamSettings& s, const std::string& needle) {
  try {
    s.validate();
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Pyramid, LevelsAreChecked) {
  auto s = zarr_settings(1000, 600);
  s.pyramid.levels = 11;  // 1000 -> 500 -> ... -> 1 at level 10
  s.validate();
  EXPECT_EQ(detail::pyramid_levels(s, detail::Layout(s)), 11);
  s.pyramid.levels = 12;
  expect_invalid(s, "pyramid levels 12");
  s.pyramid.levels = 3;
  s.dtype = DataType::kFloat32;
  s.pyramid.method = DownsampleMethod::kMode;
  expect_invalid(s, "'mode'");
  s.dtype = DataType::kUInt16;
  s.pyramid.auto_levels = true;
  // 1000 x 600 in chunks of 64: 1000, 500, 250, 125, 63 fits.
  EXPECT_EQ(detail::pyramid_levels(s, detail::Layout(s)), 5);
  s.format.name = FileFormat::kOmeTiff;
  s.format.suffix = ".ome.tiff";
  // TIFF: 256-pixel tiles: 1000, 500, 250.
  EXPECT_EQ(detail::pyramid_levels(s, detail::Layout(s)), 3);
  s.pyramid.downsample_z = true;
  expect_invalid(s, "downsample_z");
  s.format.name = FileFormat::kOmeZarr;
  s.format.suffix = ".ome.zarr";
  s.validate();
  s.dimensions[1].chunk_size = 1;
  expect_invalid(s, "chunk_size above 1");
}

TEST(Pyramid, SettingsJson) {
  const std::string base = R"({"root_path": "a.ome.zarr", "dtype": "uint8",
    "dimensions": [{"name": "y", "count": 64, "type": "space"}, {"name": "x", "count": 64, "type": "space"}],
    "pyramid": )";
  auto s = StreamSettings::from_json(base + R"({"levels": 3, "method": "max"}})");
  EXPECT_EQ(s.pyramid.levels, 3);
  EXPECT_EQ(s.pyramid.method, DownsampleMethod::kMax);
  EXPECT_EQ(StreamSettings::from_json(s.to_json()).to_json(), s.to_json());
  s = StreamSettings::from_json(base +
                                R"({"levels": "auto", "method": "mode", "downsample_z": false}})");
  EXPECT_TRUE(s.pyramid.auto_levels);
  EXPECT_EQ(StreamSettings::from_json(s.to_json()).to_json(), s.to_json());
  for (const auto& [text, needle] : std::vector<std::pair<std::string, std::string>>{
           {R"({"levels": "many"})", "\"many\""},
           {R"({"levels": 0})", "got 0"},
           {R"({"levels": 2.5})", "2.5"},
           {R"({"method": "median"})", "'median'"},
           {R"({"downsample_z": "yes"})", "\"yes\""}}) {
    try {
      StreamSettings::from_json(base + text + "}");
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

TEST(Pyramid, LevelGeometryRoundsUp) {
  auto s = zarr_settings(101, 64);
  s.dimensions[2].shard_size_chunks = 2;
  s.pyramid.levels = 3;
  s.pyramid.downsample_z = true;
  const detail::Layout base(s);
  const int z = detail::pyramid_z_axis(s, base);
  ASSERT_EQ(z, 1);
  const auto l1 = detail::level_layout(base, 1, z);
  EXPECT_EQ(l1.height, 51);
  EXPECT_EQ(l1.width, 32);
  EXPECT_EQ(l1.axes[1].count, 3);  // z: 5 -> 3
  EXPECT_EQ(l1.axes[2].chunk, 51);
  EXPECT_EQ(l1.axes[2].shard, 51);  // one chunk is all of y: a shard of one chunk
  EXPECT_EQ(l1.frame_bytes, 51u * 32u * 2u);
  const auto l2 = detail::level_layout(base, 2, z);
  EXPECT_EQ(l2.height, 26);
  EXPECT_EQ(l2.axes[1].count, 2);
  EXPECT_EQ(l2.axes[1].chunk, 2);
  EXPECT_EQ(l2.axes[0].chunk, 1);  // t is not acquired fastest: as level 0
  // Without z halving, z (acquired fastest) chunks 4^level times more planes
  // per file, up to its count.
  EXPECT_EQ(detail::level_layout(base, 1, -1).axes[1].chunk, 5);
  EXPECT_EQ(detail::level_layout(base, 1, -1).axes[1].count, 5);
  s.dimensions[1].count = 100;
  const detail::Layout tall(s);
  const auto t2 = detail::level_layout(tall, 2, -1);
  EXPECT_EQ(t2.axes[1].chunk, 32);
  EXPECT_EQ(t2.axes[1].shard, 32);
  // Within a memory limit: an open chunk is 2 z-planes of 26 x 16 uint16 (1664 bytes);
  // 4x longer (6656) fits 8 KiB, 16x does not.
  EXPECT_EQ(detail::level_layout(tall, 2, -1, 8192).axes[1].chunk, 8);
}

// The C++ live read of each level, both formats, while the stream is open
// and after flush(): every level plane is the kernel's reduction of the one above.
TEST(Pyramid, StreamReadsEveryLevel) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("ome_writers_pyr_" + std::to_string(platform::process_id()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto format : {FileFormat::kOmeZarr, FileFormat::kOmeTiff}) {
    const std::int64_t h = 21;
    const std::int64_t w = 34;
    auto s = settings(
        {dim("t", 4, DimensionType::kTime), dim("y", h, DimensionType::kSpace),
         dim("x", w, DimensionType::kSpace)},
        format, (dir / (format == FileFormat::kOmeZarr ? "a.ome.zarr" : "a.ome.tiff")).string());
    s.pyramid.levels = 3;
    s.pyramid.method = DownsampleMethod::kMax;
    Stream stream(s);
    ASSERT_EQ(stream.levels(), 3);
    std::vector<std::vector<std::uint16_t>> frames;
    for (int k = 0; k < 4; ++k) {
      std::vector<std::uint16_t> f(static_cast<std::size_t>(h * w));
      for (std::size_t i = 0; i < f.size(); ++i)
        f[i] = static_cast<std::uint16_t>(k * 1000 + (i * 37) % 997);
      stream.append(f.data(), f.size() * 2, "");
      frames.push_back(std::move(f));
    }
    stream.flush();
    for (std::int64_t t = 0; t < 4; ++t) {
      std::vector<std::uint16_t> above = frames[static_cast<std::size_t>(t)];
      std::int64_t ah = h;
      std::int64_t aw = w;
      for (int level = 1; level < 3; ++level) {
        const auto shape = stream.level_shape(0, level);
        ASSERT_EQ(shape.size(), 3u);
        EXPECT_EQ(shape[1], (ah + 1) / 2);
        EXPECT_EQ(shape[2], (aw + 1) / 2);
        std::vector<std::uint16_t> expected(static_cast<std::size_t>(shape[1] * shape[2]));
        detail::downsample_plane(DataType::kUInt16, DownsampleMethod::kMax,
                                 reinterpret_cast<const std::byte*>(above.data()), nullptr, ah, aw,
                                 reinterpret_cast<std::byte*>(expected.data()));
        std::vector<std::uint16_t> got(expected.size(), 0);
        ASSERT_TRUE(stream.read_level_frame(0, level, {t}, got.data())) << "level " << level;
        EXPECT_EQ(got, expected) << to_string(format) << " t " << t << " level " << level;
        above = expected;
        ah = shape[1];
        aw = shape[2];
      }
    }
    std::vector<std::uint16_t> sink(16);
    EXPECT_THROW(stream.read_level_frame(0, 3, {0}, sink.data()), Error);
    stream.close();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ome_writers
