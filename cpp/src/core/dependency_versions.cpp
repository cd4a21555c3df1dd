// The versions of the C libraries the core runs, for bug reports and for the
// benchmarks' records: the wheels link newer compressors than Debian 12 ships
// (scripts/debian_source.sh), and a build that fell back to the older ones
// should be visible from Python and C++ alike.
#include <blosc.h>
#include <libdeflate.h>
#include <tiffio.h>
#include <zstd.h>

#include <pugixml.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ome_writers/stream.hpp"

namespace ome_writers {

namespace {

// TIFFGetVersion() is a banner ("LIBTIFF, Version 4.5.0\nCopyright ..."): its
// first line's last word.
std::string libtiff_version() {
  std::string banner = TIFFGetVersion();
  banner = banner.substr(0, banner.find('\n'));
  const auto space = banner.rfind(' ');
  return space == std::string::npos ? banner : banner.substr(space + 1);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> dependency_versions() {
  // zstd, blosc and libtiff report the library that is running; libdeflate
  // and pugixml (header-only versions) the one compiled against, which is
  // the one linked in the static builds.
  return {
      {"libtiff", libtiff_version()},
      {"zstd", ZSTD_versionString()},
      {"blosc", blosc_get_version_string()},
      {"libdeflate", LIBDEFLATE_VERSION_STRING},
      {"pugixml",
       std::to_string(PUGIXML_VERSION / 1000) + "." + std::to_string(PUGIXML_VERSION % 1000 / 10)},
  };
}

}  // namespace ome_writers
