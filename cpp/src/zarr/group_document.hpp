// An image group's zarr.json with its frame metadata, written from the
// journal: the entries are never all in memory, however long the run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/journal.hpp"

namespace ome_writers::detail {

/// What the ome_writers block says about the journal's entries.
struct FrameMetadataSource {
  const Journal* journal = nullptr;  ///< nullptr: no entries
  std::uint64_t end = 0;             ///< its lines before this offset
  /// Leave out lines that are not JSON objects (a crashed stream's journal).
  bool check_lines = false;
};

/// Writes `zarr_json` (atomically): a group with `attributes` and the
/// ome_writers block, whose frame_metadata holds the journal's lines in order.
void write_image_group(const std::filesystem::path& zarr_json,
                       const nlohmann::ordered_json& attributes,
                       const FrameMetadataSource& entries);

}  // namespace ome_writers::detail
