// The one place that knows the formats: which sink writes a stream, how many
// encoder threads it gets, and how a crashed stream's output is recovered.
// core/stream.cpp and recover.cpp name no sink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/layout.hpp"
#include "core/memory_budget.hpp"
#include "core/sink.hpp"
#include "core/task_pool.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// Encoder threads the stream's task pool needs (0: the writer thread does
/// all the work itself).
int encoder_threads(const StreamSettings& settings, const Layout& layout);

/// The sink for the settings' format; creates the output (see Stream()).
std::unique_ptr<Sink> make_sink(const StreamSettings& settings, const Layout& layout,
                                MemoryBudget& budget, TaskPool& tasks);

/// Folds the journals of a crashed stream's output into its metadata (see
/// ome_writers::recover).
std::uint64_t recover_output(const std::string& path);

}  // namespace ome_writers::detail
