// The OME-XML documents of an OME-TIFF stream, built from the sink's state:
// the full document (every Image, its TiffData and planes) and, for multi-file
// output, the BinaryOnly documents that point at the file holding it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/journal.hpp"
#include "core/layout.hpp"
#include "ome/ome_xml.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// One OME Image (one position): where its planes went and where their
/// metadata is (the journal's lines: none of it is held in memory).
struct TiffImage {
  std::size_t file = 0;
  std::int64_t frames = 0;         ///< planes written (blank ones included)
  std::vector<std::int64_t> ifds;  ///< IFD of each plane, in plane order
  /// Journal offsets of the entries of the planes that carry metadata.
  std::vector<std::uint64_t> plane_lines;
  std::int64_t annotated = 0;  ///< planes among them with a MapAnnotation
  /// Planes with metadata held in memory instead of the journal (an
  /// OutputPlan's), in plane order; written as the journal's would be.
  std::vector<PlaneInfo> recorded;
  /// Planes not in the journal yet (the first plane of a file, described
  /// before it is written).
  std::vector<PlaneInfo> pending;
};

/// A file of the output as the OME-XML names it.
struct TiffFileId {
  std::string name;  ///< file name only
  std::string uuid;  ///< "urn:uuid:..."
};

/// The files of an OME-TIFF output and their identities (fresh UUIDs).
struct TiffFileNames {
  bool multi_file = false;        ///< one file per position, in `dir`
  std::filesystem::path dir;      ///< the directory holding the files
  std::vector<TiffFileId> files;  ///< in position order (one when single-file)
  TiffFileId companion;           ///< name empty: no companion file
};

/// Names the files as the settings ask (prefer_single_file, suffix,
/// multi_file_metadata, companion_file). Throws for a bad companion name.
TiffFileNames name_tiff_files(const StreamSettings& settings, const Layout& layout);

/// Throws unless OME-TIFF can store the layout: an OME pixel type, and no
/// axes besides t, c, z and the frame axes.
void check_tiff_layout(const Layout& layout);

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
  const Journal* journal;  ///< where the planes' metadata is
  /// ID number of the next MapAnnotation (the global metadata's come after the planes').
  std::int64_t next_annotation;
};

/// Planes of one index of the outermost (acquisition order) axis.
std::int64_t planes_per_outer_index(const StreamSettings& settings, const Layout& layout);

/// `plane` with its z, c and t set from the storage index of its frame.
PlaneInfo plane_at(PlaneInfo plane, const Layout& layout,
                   const std::vector<std::int64_t>& storage_index);

/// The full document (every Image), under the UUID `uuid`.
OmeXmlInput full_ome_input(const TiffOmeState& state, const std::string& uuid);

/// The OME-XML of file `file_index`: the full document, or BinaryOnly when
/// another file (or the companion) holds the metadata. Written piece by
/// piece (write_...) or returned whole.
void write_file_ome_xml(const TiffOmeState& state, std::size_t file_index, const TextSink& out);
std::string file_ome_xml(const TiffOmeState& state, std::size_t file_index);

/// The OME-XML of the companion file (the full document).
void write_companion_ome_xml(const TiffOmeState& state, const TextSink& out);
std::string companion_ome_xml(const TiffOmeState& state);

/// The journal entry of a frame written to an OME-TIFF: its position, storage
/// index, metadata (JSON object text, or empty) and MapAnnotation number (-1: none).
std::string tiff_journal_entry(std::int64_t position, const std::vector<std::int64_t>& index,
                               const std::string& metadata_json, std::int64_t annotation);

}  // namespace ome_writers::detail
