#include <filesystem>

#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"
#include "tiff/tiff_sink.hpp"
#include "zarr/zarr_sink.hpp"

namespace ome_writers {

std::uint64_t recover(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path tiff_journal(path + ".journal.jsonl");
  if (fs::exists(tiff_journal)) return detail::TiffSink::recover(tiff_journal);
  if (fs::is_directory(p) && fs::exists(p / "zarr.json")) return detail::ZarrSink::recover(p);
  throw Error(ErrorCode::kInvalidArgument,
              "'" + path + "' is neither an OME-Zarr store nor an OME-TIFF with a journal");
}

}  // namespace ome_writers
