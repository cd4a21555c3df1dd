// Rewrites the OME-XML of an OME-TIFF (the ImageDescription of its first IFD)
// so that the file holds a whole document at every instant: the new text goes
// where the current one is not, then one tag entry is switched to it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "tiff/direct_file.hpp"
#include "util/text_sink.hpp"

namespace ome_writers::detail {

/// Where a file's descriptions live. Two places take turns: the one the tag
/// points at stays whole while the other is written. A place too small for the
/// new text is replaced by a larger one at the end of the file (with room to
/// grow), so a long run leaves at most two descriptions' worth of space behind.
struct DescriptionSlots {
  struct Slot {
    std::uint64_t offset = 0;
    std::uint64_t capacity = 0;  // bytes, the NUL included
  };
  std::uint64_t entry = 0;  // file offset of the ImageDescription tag entry (0: not located)
  Slot slots[2];
  int current = 0;  // the slot the tag points at
};

/// Replaces the ImageDescription of a little-endian BigTIFF's first IFD with
/// `xml`. Goes through `open_file` while the stream still writes the file
/// (nullptr or closed: through `path`). `slots` (nullptr: a file written by an
/// earlier process) remembers the places between calls; without it the new
/// text is appended.
void patch_image_description(const std::filesystem::path& path, DirectFile* open_file,
                             const std::string& xml, DescriptionSlots* slots = nullptr);

/// The same for a document too large to hold: `produce` hands its text to the
/// sink it is given, the same text each time it is called (twice: its length
/// decides where it goes).
void patch_image_description(const std::filesystem::path& path, DirectFile* open_file,
                             const std::function<void(const TextSink&)>& produce,
                             DescriptionSlots* slots = nullptr);

}  // namespace ome_writers::detail
