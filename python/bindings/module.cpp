// ome_writers._core: the C++ engine, re-exported by the ome_writers package.
#include "bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "C++ engine of ome_writers (private; use the ome_writers package).";
  ome_writers::python::bind_errors(m);
  ome_writers::python::bind_settings(m);
  ome_writers::python::bind_stream(m);
  ome_writers::python::bind_output_plan(m);
  ome_writers::python::bind_metadata_json(m);
}
