#include "zarr/group_document.hpp"

#include <string>

#include "ome/ome_zarr_json.hpp"
#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

using json = nlohmann::ordered_json;

void write_image_group(const std::filesystem::path& zarr_json, const json& attributes,
                       const FrameMetadataSource& entries) {
  // The document is built with a marker where the entries go, then written
  // around it with the entries streamed in. The block is the last attribute,
  // so the marker is the last occurrence of its text (user strings come first).
  static const std::string kMarker = "\x01ome_writers frame_metadata\x01";
  json attrs = attributes;
  attrs.erase("ome_writers");
  attrs["ome_writers"] = frame_metadata_attributes(json(kMarker));
  const std::string doc = zarr_group_metadata(attrs).dump(2);
  const std::string quoted = json(kMarker).dump();
  const std::size_t at = doc.rfind(quoted);
  if (at == std::string::npos) {
    throw Error(ErrorCode::kInternal,
                "frame metadata marker lost in " + platform::path_to_utf8(zarr_json));
  }
  write_file_atomic_streamed(zarr_json, [&](const TextSink& out) {
    out(std::string_view(doc).substr(0, at));
    out("[");
    bool first = true;
    if (entries.journal != nullptr) {
      entries.journal->for_each_line(0, entries.end, [&](std::string_view line, std::uint64_t) {
        if (entries.check_lines && !(json::accept(line) && line.front() == '{')) return;
        out(first ? "\n" : ",\n");
        out(line);
        first = false;
      });
    }
    out(first ? "]" : "\n]");
    out(std::string_view(doc).substr(at + quoted.size()));
  });
}

}  // namespace ome_writers::detail
