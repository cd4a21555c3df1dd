// Recovery of an OME-TIFF stream that crashed: its files hold the planes, its
// journal says where each belongs and what metadata it carries.
#include <optional>
#include <utility>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "tiff/tiff_io.hpp"
#include "tiff/tiff_sink.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Planes (IFDs) libtiff finds in each file.
std::vector<std::int64_t> planes_on_disk(const std::vector<std::unique_ptr<TiffFile>>& files) {
  std::vector<std::int64_t> on_disk;
  for (const auto& f : files) {
    std::int64_t n = 0;
    if (fs::exists(f->path)) {
      TiffMessages messages;
      TIFF* tif = open_tiff(f->path, "rc", &messages);
      if (tif != nullptr) {
        n = TIFFNumberOfDirectories(tif);
        TIFFClose(tif);
      }
    }
    on_disk.push_back(n);
  }
  return on_disk;
}

}  // namespace

bool TiffSink::replay(const json& entry, std::uint64_t offset,
                      const std::vector<std::int64_t>& on_disk) {
  const auto position = entry.value("p", std::int64_t{0});
  TiffImage& image = images_.at(static_cast<std::size_t>(position));
  TiffFile& f = *files_[image.file];
  if (f.ifds >= on_disk[image.file]) return false;
  std::optional<std::uint64_t> line;
  if (entry.contains("m")) line = offset;
  record_plane(image, f, line, entry.value("a", std::int64_t{-1}) >= 0);
  return true;
}

std::uint64_t TiffSink::recover(const fs::path& journal) {
  Journal lines = Journal::open(journal);
  std::optional<json> head;
  lines.for_each_line(0, lines.size(), [&](std::string_view line, std::uint64_t) {
    if (!head) head = json::parse(line);
  });
  if (!head) {
    throw Error(ErrorCode::kInvalidArgument,
                "journal '" + platform::path_to_utf8(journal) + "' is empty");
  }
  const StreamSettings settings = StreamSettings::from_json(head->at("settings").dump());
  const Layout layout(settings);
  TiffSink sink(settings, layout, nullptr, &*head);
  // A file still under its temporary name (killed before its first plane was
  // written) or a document on its way into place is not part of the output.
  std::error_code ec;
  for (const auto& f : sink.files_) {
    const fs::path dir = f->path.has_parent_path() ? f->path.parent_path() : fs::path(".");
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = platform::path_to_utf8(entry.path().filename());
      const std::string stem = platform::path_to_utf8(f->path.filename()) + ".tmp";
      if (name.rfind(stem, 0) == 0 && is_temporary_name(name)) fs::remove(entry.path(), ec);
    }
  }
  // Planes actually in each file (a plane journaled but not linked is dropped).
  const std::vector<std::int64_t> on_disk = planes_on_disk(sink.files_);
  std::uint64_t frames = 0;
  bool first = true;
  bool replaying = true;
  lines.for_each_line(0, lines.size(), [&](std::string_view line, std::uint64_t offset) {
    if (std::exchange(first, false) || !replaying) return;  // the head; or past the end
    if (!json::accept(line)) {
      replaying = false;  // the line the crash cut short
      return;
    }
    replaying = sink.replay(json::parse(line), offset, on_disk);
    if (replaying) ++frames;
  });
  // With one position the planes after the last journal line are still in order.
  if (sink.images_.size() == 1) {
    TiffImage& image = sink.images_[0];
    TiffFile& f = *sink.files_[image.file];
    while (f.ifds < on_disk[image.file]) {
      sink.record_plane(image, f, std::nullopt, false);
      ++frames;
    }
  }
  // The documents read the planes' metadata from the journal, until close()
  // removes it.
  sink.journal_ = std::move(lines);
  for (auto& f : sink.files_) {
    if (f->ifds > 0) {
      f->tif = open_tiff(f->path, "a8", &f->messages);
      if (f->tif == nullptr) tiff_failure("cannot reopen", f->path, f->messages);
    }
  }
  sink.close();
  return frames;
}

}  // namespace ome_writers::detail
