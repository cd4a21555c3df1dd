// OutputPlan renders the documents the native Stream writes, for the same
// frames: the contract the Python engine adapters rely on.
#include "ome_writers/output_plan.hpp"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "platform/platform.hpp"
#include "test_support.hpp"

namespace ome_writers {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

class OutputPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ome_writers_plan_" + std::to_string(platform::process_id()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::string metadata(int i) {
  return R"({"i": )" + std::to_string(i) + R"(, "exposure_time": 5.0, "stage": "s)" +
         std::to_string(i) + R"("})";
}

/// The frames both writers get: every third one skipped.
template <typename Append, typename Skip>
void feed(int frames, Append append, Skip skip) {
  for (int i = 0; i < frames; ++i) {
    if (i % 3 == 2) {
      skip();
    } else {
      append(i);
    }
  }
}

TEST_F(OutputPlanTest, ZarrDocumentsEqualTheNativeStreams) {
  auto s = settings({dim("t", std::nullopt, T::kTime), dim("c", 2, T::kChannel),
                     dim("y", 6, T::kSpace), dim("x", 5, T::kSpace)},
                    FileFormat::kOmeZarr, (dir_ / "a.ome.zarr").string());
  s.compression = Compression::kBloscZstd;
  Stream stream(s);
  OutputPlan plan(s);
  std::vector<std::uint16_t> frame(30, 7);
  int n = 0;
  feed(
      7,
      [&](int i) {
        stream.append(frame.data(), frame.size() * 2, metadata(i));
        plan.record(plan.locate(static_cast<std::uint64_t>(n++)), metadata(i));
      },
      [&] {
        stream.skip(1);
        plan.record(plan.locate(static_cast<std::uint64_t>(n++)), {}, /*skipped=*/true);
      });
  for (std::uint64_t k = 0; k < 7; ++k) {
    EXPECT_EQ(plan.locate(k).storage_index, stream.locate(k).storage_index);
  }
  stream.close();
  const auto docs = plan.zarr_group_documents();
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(json::parse(docs.at("")), read_json(dir_ / "a.ome.zarr" / "zarr.json"));
  EXPECT_EQ(json::parse(plan.zarr_array_document({4, 2, 6, 5})),
            read_json(dir_ / "a.ome.zarr" / "0" / "zarr.json"));
  EXPECT_EQ(plan.declared_shape(), (std::vector<std::int64_t>{0, 2, 6, 5}));
  EXPECT_FALSE(plan.total_frames().has_value());
  EXPECT_FALSE(plan.zarr_ome_xml().has_value());
}

std::string description(const fs::path& path) {
  TIFF* tif = testing::tiff_open(path, "r");
  EXPECT_NE(tif, nullptr);
  char* text = nullptr;
  TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &text);
  std::string out = text != nullptr ? text : "";
  TIFFClose(tif);
  return out;
}

std::string normalised(std::string xml) {
  xml = std::regex_replace(xml, std::regex("urn:uuid:[0-9a-f-]{36}"), "urn:uuid:*");
  return std::regex_replace(xml, std::regex("<AcquisitionDate>[^<]*</AcquisitionDate>"),
                            "<AcquisitionDate/>");
}

TEST_F(OutputPlanTest, TiffOmeXmlEqualsTheNativeStreams) {
  auto s = settings({dim("t", 3, T::kTime), dim("p", 2, T::kPosition), dim("c", 2, T::kChannel),
                     dim("y", 4, T::kSpace), dim("x", 4, T::kSpace)},
                    FileFormat::kOmeTiff, (dir_ / "b.ome.tiff").string());
  s.dimensions[1].positions = {Position{}, Position{}};
  s.dimensions[1].positions[0].name = "A";
  s.dimensions[1].positions[1].name = "B";
  s.format.prefer_single_file = PreferSingleFile::kAlways;
  Stream stream(s);
  OutputPlan plan(s);
  stream.set_global_metadata("lab", R"({"scope": "ti2"})");
  plan.set_global_metadata("lab", R"({"scope": "ti2"})");
  std::vector<std::uint16_t> frame(16, 3);
  int n = 0;
  feed(
      9,
      [&](int i) {
        stream.append(frame.data(), frame.size() * 2, metadata(i));
        plan.record(plan.locate(static_cast<std::uint64_t>(n++)), metadata(i));
      },
      [&] {
        stream.skip(1);
        plan.record(plan.locate(static_cast<std::uint64_t>(n++)), {}, /*skipped=*/true);
      });
  stream.close();
  // 9 frames of 12 (t, p, c): position 0 has 5 planes, and its last t index is
  // completed with a blank one; position 1 has 4.
  EXPECT_EQ(plan.finish_tiff(), (std::vector<std::int64_t>{0}));
  ASSERT_EQ(plan.tiff_file_names(), std::vector<std::string>{"b.ome.tiff"});
  EXPECT_EQ(normalised(plan.tiff_ome_xml(0, /*closed=*/true)),
            normalised(description(dir_ / "b.ome.tiff")));
  EXPECT_TRUE(plan.tiff_companion_name().empty());
}

TEST_F(OutputPlanTest, AcceptsAUrlRootThatAStreamRefuses) {
  auto s = settings({dim("t", 2), dim("y", 4), dim("x", 4)}, FileFormat::kOmeZarr,
                    "s3://bucket/run.ome.zarr");
  EXPECT_THROW(Stream{s}, Error);
  OutputPlan plan(s);
  EXPECT_EQ(plan.zarr_image_group(0), "");
}

TEST_F(OutputPlanTest, RefusesBadRecordsNamingThem) {
  auto s = settings({dim("t", 2), dim("y", 4), dim("x", 4)}, FileFormat::kOmeZarr,
                    (dir_ / "c.ome.zarr").string());
  OutputPlan plan(s);
  try {
    plan.record(plan.locate(0), "[1, 2]");
    FAIL() << "a metadata array was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[1, 2]"), std::string::npos);
  }
  EXPECT_THROW(plan.record(FrameLocation{3, {0}}), Error);
  EXPECT_THROW(plan.locate(2), Error);
  EXPECT_THROW((void)plan.zarr_array_document({2, 4}), Error);
  EXPECT_THROW(plan.update_metadata_json(R"({"nope": {}})"), Error);
  EXPECT_FALSE(fs::exists(dir_ / "c.ome.zarr")) << "a plan writes nothing";
}

}  // namespace
}  // namespace ome_writers
