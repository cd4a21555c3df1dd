// Settings cross the language boundary as JSON (see settings.hpp).
#include "ome_writers/settings.hpp"

#include <nanobind/stl/string.h>

#include "bindings.hpp"
#include "ome_writers/stream.hpp"

namespace nb = nanobind;

namespace ome_writers::python {

void bind_settings(nb::module_& m) {
  m.def(
      "settings_roundtrip",
      [](const std::string& json) { return StreamSettings::from_json(json).to_json(); },
      nb::arg("settings_json"),
      "Parses settings JSON in C++ and serialises it again (keeps Python and C++ in step).");
  m.def(
      "output_path",
      [](const std::string& json) { return StreamSettings::from_json(json).output_path(); },
      nb::arg("settings_json"), "The output path the C++ engine derives from the settings.");
  m.def(
      "check_compression",
      [](const std::string& format, const std::string& compression) {
        const auto s =
            StreamSettings::from_json(R"({"dtype": "uint8", "format": {"name": ")" + format +
                                      R"("}, "compression": ")" + compression + R"("})");
        check_compression(s.format.name, s.compression);
      },
      nb::arg("format"), nb::arg("compression"),
      "Raises ValueError unless the format ('ome-zarr' or 'ome-tiff') can store the codec.");
  m.def("version", &version, "Version of the C++ library.");
  m.def(
      "dependency_versions",
      [] {
        nb::dict out;
        for (const auto& [name, value] : dependency_versions()) out[name.c_str()] = value;
        return out;
      },
      "The C libraries this build runs, name -> version (libtiff, zstd, blosc, libdeflate, "
      "pugixml).");
  m.def(
      "recover", [](const std::string& path) { return recover(path); }, nb::arg("path"),
      nb::call_guard<nb::gil_scoped_release>(),
      "Repairs the metadata of an output left by a process that died before close().");
}

}  // namespace ome_writers::python
