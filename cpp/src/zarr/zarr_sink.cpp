#include "zarr/zarr_sink.hpp"

#include <cstring>

#include "core/journal.hpp"
#include "core/pyramid.hpp"
#include "ome/ome_xml.hpp"
#include "ome/ome_zarr_json.hpp"
#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"
#include "zarr/group_document.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr auto kShapeRewriteInterval = std::chrono::milliseconds(500);

/// The frames of a slab are held until all of them arrived: one slab must fit
/// the memory budget, or the stream could never make progress.
void check_slab_fits_budget(const Layout& layout, const MemoryBudget& budget) {
  const auto frames = static_cast<std::uint64_t>(slab_frames(layout));
  const std::uint64_t bytes = frames * layout.frame_bytes;
  if (frames <= 1 || bytes <= budget.limit()) return;
  std::string extents;
  for (std::size_t i = 0; i < layout.index_rank(); ++i) {
    extents += (extents.empty() ? "" : ", ") + layout.axes[i].name + "=" +
               std::to_string(layout.axes[i].shard);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "one " + std::string(layout.sharded ? "shard" : "chunk") + " (" + extents +
                  " frames) holds " + std::to_string(bytes) +
                  " bytes, more than the memory budget of " + std::to_string(budget.limit()) +
                  " bytes; use smaller chunks/shards or raise max_memory_bytes");
}

}  // namespace

struct ZarrSink::Level {
  Level(Layout geometry, const ChunkCodec& codec, MemoryBudget& budget, bool direct_io)
      : layout(std::move(geometry)),
        units(layout, codec, budget, direct_io),
        reader(layout, codec),
        pool(layout.frame_bytes, budget) {}
  const Layout layout;
  UnitWriter units;
  UnitReader reader;
  BufferPool pool;  // the level's planes (level 0's frames come from the queue)
};

struct ZarrSink::PendingPlane {
  std::vector<std::byte> data;  // empty: the plane never arrived (fill value)
  bool first = false;           // the even plane of its pair in z
};

/// One position's array and image group (level 0), or one reduced level's
/// array of that position.
struct ZarrSink::ArrayState {
  std::string group;  // relative to the root; "" for the root itself
  fs::path group_dir;
  fs::path array_dir;
  Level* level = nullptr;
  // Level 0 only: the reduced levels' arrays, [L - 1] for level L.
  std::vector<std::unique_ptr<ArrayState>> reduced;
  // Reduced levels halving z: planes of the level above waiting for their
  // partner, by this level's storage index.
  std::map<std::vector<std::int64_t>, PendingPlane> pending;
  std::vector<std::int64_t> shape;
  bool shape_dirty = false;
  std::chrono::steady_clock::time_point shape_written{};
  std::map<std::vector<std::int64_t>, std::shared_ptr<Slab>> open;
  // Complete slabs whose units are still being written: readers take their
  // frames from here, never from a half-written file.
  std::map<std::vector<std::int64_t>, std::shared_ptr<Slab>> writing;
  // Frame metadata: the journal's lines (none in memory).
  Journal journal;
  bool frame_metadata_dirty = false;  // entries the group's zarr.json lacks
};

ZarrSink::ZarrSink(const StreamSettings& settings, const Layout& layout, MemoryBudget& budget,
                   TaskPool& tasks)
    : settings_(settings),
      layout_(layout),
      budget_(budget),
      tasks_(tasks),
      codec_(settings.compression, layout.dtype, settings.engine.compression_level),
      root_(platform::path_from_utf8(settings.output_path())),
      io_(stores_through_io_thread(layout, codec_.compresses(), settings.engine.direct_io) ? 1
                                                                                           : 0) {
  check_slab_fits_budget(layout_, budget_);
  const int levels = pyramid_levels(settings_, layout_);
  z_axis_ = pyramid_z_axis(settings_, layout_);
  // The reduced levels' chunks being filled hold at most a quarter of the budget.
  const std::uint64_t held =
      levels > 1 ? budget_.limit() / 4 / static_cast<std::uint64_t>(levels - 1) : 0;
  std::vector<std::vector<double>> factors;
  for (int level = 0; level < levels; ++level) {
    levels_.push_back(
        std::make_unique<Level>(level == 0 ? layout_ : level_layout(layout_, level, z_axis_, held),
                                codec_, budget_, settings.engine.direct_io));
    if (level > 0) factors.push_back(level_factors(layout_, level, z_axis_));
  }
  const bool centred = settings_.pyramid.method != DownsampleMethod::kDecimate;
  const std::vector<std::string> groups = image_group_paths(settings_, layout_);
  for (const std::string& group : groups) {
    auto a = std::make_unique<ArrayState>();
    a->group = group;
    a->group_dir = a->group.empty() ? root_ : root_ / a->group;
    a->array_dir = a->group_dir / "0";
    a->level = levels_[0].get();
    check_inside(root_, a->array_dir);
    for (std::size_t level = 1; level < levels_.size(); ++level) {
      auto r = std::make_unique<ArrayState>();
      r->group = a->group;
      r->group_dir = a->group_dir;
      r->array_dir = a->group_dir / std::to_string(level);
      r->level = levels_[level].get();
      a->reduced.push_back(std::move(r));
    }
    arrays_.push_back(std::move(a));
  }
  groups_ = container_group_attributes(settings_.plate, layout_.positions);
  for (const auto& [rel, attrs] : groups_) check_inside(root_, root_ / rel);
  prepare_output();
  root_identity_ = identity_of(root_);
  for (std::size_t i = 0; i < arrays_.size(); ++i) {
    auto& a = *arrays_[i];
    groups_[a.group] =
        json{{"ome", ome_image_attributes(layout_, layout_.positions[i], factors, centred)}};
    for (const auto& axis : layout_.axes) a.shape.push_back(axis.count);
    make_directories(a.array_dir);
    write_array_metadata(a);
    for (auto& r : a.reduced) {
      for (const auto& axis : r->level->layout.axes) r->shape.push_back(axis.count);
      make_directories(r->array_dir);
      write_array_metadata(*r);
    }
  }
  write_groups();
  if (layout_.positions.size() > 1 && !settings_.plate) {
    write_file_atomic(root_ / "OME" / "METADATA.ome.xml",
                      build_ome_xml_for_zarr(settings_, layout_, make_uuid(), utc_now_iso8601()));
  }
}

ZarrSink::~ZarrSink() = default;

void ZarrSink::prepare_output() {
  std::error_code ec;
  const auto status = fs::symlink_status(root_, ec);
  if (fs::exists(status)) {
    if (!settings_.overwrite) {
      throw Error(ErrorCode::kFileExists,
                  "File '" + platform::path_to_utf8(root_) +
                      "' already exists. Use overwrite=True to replace it.");
    }
    const bool is_dir = fs::is_directory(status);
    const bool zarr = is_dir && fs::exists(root_ / "zarr.json");
    const bool empty = is_dir && fs::is_empty(root_, ec);
    if (is_dir && !zarr && !empty) {
      throw Error(ErrorCode::kFileExists,
                  "'" + platform::path_to_utf8(root_) +
                      "' exists, but is not a Zarr group. Refusing to overwrite. Please delete "
                      "manually.");
    }
    remove_tree(root_);
  }
  make_directories(root_);
}

void ZarrSink::write_group(const std::string& rel) const {
  const json& attrs = groups_.at(rel);
  const fs::path dir = rel.empty() ? root_ : root_ / rel;
  make_directories(dir);
  // Every image group carries the block, empty or not, so that readers of
  // ome_writers.frame_metadata find it on every image; the bf2raw and plate
  // roots own no frames and get none.
  for (const auto& a : arrays_) {
    if (a->group != rel) continue;
    FrameMetadataSource entries;
    if (a->journal.is_open()) {
      entries.journal = &a->journal;
      entries.end = a->journal.size();
    }
    write_image_group(dir / "zarr.json", attrs, entries);
    return;
  }
  write_file_atomic(dir / "zarr.json", zarr_group_metadata(attrs).dump(2));
}

void ZarrSink::write_groups() {
  for (const auto& [rel, attrs] : groups_) write_group(rel);
}

void ZarrSink::write_array_metadata(ArrayState& a) {
  write_file_atomic(a.array_dir / "zarr.json",
                    zarr_array_metadata(a.level->layout, a.shape, codec_.codec_json()).dump(2));
  a.shape_dirty = false;
  a.shape_written = std::chrono::steady_clock::now();
}

ZarrSink::ArrayState& ZarrSink::array(std::int64_t position) {
  return *arrays_.at(static_cast<std::size_t>(position));
}

std::shared_ptr<Slab> ZarrSink::slab_for(ArrayState& a, const std::vector<std::int64_t>& index) {
  const Layout& layout = a.level->layout;
  const std::vector<std::int64_t> key = slab_key(layout, index);
  auto it = a.open.find(key);
  if (it != a.open.end()) return it->second;
  auto slab = std::make_shared<Slab>(Slab::at(layout, key));
  a.open.emplace(key, slab);
  return slab;
}

void ZarrSink::place(ArrayState& a, const FrameLocation& where, FrameBuffer* frame) {
  const Layout& layout = a.level->layout;
  const std::size_t k = layout.index_rank();
  std::shared_ptr<Slab> complete;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < k; ++i) {
      if (layout.axes[i].count == 0 && where.storage_index[i] + 1 > a.shape[i]) {
        a.shape[i] = where.storage_index[i] + 1;
        a.shape_dirty = true;
      }
    }
    auto slab = slab_for(a, where.storage_index);
    if (frame != nullptr) {
      // A frame kept for a slab still being assembled no longer counts as
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
  io_.rethrow_if_failed();
  auto& a = array(where.position);
  if (!metadata_json.empty()) {
    json entry = json::parse(metadata_json);
    entry["storage_index"] = where.storage_index;
    if (!a.journal.is_open()) {
      Journal created = Journal::create(a.group_dir / kZarrJournalName);
      std::lock_guard lock(mutex_);  // readers of the group document check it
      a.journal = std::move(created);
    }
    a.journal.append(entry.dump());
    std::lock_guard lock(mutex_);
    a.frame_metadata_dirty = true;
  }
  // The levels are computed before the frame goes to its slab: a complete
  // slab is handed to the encoders at once, and may be released any time.
  if (!a.reduced.empty()) feed_levels(a, 1, where.storage_index, frame.data());
  place(a, where, &frame);
}

void ZarrSink::feed_levels(ArrayState& base, std::size_t level,
                           const std::vector<std::int64_t>& index, const std::byte* data) {
  if (level >= levels_.size()) return;
  if (z_axis_ < 0) {
    reduce_and_place(base, level, index, data, nullptr);
    return;
  }
  ArrayState& a = *base.reduced[level - 1];
  const Layout& above = levels_[level - 1]->layout;
  const auto z_at = static_cast<std::size_t>(z_axis_);
  std::vector<std::int64_t> out_index = index;
  out_index[z_at] = index[z_at] / 2;
  const bool first = index[z_at] % 2 == 0;
  // The last plane of an odd count has no partner: its block is one plane deep.
  if (first && index[z_at] + 1 >= above.axes[z_at].count) {
    reduce_and_place(base, level, out_index, data, nullptr);
    return;
  }
  auto it = a.pending.find(out_index);
  if (it == a.pending.end()) {
    PendingPlane plane;
    plane.first = first;
    if (data != nullptr) {
      plane.data.resize(above.frame_bytes);
      std::memcpy(plane.data.data(), data, above.frame_bytes);
      budget_.force_acquire(above.frame_bytes);
    }
    a.pending.emplace(out_index, std::move(plane));
    return;
  }
  PendingPlane partner = std::move(it->second);
  a.pending.erase(it);
  const std::byte* other = partner.data.empty() ? nullptr : partner.data.data();
  if (!partner.data.empty()) budget_.release(above.frame_bytes, false);
  if (data == nullptr && other == nullptr) {
    reduce_and_place(base, level, out_index, nullptr, nullptr);
    return;
  }
  // A plane that never arrived reads as the fill value: it counts as zeros.
  std::vector<std::byte> zeros;
  if (data == nullptr || other == nullptr) {
    zeros.assign(above.frame_bytes, std::byte{0});
    if (data == nullptr) data = zeros.data();
    if (other == nullptr) other = zeros.data();
  }
  if (first) {
    reduce_and_place(base, level, out_index, data, other);
  } else {
    reduce_and_place(base, level, out_index, other, data);
  }
}

void ZarrSink::reduce_and_place(ArrayState& base, std::size_t level,
                                const std::vector<std::int64_t>& index, const std::byte* first,
                                const std::byte* second) {
  ArrayState& a = *base.reduced[level - 1];
  FrameLocation where;
  where.storage_index = index;
  if (first == nullptr) {
    feed_levels(base, level + 1, index, nullptr);
    place(a, where, nullptr);
    return;
  }
  const Layout& above = levels_[level - 1]->layout;
  Level& here = *levels_[level];
  FrameBuffer plane = here.pool.take_for_writer();
  downsample_plane(layout_.dtype, settings_.pyramid.method, first, second, above.height,
                   above.width, plane.data());
  feed_levels(base, level + 1, index, plane.data());
  place(a, where, &plane);
}

void ZarrSink::flush_pending_planes() {
  for (std::size_t level = 1; level < levels_.size(); ++level) {
    const std::size_t bytes = levels_[level - 1]->layout.frame_bytes;
    for (auto& base : arrays_) {
      ArrayState& a = *base->reduced[level - 1];
      auto pending = std::move(a.pending);
      a.pending.clear();
      for (auto& [index, plane] : pending) {
        if (plane.data.empty()) {
          reduce_and_place(*base, level, index, nullptr, nullptr);
          continue;
        }
        const std::vector<std::byte> zeros(bytes, std::byte{0});
        const std::byte* own = plane.data.data();
        if (plane.first) {
          reduce_and_place(*base, level, index, own, zeros.data());
        } else {
          reduce_and_place(*base, level, index, zeros.data(), own);
        }
        budget_.release(bytes, false);
      }
    }
  }
}

bool ZarrSink::wants_aligned_frames() const {
  // Only where frames go to the file as they are: unsharded, uncompressed,
  // one chunk per frame plane. Elsewhere they are copied into chunks anyway.
  return settings_.engine.direct_io && !codec_.compresses() && !layout_.sharded &&
         levels_[0]->units.whole_frame_chunks();
}

std::uint64_t ZarrSink::bytes_written() const {
  std::uint64_t total = 0;
  for (const auto& level : levels_) total += level->units.bytes_written();
  return total;
}

void ZarrSink::skip_frame(const FrameLocation& where) {
  auto& a = array(where.position);
  if (!a.reduced.empty()) feed_levels(a, 1, where.storage_index, nullptr);
  place(a, where, nullptr);
}

void ZarrSink::check_store() const {
  if (identity_of(root_) != root_identity_) store_lost();
}

void ZarrSink::store_lost() const {
  throw Error(ErrorCode::kIo, "the output '" + platform::path_to_utf8(root_) +
                                  "' was removed or replaced while the stream was writing it; "
                                  "frames appended from now on cannot be stored");
}

void ZarrSink::write_slab(ArrayState& a, const std::shared_ptr<Slab>& slab) {
  const UnitGrid units = unit_grid(a.level->layout);
  std::vector<std::int64_t> shape;
  {
    std::lock_guard lock(mutex_);
    shape = a.shape;
  }
  const bool rewrite = slab->written_before;
  slab->written_before = true;
  // Never above the array: a removed store must not be re-created silently.
  if (!make_directories_within(a.array_dir,
                               unit_path(a.array_dir, *slab, 0, 0).parent_path().parent_path())) {
    store_lost();
  }
  {
    std::lock_guard lock(mutex_);
    slab->with_data_written = slab->with_data;
    slab->units_pending += static_cast<int>(units.y * units.x);
    a.writing[slab->key] = slab;
  }
  for (std::int64_t uy = 0; uy < units.y; ++uy) {
    if (!make_directories_within(a.array_dir, unit_path(a.array_dir, *slab, uy, 0).parent_path())) {
      store_lost();
    }
    for (std::int64_t ux = 0; ux < units.x; ++ux) {
      // Whether the unit was stored or failed, it is no longer in flight
      // once `done` is released (by the encoder, or by the io thread that
      // stores it).
      std::shared_ptr<void> done(nullptr, [this, &a, slab](void*) {
        std::lock_guard lock(mutex_);
        if (--slab->units_pending > 0) return;
        auto it = a.writing.find(slab->key);
        if (it != a.writing.end() && it->second == slab) a.writing.erase(it);
      });
      tasks_.submit([this, &a, slab, uy, ux, shape, rewrite, done]() mutable {
        a.level->units.write(a.array_dir, *slab, uy, ux, shape, rewrite, &io_, std::move(done));
      });
    }
  }
}

std::vector<ZarrSink::ArrayState*> ZarrSink::every_array() const {
  std::vector<ArrayState*> out;
  for (const auto& a : arrays_) {
    out.push_back(a.get());
    for (const auto& r : a->reduced) out.push_back(r.get());
  }
  return out;
}

void ZarrSink::wait_for_units() {
  tasks_.wait();
  io_.wait();  // after the encoders: they hand it the last chunks
}

bool ZarrSink::checkpoint() {
  check_store();
  for (auto* a : every_array()) {
    // Partial slabs are written as they stand (missing frames read as the
    // fill value) and rewritten, atomically, when they fill.
    std::vector<std::shared_ptr<Slab>> partial;
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, slab] : a->open) {
        if (slab->with_data > slab->with_data_written) partial.push_back(slab);
      }
    }
    for (auto& slab : partial) write_slab(*a, slab);
  }
  wait_for_units();
  std::lock_guard lock(mutex_);
  for (auto* a : every_array()) {
    if (a->shape_dirty) write_array_metadata(*a);
    if (a->journal.is_open()) a->journal.flush();
  }
  bool dirty = false;
  for (auto& a : arrays_) dirty = dirty || a->frame_metadata_dirty;
  if (!dirty) return true;
  if (!frame_metadata_pacer_.due()) return false;
  frame_metadata_pacer_.run([&] {
    for (auto& a : arrays_) {
      if (!a->frame_metadata_dirty) continue;
      write_group(a->group);
      a->frame_metadata_dirty = false;
    }
  });
  return true;
}

void ZarrSink::close() {
  if (closed_) return;
  closed_ = true;
  // However this ends, the io thread is joined once the encoders are done
  // and the chunks they handed it are stored, so a closed stream keeps no
  // threads.
  struct StopIo {
    TaskPool& encoders;
    TaskPool& io;
    ~StopIo() {
      try {
        encoders.wait();
      } catch (...) {
        // Their failure is reported by close() or was already.
      }
      io.shutdown();
    }
  } stop_io{tasks_, io_};
  // However this ends, the journals are closed: a stream that failed must let
  // go of its descriptors at close(). Their files stay unless everything was
  // written (recover() reads them).
  struct Release {
    std::vector<std::unique_ptr<ArrayState>>& arrays;
    ~Release() {
      for (auto& a : arrays) {
        try {
          a->journal.close();
        } catch (...) {
          // Already failing; the descriptor is released all the same.
        }
      }
    }
  } release{arrays_};
  check_store();
  flush_pending_planes();
  for (auto* a : every_array()) {
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
  wait_for_units();
  std::lock_guard lock(mutex_);
  for (auto* a : every_array()) write_array_metadata(*a);
  write_groups();
  for (auto& a : arrays_) {
    if (a->journal.is_open()) a->journal.remove();
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
  check_store();
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
  check_store();
  std::lock_guard lock(mutex_);
  // Global metadata lives on the root group (the image, bf2raw or plate root).
  groups_[""][name_space] = json::parse(text);
  write_group("");
}

bool ZarrSink::read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                          void* out) const {
  return read_from(*arrays_.at(static_cast<std::size_t>(position)), storage_index, out);
}

int ZarrSink::levels() const { return static_cast<int>(levels_.size()); }

bool ZarrSink::read_level_frame(std::int64_t position, int level,
                                const std::vector<std::int64_t>& storage_index, void* out) const {
  const auto& a = *arrays_.at(static_cast<std::size_t>(position));
  if (level == 0) return read_from(a, storage_index, out);
  check_level(level);
  return read_from(*a.reduced[static_cast<std::size_t>(level - 1)], storage_index, out);
}

std::vector<std::int64_t> ZarrSink::level_shape(std::int64_t position, int level) const {
  check_level(level);
  std::lock_guard lock(mutex_);
  const auto& a = *arrays_.at(static_cast<std::size_t>(position));
  return level == 0 ? a.shape : a.reduced[static_cast<std::size_t>(level - 1)]->shape;
}

bool ZarrSink::read_from(const ArrayState& a, const std::vector<std::int64_t>& storage_index,
                         void* out) const {
  const Layout& layout = a.level->layout;
  const std::vector<std::int64_t> key = slab_key(layout, storage_index);
  {
    // A slab still being assembled, or complete but with units not yet in
    // their files, holds the frame in memory.
    std::lock_guard lock(mutex_);
    for (const auto* slabs : {&a.open, &a.writing}) {
      auto it = slabs->find(key);
      if (it == slabs->end()) continue;
      const FrameBuffer& held = it->second->held[it->second->local_index(storage_index)];
      if (!held) return false;  // never arrived: the fill value
      std::memcpy(out, held.data(), layout.frame_bytes);
      return true;
    }
  }
  return a.level->reader.read_frame(a.array_dir, storage_index, out);
}

std::vector<std::int64_t> ZarrSink::current_shape(std::int64_t position) const {
  std::lock_guard lock(mutex_);
  return arrays_.at(static_cast<std::size_t>(position))->shape;
}

}  // namespace ome_writers::detail
