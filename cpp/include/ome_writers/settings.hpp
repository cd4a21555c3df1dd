// Acquisition settings: the same fields as the Python AcquisitionSettings model.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ome_writers/export.hpp"
#include "ome_writers/types.hpp"

namespace ome_writers {

/// What a dimension means. kUnset is a dimension with no declared type.
enum class DimensionType { kUnset, kSpace, kTime, kChannel, kPosition, kOther };

/// An imaging channel (an element of a channel dimension's coords).
struct Channel {
  std::string name;
  std::optional<int> excitation_wavelength_nm;
  std::optional<int> emission_wavelength_nm;
  std::optional<std::string> fluorophore;
  /// Display colour as RGBA, 0-255 each.
  std::optional<std::array<std::uint8_t, 4>> color;
};

/// A stage position (an element of a position dimension's coords).
struct Position {
  std::string name;
  std::optional<std::string> plate_row;
  std::optional<std::string> plate_column;
  std::optional<int> grid_row;
  std::optional<int> grid_column;
  std::optional<double> x_coord;
  std::optional<double> y_coord;
  std::optional<double> z_coord;
};

/// One axis of the acquisition, in acquisition order (slowest first; the last
/// two are the frame's Y and X).
struct Dimension {
  std::string name;
  /// Number of elements; nullopt means unbounded (first dimension only).
  std::optional<std::int64_t> count;
  DimensionType type = DimensionType::kUnset;
  /// Elements per Zarr chunk along this axis (default: 1, or the full frame for Y/X).
  std::optional<std::int64_t> chunk_size;
  /// Chunks per shard along this axis; any dimension setting it turns sharding on.
  std::optional<std::int64_t> shard_size_chunks;
  /// NGFF unit name ("micrometer", "second"...).
  std::optional<std::string> unit;
  std::optional<double> scale;
  std::optional<double> translation;
  /// Channel coordinates (channel dimensions).
  std::vector<Channel> channels;
  /// Position coordinates (position dimensions).
  std::vector<Position> positions;
};

/// A multi-well plate.
struct Plate {
  std::vector<std::string> row_names;
  std::vector<std::string> column_names;
  std::optional<std::string> name;
};

/// Output file format.
enum class FileFormat { kOmeZarr, kOmeTiff };

/// Pixel compression. TIFF takes none/lzw/deflate/zstd; Zarr takes
/// none/blosc-zstd/blosc-lz4/zstd.
enum class Compression { kNone, kLzw, kDeflate, kZstd, kBloscZstd, kBloscLz4 };

/// Whether several positions go to one multi-series OME-TIFF or one file each.
enum class PreferSingleFile { kAuto, kAlways, kNever };

/// Where the full OME-XML goes when several TIFF files are written.
enum class MultiFileMetadata { kRedundant, kMasterTiff, kCompanionFile };

/// Format-specific settings (the Python ``format`` field).
struct FormatSettings {
  FileFormat name = FileFormat::kOmeZarr;
  /// Extension of the output path; empty: the format's own (".ome.zarr" or
  /// ".ome.tiff"). See StreamSettings::output_path().
  std::string suffix;
  PreferSingleFile prefer_single_file = PreferSingleFile::kAuto;
  MultiFileMetadata multi_file_metadata = MultiFileMetadata::kRedundant;
  std::string companion_file = "companion.ome";
};

/// How a pyramid level's pixel is computed from the 2x2 (or 2x2x2) block of
/// the level above it (docs/pyramids.md has the exact rules).
enum class DownsampleMethod {
  kMean,      ///< integers: rounded half to even; floats: computed in double
  kMin,       ///< smallest value of the block
  kMax,       ///< largest value of the block
  kDecimate,  ///< the block's first pixel (top-left, first plane)
  kMode,      ///< most frequent value, ties to the smallest (labels: integer/bool dtypes)
};

/// A multiscale pyramid written during acquisition: each level halves y and
/// x (and z with downsample_z) of the level above it, rounding sizes up.
struct PyramidSettings {
  /// Datasets in all, full resolution included: 1 writes no pyramid.
  int levels = 1;
  /// Halve until a level fits one y/x chunk (the y/x chunk_size when set
  /// below the frame, else 256 x 256); `levels` is then computed.
  bool auto_levels = false;
  DownsampleMethod method = DownsampleMethod::kMean;
  /// Halve z too (OME-Zarr only: z must be stored with a chunk_size above 1).
  bool downsample_z = false;

  bool enabled() const { return auto_levels || levels > 1; }
};

/// The order of the non-frame axes in storage (the frame's Y, X stay last).
enum class StorageOrder {
  kOme,          ///< OME-Zarr: NGFF order (time, channel, space); OME-TIFF: acquisition order
  kAcquisition,  ///< as acquired
  kList,         ///< as listed in StreamSettings::storage_order_list
};

/// Tuning of the engine itself (not part of the Python model's fields).
struct EngineOptions {
  /// Bytes the frame queue and the chunk buffers may hold together.
  std::uint64_t max_memory_bytes = 512ull << 20;
  /// How long append() waits for room in the queue before it throws kTimeout.
  double append_timeout_seconds = 30.0;
  /// Threads that encode and write chunks; 0 picks one per core (at most 4),
  /// plus one when compressing.
  int writer_threads = 0;
  /// fsync the output on close, so a power loss after close() loses nothing.
  bool fsync_on_close = true;
  /// Write Zarr chunks with O_DIRECT (no page-cache copy) where the file
  /// system allows it.
  bool direct_io = true;
  /// Compression level; 0 = the codec's default (README: blosc clevel 2 for
  /// integers / 3 for floats, blosc-lz4 5, zstd 1; TIFF zstd 3, deflate 1).
  /// blosc 1-9, zstd 1-22, deflate 1-12; none and LZW take no level.
  int compression_level = 0;
  /// Seconds between checkpoints: at most this long after an append, with no
  /// further call, the frame and its metadata are in the files, readable by
  /// standard readers and durable. A writer that is behind checkpoints once
  /// per interval, and the frame is in place at the first checkpoint after it
  /// is written. 0 turns checkpoints off (flush() and close() still write
  /// everything).
  double checkpoint_interval_seconds = 1.0;
};

/// Everything needed to create a stream.
struct OME_WRITERS_EXPORT StreamSettings {
  std::string root_path;
  std::vector<Dimension> dimensions;
  DataType dtype = DataType::kUInt16;
  FormatSettings format;
  Compression compression = Compression::kNone;
  StorageOrder storage_order = StorageOrder::kOme;
  /// Every dimension name, in storage order (with StorageOrder::kList).
  std::vector<std::string> storage_order_list;
  std::optional<Plate> plate;
  bool overwrite = false;
  PyramidSettings pyramid;
  EngineOptions engine;

  /// Parses the JSON produced by Python's ``AcquisitionSettings.model_dump_json()``
  /// (plus an optional "engine" object). Throws Error(kInvalidArgument) naming
  /// the bad field.
  static StreamSettings from_json(const std::string& json);

  /// Serialises to the same JSON shape that from_json() reads.
  std::string to_json() const;

  /// Checks the rules the Python model enforces, for C++ callers who fill the
  /// struct by hand. Throws Error naming the offending value.
  void validate() const;

  /// Path of the output: root_path with its [.ome].zarr / [.ome].tif[f]
  /// extension replaced by format.suffix (or the format's own); the stem
  /// directory for multi-file OME-TIFF.
  std::string output_path() const;
  /// format.suffix, or the format's own extension when it is empty.
  std::string output_suffix() const;
};

/// Throws Error(kInvalidArgument) unless `format` can store `compression`
/// (OME-TIFF: none, lzw, deflate, zstd; OME-Zarr: none, blosc-zstd,
/// blosc-lz4, zstd). StreamSettings::validate() applies it.
OME_WRITERS_EXPORT void check_compression(FileFormat format, Compression compression);

/// Name used in JSON for each enum.
OME_WRITERS_EXPORT const char* to_string(DimensionType value) noexcept;
OME_WRITERS_EXPORT const char* to_string(FileFormat value) noexcept;
OME_WRITERS_EXPORT const char* to_string(Compression value) noexcept;
OME_WRITERS_EXPORT const char* to_string(DownsampleMethod value) noexcept;

}  // namespace ome_writers
