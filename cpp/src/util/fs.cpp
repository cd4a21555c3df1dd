#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/pages.hpp"
#include "util/thread_cache.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using platform::Handle;
using platform::kNoHandle;

void throw_errno(const std::string& what, const fs::path& path) {
  const int code = errno;
  throw Error(ErrorCode::kIo,
              what + " '" + platform::path_to_utf8(path) + "': " + platform::error_message(code),
              code);
}

namespace {

class FileHandle {
 public:
  explicit FileHandle(Handle h) : h_(h) {}
  ~FileHandle() {
    if (h_ != kNoHandle) platform::close_file(h_);
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  Handle get() const { return h_; }
  Handle release() { return std::exchange(h_, kNoHandle); }

 private:
  Handle h_;
};

// A file that appears at its path only once it is complete: created unnamed
// in its directory (O_TMPFILE) and linked in by publish(). A process killed
// while writing it leaves no file rather than a short one (a short chunk makes
// readers fail on the whole array). Where the file system (or the platform)
// has no unnamed files, it is created at its path. Unbuffered I/O is dropped
// where it is refused.
class NewFile {
 public:
  NewFile(const fs::path& path, bool direct) : path_(path) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    // Read/write: if the unnamed file cannot be linked in, it is copied out.
    const unsigned base = platform::kRead | platform::kWrite;
    for (const bool unnamed : {true, false}) {
      for (const bool d : {direct, false}) {
        const unsigned flags = base | (d ? platform::kUnbuffered : 0u);
        fd_ = unnamed ? platform::open_unnamed(dir, flags)
                      : platform::open_file(path, flags | platform::kCreate | platform::kTruncate);
        if (fd_ != kNoHandle) {
          unnamed_ = unnamed;
          direct_ = d;
          return;
        }
        if (!(d && errno == EINVAL)) break;  // EINVAL when unbuffered: try without
      }
      // Unnamed files unsupported here: a named one.
      if (!(unnamed && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))) break;
    }
    throw_errno("cannot create", path);
  }
  ~NewFile() {
    if (fd_ != kNoHandle) platform::close_file(fd_);
  }
  NewFile(const NewFile&) = delete;
  NewFile& operator=(const NewFile&) = delete;

  Handle fd() const { return fd_; }
  bool direct() const { return direct_; }

  /// Links the complete file in at its path (replacing a file there) and closes it.
  void publish() {
    if (unnamed_) link_in();
    const Handle fd = std::exchange(fd_, kNoHandle);
    if (platform::close_file(fd) != 0) throw_errno("cannot close", path_);
  }

 private:
  void link_in() {
    if (platform::link_unnamed(fd_, path_)) return;
    if (errno == EEXIST) throw_errno("cannot link into place", path_);
    copy_out();
  }

  /// No way to link an unnamed file here (no /proc, no capability): its bytes
  /// are copied to a file created at the path (which then appears before it is
  /// complete, as any file written in place does).
  void copy_out() {
    const std::optional<std::uint64_t> size = platform::file_size(fd_);
    if (!size) throw_errno("cannot stat", path_);
    // Unaligned reads need the page cache.
    platform::leave_unbuffered(fd_);
    FileHandle out(
        platform::open_file(path_, platform::kWrite | platform::kCreate | platform::kTruncate));
    if (out.get() == kNoHandle) throw_errno("cannot create", path_);
    std::vector<char> buf(1 << 20);
    for (std::uint64_t at = 0; at < *size;) {
      const std::int64_t r = platform::read_at(fd_, buf.data(), buf.size(), at);
      if (r <= 0) throw_errno("cannot read back", path_);
      for (std::int64_t done = 0; done < r;) {
        const std::int64_t w =
            platform::write_at(out.get(), buf.data() + done, static_cast<std::size_t>(r - done),
                               at + static_cast<std::uint64_t>(done));
        if (w < 0) throw_errno("cannot write", path_);
        done += w;
      }
      at += static_cast<std::uint64_t>(r);
    }
    if (platform::close_file(out.release()) != 0) throw_errno("cannot close", path_);
  }

  fs::path path_;
  Handle fd_ = kNoHandle;
  bool unnamed_ = false;
  bool direct_ = false;
};

// O_DIRECT refuses with EINVAL a write the kernel has cut short (RLIMIT_FSIZE, a quota);
// through the page cache the same write fails with the real reason (EFBIG, EDQUOT...).
// True when `fd` has just left unbuffered mode and the write should be retried.
bool leave_direct_after_einval(Handle fd) {
  if (errno != EINVAL) return false;
  if (!platform::leave_unbuffered(fd)) {
    errno = EINVAL;
    return false;
  }
  return true;
}

void write_all(Handle fd, const void* data, std::size_t nbytes, const fs::path& path) {
  const char* p = static_cast<const char*>(data);
  while (nbytes > 0) {
    const std::size_t step = nbytes < (std::size_t{1} << 30) ? nbytes : (std::size_t{1} << 30);
    const std::int64_t n = platform::write_next(fd, p, step);
    if (n < 0) {
      if (leave_direct_after_einval(fd)) continue;
      throw_errno("cannot write", path);
    }
    p += n;
    nbytes -= static_cast<std::size_t>(n);
  }
}

// Page-aligned scratch of one writer thread, for O_DIRECT writes of data
// that is not page aligned (a caller's borrowed frame): copying through it
// costs far less CPU than the page cache's copy and writeback.
constexpr std::size_t kBounceBytes = std::size_t{1} << 20;

std::byte* bounce_buffer() {
  struct Buffer {
    std::byte* p = static_cast<std::byte*>(platform::alloc_aligned(4096, kBounceBytes));
    ~Buffer() { platform::free_aligned(p); }
  };
  Buffer& buffer = thread_cache<Buffer>();
  if (buffer.p == nullptr) throw std::bad_alloc();
  return buffer.p;
}

// Writes the last `n` (< 4096) bytes of a file opened unbuffered, after its
// whole blocks: through the page cache. (Padding the block and truncating
// the padding away cost a journaled size change per file, which on ext4
// stalled the encoder threads of a compressed stream behind the journal:
// ~8% of its throughput.) Where unbuffered I/O cannot be left, the block is
// padded in `room` (4 KiB, aligned; it may be `src`) and the padding trimmed
// to `total` bytes.
void write_unbuffered_tail(Handle fd, const std::byte* src, std::size_t n, std::byte* room,
                           std::uint64_t total, const fs::path& path) {
  constexpr std::size_t kAlign = 4096;
  if (n == 0) return;
  if (platform::leave_unbuffered(fd)) {
    write_all(fd, src, n, path);
    return;
  }
  if (room != src) std::memcpy(room, src, n);
  std::memset(room + n, 0, kAlign - n);
  write_all(fd, room, kAlign, path);
  if (!platform::truncate_file(fd, total)) throw_errno("cannot truncate", path);
}

// Writes the concatenated pieces to `fd` (opened unbuffered, at offset 0)
// through the bounce buffer; the last partial block as write_unbuffered_tail().
void write_bounced(Handle fd, const std::vector<std::pair<const void*, std::size_t>>& pieces,
                   const fs::path& path) {
  constexpr std::size_t kAlign = 4096;
  std::byte* bounce = bounce_buffer();
  std::size_t fill = 0;
  std::size_t total = 0;
  for (const auto& [data, n] : pieces) {
    const auto* src = static_cast<const std::byte*>(data);
    std::size_t left = n;
    while (left > 0) {
      const std::size_t step = std::min(left, kBounceBytes - fill);
      std::memcpy(bounce + fill, src, step);
      fill += step;
      src += step;
      left -= step;
      if (fill == kBounceBytes) {
        write_all(fd, bounce, fill, path);
        fill = 0;
      }
    }
    total += n;
  }
  const std::size_t body = fill / kAlign * kAlign;
  if (body > 0) write_all(fd, bounce, body, path);
  write_unbuffered_tail(fd, bounce + body, fill - body, bounce + body, total, path);
}

}  // namespace

void write_file(const fs::path& path, const void* data, std::size_t nbytes) {
  NewFile file(path, false);
  write_all(file.fd(), data, nbytes, path);
  file.publish();
}

void write_file_direct(const fs::path& path, const void* data, std::size_t nbytes) {
  constexpr std::size_t kAlign = 4096;
  if (nbytes < kAlign) {
    write_file(path, data, nbytes);
    return;
  }
  if (!is_page_aligned(data)) {
    write_file_gather(path, {{data, nbytes}});
    return;
  }
  NewFile file(path, true);
  if (!file.direct()) {  // no O_DIRECT on this file system (tmpfs...)
    write_all(file.fd(), data, nbytes, path);
    file.publish();
    return;
  }
  const std::size_t body = nbytes / kAlign * kAlign;
  write_all(file.fd(), data, body, path);
  alignas(kAlign) static thread_local std::byte room[kAlign];
  write_unbuffered_tail(file.fd(), static_cast<const std::byte*>(data) + body, nbytes - body, room,
                        nbytes, path);
  file.publish();
}

void write_file_gather(const fs::path& path,
                       const std::vector<std::pair<const void*, std::size_t>>& pieces) {
  constexpr std::size_t kAlign = 4096;
  bool aligned = true;
  std::size_t total = 0;
  for (const auto& [data, n] : pieces) {
    aligned = aligned && is_page_aligned(data) && n % kAlign == 0;
    total += n;
  }
  // Unaligned pieces go out with O_DIRECT too, through the bounce buffer, when
  // there is enough of them for that to pay (small files use the page cache).
  const bool direct = aligned || total >= 16 * kAlign;
  NewFile file(path, direct);
  const bool is_direct = file.direct();
  if (is_direct && !aligned) {
    write_bounced(file.fd(), pieces, path);
    file.publish();
    return;
  }
  // Gathered writes in batches; a short write continues from where it stopped.
  std::vector<platform::Piece> iov;
  iov.reserve(pieces.size());
  for (const auto& [data, n] : pieces) iov.push_back({const_cast<void*>(data), n});
  const std::size_t batch = platform::max_gather();
  std::size_t first = 0;
  std::uint64_t offset = 0;
  while (first < iov.size()) {
    const std::size_t count = std::min<std::size_t>(iov.size() - first, batch);
    const std::int64_t w = platform::write_gather_at(file.fd(), iov.data() + first, count, offset);
    if (w < 0) {
      if (is_direct && leave_direct_after_einval(file.fd())) continue;
      throw_errno("cannot write", path);
    }
    offset += static_cast<std::uint64_t>(w);
    std::size_t left = static_cast<std::size_t>(w);
    while (first < iov.size() && left >= iov[first].size) {
      left -= iov[first].size;
      ++first;
    }
    if (left > 0) {
      iov[first].data = static_cast<std::byte*>(iov[first].data) + left;
      iov[first].size -= left;
    }
  }
  file.publish();
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  write_file_atomic_streamed(path, [&](const TextSink& out) { out(content); });
}

fs::path temporary_path(const fs::path& path) {
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(platform::process_id());
  return tmp;
}

void write_file_atomic_streamed(const fs::path& path,
                                const std::function<void(const TextSink&)>& produce) {
  const fs::path tmp = temporary_path(path);
  {
    NewFile file(tmp, false);
    std::string buffer;
    const std::size_t kFlushAt = 1 << 20;
    produce([&](std::string_view piece) {
      if (buffer.size() + piece.size() >= kFlushAt) {
        // A large piece (a whole document) goes out as it is, not through a copy.
        write_all(file.fd(), buffer.data(), buffer.size(), tmp);
        buffer.clear();
        if (piece.size() >= kFlushAt) {
          write_all(file.fd(), piece.data(), piece.size(), tmp);
          return;
        }
      }
      buffer.append(piece);
    });
    write_all(file.fd(), buffer.data(), buffer.size(), tmp);
    file.publish();
  }
  if (!platform::replace_file(tmp, path)) {
    const int saved = errno;
    platform::remove_file(tmp);
    errno = saved;
    throw_errno("cannot rename into place", path);
  }
}

bool is_temporary_name(const std::string& name) {
  const std::size_t at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0 || at + 4 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(at + 4), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::string read_file(const fs::path& path) {
  FileHandle fd(platform::open_file(path, platform::kRead));
  if (fd.get() == kNoHandle) throw_errno("cannot open", path);
  std::string out;
  char buf[1 << 16];
  for (std::uint64_t at = 0;;) {
    const std::int64_t n = platform::read_at(fd.get(), buf, sizeof buf, at);
    if (n < 0) throw_errno("cannot read", path);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  return out;
}

namespace {

// mkdir(2), with an existing directory counted as success.
bool make_one_directory(const fs::path& path) { return platform::make_directory(path); }

}  // namespace

void make_directories(const fs::path& path) {
  // mkdir first, parents only when it fails: a new chunk's directories cost
  // one system call each, where std::filesystem::create_directories would
  // stat every level of the path before creating anything.
  if (path.empty() || make_one_directory(path)) return;
  if (errno == ENOENT && path.has_parent_path() && path.parent_path() != path) {
    make_directories(path.parent_path());
    if (make_one_directory(path)) return;
  }
  throw_errno("cannot create directory", path);
}

bool make_directories_within(const fs::path& floor, const fs::path& path) {
  if (path == floor) return fs::is_directory(floor);
  if (make_one_directory(path)) return true;
  if (errno == ENOENT && path.has_parent_path() && path.parent_path() != path) {
    if (!make_directories_within(floor, path.parent_path())) return false;
    if (make_one_directory(path)) return true;
  }
  throw_errno("cannot create directory", path);
}

void remove_tree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    throw Error(ErrorCode::kIo,
                "cannot remove '" + platform::path_to_utf8(path) + "': " + ec.message());
  }
}

std::string path_component(std::string_view name, std::string_view what) {
  constexpr std::size_t kNameMax = 255;
  if (name.empty()) {
    throw Error(ErrorCode::kInvalidArgument, std::string(what) + " must not be empty");
  }
  if (name == "." || name == "..") return name.size() == 1 ? "%2E" : "%2E%2E";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (const char ch : name) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7F || ch == '%' || ch == '/' || ch == '\\') {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    } else {
      out += ch;
    }
  }
  if (out.size() > kNameMax) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) + " is too long for a file name: '" + out.substr(0, 40) +
                    "...' is " + std::to_string(out.size()) + " bytes stored, at most " +
                    std::to_string(kNameMax));
  }
  return out;
}

void check_inside(const fs::path& root, const fs::path& path) {
  // Trailing separators leave an empty last element; drop it before comparing.
  const auto elements = [](const fs::path& p) {
    const fs::path normal = p.lexically_normal();
    std::vector<fs::path> out(normal.begin(), normal.end());
    if (!out.empty() && out.back().empty()) out.pop_back();
    return out;
  };
  const auto r = elements(root);
  const auto p = elements(path);
  const bool inside = p.size() >= r.size() && std::equal(r.begin(), r.end(), p.begin()) &&
                      std::find(p.begin() + static_cast<std::ptrdiff_t>(r.size()), p.end(),
                                fs::path("..")) == p.end();
  if (!inside) {
    throw Error(ErrorCode::kInvalidArgument, "'" + platform::path_to_utf8(path) +
                                                 "' is not inside the output '" +
                                                 platform::path_to_utf8(root) + "'");
  }
}

void fsync_path(const fs::path& path) {
  if (!platform::sync_path(path)) throw_errno("cannot sync", path);
}

std::optional<FileIdentity> identity_of(const fs::path& path) {
  const std::optional<platform::FileId> id = platform::file_id(path);
  if (!id) return std::nullopt;
  return FileIdentity{id->device, id->inode};
}

void sync_filesystem(const fs::path& path) {
  // The output may be gone (an empty OME-TIFF stream leaves no file).
  fs::path target = path;
  while (!target.empty() && !fs::exists(target)) target = target.parent_path();
  if (target.empty()) target = ".";
  if (!platform::sync_file_system(target)) throw_errno("cannot sync", path);
}

}  // namespace ome_writers::detail
