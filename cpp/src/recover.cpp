#include "core/sink_factory.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers {

std::uint64_t recover(const std::string& path) { return detail::recover_output(path); }

}  // namespace ome_writers
