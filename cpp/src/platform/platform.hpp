// The operating-system layer: the only code that includes OS headers
// (tests/cpp/platform_headers_test.cpp checks this). Everything else reaches
// files, memory and threads through these functions.
//
// Backends: posix.cpp (Linux fast paths, macOS, and the portable fallback
// that OME_WRITERS_PORTABLE_IO selects) and windows.cpp. Each compiles to
// nothing on the other platforms.
//
// Failures follow the C convention so that callers can decide what an error
// means (a refused O_DIRECT, a name already taken): a result of -1 or false
// with the cause in errno, as an errno value from <cerrno> on every platform
// (Windows errors are mapped). error_message() describes the last failure
// with the OS's own words, for Error messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

namespace ome_writers::platform {

/// An open file: a descriptor on POSIX, a HANDLE on Windows.
using Handle = std::intptr_t;
inline constexpr Handle kNoHandle = -1;

enum OpenFlags : unsigned {
  kRead = 1u << 0,
  kWrite = 1u << 1,
  kCreate = 1u << 2,
  kTruncate = 1u << 3,
  /// Bypass the OS cache (O_DIRECT, F_NOCACHE, FILE_FLAG_NO_BUFFERING with
  /// write-through): writes must then be 4 KiB aligned in memory, offset and
  /// size. Refused with EINVAL where the file system or the build has none.
  kUnbuffered = 1u << 4,
};

/// Opens `path` (UTF-8 on every platform). kNoHandle and errno on failure.
Handle open_file(const std::filesystem::path& path, unsigned flags) noexcept;

/// A file without a name in directory `dir` (Linux O_TMPFILE), given one by
/// link_unnamed() once complete: a crash leaves no partial file. EOPNOTSUPP
/// (or EISDIR, EINVAL) where the system or file system has none.
Handle open_unnamed(const std::filesystem::path& dir, unsigned flags) noexcept;

/// Links an open_unnamed() file in at `path`. False and errno on failure:
/// EEXIST when something is there; anything else when it cannot be linked at
/// all (then the caller copies the bytes out).
bool link_unnamed(Handle h, const std::filesystem::path& path) noexcept;

/// 0, or -1 and errno.
int close_file(Handle h) noexcept;

/// One positioned read / write, retried on EINTR: bytes moved, or -1 and errno.
std::int64_t read_at(Handle h, void* data, std::size_t n, std::uint64_t offset) noexcept;
std::int64_t write_at(Handle h, const void* data, std::size_t n, std::uint64_t offset) noexcept;
/// One write at the file position, retried on EINTR.
std::int64_t write_next(Handle h, const void* data, std::size_t n) noexcept;

/// A piece of a gathered write (the layout of POSIX struct iovec).
struct Piece {
  void* data;
  std::size_t size;
};
/// The most pieces write_gather_at() takes at once.
std::size_t max_gather() noexcept;
/// One gathered, positioned write (pwritev) of at most max_gather() pieces;
/// may be short. Bytes written, or -1 and errno.
std::int64_t write_gather_at(Handle h, const Piece* pieces, std::size_t count,
                             std::uint64_t offset) noexcept;

/// Turns off kUnbuffered on an open file, where it was on and the system can
/// (Linux, macOS): true when writes now go through the cache.
bool leave_unbuffered(Handle h) noexcept;

bool truncate_file(Handle h, std::uint64_t size) noexcept;
std::optional<std::uint64_t> file_size(Handle h) noexcept;

/// Durable flush of one file (fsync, F_FULLFSYNC on macOS, FlushFileBuffers).
bool sync_file(Handle h) noexcept;
/// Durable flush of a file or directory by path (directories: their entries,
/// where the system can; Windows journals them itself).
bool sync_path(const std::filesystem::path& path) noexcept;
/// Makes everything written below `path` durable: syncfs of its file system
/// on Linux; sync() and a flush of `path` with the portable fallback and on
/// macOS; a flush of each file below `path` on Windows.
bool sync_file_system(const std::filesystem::path& path) noexcept;

/// Page-cache hygiene for long buffered writes (Linux sync_file_range and
/// posix_fadvise; nothing elsewhere): start writeback of a range, and wait for
/// a range to reach the disk and drop it from the cache.
void start_writeback(Handle h, std::uint64_t offset, std::uint64_t length) noexcept;
void drop_written(Handle h, std::uint64_t offset, std::uint64_t length) noexcept;

/// rename() that replaces `to` atomically where it exists.
bool replace_file(const std::filesystem::path& from, const std::filesystem::path& to) noexcept;
bool remove_file(const std::filesystem::path& path) noexcept;
/// Creates one directory; an existing directory counts as success, an
/// existing file is EEXIST, a missing parent ENOENT.
bool make_directory(const std::filesystem::path& path) noexcept;

/// (device, file number) of what `path` names or what `h` is open on.
struct FileId {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
};
std::optional<FileId> file_id(const std::filesystem::path& path) noexcept;
std::optional<FileId> file_id(Handle h) noexcept;

/// The description of errno value `code` after the last failure on this
/// thread (on Windows it names the Windows error as well).
std::string error_message(int code);

/// Page-aligned, zero-filled memory straight from the OS (freed memory goes
/// back at once); with `populate`, mapped in one call rather than on touch.
/// nullptr when none is left.
std::byte* map_pages(std::size_t bytes, bool populate) noexcept;
void unmap_pages(std::byte* p, std::size_t bytes) noexcept;
/// Address space for `bytes` that no memory backs until it is populated or
/// touched (the slots of a buffer pool), or nullptr where this is not
/// supported; unmap_pages() frees it.
std::byte* reserve_pages(std::size_t bytes) noexcept;
/// Backs [p, p + bytes) of reserved or mapped pages with memory now, in a few
/// calls rather than a fault per page.
void populate_pages(std::byte* p, std::size_t bytes) noexcept;
/// Gives the memory behind [p, p + bytes) back to the OS; the range stays
/// reserved and reads as zeros when touched again.
void discard_pages(std::byte* p, std::size_t bytes) noexcept;
/// Heap memory aligned to `alignment` (a power of two); free_aligned() frees it.
void* alloc_aligned(std::size_t alignment, std::size_t bytes) noexcept;
void free_aligned(void* p) noexcept;
/// Returns the heap's freed memory to the OS (glibc malloc_trim).
void trim_heap() noexcept;

/// The calling thread as throughput work that must not preempt the
/// appending thread (Linux SCHED_BATCH). Best effort.
void set_background_priority() noexcept;
/// The calling thread as work that may wait for an idle core (Linux
/// SCHED_IDLE). Best effort.
void set_idle_priority() noexcept;

/// Calls fn(arg) when the calling thread ends (last registered, first
/// called). False when it cannot be arranged.
bool at_thread_exit(void (*fn)(void*), void* arg) noexcept;

int process_id() noexcept;

/// The calendar time of `t` in UTC (gmtime_r / gmtime_s: thread safe).
bool utc_time(std::time_t t, std::tm* out) noexcept;

/// For tests: limits the size of files this process writes (RLIMIT_FSIZE,
/// with SIGXFSZ ignored). False where there is no such limit.
bool limit_file_size(std::uint64_t bytes) noexcept;

/// A path from UTF-8 text, and a path's UTF-8 text: what std::filesystem
/// does with narrow strings on Windows is the ANSI code page instead.
std::filesystem::path path_from_utf8(const std::string& text);
std::string path_to_utf8(const std::filesystem::path& path);

}  // namespace ome_writers::platform
