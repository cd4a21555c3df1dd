#include <array>

#include "ome_writers/errors.hpp"
#include "ome_writers/types.hpp"

namespace ome_writers {

namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<TypeInfo, 13> kTypes = {{
    {DataType::kBool, "bool", 1},
    {DataType::kInt8, "int8", 1},
    {DataType::kInt16, "int16", 2},
    {DataType::kInt32, "int32", 4},
    {DataType::kInt64, "int64", 8},
    {DataType::kUInt8, "uint8", 1},
    {DataType::kUInt16, "uint16", 2},
    {DataType::kUInt32, "uint32", 4},
    {DataType::kUInt64, "uint64", 8},
    {DataType::kFloat32, "float32", 4},
    {DataType::kFloat64, "float64", 8},
    {DataType::kComplex64, "complex64", 8},
    {DataType::kComplex128, "complex128", 16},
}};

const TypeInfo& info(DataType type) noexcept { return kTypes[static_cast<std::size_t>(type)]; }

}  // namespace

std::size_t bytes_per_element(DataType type) noexcept { return info(type).size; }

std::string_view dtype_name(DataType type) noexcept { return info(type).name; }

std::optional<DataType> parse_dtype(std::string_view name) noexcept {
  for (const auto& t : kTypes) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

bool is_integer(DataType type) noexcept {
  return type != DataType::kBool && !is_floating(type) && type != DataType::kComplex64 &&
         type != DataType::kComplex128;
}

bool is_floating(DataType type) noexcept {
  return type == DataType::kFloat32 || type == DataType::kFloat64;
}

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kTypeMismatch:
      return "type_mismatch";
    case ErrorCode::kIndexOutOfRange:
      return "index_out_of_range";
    case ErrorCode::kFileExists:
      return "file_exists";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kNotImplemented:
      return "not_implemented";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kClosed:
      return "closed";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace ome_writers
