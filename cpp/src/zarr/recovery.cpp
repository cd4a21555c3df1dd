// ZarrSink::recover: folds the frame-metadata journals of a store left by a
// crashed process into its zarr.json files.
#include <algorithm>
#include <fstream>

#include "core/journal.hpp"
#include "ome/ome_zarr_json.hpp"
#include "util/fs.hpp"
#include "zarr/zarr_sink.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

/// A journal's complete entries, and the extent along the index axes of the
/// frames they describe.
struct JournalEntries {
  json entries = json::array();
  std::vector<std::int64_t> extent;
};

JournalEntries read_journal(const fs::path& journal) {
  JournalEntries out;
  std::ifstream in(journal);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json entry;
    try {
      entry = json::parse(line);
    } catch (const json::exception&) {
      break;  // a line cut short by the crash
    }
    const auto idx = entry.value("storage_index", std::vector<std::int64_t>{});
    if (out.extent.size() < idx.size()) out.extent.resize(idx.size(), 0);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      out.extent[i] = std::max(out.extent[i], idx[i] + 1);
    }
    out.entries.push_back(std::move(entry));
  }
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

}  // namespace

std::size_t ZarrSink::recover(const fs::path& root) {
  std::size_t recovered = 0;
  std::error_code ec;
  // Collect first: the journals are removed as they are folded.
  std::vector<fs::path> journals;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().filename() == kZarrJournalName) journals.push_back(it->path());
  }
  for (const fs::path& journal : journals) {
    const fs::path group = journal.parent_path();
    json meta = json::parse(read_file(group / "zarr.json"));
    const JournalEntries read = read_journal(journal);
    recovered += read.entries.size();
    meta["attributes"]["ome_writers"] = frame_metadata_attributes(read.entries);
    write_file_atomic(group / "zarr.json", meta.dump(2));
    grow_array_shape(group / "0" / "zarr.json", read.extent);
    fs::remove(journal, ec);
  }
  return recovered;
}

}  // namespace ome_writers::detail
