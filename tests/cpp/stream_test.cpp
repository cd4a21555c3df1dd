// End-to-end tests of the public Stream API, with the library's own readers
// (independent readers judge the files in the Python suite).
#include <gtest/gtest.h>
#include <tiffio.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "test_support.hpp"
#include "zarr/codecs.hpp"

namespace ome_writers {
namespace {

namespace fs = std::filesystem;
using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ome_writers_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::vector<std::uint16_t> frame(std::int64_t h, std::int64_t w, std::uint16_t seed) {
  std::vector<std::uint16_t> f(static_cast<std::size_t>(h * w));
  for (std::size_t i = 0; i < f.size(); ++i)
    f[i] = static_cast<std::uint16_t>(seed * 1000 + i % 997);
  return f;
}

class ZarrCodecs : public StreamTest, public ::testing::WithParamInterface<Compression> {};

TEST_P(ZarrCodecs, ShardedMultiFrameChunksReadBack) {
  auto s = settings({dim("t", 5, T::kTime, 2, 2), dim("c", 3, T::kChannel),
                     dim("y", 20, T::kSpace, 8, 2), dim("x", 13, T::kSpace, 8)},
                    FileFormat::kOmeZarr, (dir_ / "s.ome.zarr").string());
  s.compression = GetParam();
  Stream stream(s);
  for (std::uint16_t i = 0; i < 15; ++i) {
    const auto f = frame(20, 13, i);
    stream.append(f.data(), f.size() * 2, R"({"i": )" + std::to_string(i) + "}");
  }
  stream.close();
  // Frame i = t*3 + c; storage order t, c.
  std::vector<std::uint16_t> out(20 * 13);
  for (std::uint16_t i = 0; i < 15; ++i) {
    ASSERT_TRUE(stream.read_frame(0, {i / 3, i % 3}, out.data()));
    EXPECT_EQ(out, frame(20, 13, i)) << "frame " << i;
  }
  // Shard index checksum of one shard file.
  const fs::path shard = dir_ / "s.ome.zarr" / "0" / "c" / "0" / "0" / "0" / "0";
  std::ifstream in(shard, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::size_t entries = 2 * 1 * 2 * 1;  // inner chunks per shard along t, c, y, x
  ASSERT_GT(bytes.size(), entries * 16 + 4);
  const char* index = bytes.data() + bytes.size() - 4 - entries * 16;
  std::uint32_t crc = 0;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  EXPECT_EQ(crc, detail::crc32c(index, entries * 16));
  const auto meta = nlohmann::json::parse(std::ifstream(dir_ / "s.ome.zarr" / "zarr.json"));
  ASSERT_EQ(meta["attributes"]["ome_writers"]["frame_metadata"].size(), 15u);
  EXPECT_EQ(meta["attributes"]["ome_writers"]["frame_metadata"][4]["storage_index"],
            nlohmann::json::parse("[1, 1]"));
}

INSTANTIATE_TEST_SUITE_P(Codecs, ZarrCodecs,
                         ::testing::Values(Compression::kNone, Compression::kBloscZstd,
                                           Compression::kBloscLz4, Compression::kZstd));

TEST_F(StreamTest, RejectsWrongFrameSizeAndStaysUsable) {
  auto s = settings({dim("t", 2, T::kTime), dim("y", 4), dim("x", 4)}, FileFormat::kOmeZarr,
                    (dir_ / "a.ome.zarr").string());
  Stream stream(s);
  std::vector<std::uint16_t> small(15);
  EXPECT_THROW(stream.append(small.data(), small.size() * 2), Error);
  const auto f = frame(4, 4, 1);
  stream.append(f.data(), f.size() * 2);
  stream.append(f.data(), f.size() * 2);
  try {
    stream.append(f.data(), f.size() * 2);
    FAIL() << "a third frame must not fit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIndexOutOfRange);
  }
  stream.close();
  EXPECT_TRUE(stream.closed());
  EXPECT_EQ(stream.stats().frames_written, 2u);
}

TEST_F(StreamTest, ExistingOutputNeedsOverwrite) {
  auto s = settings({dim("t", 1, T::kTime), dim("y", 4), dim("x", 4)}, FileFormat::kOmeZarr,
                    (dir_ / "e.ome.zarr").string());
  { Stream first(s); }
  try {
    Stream second(s);
    FAIL() << "existing output must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFileExists);
  }
  s.overwrite = true;
  EXPECT_NO_THROW(Stream{s});
}

TEST_F(StreamTest, TiffWritesOnePlanePerFrame) {
  auto s = settings(
      {dim("t", std::nullopt, T::kTime), dim("c", 2, T::kChannel), dim("y", 6), dim("x", 7)},
      FileFormat::kOmeTiff, (dir_ / "a.ome.tiff").string());
  Stream stream(s);
  for (std::uint16_t i = 0; i < 5; ++i) {
    const auto f = frame(6, 7, i);
    stream.append(f.data(), f.size() * 2);
  }
  stream.close();
  TIFF* tif = TIFFOpen((dir_ / "a.ome.tiff").c_str(), "r");
  ASSERT_NE(tif, nullptr);
  // Five frames plus one blank plane completing the last time point.
  EXPECT_EQ(TIFFNumberOfDirectories(tif), 6);
  std::vector<std::uint16_t> row(7);
  TIFFSetDirectory(tif, 3);
  ASSERT_EQ(TIFFReadScanline(tif, row.data(), 0), 1);
  EXPECT_EQ(row[0], 3000);
  TIFFSetDirectory(tif, 0);
  char* desc = nullptr;
  ASSERT_TRUE(TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc));
  EXPECT_NE(std::string(desc).find("SizeT=\"3\""), std::string::npos);
  TIFFClose(tif);
  EXPECT_FALSE(fs::exists(dir_ / "a.ome.tiff.journal.jsonl"));
}

TEST_F(StreamTest, EmptyTiffStreamLeavesNoFile) {
  auto s = settings({dim("t", std::nullopt, T::kTime), dim("y", 6), dim("x", 7)},
                    FileFormat::kOmeTiff, (dir_ / "empty.ome.tiff").string());
  Stream(s).close();
  EXPECT_FALSE(fs::exists(dir_ / "empty.ome.tiff"));
}

}  // namespace
}  // namespace ome_writers
