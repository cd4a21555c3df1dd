// Pure builders of OME-Zarr v0.5 / Zarr v3 metadata documents.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/layout.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// The "ome" attribute of an image group: multiscales (axes, dataset "0"
/// with scale and translation, then one dataset "1".. per reduced level, whose
/// scale is the full resolution's times `level_factors[level - 1]`) and omero
/// channels when the channel axis has coords. `centred_levels`: a reduced
/// pixel stands for the centre of the block it summarises (every method but
/// decimate), which shifts the level's translation by half a block.
nlohmann::ordered_json ome_image_attributes(
    const Layout& layout, const Position& position,
    const std::vector<std::vector<double>>& level_factors = {}, bool centred_levels = false);

/// A complete array zarr.json: shape, chunk grid, codecs (sharded or not).
nlohmann::ordered_json zarr_array_metadata(const Layout& layout,
                                           const std::vector<std::int64_t>& shape,
                                           const std::string& compressor_json);

/// A group zarr.json with the given attributes.
nlohmann::ordered_json zarr_group_metadata(const nlohmann::ordered_json& attributes);

/// Series name of a position in the bioformats2raw layout: its group's path,
/// the name (with "_<grid row>_<grid column>") as a path_component().
std::string series_name(const Position& position);

/// The "ome" attribute of an HCS plate group.
nlohmann::ordered_json ome_plate_attributes(const Plate& plate,
                                            const std::vector<Position>& positions);

/// Path of the image group of positions[i], relative to the root: "" for a
/// single image, "<row>/<column>/<name>" in a plate (the position must name
/// its well), the series name in a bioformats2raw store; each name stored as
/// a path_component() (util/fs.hpp), never as a path.
std::string image_group_path(const std::optional<Plate>& plate,
                             const std::vector<Position>& positions, std::size_t i);

/// image_group_path() of every position, checked: in a plate each position
/// names its well, and no two positions share a group (they would overwrite
/// each other's frames). Throws kInvalidArgument naming the positions.
std::vector<std::string> image_group_paths(const StreamSettings& settings, const Layout& layout);

/// Attributes of the groups that hold no image, keyed by path relative to the
/// root: the bioformats2raw root and its "OME" series group for several
/// positions, the plate root with its row and well groups in a plate, none
/// for a single image. Every position in a plate must name its well.
std::map<std::string, nlohmann::ordered_json> container_group_attributes(
    const std::optional<Plate>& plate, const std::vector<Position>& positions);

/// The "ome_writers" attribute of an image group: this library's version and
/// the metadata entries of the group's frames (a JSON array).
nlohmann::ordered_json frame_metadata_attributes(const nlohmann::ordered_json& entries);

}  // namespace ome_writers::detail
