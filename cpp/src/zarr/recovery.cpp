// ZarrSink::recover: folds the frame-metadata journals of a store left by a
// crashed process into its zarr.json files.
#include <algorithm>

#include "core/journal.hpp"
#include "ome/ome_zarr_json.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"
#include "zarr/group_document.hpp"
#include "zarr/zarr_sink.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

/// The extent along the index axes of the frames a journal describes, and
/// how many entries it has (lines cut short or garbled by the crash left out).
struct JournalExtent {
  std::vector<std::int64_t> extent;
  std::size_t entries = 0;
};

JournalExtent scan_journal(const Journal& journal) {
  JournalExtent out;
  journal.for_each_line(0, journal.size(), [&](std::string_view line, std::uint64_t) {
    if (!json::accept(line) || line.front() != '{') return;
    const json entry = json::parse(line);
    const auto idx = entry.value("storage_index", std::vector<std::int64_t>{});
    if (out.extent.size() < idx.size()) out.extent.resize(idx.size(), 0);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      out.extent[i] = std::max(out.extent[i], idx[i] + 1);
    }
    ++out.entries;
  });
  return out;
}

/// The array shape may lag behind the data written after the last flush.
void grow_array_shape(const fs::path& array_meta, const std::vector<std::int64_t>& extent) {
  if (!fs::exists(array_meta)) return;
  json am = json::parse(read_file(array_meta));
  auto shape = am["shape"].get<std::vector<std::int64_t>>();
  bool grew = false;
  for (std::size_t i = 0; i < extent.size() && i < shape.size(); ++i) {
    if (extent[i] > shape[i]) {
      shape[i] = extent[i];
      grew = true;
    }
  }
  if (grew) {
    am["shape"] = shape;
    write_file_atomic(array_meta, am.dump(2));
  }
}

/// The reduced levels of a pyramid lag as level 0 does: each grows to the
/// journal's extent divided by its factor (its scale over level 0's) per axis.
void grow_level_shapes(const fs::path& group, const json& meta,
                       const std::vector<std::int64_t>& extent) {
  const json* datasets = nullptr;
  try {
    datasets = &meta.at("attributes").at("ome").at("multiscales").at(0).at("datasets");
  } catch (const json::exception&) {
    return;  // not an image group this library wrote
  }
  if (datasets->size() < 2) return;
  const auto base = (*datasets)[0]["coordinateTransformations"][0]["scale"];
  for (std::size_t d = 1; d < datasets->size(); ++d) {
    const json& ds = (*datasets)[d];
    const auto scale = ds["coordinateTransformations"][0]["scale"];
    std::vector<std::int64_t> level_extent = extent;
    for (std::size_t i = 0; i < level_extent.size() && i < scale.size(); ++i) {
      const double b = base[i].get<double>();
      const auto factor = b > 0 ? static_cast<std::int64_t>(scale[i].get<double>() / b + 0.5) : 1;
      if (factor > 1) level_extent[i] = (level_extent[i] + factor - 1) / factor;
    }
    grow_array_shape(group / ds["path"].get<std::string>() / "zarr.json", level_extent);
  }
}

}  // namespace

std::size_t ZarrSink::recover(const fs::path& root) {
  std::size_t recovered = 0;
  std::error_code ec;
  // Collect first: the journals are removed as they are folded.
  std::vector<fs::path> journals;
  std::vector<fs::path> temporaries;  // a zarr.json on its way into place when the process died
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = platform::path_to_utf8(it->path().filename());
    if (name == kZarrJournalName) journals.push_back(it->path());
    if (is_temporary_name(name) && it->is_regular_file()) temporaries.push_back(it->path());
  }
  for (const fs::path& t : temporaries) fs::remove(t, ec);
  for (const fs::path& journal : journals) {
    const fs::path group = journal.parent_path();
    const json meta = json::parse(read_file(group / "zarr.json"));
    Journal lines = Journal::open(journal);
    const JournalExtent read = scan_journal(lines);
    recovered += read.entries;
    write_image_group(group / "zarr.json", meta.value("attributes", json::object()),
                      FrameMetadataSource{&lines, lines.size(), /*check_lines=*/true});
    grow_array_shape(group / "0" / "zarr.json", read.extent);
    grow_level_shapes(group, meta, read.extent);
    lines.remove();
  }
  return recovered;
}

}  // namespace ome_writers::detail
