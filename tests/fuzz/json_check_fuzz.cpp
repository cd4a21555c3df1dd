// libFuzzer target: the quick JSON check on the append path never passes text
// that nlohmann::json (the writer's parser) refuses. The writer would fail on
// such a frame long after append() returned.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/json_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (ome_writers::detail::quick_json_check(text) && !nlohmann::json::accept(text)) std::abort();
  return 0;
}
