// End-to-end tests of the public Stream API, with the library's own readers
// (independent readers judge the files in the Python suite).
#include <gtest/gtest.h>
#include <tiffio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "codec/codecs.hpp"
#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "test_support.hpp"
#include "util/pages.hpp"

namespace ome_writers {
namespace {

namespace fs = std::filesystem;
using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A parameterised test's name ends in "/N": one directory, not a nested
    // one that TearDown would remove while leaving its parent behind.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() /
           ("ome_writers_test_" + std::to_string(platform::process_id()) + "_" + name);
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
  TIFF* tif = testing::tiff_open(dir_ / "a.ome.tiff", "r");
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

// bytes_written counts what went to the files (strips as compressed, IFDs,
// OME-XML, companion), not frames x frame size: after close, the output's size.
TEST_F(StreamTest, TiffBytesWrittenAreTheFilesSizes) {
  Dimension p = dim("p", 2, T::kPosition);
  p.positions = {Position{"A"}, Position{"B"}};
  auto s =
      settings({dim("t", 3, T::kTime), p, dim("c", 2, T::kChannel), dim("y", 64), dim("x", 64)},
               FileFormat::kOmeTiff, (dir_ / "w.ome.tiff").string());
  s.compression = Compression::kZstd;
  Stream stream(s);
  for (std::uint16_t i = 0; i < 12; ++i) {
    const auto f = frame(64, 64, i);
    stream.append(f.data(), f.size() * 2);
  }
  stream.flush();
  const std::uint64_t flushed = stream.stats().bytes_written;
  EXPECT_GT(flushed, 0u);
  stream.close();
  std::uint64_t on_disk = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (e.is_regular_file()) on_disk += e.file_size();
  }
  const std::uint64_t written = stream.stats().bytes_written;
  EXPECT_EQ(written, on_disk);
  EXPECT_GE(written, flushed);
  EXPECT_LT(written, 12u * 64 * 64 * 2 / 2) << "the strips were counted before compression";
}

// Zero-copy appends: frames live in the caller's buffers (at an odd offset, so
// the O_DIRECT paths must notice the misalignment), each is released exactly
// once, and the files hold the frames at the right indices.
struct BorrowCase {
  FileFormat format;
  std::int64_t side;     // 1024: TIFF planes take the direct path when aligned
  std::int64_t t_chunk;  // > 1: Zarr holds frames until a chunk is complete
  Compression compression;
};

class BorrowedFrames : public StreamTest, public ::testing::WithParamInterface<BorrowCase> {};

TEST_P(BorrowedFrames, AreWrittenAndReleasedOnce) {
  const BorrowCase c = GetParam();
  const bool zarr = c.format == FileFormat::kOmeZarr;
  auto s = settings({dim("t", 5, T::kTime, c.t_chunk), dim("c", 2, T::kChannel),
                     dim("y", c.side, T::kSpace, c.side), dim("x", c.side, T::kSpace, c.side)},
                    c.format, (dir_ / (zarr ? "b.ome.zarr" : "b.ome.tiff")).string());
  s.compression = c.compression;
  const std::size_t n = static_cast<std::size_t>(c.side * c.side);
  std::vector<std::vector<std::uint16_t>> storage;
  std::vector<std::atomic<int>> released(10);
  {
    Stream stream(s);
    for (std::uint16_t i = 0; i < 10; ++i) {
      storage.emplace_back(n + 1);  // frame starts one element in: not page aligned
      const auto f = frame(c.side, c.side, i);
      std::copy(f.begin(), f.end(), storage.back().begin() + 1);
      stream.append_borrowed(storage.back().data() + 1, n * 2,
                             R"({"i": )" + std::to_string(i) + "}",
                             [&released, i] { released[i].fetch_add(1); });
    }
    stream.close();
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(released[i].load(), 1) << "frame " << i;
    std::vector<std::uint16_t> out(n);
    for (std::uint16_t i = 0; i < 10; ++i) {
      ASSERT_TRUE(stream.read_frame(0, {i / 2, i % 2}, out.data()));
      EXPECT_EQ(out, frame(c.side, c.side, i)) << "frame " << i;
    }
  }
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(released[i].load(), 1) << "frame " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Formats, BorrowedFrames,
    ::testing::Values(BorrowCase{FileFormat::kOmeZarr, 64, 1, Compression::kNone},
                      BorrowCase{FileFormat::kOmeZarr, 64, 2, Compression::kNone},
                      BorrowCase{FileFormat::kOmeZarr, 64, 3, Compression::kBloscZstd},
                      BorrowCase{FileFormat::kOmeTiff, 64, 1, Compression::kNone},
                      BorrowCase{FileFormat::kOmeTiff, 1024, 1, Compression::kNone},
                      BorrowCase{FileFormat::kOmeTiff, 64, 1, Compression::kZstd}));

class LiveReads : public StreamTest, public ::testing::WithParamInterface<BorrowCase> {
 protected:
  /// `frames` time points of the case's frames, stored under `stem`.
  StreamSettings case_settings(std::int64_t frames, const std::string& stem) const {
    const BorrowCase c = GetParam();
    const bool zarr = c.format == FileFormat::kOmeZarr;
    auto s = settings({dim("t", frames, T::kTime, c.t_chunk), dim("y", c.side, T::kSpace, c.side),
                       dim("x", c.side, T::kSpace, c.side)},
                      c.format, (dir_ / (stem + (zarr ? ".ome.zarr" : ".ome.tiff"))).string());
    s.compression = c.compression;
    return s;
  }
};

// Read-your-writes: a reader polling the newest frames while they are written
// gets each appended frame exactly as appended, whether it is in a queue slot,
// a caller's borrowed buffer, a chunk being assembled or the files; never a
// half-written chunk, shard or page, nor a buffer already handed back (every
// other frame is borrowed, and its release scribbles over it).
TEST_P(LiveReads, SeeEveryAppendedFrameWhole) {
  const BorrowCase c = GetParam();
  constexpr std::uint16_t kFrames = 120;
  const auto s = case_settings(kFrames, "r");
  std::vector<std::vector<std::uint16_t>> frames;
  for (std::uint16_t i = 0; i < kFrames; ++i) frames.push_back(frame(c.side, c.side, i));
  std::vector<std::vector<std::uint16_t>> lent = frames;  // borrowed, poisoned on release
  Stream stream(s);
  std::atomic<int> appended{0};
  std::atomic<bool> done{false};
  int seen = 0;
  std::string failure;
  std::thread reader([&] {
    std::vector<std::uint16_t> out(frames[0].size());
    while (!done.load() && failure.empty()) {
      const int n = appended.load();
      // The newest frames are the ones in flight; every tenth read checks an old one.
      for (int back = 0; back < 4 && back < n; ++back) {
        const int i = (seen % 10 == 9) ? seen % n : n - 1 - back;
        try {
          if (!stream.read_frame(0, {i}, out.data())) {
            failure = "frame " + std::to_string(i) + " was not found after its append";
            break;
          }
        } catch (const Error& e) {
          failure = "frame " + std::to_string(i) + ": " + e.what();
          break;
        }
        ++seen;
        if (out != frames[static_cast<std::size_t>(i)]) {
          failure = "frame " + std::to_string(i) + " read back wrong";
          break;
        }
      }
    }
  });
  for (std::uint16_t i = 0; i < kFrames; ++i) {
    if (i % 2 == 0) {
      stream.append(frames[i].data(), frames[i].size() * 2);
    } else {
      auto& buffer = lent[i];
      stream.append_borrowed(buffer.data(), buffer.size() * 2, {},
                             [&buffer] { std::fill(buffer.begin(), buffer.end(), 0xDEAD); });
    }
    appended.store(i + 1);
  }
  stream.close();
  done.store(true);
  reader.join();
  EXPECT_EQ(failure, "") << seen << " frames read whole before it";
  EXPECT_GT(seen, 0);
  std::vector<std::uint16_t> out(frames[0].size());
  for (std::uint16_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(stream.read_frame(0, {i}, out.data()));
    EXPECT_EQ(out, frames[i]) << "frame " << i;
  }
}

// Right after append() returns, before any writer thread has run.
TEST_P(LiveReads, ReadYourWrites) {
  const BorrowCase c = GetParam();
  constexpr std::uint16_t kFrames = 24;
  Stream stream(case_settings(kFrames, "w"));
  std::vector<std::uint16_t> out(static_cast<std::size_t>(c.side * c.side));
  for (std::uint16_t i = 0; i < kFrames; ++i) {
    const auto f = frame(c.side, c.side, i);
    stream.append(f.data(), f.size() * 2);
    ASSERT_TRUE(stream.read_frame(0, {i}, out.data())) << "frame " << i;
    ASSERT_EQ(out, f) << "frame " << i;
  }
  EXPECT_THROW(stream.read_frame(1, {0}, out.data()), Error);
  EXPECT_THROW(stream.read_frame(0, {kFrames}, out.data()), Error);
  EXPECT_THROW(stream.read_frame(0, {0, 0}, out.data()), Error);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, LiveReads,
    ::testing::Values(BorrowCase{FileFormat::kOmeZarr, 256, 1, Compression::kNone},
                      BorrowCase{FileFormat::kOmeZarr, 256, 4, Compression::kNone},
                      BorrowCase{FileFormat::kOmeZarr, 256, 1, Compression::kBloscZstd},
                      BorrowCase{FileFormat::kOmeZarr, 64, 8, Compression::kZstd},
                      BorrowCase{FileFormat::kOmeTiff, 256, 1, Compression::kNone},
                      BorrowCase{FileFormat::kOmeTiff, 64, 1, Compression::kZstd}));

// Compressed one-frame chunks are stored by an io thread while the encoders
// go on: after flush() and close() every chunk is in its file, whole, and
// every borrowed frame was released once. (The flush's file-system sync gives
// the io thread time of its own, so this does not catch a flush that forgot
// to wait for it; it catches chunks lost, mixed up or released twice.)
TEST_F(StreamTest, CompressedChunksAreInTheirFilesAtFlushAndClose) {
  constexpr std::int64_t kSide = 1024;  // chunks that take the disk a while
  constexpr std::uint16_t kFrames = 16;
  for (const Compression compression : {Compression::kZstd, Compression::kBloscZstd}) {
    const fs::path root = dir_ / (std::to_string(static_cast<int>(compression)) + ".ome.zarr");
    auto s = settings({dim("t", kFrames, T::kTime), dim("y", kSide), dim("x", kSide)},
                      FileFormat::kOmeZarr, root.string());
    s.compression = compression;
    const detail::ChunkCodec codec(compression, DataType::kUInt16);
    std::vector<std::vector<std::uint16_t>> frames;
    for (std::uint16_t i = 0; i < kFrames; ++i) frames.push_back(frame(kSide, kSide, i));
    std::atomic<int> released{0};
    const auto chunk_on_disk = [&](std::uint16_t i) {
      std::ifstream in(root / "0" / "c" / std::to_string(i) / "0" / "0", std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      if (bytes.empty()) return false;
      std::vector<std::uint16_t> out(frames[i].size());
      codec.decode(bytes.data(), bytes.size(), out.data(), out.size() * 2);
      return out == frames[i];
    };
    Stream stream(s);
    for (std::uint16_t i = 0; i < kFrames; ++i) {
      stream.append_borrowed(frames[i].data(), frames[i].size() * 2, {}, [&] { ++released; });
      if (i % 8 == 7) {
        stream.flush();
        for (std::uint16_t k = 0; k <= i; ++k) ASSERT_TRUE(chunk_on_disk(k)) << "frame " << k;
        EXPECT_EQ(released.load(), i + 1);
      }
    }
    stream.close();
    EXPECT_EQ(released.load(), kFrames);
    for (std::uint16_t i = 0; i < kFrames; ++i) EXPECT_TRUE(chunk_on_disk(i)) << "frame " << i;
  }
}

TEST_F(StreamTest, BorrowedFramesAreHeldUntilWrittenOrCopied) {
  auto s = settings({dim("t", 4, T::kTime, 4), dim("y", 64), dim("x", 64)}, FileFormat::kOmeZarr,
                    (dir_ / "h.ome.zarr").string());
  const std::vector<std::uint16_t> f = frame(64, 64, 3);
  const std::size_t nbytes = f.size() * 2;
  const std::size_t mapped = 2 * nbytes + 2 * 4096;
  std::byte* aligned = detail::map_pages(mapped);
  std::memcpy(aligned, f.data(), nbytes);
  std::byte* unaligned = aligned + nbytes + 4096 + 8;
  std::memcpy(unaligned, f.data(), nbytes);
  std::atomic<int> aligned_released{0};
  std::atomic<int> unaligned_released{0};
  {
    Stream stream(s);
    stream.append_borrowed(aligned, nbytes, {}, [&] { ++aligned_released; });
    stream.append_borrowed(unaligned, nbytes, {}, [&] { ++unaligned_released; });
    stream.flush();
    // Both wait in the open 4-frame chunk. The aligned one is still borrowed
    // (it goes to the disk from the caller's memory); the other was copied
    // into the stream's memory and handed back.
    EXPECT_EQ(aligned_released.load(), 0);
    EXPECT_EQ(unaligned_released.load(), 1);
    stream.close();  // writes the partial chunk
    EXPECT_EQ(aligned_released.load(), 1);
    EXPECT_EQ(unaligned_released.load(), 1);
    std::vector<std::uint16_t> out(f.size());
    for (std::int64_t t = 0; t < 2; ++t) {
      ASSERT_TRUE(stream.read_frame(0, {t}, out.data()));
      EXPECT_EQ(out, f) << "frame " << t;
    }
  }
  detail::unmap_pages(aligned, mapped);
}

TEST_F(StreamTest, FrameMetadataMustBeAJsonObject) {
  auto s = settings({dim("t", 4, T::kTime), dim("y", 4), dim("x", 4)}, FileFormat::kOmeZarr,
                    (dir_ / "m.ome.zarr").string());
  Stream stream(s);
  const auto f = frame(4, 4, 1);
  for (const char* bad : {"{not json", "{} x", "{", "[1]", "\"text\"", "  7 ", "null"}) {
    try {
      stream.append(f.data(), f.size() * 2, bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find("frame_metadata"), std::string::npos) << e.what();
    }
  }
  stream.append(f.data(), f.size() * 2, " {\n} ");  // empty: no entry
  stream.append(f.data(), f.size() * 2, "\t{ \"a\": [1, {\"b\": null}] }\n");
  stream.append(f.data(), f.size() * 2, "{}");
  stream.append(f.data(), f.size() * 2, R"({"i": 3})");
  stream.close();
  const auto meta = nlohmann::json::parse(std::ifstream(dir_ / "m.ome.zarr" / "zarr.json"));
  const auto& entries = meta["attributes"]["ome_writers"]["frame_metadata"];
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["a"], nlohmann::json::parse(R"([1, {"b": null}])"));
  EXPECT_EQ(entries[0]["storage_index"], nlohmann::json::parse("[1]"));
  EXPECT_EQ(entries[1]["i"], 3);
}

TEST_F(StreamTest, RefusedBorrowedFramesAreNeverReleased) {
  auto s = settings({dim("t", 1, T::kTime), dim("y", 4), dim("x", 4)}, FileFormat::kOmeTiff,
                    (dir_ / "r.ome.tiff").string());
  Stream stream(s);
  const auto f = frame(4, 4, 1);
  int released = 0;
  auto count = [&] { ++released; };
  auto code_of = [](auto&& call) {
    try {
      call();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code_of([&] { stream.append_borrowed(f.data(), 2, {}, count); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { stream.append_borrowed(nullptr, f.size() * 2, {}, count); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { stream.append_borrowed(f.data(), f.size() * 2, {}, {}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { stream.append_borrowed(f.data(), f.size() * 2, "[1]", count); }),
            ErrorCode::kInvalidArgument);
  stream.append_borrowed(f.data(), f.size() * 2, {}, count);  // still usable
  EXPECT_EQ(code_of([&] { stream.append_borrowed(f.data(), f.size() * 2, {}, count); }),
            ErrorCode::kIndexOutOfRange);
  stream.close();
  EXPECT_EQ(released, 1);
  EXPECT_EQ(code_of([&] { stream.append_borrowed(f.data(), f.size() * 2, {}, count); }),
            ErrorCode::kClosed);
  EXPECT_EQ(released, 1);
}

}  // namespace
}  // namespace ome_writers

namespace ome_writers {
namespace {

// The periodic checkpoint, with no call after the appends: the frames and
// their metadata reach the files, in place, while the stream stays open.
// (Polls the checkpoint counter rather than timing it: no timed assertion.)
class Checkpoint : public StreamTest, public ::testing::WithParamInterface<FileFormat> {};

TEST_P(Checkpoint, PutsIdleFramesInPlaceWithTheirMetadata) {
  const FileFormat format = GetParam();
  const bool tiff = format == FileFormat::kOmeTiff;
  const fs::path out = dir_ / (tiff ? "c.ome.tiff" : "c.ome.zarr");
  auto s =
      settings({dim("t", std::nullopt, T::kTime), dim("y", 12, T::kSpace), dim("x", 10, T::kSpace)},
               format, out.string());
  s.engine.checkpoint_interval_seconds = 0.05;
  Stream stream(s);
  for (std::uint16_t i = 0; i < 5; ++i) {
    const auto f = frame(12, 10, i);
    stream.append(f.data(), f.size() * 2, R"({"i": )" + std::to_string(i) + R"(, "k": "v"})");
  }
  for (int waited = 0; stream.stats().checkpoints == 0 && waited < 2000; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(stream.stats().checkpoints, 1u);
  if (tiff) {
    TIFF* tif = testing::tiff_open(out, "r");
    ASSERT_NE(tif, nullptr);
    EXPECT_EQ(TIFFNumberOfDirectories(tif), 5);
    const char* xml = nullptr;
    ASSERT_EQ(TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &xml), 1);
    const std::string doc(xml);
    std::size_t planes = 0;
    for (std::size_t at = 0; (at = doc.find("<Plane ", at)) != std::string::npos; ++at) ++planes;
    EXPECT_EQ(planes, 5u);
    EXPECT_NE(doc.find("SizeT=\"5\""), std::string::npos);
    TIFFClose(tif);
  } else {
    const auto group = nlohmann::json::parse(std::ifstream(out / "zarr.json"));
    EXPECT_EQ(group["attributes"]["ome_writers"]["frame_metadata"].size(), 5u);
    const auto array = nlohmann::json::parse(std::ifstream(out / "0" / "zarr.json"));
    EXPECT_EQ(array["shape"][0], 5);
    for (int t = 0; t < 5; ++t) {
      EXPECT_TRUE(fs::exists(out / "0" / "c" / std::to_string(t) / "0" / "0")) << t;
    }
  }
  stream.close();
}

INSTANTIATE_TEST_SUITE_P(Formats, Checkpoint,
                         ::testing::Values(FileFormat::kOmeZarr, FileFormat::kOmeTiff));

// A writer that is behind takes frames queued more than an interval ago: it
// must still checkpoint at most once per interval, not after every frame
// (each checkpoint drains the encoders and syncs the file system, so that
// would serialise the writer). Between the end of one checkpoint and the start
// of the next lies at least an interval, so the count is bounded by the time
// spent outside checkpoints, both measured, whatever the machine's speed.
TEST_P(Checkpoint, ABackloggedWriterCheckpointsOncePerInterval) {
  const FileFormat format = GetParam();
  const bool tiff = format == FileFormat::kOmeTiff;
  const fs::path out = dir_ / (tiff ? "b.ome.tiff" : "b.ome.zarr");
  constexpr int kFrames = 400;
  auto s = settings({dim("t", kFrames, T::kTime), dim("y", 64, T::kSpace), dim("x", 64, T::kSpace)},
                    format, out.string());
  s.compression = Compression::kZstd;
  s.engine.checkpoint_interval_seconds = 0.005;
  const auto start = std::chrono::steady_clock::now();
  Stream stream(s);
  // Queued far faster than a file (Zarr) or an encoded plane (TIFF) is written.
  for (int i = 0; i < kFrames; ++i) {
    const auto f = frame(64, 64, static_cast<std::uint16_t>(i));
    stream.append(f.data(), f.size() * 2, R"({"i": )" + std::to_string(i) + "}");
  }
  stream.close();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const StreamStats stats = stream.stats();
  EXPECT_EQ(stats.frames_written, static_cast<std::uint64_t>(kFrames));
  const double outside = elapsed - stats.checkpoint_seconds;
  EXPECT_LE(static_cast<double>(stats.checkpoints), outside / 0.005 + 2)
      << stats.checkpoints << " checkpoints in " << elapsed << " s, " << stats.checkpoint_seconds
      << " s of them in checkpoints";
}

}  // namespace
}  // namespace ome_writers
