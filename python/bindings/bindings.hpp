// Registration functions, one per public header.
#pragma once

#include <nanobind/nanobind.h>

namespace ome_writers::python {

void bind_errors(nanobind::module_& m);
void bind_settings(nanobind::module_& m);
void bind_stream(nanobind::module_& m);
void bind_output_plan(nanobind::module_& m);
void bind_metadata_json(nanobind::module_& m);

}  // namespace ome_writers::python
