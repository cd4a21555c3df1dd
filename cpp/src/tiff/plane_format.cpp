#include "tiff/plane_format.hpp"

#include <algorithm>
#include <string>

namespace ome_writers::detail {

namespace {

/// Compressed planes are cut into strips of about this size, so that their
/// strips can be encoded in parallel.
constexpr std::size_t kStripBytes = 256u << 10;

std::uint16_t tiff_sample_format(DataType t) {
  if (is_floating(t)) return SAMPLEFORMAT_IEEEFP;
  if (t == DataType::kComplex64 || t == DataType::kComplex128) return SAMPLEFORMAT_COMPLEXIEEEFP;
  if (t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32)
    return SAMPLEFORMAT_INT;
  return SAMPLEFORMAT_UINT;
}

// Pixels per centimetre for a pixel size in the given NGFF length unit.
std::optional<double> pixels_per_cm(const Dimension& d) {
  if (!d.scale || *d.scale <= 0) return std::nullopt;
  const std::string unit = d.unit.value_or("micrometer");
  const double cm = unit == "micrometer"   ? 1e-4
                    : unit == "nanometer"  ? 1e-7
                    : unit == "millimeter" ? 1e-1
                    : unit == "centimeter" ? 1.0
                    : unit == "meter"      ? 100.0
                                           : 0.0;
  if (cm == 0.0) return std::nullopt;
  return 1.0 / (*d.scale * cm);
}

}  // namespace

std::uint16_t tiff_compression(Compression c) {
  switch (c) {
    case Compression::kLzw:
      return COMPRESSION_LZW;
    case Compression::kDeflate:
      return COMPRESSION_ADOBE_DEFLATE;
    case Compression::kZstd:
      return COMPRESSION_ZSTD;
    default:
      return COMPRESSION_NONE;
  }
}

TiffPlaneFormat::TiffPlaneFormat(const StreamSettings& settings, const Layout& layout)
    : width(static_cast<std::uint32_t>(layout.width)),
      height(static_cast<std::uint32_t>(layout.height)),
      sample_format(tiff_sample_format(layout.dtype)),
      compression(tiff_compression(settings.compression)),
      bit_packed(layout.dtype == DataType::kBool) {
  bits_per_sample =
      bit_packed ? 1 : static_cast<std::uint16_t>(8 * bytes_per_element(layout.dtype));
  predictor = compression != COMPRESSION_NONE && is_integer(layout.dtype);
  row_bytes = bit_packed ? (width + 7) / 8 : width * bytes_per_element(layout.dtype);
  rows_per_strip = height;
  if (compression != COMPRESSION_NONE) {
    rows_per_strip = static_cast<std::uint32_t>(std::max<std::size_t>(1, kStripBytes / row_bytes));
    rows_per_strip = std::min(rows_per_strip, height);
  }
  const auto& xdim = settings.dimensions.back();
  const auto& ydim = settings.dimensions[settings.dimensions.size() - 2];
  const auto xres = pixels_per_cm(xdim);
  const auto yres = pixels_per_cm(ydim);
  if (xres && yres) {
    x_resolution = xres;
    y_resolution = yres;
  }
}

void TiffPlaneFormat::set_tags(TIFF* tif) const {
  // Compression first: setting it later resets the strip layout of the first IFD.
  TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits_per_sample);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, sample_format);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
  if (predictor) TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  if (x_resolution && y_resolution) {
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, *x_resolution);
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, *y_resolution);
  }
  TIFFSetField(tif, TIFFTAG_SOFTWARE, "ome_writers");
}

void pack_bits(const std::byte* frame, const TiffPlaneFormat& format, std::vector<std::byte>& out) {
  out.assign(format.plane_bytes(), std::byte{0});
  for (std::uint32_t y = 0; y < format.height; ++y) {
    for (std::uint32_t x = 0; x < format.width; ++x) {
      if (frame[static_cast<std::size_t>(y) * format.width + x] != std::byte{0}) {
        out[y * format.row_bytes + x / 8] |= static_cast<std::byte>(0x80 >> (x % 8));
      }
    }
  }
}

void unpack_bits(const std::byte* packed, const TiffPlaneFormat& format, std::byte* frame) {
  const std::size_t w = format.width;
  for (std::size_t y = 0; y < format.height; ++y) {
    for (std::size_t x = 0; x < w; ++x) {
      const auto byte = std::to_integer<unsigned>(packed[y * format.row_bytes + x / 8]);
      frame[y * w + x] = static_cast<std::byte>((byte >> (7 - x % 8)) & 1);
    }
  }
}

}  // namespace ome_writers::detail
