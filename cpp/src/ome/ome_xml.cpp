#include "ome/ome_xml.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <pugixml.hpp>
#include <random>
#include <sstream>

#include "ome/xml_text.hpp"
#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"

namespace ome_writers::detail {

using nlohmann::json;

namespace {

constexpr const char* kNamespace = "http://www.openmicroscopy.org/Schemas/OME/2016-06";

struct UnitPair {
  const char* ngff;
  const char* ome;
};

constexpr UnitPair kUnits[] = {
    {"angstrom", "Å"},     {"attometer", "am"},   {"centimeter", "cm"},  {"decimeter", "dm"},
    {"decameter", "dam"},  {"exameter", "Em"},    {"femtometer", "fm"},  {"foot", "ft"},
    {"gigameter", "Gm"},   {"hectometer", "hm"},  {"inch", "in"},        {"kilometer", "km"},
    {"megameter", "Mm"},   {"meter", "m"},        {"micrometer", "µm"},  {"mile", "mi"},
    {"millimeter", "mm"},  {"nanometer", "nm"},   {"parsec", "pc"},      {"petameter", "Pm"},
    {"picometer", "pm"},   {"terameter", "Tm"},   {"yard", "yd"},        {"yoctometer", "ym"},
    {"yottameter", "Ym"},  {"zeptometer", "zm"},  {"zettameter", "Zm"},  {"attosecond", "as"},
    {"centisecond", "cs"}, {"day", "d"},          {"decisecond", "ds"},  {"decasecond", "das"},
    {"exasecond", "Es"},   {"femtosecond", "fs"}, {"gigasecond", "Gs"},  {"hectosecond", "hs"},
    {"hour", "h"},         {"kilosecond", "ks"},  {"megasecond", "Ms"},  {"microsecond", "µs"},
    {"millisecond", "ms"}, {"minute", "min"},     {"nanosecond", "ns"},  {"petasecond", "Ps"},
    {"picosecond", "ps"},  {"second", "s"},       {"terasecond", "Ts"},  {"yoctosecond", "ys"},
    {"yottasecond", "Ys"}, {"zeptosecond", "zs"}, {"zettasecond", "Zs"},
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string number(double v) {
  // Shortest text that reads back as the same double.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

const Dimension* find_dim(const Layout& layout, char name) {
  for (const auto& a : layout.axes) {
    if (a.name.size() == 1 && std::tolower(static_cast<unsigned char>(a.name[0])) == name) {
      return a.dimension;
    }
  }
  return nullptr;
}

const Dimension* frame_dim(const StreamSettings& s, int from_end) {
  return &s.dimensions[s.dimensions.size() - static_cast<std::size_t>(from_end)];
}

void set_length(pugi::xml_node node, const char* attr, const char* unit_attr, double value,
                const std::optional<std::string>& unit) {
  node.append_attribute(attr) = number(value).c_str();
  const auto symbol = ome_unit_symbol(unit.value_or("micrometer"));
  node.append_attribute(unit_attr) = symbol.value_or("µm").c_str();
}

std::string json_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void add_map_annotation(pugi::xml_node sa, const std::string& id, const std::string& name_space,
                        const std::vector<std::pair<std::string, std::string>>& entries) {
  auto ma = sa.append_child("MapAnnotation");
  ma.append_attribute("ID") = id.c_str();
  if (!name_space.empty()) ma.append_attribute("Namespace") = xml_text(name_space).c_str();
  auto value = ma.append_child("Value");
  for (const auto& [k, v] : entries) {
    auto m = value.append_child("M");
    m.append_attribute("K") = xml_text(k).c_str();
    m.text() = xml_text(v).c_str();
  }
}

void set_channel_attributes(pugi::xml_node ch, const Channel& meta) {
  ch.append_attribute("Name") = xml_text(meta.name).c_str();
  if (meta.color) {
    const auto& rgba = *meta.color;
    const std::uint32_t packed = (std::uint32_t{rgba[0]} << 24) | (std::uint32_t{rgba[1]} << 16) |
                                 (std::uint32_t{rgba[2]} << 8) | std::uint32_t{rgba[3]};
    ch.append_attribute("Color") = static_cast<std::int32_t>(packed);
  }
  if (meta.fluorophore) ch.append_attribute("Fluor") = xml_text(*meta.fluorophore).c_str();
  if (meta.excitation_wavelength_nm) {
    ch.append_attribute("ExcitationWavelength") = *meta.excitation_wavelength_nm;
    ch.append_attribute("ExcitationWavelengthUnit") = "nm";
  }
  if (meta.emission_wavelength_nm) {
    ch.append_attribute("EmissionWavelength") = *meta.emission_wavelength_nm;
    ch.append_attribute("EmissionWavelengthUnit") = "nm";
  }
}

// Generated elements are written where a marker comment stands in the
// document built in memory (write_ome_xml).
constexpr std::string_view kMarker = "<!--ome_writers:";

void add_marker(pugi::xml_node parent, const std::string& kind, std::int64_t image) {
  parent.append_child(pugi::node_comment)
      .set_value(("ome_writers:" + kind + ":" + std::to_string(image)).c_str());
}

void add_tiff_data(pugi::xml_node px, const TiffDataBlock& td) {
  auto node = px.append_child("TiffData");
  node.append_attribute("IFD") = td.ifd;
  if (td.first_z) node.append_attribute("FirstZ") = *td.first_z;
  if (td.first_t) node.append_attribute("FirstT") = *td.first_t;
  if (td.first_c) node.append_attribute("FirstC") = *td.first_c;
  node.append_attribute("PlaneCount") = td.plane_count;
  if (!td.uuid.empty()) {
    auto u = node.append_child("UUID");
    u.append_attribute("FileName") = xml_text(td.file_name).c_str();
    u.text() = td.uuid.c_str();
  }
}

void add_plane(pugi::xml_node px, const PlaneInfo& p) {
  auto plane = px.append_child("Plane");
  plane.append_attribute("TheZ") = p.z;
  plane.append_attribute("TheT") = p.t;
  plane.append_attribute("TheC") = p.c;
  if (p.delta_t) {
    plane.append_attribute("DeltaT") = number(*p.delta_t).c_str();
    plane.append_attribute("DeltaTUnit") = "s";
  }
  if (p.exposure_time) {
    plane.append_attribute("ExposureTime") = number(*p.exposure_time).c_str();
    plane.append_attribute("ExposureTimeUnit") = "s";
  }
  if (p.position_x) set_length(plane, "PositionX", "PositionXUnit", *p.position_x, std::nullopt);
  if (p.position_y) set_length(plane, "PositionY", "PositionYUnit", *p.position_y, std::nullopt);
  if (p.position_z) set_length(plane, "PositionZ", "PositionZUnit", *p.position_z, std::nullopt);
  if (p.annotation >= 0) {
    plane.append_child("AnnotationRef").append_attribute("ID") =
        ("Annotation:" + std::to_string(p.annotation)).c_str();
  }
}

void add_pixels(pugi::xml_node image, const OmeXmlInput& in, const ImageInfo& info) {
  const auto& s = *in.settings;
  const auto& layout = *in.layout;
  auto px = image.append_child("Pixels");
  px.append_attribute("ID") = ("Pixels:" + std::to_string(info.index)).c_str();
  px.append_attribute("DimensionOrder") = tiff_dimension_order(layout).c_str();
  px.append_attribute("Type") = ome_pixel_type(layout.dtype).value_or("uint8").c_str();
  px.append_attribute("SizeX") = std::to_string(layout.width).c_str();
  px.append_attribute("SizeY") = std::to_string(layout.height).c_str();
  px.append_attribute("SizeZ") = std::to_string(info.size_z).c_str();
  px.append_attribute("SizeC") = std::to_string(info.size_c).c_str();
  px.append_attribute("SizeT") = std::to_string(info.size_t_).c_str();
  const Dimension* x = frame_dim(s, 1);
  const Dimension* y = frame_dim(s, 2);
  if (x->scale) set_length(px, "PhysicalSizeX", "PhysicalSizeXUnit", *x->scale, x->unit);
  if (y->scale) set_length(px, "PhysicalSizeY", "PhysicalSizeYUnit", *y->scale, y->unit);
  if (const Dimension* z = find_dim(layout, 'z'); z && z->scale) {
    set_length(px, "PhysicalSizeZ", "PhysicalSizeZUnit", *z->scale, z->unit);
  }
  if (const Dimension* t = find_dim(layout, 't'); t && t->scale) {
    px.append_attribute("TimeIncrement") = number(*t->scale).c_str();
    const auto symbol = ome_unit_symbol(t->unit.value_or("second"));
    px.append_attribute("TimeIncrementUnit") = symbol.value_or("s").c_str();
  }
  const Dimension* cdim = find_dim(layout, 'c');
  for (const auto& a : layout.axes) {
    if (a.type == DimensionType::kChannel) cdim = a.dimension;
  }
  for (std::int64_t c = 0; c < info.size_c; ++c) {
    auto ch = px.append_child("Channel");
    ch.append_attribute("ID") =
        ("Channel:" + std::to_string(info.index) + ":" + std::to_string(c)).c_str();
    ch.append_attribute("SamplesPerPixel") = 1;
    if (cdim && static_cast<std::size_t>(c) < cdim->channels.size()) {
      set_channel_attributes(ch, cdim->channels[static_cast<std::size_t>(c)]);
    }
  }
  if (info.tiff_data.empty() && !info.each_tiff_data) {
    px.append_child("MetadataOnly");
  }
  if (info.each_tiff_data) add_marker(px, "tiffdata", info.index);
  for (const auto& td : info.tiff_data) add_tiff_data(px, td);
  if (info.each_plane) add_marker(px, "planes", info.index);
  for (const auto& p : info.planes) add_plane(px, p);
}

void add_plate(pugi::xml_node ome, const Plate& plate, const std::vector<Position>& positions) {
  auto node = ome.append_child("Plate");
  node.append_attribute("ID") = "Plate:0";
  if (plate.name) node.append_attribute("Name") = xml_text(*plate.name).c_str();
  node.append_attribute("Rows") = static_cast<unsigned>(plate.row_names.size());
  node.append_attribute("Columns") = static_cast<unsigned>(plate.column_names.size());
  auto convention = [](const std::vector<std::string>& names) {
    const bool digits = !names.empty() && std::all_of(names.begin(), names.end(), [](auto& n) {
      return !n.empty() && std::all_of(n.begin(), n.end(), ::isdigit);
    });
    return digits ? "number" : "letter";
  };
  node.append_attribute("RowNamingConvention") = convention(plate.row_names);
  node.append_attribute("ColumnNamingConvention") = convention(plate.column_names);
  std::map<std::pair<long, long>, pugi::xml_node> wells;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto& p = positions[i];
    if (!p.plate_row || !p.plate_column) continue;
    const auto r = std::find(plate.row_names.begin(), plate.row_names.end(), *p.plate_row);
    const auto c = std::find(plate.column_names.begin(), plate.column_names.end(), *p.plate_column);
    if (r == plate.row_names.end() || c == plate.column_names.end()) continue;
    const std::pair<long, long> key{r - plate.row_names.begin(), c - plate.column_names.begin()};
    auto it = wells.find(key);
    if (it == wells.end()) {
      auto well = node.append_child("Well");
      well.append_attribute("ID") =
          ("Well:" + std::to_string(key.first) + "_" + std::to_string(key.second)).c_str();
      well.append_attribute("Column") = key.second;
      well.append_attribute("Row") = key.first;
      it = wells.emplace(key, well).first;
    }
    auto sample = it->second.append_child("WellSample");
    sample.append_attribute("ID") = ("WellSample:" + std::to_string(i)).c_str();
    if (p.x_coord) set_length(sample, "PositionX", "PositionXUnit", *p.x_coord, std::nullopt);
    if (p.y_coord) set_length(sample, "PositionY", "PositionYUnit", *p.y_coord, std::nullopt);
    sample.append_attribute("Index") = static_cast<unsigned>(i);
    sample.append_child("ImageRef").append_attribute("ID") = ("Image:" + std::to_string(i)).c_str();
  }
}

class StringWriter : public pugi::xml_writer {
 public:
  void write(const void* data, std::size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
  std::string out;
};

}  // namespace

std::optional<std::string> ome_unit_symbol(const std::string& ngff_unit) {
  for (const auto& u : kUnits) {
    if (ngff_unit == u.ngff || ngff_unit == u.ome) return std::string(u.ome);
  }
  return std::nullopt;
}

std::optional<std::string> ome_pixel_type(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "bit";
    case DataType::kInt8:
      return "int8";
    case DataType::kInt16:
      return "int16";
    case DataType::kInt32:
      return "int32";
    case DataType::kUInt8:
      return "uint8";
    case DataType::kUInt16:
      return "uint16";
    case DataType::kUInt32:
      return "uint32";
    case DataType::kFloat32:
      return "float";
    case DataType::kFloat64:
      return "double";
    case DataType::kComplex64:
      return "complex";
    case DataType::kComplex128:
      return "double-complex";
    default:
      return std::nullopt;
  }
}

std::string tiff_dimension_order(const Layout& layout) {
  // Non-frame axes in acquisition order, fastest first, must lead the order.
  std::string prefix;
  for (auto it = layout.index_dims_acquisition.rbegin(); it != layout.index_dims_acquisition.rend();
       ++it) {
    for (std::size_t a = 0; a < layout.storage_to_outer.size(); ++a) {
      if (layout.storage_to_outer[a] == *it) {
        prefix +=
            static_cast<char>(std::toupper(static_cast<unsigned char>(layout.axes[a].name[0])));
      }
    }
  }
  for (const char* order : {"XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC"}) {
    if (std::string(order + 2).rfind(prefix, 0) == 0) return order;
  }
  return "XYZCT";
}

std::string make_uuid() {
  static thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<std::uint64_t>(
          std::chrono::high_resolution_clock::now().time_since_epoch().count())};
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < 16; i += 8) {
    const std::uint64_t v = rng();
    for (std::size_t k = 0; k < 8; ++k) b[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  char buf[64];
  std::snprintf(buf, sizeof buf,
                "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return buf;
}

std::string utc_now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  platform::utc_time(t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(micros));
  return out;
}

PlaneInfo plane_from_metadata(const json& metadata) {
  PlaneInfo p;
  for (const auto& [key, value] : metadata.items()) {
    std::optional<double>* slot = key == "delta_t"         ? &p.delta_t
                                  : key == "exposure_time" ? &p.exposure_time
                                  : key == "position_x"    ? &p.position_x
                                  : key == "position_y"    ? &p.position_y
                                  : key == "position_z"    ? &p.position_z
                                                           : nullptr;
    if (slot != nullptr && value.is_number()) {
      *slot = value.get<double>();
    } else {
      p.extra.emplace_back(key, json_text(value));
    }
  }
  return p;
}

namespace {

/// The document with marker comments where generated elements go.
std::string ome_xml_skeleton(const OmeXmlInput& in) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto ome = doc.append_child("OME");
  ome.append_attribute("xmlns") = kNamespace;
  ome.append_attribute("xmlns:xsi") = "http://www.w3.org/2001/XMLSchema-instance";
  ome.append_attribute("xsi:schemaLocation") =
      "http://www.openmicroscopy.org/Schemas/OME/2016-06 "
      "http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd";
  ome.append_attribute("Creator") = (std::string(kCreatorPrefix) + version()).c_str();
  if (!in.uuid.empty()) ome.append_attribute("UUID") = in.uuid.c_str();
  if (in.binary_only) {
    auto b = ome.append_child("BinaryOnly");
    b.append_attribute("MetadataFile") = xml_text(in.binary_only->first).c_str();
    b.append_attribute("UUID") = in.binary_only->second.c_str();
  } else {
    const auto& s = *in.settings;
    if (s.plate) add_plate(ome, *s.plate, in.layout->positions);
    for (const auto& info : in.images) {
      const auto& pos = in.layout->positions[static_cast<std::size_t>(info.index)];
      auto image = ome.append_child("Image");
      image.append_attribute("ID") = ("Image:" + std::to_string(info.index)).c_str();
      image.append_attribute("Name") = xml_text(pos.name).c_str();
      if (!in.acquisition_date.empty()) {
        image.append_child("AcquisitionDate").text() = in.acquisition_date.c_str();
      }
      if (pos.x_coord || pos.y_coord || pos.z_coord) {
        auto label = image.append_child("StageLabel");
        label.append_attribute("Name") = xml_text(pos.name).c_str();
        if (pos.x_coord) set_length(label, "X", "XUnit", *pos.x_coord, std::nullopt);
        if (pos.y_coord) set_length(label, "Y", "YUnit", *pos.y_coord, std::nullopt);
        if (pos.z_coord) set_length(label, "Z", "ZUnit", *pos.z_coord, std::nullopt);
      }
      add_pixels(image, in, info);
    }
    bool any = !in.global_metadata.empty();
    for (const auto& info : in.images) {
      any = any || info.annotated > 0;
      for (const auto& p : info.planes) any = any || p.annotation >= 0;
    }
    if (any) {
      auto sa = ome.append_child("StructuredAnnotations");
      for (const auto& info : in.images) {
        if (info.each_plane && info.annotated > 0) add_marker(sa, "annotations", info.index);
      }
      std::vector<const PlaneInfo*> annotated;
      for (const auto& info : in.images) {
        for (const auto& p : info.planes) {
          if (p.annotation >= 0) annotated.push_back(&p);
        }
      }
      std::sort(annotated.begin(), annotated.end(), [](const PlaneInfo* a, const PlaneInfo* b) {
        return a->annotation < b->annotation;
      });
      for (const PlaneInfo* p : annotated) {
        add_map_annotation(sa, "Annotation:" + std::to_string(p->annotation), "", p->extra);
      }
      std::int64_t next = in.first_global_annotation >= 0 ? in.first_global_annotation
                          : annotated.empty()             ? 0
                                                          : annotated.back()->annotation + 1;
      for (const auto& [name_space, value] : in.global_metadata) {
        std::vector<std::pair<std::string, std::string>> entries;
        if (value.is_object()) {
          for (const auto& [k, v] : value.items()) entries.emplace_back(k, v.dump());
        } else {
          entries.emplace_back("value", value.dump());
        }
        add_map_annotation(sa, "Annotation:" + std::to_string(next++), name_space, entries);
      }
    }
  }
  StringWriter writer;
  doc.save(writer, "  ", pugi::format_default, pugi::encoding_utf8);
  return keep_carriage_returns(std::move(writer.out));
}

/// Prints single elements as they would appear at a depth of the document.
class ElementPrinter {
 public:
  template <typename Add>
  void print(Add&& add, unsigned depth, const TextSink& out) {
    add(pugi::xml_node(doc_));
    writer_.out.clear();
    doc_.first_child().print(writer_, "  ", pugi::format_default, pugi::encoding_utf8, depth);
    doc_.remove_children();
    out(keep_carriage_returns(std::move(writer_.out)));
    writer_.out = std::string();
  }

 private:
  pugi::xml_document doc_;
  StringWriter writer_;
};

/// The generated elements a marker stands for.
void write_generated(const ImageInfo& info, std::string_view kind, unsigned depth,
                     ElementPrinter& printer, const TextSink& out) {
  if (kind == "tiffdata") {
    info.each_tiff_data([&](const TiffDataBlock& td) {
      printer.print([&](pugi::xml_node parent) { add_tiff_data(parent, td); }, depth, out);
    });
  } else if (kind == "planes") {
    info.each_plane([&](const PlaneInfo& p) {
      printer.print([&](pugi::xml_node parent) { add_plane(parent, p); }, depth, out);
    });
  } else if (kind == "annotations") {
    info.each_plane([&](const PlaneInfo& p) {
      if (p.annotation < 0) return;
      printer.print(
          [&](pugi::xml_node parent) {
            add_map_annotation(parent, "Annotation:" + std::to_string(p.annotation), "", p.extra);
          },
          depth, out);
    });
  }
}

}  // namespace

void write_ome_xml(const OmeXmlInput& in, const TextSink& out) {
  const std::string skeleton = ome_xml_skeleton(in);
  const std::string_view text(skeleton);
  ElementPrinter printer;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t m = text.find(kMarker, pos);
    if (m == std::string_view::npos) break;
    // The marker's whole line goes; the elements take its indentation.
    const std::size_t line = text.rfind('\n', m) + 1;
    std::size_t end = text.find("-->", m) + 3;
    if (end < text.size() && text[end] == '\n') ++end;
    out(text.substr(pos, line - pos));
    const std::string_view body = text.substr(m + kMarker.size(), end - m - kMarker.size());
    const std::size_t colon = body.find(':');
    const std::string_view kind = body.substr(0, colon);
    const std::int64_t index = std::stoll(std::string(body.substr(colon + 1)));
    for (const auto& info : in.images) {
      if (info.index == index) {
        write_generated(info, kind, static_cast<unsigned>((m - line) / 2), printer, out);
      }
    }
    pos = end;
  }
  out(text.substr(pos));
}

std::string build_ome_xml(const OmeXmlInput& in) {
  std::string out;
  write_ome_xml(in, [&](std::string_view piece) { out.append(piece); });
  return out;
}

std::string with_global_metadata(const std::string& xml, const std::string& name_space,
                                 const json& value) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str(), pugi::parse_default | pugi::parse_declaration)) {
    throw Error(ErrorCode::kIo, "the OME-XML to update does not parse");
  }
  pugi::xml_node ome = doc.child("OME");
  if (!ome || ome.child("BinaryOnly")) return xml;
  pugi::xml_node sa = ome.child("StructuredAnnotations");
  if (!sa) sa = ome.append_child("StructuredAnnotations");
  const std::string ns = xml_text(name_space);
  std::int64_t next = 0;
  pugi::xml_node found;
  for (pugi::xml_node ma : sa.children("MapAnnotation")) {
    const std::string id = ma.attribute("ID").value();
    if (id.rfind("Annotation:", 0) == 0) {
      std::int64_t n = -1;
      const char* digits = id.c_str() + 11;
      std::from_chars(digits, id.c_str() + id.size(), n);
      next = std::max(next, n + 1);
    }
    if (ns == ma.attribute("Namespace").value()) found = ma;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  if (value.is_object()) {
    for (const auto& [k, v] : value.items()) entries.emplace_back(k, v.dump());
  } else {
    entries.emplace_back("value", value.dump());
  }
  std::string id = "Annotation:" + std::to_string(next);
  if (found) {
    id = found.attribute("ID").value();
    sa.remove_child(found);
  }
  add_map_annotation(sa, id, name_space, entries);
  StringWriter writer;
  doc.save(writer, "  ", pugi::format_default, pugi::encoding_utf8);
  return keep_carriage_returns(std::move(writer.out));
}

std::string build_ome_xml_for_zarr(const StreamSettings& settings, const Layout& layout,
                                   const std::string& uuid, const std::string& acquisition_date) {
  OmeXmlInput in;
  in.settings = &settings;
  in.layout = &layout;
  in.uuid = uuid;
  in.acquisition_date = acquisition_date;
  for (std::size_t i = 0; i < layout.positions.size(); ++i) {
    ImageInfo info;
    info.index = static_cast<std::int64_t>(i);
    for (const auto& a : layout.axes) {
      const std::string n = lower(a.name);
      const std::int64_t count = a.count == 0 ? 1 : a.count;
      if (n == "z") info.size_z = count;
      if (n == "c" || a.type == DimensionType::kChannel) info.size_c = count;
      if (n == "t") info.size_t_ = count;
    }
    in.images.push_back(info);
  }
  return build_ome_xml(in);
}

}  // namespace ome_writers::detail
