// How the OME-TIFF sink stores a plane in an IFD: its tags and its cut into
// strips (the same for every plane of a stream).
#pragma once

#include <tiffio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/layout.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// libtiff's COMPRESSION_* code of a codec (COMPRESSION_NONE for codecs TIFF lacks).
std::uint16_t tiff_compression(Compression c);

struct TiffPlaneFormat {
  /// The format of `layout`'s frames compressed with `settings.compression`.
  TiffPlaneFormat(const StreamSettings& settings, const Layout& layout);

  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint16_t bits_per_sample = 0;
  std::uint16_t sample_format = 0;  ///< SAMPLEFORMAT_*
  std::uint16_t compression = 0;    ///< COMPRESSION_*
  /// Horizontal differencing (TIFF predictor 2) before compression.
  bool predictor = false;
  /// A bool frame (a byte per pixel) stored as 1-bit samples, MSB first.
  bool bit_packed = false;
  std::size_t row_bytes = 0;  ///< stored bytes of one row
  std::uint32_t rows_per_strip = 0;
  /// Pixels per centimetre, when both pixel sizes are known.
  std::optional<double> x_resolution, y_resolution;

  std::uint32_t strip_count() const { return (height + rows_per_strip - 1) / rows_per_strip; }
  /// Rows in strip `s` (the last may be shorter).
  std::uint32_t strip_rows(std::uint32_t s) const {
    return std::min(rows_per_strip, height - s * rows_per_strip);
  }
  /// Offset of strip `s` in the stored plane.
  std::size_t strip_offset(std::uint32_t s) const {
    return static_cast<std::size_t>(s) * rows_per_strip * row_bytes;
  }
  /// Bytes of the stored (bit-packed, uncompressed) plane.
  std::size_t plane_bytes() const { return row_bytes * height; }

  /// Sets the tags of the IFD being written, all but ImageDescription.
  void set_tags(TIFF* tif) const;
};

/// Packs a bool frame (a byte per pixel) into `format`'s 1-bit rows.
void pack_bits(const std::byte* frame, const TiffPlaneFormat& format, std::vector<std::byte>& out);

/// Unpacks 1-bit rows into a bool frame (a byte per pixel, 0 or 1).
void unpack_bits(const std::byte* packed, const TiffPlaneFormat& format, std::byte* frame);

}  // namespace ome_writers::detail
