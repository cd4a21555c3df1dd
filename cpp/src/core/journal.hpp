// Where a stream keeps its journal while it is open (removed at close; a
// crashed stream's journal is what recover() folds into the metadata).
#pragma once

#include <filesystem>
#include <string>

namespace ome_writers::detail {

/// OME-Zarr: one journal in each image group's directory.
inline constexpr const char* kZarrJournalName = "ome_writers.journal.jsonl";

/// OME-TIFF: one journal beside the output (file or directory of files).
inline std::filesystem::path tiff_journal_path(const std::string& output_path) {
  return std::filesystem::path(output_path + ".journal.jsonl");
}

}  // namespace ome_writers::detail
