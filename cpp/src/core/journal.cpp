#include "core/journal.hpp"

#include <cerrno>
#include <exception>
#include <utility>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace {

// Sequential reads of a journal go through this much at a time.
constexpr std::size_t kReadChunk = 1 << 20;

}  // namespace

Journal Journal::create(const std::filesystem::path& path) {
  Journal j;
  j.path_ = path;
  j.fd_ = platform::open_file(
      path, platform::kRead | platform::kWrite | platform::kCreate | platform::kTruncate);
  if (j.fd_ == platform::kNoHandle) throw_errno("cannot create journal", path);
  j.writable_ = true;
  return j;
}

Journal Journal::open(const std::filesystem::path& path) {
  Journal j;
  j.path_ = path;
  j.fd_ = platform::open_file(path, platform::kRead);
  if (j.fd_ == platform::kNoHandle) throw_errno("cannot open journal", path);
  const std::optional<std::uint64_t> size = platform::file_size(j.fd_);
  if (!size) throw_errno("cannot stat journal", path);
  j.written_ = *size;
  return j;
}

Journal::Journal(Journal&& other) noexcept { *this = std::move(other); }

Journal& Journal::operator=(Journal&& other) noexcept {
  if (this != &other) {
    if (fd_ != platform::kNoHandle) platform::close_file(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, platform::kNoHandle);
    writable_ = other.writable_;
    buffer_ = std::move(other.buffer_);
    written_ = other.written_;
  }
  return *this;
}

Journal::~Journal() {
  if (fd_ != platform::kNoHandle) platform::close_file(fd_);
}

std::uint64_t Journal::append(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (!writable_ || fd_ == platform::kNoHandle) {
    throw Error(ErrorCode::kIo,
                "journal '" + platform::path_to_utf8(path_) + "' is not open for writing");
  }
  const std::uint64_t offset = written_ + buffer_.size();
  buffer_.append(line);
  buffer_.push_back('\n');
  if (buffer_.size() >= kBufferBytes) flush_locked();
  return offset;
}

void Journal::flush() {
  std::lock_guard lock(mutex_);
  flush_locked();
}

void Journal::flush_locked() const {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const std::int64_t w =
        platform::write_at(fd_, buffer_.data() + done, buffer_.size() - done, written_ + done);
    if (w < 0) {
      // What was written stays counted; the rest stays buffered for a retry.
      buffer_.erase(0, done);
      written_ += done;
      throw_errno("cannot write journal", path_);
    }
    done += static_cast<std::size_t>(w);
  }
  written_ += done;
  buffer_.clear();
}

std::uint64_t Journal::size() const {
  std::lock_guard lock(mutex_);
  return written_ + buffer_.size();
}

void Journal::for_each_line(std::uint64_t from, std::uint64_t to,
                            const std::function<void(std::string_view, std::uint64_t)>& f) const {
  std::uint64_t end = 0;
  {
    std::lock_guard lock(mutex_);
    flush_locked();
    end = written_;
  }
  std::string chunk;
  std::uint64_t at = from;    // file offset of chunk[0]
  std::uint64_t read = from;  // next byte to read
  while (at < to && read < end) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, end - read));
    const std::size_t old = chunk.size();
    chunk.resize(old + want);
    const std::int64_t r = platform::read_at(fd_, chunk.data() + old, want, read);
    if (r < 0) throw_errno("cannot read journal", path_);
    chunk.resize(old + static_cast<std::size_t>(r));
    if (r == 0) break;
    read += static_cast<std::uint64_t>(r);
    std::size_t start = 0;
    for (std::size_t nl; at + start < to && (nl = chunk.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      if (nl > start) f(std::string_view(chunk).substr(start, nl - start), at + start);
    }
    chunk.erase(0, start);
    at += start;
  }
}

void Journal::close() {
  std::lock_guard lock(mutex_);
  if (fd_ == platform::kNoHandle) return;
  // The descriptor goes whatever happens: a stream that failed must let go
  // of its files at close().
  std::exception_ptr failure;
  if (writable_) {
    try {
      flush_locked();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  platform::close_file(fd_);
  fd_ = platform::kNoHandle;
  if (failure) std::rethrow_exception(failure);
}

void Journal::remove() {
  {
    std::lock_guard lock(mutex_);
    if (fd_ != platform::kNoHandle) platform::close_file(fd_);
    fd_ = platform::kNoHandle;
    buffer_.clear();
  }
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace ome_writers::detail
