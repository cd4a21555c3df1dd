// POSIX backend: Linux with its fast paths (O_DIRECT, O_TMPFILE, pwritev,
// syncfs, sync_file_range, mmap with MAP_POPULATE and huge pages, SCHED_BATCH
// and SCHED_IDLE), macOS with its own (F_NOCACHE, F_FULLFSYNC), and the
// portable fallback (OME_WRITERS_PORTABLE_IO) that uses only buffered POSIX
// file calls and standard C++ memory, the way a system without those fast
// paths runs.
#if !defined(_WIN32)

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "platform/platform.hpp"

#if defined(__linux__) && !defined(OME_WRITERS_PORTABLE_IO)
#define OW_LINUX_FAST 1
#include <sched.h>
#endif
#if defined(__APPLE__) && !defined(OME_WRITERS_PORTABLE_IO)
#define OW_MACOS_FAST 1
#include <pthread.h>
#include <sys/qos.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ome_writers::platform {

namespace fs = std::filesystem;

namespace {

int fd_of(Handle h) { return static_cast<int>(h); }

}  // namespace

Handle open_file(const fs::path& path, unsigned flags) noexcept {
  int oflags = O_CLOEXEC;
  if ((flags & kRead) && (flags & kWrite)) {
    oflags |= O_RDWR;
  } else if (flags & kWrite) {
    oflags |= O_WRONLY;
  } else {
    oflags |= O_RDONLY;
  }
  if (flags & kCreate) oflags |= O_CREAT;
  if (flags & kTruncate) oflags |= O_TRUNC;
  if (flags & kUnbuffered) {
#if defined(OW_LINUX_FAST)
    oflags |= O_DIRECT;
#elif !defined(OW_MACOS_FAST)
    errno = EINVAL;  // as a file system without O_DIRECT answers
    return kNoHandle;
#endif
  }
  const int fd = ::open(path.c_str(), oflags, 0666);
  if (fd < 0) return kNoHandle;
#if defined(OW_MACOS_FAST)
  if ((flags & kUnbuffered) && ::fcntl(fd, F_NOCACHE, 1) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return kNoHandle;
  }
#endif
  return fd;
}

Handle open_unnamed(const fs::path& dir, unsigned flags) noexcept {
#if defined(OW_LINUX_FAST)
  int oflags = O_RDWR | O_CLOEXEC | O_TMPFILE;
  if (flags & kUnbuffered) oflags |= O_DIRECT;
  const int fd = ::open(dir.c_str(), oflags, 0666);
  return fd < 0 ? kNoHandle : fd;
#else
  (void)dir;
  (void)flags;
  errno = EOPNOTSUPP;
  return kNoHandle;
#endif
}

bool link_unnamed(Handle h, const fs::path& path) noexcept {
#if defined(OW_LINUX_FAST)
  const std::string proc = "/proc/self/fd/" + std::to_string(fd_of(h));
  for (int attempt = 0; attempt < 2; ++attempt) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc serves everyone else.
    if (::linkat(fd_of(h), "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0) return true;
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      return true;
    }
    if (errno != EEXIST) break;
    ::unlink(path.c_str());  // a file left at the path: replaced, as O_TRUNC would
  }
  return false;
#else
  (void)h;
  (void)path;
  errno = EOPNOTSUPP;
  return false;
#endif
}

int close_file(Handle h) noexcept { return ::close(fd_of(h)); }

std::int64_t read_at(Handle h, void* data, std::size_t n, std::uint64_t offset) noexcept {
  for (;;) {
    const ssize_t r = ::pread(fd_of(h), data, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

std::int64_t write_at(Handle h, const void* data, std::size_t n, std::uint64_t offset) noexcept {
  for (;;) {
    const ssize_t w = ::pwrite(fd_of(h), data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    return w;
  }
}

std::int64_t write_next(Handle h, const void* data, std::size_t n) noexcept {
  for (;;) {
    const ssize_t w = ::write(fd_of(h), data, n);
    if (w < 0 && errno == EINTR) continue;
    return w;
  }
}

std::size_t max_gather() noexcept {
#if defined(OW_LINUX_FAST) || defined(OW_MACOS_FAST)
  return IOV_MAX;
#else
  return 1;
#endif
}

std::int64_t write_gather_at(Handle h, const Piece* pieces, std::size_t count,
                             std::uint64_t offset) noexcept {
#if defined(OW_LINUX_FAST) || defined(OW_MACOS_FAST)
  static_assert(sizeof(Piece) == sizeof(iovec) &&
                    offsetof(Piece, data) == offsetof(iovec, iov_base) &&
                    offsetof(Piece, size) == offsetof(iovec, iov_len),
                "Piece must have the layout of struct iovec");
  for (;;) {
    const ssize_t w = ::pwritev(fd_of(h), reinterpret_cast<const iovec*>(pieces),
                                static_cast<int>(count), static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    return w;
  }
#else
  // One piece per call: pwritev is not POSIX.
  if (count == 0) return 0;
  return write_at(h, pieces[0].data, pieces[0].size, offset);
#endif
}

bool leave_unbuffered(Handle h) noexcept {
#if defined(OW_LINUX_FAST)
  const int flags = ::fcntl(fd_of(h), F_GETFL);
  return flags >= 0 && (flags & O_DIRECT) != 0 &&
         ::fcntl(fd_of(h), F_SETFL, flags & ~O_DIRECT) == 0;
#elif defined(OW_MACOS_FAST)
  return ::fcntl(fd_of(h), F_NOCACHE, 0) == 0;
#else
  (void)h;
  return false;
#endif
}

bool truncate_file(Handle h, std::uint64_t size) noexcept {
  return ::ftruncate(fd_of(h), static_cast<off_t>(size)) == 0;
}

std::optional<std::uint64_t> file_size(Handle h) noexcept {
  struct stat st {};
  if (::fstat(fd_of(h), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

bool sync_file(Handle h) noexcept {
#if defined(OW_MACOS_FAST)
  // fsync leaves the data in the drive's cache on macOS.
  if (::fcntl(fd_of(h), F_FULLFSYNC) == 0) return true;
#endif
  return ::fsync(fd_of(h)) == 0;
}

bool sync_path(const fs::path& path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = sync_file(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

bool sync_file_system(const fs::path& path) noexcept {
#if defined(OW_LINUX_FAST)
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::syncfs(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
#else
  // No syncfs. Not a flush of each file below `path`: a Zarr store holds
  // thousands, and a checkpoint syncs every second. sync() (on Linux it
  // returns once the data is written; elsewhere it may only start that), then
  // a durable flush of the output's own entry.
  ::sync();
  return sync_path(path);
#endif
}

void start_writeback(Handle h, std::uint64_t offset, std::uint64_t length) noexcept {
#if defined(OW_LINUX_FAST)
  ::sync_file_range(fd_of(h), static_cast<off64_t>(offset), static_cast<off64_t>(length),
                    SYNC_FILE_RANGE_WRITE);
#else
  (void)h;
  (void)offset;
  (void)length;
#endif
}

void drop_written(Handle h, std::uint64_t offset, std::uint64_t length) noexcept {
#if defined(OW_LINUX_FAST)
  ::sync_file_range(
      fd_of(h), static_cast<off64_t>(offset), static_cast<off64_t>(length),
      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  ::posix_fadvise(fd_of(h), static_cast<off_t>(offset), static_cast<off_t>(length),
                  POSIX_FADV_DONTNEED);
#else
  (void)h;
  (void)offset;
  (void)length;
#endif
}

bool replace_file(const fs::path& from, const fs::path& to) noexcept {
  return ::rename(from.c_str(), to.c_str()) == 0;
}

bool remove_file(const fs::path& path) noexcept { return ::unlink(path.c_str()) == 0; }

bool make_directory(const fs::path& path) noexcept {
  if (::mkdir(path.c_str(), 0777) == 0) return true;
  if (errno != EEXIST) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  errno = EEXIST;
  return false;
}

std::optional<FileId> file_id(const fs::path& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

std::optional<FileId> file_id(Handle h) noexcept {
  struct stat st {};
  if (::fstat(fd_of(h), &st) != 0) return std::nullopt;
  return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

std::string error_message(int code) { return std::strerror(code); }

std::byte* map_pages(std::size_t bytes, bool populate) noexcept {
#if defined(OW_LINUX_FAST) || defined(OW_MACOS_FAST)
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Large buffers in 2 MiB pages where the kernel allows it: an unbuffered
  // write pins 512x fewer pages (+12% on 512x512 OME-TIFF planes, which go
  // out from an 8 MiB stage). Advised only after the pages are populated:
  // with the usual defrag=madvise a huge-page fault may compact memory first,
  // 21 ms per 8 MiB here against 2 ms in small pages; later the kernel's
  // khugepaged merges them in the background.
  [[maybe_unused]] const bool huge = bytes >= (std::size_t{2} << 20);
#if defined(OW_LINUX_FAST)
  if (huge && !populate) ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
  if (populate) {
    populate_pages(static_cast<std::byte*>(p), bytes);
#if defined(OW_LINUX_FAST)
    if (huge) ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
  }
  return static_cast<std::byte*>(p);
#else
  (void)populate;
  auto* p = static_cast<std::byte*>(alloc_aligned(4096, bytes));
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
#endif
}

std::byte* reserve_pages(std::size_t bytes) noexcept {
#if defined(OW_LINUX_FAST) || defined(OW_MACOS_FAST)
  // No memory behind it yet, and none counted against overcommit.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
#else
  (void)bytes;
  return nullptr;
#endif
}

void populate_pages(std::byte* p, std::size_t bytes) noexcept {
  // In steps, not MAP_POPULATE: the address-space lock is held for each call
  // (2 ms per 8 MiB), and every other thread's mmap or mprotect (a thread's
  // stack, an allocation) waits for it meanwhile.
  constexpr std::size_t kStep = std::size_t{256} << 10;
  auto* base = reinterpret_cast<volatile unsigned char*>(p);
  bool touch = false;
#if defined(OW_LINUX_FAST) && defined(MADV_POPULATE_WRITE)
  for (std::size_t at = 0; at < bytes && !touch; at += kStep) {
    touch = ::madvise(p + at, std::min(kStep, bytes - at), MADV_POPULATE_WRITE) != 0;
  }
#else
  touch = true;
#endif
  if (touch) {  // a kernel before 5.14: fault the pages in one by one
    for (std::size_t at = 0; at < bytes; at += 4096) base[at] = base[at];
  }
}

void discard_pages(std::byte* p, std::size_t bytes) noexcept {
#if defined(OW_LINUX_FAST)
  ::madvise(p, bytes, MADV_DONTNEED);  // anonymous pages: zeros on the next touch
#elif defined(OW_MACOS_FAST)
  // macOS may keep the old contents behind MADV_DONTNEED: new pages instead.
  ::mmap(p, bytes, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#else
  (void)p;
  (void)bytes;
#endif
}

void unmap_pages(std::byte* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
#if defined(OW_LINUX_FAST) || defined(OW_MACOS_FAST)
  ::munmap(p, bytes);
#else
  (void)bytes;
  free_aligned(p);
#endif
}

void* alloc_aligned(std::size_t alignment, std::size_t bytes) noexcept {
  // aligned_alloc wants a multiple of the alignment.
  const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  return std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
}

void free_aligned(void* p) noexcept { std::free(p); }

void trim_heap() noexcept {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

void set_background_priority() noexcept {
#if defined(OW_LINUX_FAST)
  // SCHED_BATCH keeps the thread's share of the CPU (throughput is unchanged)
  // but the scheduler no longer lets its wake-ups preempt a running thread,
  // such as the one that appends. Not SCHED_IDLE or a high nice value: they
  // would spare the appender every delay, but starve the writers as soon as
  // other busy programs share the cores (figures in benchmarks/README.md).
  sched_param param{};
  param.sched_priority = 0;
  (void)::sched_setscheduler(0, SCHED_BATCH, &param);
#endif
  // macOS has no batch class that keeps a thread's share: left as it is.
}

void set_idle_priority() noexcept {
#if defined(OW_LINUX_FAST)
  sched_param param{};
  param.sched_priority = 0;
  (void)::sched_setscheduler(0, SCHED_IDLE, &param);
#elif defined(OW_MACOS_FAST)
  (void)::pthread_set_qos_class_self_np(QOS_CLASS_UTILITY, 0);
#endif
}

bool at_thread_exit(void (*fn)(void*), void* arg) noexcept {
  struct Hooks {
    std::vector<std::pair<void (*)(void*), void*>> calls;
    ~Hooks() {
      for (auto it = calls.rbegin(); it != calls.rend(); ++it) it->first(it->second);
    }
  };
  thread_local Hooks hooks;
  try {
    hooks.calls.emplace_back(fn, arg);
    return true;
  } catch (...) {
    return false;
  }
}

int process_id() noexcept { return static_cast<int>(::getpid()); }

bool utc_time(std::time_t t, std::tm* out) noexcept { return ::gmtime_r(&t, out) != nullptr; }

bool limit_file_size(std::uint64_t bytes) noexcept {
  ::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{static_cast<rlim_t>(bytes), static_cast<rlim_t>(bytes)};
  return ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
}

fs::path path_from_utf8(const std::string& text) { return fs::path(text); }
std::string path_to_utf8(const fs::path& path) { return path.string(); }

}  // namespace ome_writers::platform

#endif  // !_WIN32
