// Windows backend: wide-character (UTF-16) file APIs for every path, so that
// any Unicode name and long paths (\\?\ prefix) work; unbuffered writes with
// FILE_FLAG_NO_BUFFERING | FILE_FLAG_WRITE_THROUGH; atomic replacement with
// MoveFileExW; errors mapped to errno values, with the Windows message kept
// for Error texts. Built and tested with mingw-w64 under wine (scripts/mingw.sh).
#if defined(_WIN32)

#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00  // SetFileInformationByHandle
#endif
#include <malloc.h>
#include <windows.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "platform/platform.hpp"

namespace ome_writers::platform {

namespace fs = std::filesystem;

namespace {

// The Windows error behind the errno value of this thread's last failure.
thread_local DWORD t_last_error = 0;

int errno_from(DWORD e) {
  switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
    case ERROR_INVALID_NAME:
      return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_WRITE_PROTECT:
      return EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return EEXIST;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return ENOSPC;
    case ERROR_INVALID_PARAMETER:
      return EINVAL;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return ENOMEM;
    case ERROR_FILENAME_EXCED_RANGE:
      return ENAMETOOLONG;
    case ERROR_DIRECTORY:
      return ENOTDIR;
    case ERROR_DIR_NOT_EMPTY:
      return ENOTEMPTY;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
      return EOPNOTSUPP;
    case ERROR_INVALID_HANDLE:
      return EBADF;
    case ERROR_FILE_TOO_LARGE:
      return EFBIG;
    case ERROR_TOO_MANY_OPEN_FILES:
      return EMFILE;
    default:
      return EIO;
  }
}

/// Records GetLastError() as errno (and keeps it for error_message()).
void fail() {
  t_last_error = ::GetLastError();
  errno = errno_from(t_last_error);
}

void fail_with(int code) {
  t_last_error = 0;
  errno = code;
}

HANDLE win(Handle h) { return reinterpret_cast<HANDLE>(h); }
Handle own(HANDLE h) { return h == INVALID_HANDLE_VALUE ? kNoHandle : reinterpret_cast<Handle>(h); }

std::wstring widen(const std::string& text) {
  if (text.empty()) return {};
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
  return out;
}

std::string narrow(const std::wstring& text) {
  if (text.empty()) return {};
  const int n = ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()),
                                      nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n,
                        nullptr, nullptr);
  return out;
}

/// The name the wide APIs get: paths near or over MAX_PATH (260) become
/// absolute "\\?\" (or "\\?\UNC\") paths, which the system takes up to
/// 32767 characters long without the registry's LongPathsEnabled.
std::wstring win_path(const fs::path& path) {
  std::wstring p = path.wstring();
  if (p.size() < 240 || p.rfind(L"\\\\?\\", 0) == 0) return p;
  std::error_code ec;
  fs::path full = fs::absolute(path, ec);
  if (ec) return p;
  std::wstring w = full.lexically_normal().wstring();
  std::replace(w.begin(), w.end(), L'/', L'\\');
  if (w.rfind(L"\\\\", 0) == 0) return L"\\\\?\\UNC\\" + w.substr(2);
  return L"\\\\?\\" + w;
}

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

OVERLAPPED at(std::uint64_t offset) {
  OVERLAPPED ov{};
  ov.Offset = static_cast<DWORD>(offset & 0xFFFFFFFFu);
  ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
  return ov;
}

// One call moves at most this much (DWORD sizes).
constexpr std::size_t kMaxCall = std::size_t{1} << 30;

bool is_directory(const std::wstring& p) {
  const DWORD attrs = ::GetFileAttributesW(p.c_str());
  return attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

}  // namespace

Handle open_file(const fs::path& path, unsigned flags) noexcept {
  DWORD access = 0;
  if (flags & kRead) access |= GENERIC_READ;
  if (flags & kWrite) access |= GENERIC_WRITE;
  if (access == 0) access = GENERIC_READ;
  DWORD disposition = OPEN_EXISTING;
  if ((flags & kCreate) && (flags & kTruncate)) {
    disposition = CREATE_ALWAYS;
  } else if (flags & kCreate) {
    disposition = OPEN_ALWAYS;
  } else if (flags & kTruncate) {
    disposition = TRUNCATE_EXISTING;
  }
  DWORD attributes = FILE_ATTRIBUTE_NORMAL;
  if (flags & kUnbuffered) {
#if defined(OME_WRITERS_PORTABLE_IO)
    fail_with(EINVAL);
    return kNoHandle;
#else
    attributes |= FILE_FLAG_NO_BUFFERING | FILE_FLAG_WRITE_THROUGH;
#endif
  }
  try {
    // FILE_SHARE_DELETE: an open file can be renamed into place (DirectFile).
    const HANDLE h = ::CreateFileW(win_path(path).c_str(), access, kShareAll, nullptr, disposition,
                                   attributes, nullptr);
    if (h == INVALID_HANDLE_VALUE) fail();
    return own(h);
  } catch (...) {
    fail_with(ENOMEM);
    return kNoHandle;
  }
}

Handle open_unnamed(const fs::path&, unsigned) noexcept {
  fail_with(EOPNOTSUPP);
  return kNoHandle;
}

bool link_unnamed(Handle, const fs::path&) noexcept {
  fail_with(EOPNOTSUPP);
  return false;
}

int close_file(Handle h) noexcept {
  if (::CloseHandle(win(h))) return 0;
  fail();
  return -1;
}

std::int64_t read_at(Handle h, void* data, std::size_t n, std::uint64_t offset) noexcept {
  OVERLAPPED ov = at(offset);
  DWORD got = 0;
  if (!::ReadFile(win(h), data, static_cast<DWORD>(std::min(n, kMaxCall)), &got, &ov)) {
    if (::GetLastError() == ERROR_HANDLE_EOF) return 0;
    fail();
    return -1;
  }
  return got;
}

std::int64_t write_at(Handle h, const void* data, std::size_t n, std::uint64_t offset) noexcept {
  OVERLAPPED ov = at(offset);
  DWORD put = 0;
  if (!::WriteFile(win(h), data, static_cast<DWORD>(std::min(n, kMaxCall)), &put, &ov)) {
    fail();
    return -1;
  }
  return put;
}

std::int64_t write_next(Handle h, const void* data, std::size_t n) noexcept {
  DWORD put = 0;
  if (!::WriteFile(win(h), data, static_cast<DWORD>(std::min(n, kMaxCall)), &put, nullptr)) {
    fail();
    return -1;
  }
  return put;
}

// WriteFileGather needs overlapped handles and page-sized pieces: the pieces
// go out one call each.
std::size_t max_gather() noexcept { return 64; }

std::int64_t write_gather_at(Handle h, const Piece* pieces, std::size_t count,
                             std::uint64_t offset) noexcept {
  std::int64_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::int64_t w = write_at(h, pieces[i].data, pieces[i].size, offset);
    if (w < 0) return total > 0 ? total : -1;
    total += w;
    offset += static_cast<std::uint64_t>(w);
    if (static_cast<std::size_t>(w) < pieces[i].size) break;
  }
  return total;
}

// A handle's buffering is fixed when it is opened.
bool leave_unbuffered(Handle) noexcept { return false; }

bool truncate_file(Handle h, std::uint64_t size) noexcept {
  FILE_END_OF_FILE_INFO info{};
  info.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
  if (::SetFileInformationByHandle(win(h), FileEndOfFileInfo, &info, sizeof info)) return true;
  fail();
  return false;
}

std::optional<std::uint64_t> file_size(Handle h) noexcept {
  LARGE_INTEGER size{};
  if (!::GetFileSizeEx(win(h), &size)) {
    fail();
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(size.QuadPart);
}

bool sync_file(Handle h) noexcept {
  if (::FlushFileBuffers(win(h))) return true;
  fail();
  return false;
}

bool sync_path(const fs::path& path) noexcept {
  try {
    const std::wstring p = win_path(path);
    // NTFS journals directory entries itself; a directory cannot be flushed
    // without administrator rights.
    if (is_directory(p)) return true;
    const HANDLE h = ::CreateFileW(p.c_str(), GENERIC_WRITE, kShareAll, nullptr, OPEN_EXISTING,
                                   FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
      fail();
      return false;
    }
    const bool ok = ::FlushFileBuffers(h) != 0;
    if (!ok) fail();
    ::CloseHandle(h);
    return ok;
  } catch (...) {
    fail_with(ENOMEM);
    return false;
  }
}

bool sync_file_system(const fs::path& path) noexcept {
  // Flushing a whole volume needs administrator rights: every file below
  // `path` is flushed instead.
  try {
    if (!is_directory(win_path(path))) return sync_path(path);
    std::error_code ec;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && !sync_path(it->path())) return false;
    }
    if (ec) {
      fail_with(EIO);
      return false;
    }
    return true;
  } catch (...) {
    fail_with(ENOMEM);
    return false;
  }
}

void start_writeback(Handle, std::uint64_t, std::uint64_t) noexcept {}
void drop_written(Handle, std::uint64_t, std::uint64_t) noexcept {}

bool replace_file(const fs::path& from, const fs::path& to) noexcept {
  try {
    if (::MoveFileExW(win_path(from).c_str(), win_path(to).c_str(),
                      MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
      return true;
    }
    fail();
    return false;
  } catch (...) {
    fail_with(ENOMEM);
    return false;
  }
}

bool remove_file(const fs::path& path) noexcept {
  try {
    if (::DeleteFileW(win_path(path).c_str())) return true;
    fail();
    return false;
  } catch (...) {
    fail_with(ENOMEM);
    return false;
  }
}

bool make_directory(const fs::path& path) noexcept {
  try {
    const std::wstring p = win_path(path);
    if (::CreateDirectoryW(p.c_str(), nullptr)) return true;
    fail();
    if (errno == ENOENT && path.has_parent_path()) {
      // As POSIX says it: a parent that is a file is ENOTDIR, not a missing one.
      const DWORD attrs = ::GetFileAttributesW(win_path(path.parent_path()).c_str());
      if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY) == 0) {
        fail_with(ENOTDIR);
        return false;
      }
    }
    if (errno != EEXIST) return false;
    if (is_directory(p)) return true;
    fail_with(EEXIST);
    return false;
  } catch (...) {
    fail_with(ENOMEM);
    return false;
  }
}

std::optional<FileId> file_id(Handle h) noexcept {
  BY_HANDLE_FILE_INFORMATION info{};
  if (!::GetFileInformationByHandle(win(h), &info)) {
    fail();
    return std::nullopt;
  }
  return FileId{info.dwVolumeSerialNumber,
                (static_cast<std::uint64_t>(info.nFileIndexHigh) << 32) | info.nFileIndexLow};
}

std::optional<FileId> file_id(const fs::path& path) noexcept {
  try {
    // No access rights needed to read the identity; BACKUP_SEMANTICS opens directories.
    const HANDLE h = ::CreateFileW(win_path(path).c_str(), 0, kShareAll, nullptr, OPEN_EXISTING,
                                   FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
      fail();
      return std::nullopt;
    }
    const std::optional<FileId> id = file_id(reinterpret_cast<Handle>(h));
    ::CloseHandle(h);
    return id;
  } catch (...) {
    fail_with(ENOMEM);
    return std::nullopt;
  }
}

std::string error_message(int code) {
  std::string text = std::strerror(code);
  if (t_last_error != 0 && errno_from(t_last_error) == code) {
    wchar_t* buffer = nullptr;
    const DWORD n = ::FormatMessageW(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, t_last_error, 0, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
    std::wstring message = n > 0 && buffer != nullptr ? std::wstring(buffer, n) : std::wstring();
    if (buffer != nullptr) ::LocalFree(buffer);
    while (!message.empty() && (message.back() == L'\n' || message.back() == L'\r' ||
                                message.back() == L' ' || message.back() == L'.')) {
      message.pop_back();
    }
    text = (message.empty() ? text : narrow(message)) + " (Windows error " +
           std::to_string(t_last_error) + ")";
  }
  return text;
}

std::byte* map_pages(std::size_t bytes, bool) noexcept {
  // Committed memory reads as zeros and is backed on first touch.
  void* p = ::VirtualAlloc(nullptr, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  return static_cast<std::byte*>(p);
}

void unmap_pages(std::byte* p, std::size_t) noexcept {
  if (p != nullptr) ::VirtualFree(p, 0, MEM_RELEASE);
}

// Pools map each slot themselves here (VirtualAlloc per block).
std::byte* reserve_pages(std::size_t) noexcept { return nullptr; }

void populate_pages(std::byte* p, std::size_t bytes) noexcept {
  auto* base = reinterpret_cast<volatile unsigned char*>(p);
  for (std::size_t at = 0; at < bytes; at += 4096) base[at] = base[at];
}

void discard_pages(std::byte* p, std::size_t bytes) noexcept {
  // Decommitted, then committed again: zeros on the next touch (MEM_RESET
  // would leave the contents undefined).
  (void)::VirtualFree(p, bytes, MEM_DECOMMIT);
  (void)::VirtualAlloc(p, bytes, MEM_COMMIT, PAGE_READWRITE);
}

void* alloc_aligned(std::size_t alignment, std::size_t bytes) noexcept {
  return ::_aligned_malloc(bytes == 0 ? alignment : bytes, alignment);
}

void free_aligned(void* p) noexcept { ::_aligned_free(p); }

// The Windows heap returns large freed blocks to the system itself.
void trim_heap() noexcept {}

// Windows priorities are strict: a thread below normal starves as soon as
// other busy programs share the cores. Writers stay at normal priority.
void set_background_priority() noexcept {}

void set_idle_priority() noexcept {
  (void)::SetThreadPriority(::GetCurrentThread(), THREAD_PRIORITY_IDLE);
}

namespace {

// The calls at_thread_exit() registered on one thread, in a fiber-local slot
// whose callback Windows runs when the thread exits.
using ExitCalls = std::vector<std::pair<void (*)(void*), void*>>;

void NTAPI run_exit_calls(void* p) {
  auto* calls = static_cast<ExitCalls*>(p);
  if (calls == nullptr) return;
  for (auto it = calls->rbegin(); it != calls->rend(); ++it) it->first(it->second);
  delete calls;
}

}  // namespace

bool at_thread_exit(void (*fn)(void*), void* arg) noexcept {
  static const DWORD slot = ::FlsAlloc(run_exit_calls);
  if (slot == FLS_OUT_OF_INDEXES) return false;
  try {
    auto* calls = static_cast<ExitCalls*>(::FlsGetValue(slot));
    if (calls == nullptr) {
      calls = new ExitCalls();
      if (!::FlsSetValue(slot, calls)) {
        delete calls;
        return false;
      }
    }
    calls->emplace_back(fn, arg);
    return true;
  } catch (...) {
    return false;
  }
}

int process_id() noexcept { return static_cast<int>(::GetCurrentProcessId()); }

bool utc_time(std::time_t t, std::tm* out) noexcept { return ::gmtime_s(out, &t) == 0; }

bool limit_file_size(std::uint64_t) noexcept { return false; }

fs::path path_from_utf8(const std::string& text) { return fs::path(widen(text)); }
std::string path_to_utf8(const fs::path& path) { return narrow(path.wstring()); }

}  // namespace ome_writers::platform

#endif  // _WIN32
