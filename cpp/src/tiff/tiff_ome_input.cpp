#include "tiff/tiff_ome_input.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace ome_writers::detail {

namespace {

char axis_letter(const std::string& name) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
}

/// One TiffData per plane, with its z, c and t: the planes of an Image that
/// shares its file with other Images interleave with theirs.
void add_plane_blocks(const TiffImage& img, const Layout& layout, ImageInfo& info) {
  const std::string order = tiff_dimension_order(layout);
  for (std::size_t p = 0; p < img.ifds.size(); ++p) {
    TiffDataBlock td;
    td.ifd = img.ifds[p];
    td.plane_count = 1;
    std::int64_t rest = static_cast<std::int64_t>(p);
    std::int64_t zct[3] = {0, 0, 0};
    for (std::size_t k = 2; k < 5; ++k) {
      const char d = order[k];
      const std::int64_t size = d == 'Z' ? info.size_z : d == 'C' ? info.size_c : info.size_t_;
      const std::int64_t v = rest % size;
      rest /= size;
      (d == 'Z' ? zct[0] : d == 'C' ? zct[1] : zct[2]) = v;
    }
    td.first_z = zct[0];
    td.first_c = zct[1];
    td.first_t = zct[2];
    info.tiff_data.push_back(td);
  }
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
  info.planes = img.planes;
  return info;
}

std::string binary_only_xml(const std::string& uuid, const TiffFileId& holder) {
  OmeXmlInput in;
  in.uuid = uuid;
  in.binary_only = std::make_pair(holder.name, holder.uuid);
  return build_ome_xml(in);
}

}  // namespace

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
  const std::int64_t inner = planes_per_outer_index(state.settings, state.layout);
  for (std::size_t i = 0; i < state.images.size(); ++i) {
    in.images.push_back(image_info(state, i, inner));
  }
  return in;
}

std::string file_ome_xml(const TiffOmeState& state, std::size_t file_index) {
  const TiffFileId& f = state.files[file_index];
  if (state.multi_file) {
    const auto mode = state.settings.format.multi_file_metadata;
    if (mode == MultiFileMetadata::kCompanionFile) return binary_only_xml(f.uuid, state.companion);
    if (mode == MultiFileMetadata::kMasterTiff && file_index != 0) {
      return binary_only_xml(f.uuid, state.files[0]);
    }
  }
  return build_ome_xml(full_ome_input(state, f.uuid));
}

std::string companion_ome_xml(const TiffOmeState& state) {
  return build_ome_xml(full_ome_input(state, state.companion.uuid));
}

}  // namespace ome_writers::detail
