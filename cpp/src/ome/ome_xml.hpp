// Pure builder of OME-XML (2016-06 schema) documents with pugixml.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/layout.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// Metadata of one plane, from the frame_metadata given to append().
struct PlaneInfo {
  std::int64_t z = 0, c = 0, t = 0;
  std::optional<double> delta_t, exposure_time, position_x, position_y, position_z;
  /// Other keys, as MapAnnotation entries (value text).
  std::vector<std::pair<std::string, std::string>> extra;
  /// ID number of the plane's MapAnnotation (when extra is not empty).
  std::int64_t annotation = -1;
};

/// A TiffData element: planes starting at an IFD of a file.
struct TiffDataBlock {
  std::int64_t ifd = 0;
  std::int64_t plane_count = 0;
  std::optional<std::int64_t> first_z, first_c, first_t;
  std::string file_name;  ///< set for multi-file output (with uuid)
  std::string uuid;
};

/// One Image (one position).
struct ImageInfo {
  std::int64_t index = 0;  ///< position index
  std::int64_t size_z = 1, size_c = 1, size_t_ = 1;
  std::vector<TiffDataBlock> tiff_data;  ///< empty: MetadataOnly
  std::vector<PlaneInfo> planes;
};

/// Everything one OME-XML document says.
struct OmeXmlInput {
  const StreamSettings* settings = nullptr;
  const Layout* layout = nullptr;
  std::string uuid;  ///< this document's (file's) UUID, "urn:uuid:..."
  std::string acquisition_date;
  std::vector<ImageInfo> images;
  std::map<std::string, nlohmann::json> global_metadata;
  /// When set, the document only points at the file that holds the metadata.
  std::optional<std::pair<std::string, std::string>> binary_only;  // (file, uuid)
};

/// The start of the OME Creator attribute this library writes (the version
/// follows): how overwrite=True tells our TIFFs from a user's files.
inline constexpr char kCreatorPrefix[] = "ome_writers ";

/// Builds the OME-XML text.
std::string build_ome_xml(const OmeXmlInput& input);

/// OME-XML for an OME-Zarr bioformats2raw store (Images with MetadataOnly).
/// The caller supplies the document's UUID ("urn:uuid:...") and the
/// acquisition date (ISO 8601), so that the same inputs give the same text.
std::string build_ome_xml_for_zarr(const StreamSettings& settings, const Layout& layout,
                                   const std::string& uuid, const std::string& acquisition_date);

/// DimensionOrder of an OME-TIFF written in acquisition order ("XYZCT"...).
std::string tiff_dimension_order(const Layout& layout);

/// OME pixel type name of a dtype ("uint16", "float", "double", "bit"...), or
/// nullopt when OME has none (int64, uint64).
std::optional<std::string> ome_pixel_type(DataType type);

/// OME-XML unit symbol of an NGFF unit name ("micrometer" -> "µm"), or nullopt.
std::optional<std::string> ome_unit_symbol(const std::string& ngff_unit);

/// A random UUID as "urn:uuid:xxxxxxxx-...".
std::string make_uuid();

/// Current UTC time as ISO 8601 with a Z suffix.
std::string utc_now_iso8601();

/// Splits frame metadata (JSON object text) into plane attributes and extras.
PlaneInfo plane_from_metadata(const nlohmann::json& metadata);

}  // namespace ome_writers::detail
