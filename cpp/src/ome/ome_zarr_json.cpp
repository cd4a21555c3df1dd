#include "ome/ome_zarr_json.hpp"

#include <algorithm>
#include <limits>

#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

using json = nlohmann::ordered_json;

namespace {

// Display window of an omero channel: the dtype's range (0..1 for float and bool).
std::pair<double, double> dtype_window(DataType t) {
  switch (t) {
    case DataType::kUInt8:
      return {0, 255};
    case DataType::kUInt16:
      return {0, 65535};
    case DataType::kUInt32:
      return {0, 4294967295.0};
    case DataType::kUInt64:
      return {0, 18446744073709551615.0};
    case DataType::kInt8:
      return {-128, 127};
    case DataType::kInt16:
      return {-32768, 32767};
    case DataType::kInt32:
      return {-2147483648.0, 2147483647.0};
    case DataType::kInt64:
      return {-9223372036854775808.0, 9223372036854775807.0};
    default:
      return {0, 1};
  }
}

std::string color_hex(const Channel& c) {
  if (!c.color) return "FFFFFF";
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02X%02X%02X", (*c.color)[0], (*c.color)[1], (*c.color)[2]);
  return buf;
}

json fill_value(DataType t) {
  switch (t) {
    case DataType::kBool:
      return false;
    case DataType::kFloat32:
    case DataType::kFloat64:
      return 0.0;
    case DataType::kComplex64:
    case DataType::kComplex128:
      return json::array({0.0, 0.0});
    default:
      return 0;
  }
}

json ome_bioformats2raw_attributes() {
  return json{{"version", "0.5"}, {"bioformats2raw.layout", 3}};
}

json ome_series_attributes(const std::vector<Position>& positions) {
  json series = json::array();
  for (const auto& p : positions) series.push_back(series_name(p));
  return json{{"version", "0.5"}, {"series", series}};
}

json ome_well_attributes(const std::vector<std::string>& image_names) {
  json images = json::array();
  for (const auto& n : image_names) images.push_back({{"path", n}});
  return json{{"version", "0.5"}, {"well", {{"images", images}, {"version", "0.5"}}}};
}

// "<row>/<column>" of a position that names its well, as stored.
std::string well_path(const Position& p) {
  return path_component(*p.plate_row, "plate row") + "/" +
         path_component(*p.plate_column, "plate column");
}

bool is_xyz(const ArrayAxis& a, char which) {
  return a.type == DimensionType::kSpace && a.name.size() == 1 &&
         std::tolower(static_cast<unsigned char>(a.name[0])) == which;
}

}  // namespace

json ome_image_attributes(const Layout& layout, const Position& position,
                          const std::vector<std::vector<double>>& level_factors,
                          bool centred_levels) {
  json axes = json::array();
  std::vector<double> scale;
  std::vector<double> translation;
  bool any_translation = false;
  const Dimension* channel_dim = nullptr;
  for (const auto& a : layout.axes) {
    json axis{{"name", a.name}};
    if (a.type != DimensionType::kUnset) axis["type"] = to_string(a.type);
    if ((a.type == DimensionType::kSpace || a.type == DimensionType::kTime) && a.unit) {
      axis["unit"] = *a.unit;
    }
    axes.push_back(axis);
    scale.push_back(a.scale);
    double offset = a.translation.value_or(0.0);
    any_translation = any_translation || a.translation.has_value();
    // Stage coordinates of the position shift its image in physical space.
    const std::optional<double> stage = is_xyz(a, 'x')   ? position.x_coord
                                        : is_xyz(a, 'y') ? position.y_coord
                                        : is_xyz(a, 'z') ? position.z_coord
                                                         : std::nullopt;
    if (stage) {
      offset += *stage;
      any_translation = true;
    }
    translation.push_back(offset);
    if (a.type == DimensionType::kChannel && a.dimension && !a.dimension->channels.empty()) {
      channel_dim = a.dimension;
    }
  }
  // Pixel-centre convention: a coordinate names the centre of a pixel. A
  // reduced pixel that summarises 2^L pixels sits at the centre of its block,
  // (2^L - 1) / 2 full-resolution pixels from the block's first one; a
  // decimated pixel is the block's first pixel itself.
  if (centred_levels && !level_factors.empty()) any_translation = true;
  json datasets = json::array();
  for (std::size_t level = 0; level <= level_factors.size(); ++level) {
    json level_scale = json::array();
    json level_translation = json::array();
    for (std::size_t i = 0; i < scale.size(); ++i) {
      const double f = level == 0 ? 1.0 : level_factors[level - 1][i];
      level_scale.push_back(scale[i] * f);
      level_translation.push_back(translation[i] +
                                  (centred_levels ? scale[i] * (f - 1.0) / 2.0 : 0.0));
    }
    json transforms = json::array({{{"type", "scale"}, {"scale", level_scale}}});
    if (any_translation) {
      transforms.push_back({{"type", "translation"}, {"translation", level_translation}});
    }
    datasets.push_back(
        {{"path", std::to_string(level)}, {"coordinateTransformations", transforms}});
  }
  json ome{{"version", "0.5"},
           {"multiscales", json::array({{{"axes", axes}, {"datasets", datasets}}})}};
  if (channel_dim) {
    const auto [lo, hi] = dtype_window(layout.dtype);
    json channels = json::array();
    for (const auto& c : channel_dim->channels) {
      channels.push_back({{"window", {{"start", lo}, {"min", lo}, {"end", hi}, {"max", hi}}},
                          {"label", c.name},
                          {"color", color_hex(c)},
                          {"active", true}});
    }
    ome["omero"] = {{"channels", channels}};
  }
  return ome;
}

json zarr_array_metadata(const Layout& layout, const std::vector<std::int64_t>& shape,
                         const std::string& compressor_json) {
  json bytes_codec{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}};
  json inner = json::array({bytes_codec});
  if (!compressor_json.empty()) inner.push_back(json::parse(compressor_json));
  json chunk_shape = json::array();
  json shard_shape = json::array();
  json names = json::array();
  for (const auto& a : layout.axes) {
    chunk_shape.push_back(a.chunk);
    shard_shape.push_back(a.shard);
    names.push_back(a.name);
  }
  json codecs = inner;
  if (layout.sharded) {
    codecs = json::array({{{"name", "sharding_indexed"},
                           {"configuration",
                            {{"chunk_shape", chunk_shape},
                             {"codecs", inner},
                             {"index_codecs", json::array({bytes_codec, {{"name", "crc32c"}}})},
                             {"index_location", "end"}}}}});
  }
  return json{
      {"zarr_format", 3},
      {"node_type", "array"},
      {"shape", shape},
      {"data_type", std::string(dtype_name(layout.dtype))},
      {"chunk_grid",
       {{"name", "regular"},
        {"configuration", {{"chunk_shape", layout.sharded ? shard_shape : chunk_shape}}}}},
      {"chunk_key_encoding", {{"name", "default"}, {"configuration", {{"separator", "/"}}}}},
      {"fill_value", fill_value(layout.dtype)},
      {"codecs", codecs},
      {"dimension_names", names},
      {"attributes", json::object()},
      {"storage_transformers", json::array()}};
}

json zarr_group_metadata(const json& attributes) {
  return json{{"zarr_format", 3}, {"node_type", "group"}, {"attributes", attributes}};
}

std::string series_name(const Position& p) {
  if (p.grid_row && p.grid_column) {
    return path_component(
        p.name + "_" + std::to_string(*p.grid_row) + "_" + std::to_string(*p.grid_column),
        "position name");
  }
  return path_component(p.name, "position name");
}

json ome_plate_attributes(const Plate& plate, const std::vector<Position>& positions) {
  json rows = json::array();
  json columns = json::array();
  // A well's path is "<row name>/<column name>" of these lists, so they hold
  // the stored components.
  for (const auto& r : plate.row_names) rows.push_back({{"name", path_component(r, "plate row")}});
  for (const auto& c : plate.column_names) {
    columns.push_back({{"name", path_component(c, "plate column")}});
  }
  json wells = json::array();
  std::vector<std::string> seen;
  for (const auto& p : positions) {
    if (!p.plate_row || !p.plate_column) continue;
    const auto r = std::find(plate.row_names.begin(), plate.row_names.end(), *p.plate_row);
    const auto c = std::find(plate.column_names.begin(), plate.column_names.end(), *p.plate_column);
    if (r == plate.row_names.end() || c == plate.column_names.end()) continue;
    const std::string path = well_path(p);
    if (std::find(seen.begin(), seen.end(), path) != seen.end()) continue;
    seen.push_back(path);
    wells.push_back({{"path", path},
                     {"rowIndex", r - plate.row_names.begin()},
                     {"columnIndex", c - plate.column_names.begin()}});
  }
  // ome-zarr-models asks for the version inside "plate" too.
  json out{{"columns", columns}, {"rows", rows}, {"wells", wells}, {"version", "0.5"}};
  if (plate.name) out["name"] = *plate.name;
  return json{{"version", "0.5"}, {"plate", out}};
}

std::vector<std::string> image_group_paths(const StreamSettings& settings, const Layout& layout) {
  const bool plate = settings.plate.has_value();
  std::vector<std::string> groups;
  std::map<std::string, std::size_t> first_at;
  for (std::size_t i = 0; i < layout.positions.size(); ++i) {
    const Position& p = layout.positions[i];
    if (plate && (!p.plate_row || !p.plate_column)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "position '" + p.name + "' needs plate_row and plate_column in a plate");
    }
    groups.push_back(image_group_path(settings.plate, layout.positions, i));
    const auto [it, fresh] = first_at.emplace(groups.back(), i);
    if (!fresh) {
      throw Error(ErrorCode::kInvalidArgument,
                  "positions " + std::to_string(it->second) + " and " + std::to_string(i) +
                      " would both be stored in group '" + groups.back() +
                      "'; give them distinct names (in a plate well, grid coordinates are not "
                      "part of the path)");
    }
  }
  return groups;
}

std::string image_group_path(const std::optional<Plate>& plate,
                             const std::vector<Position>& positions, std::size_t i) {
  const Position& p = positions[i];
  if (plate) return well_path(p) + "/" + path_component(p.name, "position name");
  return positions.size() > 1 ? series_name(p) : std::string();
}

std::map<std::string, json> container_group_attributes(const std::optional<Plate>& plate,
                                                       const std::vector<Position>& positions) {
  std::map<std::string, json> groups;
  if (!plate) {
    if (positions.size() > 1) {
      groups[""] = json{{"ome", ome_bioformats2raw_attributes()}};
      groups["OME"] = json{{"ome", ome_series_attributes(positions)}};
    }
    return groups;
  }
  groups[""] = json{{"ome", ome_plate_attributes(*plate, positions)}};
  std::map<std::string, std::vector<std::string>> wells;
  for (const auto& p : positions) {
    groups[path_component(*p.plate_row, "plate row")] = json::object();
    wells[well_path(p)].push_back(path_component(p.name, "position name"));
  }
  for (const auto& [path, names] : wells) groups[path] = json{{"ome", ome_well_attributes(names)}};
  return groups;
}

json frame_metadata_attributes(const json& entries) {
  return json{{"version", version()}, {"frame_metadata", entries}};
}

}  // namespace ome_writers::detail
