// Where a document's text goes when it is written piece by piece.
#pragma once

#include <functional>
#include <string_view>

namespace ome_writers::detail {

/// Receives a document's text, piece by piece, in order.
using TextSink = std::function<void(std::string_view)>;

}  // namespace ome_writers::detail
