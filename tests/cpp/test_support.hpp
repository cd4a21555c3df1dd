// Small builders of settings for the C++ tests.
#pragma once

#include <tiffio.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ome_writers/settings.hpp"

namespace ome_writers::testing {

inline Dimension dim(const std::string& name, std::optional<std::int64_t> count,
                     DimensionType type = DimensionType::kUnset,
                     std::optional<std::int64_t> chunk = std::nullopt,
                     std::optional<std::int64_t> shard = std::nullopt) {
  Dimension d;
  d.name = name;
  d.count = count;
  d.type = type;
  d.chunk_size = chunk;
  d.shard_size_chunks = shard;
  return d;
}

inline StreamSettings settings(std::vector<Dimension> dims,
                               FileFormat format = FileFormat::kOmeZarr,
                               const std::string& root = "out") {
  StreamSettings s;
  s.root_path = root;
  s.dimensions = std::move(dims);
  s.format.name = format;
  s.format.suffix = format == FileFormat::kOmeZarr ? ".ome.zarr" : ".ome.tiff";
  return s;
}

/// TIFFOpen of a path (libtiff's narrow names are ANSI on Windows).
inline TIFF* tiff_open(const std::filesystem::path& path, const char* mode) {
#if defined(_WIN32)
  return TIFFOpenW(path.wstring().c_str(), mode);
#else
  return TIFFOpen(path.c_str(), mode);
#endif
}

}  // namespace ome_writers::testing
