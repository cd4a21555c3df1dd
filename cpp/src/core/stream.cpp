// Stream: the public API over the queue, the writer thread and a sink.
#include "ome_writers/stream.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/frame_queue.hpp"
#include "core/layout.hpp"
#include "core/live_frames.hpp"
#include "core/sink_factory.hpp"
#include "core/task_pool.hpp"
#include "ome_writers/errors.hpp"
#include "util/frame_copy.hpp"
#include "util/json_check.hpp"
#include "util/pages.hpp"
#include "util/thread_priority.hpp"

#ifndef OME_WRITERS_VERSION
#define OME_WRITERS_VERSION "0.0.0"
#endif

namespace ome_writers {

const char* version() noexcept { return OME_WRITERS_VERSION; }

namespace {

constexpr std::uint64_t kMaxWarmBlocks = 2048;
// Slots mapped before create_stream returns (at least 2): 15-20 ms' work
// here. As many as the first hundred 512x512 frames need, because the warmer
// gets no CPU while the appender and the writer keep both cores of a small
// machine busy: with 16 MiB, a caller appending faster than the disk mapped
// 8-40 of those slots itself, each append that did taking 4-8x longer.
constexpr std::uint64_t kWarmNowBytes = 64u << 20;
// Idle slots the warmer keeps mapped ahead of the appends (at least 2).
constexpr std::uint64_t kWarmLeadBytes = 64u << 20;

// The sinks name files with the suffix the output path uses.
StreamSettings with_suffix(StreamSettings settings) {
  settings.format.suffix = settings.output_suffix();
  return settings;
}

}  // namespace

class Stream::Impl {
 public:
  explicit Impl(StreamSettings settings)
      : settings_(with_suffix(std::move(settings))),
        layout_(detail::validated_layout(settings_)),
        budget_(settings_.engine.max_memory_bytes),
        pool_(layout_.frame_bytes, budget_),
        tasks_(detail::encoder_threads(settings_, layout_)),
        sink_(detail::make_sink(settings_, layout_, budget_, tasks_)) {
    // Map the slots of the first frames before the acquisition needs them
    // (a page fault per 4 KiB on the appending thread would cost several
    // times the copy itself). The first few (kWarmNowBytes) now, so that
    // appends made right away find slots; then a background thread keeps
    // kWarmLeadBytes of idle slots ahead of the appends, so that
    // create_stream returns at once. A lead, not the whole budget: the slots
    // the writer gives back are reused, and mapping slots that a stream
    // keeping up never needs takes CPU from the writer (on 2 cores, a tenth
    // of small frames' throughput). In all, no more than three quarters of
    // the budget (a quarter is left for chunk buffers and encoders), no more
    // than the stream holds, at most kMaxWarmBlocks mappings. An append that
    // outruns the warming maps its own slot.
    copier_.prepare(layout_.frame_bytes);  // before the warmer takes the address-space lock
    const std::uint64_t slot = pool_.charged_bytes();
    std::uint64_t warm =
        std::min<std::uint64_t>(settings_.engine.max_memory_bytes / 4 * 3 / slot, kMaxWarmBlocks);
    if (layout_.total_frames) warm = std::min(warm, *layout_.total_frames);
    const std::uint64_t now =
        std::min<std::uint64_t>(warm, std::max<std::uint64_t>(kWarmNowBytes / slot, 2));
    pool_.prewarm(static_cast<std::size_t>(now));
    if (warm > now) {
      const auto lead = static_cast<std::size_t>(
          std::min<std::uint64_t>(warm, std::max<std::uint64_t>(kWarmLeadBytes / slot, 2)));
      warmer_ = std::thread([this, lead, rest = static_cast<std::size_t>(warm - now)] {
        // Only on a free core: on two cores, warming beside the appender and
        // the writer doubled the first appends' p99.
        detail::make_idle_thread();
        pool_.keep_warm(lead, rest, stop_warming_);
      });
    }
    // Frames alive at once: those the budget holds (borrowed ones count too).
    live_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(
        settings_.engine.max_memory_bytes / pool_.charged_bytes() + 1, std::uint64_t{1} << 16)));
    writer_ = std::thread([this] {
      detail::make_background_thread();
      run();
    });
  }

  ~Impl() {
    try {
      close();
    } catch (...) {
      // A destructor cannot report; close() is where errors surface.
    }
    // The sink may still hold pooled buffers (after a failure): release them
    // while the pool and the budget they return to still exist.
    sink_.reset();
  }

  void check_usable() {
    if (closed_) throw Error(ErrorCode::kClosed, "the stream is closed");
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }

  void append(const void* data, std::size_t nbytes, std::string_view metadata) {
    enqueue_frame(data, nbytes, metadata, [&] {
      detail::FrameBuffer buffer = pool_.take();
      copier_.copy(buffer.data(), data, nbytes);
      return buffer;
    });
  }

  void append_borrowed(const void* data, std::size_t nbytes, std::string_view metadata,
                       std::function<void()> release) {
    if (!release) {
      throw Error(ErrorCode::kInvalidArgument, "append_borrowed() needs a release function");
    }
    enqueue_frame(data, nbytes, metadata, [&] {
      return pool_.borrow(static_cast<const std::byte*>(data), std::move(release));
    });
  }

  // Checks the frame, waits for room in the budget, then queues the buffer
  // that `fill` returns (a copy or the borrowed frame). Nothing is taken if
  // this throws.
  template <typename Fill>
  void enqueue_frame(const void* data, std::size_t nbytes, std::string_view metadata, Fill&& fill) {
    check_usable();
    if (data == nullptr) throw Error(ErrorCode::kInvalidArgument, "frame data is a null pointer");
    if (nbytes != layout_.frame_bytes) {
      throw Error(ErrorCode::kInvalidArgument,
                  "frame has " + std::to_string(nbytes) + " bytes, expected " +
                      std::to_string(layout_.frame_bytes) + " (" + std::to_string(layout_.height) +
                      "x" + std::to_string(layout_.width) + " " +
                      std::string(dtype_name(layout_.dtype)) + ")");
    }
    std::string meta;
    if (!metadata.empty()) {
      // Checked without building the document (the writer parses it once):
      // valid JSON whose first token opens an object; "{}" means none. The
      // quick check decides the usual case; nlohmann::json the rest.
      if (!detail::quick_json_check(metadata) && !nlohmann::json::accept(metadata)) {
        try {
          // Parsed again only for the parser's message.
          [[maybe_unused]] const auto parsed = nlohmann::json::parse(metadata);
        } catch (const nlohmann::json::exception& e) {
          throw Error(ErrorCode::kInvalidArgument,
                      std::string("frame_metadata is not valid JSON: ") + e.what());
        }
      }
      const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
      std::size_t i = 0;
      while (i < metadata.size() && ws(metadata[i])) ++i;
      if (i == metadata.size() || metadata[i] != '{') {
        throw Error(ErrorCode::kInvalidArgument, "frame_metadata must be a JSON object");
      }
      ++i;
      while (i < metadata.size() && ws(metadata[i])) ++i;
      if (i < metadata.size() && metadata[i] != '}') meta.assign(metadata);
    }
    detail::QueueItem item;
    item.kind = detail::QueueItem::Kind::kFrame;
    item.location = layout_.locate(next_frame_);
    const std::uint64_t key =
        layout_.frame_key(item.location.position, item.location.storage_index);
    bool waited = false;
    std::chrono::nanoseconds waited_for{0};
    // The metadata text is held until the writer has journaled it: it counts
    // against the budget too (a long string per frame must not grow the heap
    // without bound while the writer is behind).
    if (!budget_.acquire_for_frame(
            pool_.charged_bytes() + meta.size(),
            std::chrono::duration<double>(settings_.engine.append_timeout_seconds), &waited,
            &waited_for)) {
      throw Error(ErrorCode::kTimeout, "append timed out after " +
                                           std::to_string(settings_.engine.append_timeout_seconds) +
                                           " s waiting for the writer (memory budget " +
                                           std::to_string(budget_.limit()) + " bytes is full)");
    }
    last_append_wait_ns_ = waited_for.count();
    if (waited) {
      ++append_waits_;
      append_wait_ns_ += static_cast<std::uint64_t>(waited_for.count());
    }
    item.buffer = fill();
    item.buffer.track(live_, key);
    item.metadata_bytes = meta.size();
    item.metadata = std::move(meta);
    item.queued = std::chrono::steady_clock::now();
    ++next_frame_;
    queue_.push(std::move(item));
  }

  void skip(std::uint64_t frames) {
    check_usable();
    if (frames == 0) throw Error(ErrorCode::kInvalidArgument, "skip() needs frames >= 1, got 0");
    if (layout_.total_frames && next_frame_ + frames > *layout_.total_frames) {
      throw Error(ErrorCode::kIndexOutOfRange, "Cannot skip frames: would exceed total of " +
                                                   std::to_string(*layout_.total_frames) +
                                                   " frames (tried to skip " +
                                                   std::to_string(frames) + ")");
    }
    detail::QueueItem item;
    item.kind = detail::QueueItem::Kind::kSkip;
    item.count = frames;
    item.location.storage_index.clear();
    item.first_frame = next_frame_;
    item.queued = std::chrono::steady_clock::now();
    next_frame_ += frames;
    queue_.push(std::move(item));
  }

  void flush() {
    check_usable();
    wait_for(detail::QueueItem::Kind::kFlush);
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    stop_warming_ = true;
    pool_.wake_waiters();
    if (warmer_.joinable()) warmer_.join();
    wait_for(detail::QueueItem::Kind::kClose);
    writer_.join();
    tasks_.shutdown();
    copier_.stop();
    pool_.release_idle();
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }

  bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                  void* out) const {
    // A frame still in a queue slot or a caller's buffer is read from there;
    // once that buffer is released, the sink has it (in memory or the files).
    if (live_.read(layout_.frame_key(position, storage_index), out, layout_.frame_bytes)) {
      return true;
    }
    return sink_->read_frame(position, storage_index, out);
  }

  StreamStats stats() const {
    StreamStats s;
    s.frames_appended = next_frame_;
    s.frames_written = frames_written_.load();
    s.bytes_written = sink_->bytes_written();
    s.queue_bytes = budget_.used();
    s.peak_queue_bytes = budget_.peak();
    s.append_waits = append_waits_;
    s.append_wait_seconds = static_cast<double>(append_wait_ns_.load()) / 1e9;
    s.checkpoints = checkpoints_;
    s.checkpoint_seconds = static_cast<double>(checkpoint_ns_.load()) / 1e9;
    return s;
  }

  double last_append_wait_seconds() const noexcept {
    return static_cast<double>(last_append_wait_ns_) / 1e9;
  }

  /// The format's writer (valid until the stream is destroyed).
  detail::Sink& sink() const { return *sink_; }

  StreamSettings settings_;
  detail::Layout layout_;
  bool closed_ = false;

 private:
  void wait_for(detail::QueueItem::Kind kind) {
    detail::QueueItem item;
    item.kind = kind;
    std::unique_lock lock(mutex_);
    item.ticket = ++tickets_issued_;
    const auto ticket = item.ticket;
    lock.unlock();
    queue_.push(std::move(item));
    lock.lock();
    done_.wait(lock, [&] { return tickets_done_ >= ticket; });
  }

  void record_error() {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }

  bool failed() {
    std::lock_guard lock(mutex_);
    return static_cast<bool>(error_);
  }

  /// The checkpoint interval, or nothing when checkpoints are off.
  std::optional<std::chrono::steady_clock::duration> checkpoint_interval() const {
    const double seconds = settings_.engine.checkpoint_interval_seconds;
    if (!(seconds > 0)) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(seconds));
  }

  /// In place and durable: what flush() promises, and the periodic
  /// checkpoint's work (an OS crash or a power loss keeps it too).
  /// Returns false when the sink left a large document for later (paced).
  bool checkpoint() {
    if (failed()) return true;
    const auto start = std::chrono::steady_clock::now();
    const bool complete = sink_->checkpoint();
    sink_->sync();
    checkpoint_ns_ +=
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - start)
                                       .count());
    ++checkpoints_;
    return complete;
  }

  void run() {
    const auto interval = checkpoint_interval();
    // When the oldest frame not yet checkpointed is due: one interval after
    // it was queued, and never sooner than one interval after the last
    // checkpoint. Unset while everything is checkpointed (an idle stream
    // checkpoints once). The second bound matters when the writer is behind:
    // the frames it takes were queued more than an interval ago, and without
    // it every frame would be due at once. Each checkpoint drains the
    // encoders and syncs the file system, so checkpointing per frame would
    // leave one core busy and the writer further behind with every frame.
    std::optional<std::chrono::steady_clock::time_point> due;
    std::chrono::steady_clock::time_point last_checkpoint{};
    // After a checkpoint: nothing is due, unless a paced document was left
    // for later; then it is tried again one interval on (an idle stream too).
    const auto checkpointed = [&](bool complete) {
      last_checkpoint = std::chrono::steady_clock::now();
      due.reset();
      if (!complete && interval) due = last_checkpoint + *interval;
    };
    for (;;) {
      std::optional<detail::QueueItem> next = due ? queue_.pop_until(*due) : queue_.pop();
      if (!next) {
        checkpointed(run_checkpoint());
        continue;
      }
      detail::QueueItem& item = *next;
      using Kind = detail::QueueItem::Kind;
      try {
        switch (item.kind) {
          case Kind::kFrame:
            if (!failed()) {
              if (item.buffer.borrowed() && sink_->wants_aligned_frames() &&
                  !detail::is_page_aligned(item.buffer.data())) {
                item.buffer.make_owned();
              }
              sink_->write_frame(item.location, std::move(item.buffer), item.metadata);
            }
            release_metadata(item);
            ++frames_written_;
            pool_.prepare_spare();
            break;
          case Kind::kSkip:
            for (std::uint64_t k = 0; k < item.count && !failed(); ++k) {
              sink_->skip_frame(layout_.locate(item.first_frame + k));
              ++frames_written_;
            }
            break;
          case Kind::kFlush:
            checkpointed(checkpoint());
            break;
          case Kind::kClose:
            // Even after a failure, write the metadata of what reached the files.
            sink_->close();
            if (settings_.engine.fsync_on_close && !failed()) sink_->sync();
            break;
        }
      } catch (...) {
        record_error();
      }
      release_metadata(item);  // also when the frame could not be written
      if (item.kind == Kind::kFlush || item.kind == Kind::kClose) {
        {
          std::lock_guard lock(mutex_);
          tickets_done_ = item.ticket;
        }
        done_.notify_all();
        if (item.kind == Kind::kClose) return;
        continue;
      }
      if (interval && !due) due = std::max(item.queued, last_checkpoint) + *interval;
      // A busy stream checkpoints between frames.
      if (due && std::chrono::steady_clock::now() >= *due) checkpointed(run_checkpoint());
    }
  }

  void release_metadata(detail::QueueItem& item) {
    if (item.metadata_bytes == 0) return;
    budget_.release(item.metadata_bytes, /*frame=*/false);
    item.metadata_bytes = 0;
  }

  bool run_checkpoint() {
    try {
      return checkpoint();
    } catch (...) {
      // Surfaces at the next call, like a failed write.
      record_error();
      return true;
    }
  }

  detail::MemoryBudget budget_;
  // Outlives every frame buffer: the queue is declared after it, and the
  // sink is destroyed first (~Impl).
  detail::LiveFrames live_;
  detail::BufferPool pool_;
  detail::FrameCopier copier_;
  detail::FrameQueue queue_;
  detail::TaskPool tasks_;
  // After the budget and the task pool, which it uses from its constructor on.
  std::unique_ptr<detail::Sink> sink_;
  std::thread writer_;
  std::thread warmer_;  // keeps idle slots mapped ahead of the appends (joined at close)
  std::atomic<bool> stop_warming_{false};
  // Written by the appending thread, read by stats() on any thread.
  std::atomic<std::uint64_t> next_frame_{0};
  std::atomic<std::uint64_t> append_waits_{0};
  std::atomic<std::uint64_t> append_wait_ns_{0};  // appends' time waiting for room
  std::int64_t last_append_wait_ns_ = 0;          // the appending thread's last wait
  std::atomic<std::uint64_t> frames_written_{0};
  std::atomic<std::uint64_t> checkpoints_{0};
  std::atomic<std::uint64_t> checkpoint_ns_{0};
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::uint64_t tickets_issued_ = 0;
  std::uint64_t tickets_done_ = 0;
  std::exception_ptr error_;
};

Stream::Stream(StreamSettings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}
Stream::~Stream() = default;
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;

void Stream::append(const void* data, std::size_t nbytes, std::string_view frame_metadata_json) {
  impl_->append(data, nbytes, frame_metadata_json);
}
void Stream::append_borrowed(const void* data, std::size_t nbytes,
                             std::string_view frame_metadata_json, std::function<void()> release) {
  impl_->append_borrowed(data, nbytes, frame_metadata_json, std::move(release));
}
void Stream::skip(std::uint64_t frames) { impl_->skip(frames); }
void Stream::flush() { impl_->flush(); }
void Stream::close() { impl_->close(); }
bool Stream::closed() const noexcept { return impl_->closed_; }
std::int64_t Stream::frame_height() const noexcept { return impl_->layout_.height; }
std::int64_t Stream::frame_width() const noexcept { return impl_->layout_.width; }
std::size_t Stream::frame_bytes() const noexcept { return impl_->layout_.frame_bytes; }
const StreamSettings& Stream::settings() const noexcept { return impl_->settings_; }
std::string Stream::output_path() const { return impl_->settings_.output_path(); }
FrameLocation Stream::locate(std::uint64_t frame_number) const {
  return impl_->layout_.locate(frame_number);
}
StreamStats Stream::stats() const { return impl_->stats(); }
double Stream::last_append_wait_seconds() const noexcept {
  return impl_->last_append_wait_seconds();
}
std::string Stream::metadata_json() const { return impl_->sink().metadata_json(); }
void Stream::update_metadata_json(const std::string& json) {
  impl_->sink().update_metadata_json(json);
}

void Stream::set_global_metadata(const std::string& name_space, const std::string& json) {
  if (name_space.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "namespace must be a non-empty string, got ''");
  }
  if (name_space == "ome" || name_space == "ome_writers") {
    throw Error(ErrorCode::kInvalidArgument,
                "global metadata namespace '" + name_space + "' is reserved");
  }
  try {
    [[maybe_unused]] const auto parsed = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("global metadata is not valid JSON: ") + e.what());
  }
  impl_->sink().set_global_metadata(name_space, json);
}

bool Stream::read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                        void* out) const {
  return impl_->read_frame(position, storage_index, out);
}

std::vector<std::int64_t> Stream::current_shape(std::int64_t position) const {
  return impl_->sink().current_shape(position);
}

int Stream::levels() const { return impl_->sink().levels(); }

bool Stream::read_level_frame(std::int64_t position, int level,
                              const std::vector<std::int64_t>& storage_index, void* out) const {
  if (level == 0) return impl_->read_frame(position, storage_index, out);
  return impl_->sink().read_level_frame(position, level, storage_index, out);
}

std::vector<std::int64_t> Stream::level_shape(std::int64_t position, int level) const {
  return impl_->sink().level_shape(position, level);
}

}  // namespace ome_writers
