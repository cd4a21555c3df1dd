#include "util/fs.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/pages.hpp"

namespace ome_writers::detail {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Pieces at every kind of alignment and size (page multiples or not, smaller
// and larger than the 1 MiB bounce buffer, below the 64 KiB direct threshold):
// each file holds exactly their concatenation, whichever path wrote it.
TEST(WriteFile, GatherAndDirectWriteExactlyTheBytesAtAnyAlignment) {
  const fs::path dir = fs::path(::testing::TempDir()) / "ome_writers_fs_test";
  fs::create_directories(dir);
  std::vector<std::byte> source(5u << 20);
  for (std::size_t i = 0; i < source.size(); ++i) {
    source[i] = static_cast<std::byte>((i * 131 + i / 4099) & 0xff);
  }
  std::byte* aligned = map_pages(4u << 20, /*populate=*/true);
  for (std::size_t i = 0; i < (4u << 20); ++i) aligned[i] = source[i + 7];
  using Pieces = std::vector<std::pair<const void*, std::size_t>>;
  const std::vector<Pieces> cases = {
      {{aligned, 4096 * 3}},                                // aligned: straight O_DIRECT
      {{aligned, 1u << 20}, {aligned + (1u << 20), 8192}},  // aligned gather
      {{source.data() + 1, 100}},                           // tiny: page cache
      {{source.data() + 3, 70000}},                         // unaligned, padded tail
      {{source.data() + 5, (1u << 20) + 12345}, {aligned + 4096, 4096}, {source.data(), 1}},
      {{source.data() + 1, 3u << 20}, {source.data() + 9, (1u << 20) - 3}},  // bounce refills
      {{aligned, 4096}, {source.data() + 2, 65536}},
  };
  int k = 0;
  for (const auto& pieces : cases) {
    std::string expected;
    for (const auto& [p, n] : pieces) expected.append(static_cast<const char*>(p), n);
    const fs::path gather = dir / ("gather" + std::to_string(k));
    write_file_gather(gather, pieces);
    EXPECT_EQ(read_all(gather), expected) << "gather case " << k;
    if (pieces.size() == 1) {
      const fs::path direct = dir / ("direct" + std::to_string(k));
      write_file_direct(direct, pieces[0].first, pieces[0].second);
      EXPECT_EQ(read_all(direct), expected) << "direct case " << k;
    }
    ++k;
  }
  unmap_pages(aligned, 4u << 20);
  fs::remove_all(dir);
}

// A file size limit is reported as EFBIG ("File too large") on every write path, O_DIRECT
// included (which the kernel answers with EINVAL for the write it cut short). The limit
// is set in a child process (a death test) so that it binds nothing else.
TEST(WriteFile, FileSizeLimitReachesTheCallerAsEfbig) {
  const fs::path dir = fs::path(::testing::TempDir()) / "ome_writers_fsize_test";
  fs::create_directories(dir);
  std::byte* aligned = map_pages(1u << 20, /*populate=*/true);
  std::vector<std::byte> unaligned((1u << 20) + 1);
  const auto child = [&] {
    if (!platform::limit_file_size(300000)) std::_Exit(0);  // no such limit here
    int wrong = 0;
    int bit = 1;
    const auto expect_efbig = [&](auto&& write) {
      try {
        write();
        wrong |= bit;
      } catch (const Error& e) {
        if (e.system_errno() != EFBIG || std::strstr(e.what(), "File too large") == nullptr) {
          wrong |= bit;
        }
      }
      bit <<= 1;
    };
    using Pieces = std::vector<std::pair<const void*, std::size_t>>;
    expect_efbig([&] { write_file_gather(dir / "a", Pieces{{aligned, 1u << 20}}); });
    expect_efbig([&] { write_file_direct(dir / "b", aligned, 1u << 20); });
    expect_efbig([&] { write_file_gather(dir / "c", Pieces{{unaligned.data() + 1, 1u << 20}}); });
    expect_efbig([&] { write_file(dir / "d", unaligned.data(), unaligned.size()); });
    std::_Exit(wrong);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
  unmap_pages(aligned, 1u << 20);
  fs::remove_all(dir);
}

// A stream's chunk directories are made below its array directory only: a
// store removed under a running stream is reported, never re-created.
TEST(MakeDirectories, WithinAFloorNeverCreatesTheFloor) {
  const fs::path dir = fs::path(::testing::TempDir()) / "ome_writers_mkdir_within_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "array");
  EXPECT_TRUE(make_directories_within(dir / "array", dir / "array" / "c" / "3" / "0"));
  EXPECT_TRUE(fs::is_directory(dir / "array" / "c" / "3" / "0"));
  EXPECT_TRUE(make_directories_within(dir / "array", dir / "array" / "c" / "3" / "0"));
  fs::remove_all(dir);
  EXPECT_FALSE(make_directories_within(dir / "array", dir / "array" / "c" / "4" / "0"));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(MakeDirectories, CreatesMissingLevelsAcceptsExistingAndRefusesFiles) {
  const fs::path dir = fs::path(::testing::TempDir()) / "ome_writers_mkdir_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  make_directories(dir / "c" / "7" / "0");  // three missing levels
  EXPECT_TRUE(fs::is_directory(dir / "c" / "7" / "0"));
  make_directories(dir / "c" / "7" / "0");  // already there
  make_directories(dir / "c" / "8");        // parent there
  EXPECT_TRUE(fs::is_directory(dir / "c" / "8"));
  std::ofstream(dir / "file") << "x";
  for (const fs::path& bad : {dir / "file", dir / "file" / "sub"}) {
    try {
      make_directories(bad);
      ADD_FAILURE() << "created " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIo);
      EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_all(dir / "file"), "x");
  fs::remove_all(dir);
}

// Names are never paths: separators, "." / "..", control bytes and '%' are
// percent-encoded; every other name (0.3.2's paths) is kept byte for byte.
TEST(PathComponent, EncodesWhatWouldMakeANameAPath) {
  EXPECT_EQ(path_component("A1", "n"), "A1");
  EXPECT_EQ(path_component("fov_0 left-1.5", "n"), "fov_0 left-1.5");
  EXPECT_EQ(path_component("..", "n"), "%2E%2E");
  EXPECT_EQ(path_component(".", "n"), "%2E");
  EXPECT_EQ(path_component("...", "n"), "...");
  EXPECT_EQ(path_component("../../../v", "n"), "..%2F..%2F..%2Fv");
  EXPECT_EQ(path_component("/srv/elsewhere", "n"), "%2Fsrv%2Felsewhere");
  EXPECT_EQ(path_component("a\\b", "n"), "a%5Cb");
  EXPECT_EQ(path_component(std::string("a\0b\n\x7f", 5), "n"), "a%00b%0A%7F");
  EXPECT_EQ(path_component("100%", "n"), "100%25");
  EXPECT_EQ(path_component("%2E", "n"), "%252E");          // distinct from "."
  EXPECT_EQ(path_component("\xc3\xa9", "n"), "\xc3\xa9");  // UTF-8 stays
  EXPECT_EQ(path_component(std::string(255, 'x'), "n"), std::string(255, 'x'));
}

TEST(PathComponent, RefusesEmptyAndTooLongNames) {
  for (const std::string& name : {std::string(), std::string(256, 'x'), std::string(86, '/')}) {
    try {
      (void)path_component(name, "position name");
      FAIL() << "accepted a name of " << name.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("position name"), std::string::npos) << e.what();
    }
  }
}

TEST(CheckInside, AcceptsPathsUnderTheRootOnly) {
  EXPECT_NO_THROW(check_inside("out.ome.zarr", "out.ome.zarr"));
  EXPECT_NO_THROW(check_inside("out.ome.zarr/", "out.ome.zarr"));
  EXPECT_NO_THROW(check_inside("/t/out.ome.zarr", "/t/out.ome.zarr/A/1/f0/0"));
  EXPECT_NO_THROW(check_inside("/t/out", "/t/out/a/../b"));
  EXPECT_NO_THROW(check_inside("", "x.ome.tiff"));
  EXPECT_NO_THROW(check_inside("/t/out", "/t/out/%2E%2E"));
  for (const auto& [root, path] : std::vector<std::pair<fs::path, fs::path>>{
           {"/t/out", "/t/out/../../../v"},
           {"/t/out", "/srv/elsewhere"},
           {"/t/out", "/t/out/.."},
           {"/t/out", "/t/outside"},
           {"/t/out", "/t"},
           {"out", "/t/out"},
           {"", "../x"},
       }) {
    try {
      check_inside(root, path);
      FAIL() << path << " accepted inside " << root;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
}

// Paths past the Windows MAX_PATH (260) and non-ASCII names go through every
// file operation of the platform layer (on Windows as "\\?\" wide paths).
TEST(Paths, LongAndUnicodePathsWork) {
  const fs::path base = fs::path(::testing::TempDir()) / "ome_writers_long_paths";
  std::error_code ec;
  fs::remove_all(base, ec);
  fs::path deep = base / platform::path_from_utf8("\xc2\xb5m_\xc3\x9f_\xe6\x97\xa5\xe6\x9c\xac");
  while (deep.native().size() < 400) deep /= std::string(40, 'd');
  make_directories(deep);
  make_directories(deep);  // existing: fine
  ASSERT_TRUE(identity_of(deep).has_value());
  const fs::path doc = deep / "zarr.json";
  write_file_atomic(doc, "{}");
  write_file_atomic(doc, "{\"replaced\": true}");
  EXPECT_EQ(read_file(doc), "{\"replaced\": true}");
  std::vector<std::byte> bytes(3 * 4096 + 17);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7);
  write_file_direct(deep / "chunk", bytes.data(), bytes.size());
  const std::string back = read_file(deep / "chunk");
  ASSERT_EQ(back.size(), bytes.size());
  EXPECT_EQ(std::memcmp(back.data(), bytes.data(), bytes.size()), 0);
  fsync_path(doc);
  const std::string text = "\xc2\xb5m_\xc3\x9f_\xe6\x97\xa5\xe6\x9c\xac/x";
  EXPECT_EQ(platform::path_to_utf8(platform::path_from_utf8(text)), text);
  fs::remove_all(base, ec);
}

// Errors name the path and the OS's reason.
TEST(Paths, ErrorsNameThePathAndTheReason) {
  const fs::path missing = fs::path(::testing::TempDir()) / "ome_writers_no_such_dir" / "f";
  try {
    (void)read_file(missing);
    FAIL() << "read a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_EQ(e.system_errno(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("ome_writers_no_such_dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ome_writers::detail
