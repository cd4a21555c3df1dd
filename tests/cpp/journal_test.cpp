#include "core/journal.hpp"

#include "ome_writers/errors.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ome_writers::detail {
namespace {

namespace fs = std::filesystem;

fs::path temp_journal(const std::string& name) {
  return fs::temp_directory_path() /
         ("ome_writers_journal_" + std::to_string(platform::process_id()) + "_" + name + ".jsonl");
}

struct Line {
  std::string text;
  std::uint64_t offset;
};

std::vector<Line> lines_of(const Journal& j, std::uint64_t from, std::uint64_t to) {
  std::vector<Line> out;
  j.for_each_line(from, to, [&](std::string_view line, std::uint64_t offset) {
    out.push_back({std::string(line), offset});
  });
  return out;
}

// Lines of every length, some longer than a read chunk (1 MiB), appended
// through the buffer: each reads back at its offset, buffered or flushed.
TEST(Journal, LinesReadBackAtTheirOffsetsAcrossBuffersAndChunks) {
  const fs::path path = temp_journal("offsets");
  Journal j = Journal::create(path);
  std::vector<Line> written;
  for (int i = 0; i < 300; ++i) {
    const std::size_t n = i % 50 == 7 ? (3u << 19) + i : static_cast<std::size_t>(i * 37 % 900 + 1);
    std::string line(n, static_cast<char>('a' + i % 26));
    written.push_back({line, j.append(line)});
  }
  const auto all = lines_of(j, 0, j.size());
  ASSERT_EQ(all.size(), written.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].offset, written[i].offset) << i;
    EXPECT_EQ(all[i].text, written[i].text) << i;
  }
  // A stretch: the lines that start in [from, to), the last one whole.
  const auto some = lines_of(j, written[10].offset, written[20].offset + 1);
  ASSERT_EQ(some.size(), 11u);
  EXPECT_EQ(some.back().text, written[20].text);
  j.remove();
  EXPECT_FALSE(fs::exists(path));
}

// A crashed writer's journal: the line it cut short is left out.
TEST(Journal, ALineCutShortAtTheEndIsLeftOut) {
  const fs::path path = temp_journal("cut");
  std::ofstream(path, std::ios::binary) << "{\"a\":1}\n{\"b\":2}\n{\"c\":";
  Journal j = Journal::open(path);
  const auto all = lines_of(j, 0, j.size());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].text, "{\"b\":2}");
  EXPECT_THROW(j.append("x"), Error);  // opened to read
  j.close();
  fs::remove(path);
}

}  // namespace
}  // namespace ome_writers::detail
