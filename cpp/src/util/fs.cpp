#include "util/fs.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

#include "ome_writers/errors.hpp"
#include "util/pages.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;

void throw_errno(const std::string& what, const fs::path& path) {
  const int code = errno;
  throw Error(ErrorCode::kIo, what + " '" + path.string() + "': " + std::strerror(code), code);
}

namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// A file that appears at its path only once it is complete: created unnamed
// in its directory (O_TMPFILE) and linked in by publish(). A process killed
// while writing it leaves no file rather than a short one (a short chunk makes
// readers fail on the whole array). Where the file system has no unnamed
// files, it is created at its path. O_DIRECT is dropped where it is refused.
class NewFile {
 public:
  NewFile(const fs::path& path, bool direct) : path_(path) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    // Read/write: if the unnamed file cannot be linked in, it is copied out.
    const int base = O_RDWR | O_CLOEXEC;
    for (const bool unnamed : {true, false}) {
      for (const bool d : {direct, false}) {
        fd_ = unnamed ? ::open(dir.c_str(), base | O_TMPFILE | (d ? O_DIRECT : 0), 0666)
                      : ::open(path.c_str(), base | O_CREAT | O_TRUNC | (d ? O_DIRECT : 0), 0666);
        if (fd_ >= 0) {
          unnamed_ = unnamed;
          direct_ = d;
          return;
        }
        if (!(d && errno == EINVAL)) break;  // EINVAL with O_DIRECT: try without
      }
      // Unnamed files unsupported here: a named one.
      if (!(unnamed && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))) break;
    }
    throw_errno("cannot create", path);
  }
  ~NewFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  NewFile(const NewFile&) = delete;
  NewFile& operator=(const NewFile&) = delete;

  int fd() const { return fd_; }
  bool direct() const { return direct_; }

  /// Links the complete file in at its path (replacing a file there) and closes it.
  void publish() {
    if (unnamed_) link_in();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_errno("cannot close", path_);
  }

 private:
  void link_in() {
    const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc serves everyone else.
      if (::linkat(fd_, "", AT_FDCWD, path_.c_str(), AT_EMPTY_PATH) == 0) return;
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        return;
      }
      if (errno != EEXIST) break;
      ::unlink(path_.c_str());  // a file left at the path: replaced, as O_TRUNC would
    }
    if (errno == EEXIST) throw_errno("cannot link into place", path_);
    copy_out();
  }

  /// No way to link an unnamed file here (no /proc, no capability): its bytes
  /// are copied to a file created at the path (which then appears before it is
  /// complete, as any file written in place does).
  void copy_out() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_errno("cannot stat", path_);
    // Unaligned reads need the page cache.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0 && (flags & O_DIRECT) != 0) ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
    FileDescriptor out(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (out.get() < 0) throw_errno("cannot create", path_);
    std::vector<char> buf(1 << 20);
    for (off_t at = 0; at < st.st_size;) {
      const ssize_t r = ::pread(fd_, buf.data(), buf.size(), at);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw_errno("cannot read back", path_);
      for (ssize_t done = 0; done < r;) {
        const ssize_t w =
            ::pwrite(out.get(), buf.data() + done, static_cast<std::size_t>(r - done), at + done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw_errno("cannot write", path_);
        done += w;
      }
      at += r;
    }
    if (::close(out.release()) != 0) throw_errno("cannot close", path_);
  }

  fs::path path_;
  int fd_ = -1;
  bool unnamed_ = false;
  bool direct_ = false;
};

// O_DIRECT refuses with EINVAL a write the kernel has cut short (RLIMIT_FSIZE, a quota);
// through the page cache the same write fails with the real reason (EFBIG, EDQUOT...).
// True when `fd` has just left O_DIRECT and the write should be retried.
bool leave_direct_after_einval(int fd) {
  if (errno != EINVAL) return false;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_DIRECT) == 0 || ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0) {
    errno = EINVAL;
    return false;
  }
  return true;
}

void write_all(int fd, const void* data, std::size_t nbytes, const fs::path& path) {
  const char* p = static_cast<const char*>(data);
  while (nbytes > 0) {
    const std::size_t step = nbytes < (std::size_t{1} << 30) ? nbytes : (std::size_t{1} << 30);
    const ssize_t n = ::write(fd, p, step);
    if (n < 0) {
      if (errno == EINTR || leave_direct_after_einval(fd)) continue;
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
    std::byte* p = static_cast<std::byte*>(std::aligned_alloc(4096, kBounceBytes));
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buffer;
  if (buffer.p == nullptr) throw std::bad_alloc();
  return buffer.p;
}

// Writes the concatenated pieces to `fd` (opened with O_DIRECT, at offset 0)
// through the bounce buffer; pads the last block and trims the padding.
void write_bounced(int fd, const std::vector<std::pair<const void*, std::size_t>>& pieces,
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
  if (fill > 0) {
    const std::size_t padded = (fill + kAlign - 1) / kAlign * kAlign;
    std::memset(bounce + fill, 0, padded - fill);
    write_all(fd, bounce, padded, path);
    if (padded != fill && ::ftruncate(fd, static_cast<off_t>(total)) != 0) {
      throw_errno("cannot truncate", path);
    }
  }
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
  if (body < nbytes) {
    // The tail goes out as one padded block; ftruncate trims the padding.
    alignas(kAlign) static thread_local std::byte tail[kAlign];
    std::memset(tail, 0, kAlign);
    std::memcpy(tail, static_cast<const std::byte*>(data) + body, nbytes - body);
    write_all(file.fd(), tail, kAlign, path);
    if (::ftruncate(file.fd(), static_cast<off_t>(nbytes)) != 0)
      throw_errno("cannot truncate", path);
  }
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
  // pwritev in batches; a short write continues from where it stopped.
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (const auto& [data, n] : pieces) iov.push_back({const_cast<void*>(data), n});
  std::size_t first = 0;
  off_t offset = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    const ssize_t w = ::pwritev(file.fd(), iov.data() + first, count, offset);
    if (w < 0) {
      if (errno == EINTR || (is_direct && leave_direct_after_einval(file.fd()))) continue;
      throw_errno("cannot write", path);
    }
    offset += w;
    std::size_t left = static_cast<std::size_t>(w);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  file.publish();
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  write_file_atomic_streamed(path, [&](const TextSink& out) { out(content); });
}

fs::path temporary_path(const fs::path& path) {
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
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
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
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
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno("cannot open", path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

namespace {

// mkdir(2), with an existing directory counted as success.
bool make_one_directory(const fs::path& path) {
  if (::mkdir(path.c_str(), 0777) == 0) return true;
  if (errno != EEXIST) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  errno = EEXIST;
  return false;
}

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
    throw Error(ErrorCode::kIo, "cannot remove '" + path.string() + "': " + ec.message());
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
    throw Error(ErrorCode::kInvalidArgument,
                "'" + path.string() + "' is not inside the output '" + root.string() + "'");
  }
}

void fsync_path(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno("cannot open for sync", path);
  if (::fsync(fd.get()) != 0) throw_errno("cannot sync", path);
}

std::optional<FileIdentity> identity_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

void sync_filesystem(const fs::path& path) {
  // The output may be gone (an empty OME-TIFF stream leaves no file).
  fs::path target = path;
  while (!target.empty() && !fs::exists(target)) target = target.parent_path();
  if (target.empty()) target = ".";
  FileDescriptor fd(::open(target.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_errno("cannot open for sync", target);
  if (::syncfs(fd.get()) != 0) throw_errno("cannot sync", path);
}

}  // namespace ome_writers::detail
