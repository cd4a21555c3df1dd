#include <gtest/gtest.h>

#include "ome/ome_zarr_json.hpp"
#include "ome_writers/stream.hpp"
#include "test_support.hpp"

namespace ome_writers::detail {
namespace {

using json = nlohmann::ordered_json;
using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

TEST(OmeZarrJson, ImageAttributesGolden) {
  auto c = dim("c", 2, T::kChannel);
  c.channels = {Channel{"DAPI", {}, {}, {}, std::array<std::uint8_t, 4>{0, 0, 255, 255}},
                Channel{"GFP"}};
  auto y = dim("y", 4, T::kSpace);
  y.unit = "micrometer";
  y.scale = 0.1;
  y.translation = 5.0;
  auto x = dim("x", 4, T::kSpace);
  x.unit = "micrometer";
  x.scale = 0.1;
  auto t = dim("t", 2, T::kTime);
  t.unit = "second";
  t.scale = 2.5;
  auto s = settings({t, c, y, x});
  const Layout layout(s);
  Position pos{"A"};
  pos.x_coord = 100.0;
  const json expected = json::parse(R"({
    "version": "0.5",
    "multiscales": [{
      "axes": [{"name": "t", "type": "time", "unit": "second"},
               {"name": "c", "type": "channel"},
               {"name": "y", "type": "space", "unit": "micrometer"},
               {"name": "x", "type": "space", "unit": "micrometer"}],
      "datasets": [{"path": "0", "coordinateTransformations": [
        {"type": "scale", "scale": [2.5, 1.0, 0.1, 0.1]},
        {"type": "translation", "translation": [0.0, 0.0, 5.0, 100.0]}]}]}],
    "omero": {"channels": [
      {"window": {"start": 0.0, "min": 0.0, "end": 65535.0, "max": 65535.0},
       "label": "DAPI", "color": "0000FF", "active": true},
      {"window": {"start": 0.0, "min": 0.0, "end": 65535.0, "max": 65535.0},
       "label": "GFP", "color": "FFFFFF", "active": true}]}})");
  EXPECT_EQ(ome_image_attributes(layout, pos), expected);
}

TEST(OmeZarrJson, FloatChannelsGetAWindowToo) {
  auto c = dim("c", 1, T::kChannel);
  c.channels = {Channel{"ch"}};
  auto s = settings({c, dim("y", 4), dim("x", 4)});
  s.dtype = DataType::kFloat32;
  const json attrs = ome_image_attributes(Layout(s), Position{"0"});
  EXPECT_EQ(attrs["omero"]["channels"][0]["window"]["max"], 1.0);
}

TEST(OmeZarrJson, ShardedArrayMetadataGolden) {
  auto s = settings({dim("t", std::nullopt, T::kTime, 2, 5), dim("y", 64, T::kSpace, 32, 2),
                     dim("x", 48, T::kSpace, 16, 3)});
  const Layout layout(s);
  const json meta = zarr_array_metadata(
      layout, {0, 64, 48}, R"({"name":"zstd","configuration":{"level":3,"checksum":false}})");
  const json expected = json::parse(R"({
    "zarr_format": 3, "node_type": "array", "shape": [0, 64, 48], "data_type": "uint16",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10, 64, 48]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": 0,
    "codecs": [{"name": "sharding_indexed", "configuration": {
      "chunk_shape": [2, 32, 16],
      "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                 {"name": "zstd", "configuration": {"level": 3, "checksum": false}}],
      "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "crc32c"}],
      "index_location": "end"}}],
    "dimension_names": ["t", "y", "x"], "attributes": {}, "storage_transformers": []})");
  EXPECT_EQ(meta, expected);
}

TEST(OmeZarrJson, PlateAttributesListWellsInOrderOfFirstAppearance) {
  Plate plate{{"A", "B"}, {"1", "2", "3"}, std::string("P1")};
  std::vector<Position> positions(3);
  positions[0] = Position{"f0", std::string("B"), std::string("3")};
  positions[1] = Position{"f1", std::string("A"), std::string("1")};
  positions[2] = Position{"f2", std::string("B"), std::string("3")};
  const json attrs = ome_plate_attributes(plate, positions);
  EXPECT_EQ(attrs["plate"]["wells"], json::parse(R"([{"path":"B/3","rowIndex":1,"columnIndex":2},
                            {"path":"A/1","rowIndex":0,"columnIndex":0}])"));
  EXPECT_EQ(attrs["plate"]["name"], "P1");
}

TEST(OmeZarrJson, SeriesNameUsesGridCoordinates) {
  Position p{"Pos"};
  EXPECT_EQ(series_name(p), "Pos");
  p.grid_row = 1;
  p.grid_column = 2;
  EXPECT_EQ(series_name(p), "Pos_1_2");
}

TEST(OmeZarrJson, ImageGroupPathsFollowTheStoreKind) {
  const std::vector<Position> one{Position{"0"}};
  EXPECT_EQ(image_group_path(std::nullopt, one, 0), "");
  std::vector<Position> two{Position{"A"}, Position{"B"}};
  two[1].grid_row = 0;
  two[1].grid_column = 1;
  EXPECT_EQ(image_group_path(std::nullopt, two, 0), "A");
  EXPECT_EQ(image_group_path(std::nullopt, two, 1), "B_0_1");
  const Plate plate{{"A"}, {"1"}, std::nullopt};
  const std::vector<Position> field{Position{"f0", std::string("A"), std::string("1")}};
  EXPECT_EQ(image_group_path(plate, field, 0), "A/1/f0");
}

TEST(OmeZarrJson, SingleImageHasNoContainerGroups) {
  EXPECT_TRUE(container_group_attributes(std::nullopt, {Position{"0"}}).empty());
}

TEST(OmeZarrJson, Bioformats2rawContainerGroupsGolden) {
  std::vector<Position> positions{Position{"A"}, Position{"B"}};
  positions[1].grid_row = 2;
  positions[1].grid_column = 3;
  const auto groups = container_group_attributes(std::nullopt, positions);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups.at(""), json::parse(R"({"ome": {"version": "0.5",
                                                  "bioformats2raw.layout": 3}})"));
  EXPECT_EQ(groups.at("OME"),
            json::parse(R"({"ome": {"version": "0.5", "series": ["A", "B_2_3"]}})"));
}

TEST(OmeZarrJson, PlateContainerGroupsGolden) {
  const Plate plate{{"A", "B"}, {"1", "2"}, std::nullopt};
  const std::vector<Position> positions{Position{"f0", std::string("A"), std::string("1")},
                                        Position{"f1", std::string("A"), std::string("1")},
                                        Position{"f0", std::string("B"), std::string("2")}};
  const auto groups = container_group_attributes(plate, positions);
  ASSERT_EQ(groups.size(), 5u);
  EXPECT_EQ(groups.at(""), json({{"ome", ome_plate_attributes(plate, positions)}}));
  EXPECT_EQ(groups.at("A"), json::object());
  EXPECT_EQ(groups.at("B"), json::object());
  EXPECT_EQ(groups.at("A/1"), json::parse(R"({"ome": {"version": "0.5", "well": {
      "images": [{"path": "f0"}, {"path": "f1"}], "version": "0.5"}}})"));
  EXPECT_EQ(groups.at("B/2"), json::parse(R"({"ome": {"version": "0.5", "well": {
      "images": [{"path": "f0"}], "version": "0.5"}}})"));
}

TEST(OmeZarrJson, FrameMetadataAttributesCarryTheVersion) {
  const json entries = json::parse(R"([{"storage_index": [0], "exposure_time": 5}])");
  const json attrs = frame_metadata_attributes(entries);
  EXPECT_EQ(attrs["version"], version());
  EXPECT_EQ(attrs["frame_metadata"], entries);
}

// A name is stored as one path component: a position, row, column or field
// name never reaches outside its parent group, and the plate's lists name the
// components its well paths are made of.
TEST(OmeZarrJson, NamesAreStoredAsPathComponents) {
  const std::vector<Position> series{Position{"../../../v"}, Position{"/srv/elsewhere"},
                                     Position{"."}};
  EXPECT_EQ(image_group_path(std::nullopt, series, 0), "..%2F..%2F..%2Fv");
  EXPECT_EQ(image_group_path(std::nullopt, series, 1), "%2Fsrv%2Felsewhere");
  EXPECT_EQ(image_group_path(std::nullopt, series, 2), "%2E");
  const auto groups = container_group_attributes(std::nullopt, series);
  EXPECT_EQ(groups.at("OME")["ome"]["series"],
            json::array({"..%2F..%2F..%2Fv", "%2Fsrv%2Felsewhere", "%2E"}));

  const Plate plate{{"..", "A"}, {"/"}, std::nullopt};
  const std::vector<Position> fields{Position{"..", std::string(".."), std::string("/")},
                                     Position{"f1", std::string("A"), std::string("/")}};
  EXPECT_EQ(image_group_path(plate, fields, 0), "%2E%2E/%2F/%2E%2E");
  EXPECT_EQ(image_group_path(plate, fields, 1), "A/%2F/f1");
  const json attrs = ome_plate_attributes(plate, fields)["plate"];
  EXPECT_EQ(attrs["rows"], json::parse(R"([{"name": "%2E%2E"}, {"name": "A"}])"));
  EXPECT_EQ(attrs["columns"], json::parse(R"([{"name": "%2F"}])"));
  EXPECT_EQ(attrs["wells"][0]["path"], "%2E%2E/%2F");
  const auto plate_groups = container_group_attributes(plate, fields);
  EXPECT_EQ(plate_groups.at("%2E%2E/%2F")["ome"]["well"]["images"][0]["path"], "%2E%2E");
  EXPECT_EQ(plate_groups.count(".."), 0u);
}

}  // namespace
}  // namespace ome_writers::detail
