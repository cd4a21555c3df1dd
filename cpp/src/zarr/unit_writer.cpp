#include "zarr/unit_writer.hpp"

#include <cstring>
#include <string_view>
#include <utility>

#include "util/fs.hpp"
#include "util/thread_cache.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;

/// One encoder thread's scratch buffers, reused from unit to unit. They live
/// as long as the thread: their memory counts toward the budget once it is
/// allocated.
struct UnitWriter::Buffers {
  AlignedBuffer chunk;
  AlignedBuffer encoded;
  AlignedBuffer shard;
  std::size_t charged = 0;  // bytes of capacity already charged to the budget

  /// Charges the budget for the capacity grown since the last call.
  void charge_growth(MemoryBudget& budget) {
    const std::size_t now = chunk.capacity() + encoded.capacity() + shard.capacity();
    if (now > charged) {
      budget.force_acquire(now - charged);
      charged = now;
    }
  }
};

namespace {

bool chunks_are_whole_frames(const Layout& layout) {
  const std::size_t k = layout.index_rank();
  return layout.axes[k].chunk == layout.height && layout.axes[k + 1].chunk == layout.width;
}

}  // namespace

bool stores_through_io_thread(const Layout& layout, bool compresses, bool direct_io) {
  return compresses && direct_io && !layout.sharded && slab_frames(layout) == 1 &&
         chunks_are_whole_frames(layout);
}

UnitWriter::UnitWriter(const Layout& layout, const ChunkCodec& codec, MemoryBudget& budget,
                       bool direct_io)
    : layout_(layout),
      codec_(codec),
      budget_(budget),
      direct_io_(direct_io),
      whole_frame_chunks_(chunks_are_whole_frames(layout)),
      through_io_(stores_through_io_thread(layout, codec.compresses(), direct_io)),
      shards_(layout, codec, zeros_) {
  if (slab_frames(layout) > 1) {
    zeros_.resize(layout.frame_bytes);
    std::memset(zeros_.data(), 0, layout.frame_bytes);
  }
}

void UnitWriter::write(const fs::path& array_dir, const Slab& slab, std::int64_t uy,
                       std::int64_t ux, const std::vector<std::int64_t>& shape, bool rewrite,
                       TaskPool* io, std::shared_ptr<void> done) {
  // Stored here, `done` goes with this call (whether it returns or throws).
  if (io != nullptr && through_io_ && !rewrite) {
    // The encoder would otherwise sit in the disk write, and with three
    // encoders on two cores two of them often do at once: a core idles.
    encode_then_hand_off(unit_path(array_dir, slab, uy, ux), slab, *io, std::move(done));
    return;
  }
  Buffers& buffers = thread_cache<Buffers>();
  // Whether the unit is stored or fails, what its buffers grew stays allocated.
  struct Charge {
    Buffers& buffers;
    MemoryBudget& budget;
    ~Charge() { buffers.charge_growth(budget); }
  } charge{buffers, budget_};
  const fs::path path = unit_path(array_dir, slab, uy, ux);
  if (layout_.sharded) {
    shards_.assemble(slab, uy, ux, shape, buffers.chunk, buffers.encoded, buffers.shard);
    store(path, buffers.shard.data(), buffers.shard.size(), rewrite);
  } else if (writes_frames_as_they_are(slab, rewrite)) {
    write_gathered(path, slab);
  } else {
    write_chunk(path, slab, uy, ux, rewrite, buffers);
  }
}

bool UnitWriter::writes_frames_as_they_are(const Slab& slab, bool rewrite) const {
  return whole_frame_chunks_ && slab.frames > 1 && !codec_.compresses() && !rewrite && direct_io_;
}

void UnitWriter::write_gathered(const fs::path& path, const Slab& slab) {
  // The chunk is its frames back to back: write them from the queue's
  // buffers in one gathered (O_DIRECT) write, no assembly copy.
  const std::size_t frames = static_cast<std::size_t>(slab.frames);
  std::vector<std::pair<const void*, std::size_t>> pieces;
  for (std::size_t f = 0; f < frames; ++f) {
    pieces.emplace_back(slab.frame_data(f, zeros_), layout_.frame_bytes);
  }
  write_file_gather(path, pieces);
  bytes_written_ += frames * layout_.frame_bytes;
}

void UnitWriter::write_chunk(const fs::path& path, const Slab& slab, std::int64_t uy,
                             std::int64_t ux, bool rewrite, Buffers& buffers) {
  // A single frame that is the whole chunk goes out from its own buffer.
  const std::byte* src = slab.frame_data(0, zeros_);
  std::size_t nbytes = layout_.frame_bytes;
  if (!whole_frame_chunks_ || slab.frames > 1) {
    const std::size_t k = layout_.index_rank();
    const auto& ay = layout_.axes[k];
    const auto& ax = layout_.axes[k + 1];
    std::vector<std::int64_t> start(k, 0);
    std::vector<std::int64_t> shape = slab.extent;
    start.push_back(uy * ay.chunk);
    start.push_back(ux * ax.chunk);
    shape.push_back(ay.chunk);
    shape.push_back(ax.chunk);
    nbytes = static_cast<std::size_t>(slab.frames * ay.chunk * ax.chunk) *
             bytes_per_element(layout_.dtype);
    buffers.chunk.resize(nbytes);
    assemble_chunk(layout_, slab, zeros_, start, shape, buffers.chunk.data(),
                   /*to_disk=*/!codec_.compresses());
    src = buffers.chunk.data();
  }
  if (!codec_.compresses()) {
    store(path, src, nbytes, rewrite);
    return;
  }
  codec_.encode(src, nbytes, buffers.encoded);
  store(path, buffers.encoded.data(), buffers.encoded.size(), rewrite);
}

void UnitWriter::encode_then_hand_off(const fs::path& path, const Slab& slab, TaskPool& io,
                                      std::shared_ptr<void> done) {
  std::shared_ptr<AlignedBuffer> out = take_spare();
  const std::size_t before = out->capacity();
  codec_.encode(slab.frame_data(0, zeros_), layout_.frame_bytes, *out);
  if (out->capacity() > before) budget_.force_acquire(out->capacity() - before);
  io.submit([this, path, out, done]() mutable {
    // Stored or failed, the buffer goes back and `done` is released before
    // the task ends, so that the pool's wait() returns after both.
    struct Finish {
      UnitWriter& writer;
      std::shared_ptr<AlignedBuffer>& out;
      std::shared_ptr<void>& done;
      ~Finish() {
        writer.give_spare(std::move(out));
        done.reset();
      }
    } finish{*this, out, done};
    store(path, out->data(), out->size(), false);
  });
}

std::shared_ptr<AlignedBuffer> UnitWriter::take_spare() {
  std::lock_guard lock(spare_mutex_);
  if (spare_.empty()) return std::make_shared<AlignedBuffer>();
  std::shared_ptr<AlignedBuffer> out = std::move(spare_.back());
  spare_.pop_back();
  return out;
}

void UnitWriter::give_spare(std::shared_ptr<AlignedBuffer> buffer) {
  std::lock_guard lock(spare_mutex_);
  spare_.push_back(std::move(buffer));
}

void UnitWriter::store(const fs::path& path, const void* data, std::size_t nbytes, bool rewrite) {
  if (rewrite) {
    write_file_atomic(path, std::string_view(static_cast<const char*>(data), nbytes));
  } else if (direct_io_) {
    write_file_direct(path, data, nbytes);
  } else {
    write_file(path, data, nbytes);
  }
  bytes_written_ += nbytes;
}

}  // namespace ome_writers::detail
