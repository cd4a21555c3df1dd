// libFuzzer target: settings JSON from anywhere (a file, another program)
// either parses, validates and round-trips, or throws ome_writers::Error.
// Any other exception, crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ome_writers/errors.hpp"
#include "ome_writers/settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto settings = ome_writers::StreamSettings::from_json(text);
    (void)settings.output_path();
    const std::string once = settings.to_json();
    if (ome_writers::StreamSettings::from_json(once).to_json() != once) __builtin_trap();
    settings.validate();
  } catch (const ome_writers::Error&) {
  }
  return 0;
}
