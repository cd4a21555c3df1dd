// JSON <-> StreamSettings, validation and output paths.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "core/layout.hpp"
#include "core/pyramid.hpp"
#include "ome_writers/errors.hpp"
#include "ome_writers/settings.hpp"
#include "platform/platform.hpp"

namespace ome_writers {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

// A JSON number read as a whole number: a float where an integer belongs is
// refused here (converting an out-of-range float is undefined behaviour).
std::int64_t whole_number(const json& v, const std::string& what) {
  if (!v.is_number_integer()) bad(what + " must be an integer, got " + v.dump());
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t{INT64_MAX}) {
    return INT64_MAX;  // every caller refuses that as too large, by its value
  }
  return v.get<std::int64_t>();
}

template <typename T>
std::optional<T> opt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!it->is_number_integer()) {
      bad(std::string("settings field '") + key + "' has the wrong type: " + it->dump());
    }
  }
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    bad(std::string("settings field '") + key + "' has the wrong type: " + it->dump());
  }
}

template <typename T>
void put(json& j, const char* key, const std::optional<T>& v) {
  j[key] = v ? json(*v) : json(nullptr);
}

struct EnumName {
  int value;
  const char* name;
};

constexpr EnumName kDimTypes[] = {
    {static_cast<int>(DimensionType::kSpace), "space"},
    {static_cast<int>(DimensionType::kTime), "time"},
    {static_cast<int>(DimensionType::kChannel), "channel"},
    {static_cast<int>(DimensionType::kPosition), "position"},
    {static_cast<int>(DimensionType::kOther), "other"},
};
constexpr EnumName kCompressions[] = {
    {static_cast<int>(Compression::kNone), "none"},
    {static_cast<int>(Compression::kLzw), "lzw"},
    {static_cast<int>(Compression::kDeflate), "deflate"},
    {static_cast<int>(Compression::kZstd), "zstd"},
    {static_cast<int>(Compression::kBloscZstd), "blosc-zstd"},
    {static_cast<int>(Compression::kBloscLz4), "blosc-lz4"},
};
constexpr EnumName kPreferSingle[] = {
    {static_cast<int>(PreferSingleFile::kAuto), "auto"},
    {static_cast<int>(PreferSingleFile::kAlways), "always"},
    {static_cast<int>(PreferSingleFile::kNever), "never"},
};
constexpr EnumName kMultiFile[] = {
    {static_cast<int>(MultiFileMetadata::kRedundant), "redundant"},
    {static_cast<int>(MultiFileMetadata::kMasterTiff), "master-tiff"},
    {static_cast<int>(MultiFileMetadata::kCompanionFile), "companion-file"},
};

constexpr EnumName kMethods[] = {
    {static_cast<int>(DownsampleMethod::kMean), "mean"},
    {static_cast<int>(DownsampleMethod::kMin), "min"},
    {static_cast<int>(DownsampleMethod::kMax), "max"},
    {static_cast<int>(DownsampleMethod::kDecimate), "decimate"},
    {static_cast<int>(DownsampleMethod::kMode), "mode"},
};

template <std::size_t N>
int parse_enum(const EnumName (&table)[N], const std::string& text, const char* field) {
  for (const auto& e : table) {
    if (text == e.name) return e.value;
  }
  std::string allowed;
  for (const auto& e : table) allowed += std::string(allowed.empty() ? "" : ", ") + e.name;
  bad(std::string("invalid ") + field + " '" + text + "' (expected one of: " + allowed + ")");
}

template <std::size_t N>
const char* enum_name(const EnumName (&table)[N], int value) {
  for (const auto& e : table) {
    if (e.value == value) return e.name;
  }
  return "?";
}

std::array<std::uint8_t, 4> parse_color(const std::string& text) {
  // "#rrggbb" or "#rrggbbaa", as the Python model serialises it.
  auto hex = [&](std::size_t i) {
    unsigned v = 0;
    if (std::sscanf(text.c_str() + i, "%2x", &v) != 1) bad("invalid channel color '" + text + "'");
    return static_cast<std::uint8_t>(v);
  };
  if (text.size() != 7 && text.size() != 9) bad("invalid channel color '" + text + "'");
  if (text[0] != '#') bad("invalid channel color '" + text + "'");
  return {hex(1), hex(3), hex(5), text.size() == 9 ? hex(7) : std::uint8_t{255}};
}

std::string color_text(const std::array<std::uint8_t, 4>& c) {
  char buf[10];
  if (c[3] == 255) {
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  } else {
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x%02x", c[0], c[1], c[2], c[3]);
  }
  return buf;
}

Channel parse_channel(const json& j) {
  Channel c;
  if (j.is_string()) {
    c.name = j.get<std::string>();
    return c;
  }
  c.name = j.value("name", "");
  c.excitation_wavelength_nm = opt<int>(j, "excitation_wavelength_nm");
  c.emission_wavelength_nm = opt<int>(j, "emission_wavelength_nm");
  c.fluorophore = opt<std::string>(j, "fluorophore");
  if (auto color = opt<std::string>(j, "color")) c.color = parse_color(*color);
  return c;
}

json channel_json(const Channel& c) {
  json j;
  j["name"] = c.name;
  put(j, "excitation_wavelength_nm", c.excitation_wavelength_nm);
  put(j, "emission_wavelength_nm", c.emission_wavelength_nm);
  put(j, "fluorophore", c.fluorophore);
  j["color"] = c.color ? json(color_text(*c.color)) : json(nullptr);
  return j;
}

Position parse_position(const json& j) {
  Position p;
  if (j.is_string()) {
    p.name = j.get<std::string>();
    return p;
  }
  p.name = j.value("name", "");
  p.plate_row = opt<std::string>(j, "plate_row");
  p.plate_column = opt<std::string>(j, "plate_column");
  p.grid_row = opt<int>(j, "grid_row");
  p.grid_column = opt<int>(j, "grid_column");
  p.x_coord = opt<double>(j, "x_coord");
  p.y_coord = opt<double>(j, "y_coord");
  p.z_coord = opt<double>(j, "z_coord");
  return p;
}

json position_json(const Position& p) {
  json j;
  j["name"] = p.name;
  put(j, "plate_row", p.plate_row);
  put(j, "plate_column", p.plate_column);
  put(j, "grid_row", p.grid_row);
  put(j, "grid_column", p.grid_column);
  put(j, "x_coord", p.x_coord);
  put(j, "y_coord", p.y_coord);
  put(j, "z_coord", p.z_coord);
  return j;
}

Dimension parse_dimension(const json& j) {
  if (!j.is_object()) bad("each dimension must be an object, got " + j.dump());
  Dimension d;
  d.name = j.value("name", "");
  if (auto c = j.find("count"); c != j.end() && c->is_number_unsigned() &&
                                c->get<std::uint64_t>() > std::uint64_t{INT64_MAX}) {
    detail::count_too_large(d.name, c->dump());  // before it wraps around to a negative count
  }
  d.count = opt<std::int64_t>(j, "count");
  if (auto type = opt<std::string>(j, "type")) {
    d.type = static_cast<DimensionType>(parse_enum(kDimTypes, *type, "dimension type"));
  }
  d.chunk_size = opt<std::int64_t>(j, "chunk_size");
  d.shard_size_chunks = opt<std::int64_t>(j, "shard_size_chunks");
  d.unit = opt<std::string>(j, "unit");
  d.scale = opt<double>(j, "scale");
  d.translation = opt<double>(j, "translation");
  auto coords = j.find("coords");
  if (coords != j.end() && !coords->is_null()) {
    if (!coords->is_array()) bad("dimension '" + d.name + "' coords must be a list");
    for (const auto& c : *coords) {
      if (d.type == DimensionType::kChannel) d.channels.push_back(parse_channel(c));
      if (d.type == DimensionType::kPosition) d.positions.push_back(parse_position(c));
    }
  }
  return d;
}

json dimension_json(const Dimension& d) {
  json j;
  j["name"] = d.name;
  put(j, "count", d.count);
  j["type"] = d.type == DimensionType::kUnset ? json(nullptr) : json(to_string(d.type));
  if (!d.channels.empty()) {
    for (const auto& c : d.channels) j["coords"].push_back(channel_json(c));
  } else if (!d.positions.empty()) {
    for (const auto& p : d.positions) j["coords"].push_back(position_json(p));
  } else {
    j["coords"] = nullptr;
  }
  put(j, "chunk_size", d.chunk_size);
  put(j, "shard_size_chunks", d.shard_size_chunks);
  put(j, "unit", d.unit);
  put(j, "scale", d.scale);
  put(j, "translation", d.translation);
  return j;
}

FormatSettings parse_format(const json& j) {
  FormatSettings f;
  if (j.is_string()) {
    const auto name = j.get<std::string>();
    if (name == "ome-tiff" || name == "tiff") {
      f.name = FileFormat::kOmeTiff;
    } else if (name != "ome-zarr" && name != "zarr") {
      bad("unsupported format '" + name + "' (the C++ engine writes 'ome-zarr' and 'ome-tiff')");
    }
    return f;
  }
  if (!j.is_object()) bad("format must be an object or a string, got " + j.dump());
  const std::string name = j.value("name", "ome-zarr");
  if (name == "ome-tiff") {
    f.name = FileFormat::kOmeTiff;
  } else if (name == "scratch") {
    throw Error(ErrorCode::kNotImplemented,
                "format 'scratch' is served by the Python package, not the C++ engine");
  } else if (name != "ome-zarr") {
    bad("unsupported format name '" + name + "'");
  }
  // "backend" (which library the Python package would use) is not read: the
  // C++ engine serves every backend name.
  if (auto suffix = opt<std::string>(j, "suffix")) f.suffix = *suffix;
  if (f.name == FileFormat::kOmeTiff) {
    auto single = j.find("prefer_single_file");
    if (single != j.end() && single->is_boolean()) {
      f.prefer_single_file =
          single->get<bool>() ? PreferSingleFile::kAlways : PreferSingleFile::kNever;
    } else if (auto s = opt<std::string>(j, "prefer_single_file")) {
      f.prefer_single_file =
          static_cast<PreferSingleFile>(parse_enum(kPreferSingle, *s, "prefer_single_file"));
    }
    if (auto m = opt<std::string>(j, "multi_file_metadata")) {
      f.multi_file_metadata =
          static_cast<MultiFileMetadata>(parse_enum(kMultiFile, *m, "multi_file_metadata"));
    }
    if (auto c = opt<std::string>(j, "companion_file")) f.companion_file = *c;
  }
  return f;
}

json format_json(const FormatSettings& f) {
  json j;
  j["name"] = to_string(f.name);
  if (!f.suffix.empty()) j["suffix"] = f.suffix;
  if (f.name == FileFormat::kOmeTiff) {
    j["prefer_single_file"] = enum_name(kPreferSingle, static_cast<int>(f.prefer_single_file));
    j["multi_file_metadata"] = enum_name(kMultiFile, static_cast<int>(f.multi_file_metadata));
    j["companion_file"] = f.companion_file;
  }
  return j;
}

// {"levels": int | "auto", "method": name, "downsample_z": bool}, or null.
PyramidSettings parse_pyramid(const json& j) {
  PyramidSettings p;
  if (j.is_null()) return p;
  if (!j.is_object()) bad("pyramid must be an object or null, got " + j.dump());
  if (auto lv = j.find("levels"); lv != j.end() && !lv->is_null()) {
    if (lv->is_string()) {
      if (lv->get<std::string>() != "auto") {
        bad("invalid pyramid levels " + lv->dump() + " (expected a whole number or 'auto')");
      }
      p.auto_levels = true;
    } else {
      const auto levels = whole_number(*lv, "pyramid levels");
      if (levels < 1 || levels > detail::kMaxPyramidLevels) {
        bad("pyramid levels must be between 1 (no pyramid) and " +
            std::to_string(detail::kMaxPyramidLevels) + ", got " + std::to_string(levels));
      }
      p.levels = static_cast<int>(levels);
    }
  }
  if (auto m = opt<std::string>(j, "method")) {
    p.method = static_cast<DownsampleMethod>(parse_enum(kMethods, *m, "pyramid method"));
  }
  if (auto z = j.find("downsample_z"); z != j.end() && !z->is_null()) {
    if (!z->is_boolean()) bad("pyramid downsample_z must be true or false, got " + z->dump());
    p.downsample_z = z->get<bool>();
  }
  return p;
}

json pyramid_json(const PyramidSettings& p) {
  return {{"levels", p.auto_levels ? json("auto") : json(p.levels)},
          {"method", enum_name(kMethods, static_cast<int>(p.method))},
          {"downsample_z", p.downsample_z}};
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

constexpr std::int64_t kMaxWriterThreads = 64;
constexpr std::uint64_t kMinBudgetFrames = 4;

void check_writer_threads(std::int64_t threads) {
  // 0 means one per core; the message for a negative count is the one users already match.
  if (threads < 0) bad("writer_threads must be >= 0, got " + std::to_string(threads));
  if (threads > kMaxWriterThreads) {
    bad("writer_threads must be at most " + std::to_string(kMaxWriterThreads) + ", got " +
        std::to_string(threads));
  }
}

}  // namespace

const char* to_string(DimensionType value) noexcept {
  if (value == DimensionType::kUnset) return "";
  return enum_name(kDimTypes, static_cast<int>(value));
}

const char* to_string(FileFormat value) noexcept {
  return value == FileFormat::kOmeTiff ? "ome-tiff" : "ome-zarr";
}

const char* to_string(Compression value) noexcept {
  return enum_name(kCompressions, static_cast<int>(value));
}

const char* to_string(DownsampleMethod value) noexcept {
  return enum_name(kMethods, static_cast<int>(value));
}

namespace {
StreamSettings parse_settings(const json& j);
}  // namespace

StreamSettings StreamSettings::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // syntax, or a number out of range
    bad(std::string("settings are not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad("settings JSON must be an object");
  try {
    return parse_settings(j);
  } catch (const json::exception& e) {
    // A field of the wrong JSON type deep inside (a string where a list of
    // names belongs...): the caller gets the same error class as for any
    // other bad setting.
    bad(std::string("settings JSON has a field of the wrong type: ") + e.what());
  }
}

namespace {

StreamSettings parse_settings(const json& j) {
  StreamSettings s;
  s.root_path = j.value("root_path", "");
  if (auto dims = j.find("dimensions"); dims != j.end() && !dims->is_null()) {
    for (const auto& d : *dims) s.dimensions.push_back(parse_dimension(d));
  }
  const std::string dtype = j.value("dtype", "");
  if (dtype.empty()) bad("settings.dtype must be set before creating a stream");
  auto parsed = parse_dtype(dtype);
  if (!parsed) bad("unsupported dtype '" + dtype + "'");
  s.dtype = *parsed;
  if (auto f = j.find("format"); f != j.end() && !f->is_null()) s.format = parse_format(*f);
  if (auto c = opt<std::string>(j, "compression")) {
    s.compression = static_cast<Compression>(parse_enum(kCompressions, *c, "compression"));
  }
  if (auto so = j.find("storage_order"); so != j.end() && !so->is_null()) {
    if (so->is_string()) {
      const auto order = so->get<std::string>();
      if (order == "ome") {
        s.storage_order = StorageOrder::kOme;
      } else if (order == "acquisition") {
        s.storage_order = StorageOrder::kAcquisition;
      } else {
        bad("invalid storage_order '" + order + "'");
      }
    } else if (so->is_array()) {
      s.storage_order = StorageOrder::kList;
      s.storage_order_list = so->get<std::vector<std::string>>();
    } else {
      bad("storage_order must be 'ome', 'acquisition' or a list of names");
    }
  }
  if (auto p = j.find("plate"); p != j.end() && !p->is_null()) {
    Plate plate;
    plate.row_names = p->value("row_names", std::vector<std::string>{});
    plate.column_names = p->value("column_names", std::vector<std::string>{});
    plate.name = opt<std::string>(*p, "name");
    s.plate = plate;
  }
  s.overwrite = j.value("overwrite", false);
  if (auto p = j.find("pyramid"); p != j.end()) s.pyramid = parse_pyramid(*p);
  if (auto e = j.find("engine"); e != j.end() && e->is_object()) {
    if (auto m = e->find("max_memory_bytes"); m != e->end() && !m->is_null()) {
      // Read signed: a negative budget must be refused, not wrapped around.
      const auto bytes = whole_number(*m, "max_memory_bytes");
      if (bytes <= 0) bad("max_memory_bytes must be positive, got " + std::to_string(bytes));
      s.engine.max_memory_bytes = static_cast<std::uint64_t>(bytes);
    }
    s.engine.append_timeout_seconds =
        e->value("append_timeout_seconds", s.engine.append_timeout_seconds);
    if (auto w = e->find("writer_threads"); w != e->end() && !w->is_null()) {
      // Read wide: a huge count must be refused by its value, not truncated to an int.
      const auto threads = whole_number(*w, "writer_threads");
      check_writer_threads(threads);
      s.engine.writer_threads = static_cast<int>(threads);
    }
    s.engine.checkpoint_interval_seconds =
        e->value("checkpoint_interval_seconds", s.engine.checkpoint_interval_seconds);
    s.engine.fsync_on_close = e->value("fsync_on_close", s.engine.fsync_on_close);
    s.engine.direct_io = e->value("direct_io", s.engine.direct_io);
    if (auto lv = e->find("compression_level"); lv != e->end() && !lv->is_null()) {
      const auto level = whole_number(*lv, "compression_level");
      if (level < -1000 || level > 1000) {
        bad("compression_level " + std::to_string(level) + " is out of range");
      }
      s.engine.compression_level = static_cast<int>(level);
    }
  }
  return s;
}

}  // namespace

std::string StreamSettings::to_json() const {
  json j;
  j["root_path"] = root_path;
  j["dimensions"] = json::array();
  for (const auto& d : dimensions) j["dimensions"].push_back(dimension_json(d));
  j["dtype"] = std::string(dtype_name(dtype));
  j["format"] = format_json(format);
  j["compression"] =
      compression == Compression::kNone ? json(nullptr) : json(to_string(compression));
  j["storage_order"] = storage_order == StorageOrder::kList  ? json(storage_order_list)
                       : storage_order == StorageOrder::kOme ? json("ome")
                                                             : json("acquisition");
  if (plate) {
    j["plate"] = {{"row_names", plate->row_names}, {"column_names", plate->column_names}};
    put(j["plate"], "name", plate->name);
  } else {
    j["plate"] = nullptr;
  }
  j["overwrite"] = overwrite;
  // As the Python model dumps it: absent when there is no pyramid (ome-writers
  // 0.3.2's settings forbid unknown keys, so its dumps must stay loadable there).
  if (pyramid.enabled()) j["pyramid"] = pyramid_json(pyramid);
  j["engine"] = {{"max_memory_bytes", engine.max_memory_bytes},
                 {"append_timeout_seconds", engine.append_timeout_seconds},
                 {"writer_threads", engine.writer_threads},
                 {"fsync_on_close", engine.fsync_on_close},
                 {"direct_io", engine.direct_io},
                 {"compression_level", engine.compression_level},
                 {"checkpoint_interval_seconds", engine.checkpoint_interval_seconds}};
  return j.dump();
}

namespace {

// OME-NGFF 0.5 axes: 2 or 3 of type space, at most one time and one channel,
// ordered time, then channel or custom (any other type), then space. The
// messages start with those of ome-writers 0.3.2, which users match on.
void check_ngff_axes(const detail::Layout& layout) {
  std::string names;
  std::string types;
  int space = 0;
  int time = 0;
  int channel = 0;
  bool ordered = true;
  int last_rank = 0;
  for (const auto& axis : layout.axes) {
    names += (names.empty() ? "" : ", ") + axis.name;
    types += (types.empty() ? "" : ", ") +
             std::string(axis.type == DimensionType::kUnset ? "none" : to_string(axis.type));
    space += axis.type == DimensionType::kSpace;
    time += axis.type == DimensionType::kTime;
    channel += axis.type == DimensionType::kChannel;
    const int rank = axis.type == DimensionType::kTime    ? 0
                     : axis.type == DimensionType::kSpace ? 2
                                                          : 1;
    ordered = ordered && rank >= last_rank;
    last_rank = rank;
  }
  const std::string axes = "OME-NGFF 0.5 axes [" + names + "]";
  if (space < 2 || space > 3) {
    bad("There must be 2 or 3 axes of type 'space'. " + axes + " have " + std::to_string(space) +
        ".");
  }
  if (time > 1)
    bad("There can be at most 1 axis of type 'time'. " + axes + " have " + std::to_string(time) +
        ".");
  if (channel > 1) {
    bad("There can be at most 1 axis of type 'channel'. " + axes + " have " +
        std::to_string(channel) + ".");
  }
  if (!ordered) {
    bad("Axes are not in the required order by type. Order must be [time,] [channel,] space. "
        "OME-Zarr storage axes [" +
        names + "] (types [" + types +
        "]) break the OME-NGFF 0.5 rule: time first, then channel or custom axes, then space. "
        "Use storage_order='ome', or a list in that order when a custom axis (type 'other' or "
        "none) is stored with space axes.");
  }
}

}  // namespace

void StreamSettings::validate() const { (void)detail::validated_layout(*this); }

namespace {

// The rules beyond the dimensions: codecs per format, engine options, NGFF.
void check_format_rules(const StreamSettings& s, const detail::Layout& layout) {
  const auto& format = s.format;
  const auto& compression = s.compression;
  const auto& engine = s.engine;
  const bool tiff = format.name == FileFormat::kOmeTiff;
  if (!tiff) check_ngff_axes(layout);
  check_compression(format.name, compression);
  if (engine.max_memory_bytes == 0) bad("max_memory_bytes must be positive, got 0");
  if (!(engine.append_timeout_seconds >= 0)) {
    bad("append_timeout must be >= 0, got " + json(engine.append_timeout_seconds).dump());
  }
  check_writer_threads(engine.writer_threads);
  (void)detail::pyramid_levels(s, layout);
  // At most a day: a longer interval means never, which is what 0 says.
  if (!(engine.checkpoint_interval_seconds >= 0 && engine.checkpoint_interval_seconds <= 86400)) {
    bad("checkpoint_interval must be between 0 (off) and 86400 seconds, got " +
        json(engine.checkpoint_interval_seconds).dump());
  }
  // A budget of a few frames keeps the queue and the writer busy at once; a smaller one
  // would be raised silently to one frame, so it is refused.
  const std::uint64_t min_budget = kMinBudgetFrames * layout.frame_bytes;
  if (engine.max_memory_bytes < min_budget) {
    bad("max_memory_bytes " + std::to_string(engine.max_memory_bytes) + " is less than " +
        std::to_string(kMinBudgetFrames) + " frames (" + std::to_string(min_budget) +
        " bytes for frames of " + std::to_string(layout.frame_bytes) + " bytes)");
  }
  if (engine.compression_level != 0) {
    const int level = engine.compression_level;
    int low = 1;
    int high = 0;  // no level
    if (compression == Compression::kBloscZstd || compression == Compression::kBloscLz4) {
      high = 9;
    } else if (compression == Compression::kZstd) {
      high = 22;
    } else if (compression == Compression::kDeflate) {
      high = 12;
    }
    const std::string name =
        compression == Compression::kNone ? "none" : std::string(to_string(compression));
    if (high == 0) {
      bad("compression_level " + std::to_string(level) + " given, but compression '" + name +
          "' takes no level");
    }
    if (level < low || level > high) {
      bad("compression_level " + std::to_string(level) + " is out of range for '" + name + "' (" +
          std::to_string(low) + "-" + std::to_string(high) + ")");
    }
  }
}

}  // namespace

namespace detail {

namespace {

// "s3://bucket/run.ome.zarr" would otherwise be written to a local directory
// named "s3:" in the current directory.
void check_not_a_url(const std::string& root_path) {
  const std::size_t colon = root_path.find("://");
  // (A scheme of one letter would be a Windows drive.)
  if (colon == std::string::npos || colon < 2) return;
  const bool scheme = std::all_of(root_path.begin(), root_path.begin() + colon, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
  if (!scheme || !std::isalpha(static_cast<unsigned char>(root_path[0]))) return;
  bad("root_path '" + root_path +
      "' is a URL; this engine writes local files only (give a "
      "local path, not object storage)");
}

}  // namespace

Layout validated_layout(const StreamSettings& s, bool local_output) {
  if (s.root_path.empty()) {
    bad(std::string("root_path is required for ") + to_string(s.format.name) + " format.");
  }
  (void)s.output_path();  // checks root_path
  if (local_output) check_not_a_url(s.root_path);
  Layout layout(s);  // checks the dimension rules
  check_format_rules(s, layout);
  return layout;
}

}  // namespace detail

void check_compression(FileFormat format, Compression compression) {
  const bool tiff = format == FileFormat::kOmeTiff;
  const std::vector<Compression> allowed =
      tiff ? std::vector{Compression::kNone, Compression::kLzw, Compression::kDeflate,
                         Compression::kZstd}
           : std::vector{Compression::kNone, Compression::kBloscZstd, Compression::kBloscLz4,
                         Compression::kZstd};
  if (std::find(allowed.begin(), allowed.end(), compression) != allowed.end()) return;
  std::string names;
  for (auto c : allowed) names += (names.empty() ? "'" : ", '") + std::string(to_string(c)) + "'";
  // The wording of the Python model's ValidationError (ome-writers 0.3.2's).
  bad(std::string("Compression '") + to_string(compression) + "' is not supported for " +
      (tiff ? "OME-TIFF" : "OME-Zarr") + ". Supported: (" + names + ").");
}

std::string StreamSettings::output_path() const {
  // Strip a trailing [.ome].zarr / [.ome].tif[f] (case-insensitive), then add
  // the format's suffix; multi-file TIFF output is the stem directory.
  std::string stem = root_path;
  const std::string low = lower(stem);
  for (const char* ext : {".zarr", ".tiff", ".tif"}) {
    if (ends_with(low, ext)) {
      stem.resize(stem.size() - std::string(ext).size());
      if (ends_with(lower(stem), ".ome")) stem.resize(stem.size() - 4);
      break;
    }
  }
  // "dir/" or "dir/.ome.zarr" would write a hidden ".ome.zarr" inside dir.
  const std::string name = platform::path_to_utf8(platform::path_from_utf8(stem).filename());
  if (name.empty() || name == "." || name == "..") {
    bad("root_path '" + root_path + "' names no file: give the output a name, such as 'dir/data" +
        output_suffix() + "'");
  }
  if (format.name == FileFormat::kOmeTiff) {
    std::int64_t positions = 1;
    for (const auto& d : dimensions) {
      if (d.type == DimensionType::kPosition) positions = d.count.value_or(1);
    }
    const bool single = format.prefer_single_file == PreferSingleFile::kAlways ||
                        (format.prefer_single_file == PreferSingleFile::kAuto && positions <= 1);
    if (!single) return stem;
  }
  return stem + output_suffix();
}

std::string StreamSettings::output_suffix() const {
  if (!format.suffix.empty()) return format.suffix;
  return format.name == FileFormat::kOmeTiff ? ".ome.tiff" : ".ome.zarr";
}

}  // namespace ome_writers
