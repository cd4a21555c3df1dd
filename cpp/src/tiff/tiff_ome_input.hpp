// The OME-XML documents of an OME-TIFF stream, built from the sink's state:
// the full document (every Image, its TiffData and planes) and, for multi-file
// output, the BinaryOnly documents that point at the file holding it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/layout.hpp"
#include "ome/ome_xml.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// One OME Image (one position): where its planes went and their metadata.
struct TiffImage {
  std::size_t file = 0;
  std::int64_t frames = 0;         ///< planes written (blank ones included)
  std::vector<std::int64_t> ifds;  ///< IFD of each plane, in plane order
  std::vector<PlaneInfo> planes;   ///< planes that carry metadata
};

/// A file of the output as the OME-XML names it.
struct TiffFileId {
  std::string name;  ///< file name only
  std::string uuid;  ///< "urn:uuid:..."
};

/// What the OME-XML of an OME-TIFF stream describes (borrowed from the sink).
struct TiffOmeState {
  const StreamSettings& settings;
  const Layout& layout;
  const std::string& acquisition_date;
  const std::map<std::string, nlohmann::json>& global_metadata;
  const std::vector<TiffImage>& images;
  const std::vector<TiffFileId>& files;
  bool multi_file;
  const TiffFileId& companion;  ///< name empty: no companion file
  /// After close the outermost axis counts the planes written even when bounded.
  bool closed;
};

/// Planes of one index of the outermost (acquisition order) axis.
std::int64_t planes_per_outer_index(const StreamSettings& settings, const Layout& layout);

/// `plane` with its z, c and t set from the storage index of its frame.
PlaneInfo plane_at(PlaneInfo plane, const Layout& layout,
                   const std::vector<std::int64_t>& storage_index);

/// The full document (every Image), under the UUID `uuid`.
OmeXmlInput full_ome_input(const TiffOmeState& state, const std::string& uuid);

/// The OME-XML of file `file_index`: the full document, or BinaryOnly when
/// another file (or the companion) holds the metadata.
std::string file_ome_xml(const TiffOmeState& state, std::size_t file_index);

/// The OME-XML of the companion file (the full document).
std::string companion_ome_xml(const TiffOmeState& state);

}  // namespace ome_writers::detail
