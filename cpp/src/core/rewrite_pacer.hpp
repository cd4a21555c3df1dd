// Paces the rewrites of a document that grows with the run (frame metadata in
// zarr.json, the OME-XML with a Plane per frame): rewriting it at every
// checkpoint would make the metadata cost per frame grow with the run's length.
#pragma once

#include <chrono>

namespace ome_writers::detail {

/// Allows a rewrite when the last one was cheap, or when enough time has
/// passed since it for its cost to be at most `kShare` of the time.
class RewritePacer {
 public:
  using Clock = std::chrono::steady_clock;

  /// A rewrite this cheap is always allowed: pacing it would gain nothing
  /// measurable and would only leave the in-place metadata stale.
  static constexpr auto kFree = std::chrono::milliseconds(2);
  /// The writer's time that rewrites may take, at most.
  static constexpr double kShare = 0.05;

  bool due(Clock::time_point now = Clock::now()) const {
    if (last_cost_ <= kFree) return true;
    const auto gap = std::chrono::duration_cast<Clock::duration>(last_cost_ * (1 / kShare - 1));
    return now - last_end_ >= gap;
  }

  /// Runs `rewrite` and records its cost.
  template <typename F>
  void run(F&& rewrite) {
    const auto start = Clock::now();
    rewrite();
    last_end_ = Clock::now();
    last_cost_ = last_end_ - start;
  }

 private:
  Clock::duration last_cost_{};
  Clock::time_point last_end_{};
};

}  // namespace ome_writers::detail
