// libFuzzer target: frame metadata text given to append() is either taken
// (and journaled by the writer thread) or refused with ome_writers::Error; the
// stream keeps working either way. Any other exception, crash or sanitizer
// report is a bug.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "platform/platform.hpp"

namespace {

std::unique_ptr<ome_writers::Stream> open_stream() {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("ome_writers_fuzz_" + std::to_string(ome_writers::platform::process_id()) + ".ome.zarr");
  ome_writers::StreamSettings s;
  s.root_path = dir.string();
  s.overwrite = true;
  s.dtype = ome_writers::DataType::kUInt8;
  ome_writers::Dimension t, y, x;
  t.name = "t";
  t.type = ome_writers::DimensionType::kTime;
  y.name = "y";
  y.count = 2;
  x.name = "x";
  x.count = 2;
  s.dimensions = {t, y, x};
  s.engine.fsync_on_close = false;
  return std::make_unique<ome_writers::Stream>(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<ome_writers::Stream> stream = open_stream();
  static std::uint64_t appended = 0;
  const std::uint8_t pixels[4] = {1, 2, 3, 4};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    stream->append(pixels, sizeof pixels, text);
    // A fresh stream now and then: the metadata of a long run stays in memory.
    if (++appended % 4096 == 0) {
      stream->close();
      stream = open_stream();
    }
  } catch (const ome_writers::Error&) {
    // Refused at the call; a writer-thread failure would show here too, and
    // the stream would stay failed: start a new one so the run goes on.
    try {
      stream->flush();
    } catch (const ome_writers::Error&) {
      stream = open_stream();
    }
  }
  return 0;
}
