#include "tiff/tiff_ome_input.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace {

char axis_letter(const std::string& name) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
}

/// The TiffData of plane `p` alone, with its z, c and t (sizes: z, c, t).
TiffDataBlock plane_block(const TiffImage& img, const std::string& order,
                          const std::array<std::int64_t, 3>& sizes, std::size_t p) {
  TiffDataBlock td;
  td.ifd = img.ifds[p];
  td.plane_count = 1;
  std::int64_t rest = static_cast<std::int64_t>(p);
  std::int64_t zct[3] = {0, 0, 0};
  for (std::size_t k = 2; k < 5; ++k) {
    const char d = order[k];
    const std::size_t slot = d == 'Z' ? 0 : d == 'C' ? 1 : 2;
    zct[slot] = rest % sizes[slot];
    rest /= sizes[slot];
  }
  td.first_z = zct[0];
  td.first_c = zct[1];
  td.first_t = zct[2];
  return td;
}

/// One TiffData per plane: the planes of an Image that shares its file with
/// other Images interleave with theirs. Generated, one per frame of a run.
void add_plane_blocks(const TiffImage& img, const Layout& layout, ImageInfo& info) {
  const std::array<std::int64_t, 3> sizes{info.size_z, info.size_c, info.size_t_};
  info.each_tiff_data = [&img, &layout, sizes](const std::function<void(const TiffDataBlock&)>& f) {
    const std::string order = tiff_dimension_order(layout);
    for (std::size_t p = 0; p < img.ifds.size(); ++p) f(plane_block(img, order, sizes, p));
  };
}

/// The planes with metadata, from their journal entries, in order: one pass
/// over the journal's stretch that holds them, other Images' lines skipped.
void add_journal_planes(const TiffOmeState& state, const TiffImage& img, ImageInfo& info) {
  if (!img.recorded.empty()) {
    info.annotated = img.annotated;
    info.each_plane = [&img](const std::function<void(const PlaneInfo&)>& f) {
      for (const PlaneInfo& p : img.recorded) f(p);
    };
    return;
  }
  if (img.plane_lines.empty() || state.journal == nullptr) return;
  info.annotated = img.annotated;
  info.each_plane = [&img, &state](const std::function<void(const PlaneInfo&)>& f) {
    std::size_t next = 0;
    state.journal->for_each_line(
        img.plane_lines.front(), img.plane_lines.back() + 1,
        [&](std::string_view line, std::uint64_t offset) {
          if (next >= img.plane_lines.size() || offset != img.plane_lines[next]) return;
          ++next;
          const nlohmann::json entry = nlohmann::json::parse(line);
          PlaneInfo p = plane_at(plane_from_metadata(entry.at("m")), state.layout,
                                 entry.value("i", std::vector<std::int64_t>{}));
          p.annotation = entry.value("a", std::int64_t{-1});
          f(p);
        });
  };
}

void add_tiff_data(const TiffOmeState& state, const TiffImage& img, ImageInfo& info) {
  const bool contiguous = !img.ifds.empty() && img.ifds.back() - img.ifds.front() + 1 ==
                                                   static_cast<std::int64_t>(img.ifds.size());
  if (!contiguous && !img.ifds.empty()) {
    add_plane_blocks(img, state.layout, info);
    return;
  }
  TiffDataBlock td;
  td.ifd = img.ifds.empty() ? 0 : img.ifds.front();
  td.plane_count = static_cast<std::int64_t>(img.ifds.size());
  if (state.multi_file) {
    td.file_name = state.files[img.file].name;
    td.uuid = state.files[img.file].uuid;
  }
  info.tiff_data.push_back(td);
}

ImageInfo image_info(const TiffOmeState& state, std::size_t index, std::int64_t inner) {
  const Layout& layout = state.layout;
  const TiffImage& img = state.images[index];
  ImageInfo info;
  info.index = static_cast<std::int64_t>(index);
  // Sizes: declared counts; the outermost axis follows the planes written.
  for (std::size_t a = 0; a < layout.index_rank(); ++a) {
    const auto& axis = layout.axes[a];
    std::int64_t size = axis.count;
    if (!layout.index_dims_acquisition.empty() &&
        layout.storage_to_outer[a] == layout.index_dims_acquisition.front() &&
        (state.closed || axis.count == 0)) {
      size = std::max<std::int64_t>(1, (img.frames + inner - 1) / inner);
    }
    const char n = axis_letter(axis.name);
    (n == 'z' ? info.size_z : n == 'c' ? info.size_c : info.size_t_) = size;
  }
  add_tiff_data(state, img, info);
  add_journal_planes(state, img, info);
  info.planes = img.pending;
  return info;
}

std::string binary_only_xml(const std::string& uuid, const TiffFileId& holder) {
  OmeXmlInput in;
  in.uuid = uuid;
  in.binary_only = std::make_pair(holder.name, holder.uuid);
  return build_ome_xml(in);
}

}  // namespace

TiffFileNames name_tiff_files(const StreamSettings& settings, const Layout& layout) {
  TiffFileNames names;
  const std::string out = settings.output_path();
  const std::size_t npos = layout.positions.size();
  names.multi_file = npos > 1 && settings.format.prefer_single_file != PreferSingleFile::kAlways;
  if (!names.multi_file && settings.format.prefer_single_file == PreferSingleFile::kNever) {
    names.multi_file = true;
  }
  if (!names.multi_file) {
    const std::filesystem::path file = platform::path_from_utf8(out);
    names.files.push_back({platform::path_to_utf8(file.filename()), make_uuid()});
    names.dir = file.parent_path();
    return names;
  }
  names.dir = platform::path_from_utf8(out);
  const std::string stem = platform::path_to_utf8(names.dir.filename());
  for (std::size_t i = 0; i < npos; ++i) {
    char idx[32];
    std::snprintf(idx, sizeof idx, "_p%03zu", i);
    names.files.push_back({stem + idx + settings.format.suffix, make_uuid()});
  }
  if (settings.format.multi_file_metadata == MultiFileMetadata::kCompanionFile) {
    names.companion.name = settings.format.companion_file == "companion.ome"
                               ? stem + ".companion.ome"
                               : path_component(settings.format.companion_file, "companion_file");
    names.companion.uuid = make_uuid();
  }
  return names;
}

void check_tiff_layout(const Layout& layout) {
  if (!ome_pixel_type(layout.dtype)) {
    throw Error(ErrorCode::kInvalidArgument,
                "dtype '" + std::string(dtype_name(layout.dtype)) +
                    "' has no OME-TIFF pixel type (use OME-Zarr, or int32/uint32/float64)");
  }
  for (std::size_t a = 0; a < layout.index_rank(); ++a) {
    const char n = axis_letter(layout.axes[a].name);
    if (layout.axes[a].name.size() != 1 || (n != 't' && n != 'c' && n != 'z')) {
      throw Error(ErrorCode::kNotImplemented,
                  "OME-TIFF stores only t, c and z besides the frame axes; dimension '" +
                      layout.axes[a].name + "' cannot be written (use OME-Zarr)");
    }
  }
}

std::int64_t planes_per_outer_index(const StreamSettings& settings, const Layout& layout) {
  std::int64_t inner = 1;
  for (std::size_t k = 1; k < layout.index_dims_acquisition.size(); ++k) {
    inner *= *settings.dimensions[static_cast<std::size_t>(layout.index_dims_acquisition[k])].count;
  }
  return inner;
}

PlaneInfo plane_at(PlaneInfo plane, const Layout& layout,
                   const std::vector<std::int64_t>& storage_index) {
  for (std::size_t a = 0; a < storage_index.size(); ++a) {
    const char n = axis_letter(layout.axes[a].name);
    (n == 'z' ? plane.z : n == 'c' ? plane.c : plane.t) = storage_index[a];
  }
  return plane;
}

OmeXmlInput full_ome_input(const TiffOmeState& state, const std::string& uuid) {
  OmeXmlInput in;
  in.settings = &state.settings;
  in.layout = &state.layout;
  in.uuid = uuid;
  in.acquisition_date = state.acquisition_date;
  in.global_metadata = state.global_metadata;
  in.first_global_annotation = state.next_annotation;
  const std::int64_t inner = planes_per_outer_index(state.settings, state.layout);
  for (std::size_t i = 0; i < state.images.size(); ++i) {
    in.images.push_back(image_info(state, i, inner));
  }
  return in;
}

void write_file_ome_xml(const TiffOmeState& state, std::size_t file_index, const TextSink& out) {
  const TiffFileId& f = state.files[file_index];
  if (state.multi_file) {
    const auto mode = state.settings.format.multi_file_metadata;
    if (mode == MultiFileMetadata::kCompanionFile) {
      out(binary_only_xml(f.uuid, state.companion));
      return;
    }
    if (mode == MultiFileMetadata::kMasterTiff && file_index != 0) {
      out(binary_only_xml(f.uuid, state.files[0]));
      return;
    }
  }
  write_ome_xml(full_ome_input(state, f.uuid), out);
}

std::string file_ome_xml(const TiffOmeState& state, std::size_t file_index) {
  std::string xml;
  write_file_ome_xml(state, file_index, [&](std::string_view piece) { xml.append(piece); });
  return xml;
}

void write_companion_ome_xml(const TiffOmeState& state, const TextSink& out) {
  write_ome_xml(full_ome_input(state, state.companion.uuid), out);
}

std::string companion_ome_xml(const TiffOmeState& state) {
  return build_ome_xml(full_ome_input(state, state.companion.uuid));
}

std::string tiff_journal_entry(std::int64_t position, const std::vector<std::int64_t>& index,
                               const std::string& metadata_json, std::int64_t annotation) {
  // The metadata text is already valid JSON (checked by append): spliced in,
  // re-serialised only if it spans lines (the journal is one entry per line).
  std::string line = nlohmann::json{{"p", position}, {"i", index}}.dump();
  if (metadata_json.empty()) return line;
  line.pop_back();
  line += ",\"m\":";
  line += metadata_json.find('\n') == std::string::npos
              ? metadata_json
              : nlohmann::json::parse(metadata_json).dump();
  if (annotation >= 0) line += ",\"a\":" + std::to_string(annotation);
  line += "}";
  return line;
}

}  // namespace ome_writers::detail
