// Pure builder of OME-XML (2016-06 schema) documents with pugixml.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/layout.hpp"
#include "ome_writers/settings.hpp"
#include "util/text_sink.hpp"

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

/// Hands elements to a callback one at a time, in document order.
template <typename T>
using Generator = std::function<void(const std::function<void(const T&)>&)>;

/// One Image (one position).
struct ImageInfo {
  std::int64_t index = 0;  ///< position index
  std::int64_t size_z = 1, size_c = 1, size_t_ = 1;
  std::vector<TiffDataBlock> tiff_data;  ///< empty (and no each_tiff_data): MetadataOnly
  std::vector<PlaneInfo> planes;
  /// Elements too many to hold (one per frame of a long run), written one at
  /// a time where the document has them: TiffData before `tiff_data`, Planes
  /// before `planes`, and the planes' MapAnnotations (`annotated` of them).
  Generator<TiffDataBlock> each_tiff_data;
  Generator<PlaneInfo> each_plane;
  std::int64_t annotated = 0;
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
  /// ID number of the first global-metadata MapAnnotation (-1: after the
  /// planes' annotations in `images`).
  std::int64_t first_global_annotation = -1;
};

/// The start of the OME Creator attribute this library writes (the version
/// follows): how overwrite=True tells our TIFFs from a user's files.
inline constexpr char kCreatorPrefix[] = "ome_writers ";

/// Builds the OME-XML text.
std::string build_ome_xml(const OmeXmlInput& input);

/// Writes the OME-XML text to `out` piece by piece: the generated elements
/// are never all in memory.
void write_ome_xml(const OmeXmlInput& input, const TextSink& out);

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

/// `xml` (a whole OME document) with the global metadata under `name_space`
/// set to `value`: its MapAnnotation replaced, or added with the next free ID.
/// A BinaryOnly document is returned as it is.
std::string with_global_metadata(const std::string& xml, const std::string& name_space,
                                 const nlohmann::json& value);

/// Splits frame metadata (JSON object text) into plane attributes and extras.
PlaneInfo plane_from_metadata(const nlohmann::json& metadata);

}  // namespace ome_writers::detail
