// Geometry derived from the settings: axes in acquisition and storage order,
// chunking, and the frame router (frame number -> position, storage index).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ome_writers/settings.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers::detail {

/// One axis of a stored array (storage order; the last two are Y and X).
struct ArrayAxis {
  std::string name;
  DimensionType type = DimensionType::kUnset;
  std::int64_t count = 0;  ///< 0 = unbounded
  std::int64_t chunk = 1;  ///< elements per (inner) chunk
  std::int64_t shard = 1;  ///< elements per shard (== chunk when not sharded)
  std::optional<std::string> unit;
  double scale = 1.0;
  std::optional<double> translation;
  const Dimension* dimension = nullptr;  ///< the settings entry
};

/// Largest count of a dimension: every index is exact in a double (JSON readers).
constexpr std::int64_t kMaxCount = std::int64_t{1} << 53;
/// Largest frame: a bigger one is a typo, and would fail allocating.
constexpr std::uint64_t kMaxFrameBytes = std::uint64_t{1} << 40;

/// Throws kInvalidArgument: dimension `name`'s count `value` (as given) exceeds kMaxCount.
[[noreturn]] void count_too_large(const std::string& name, const std::string& value);

/// Validated geometry of a stream.
class Layout {
 public:
  /// Validates the dimension rules of the settings; throws Error naming the
  /// offending dimension.
  explicit Layout(const StreamSettings& settings);

  std::int64_t height = 0;
  std::int64_t width = 0;
  DataType dtype = DataType::kUInt16;
  std::size_t frame_bytes = 0;

  /// Counts of the non-frame axes in acquisition order (position included);
  /// 0 marks the unbounded first axis.
  std::vector<std::int64_t> outer_counts;
  /// Index into outer_counts of the position axis, or -1.
  int position_outer = -1;
  /// Positions (one unnamed position "0" when there is no position axis).
  std::vector<Position> positions;
  /// Array axes in storage order: the index axes, then Y and X.
  std::vector<ArrayAxis> axes;
  /// storage_to_outer[i]: the outer (acquisition) axis of storage axis i.
  std::vector<int> storage_to_outer;
  /// Index axes (non-frame, non-position) in acquisition order, as settings indices.
  std::vector<int> index_dims_acquisition;
  bool sharded = false;
  bool unbounded = false;
  /// Frames the settings declare (positions included), nullopt when unbounded.
  std::optional<std::uint64_t> total_frames;

  /// Number of index (non-frame) axes of an array.
  std::size_t index_rank() const { return axes.size() - 2; }

  /// Routes the n-th frame (acquisition order) to its position and storage index.
  /// Throws kIndexOutOfRange past total_frames.
  FrameLocation locate(std::uint64_t frame_number) const;

  /// One number per place a frame can be stored: (position, storage index)
  /// in mixed radix. Throws kIndexOutOfRange for a position or index outside
  /// the arrays (or of the wrong rank).
  std::uint64_t frame_key(std::int64_t position,
                          const std::vector<std::int64_t>& storage_index) const;
};

/// The layout of valid settings: every rule StreamSettings::validate()
/// enforces is checked on the way (throws Error naming the offending value).
Layout validated_layout(const StreamSettings& settings, bool local_output = true);

}  // namespace ome_writers::detail
