// Pixel data types.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "ome_writers/export.hpp"

namespace ome_writers {

/// Pixel data type of a stream. Names follow numpy (``uint16``, ``float32``...).
enum class DataType {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
};

/// Size of one element in bytes.
OME_WRITERS_EXPORT std::size_t bytes_per_element(DataType type) noexcept;

/// numpy name of the type, e.g. "uint16"; also the Zarr v3 data_type name.
OME_WRITERS_EXPORT std::string_view dtype_name(DataType type) noexcept;

/// Parses a numpy dtype name ("uint16", "float32", "bool"...). Returns nullopt
/// for names this library does not know.
OME_WRITERS_EXPORT std::optional<DataType> parse_dtype(std::string_view name) noexcept;

/// True for the signed and unsigned integer types.
OME_WRITERS_EXPORT bool is_integer(DataType type) noexcept;

/// True for float32/float64 (complex types excluded).
OME_WRITERS_EXPORT bool is_floating(DataType type) noexcept;

}  // namespace ome_writers
