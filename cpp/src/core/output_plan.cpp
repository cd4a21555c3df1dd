#include "ome_writers/output_plan.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "codec/codecs.hpp"
#include "core/layout.hpp"
#include "ome/ome_xml.hpp"
#include "ome/ome_zarr_json.hpp"
#include "ome_writers/errors.hpp"
#include "tiff/tiff_ome_input.hpp"

namespace ome_writers {

using json = nlohmann::ordered_json;

struct OutputPlan::Impl {
  explicit Impl(StreamSettings s)
      : settings(std::move(s)),
        layout(detail::validated_layout(settings, /*local_output=*/false)),
        acquisition_date(detail::utc_now_iso8601()) {
    if (settings.format.name == FileFormat::kOmeZarr) {
      codec_json =
          detail::ChunkCodec(settings.compression, layout.dtype, settings.engine.compression_level)
              .codec_json();
      image_groups = detail::image_group_paths(settings, layout);
      groups = detail::container_group_attributes(settings.plate, layout.positions);
      for (std::size_t i = 0; i < image_groups.size(); ++i) {
        groups[image_groups[i]] =
            json{{"ome", detail::ome_image_attributes(layout, layout.positions[i])}};
      }
      entries.resize(image_groups.size(), json::array());
      if (layout.positions.size() > 1 && !settings.plate) {
        bf2raw_xml =
            detail::build_ome_xml_for_zarr(settings, layout, detail::make_uuid(), acquisition_date);
      }
    } else {
      detail::check_tiff_layout(layout);
      names = detail::name_tiff_files(settings, layout);
      images.resize(layout.positions.size());
      planes_in_file.assign(names.files.size(), 0);
      for (std::size_t i = 0; i < images.size(); ++i) images[i].file = names.multi_file ? i : 0;
    }
  }

  detail::TiffOmeState tiff_state(bool closed) const {
    return {settings, layout,      acquisition_date, global_metadata,
            images,   names.files, names.multi_file, names.companion,
            closed,   nullptr,     next_annotation};
  }

  StreamSettings settings;
  detail::Layout layout;
  std::string acquisition_date;
  // OME-Zarr
  std::string codec_json;
  std::vector<std::string> image_groups;
  std::map<std::string, json> groups;  // attributes by group path
  std::vector<json> entries;           // frame metadata of each image group
  std::optional<std::string> bf2raw_xml;
  // OME-TIFF
  detail::TiffFileNames names;
  std::vector<detail::TiffImage> images;
  std::vector<std::int64_t> planes_in_file;
  std::map<std::string, nlohmann::json> global_metadata;
  std::int64_t next_annotation = 0;
};

OutputPlan::OutputPlan(StreamSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}
OutputPlan::~OutputPlan() = default;
OutputPlan::OutputPlan(OutputPlan&&) noexcept = default;
OutputPlan& OutputPlan::operator=(OutputPlan&&) noexcept = default;

const StreamSettings& OutputPlan::settings() const { return impl_->settings; }

FrameLocation OutputPlan::locate(std::uint64_t frame_number) const {
  return impl_->layout.locate(frame_number);
}

std::optional<std::uint64_t> OutputPlan::total_frames() const { return impl_->layout.total_frames; }

std::size_t OutputPlan::positions() const { return impl_->layout.positions.size(); }

std::vector<std::int64_t> OutputPlan::declared_shape() const {
  std::vector<std::int64_t> out;
  for (const auto& a : impl_->layout.axes) out.push_back(a.count);
  return out;
}

std::vector<std::int64_t> OutputPlan::chunk_shape() const {
  std::vector<std::int64_t> out;
  for (const auto& a : impl_->layout.axes) out.push_back(a.chunk);
  return out;
}

std::vector<std::int64_t> OutputPlan::shard_shape() const {
  std::vector<std::int64_t> out;
  for (const auto& a : impl_->layout.axes) out.push_back(a.shard);
  return out;
}

std::vector<std::string> OutputPlan::dimension_names() const {
  std::vector<std::string> out;
  for (const auto& a : impl_->layout.axes) out.push_back(a.name);
  return out;
}

void OutputPlan::record(const FrameLocation& where, std::string_view frame_metadata_json,
                        bool skipped) {
  Impl& p = *impl_;
  // Checks the location as the native engine's frame key does.
  (void)p.layout.frame_key(where.position, where.storage_index);
  const auto position = static_cast<std::size_t>(where.position);
  // Parsed once, as the sink parses it: ordered keys for the Zarr entries.
  const auto parsed = [&](auto as) {
    auto metadata = decltype(as)::parse(frame_metadata_json, nullptr, /*allow_exceptions=*/false);
    if (!metadata.is_object()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "frame metadata must be a JSON object, got: " + std::string(frame_metadata_json));
    }
    return metadata;
  };
  const bool has_metadata = !frame_metadata_json.empty();
  if (p.settings.format.name == FileFormat::kOmeZarr) {
    if (!has_metadata) return;
    json metadata = parsed(json());
    if (skipped) return;
    metadata["storage_index"] = where.storage_index;
    p.entries[position].push_back(std::move(metadata));
    return;
  }
  const nlohmann::json metadata = has_metadata ? parsed(nlohmann::json()) : nlohmann::json();
  detail::TiffImage& image = p.images[position];
  image.ifds.push_back(p.planes_in_file[image.file]++);
  ++image.frames;
  if (skipped || !has_metadata) return;
  detail::PlaneInfo plane =
      detail::plane_at(detail::plane_from_metadata(metadata), p.layout, where.storage_index);
  if (!plane.extra.empty()) {
    plane.annotation = p.next_annotation++;
    ++image.annotated;
  }
  image.recorded.push_back(std::move(plane));
}

std::string OutputPlan::zarr_image_group(std::size_t position) const {
  return impl_->image_groups.at(position);
}

std::string OutputPlan::zarr_array_document(const std::vector<std::int64_t>& shape) const {
  if (shape.size() != impl_->layout.axes.size()) {
    throw Error(ErrorCode::kInvalidArgument, "an array shape has " +
                                                 std::to_string(impl_->layout.axes.size()) +
                                                 " axes, got " + std::to_string(shape.size()));
  }
  return detail::zarr_array_metadata(impl_->layout, shape, impl_->codec_json).dump(2);
}

std::map<std::string, std::string> OutputPlan::zarr_group_documents() const {
  const Impl& p = *impl_;
  std::map<std::string, std::string> out;
  for (const auto& [path, attrs] : p.groups) {
    json doc_attrs = attrs;
    for (std::size_t i = 0; i < p.image_groups.size(); ++i) {
      if (p.image_groups[i] != path) continue;
      // Every image group carries the block, as the native engine writes it.
      doc_attrs.erase("ome_writers");
      doc_attrs["ome_writers"] = detail::frame_metadata_attributes(p.entries[i]);
    }
    out[path] = detail::zarr_group_metadata(doc_attrs).dump(2);
  }
  return out;
}

std::optional<std::string> OutputPlan::zarr_ome_xml() const { return impl_->bf2raw_xml; }

std::vector<std::string> OutputPlan::tiff_file_names() const {
  std::vector<std::string> out;
  for (const auto& f : impl_->names.files) out.push_back(f.name);
  return out;
}

std::string OutputPlan::tiff_companion_name() const { return impl_->names.companion.name; }

std::vector<std::int64_t> OutputPlan::finish_tiff() {
  Impl& p = *impl_;
  std::vector<std::int64_t> blanks;
  if (p.settings.format.name != FileFormat::kOmeTiff) return blanks;
  const std::int64_t inner = detail::planes_per_outer_index(p.settings, p.layout);
  std::int64_t total = 0;
  for (const auto& img : p.images) total += img.frames;
  if (total == 0) return blanks;
  for (std::size_t i = 0; i < p.images.size(); ++i) {
    detail::TiffImage& image = p.images[i];
    const std::int64_t target =
        std::max<std::int64_t>(1, (image.frames + inner - 1) / inner) * inner;
    while (image.frames < target) {
      image.ifds.push_back(p.planes_in_file[image.file]++);
      ++image.frames;
      blanks.push_back(static_cast<std::int64_t>(i));
    }
  }
  return blanks;
}

std::string OutputPlan::tiff_ome_xml(std::size_t file_index, bool closed) const {
  if (file_index >= impl_->names.files.size()) {
    throw Error(ErrorCode::kInvalidArgument,
                "no OME-TIFF file with index " + std::to_string(file_index));
  }
  return detail::file_ome_xml(impl_->tiff_state(closed), file_index);
}

std::string OutputPlan::tiff_companion_xml(bool closed) const {
  if (impl_->names.companion.name.empty()) return {};
  return detail::companion_ome_xml(impl_->tiff_state(closed));
}

std::string OutputPlan::metadata_json(bool closed) const {
  const Impl& p = *impl_;
  json out = json::object();
  if (p.settings.format.name == FileFormat::kOmeZarr) {
    for (const auto& g : p.image_groups) out[g.empty() ? "." : g] = p.groups.at(g);
    return out.dump();
  }
  for (std::size_t i = 0; i < p.names.files.size(); ++i) {
    out[std::to_string(i)] = tiff_ome_xml(i, closed);
  }
  if (!p.names.companion.name.empty()) out["-1"] = tiff_companion_xml(closed);
  return out.dump();
}

void OutputPlan::update_metadata_json(const std::string& text) {
  Impl& p = *impl_;
  if (p.settings.format.name != FileFormat::kOmeZarr) {
    throw Error(ErrorCode::kInvalidArgument,
                "OME-TIFF metadata is replaced as whole documents, not through the plan");
  }
  const json update = json::parse(text);
  for (const auto& [key, attrs] : update.items()) {
    if (p.groups.find(key == "." ? "" : key) == p.groups.end()) {
      throw Error(ErrorCode::kInvalidArgument, "unknown metadata group '" + key + "'");
    }
  }
  for (const auto& [key, attrs] : update.items()) {
    json clean = attrs;
    clean.erase("ome_writers");
    p.groups[key == "." ? "" : key] = std::move(clean);
  }
}

void OutputPlan::set_global_metadata(const std::string& name_space, const std::string& json_text) {
  Impl& p = *impl_;
  if (p.settings.format.name == FileFormat::kOmeZarr) {
    // On the root group (the image, bf2raw or plate root), as the native engine.
    p.groups[""][name_space] = json::parse(json_text);
  } else {
    p.global_metadata[name_space] = nlohmann::json::parse(json_text);
  }
}

}  // namespace ome_writers
