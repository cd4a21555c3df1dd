#include "core/sink_factory.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "core/journal.hpp"
#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "tiff/tiff_sink.hpp"
#include "zarr/unit_writer.hpp"
#include "zarr/zarr_sink.hpp"

namespace ome_writers::detail {

int encoder_threads(const StreamSettings& settings, const Layout& layout) {
  const bool zarr = settings.format.name == FileFormat::kOmeZarr;
  const bool compressed = settings.compression != Compression::kNone;
  // OME-TIFF encodes in parallel only the strips it compresses itself (LZW
  // goes through libtiff on the writer thread); plain planes need no pool.
  if (!zarr && settings.compression != Compression::kDeflate &&
      settings.compression != Compression::kZstd) {
    return 0;
  }
  if (settings.engine.writer_threads > 0) return settings.engine.writer_threads;
  const unsigned hw = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  // Plain chunks only wait on the disk: one writer per core (more threads in
  // system calls preempt the appending thread and raise its latency).
  if (!compressed) return static_cast<int>(hw);
  // Compressed whole-frame chunks leave their disk writes to an io thread:
  // an encoder per core never waits, and a third one only time-slices with
  // them (more CPU per GB). Encoders that write their own units, or strips,
  // need one more than cores to keep every core busy while one writes.
  if (zarr && stores_through_io_thread(layout, true, settings.engine.direct_io)) {
    return static_cast<int>(hw);
  }
  return static_cast<int>(hw + 1);
}

std::unique_ptr<Sink> make_sink(const StreamSettings& settings, const Layout& layout,
                                MemoryBudget& budget, TaskPool& tasks) {
  if (settings.format.name == FileFormat::kOmeZarr) {
    return std::make_unique<ZarrSink>(settings, layout, budget, tasks);
  }
  return std::make_unique<TiffSink>(settings, layout, &tasks);
}

std::uint64_t recover_output(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path tiff_journal = tiff_journal_path(path);
  if (fs::exists(tiff_journal)) return TiffSink::recover(tiff_journal);
  const fs::path store = platform::path_from_utf8(path);
  if (fs::is_directory(store) && fs::exists(store / "zarr.json")) return ZarrSink::recover(store);
  throw Error(ErrorCode::kInvalidArgument,
              "'" + path + "' is neither an OME-Zarr store nor an OME-TIFF with a journal");
}

}  // namespace ome_writers::detail
