// An OME-TIFF stream killed at any moment leaves a valid file: checked at every
// point where a kill can fall, i.e. after each write the stream hands to the
// kernel. At each one, what the kernel holds of the published file is copied
// and opened with libtiff: every IFD reachable from the header reads whole,
// holds the frame acquired at its index (each frame is unique), and the first
// IFD's ImageDescription is a complete OME-XML document.
#include <gtest/gtest.h>
#include <tiffio.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "core/pyramid.hpp"
#include "ome_writers/stream.hpp"
#include "platform/platform.hpp"
#include "test_support.hpp"
#include "tiff/direct_file.hpp"
#include "tiff/tiff_io.hpp"

namespace ome_writers {
namespace {

namespace fs = std::filesystem;
using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

std::vector<std::uint16_t> frame(std::int64_t h, std::int64_t w, int k) {
  std::vector<std::uint16_t> f(static_cast<std::size_t>(h * w));
  for (std::size_t i = 0; i < f.size(); ++i) {
    f[i] = static_cast<std::uint16_t>(k * 7919 + static_cast<int>(i) * 3 + 1);
  }
  return f;
}

/// What the checker sees (the hook is a plain function pointer).
struct Checker {
  fs::path published;
  fs::path snapshot;
  std::int64_t height = 0;
  std::int64_t width = 0;
  bool check_description = true;  // the stream's files carry OME-XML
  int levels = 1;                 // pyramid levels: each IFD's SubIFDs hold the others
  int points = 0;                 // kill points checked on the published file
  int max_planes = 0;             // most planes reachable at any point
  std::vector<std::string> failures;

  void check(platform::Handle fd) {
    const auto by_fd = platform::file_id(fd);
    const auto by_path = platform::file_id(published);
    const auto size = platform::file_size(fd);
    // Only the published file counts: before that, no reader can find it.
    // (The file number alone: wine reports no volume for a renamed open file.)
    if (!by_fd || !by_path || !size || by_fd->inode != by_path->inode) {
      return;
    }
    ++points;
    std::vector<char> bytes(static_cast<std::size_t>(*size));
    std::size_t got = 0;
    while (got < bytes.size()) {
      const std::int64_t r = platform::read_at(fd, bytes.data() + got, bytes.size() - got, got);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    std::ofstream(snapshot, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(got));
    check_snapshot();
  }

  void fail(const std::string& what) {
    if (failures.size() < 20) {
      failures.push_back("kill point " + std::to_string(points) + ": " + what);
    }
  }

  void check_levels(TIFF* tif, int k);

  void check_snapshot() {
    TIFFSetErrorHandler(nullptr);
    TIFFSetWarningHandler(nullptr);
    TIFF* tif = testing::tiff_open(snapshot, "r");
    if (tif == nullptr) return fail("libtiff cannot open the file");
    const char* description = nullptr;
    if (!check_description) {
      // (plain TIFF: no OME-XML to check)
    } else if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &description) != 1) {
      fail("no ImageDescription");
    } else {
      pugi::xml_document doc;
      const auto parsed = doc.load_string(description);
      if (!parsed || std::string(doc.document_element().name()) != "OME") {
        fail(std::string("ImageDescription is not a whole OME document: ") + parsed.description());
      }
    }
    std::vector<std::uint16_t> plane(static_cast<std::size_t>(height * width));
    int k = 0;
    do {
      const tmsize_t want = static_cast<tmsize_t>(plane.size() * 2);
      tmsize_t at = 0;
      for (tstrip_t s = 0; s < TIFFNumberOfStrips(tif); ++s) {
        const tmsize_t n =
            TIFFReadEncodedStrip(tif, s, reinterpret_cast<char*>(plane.data()) + at, want - at);
        if (n < 0) {
          fail("IFD " + std::to_string(k) + " strip " + std::to_string(s) + " unreadable");
          break;
        }
        at += n;
      }
      if (plane != frame(height, width, k)) fail("IFD " + std::to_string(k) + " holds other data");
      if (levels > 1) check_levels(tif, k);
      ++k;
    } while (TIFFReadDirectory(tif));
    max_planes = std::max(max_planes, k);
    TIFFClose(tif);
  }
};

// The SubIFDs of main IFD k: all there, each holding its reduced plane.
void Checker::check_levels(TIFF* tif, int k) {
  std::uint16_t count = 0;
  toff_t* offsets = nullptr;
  if (TIFFGetField(tif, TIFFTAG_SUBIFD, &count, &offsets) != 1 ||
      count != static_cast<std::uint16_t>(levels - 1)) {
    return fail("IFD " + std::to_string(k) + " lacks its SubIFDs");
  }
  const std::vector<toff_t> subifds(offsets, offsets + count);
  std::vector<std::uint16_t> above = frame(height, width, k);
  std::int64_t h = height;
  std::int64_t w = width;
  for (std::size_t level = 0; level < subifds.size(); ++level) {
    std::vector<std::uint16_t> expected(static_cast<std::size_t>(((h + 1) / 2) * ((w + 1) / 2)));
    detail::downsample_plane(DataType::kUInt16, DownsampleMethod::kMean,
                             reinterpret_cast<const std::byte*>(above.data()), nullptr, h, w,
                             reinterpret_cast<std::byte*>(expected.data()));
    h = (h + 1) / 2;
    w = (w + 1) / 2;
    const std::string where = "IFD " + std::to_string(k) + " level " + std::to_string(level + 1);
    if (subifds[level] == 0 || !TIFFSetSubDirectory(tif, subifds[level])) {
      fail(where + ": SubIFD unreachable");
      break;
    }
    std::vector<std::uint16_t> got(expected.size());
    tmsize_t at = 0;
    const auto want = static_cast<tmsize_t>(got.size() * 2);
    for (tstrip_t s = 0; s < TIFFNumberOfStrips(tif); ++s) {
      const tmsize_t n =
          TIFFReadEncodedStrip(tif, s, reinterpret_cast<char*>(got.data()) + at, want - at);
      if (n < 0) break;
      at += n;
    }
    if (got != expected) fail(where + " holds other data");
    above = std::move(expected);
  }
  // Back on the main chain, where TIFFReadDirectory goes on.
  if (!TIFFSetDirectory(tif, static_cast<tdir_t>(k)))
    fail("cannot return to IFD " + std::to_string(k));
}

Checker* g_checker = nullptr;

class CrashConsistency : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("ome_writers_crash_" + std::to_string(platform::process_id()) +
                                     "_" + std::to_string(GetParam()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    detail::set_kernel_write_hook(nullptr);
    g_checker = nullptr;
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

// Layouts: small planes (many per page), planes that straddle pages, planes
// large enough to go straight from their slots (O_DIRECT), compressed planes;
// flush() calls in between (checkpoints: description switches, links patched
// behind the stage).
TEST_P(CrashConsistency, EveryKillPointLeavesAValidFile) {
  struct Case {
    std::int64_t h, w;
    int frames;
    Compression compression;
    int flush_every;
    int levels;
  };
  const Case cases[] = {{16, 16, 300, Compression::kNone, 37, 1},
                        {48, 40, 120, Compression::kNone, 11, 1},
                        {1024, 1024, 6, Compression::kNone, 4, 1},
                        {64, 48, 150, Compression::kZstd, 23, 1},
                        // Pyramids: each plane's reduced planes are SubIFDs.
                        {37, 45, 120, Compression::kNone, 13, 3},
                        {600, 500, 8, Compression::kNone, 3, 4},
                        {64, 48, 100, Compression::kZstd, 17, 3}};
  const Case c = cases[GetParam()];
  auto s =
      settings({dim("t", c.frames, T::kTime), dim("y", c.h, T::kSpace), dim("x", c.w, T::kSpace)},
               FileFormat::kOmeTiff, (dir_ / "k.ome.tiff").string());
  s.compression = c.compression;
  s.pyramid.levels = c.levels;
  s.engine.checkpoint_interval_seconds = 0;  // flush() places the checkpoints here
  Checker checker;
  checker.published = dir_ / "k.ome.tiff";
  checker.snapshot = dir_ / "snapshot.tif";
  checker.height = c.h;
  checker.width = c.w;
  checker.levels = c.levels;
  g_checker = &checker;
  detail::set_kernel_write_hook([](platform::Handle fd) { g_checker->check(fd); });
  {
    Stream stream(s);
    for (int k = 0; k < c.frames; ++k) {
      const auto f = frame(c.h, c.w, k);
      stream.append(f.data(), f.size() * 2, R"({"k": )" + std::to_string(k) + "}");
      if ((k + 1) % c.flush_every == 0) stream.flush();
    }
    stream.close();
  }
  detail::set_kernel_write_hook(nullptr);
  EXPECT_GT(checker.points, 2) << "too few kill points were checked";
  std::cout << c.frames << " frames of " << c.h << "x" << c.w << ": " << checker.points
            << " kill points checked, up to " << checker.max_planes << " planes reachable\n";
  EXPECT_GT(checker.max_planes, c.frames / 2);
  // And the closed file holds every plane.
  fs::remove(checker.snapshot);  // (overwrite_existing fails in mingw's libstdc++ 12)
  fs::copy_file(checker.published, checker.snapshot);
  checker.max_planes = 0;
  checker.check_snapshot();
  EXPECT_EQ(checker.max_planes, c.frames);
  for (const auto& f : checker.failures) ADD_FAILURE() << f;
}

INSTANTIATE_TEST_SUITE_P(Layouts, CrashConsistency, ::testing::Range(0, 7));

}  // namespace
}  // namespace ome_writers

namespace ome_writers {
namespace {

// The sink's protocol on a stage of two pages, so that write-outs fall
// between a plane's strip, its IFD and the link to it (the 8 MiB stage of a
// stream puts them there rarely): libtiff through the DirectFile, seal()
// after each IFD, publish() after the first.
TEST_P(CrashConsistency, EveryKillPointWithATinyStage) {
  const std::int64_t h = 8 + 16 * GetParam();
  const std::int64_t w = 12;
  const int frames = 300;
  Checker checker;
  checker.published = dir_ / "tiny.tif";
  checker.snapshot = dir_ / "snapshot.tif";
  checker.height = h;
  checker.width = w;
  checker.check_description = false;
  g_checker = &checker;
  detail::set_kernel_write_hook([](platform::Handle fd) { g_checker->check(fd); });
  {
    detail::TiffFile f;
    f.path = checker.published;
    f.create(2 * 4096, /*direct=*/GetParam() % 2 == 0);
    for (int k = 0; k < frames; ++k) {
      auto pixels = frame(h, w, k);
      TIFFSetField(f.tif, TIFFTAG_IMAGEWIDTH, static_cast<std::uint32_t>(w));
      TIFFSetField(f.tif, TIFFTAG_IMAGELENGTH, static_cast<std::uint32_t>(h));
      TIFFSetField(f.tif, TIFFTAG_BITSPERSAMPLE, 16);
      TIFFSetField(f.tif, TIFFTAG_SAMPLESPERPIXEL, 1);
      TIFFSetField(f.tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
      TIFFSetField(f.tif, TIFFTAG_ROWSPERSTRIP, static_cast<std::uint32_t>(h));
      ASSERT_GE(
          TIFFWriteEncodedStrip(f.tif, 0, pixels.data(), static_cast<tmsize_t>(pixels.size() * 2)),
          0);
      ASSERT_TRUE(TIFFWriteDirectory(f.tif));
      f.io->seal();
      if (k == 0) f.publish();
    }
    f.close();
  }
  detail::set_kernel_write_hook(nullptr);
  EXPECT_GT(checker.points, 10) << "too few kill points were checked";
  std::cout << frames << " frames of " << h << "x" << w
            << " through a 2-page stage: " << checker.points << " kill points checked\n";
  fs::remove(checker.snapshot);  // (overwrite_existing fails in mingw's libstdc++ 12)
  fs::copy_file(checker.published, checker.snapshot);
  checker.max_planes = 0;
  checker.check_snapshot();
  EXPECT_EQ(checker.max_planes, frames);
  for (const auto& f : checker.failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace ome_writers
