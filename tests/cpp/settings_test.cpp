#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ome_writers/errors.hpp"
#include "ome_writers/settings.hpp"
#include "test_support.hpp"

namespace ome_writers {
namespace {

using nlohmann::json;

const char* kRich = R"({
  "root_path": "data/run.ome.tiff",
  "dimensions": [
    {"name": "t", "count": null, "type": "time", "coords": null, "chunk_size": 1,
     "shard_size_chunks": null, "unit": "second", "scale": 2.5, "translation": null},
    {"name": "p", "count": 2, "type": "position", "coords": [
       {"name": "A1", "plate_row": "A", "plate_column": "1", "grid_row": null,
        "grid_column": null, "x_coord": 10.5, "y_coord": -3.0, "z_coord": null},
       {"name": "B2", "plate_row": "B", "plate_column": "2", "grid_row": 0,
        "grid_column": 1, "x_coord": null, "y_coord": null, "z_coord": null}],
     "chunk_size": null, "shard_size_chunks": null, "unit": null, "scale": null,
     "translation": null},
    {"name": "c", "count": 2, "type": "channel", "coords": [
       {"name": "DAPI", "excitation_wavelength_nm": 358, "emission_wavelength_nm": 461,
        "fluorophore": "DAPI", "color": "#0000ff"},
       {"name": "GFP", "excitation_wavelength_nm": null, "emission_wavelength_nm": null,
        "fluorophore": null, "color": "#00ff0080"}],
     "chunk_size": null, "shard_size_chunks": null, "unit": null, "scale": null,
     "translation": null},
    {"name": "y", "count": 32, "type": "space", "coords": null, "chunk_size": null,
     "shard_size_chunks": null, "unit": "micrometer", "scale": 0.1, "translation": 5.0},
    {"name": "x", "count": 48, "type": "space", "coords": null, "chunk_size": null,
     "shard_size_chunks": null, "unit": "micrometer", "scale": 0.1, "translation": null}],
  "dtype": "float32",
  "format": {"name": "ome-tiff", "backend": "auto", "suffix": ".ome.tiff",
             "prefer_single_file": "never", "multi_file_metadata": "companion-file",
             "companion_file": "companion.ome"},
  "compression": "zstd",
  "storage_order": ["t", "p", "c", "y", "x"],
  "plate": {"row_names": ["A", "B"], "column_names": ["1", "2"], "name": "P"},
  "overwrite": true
})";

TEST(Settings, ParsesEveryField) {
  const auto s = StreamSettings::from_json(kRich);
  EXPECT_EQ(s.root_path, "data/run.ome.tiff");
  ASSERT_EQ(s.dimensions.size(), 5u);
  EXPECT_FALSE(s.dimensions[0].count.has_value());
  EXPECT_EQ(s.dimensions[0].type, DimensionType::kTime);
  ASSERT_EQ(s.dimensions[1].positions.size(), 2u);
  EXPECT_EQ(*s.dimensions[1].positions[0].x_coord, 10.5);
  EXPECT_EQ(*s.dimensions[1].positions[1].grid_column, 1);
  ASSERT_EQ(s.dimensions[2].channels.size(), 2u);
  EXPECT_EQ(*s.dimensions[2].channels[0].excitation_wavelength_nm, 358);
  EXPECT_EQ((*s.dimensions[2].channels[1].color)[3], 0x80);
  EXPECT_EQ(s.dtype, DataType::kFloat32);
  EXPECT_EQ(s.format.name, FileFormat::kOmeTiff);
  EXPECT_EQ(s.format.prefer_single_file, PreferSingleFile::kNever);
  EXPECT_EQ(s.format.multi_file_metadata, MultiFileMetadata::kCompanionFile);
  EXPECT_EQ(s.compression, Compression::kZstd);
  EXPECT_EQ(s.storage_order, StorageOrder::kList);
  EXPECT_EQ(s.plate->row_names.size(), 2u);
  EXPECT_TRUE(s.overwrite);
  EXPECT_EQ(s.output_path(), "data/run");
}

TEST(Settings, RoundTripsThroughJson) {
  const auto once = StreamSettings::from_json(kRich);
  json a = json::parse(kRich);
  json b = json::parse(once.to_json());
  b.erase("engine");
  a["format"].erase("backend");  // which Python library: not the C++ engine's concern
  EXPECT_EQ(a, b);
  EXPECT_EQ(StreamSettings::from_json(once.to_json()).to_json(), once.to_json());
}

TEST(Settings, ErrorsNameTheBadValue) {
  auto expect_error = [](const std::string& text, const std::string& needle) {
    try {
      StreamSettings::from_json(text);
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"dtype": "uint17"})", "uint17");
  expect_error(R"({"dtype": "uint8", "compression": "gzip"})", "gzip");
  expect_error(R"({"dtype": "uint8", "storage_order": "random"})", "random");
  expect_error("{not json", "not valid JSON");
  expect_error(R"({"dtype": "uint8", "engine": {"max_memory_bytes": -5}})",
               "max_memory_bytes must be positive, got -5");
  // Found by the settings fuzzer: a JSON type error deep in a field must not
  // escape as a nlohmann exception.
  expect_error(R"({"dtype": "uint8", "plate": {"row_names": ["A"], "column_names": "1"}})",
               "wrong type");
}

TEST(Settings, ValidateChecksEngineOptions) {
  auto s = testing::settings({testing::dim("y", 4), testing::dim("x", 4)});
  const auto refused = [](const StreamSettings& bad, const std::string& message) {
    try {
      bad.validate();
      ADD_FAILURE() << "accepted; expected " << message;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(std::string(e.what()), message);
    }
  };
  s.engine.max_memory_bytes = 0;
  refused(s, "max_memory_bytes must be positive, got 0");
  s.engine.max_memory_bytes = 1 << 20;
  s.engine.append_timeout_seconds = -1;
  refused(s, "append_timeout must be >= 0, got -1.0");
  s.engine.append_timeout_seconds = 0;
  s.engine.writer_threads = -2;
  refused(s, "writer_threads must be >= 0, got -2");
  s.engine.writer_threads = 65;
  refused(s, "writer_threads must be at most 64, got 65");
  s.engine.writer_threads = 64;
  EXPECT_NO_THROW(s.validate());
  s.engine.writer_threads = 0;
  EXPECT_NO_THROW(s.validate());
  // 4 x 4 uint16 frames (testing::settings) are 32 bytes: the budget holds at least 4.
  s.engine.max_memory_bytes = 127;
  refused(s, "max_memory_bytes 127 is less than 4 frames (128 bytes for frames of 32 bytes)");
  s.engine.max_memory_bytes = 128;
  EXPECT_NO_THROW(s.validate());
}

TEST(Settings, HugeEngineAndDimensionNumbersAreRefusedByValue) {
  auto message = [](const std::string& text) -> std::string {
    try {
      StreamSettings::from_json(text);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(message(R"({"dtype": "uint8", "engine": {"writer_threads": 10000}})"),
            "writer_threads must be at most 64, got 10000");
  EXPECT_EQ(message(R"({"dtype": "uint8", "engine": {"writer_threads": 4294967297}})"),
            "writer_threads must be at most 64, got 4294967297");
  EXPECT_EQ(
      message(R"({"dtype": "uint8", "dimensions": [{"name": "t", "count": 9223372036854775808}]})"),
      "dimension 't' count must be at most 2^53 (9007199254740992), got 9223372036854775808");
}

TEST(Settings, ValidateChecksCodecAgainstFormat) {
  auto s = StreamSettings::from_json(kRich);
  s.compression = Compression::kBloscZstd;
  EXPECT_THROW(s.validate(), Error);
  s.compression = Compression::kLzw;
  s.format.name = FileFormat::kOmeZarr;
  EXPECT_THROW(s.validate(), Error);
}

TEST(Settings, ValidateChecksTheCompressionLevelAgainstTheCodec) {
  auto s = StreamSettings::from_json(kRich);  // TIFF, zstd
  auto message = [&]() -> std::string {
    try {
      s.validate();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return e.what();
    }
    return "";
  };
  s.engine.compression_level = 22;
  EXPECT_EQ(message(), "");
  s.engine.compression_level = 23;
  EXPECT_NE(message().find("compression_level 23 is out of range for 'zstd' (1-22)"),
            std::string::npos);
  s.compression = Compression::kDeflate;
  s.engine.compression_level = 13;
  EXPECT_NE(message().find("13"), std::string::npos);
  s.compression = Compression::kLzw;
  s.engine.compression_level = 1;
  EXPECT_NE(message().find("'lzw' takes no level"), std::string::npos);
  s.compression = Compression::kNone;
  EXPECT_NE(message().find("'none' takes no level"), std::string::npos);
  s.format.name = FileFormat::kOmeZarr;
  s.compression = Compression::kBloscZstd;
  s.engine.compression_level = 9;
  EXPECT_EQ(message(), "");
  s.engine.compression_level = -1;
  EXPECT_NE(message().find("-1"), std::string::npos);
  s.engine.compression_level = 0;  // the default
  EXPECT_EQ(message(), "");
  EXPECT_EQ(StreamSettings::from_json(R"({"dtype": "uint8", "engine": {"compression_level": 4}})")
                .engine.compression_level,
            4);
}

TEST(Settings, OutputPathStripsKnownSuffixes) {
  StreamSettings s;
  s.root_path = "a/b.ome.zarr";
  EXPECT_EQ(s.output_path(), "a/b.ome.zarr");
  s.root_path = "a/b.test.tif";
  s.format.name = FileFormat::kOmeTiff;
  s.format.suffix = ".ome.tiff";
  EXPECT_EQ(s.output_path(), "a/b.test.ome.tiff");
  s.root_path = "a/b";
  EXPECT_EQ(s.output_path(), "a/b.ome.tiff");
}

// OME-Zarr storage axes must follow OME-NGFF 0.5 (0.3.2 refuses the same
// settings with the same leading phrases); OME-TIFF takes any order.
TEST(Settings, ZarrStorageAxesFollowNgff) {
  using testing::dim;
  using T = DimensionType;
  auto expect_refused = [](StreamSettings s, const std::string& phrase) {
    try {
      s.validate();
      ADD_FAILURE() << "accepted; expected: " << phrase;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(std::string(e.what()).rfind(phrase, 0), 0u) << e.what();
    }
  };
  const auto yx = [&](std::vector<Dimension> outer) {
    outer.push_back(dim("y", 4, T::kSpace));
    outer.push_back(dim("x", 4, T::kSpace));
    return outer;
  };
  auto ct = testing::settings(yx({dim("c", 2, T::kChannel), dim("t", 2, T::kTime)}));
  ct.storage_order = StorageOrder::kAcquisition;
  expect_refused(ct, "Axes are not in the required order by type.");
  ct.storage_order = StorageOrder::kOme;  // sorted to t, c
  EXPECT_NO_THROW(ct.validate());
  auto zt = testing::settings(yx({dim("z", 2, T::kSpace), dim("t", 2, T::kTime)}));
  zt.storage_order = StorageOrder::kList;
  zt.storage_order_list = {"z", "t", "y", "x"};
  expect_refused(zt, "Axes are not in the required order by type.");
  zt.storage_order_list = {"t", "z", "y", "x"};
  EXPECT_NO_THROW(zt.validate());
  expect_refused(testing::settings(yx({dim("a", 2, T::kChannel), dim("b", 2, T::kChannel)})),
                 "There can be at most 1 axis of type 'channel'.");
  expect_refused(testing::settings(yx({dim("a", 2, T::kTime), dim("b", 2, T::kTime)})),
                 "There can be at most 1 axis of type 'time'.");
  expect_refused(testing::settings(yx({dim("w", 2, T::kSpace), dim("z", 2, T::kSpace)})),
                 "There must be 2 or 3 axes of type 'space'.");
  auto tiff = testing::settings(yx({dim("c", 2, T::kChannel), dim("t", 2, T::kTime)}),
                                FileFormat::kOmeTiff);
  tiff.storage_order = StorageOrder::kAcquisition;
  EXPECT_NO_THROW(tiff.validate());
}

}  // namespace
}  // namespace ome_writers
