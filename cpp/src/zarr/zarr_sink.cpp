#include "zarr/zarr_sink.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "core/journal.hpp"
#include "ome/ome_xml.hpp"
#include "ome/ome_zarr_json.hpp"
#include "ome_writers/errors.hpp"
#include "util/frame_copy.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr auto kShapeRewriteInterval = std::chrono::milliseconds(500);

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

void append_u64(std::vector<std::byte>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}

}  // namespace

/// Frames that share one write unit (chunk or shard) along the index axes,
/// assembled in memory until all of them have arrived.
struct ZarrSink::Slab {
  std::vector<std::int64_t> key;     // unit coordinates along the index axes
  std::vector<std::int64_t> start;   // first element along the index axes
  std::vector<std::int64_t> extent;  // elements along the index axes
  std::int64_t frames = 1;           // product of extent
  std::int64_t expected = 1;         // frames inside the array (extent if unbounded)
  std::int64_t arrived = 0;
  std::int64_t with_data = 0;
  bool written_before = false;
  int units_pending = 0;  // encode tasks not yet finished (guarded by the sink's mutex)
  // The queue's own buffers, in C order over the index axes (no copy): empty
  // where a frame has not arrived (it reads as the fill value).
  std::vector<FrameBuffer> held;

  /// Position of the frame at `index` (storage index axes) among held.
  std::size_t local_index(const std::vector<std::int64_t>& index) const {
    std::int64_t local = 0;
    for (std::size_t i = 0; i < extent.size(); ++i)
      local = local * extent[i] + (index[i] - start[i]);
    return static_cast<std::size_t>(local);
  }

  const std::byte* frame_data(std::size_t local, const AlignedBuffer& zeros) const {
    return held[local] ? held[local].data() : zeros.data();
  }
};

/// One position's array and image group.
struct ZarrSink::ArrayState {
  std::string group;  // relative to the root; "" for the root itself
  fs::path group_dir;
  fs::path array_dir;
  std::vector<std::int64_t> shape;
  bool shape_dirty = false;
  std::chrono::steady_clock::time_point shape_written{};
  std::map<std::vector<std::int64_t>, std::shared_ptr<Slab>> open;
  // Complete units whose files are still being written: readers take their
  // frames from here, never from a half-written file.
  std::map<std::vector<std::int64_t>, std::shared_ptr<Slab>> writing;
  std::vector<json> frame_metadata;
  std::FILE* journal = nullptr;
};

ZarrSink::ZarrSink(const StreamSettings& settings, const Layout& layout, MemoryBudget& budget,
                   TaskPool& tasks)
    : settings_(settings),
      layout_(layout),
      budget_(budget),
      tasks_(tasks),
      codec_(settings.compression, layout.dtype, settings.engine.compression_level),
      root_(settings.output_path()),
      element_bytes_(bytes_per_element(layout.dtype)),
      whole_frame_chunks_(layout.axes[layout.index_rank()].chunk == layout.height &&
                          layout.axes[layout.index_rank() + 1].chunk == layout.width) {
  // The frames of a chunk (or shard) are held until all of them arrived: one
  // unit's frames must fit the memory budget, or the stream could never make progress.
  std::uint64_t slab_frames = 1;
  std::string extents;
  for (std::size_t i = 0; i < layout_.index_rank(); ++i) {
    slab_frames *= static_cast<std::uint64_t>(layout_.axes[i].shard);
    extents += (extents.empty() ? "" : ", ") + layout_.axes[i].name + "=" +
               std::to_string(layout_.axes[i].shard);
  }
  const std::uint64_t slab_bytes = slab_frames * layout_.frame_bytes;
  if (slab_frames > 1 && slab_bytes > budget_.limit()) {
    throw Error(ErrorCode::kInvalidArgument,
                "one " + std::string(layout_.sharded ? "shard" : "chunk") + " (" + extents +
                    " frames) holds " + std::to_string(slab_bytes) +
                    " bytes, more than the memory budget of " + std::to_string(budget_.limit()) +
                    " bytes; use smaller chunks/shards or raise max_memory_bytes");
  }
  if (slab_frames > 1) {
    zeros_.resize(layout_.frame_bytes);
    std::memset(zeros_.data(), 0, layout_.frame_bytes);
  }
  const bool plate = settings_.plate.has_value();
  // Each position's image group, checked before anything is written: two
  // positions in one group would overwrite each other's frames.
  std::map<std::string, std::size_t> first_at;
  for (std::size_t i = 0; i < layout_.positions.size(); ++i) {
    const Position& p = layout_.positions[i];
    if (plate && (!p.plate_row || !p.plate_column)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "position '" + p.name + "' needs plate_row and plate_column in a plate");
    }
    auto a = std::make_unique<ArrayState>();
    a->group = image_group_path(settings_.plate, layout_.positions, i);
    const auto [it, fresh] = first_at.emplace(a->group, i);
    if (!fresh) {
      throw Error(ErrorCode::kInvalidArgument,
                  "positions " + std::to_string(it->second) + " and " + std::to_string(i) +
                      " would both be stored in group '" + a->group +
                      "'; give them distinct names (in a plate well, grid coordinates are not "
                      "part of the path)");
    }
    arrays_.push_back(std::move(a));
  }
  prepare_output();
  groups_ = container_group_attributes(settings_.plate, layout_.positions);
  for (std::size_t i = 0; i < arrays_.size(); ++i) {
    auto& a = *arrays_[i];
    a.group_dir = a.group.empty() ? root_ : root_ / a.group;
    a.array_dir = a.group_dir / "0";
    groups_[a.group] = json{{"ome", ome_image_attributes(layout_, layout_.positions[i])}};
    for (const auto& axis : layout_.axes) a.shape.push_back(axis.count);
    make_directories(a.array_dir);
    write_array_metadata(a);
  }
  write_groups();
  if (layout_.positions.size() > 1 && !plate) {
    write_file_atomic(root_ / "OME" / "METADATA.ome.xml",
                      build_ome_xml_for_zarr(settings_, layout_, make_uuid(), utc_now_iso8601()));
  }
}

ZarrSink::~ZarrSink() {
  for (auto& a : arrays_) {
    if (a->journal != nullptr) std::fclose(a->journal);
  }
}

void ZarrSink::prepare_output() {
  std::error_code ec;
  const auto status = fs::symlink_status(root_, ec);
  if (fs::exists(status)) {
    if (!settings_.overwrite) {
      throw Error(
          ErrorCode::kFileExists,
          "File '" + root_.string() + "' already exists. Use overwrite=True to replace it.");
    }
    const bool is_dir = fs::is_directory(status);
    const bool zarr = is_dir && fs::exists(root_ / "zarr.json");
    const bool empty = is_dir && fs::is_empty(root_, ec);
    if (is_dir && !zarr && !empty) {
      throw Error(ErrorCode::kFileExists,
                  "'" + root_.string() +
                      "' exists, but is not a Zarr group. Refusing to overwrite. Please delete "
                      "manually.");
    }
    remove_tree(root_);
  }
  make_directories(root_);
}

void ZarrSink::write_group(const std::string& rel) const {
  json attrs = groups_.at(rel);
  // Every image group carries the block, empty or not, so that readers of
  // ome_writers.frame_metadata find it on every image; the bf2raw and plate
  // roots own no frames and get none.
  for (const auto& a : arrays_) {
    if (a->group == rel) {
      attrs["ome_writers"] = frame_metadata_attributes(json(a->frame_metadata));
    }
  }
  const fs::path dir = rel.empty() ? root_ : root_ / rel;
  make_directories(dir);
  write_file_atomic(dir / "zarr.json", zarr_group_metadata(attrs).dump(2));
}

void ZarrSink::write_groups() {
  for (const auto& [rel, attrs] : groups_) write_group(rel);
}

void ZarrSink::write_array_metadata(ArrayState& a) {
  write_file_atomic(a.array_dir / "zarr.json",
                    zarr_array_metadata(layout_, a.shape, codec_.codec_json()).dump(2));
  a.shape_dirty = false;
  a.shape_written = std::chrono::steady_clock::now();
}

namespace {
void copy_bytes(void* dst, const void* src, std::size_t n) noexcept { std::memcpy(dst, src, n); }
}  // namespace

ZarrSink::ArrayState& ZarrSink::array(std::int64_t position) {
  return *arrays_.at(static_cast<std::size_t>(position));
}

std::shared_ptr<ZarrSink::Slab> ZarrSink::slab_for(ArrayState& a,
                                                   const std::vector<std::int64_t>& index) {
  const std::size_t k = layout_.index_rank();
  std::vector<std::int64_t> key(k);
  for (std::size_t i = 0; i < k; ++i) key[i] = index[i] / layout_.axes[i].shard;
  auto it = a.open.find(key);
  if (it != a.open.end()) return it->second;
  auto slab = std::make_shared<Slab>();
  slab->key = key;
  slab->frames = 1;
  slab->expected = 1;
  for (std::size_t i = 0; i < k; ++i) {
    const auto& axis = layout_.axes[i];
    const std::int64_t start = key[i] * axis.shard;
    slab->start.push_back(start);
    slab->extent.push_back(axis.shard);
    slab->frames *= axis.shard;
    slab->expected *= axis.count == 0 ? axis.shard : std::min(axis.shard, axis.count - start);
  }
  slab->held.resize(static_cast<std::size_t>(slab->frames));
  a.open.emplace(key, slab);
  return slab;
}

void ZarrSink::place(ArrayState& a, const FrameLocation& where, FrameBuffer* frame) {
  const std::size_t k = layout_.index_rank();
  std::shared_ptr<Slab> complete;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < k; ++i) {
      if (layout_.axes[i].count == 0 && where.storage_index[i] + 1 > a.shape[i]) {
        a.shape[i] = where.storage_index[i] + 1;
        a.shape_dirty = true;
      }
    }
    auto slab = slab_for(a, where.storage_index);
    if (frame != nullptr) {
      // A frame kept for a unit still being assembled no longer counts as
      // queued: the appender never waits on frames only the writer holds.
      if (slab->frames > 1) frame->adopt();
      slab->held[slab->local_index(where.storage_index)] = std::move(*frame);
      ++slab->with_data;
    }
    if (++slab->arrived >= slab->expected) {
      a.open.erase(slab->key);
      complete = std::move(slab);
    }
  }
  if (frame != nullptr) frame->reset();
  if (complete && complete->with_data > 0) write_slab(a, complete);
  if (a.shape_dirty && std::chrono::steady_clock::now() - a.shape_written > kShapeRewriteInterval) {
    write_array_metadata(a);
  }
}

void ZarrSink::write_frame(const FrameLocation& where, FrameBuffer frame,
                           const std::string& metadata_json) {
  tasks_.rethrow_if_failed();
  auto& a = array(where.position);
  if (!metadata_json.empty()) {
    json entry = json::parse(metadata_json);
    entry["storage_index"] = where.storage_index;
    if (a.journal == nullptr) {
      a.journal = std::fopen((a.group_dir / kZarrJournalName).c_str(), "a");
      if (a.journal == nullptr) throw_errno("cannot open journal", a.group_dir / kZarrJournalName);
    }
    const std::string line = entry.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), a.journal);
    std::lock_guard lock(mutex_);
    a.frame_metadata.push_back(std::move(entry));
  }
  place(a, where, &frame);
}

bool ZarrSink::wants_aligned_frames() const {
  // Only where frames go to the file as they are: unsharded, uncompressed,
  // one chunk per frame plane. Elsewhere they are copied into chunks anyway.
  return settings_.engine.direct_io && !codec_.compresses() && !layout_.sharded &&
         whole_frame_chunks_;
}

void ZarrSink::skip_frame(const FrameLocation& where) {
  place(array(where.position), where, nullptr);
}

fs::path ZarrSink::unit_path(const ArrayState& a, const Slab& slab, std::int64_t ty,
                             std::int64_t tx) const {
  fs::path p = a.array_dir / "c";
  for (auto k : slab.key) p /= std::to_string(k);
  p /= std::to_string(ty);
  p /= std::to_string(tx);
  return p;
}

void ZarrSink::write_slab(ArrayState& a, const std::shared_ptr<Slab>& slab) {
  const auto& ay = layout_.axes[layout_.index_rank()];
  const auto& ax = layout_.axes[layout_.index_rank() + 1];
  const std::int64_t ny = ceil_div(layout_.height, ay.shard);
  const std::int64_t nx = ceil_div(layout_.width, ax.shard);
  std::vector<std::int64_t> shape;
  {
    std::lock_guard lock(mutex_);
    shape = a.shape;
  }
  const bool rewrite = slab->written_before;
  slab->written_before = true;
  make_directories(unit_path(a, *slab, 0, 0).parent_path().parent_path());
  {
    std::lock_guard lock(mutex_);
    slab->units_pending += static_cast<int>(ny * nx);
    a.writing[slab->key] = slab;
  }
  for (std::int64_t ty = 0; ty < ny; ++ty) {
    make_directories(unit_path(a, *slab, ty, 0).parent_path());
    for (std::int64_t tx = 0; tx < nx; ++tx) {
      tasks_.submit([this, &a, slab, ty, tx, shape, rewrite] {
        // Whether the unit was stored or failed, it is no longer in flight.
        struct Done {
          ZarrSink& sink;
          ArrayState& a;
          const std::shared_ptr<Slab>& slab;
          ~Done() {
            std::lock_guard lock(sink.mutex_);
            if (--slab->units_pending > 0) return;
            auto it = a.writing.find(slab->key);
            if (it != a.writing.end() && it->second == slab) a.writing.erase(it);
          }
        } done{*this, a, slab};
        encode_unit(a, *slab, ty, tx, shape, rewrite);
      });
    }
  }
}

void ZarrSink::extract_chunk(const Slab& slab, const std::vector<std::int64_t>& start,
                             const std::vector<std::int64_t>& shape, std::byte* out,
                             bool to_disk) const {
  // start/shape: index axes relative to the slab, then y and x in the frame.
  // Bytes bound for the disk (not an encoder) skip the cache: streaming stores.
  const std::size_t k = slab.extent.size();
  const std::int64_t y0 = start[k];
  const std::int64_t x0 = start[k + 1];
  const std::int64_t cy = shape[k];
  const std::int64_t cx = shape[k + 1];
  const std::int64_t rows = std::min(cy, layout_.height - y0);
  const std::int64_t cols = std::min(cx, layout_.width - x0);
  std::int64_t planes = 1;
  for (std::size_t i = 0; i < k; ++i) planes *= shape[i];
  const std::size_t chunk_bytes = static_cast<std::size_t>(planes * cy * cx) * element_bytes_;
  if (rows < cy || cols < cx) std::memset(out, 0, chunk_bytes);
  std::vector<std::int64_t> counter(k, 0);
  for (std::int64_t p = 0; p < planes; ++p) {
    std::int64_t local = 0;
    for (std::size_t i = 0; i < k; ++i) local = local * slab.extent[i] + start[i] + counter[i];
    const std::byte* frame = slab.frame_data(static_cast<std::size_t>(local), zeros_);
    std::byte* plane = out + static_cast<std::size_t>(p * cy * cx) * element_bytes_;
    const std::byte* first =
        frame + static_cast<std::size_t>(y0 * layout_.width + x0) * element_bytes_;
    const std::size_t row_bytes = static_cast<std::size_t>(cols) * element_bytes_;
    if (cols == layout_.width && cx == cols) {  // whole rows: one block
      (to_disk ? copy_streaming : copy_bytes)(plane, first,
                                              static_cast<std::size_t>(rows) * row_bytes);
    } else {
      const auto copy = to_disk && row_bytes >= 256 ? copy_streaming : copy_bytes;
      for (std::int64_t r = 0; r < rows; ++r) {
        copy(plane + static_cast<std::size_t>(r * cx) * element_bytes_,
             first + static_cast<std::size_t>(r * layout_.width) * element_bytes_, row_bytes);
      }
    }
    for (std::size_t i = k; i-- > 0;) {
      if (++counter[i] < shape[i]) break;
      counter[i] = 0;
    }
  }
  if (to_disk) streaming_fence();
}

void ZarrSink::encode_unit(const ArrayState& a, const Slab& slab, std::int64_t ty, std::int64_t tx,
                           const std::vector<std::int64_t>& shape, bool rewrite) {
  const std::size_t k = layout_.index_rank();
  thread_local AlignedBuffer chunk;
  thread_local AlignedBuffer encoded;
  thread_local AlignedBuffer shard;
  // These buffers live as long as the encoder thread: their memory counts
  // toward the budget once it is allocated.
  thread_local std::size_t accounted = 0;
  struct Account {
    MemoryBudget& budget;
    ~Account() {
      const std::size_t now = chunk.capacity() + encoded.capacity() + shard.capacity();
      if (now > accounted) {
        budget.force_acquire(now - accounted);
        accounted = now;
      }
    }
  } account{budget_};
  const fs::path path = unit_path(a, slab, ty, tx);
  auto store = [&](const void* data, std::size_t n) {
    if (rewrite) {
      write_file_atomic(path, std::string_view(static_cast<const char*>(data), n));
    } else if (settings_.engine.direct_io) {
      write_file_direct(path, data, n);
    } else {
      write_file(path, data, n);
    }
    bytes_written_ += n;
  };
  const auto& ay = layout_.axes[k];
  const auto& ax = layout_.axes[k + 1];
  if (!layout_.sharded) {
    std::vector<std::int64_t> start(k, 0);
    std::vector<std::int64_t> cshape = slab.extent;
    start.push_back(ty * ay.chunk);
    start.push_back(tx * ax.chunk);
    cshape.push_back(ay.chunk);
    cshape.push_back(ax.chunk);
    const std::size_t frames = static_cast<std::size_t>(slab.frames);
    const std::byte* src = slab.frame_data(0, zeros_);
    std::size_t n = frames * layout_.frame_bytes;
    if (whole_frame_chunks_ && frames > 1 && !codec_.compresses() && !rewrite &&
        settings_.engine.direct_io) {
      // The chunk is its frames back to back: write them from the queue's
      // buffers in one gathered (O_DIRECT) write, no assembly copy.
      std::vector<std::pair<const void*, std::size_t>> pieces;
      for (std::size_t f = 0; f < frames; ++f) {
        pieces.emplace_back(slab.frame_data(f, zeros_), layout_.frame_bytes);
      }
      write_file_gather(path, pieces);
      bytes_written_ += n;
      return;
    }
    if (!whole_frame_chunks_ || frames > 1) {
      n = static_cast<std::size_t>(slab.frames * ay.chunk * ax.chunk) * element_bytes_;
      chunk.resize(n);
      extract_chunk(slab, start, cshape, chunk.data(), !codec_.compresses());
      src = chunk.data();
    }
    if (!codec_.compresses()) {
      store(src, n);
    } else {
      codec_.encode(src, n, encoded);
      store(encoded.data(), encoded.size());
    }
    return;
  }
  // Sharded: inner chunks in C order over (index axes, y, x), then the index.
  std::vector<std::int64_t> grid;
  for (std::size_t i = 0; i < k; ++i) grid.push_back(slab.extent[i] / layout_.axes[i].chunk);
  grid.push_back(ay.shard / ay.chunk);
  grid.push_back(ax.shard / ax.chunk);
  std::int64_t inner = 1;
  for (auto g : grid) inner *= g;
  shard.clear();
  std::vector<std::uint64_t> index(static_cast<std::size_t>(inner) * 2, ~std::uint64_t{0});
  std::vector<std::int64_t> cshape;
  for (std::size_t i = 0; i < k; ++i) cshape.push_back(layout_.axes[i].chunk);
  cshape.push_back(ay.chunk);
  cshape.push_back(ax.chunk);
  std::int64_t chunk_elems = 1;
  for (auto c : cshape) chunk_elems *= c;
  const std::size_t chunk_bytes = static_cast<std::size_t>(chunk_elems) * element_bytes_;
  // The whole shard at once: growing it step by step would copy it and fault
  // in fresh pages several times over on every encoder thread.
  shard.reserve(static_cast<std::size_t>(inner) * (chunk_bytes + 16) + 4);
  std::vector<std::int64_t> c(grid.size(), 0);
  std::vector<std::int64_t> start(grid.size());
  for (std::int64_t n = 0; n < inner; ++n) {
    bool inside = true;
    for (std::size_t i = 0; i < k; ++i) {
      start[i] = c[i] * cshape[i];
      if (slab.start[i] + start[i] >= shape[i]) inside = false;
    }
    start[k] = ty * ay.shard + c[k] * ay.chunk;
    start[k + 1] = tx * ax.shard + c[k + 1] * ax.chunk;
    if (start[k] >= layout_.height || start[k + 1] >= layout_.width) inside = false;
    if (inside) {
      const std::size_t offset = shard.size();
      std::size_t nbytes = chunk_bytes;
      if (codec_.compresses()) {
        chunk.resize(chunk_bytes);
        extract_chunk(slab, start, cshape, chunk.data(), /*to_disk=*/false);
        codec_.encode(chunk.data(), chunk_bytes, encoded);
        nbytes = encoded.size();
        shard.append(encoded.data(), nbytes);
      } else {
        // Uncompressed: assemble the inner chunk in place in the shard.
        shard.resize(offset + chunk_bytes);
        extract_chunk(slab, start, cshape, shard.data() + offset, /*to_disk=*/true);
      }
      index[static_cast<std::size_t>(n) * 2] = offset;
      index[static_cast<std::size_t>(n) * 2 + 1] = nbytes;
    }
    for (std::size_t i = grid.size(); i-- > 0;) {
      if (++c[i] < grid[i]) break;
      c[i] = 0;
    }
  }
  std::vector<std::byte> index_bytes;
  index_bytes.reserve(index.size() * 8 + 4);
  for (auto v : index) append_u64(index_bytes, v);
  const std::uint32_t crc = crc32c(index_bytes.data(), index_bytes.size());
  for (int i = 0; i < 4; ++i)
    index_bytes.push_back(static_cast<std::byte>((crc >> (8 * i)) & 0xFF));
  shard.append(index_bytes.data(), index_bytes.size());
  store(shard.data(), shard.size());
}

void ZarrSink::flush() {
  for (auto& a : arrays_) {
    std::vector<std::shared_ptr<Slab>> partial;
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, slab] : a->open) {
        if (slab->with_data > 0) partial.push_back(slab);
      }
    }
    for (auto& slab : partial) write_slab(*a, slab);
  }
  tasks_.wait();
  std::lock_guard lock(mutex_);
  for (auto& a : arrays_) {
    write_array_metadata(*a);
    if (a->journal != nullptr) std::fflush(a->journal);
    if (!a->frame_metadata.empty()) write_group(a->group);
  }
}

void ZarrSink::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& a : arrays_) {
    std::vector<std::shared_ptr<Slab>> rest;
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, slab] : a->open) rest.push_back(slab);
      a->open.clear();
    }
    for (auto& slab : rest) {
      if (slab->with_data > 0) write_slab(*a, slab);
    }
  }
  tasks_.wait();
  std::lock_guard lock(mutex_);
  for (auto& a : arrays_) write_array_metadata(*a);
  write_groups();
  for (auto& a : arrays_) {
    if (a->journal != nullptr) {
      std::fclose(a->journal);
      a->journal = nullptr;
      std::error_code ec;
      fs::remove(a->group_dir / kZarrJournalName, ec);
    }
  }
}

std::string ZarrSink::metadata_json() const {
  std::lock_guard lock(mutex_);
  json out = json::object();
  for (const auto& a : arrays_) out[a->group.empty() ? "." : a->group] = groups_.at(a->group);
  return out.dump();
}

void ZarrSink::update_metadata_json(const std::string& text) {
  const json update = json::parse(text);
  std::lock_guard lock(mutex_);
  for (const auto& [key, attrs] : update.items()) {
    const std::string rel = key == "." ? "" : key;
    if (groups_.find(rel) == groups_.end()) {
      throw Error(ErrorCode::kInvalidArgument, "unknown metadata group '" + key + "'");
    }
  }
  for (const auto& [key, attrs] : update.items()) {
    const std::string rel = key == "." ? "" : key;
    json clean = attrs;
    clean.erase("ome_writers");
    groups_[rel] = clean;
    write_group(rel);
  }
}

void ZarrSink::set_global_metadata(const std::string& name_space, const std::string& text) {
  std::lock_guard lock(mutex_);
  // Global metadata lives on the root group (the image, bf2raw or plate root).
  groups_[""][name_space] = json::parse(text);
  write_group("");
}

bool ZarrSink::read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                          void* out) const {
  const auto& a = *arrays_.at(static_cast<std::size_t>(position));
  const std::size_t k = layout_.index_rank();
  std::vector<std::int64_t> key(k);
  for (std::size_t i = 0; i < k; ++i) key[i] = storage_index[i] / layout_.axes[i].shard;
  {
    // A unit still being assembled, or complete but not yet in its files,
    // holds the frame in memory.
    std::lock_guard lock(mutex_);
    for (const auto* slabs : {&a.open, &a.writing}) {
      auto it = slabs->find(key);
      if (it == slabs->end()) continue;
      const FrameBuffer& held = it->second->held[it->second->local_index(storage_index)];
      if (!held) return false;  // never arrived: the fill value
      std::memcpy(out, held.data(), layout_.frame_bytes);
      return true;
    }
  }
  // Not buffered: decode it from the files.
  const auto& ay = layout_.axes[k];
  const auto& ax = layout_.axes[k + 1];
  Slab probe;
  probe.key = key;
  std::vector<std::int64_t> local(k);
  std::int64_t unit_frames = 1;
  for (std::size_t i = 0; i < k; ++i) {
    probe.start.push_back(key[i] * layout_.axes[i].shard);
    probe.extent.push_back(layout_.axes[i].shard);
    local[i] = storage_index[i] - probe.start[i];
    unit_frames *= layout_.axes[i].shard;
  }
  auto* dst = static_cast<std::byte*>(out);
  std::memset(dst, 0, layout_.frame_bytes);
  bool found = false;
  std::vector<std::byte> decoded;
  // Copies rows of one decoded chunk (planes x cy x cx) into the frame.
  auto copy_rows = [&](const std::byte* chunk, std::int64_t plane, std::int64_t y0,
                       std::int64_t x0) {
    const std::int64_t rows = std::min(ay.chunk, layout_.height - y0);
    const std::int64_t cols = std::min(ax.chunk, layout_.width - x0);
    for (std::int64_t r = 0; r < rows; ++r) {
      std::memcpy(
          dst + static_cast<std::size_t>((y0 + r) * layout_.width + x0) * element_bytes_,
          chunk + static_cast<std::size_t>((plane * ay.chunk + r) * ax.chunk) * element_bytes_,
          static_cast<std::size_t>(cols) * element_bytes_);
    }
  };
  const std::int64_t ny = ceil_div(layout_.height, ay.shard);
  const std::int64_t nx = ceil_div(layout_.width, ax.shard);
  for (std::int64_t ty = 0; ty < ny; ++ty) {
    for (std::int64_t tx = 0; tx < nx; ++tx) {
      std::string file;
      try {
        file = read_file(unit_path(a, probe, ty, tx));
      } catch (const Error&) {
        continue;
      }
      found = true;
      if (!layout_.sharded) {
        std::int64_t plane = 0;
        for (std::size_t i = 0; i < k; ++i) plane = plane * probe.extent[i] + local[i];
        const std::size_t n =
            static_cast<std::size_t>(unit_frames * ay.chunk * ax.chunk) * element_bytes_;
        decoded.resize(n);
        codec_.decode(file.data(), file.size(), decoded.data(), n);
        copy_rows(decoded.data(), plane, ty * ay.chunk, tx * ax.chunk);
        continue;
      }
      // Sharded: find the inner chunks that hold this frame.
      std::vector<std::int64_t> grid;
      std::int64_t plane = 0;
      std::int64_t planes = 1;
      std::int64_t inner_index_prefix = 0;
      for (std::size_t i = 0; i < k; ++i) {
        const auto c = layout_.axes[i].chunk;
        grid.push_back(probe.extent[i] / c);
        inner_index_prefix = inner_index_prefix * grid[i] + local[i] / c;
        plane = plane * c + local[i] % c;
        planes *= c;
      }
      const std::int64_t gy = ay.shard / ay.chunk;
      const std::int64_t gx = ax.shard / ax.chunk;
      const std::size_t n = static_cast<std::size_t>(planes * ay.chunk * ax.chunk) * element_bytes_;
      const std::size_t entries = file.size() >= 4 ? (file.size() - 4) / 16 : 0;
      const std::int64_t total = [&] {
        std::int64_t t = gy * gx;
        for (auto g : grid) t *= g;
        return t;
      }();
      if (static_cast<std::int64_t>(entries) < total) continue;
      const char* idx = file.data() + file.size() - 4 - static_cast<std::size_t>(total) * 16;
      for (std::int64_t cy = 0; cy < gy; ++cy) {
        for (std::int64_t cx = 0; cx < gx; ++cx) {
          const std::int64_t n_inner = (inner_index_prefix * gy + cy) * gx + cx;
          std::uint64_t off = 0;
          std::uint64_t len = 0;
          std::memcpy(&off, idx + n_inner * 16, 8);
          std::memcpy(&len, idx + n_inner * 16 + 8, 8);
          if (off == ~std::uint64_t{0}) continue;
          decoded.resize(n);
          codec_.decode(file.data() + off, len, decoded.data(), n);
          const std::int64_t y0 = ty * ay.shard + cy * ay.chunk;
          const std::int64_t x0 = tx * ax.shard + cx * ax.chunk;
          if (y0 < layout_.height && x0 < layout_.width) copy_rows(decoded.data(), plane, y0, x0);
        }
      }
    }
  }
  return found;
}

std::vector<std::int64_t> ZarrSink::current_shape(std::int64_t position) const {
  std::lock_guard lock(mutex_);
  return arrays_.at(static_cast<std::size_t>(position))->shape;
}

std::size_t ZarrSink::recover(const fs::path& root) {
  std::size_t recovered = 0;
  std::error_code ec;
  // Collect first: the journals are removed as they are folded.
  std::vector<fs::path> journals;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().filename() == kZarrJournalName) journals.push_back(it->path());
  }
  for (const fs::path& journal : journals) {
    const fs::path group = journal.parent_path();
    json meta = json::parse(read_file(group / "zarr.json"));
    json entries = json::array();
    std::ifstream in(journal);
    std::string line;
    std::vector<std::int64_t> extent;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json entry;
      try {
        entry = json::parse(line);
      } catch (const json::exception&) {
        break;  // a line cut short by the crash
      }
      const auto idx = entry.value("storage_index", std::vector<std::int64_t>{});
      if (extent.size() < idx.size()) extent.resize(idx.size(), 0);
      for (std::size_t i = 0; i < idx.size(); ++i) extent[i] = std::max(extent[i], idx[i] + 1);
      entries.push_back(std::move(entry));
    }
    recovered += entries.size();
    meta["attributes"]["ome_writers"] = frame_metadata_attributes(entries);
    write_file_atomic(group / "zarr.json", meta.dump(2));
    // The array shape may lag behind the data written after the last flush.
    const fs::path array_meta = group / "0" / "zarr.json";
    if (fs::exists(array_meta)) {
      json am = json::parse(read_file(array_meta));
      auto shape = am["shape"].get<std::vector<std::int64_t>>();
      bool grew = false;
      for (std::size_t i = 0; i < extent.size() && i < shape.size(); ++i) {
        if (extent[i] > shape[i]) {
          shape[i] = extent[i];
          grew = true;
        }
      }
      if (grew) {
        am["shape"] = shape;
        write_file_atomic(array_meta, am.dump(2));
      }
    }
    fs::remove(journal, ec);
  }
  return recovered;
}

}  // namespace ome_writers::detail
