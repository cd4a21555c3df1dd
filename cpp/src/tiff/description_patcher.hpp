// Rewrites the OME-XML of an OME-TIFF: the ImageDescription of its first IFD.
#pragma once

#include <filesystem>
#include <string>

#include "tiff/direct_file.hpp"

namespace ome_writers::detail {

/// Replaces the ImageDescription of a little-endian BigTIFF's first IFD with
/// `xml`: in place when the new text fits, else appended at the end of the file
/// with the tag pointed at it (libtiff cannot do this in update mode without
/// re-chopping the first strip). Goes through `open_file` while the stream
/// still writes the file (nullptr or closed: through `path`).
void patch_image_description(const std::filesystem::path& path, DirectFile* open_file,
                             const std::string& xml);

}  // namespace ome_writers::detail
