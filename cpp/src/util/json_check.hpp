// A quick syntax check of JSON text on the append path.
#pragma once

#include <string_view>

namespace ome_writers::detail {

/// True when `text` is certainly one JSON value (RFC 8259: UTF-8, no control
/// characters in strings, paired surrogate escapes) that nlohmann::json
/// parses; false when it is not, or when the check is not sure (a byte-order
/// mark, nesting deeper than 64): ask nlohmann::json then. About ten times
/// faster than nlohmann::json::accept, which converts every number it meets;
/// the writer parses the text later anyway.
bool quick_json_check(std::string_view text) noexcept;

}  // namespace ome_writers::detail
