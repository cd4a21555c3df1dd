// ome_writers::OutputPlan: routing and documents for the engine adapters
// (python/ome_writers/_adapters.py), which write the pixels through another
// library.
#include "ome_writers/output_plan.hpp"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"

namespace nb = nanobind;

namespace ome_writers::python {

void bind_output_plan(nb::module_& m) {
  nb::class_<OutputPlan>(m, "OutputPlan",
                         "Routing and metadata documents of an output (see output_plan.hpp).")
      .def(
          "__init__",
          [](OutputPlan* self, const std::string& settings_json) {
            new (self) OutputPlan(StreamSettings::from_json(settings_json));
          },
          nb::arg("settings_json"), "Validates the settings JSON as Stream does (URLs allowed).")
      .def(
          "locate",
          [](const OutputPlan& p, std::uint64_t n) {
            auto loc = p.locate(n);
            return std::make_tuple(loc.position, loc.storage_index);
          },
          nb::arg("frame_number"), "(position, storage index) of the n-th frame.")
      .def_prop_ro("total_frames", &OutputPlan::total_frames, "Declared frames, None: unbounded.")
      .def_prop_ro("positions", &OutputPlan::positions, "Number of positions.")
      .def_prop_ro("declared_shape", &OutputPlan::declared_shape,
                   "Array shape in storage order (0: the unbounded axis).")
      .def_prop_ro("chunk_shape", &OutputPlan::chunk_shape, "Chunk shape in storage order.")
      .def_prop_ro("shard_shape", &OutputPlan::shard_shape,
                   "Shard shape in storage order (the chunk shape when not sharded).")
      .def_prop_ro("dimension_names", &OutputPlan::dimension_names,
                   "Dimension names in storage order.")
      .def(
          "record",
          [](OutputPlan& p, std::int64_t position, const std::vector<std::int64_t>& index,
             const std::optional<std::string>& metadata_json, bool skipped) {
            p.record(FrameLocation{position, index},
                     metadata_json ? std::string_view(*metadata_json) : std::string_view(),
                     skipped);
          },
          nb::arg("position"), nb::arg("storage_index"), nb::arg("metadata_json") = nb::none(),
          nb::arg("skipped") = false, "Records a frame written (or skipped), in file order.")
      .def("zarr_image_group", &OutputPlan::zarr_image_group, nb::arg("position"),
           "Image group path of a position (relative to the root).")
      .def("zarr_array_document", &OutputPlan::zarr_array_document, nb::arg("shape"),
           "The array zarr.json text at `shape`.")
      .def("zarr_group_documents", &OutputPlan::zarr_group_documents,
           "Every group zarr.json text, by group path.")
      .def("zarr_ome_xml", &OutputPlan::zarr_ome_xml,
           "OME/METADATA.ome.xml of a bioformats2raw store, or None.")
      .def("tiff_file_names", &OutputPlan::tiff_file_names, "OME-TIFF file names, by position.")
      .def("tiff_companion_name", &OutputPlan::tiff_companion_name,
           "Companion file name ('' when none).")
      .def("finish_tiff", &OutputPlan::finish_tiff,
           "Records the blank planes that complete the last index; their positions.")
      .def("tiff_ome_xml", &OutputPlan::tiff_ome_xml, nb::arg("file_index"), nb::arg("closed"),
           "OME-XML of a file for the planes recorded.")
      .def("tiff_companion_xml", &OutputPlan::tiff_companion_xml, nb::arg("closed"),
           "OME-XML of the companion file ('' when none).")
      .def("metadata_json", &OutputPlan::metadata_json, nb::arg("closed") = false,
           "get_metadata() documents as JSON text.")
      .def("update_metadata_json", &OutputPlan::update_metadata_json, nb::arg("metadata_json"),
           "Replaces image-group attributes (OME-Zarr).")
      .def("set_global_metadata", &OutputPlan::set_global_metadata, nb::arg("name_space"),
           nb::arg("metadata_json"), "Stores a summary object under a namespace.");
}

}  // namespace ome_writers::python
