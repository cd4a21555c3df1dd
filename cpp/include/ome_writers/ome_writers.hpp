// Umbrella header of the ome_writers C++ library.
#pragma once

#include "ome_writers/errors.hpp"
#include "ome_writers/output_plan.hpp"
#include "ome_writers/settings.hpp"
#include "ome_writers/stream.hpp"
#include "ome_writers/types.hpp"
