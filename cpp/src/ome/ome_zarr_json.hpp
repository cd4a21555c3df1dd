// Pure builders of OME-Zarr v0.5 / Zarr v3 metadata documents.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/layout.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// The "ome" attribute of an image group: multiscales (axes, one dataset "0"
/// with scale and translation) and omero channels when the channel axis has coords.
nlohmann::ordered_json ome_image_attributes(const Layout& layout, const Position& position);

/// A complete array zarr.json: shape, chunk grid, codecs (sharded or not).
nlohmann::ordered_json zarr_array_metadata(const Layout& layout,
                                           const std::vector<std::int64_t>& shape,
                                           const std::string& compressor_json);

/// A group zarr.json with the given attributes.
nlohmann::ordered_json zarr_group_metadata(const nlohmann::ordered_json& attributes);

/// Series name of a position in the bioformats2raw layout.
std::string series_name(const Position& position);

/// The "ome" attribute of an HCS plate group.
nlohmann::ordered_json ome_plate_attributes(const Plate& plate,
                                            const std::vector<Position>& positions);

}  // namespace ome_writers::detail
