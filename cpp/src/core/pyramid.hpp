// Multiscale pyramids: the geometry of the reduced levels and the kernels
// that compute a level's plane from the level above it (rules in
// docs/pyramids.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/layout.hpp"
#include "ome_writers/settings.hpp"

namespace ome_writers::detail {

/// The most datasets a pyramid may have: the frame is then below one pixel.
constexpr int kMaxPyramidLevels = 32;

/// Checks the pyramid settings against the layout (throws kInvalidArgument
/// naming the bad value) and returns the number of datasets, full resolution
/// included (1 when there is no pyramid; `auto` resolved).
int pyramid_levels(const StreamSettings& settings, const Layout& layout);

/// Storage axis of z when the pyramid halves it, else -1.
int pyramid_z_axis(const StreamSettings& settings, const Layout& layout);

/// The geometry of reduced level `level` (1 = half size): y, x (and the axis
/// `z_axis` unless -1) divided by 2^level rounding up; chunks and shards no
/// larger than the level (shards stay whole multiples of chunks); chunks
/// 4^level times longer along the index axis acquired fastest (not z), as
/// long as the planes of one open chunk per position fit `held_bytes` (0: no
/// limit).
Layout level_layout(const Layout& base, int level, int z_axis, std::uint64_t held_bytes = 0);

/// Multiplier of each storage axis's scale at `level` (2^level on the halved
/// axes, 1 elsewhere).
std::vector<double> level_factors(const Layout& base, int level, int z_axis);

/// One plane of the next level: `out` (ceil(h/2) x ceil(w/2) elements) from
/// the h x w plane `a` and, when halving z, the next plane `b` (nullptr when
/// `a` is the last plane, or when z is not halved). Blocks at odd edges take
/// only the pixels that exist.
void downsample_plane(DataType dtype, DownsampleMethod method, const std::byte* a,
                      const std::byte* b, std::int64_t h, std::int64_t w, std::byte* out);

/// Throws kInvalidArgument unless `method` applies to `dtype` (mode: integer
/// and bool types; min/max/mean: not complex).
void check_downsample_method(DataType dtype, DownsampleMethod method);

}  // namespace ome_writers::detail
