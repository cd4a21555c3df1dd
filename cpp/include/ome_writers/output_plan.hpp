// What a stream writes, without writing it: the routing of frames and every
// metadata document, for writing the same OME-Zarr or OME-TIFF through another
// storage library (an object store client, tensorstore, zarr-python,
// tifffile). The Python package's engine adapters are built on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ome_writers/export.hpp"
#include "ome_writers/settings.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers {

/// Routing and documents of one output. Thread-compatible. The caller writes
/// the pixels; the plan records each frame's metadata (in memory: the native
/// Stream keeps it in an on-disk journal instead) and renders the documents
/// the native engine would write for the same frames.
class OME_WRITERS_EXPORT OutputPlan {
 public:
  /// Validates the settings as Stream does, except that root_path may be a
  /// URL (the plan writes nothing). Throws Error naming the offending value.
  explicit OutputPlan(StreamSettings settings);
  ~OutputPlan();
  OutputPlan(OutputPlan&&) noexcept;
  OutputPlan& operator=(OutputPlan&&) noexcept;
  OutputPlan(const OutputPlan&) = delete;
  OutputPlan& operator=(const OutputPlan&) = delete;

  const StreamSettings& settings() const;

  /// Where the n-th frame (acquisition order) goes. Throws kIndexOutOfRange
  /// past the declared frames.
  FrameLocation locate(std::uint64_t frame_number) const;
  /// Frames the settings declare, nullopt when unbounded.
  std::optional<std::uint64_t> total_frames() const;
  std::size_t positions() const;
  /// Array shape in storage order (0 for the unbounded axis).
  std::vector<std::int64_t> declared_shape() const;
  /// Elements per chunk and per shard along each storage axis (equal when
  /// not sharded).
  std::vector<std::int64_t> chunk_shape() const;
  std::vector<std::int64_t> shard_shape() const;
  /// Dimension names in storage order.
  std::vector<std::string> dimension_names() const;

  /// Records a frame written at `where` (or skipped: `skipped`, no
  /// metadata). frame_metadata_json is empty or a JSON object. Call it in the
  /// order the frames reach the files: OME-TIFF planes are numbered by it.
  void record(const FrameLocation& where, std::string_view frame_metadata_json = {},
              bool skipped = false);

  // ---------------------------------------------------------------- OME-Zarr

  /// Path of position `position`'s image group, relative to the root ("" is
  /// the root itself); its array is "<group>/0".
  std::string zarr_image_group(std::size_t position) const;
  /// The array zarr.json of one position at `shape` (storage order).
  std::string zarr_array_document(const std::vector<std::int64_t>& shape) const;
  /// Every group zarr.json (the root, containers, images with their
  /// ome_writers.frame_metadata), by group path relative to the root.
  std::map<std::string, std::string> zarr_group_documents() const;
  /// OME/METADATA.ome.xml of a bioformats2raw store (several positions, no
  /// plate), or nullopt. Stable for the plan's lifetime.
  std::optional<std::string> zarr_ome_xml() const;

  // ---------------------------------------------------------------- OME-TIFF

  /// The files, in position order: the path of each relative to the output
  /// directory is its name (one file, or one per position).
  std::vector<std::string> tiff_file_names() const;
  /// Name of the companion .ome file, or empty when there is none.
  std::string tiff_companion_name() const;
  /// Ends an OME-TIFF run as the native engine does: each position's last,
  /// partly filled index of the outermost axis is completed with blank planes
  /// (so that the sizes in the OME-XML and the planes agree). Records them and
  /// returns the position of each, in the order to write them.
  std::vector<std::int64_t> finish_tiff();
  /// The OME-XML of file `file_index` for the planes recorded so far
  /// (`closed`: the run is over, so the outermost axis counts the planes).
  std::string tiff_ome_xml(std::size_t file_index, bool closed) const;
  /// The companion file's OME-XML (empty when there is none).
  std::string tiff_companion_xml(bool closed) const;

  // ------------------------------------------------------------ both formats

  /// The metadata users read and edit (OMEStream.get_metadata()): JSON of
  /// the image groups' attributes by path ("." for the root) for OME-Zarr,
  /// of the OME-XML by file index for OME-TIFF.
  std::string metadata_json(bool closed) const;
  /// Replaces image-group attributes (OME-Zarr; a JSON object by path).
  /// Throws kInvalidArgument for an unknown path.
  void update_metadata_json(const std::string& text);
  /// Sets global metadata under `name_space` (JSON text): a root attribute
  /// in OME-Zarr, a MapAnnotation in OME-TIFF.
  void set_global_metadata(const std::string& name_space, const std::string& json_text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ome_writers
