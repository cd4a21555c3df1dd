// Text that XML 1.0 can carry, from any string.
#pragma once

#include <string>
#include <string_view>

namespace ome_writers::detail {

/// `text` (UTF-8, possibly with NULs) as text every XML 1.0 parser reads back, reversibly.
///
/// A code point outside the XML 1.0 `Char` production (C0 controls other than tab, LF and CR,
/// U+FFFE, U+FFFF) is written `\uXXXX` (4 upper-case hex digits); a backslash that the
/// decoder would read as the start of such an escape (a backslash followed by `u` and 4 hex
/// digits of either case) is written `\u005C`. All other text, Windows paths included, is
/// unchanged. A byte that is not part of valid UTF-8 (only possible from C++) becomes U+FFFD.
/// Decoding: replace every `\u` + 4 hex digits, left to right, by that code point.
std::string xml_text(std::string_view text);

/// `xml` as saved by pugixml with each literal CR (which pugixml leaves in element text and
/// every parser normalises to LF) written as the character reference `&#13;`.
std::string keep_carriage_returns(std::string xml);

}  // namespace ome_writers::detail
