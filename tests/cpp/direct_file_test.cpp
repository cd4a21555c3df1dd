#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "tiff/direct_file.hpp"
#include "util/pages.hpp"

namespace ome_writers::detail {
namespace {

namespace fs = std::filesystem;

std::vector<unsigned char> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class DirectFileTest : public ::testing::TestWithParam<bool> {
 protected:
  fs::path path_ = make_path();
  static fs::path make_path() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    return fs::path(::testing::TempDir()) / ("direct_file_" + name + ".bin");
  }
  void TearDown() override { fs::remove(path_); }
};

// Random writes, patches, gaps and aligned pieces against a plain byte vector:
// what the file holds (read back through pread while open, and from disk after
// close) must equal the model at every step.
TEST_P(DirectFileTest, MatchesAByteModelUnderAppendsPatchesAndGaps) {
  std::mt19937 rng(7);
  std::vector<unsigned char> model;
  DirectFile file(path_, 64 << 10, GetParam());
  if (GetParam() && !file.direct()) GTEST_SKIP() << "no O_DIRECT where " << path_ << " is";
  EXPECT_EQ(file.direct(), GetParam());
  std::byte* aligned = map_pages(1 << 20);
  for (int step = 0; step < 400; ++step) {
    const int kind = static_cast<int>(rng() % 10);
    std::uint64_t off = 0;
    std::size_t n = 0;
    const unsigned char fill = static_cast<unsigned char>(rng());
    if (kind < 4) {  // append a small piece
      off = model.size();
      n = 1 + rng() % 5000;
    } else if (kind < 6) {  // a large page-aligned piece after align_next_append
      file.align_next_append();
      off = file.end();
      while (model.size() < off) model.push_back(0);
      n = 4096 * (1 + rng() % 40) + (rng() % 2) * (rng() % 4096);
    } else if (kind < 9 && !model.empty()) {  // patch anywhere already written
      off = rng() % model.size();
      n = 1 + rng() % 64;
    } else {  // leave a gap
      off = model.size() + rng() % 3000;
      n = 1 + rng() % 100;
    }
    std::vector<unsigned char> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<unsigned char>(fill + i * 31);
    const void* src = data.data();
    if (kind >= 4 && kind < 6) {
      std::memcpy(aligned, data.data(), n);
      src = aligned;
    }
    file.pwrite(src, n, off);
    if (model.size() < off + n) model.resize(off + n, 0);
    std::memcpy(model.data() + off, data.data(), n);
    ASSERT_EQ(file.size(), model.size()) << "step " << step;
    if (step % 25 == 0) file.flush();
    if (step % 7 == 0) {  // read a random stretch back while open
      const std::uint64_t at = rng() % model.size();
      const std::size_t len = std::min<std::size_t>(1 + rng() % 20000, model.size() - at);
      std::vector<unsigned char> got(len + 10);
      const std::size_t want =
          std::min<std::size_t>(len + 10, model.size() - at);  // short at the end
      ASSERT_EQ(file.pread(got.data(), len + 10, at), want);
      ASSERT_EQ(0, std::memcmp(got.data(), model.data() + at, want)) << "step " << step;
    }
  }
  file.flush();
  EXPECT_EQ(read_all(path_), model);  // flushed: all of it visible to other readers
  file.close();
  file.close();  // idempotent
  EXPECT_EQ(read_all(path_), model);
  EXPECT_EQ(fs::file_size(path_), model.size());
  unmap_pages(aligned, 1 << 20);
}

TEST_P(DirectFileTest, WritesAfterCloseFail) {
  DirectFile file(path_, 4096, GetParam());
  const char text[] = "abc";
  file.pwrite(text, 3, 0);
  file.close();
  EXPECT_THROW(file.pwrite(text, 3, 3), std::exception);
  EXPECT_EQ(fs::file_size(path_), 3u);
}

INSTANTIATE_TEST_SUITE_P(DirectAndPageCache, DirectFileTest, ::testing::Values(true, false));

}  // namespace
}  // namespace ome_writers::detail
