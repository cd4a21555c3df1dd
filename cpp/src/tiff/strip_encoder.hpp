// Encodes a plane's strips for TIFF's Zstd and Adobe Deflate codecs, in
// parallel, so that libtiff only writes them (raw strips).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/task_pool.hpp"
#include "ome_writers/settings.hpp"
#include "tiff/plane_format.hpp"
#include "util/aligned_buffer.hpp"

namespace ome_writers::detail {

class StripEncoder {
 public:
  /// Encodes planes of `format` with `compression` (kZstd or kDeflate) at
  /// `level` (0: the codec's default). `tasks` (optional) encodes strips in
  /// parallel. `format` must outlive the encoder.
  StripEncoder(const TiffPlaneFormat& format, DataType dtype, Compression compression, int level,
               TaskPool* tasks);

  /// Encodes every strip of a stored plane; strip(s) holds strip s until the next call.
  void encode_plane(const std::byte* pixels);
  const AlignedBuffer& strip(std::uint32_t s) const { return *strips_[s]; }

 private:
  void encode_strip(const std::byte* pixels, std::size_t rows, AlignedBuffer& out) const;
  /// Horizontal differencing (TIFF predictor 2) of `rows` rows into `out`.
  void difference_rows(const std::byte* pixels, std::size_t rows, AlignedBuffer& out) const;
  void compress_zstd(const std::byte* src, std::size_t n, AlignedBuffer& out) const;
  void compress_deflate(const std::byte* src, std::size_t n, AlignedBuffer& out) const;

  const TiffPlaneFormat& format_;
  std::size_t sample_bytes_;
  Compression compression_;
  int level_;
  TaskPool* tasks_;
  std::vector<std::unique_ptr<AlignedBuffer>> strips_;
};

}  // namespace ome_writers::detail
