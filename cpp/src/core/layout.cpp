#include "core/layout.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <numeric>
#include <set>

#include "ome_writers/errors.hpp"

namespace ome_writers::detail {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// NGFF axis order: time, channel, space (z before y before x), then the rest.
int ngff_rank(const Dimension& d) {
  switch (d.type) {
    case DimensionType::kTime:
      return 0;
    case DimensionType::kChannel:
      return 1;
    case DimensionType::kSpace: {
      const std::string n = lower(d.name);
      return n == "z" ? 2 : n == "y" ? 3 : n == "x" ? 4 : 2;
    }
    default:
      return 5;
  }
}

}  // namespace

void count_too_large(const std::string& name, const std::string& value) {
  bad("dimension '" + name + "' count must be at most 2^53 (" + std::to_string(kMaxCount) +
      "), got " + value);
}

namespace {

// The per-dimension rules (names, counts, chunking) and where the position
// axis is; returns its index or -1.
int check_dimensions(const std::vector<Dimension>& dims, bool* sharded) {
  if (dims.empty()) bad("settings.dimensions must be set before creating a stream");
  std::set<std::string> names;
  int non_position = 0;
  int position = -1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const auto& d = dims[i];
    if (d.name.empty()) bad("dimension " + std::to_string(i) + " has an empty name");
    if (!names.insert(d.name).second) {
      bad("Dimension names must be unique, duplicates: ['" + d.name + "']");
    }
    if (d.type == DimensionType::kPosition) {
      if (position >= 0) bad("Only one position dimension is allowed");
      position = static_cast<int>(i);
    } else {
      ++non_position;
    }
    if (d.count && *d.count <= 0) {
      bad("dimension '" + d.name + "' count must be positive, got " + std::to_string(*d.count));
    }
    if (d.count && *d.count > kMaxCount) count_too_large(d.name, std::to_string(*d.count));
    if (!d.count && i != 0) {
      bad("Only the first dimension may be unbounded (count=None); '" + d.name + "' has no count");
    }
    if (d.chunk_size && *d.chunk_size <= 0) {
      bad("dimension '" + d.name + "' chunk_size must be positive");
    }
    if (d.shard_size_chunks && *d.shard_size_chunks <= 0) {
      bad("dimension '" + d.name + "' shard_size_chunks must be positive");
    }
    if (d.shard_size_chunks) *sharded = true;
  }
  if (non_position < 2) bad("At least 2 non-position dimensions are required");
  if (non_position > 5) bad("At most 5 non-position dimensions are allowed");
  return position;
}

// The last two dimensions are the frame's Y and X.
void check_frame_dimensions(const std::vector<Dimension>& dims, int position) {
  for (const Dimension* d : {&dims[dims.size() - 2], &dims[dims.size() - 1]}) {
    if (d->type != DimensionType::kSpace && d->type != DimensionType::kUnset) {
      bad("the last two dimensions must be spatial (y, x); '" + d->name + "' has type " +
          to_string(d->type));
    }
    if (!d->count) bad("frame dimension '" + d->name + "' needs a count");
  }
  if (position >= static_cast<int>(dims.size()) - 2) {
    bad("the position dimension cannot be one of the last two (frame) dimensions");
  }
  if (position == 0 && !dims[0].count) {
    throw Error(ErrorCode::kNotImplemented,
                "Unbounded position dimensions are not yet implemented ('" + dims[0].name + "')");
  }
}

// The index axes (settings indices, acquisition order) in storage order.
std::vector<int> storage_order_of(const StreamSettings& s, const std::vector<int>& index_dims) {
  const auto& dims = s.dimensions;
  std::vector<int> order = index_dims;
  switch (s.storage_order) {
    case StorageOrder::kOme:
      // OME-TIFF planes keep the acquisition order; OME-Zarr sorts by NGFF rank.
      if (s.format.name == FileFormat::kOmeZarr) {
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
          return ngff_rank(dims[static_cast<std::size_t>(a)]) <
                 ngff_rank(dims[static_cast<std::size_t>(b)]);
        });
      }
      return order;
    case StorageOrder::kAcquisition:
      return order;
    case StorageOrder::kList:
      break;
  }
  const auto& list = s.storage_order_list;
  std::set<std::string> given(list.begin(), list.end());
  std::set<std::string> names;
  for (const auto& d : dims) names.insert(d.name);
  if (given != names || list.size() != dims.size()) {
    bad("storage_order must list every dimension name exactly once");
  }
  if (list[list.size() - 2] != dims[dims.size() - 2].name ||
      list[list.size() - 1] != dims[dims.size() - 1].name) {
    bad("storage_order may not (yet) permute the last two dimensions.");
  }
  order.clear();
  for (const auto& name : list) {
    for (int i : index_dims) {
      if (dims[static_cast<std::size_t>(i)].name == name) order.push_back(i);
    }
  }
  return order;
}

ArrayAxis make_axis(const Dimension& d, bool frame, bool sharded) {
  ArrayAxis a;
  a.name = d.name;
  a.type = frame ? DimensionType::kSpace : d.type;
  a.count = d.count.value_or(0);
  a.chunk = d.chunk_size.value_or(frame ? a.count : 1);
  a.shard = a.chunk * (sharded ? d.shard_size_chunks.value_or(1) : 1);
  a.unit = d.unit;
  a.scale = d.scale.value_or(1.0);
  a.translation = d.translation;
  a.dimension = &d;
  return a;
}

}  // namespace

Layout::Layout(const StreamSettings& s) {
  const auto& dims = s.dimensions;
  position_outer = check_dimensions(dims, &sharded);
  check_frame_dimensions(dims, position_outer);
  height = *dims[dims.size() - 2].count;
  width = *dims[dims.size() - 1].count;
  dtype = s.dtype;
  std::uint64_t bytes = 0;
  // (No __builtin_mul_overflow: MSVC has none.)
  const auto mul = [](std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
    if (b != 0 && a > UINT64_MAX / b) return true;
    *out = a * b;
    return false;
  };
  if (mul(static_cast<std::uint64_t>(height), static_cast<std::uint64_t>(width), &bytes) ||
      mul(bytes, std::uint64_t{bytes_per_element(dtype)}, &bytes) || bytes > kMaxFrameBytes) {
    bad("a frame of " + std::to_string(height) + " x " + std::to_string(width) + " " +
        std::string(dtype_name(dtype)) + " is larger than " + std::to_string(kMaxFrameBytes) +
        " bytes");
  }
  frame_bytes = static_cast<std::size_t>(bytes);

  // Outer (non-frame) axes in acquisition order.
  std::vector<int> index_dims;  // settings indices, acquisition order
  for (std::size_t i = 0; i + 2 < dims.size(); ++i) {
    outer_counts.push_back(dims[i].count.value_or(0));
    if (static_cast<int>(i) != position_outer) index_dims.push_back(static_cast<int>(i));
  }
  unbounded = !dims[0].count;
  index_dims_acquisition = index_dims;

  if (position_outer >= 0) {
    const auto& pd = dims[static_cast<std::size_t>(position_outer)];
    positions = pd.positions;
    const auto n = static_cast<std::size_t>(*pd.count);
    if (positions.size() > n) positions.resize(n);
    for (std::size_t i = positions.size(); i < n; ++i) {
      positions.push_back(Position{std::to_string(i), {}, {}, {}, {}, {}, {}, {}});
    }
  } else {
    positions.push_back(Position{"0", {}, {}, {}, {}, {}, {}, {}});
  }

  for (int i : storage_order_of(s, index_dims)) {
    axes.push_back(make_axis(dims[static_cast<std::size_t>(i)], false, sharded));
    storage_to_outer.push_back(i);  // settings index == outer index for non-frame axes
  }
  axes.push_back(make_axis(dims[dims.size() - 2], true, sharded));
  axes.push_back(make_axis(dims[dims.size() - 1], true, sharded));

  if (!unbounded) {
    std::uint64_t total = 1;
    for (auto c : outer_counts) total *= static_cast<std::uint64_t>(c);
    total_frames = total;
  }
}

FrameLocation Layout::locate(std::uint64_t frame_number) const {
  if (total_frames && frame_number >= *total_frames) {
    throw Error(ErrorCode::kIndexOutOfRange,
                "Cannot append frame: would exceed total of " + std::to_string(*total_frames) +
                    " frames. Check your AcquisitionSettings.dimensions.");
  }
  // Mixed radix over the outer axes, last one fastest.
  std::vector<std::int64_t> idx(outer_counts.size(), 0);
  std::uint64_t rest = frame_number;
  for (std::size_t k = outer_counts.size(); k-- > 0;) {
    if (k == 0 && unbounded) {
      idx[0] = static_cast<std::int64_t>(rest);
    } else {
      const auto c = static_cast<std::uint64_t>(outer_counts[k]);
      idx[k] = static_cast<std::int64_t>(rest % c);
      rest /= c;
    }
  }
  FrameLocation loc;
  loc.position = position_outer >= 0 ? idx[static_cast<std::size_t>(position_outer)] : 0;
  loc.storage_index.reserve(storage_to_outer.size());
  for (int outer : storage_to_outer)
    loc.storage_index.push_back(idx[static_cast<std::size_t>(outer)]);
  return loc;
}

std::uint64_t Layout::frame_key(std::int64_t position,
                                const std::vector<std::int64_t>& storage_index) const {
  const auto positions_count = static_cast<std::int64_t>(positions.size());
  if (position < 0 || position >= positions_count) {
    throw Error(ErrorCode::kIndexOutOfRange, "position " + std::to_string(position) +
                                                 " is out of range (the stream has " +
                                                 std::to_string(positions_count) + ")");
  }
  if (storage_index.size() != index_rank()) {
    throw Error(ErrorCode::kIndexOutOfRange, "a storage index needs " +
                                                 std::to_string(index_rank()) + " entries, got " +
                                                 std::to_string(storage_index.size()));
  }
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < storage_index.size(); ++i) {
    const std::int64_t count = axes[i].count;
    if (storage_index[i] < 0 || (count > 0 && storage_index[i] >= count)) {
      throw Error(ErrorCode::kIndexOutOfRange, "index " + std::to_string(storage_index[i]) +
                                                   " is out of range for axis '" + axes[i].name +
                                                   "' of size " + std::to_string(count));
    }
    // The first axis may be unbounded: only the axes after it set the radix.
    key = key * static_cast<std::uint64_t>(i == 0 ? 1 : count) +
          static_cast<std::uint64_t>(storage_index[i]);
  }
  return key * static_cast<std::uint64_t>(positions_count) + static_cast<std::uint64_t>(position);
}

}  // namespace ome_writers::detail
