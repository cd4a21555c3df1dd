#include "zarr/zarr_sink.hpp"

#include <cstring>

#include "core/journal.hpp"
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

/// One position's array and image group.
struct ZarrSink::ArrayState {
  std::string group;  // relative to the root; "" for the root itself
  fs::path group_dir;
  fs::path array_dir;
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
      units_(layout, codec_, budget, settings.engine.direct_io),
      reader_(layout, codec_) {
  check_slab_fits_budget(layout_, budget_);
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
    a->group_dir = a->group.empty() ? root_ : root_ / a->group;
    a->array_dir = a->group_dir / "0";
    check_inside(root_, a->array_dir);
    arrays_.push_back(std::move(a));
  }
  groups_ = container_group_attributes(settings_.plate, layout_.positions);
  for (const auto& [rel, attrs] : groups_) check_inside(root_, root_ / rel);
  prepare_output();
  root_identity_ = identity_of(root_);
  for (std::size_t i = 0; i < arrays_.size(); ++i) {
    auto& a = *arrays_[i];
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
                    zarr_array_metadata(layout_, a.shape, codec_.codec_json()).dump(2));
  a.shape_dirty = false;
  a.shape_written = std::chrono::steady_clock::now();
}

ZarrSink::ArrayState& ZarrSink::array(std::int64_t position) {
  return *arrays_.at(static_cast<std::size_t>(position));
}

std::shared_ptr<Slab> ZarrSink::slab_for(ArrayState& a, const std::vector<std::int64_t>& index) {
  const std::vector<std::int64_t> key = slab_key(layout_, index);
  auto it = a.open.find(key);
  if (it != a.open.end()) return it->second;
  auto slab = std::make_shared<Slab>(Slab::at(layout_, key));
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
  place(a, where, &frame);
}

bool ZarrSink::wants_aligned_frames() const {
  // Only where frames go to the file as they are: unsharded, uncompressed,
  // one chunk per frame plane. Elsewhere they are copied into chunks anyway.
  return settings_.engine.direct_io && !codec_.compresses() && !layout_.sharded &&
         units_.whole_frame_chunks();
}

void ZarrSink::skip_frame(const FrameLocation& where) {
  place(array(where.position), where, nullptr);
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
  const UnitGrid units = unit_grid(layout_);
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
      tasks_.submit([this, &a, slab, uy, ux, shape, rewrite] {
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
        units_.write(a.array_dir, *slab, uy, ux, shape, rewrite);
      });
    }
  }
}

bool ZarrSink::checkpoint() {
  check_store();
  for (auto& a : arrays_) {
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
  tasks_.wait();
  std::lock_guard lock(mutex_);
  for (auto& a : arrays_) {
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
  const auto& a = *arrays_.at(static_cast<std::size_t>(position));
  const std::vector<std::int64_t> key = slab_key(layout_, storage_index);
  {
    // A slab still being assembled, or complete but with units not yet in
    // their files, holds the frame in memory.
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
  return reader_.read_frame(a.array_dir, storage_index, out);
}

std::vector<std::int64_t> ZarrSink::current_shape(std::int64_t position) const {
  std::lock_guard lock(mutex_);
  return arrays_.at(static_cast<std::size_t>(position))->shape;
}

}  // namespace ome_writers::detail
