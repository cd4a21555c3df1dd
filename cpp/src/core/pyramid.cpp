#include "core/pyramid.hpp"

#include <algorithm>
#include <cctype>
#include <complex>
#include <string>
#include <type_traits>

#include "ome_writers/errors.hpp"

namespace ome_writers::detail {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

std::int64_t halve(std::int64_t n, int times) {
  for (int i = 0; i < times; ++i) n = (n + 1) / 2;
  return n;
}

// Without chunking in y/x the frame is one chunk, and "fits one chunk" would
// mean no pyramid: auto then aims at tiles a viewer loads at once.
constexpr std::int64_t kAutoTile = 256;

bool is_z(const ArrayAxis& a) {
  return a.type == DimensionType::kSpace && a.name.size() == 1 &&
         std::tolower(static_cast<unsigned char>(a.name[0])) == 'z';
}

// --- kernels ---------------------------------------------------------------
//
// A level's row is computed from up to four source rows (two in y, times two
// planes in z) in one strided pass the compiler vectorises: the row count and
// the block size are template constants (a runtime shift keeps gcc from
// vectorising the rounding). Edge rows and columns, with fewer pixels, take
// the same code with smaller constants.

__extension__ using Int128 = __int128;

template <typename T>
struct Wide {
  // Sums of up to 8 values: 8 x 65535 fits an int32.
  using type = std::conditional_t<
      std::is_floating_point_v<T>, double,
      std::conditional_t<(sizeof(T) <= 2), std::int32_t,
                         std::conditional_t<(sizeof(T) == 4), std::int64_t, Int128>>>;
};

// Mean of n = 2^S values from their sum: integers round half to even. S is
// a constant, so that the loops calling this vectorise.
template <typename T, int S, typename A>
inline T finish_mean(A sum) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(sum * (1.0 / static_cast<double>(1 << S)));
  } else if constexpr (S == 0) {
    return static_cast<T>(sum);
  } else {
    // q = floor(sum / n), r its remainder (two's complement: negative sums
    // too). Up when r > n/2, or r == n/2 and q is odd; i.e. when
    // x = r + (q & 1) > n/2, which is (x + n/2 - 1) >> S as x <= n. Plain
    // arithmetic, no comparisons: gcc vectorises it (with them it does not).
    const A q = sum >> S;
    const A r = sum & ((A(1) << S) - 1);
    return static_cast<T>(q + ((r + (q & 1) + ((A(1) << (S - 1)) - 1)) >> S));
  }
}

// One output row from NR source rows, in one pass. Sums go pairwise along x,
// then row after row (the order a float reference must follow).
template <typename T, int NR, int S>
void mean_row_fixed(const T* const* rows, std::int64_t w, T* out) {
  using A = typename Wide<T>::type;
  const std::int64_t full = w / 2;
  const T* r[NR];
  for (int k = 0; k < NR; ++k) r[k] = rows[k];
  for (std::int64_t j = 0; j < full; ++j) {
    A sum = A(r[0][2 * j]) + A(r[0][2 * j + 1]);
    for (int k = 1; k < NR; ++k) sum += A(r[k][2 * j]) + A(r[k][2 * j + 1]);
    out[j] = finish_mean<T, S + 1>(sum);
  }
  if (w & 1) {
    A sum = A(r[0][w - 1]);
    for (int k = 1; k < NR; ++k) sum += A(r[k][w - 1]);
    out[full] = finish_mean<T, S>(sum);
  }
}

template <typename T>
void mean_row(const T* const* rows, int nrows, std::int64_t w, T* out) {
  // nrows: 1 or 2 rows per plane, 1 or 2 planes; 3 never happens (an odd
  // last row is odd in both planes).
  switch (nrows) {
    case 1:
      return mean_row_fixed<T, 1, 0>(rows, w, out);
    case 2:
      return mean_row_fixed<T, 2, 1>(rows, w, out);
    default:
      return mean_row_fixed<T, 4, 2>(rows, w, out);
  }
}

template <typename T, bool kMin>
void extreme_row(const T* const* rows, int nrows, std::int64_t w, T* out) {
  const auto pick = [](T a, T b) { return kMin ? (b < a ? b : a) : (a < b ? b : a); };
  const std::int64_t full = w / 2;
  const T* r0 = rows[0];
  for (std::int64_t j = 0; j < full; ++j) out[j] = pick(r0[2 * j], r0[2 * j + 1]);
  if (w & 1) out[full] = r0[w - 1];
  for (int k = 1; k < nrows; ++k) {
    const T* r = rows[k];
    for (std::int64_t j = 0; j < full; ++j) out[j] = pick(out[j], pick(r[2 * j], r[2 * j + 1]));
    if (w & 1) out[full] = pick(out[full], r[w - 1]);
  }
}

template <typename T>
void mode_row(const T* const* rows, int nrows, std::int64_t w, T* out) {
  const std::int64_t ow = (w + 1) / 2;
  T block[8];
  for (std::int64_t j = 0; j < ow; ++j) {
    int n = 0;
    for (int k = 0; k < nrows; ++k) {
      block[n++] = rows[k][2 * j];
      if (2 * j + 1 < w) block[n++] = rows[k][2 * j + 1];
    }
    // Insertion sort: at most 8 values.
    for (int i = 1; i < n; ++i) {
      const T v = block[i];
      int k = i;
      for (; k > 0 && v < block[k - 1]; --k) block[k] = block[k - 1];
      block[k] = v;
    }
    // Sorted: the first run of the greatest length holds the smallest of the
    // most frequent values.
    T best = block[0];
    int best_run = 0;
    for (int i = 0; i < n;) {
      int e = i;
      while (e < n && block[e] == block[i]) ++e;
      if (e - i > best_run) {
        best_run = e - i;
        best = block[i];
      }
      i = e;
    }
    out[j] = best;
  }
}

template <typename T>
constexpr bool kIsComplex =
    std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>;

template <typename T>
void downsample_typed(DownsampleMethod method, const T* a, const T* b, std::int64_t h,
                      std::int64_t w, T* out) {
  const std::int64_t oh = (h + 1) / 2;
  const std::int64_t ow = (w + 1) / 2;
  for (std::int64_t i = 0; i < oh; ++i) {
    const T* rows[4];
    int nrows = 0;
    for (const T* plane : {a, b}) {
      if (plane == nullptr) continue;
      rows[nrows++] = plane + 2 * i * w;
      if (2 * i + 1 < h) rows[nrows++] = plane + (2 * i + 1) * w;
    }
    T* o = out + i * ow;
    if constexpr (kIsComplex<T>) {
      for (std::int64_t j = 0; j < ow; ++j) o[j] = rows[0][2 * j];
    } else {
      switch (method) {
        case DownsampleMethod::kMean:
          mean_row(rows, nrows, w, o);
          break;
        case DownsampleMethod::kMin:
          extreme_row<T, true>(rows, nrows, w, o);
          break;
        case DownsampleMethod::kMax:
          extreme_row<T, false>(rows, nrows, w, o);
          break;
        case DownsampleMethod::kMode:
          mode_row(rows, nrows, w, o);
          break;
        case DownsampleMethod::kDecimate:
          for (std::int64_t j = 0; j < ow; ++j) o[j] = rows[0][2 * j];
          break;
      }
    }
  }
}

template <typename T>
void run(DownsampleMethod method, const std::byte* a, const std::byte* b, std::int64_t h,
         std::int64_t w, std::byte* out) {
  downsample_typed(method, reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b), h, w,
                   reinterpret_cast<T*>(out));
}

}  // namespace

void check_downsample_method(DataType dtype, DownsampleMethod method) {
  const bool complex = dtype == DataType::kComplex64 || dtype == DataType::kComplex128;
  if (complex && method != DownsampleMethod::kDecimate) {
    bad(std::string("pyramid method '") + to_string(method) + "' does not apply to dtype '" +
        std::string(dtype_name(dtype)) + "' (complex data takes 'decimate')");
  }
  if (method == DownsampleMethod::kMode && is_floating(dtype)) {
    bad(std::string("pyramid method 'mode' is for label data (integer or bool dtypes), not '") +
        std::string(dtype_name(dtype)) + "'");
  }
}

void downsample_plane(DataType dtype, DownsampleMethod method, const std::byte* a,
                      const std::byte* b, std::int64_t h, std::int64_t w, std::byte* out) {
  switch (dtype) {
    case DataType::kBool:  // 0/1 bytes: every method keeps them 0/1
    case DataType::kUInt8:
      return run<std::uint8_t>(method, a, b, h, w, out);
    case DataType::kInt8:
      return run<std::int8_t>(method, a, b, h, w, out);
    case DataType::kUInt16:
      return run<std::uint16_t>(method, a, b, h, w, out);
    case DataType::kInt16:
      return run<std::int16_t>(method, a, b, h, w, out);
    case DataType::kUInt32:
      return run<std::uint32_t>(method, a, b, h, w, out);
    case DataType::kInt32:
      return run<std::int32_t>(method, a, b, h, w, out);
    case DataType::kUInt64:
      return run<std::uint64_t>(method, a, b, h, w, out);
    case DataType::kInt64:
      return run<std::int64_t>(method, a, b, h, w, out);
    case DataType::kFloat32:
      return run<float>(method, a, b, h, w, out);
    case DataType::kFloat64:
      return run<double>(method, a, b, h, w, out);
    case DataType::kComplex64:
      return run<std::complex<float>>(DownsampleMethod::kDecimate, a, b, h, w, out);
    case DataType::kComplex128:
      return run<std::complex<double>>(DownsampleMethod::kDecimate, a, b, h, w, out);
  }
}

int pyramid_z_axis(const StreamSettings& settings, const Layout& layout) {
  if (!settings.pyramid.enabled() || !settings.pyramid.downsample_z) return -1;
  for (std::size_t i = 0; i < layout.index_rank(); ++i) {
    if (is_z(layout.axes[i])) return static_cast<int>(i);
  }
  return -1;
}

int pyramid_levels(const StreamSettings& settings, const Layout& layout) {
  const PyramidSettings& p = settings.pyramid;
  if (!p.enabled()) {
    if (p.levels < 1) {
      bad("pyramid levels must be at least 1 (1 = no pyramid), got " + std::to_string(p.levels));
    }
    return 1;
  }
  check_downsample_method(layout.dtype, p.method);
  const bool tiff = settings.format.name == FileFormat::kOmeTiff;
  int z = -1;
  if (p.downsample_z) {
    if (tiff) {
      bad("pyramid downsample_z=True: OME-TIFF levels are reduced planes (y and x only); "
          "use OME-Zarr to halve z");
    }
    z = pyramid_z_axis(settings, layout);
    if (z < 0) bad("pyramid downsample_z=True, but no dimension 'z' of type 'space' is stored");
    const ArrayAxis& axis = layout.axes[static_cast<std::size_t>(z)];
    if (axis.chunk <= 1) {
      bad("pyramid downsample_z=True needs dimension '" + axis.name +
          "' stored with a chunk_size above 1, got " + std::to_string(axis.chunk));
    }
    if (axis.count == 0) {
      bad("pyramid downsample_z=True: dimension '" + axis.name +
          "' is unbounded; its last plane would never be known");
    }
  }
  const std::int64_t largest = std::max(layout.height, layout.width);
  // Levels after the one that is one pixel in y and x only repeat it.
  int useful = 1;
  while (halve(largest, useful - 1) > 1 && useful < kMaxPyramidLevels) ++useful;
  if (z >= 0) {
    while (halve(layout.axes[static_cast<std::size_t>(z)].count, useful - 1) > 1 &&
           useful < kMaxPyramidLevels) {
      ++useful;
    }
  }
  if (p.auto_levels) {
    const std::size_t k = layout.index_rank();
    const auto tile = [&](const ArrayAxis& a, std::int64_t frame) {
      return tiff || a.chunk >= frame ? std::min(kAutoTile, frame) : a.chunk;
    };
    const std::int64_t ty = tile(layout.axes[k], layout.height);
    const std::int64_t tx = tile(layout.axes[k + 1], layout.width);
    int levels = 1;
    while (levels < useful &&
           (halve(layout.height, levels - 1) > ty || halve(layout.width, levels - 1) > tx)) {
      ++levels;
    }
    return levels;
  }
  if (p.levels < 1 || p.levels > useful) {
    bad("pyramid levels " + std::to_string(p.levels) + " is out of range: a " +
        std::to_string(layout.height) + " x " + std::to_string(layout.width) +
        " frame has at most " + std::to_string(useful) +
        " levels (the last one pixel wide), and at least 1");
  }
  return p.levels;
}

Layout level_layout(const Layout& base, int level, int z_axis, std::uint64_t held_bytes) {
  Layout out = base;
  const std::size_t k = base.index_rank();
  const auto shrink = [&](ArrayAxis& a) {
    a.count = halve(a.count, level);
    const std::int64_t per_shard = a.shard / a.chunk;
    a.chunk = std::min(a.chunk, a.count);
    const std::int64_t chunks = (a.count + a.chunk - 1) / a.chunk;
    a.shard = a.chunk * std::min(per_shard, chunks);
  };
  shrink(out.axes[k]);
  shrink(out.axes[k + 1]);
  if (z_axis >= 0) shrink(out.axes[static_cast<std::size_t>(z_axis)]);
  out.height = out.axes[k].count;
  out.width = out.axes[k + 1].count;
  out.frame_bytes =
      static_cast<std::size_t>(out.height * out.width) * bytes_per_element(base.dtype);
  // A level's planes are 4^level times smaller: its chunks hold 4^level times
  // more of them along the axis acquired fastest, so that its files stay
  // about as large as level 0's (a file per small plane would cost more in
  // file creation than the pixels do) and its slabs fill as fast.
  if (!base.index_dims_acquisition.empty()) {
    const int fastest = base.index_dims_acquisition.back();
    for (std::size_t a = 0; a < k; ++a) {
      if (base.storage_to_outer[a] != fastest || static_cast<int>(a) == z_axis) continue;
      ArrayAxis& axis = out.axes[a];
      const std::int64_t per_shard = axis.shard / axis.chunk;
      // The planes of a chunk being filled are held: every position may have
      // one open (positions acquired fastest), and they stay within
      // `held_bytes` in all.
      std::uint64_t slab = static_cast<std::uint64_t>(base.positions.size()) * out.frame_bytes;
      for (std::size_t b = 0; b < k; ++b) slab *= static_cast<std::uint64_t>(out.axes[b].shard);
      std::int64_t grown = axis.chunk;
      for (int i = 0; i < level && grown < (std::int64_t{1} << 40); ++i) {
        if (held_bytes > 0 &&
            slab * static_cast<std::uint64_t>(grown / axis.chunk) * 4 > held_bytes) {
          break;
        }
        grown *= 4;
      }
      if (axis.count > 0) grown = std::min(grown, axis.count);
      axis.chunk = std::max(axis.chunk, grown);
      const std::int64_t chunks =
          axis.count > 0 ? (axis.count + axis.chunk - 1) / axis.chunk : per_shard;
      axis.shard = axis.chunk * std::min(per_shard, chunks);
    }
  }
  return out;
}

std::vector<double> level_factors(const Layout& base, int level, int z_axis) {
  std::vector<double> f(base.axes.size(), 1.0);
  const double s = static_cast<double>(std::int64_t{1} << level);
  const std::size_t k = base.index_rank();
  f[k] = s;
  f[k + 1] = s;
  if (z_axis >= 0) f[static_cast<std::size_t>(z_axis)] = s;
  return f;
}

}  // namespace ome_writers::detail
