// File-system helpers: atomic writes, directory creation, removal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/text_sink.hpp"

namespace ome_writers::detail {

/// Writes `content` to `path` through a temporary file and rename(), so a
/// reader (or a crash) sees the old or the new file, never half of one.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// write_file_atomic() of a document too large to hold in memory: `produce`
/// hands its text, in order, to the sink it is given.
void write_file_atomic_streamed(const std::filesystem::path& path,
                                const std::function<void(const TextSink&)>& produce);

/// Writes `nbytes` at `data` to a new file (truncating), with one write call
/// per 1 GiB. Returns the number of bytes written.
void write_file(const std::filesystem::path& path, const void* data, std::size_t nbytes);

/// Like write_file, but with O_DIRECT (bypassing the page cache) when the file
/// system supports it and the data is at least a page (unaligned data goes
/// through a per-thread 1 MiB aligned bounce buffer); falls back otherwise.
void write_file_direct(const std::filesystem::path& path, const void* data, std::size_t nbytes);

/// Writes the concatenation of `pieces` (address, bytes) as a new file: with
/// O_DIRECT straight from them when every piece is page aligned in address
/// and size, with O_DIRECT through a per-thread bounce buffer when they are
/// not but hold 64 KiB or more, else through the page cache.
void write_file_gather(const std::filesystem::path& path,
                       const std::vector<std::pair<const void*, std::size_t>>& pieces);

/// Reads a whole file. Throws Error(kIo) when it cannot.
std::string read_file(const std::filesystem::path& path);

/// Where a file is written before it is renamed into place: "<file>.tmp<pid>".
std::filesystem::path temporary_path(const std::filesystem::path& path);

/// Whether `name` is a temporary this library writes on the way to a file
/// (temporary_path): what a killed process can leave behind.
bool is_temporary_name(const std::string& name);

/// Creates a directory and its parents (mode 0777 & ~umask).
void make_directories(const std::filesystem::path& path);

/// Removes a file or directory tree; missing paths are fine.
void remove_tree(const std::filesystem::path& path);

/// The path component that stores a user-given name (a position, well or
/// field name, a companion file name), so that a name is never a path: the
/// name's bytes, with '%', '/', backslash and control bytes (0x00-0x1F, 0x7F) as
/// "%XX" (upper-case hex), and the names "." and ".." as "%2E" and "%2E%2E".
/// Reversible by percent-decoding; a name without those bytes is its own
/// component. Throws Error(kInvalidArgument), naming `what`, for an empty
/// name or a component longer than 255 bytes (NAME_MAX).
std::string path_component(std::string_view name, std::string_view what);

/// Throws Error(kInvalidArgument) unless `path`, lexically normalised, is
/// `root` (lexically normalised) or lies under it. Call it before creating
/// anything at `path`.
void check_inside(const std::filesystem::path& root, const std::filesystem::path& path);

/// fsync of one file or directory.
void fsync_path(const std::filesystem::path& path);

/// Flushes the file system that holds `path` to stable storage (syncfs).
void sync_filesystem(const std::filesystem::path& path);

/// Which file a path names (device and inode), to notice that an output was
/// removed or replaced under a running stream.
struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileIdentity& other) const {
    return device == other.device && inode == other.inode;
  }
  bool operator!=(const FileIdentity& other) const { return !(*this == other); }
};

/// The identity of what `path` names; nullopt when nothing is there.
std::optional<FileIdentity> identity_of(const std::filesystem::path& path);

/// make_directories() for a path below `floor`, which it never creates: false
/// when `floor` is gone (the directories are then left uncreated).
bool make_directories_within(const std::filesystem::path& floor, const std::filesystem::path& path);

/// Throws Error(kIo) with "<what> '<path>': <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& path);

}  // namespace ome_writers::detail
