// The frame-metadata journal: one JSON line per frame, appended as frames
// arrive, kept while the stream is open (removed at close; a crashed stream's
// journal is what recover() folds into the metadata). It is also where the
// metadata documents read the frames' entries from when they are written, so
// that no per-frame metadata stays in memory however long the run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "platform/platform.hpp"

namespace ome_writers::detail {

/// OME-Zarr: one journal in each image group's directory.
inline constexpr const char* kZarrJournalName = "ome_writers.journal.jsonl";

/// OME-TIFF: one journal beside the output (file or directory of files).
inline std::filesystem::path tiff_journal_path(const std::string& output_path) {
  return platform::path_from_utf8(output_path + ".journal.jsonl");
}

/// An append-only file of lines, written through a small buffer. Appends
/// come from one thread; reads may come from any (they see every line
/// appended before them).
class Journal {
 public:
  /// Bytes buffered before a write to the file.
  static constexpr std::size_t kBufferBytes = 64 << 10;

  /// Creates (truncates) the journal at `path`.
  static Journal create(const std::filesystem::path& path);
  /// Opens an existing journal (a crashed stream's) to read; appends fail.
  static Journal open(const std::filesystem::path& path);

  Journal() = default;
  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&& other) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  bool is_open() const { return fd_ != platform::kNoHandle; }
  const std::filesystem::path& path() const { return path_; }

  /// Appends `line` and a newline; returns the line's offset.
  std::uint64_t append(std::string_view line);
  /// Writes the buffered lines to the file (a crash of this process then loses none).
  void flush();
  /// Bytes appended so far (buffered ones included).
  std::uint64_t size() const;
  /// Calls `f(line, offset)` for each complete line that starts at or after
  /// `from` and before `to` (`from` must start a line; a line cut short at the
  /// end of the file, by a crash, is left out).
  void for_each_line(std::uint64_t from, std::uint64_t to,
                     const std::function<void(std::string_view, std::uint64_t)>& f) const;
  /// Closes the file (it stays on disk).
  void close();
  /// Closes and deletes the file.
  void remove();

 private:
  void flush_locked() const;

  std::filesystem::path path_;
  platform::Handle fd_ = platform::kNoHandle;
  bool writable_ = false;
  mutable std::mutex mutex_;
  mutable std::string buffer_;
  mutable std::uint64_t written_ = 0;  // bytes in the file
};

}  // namespace ome_writers::detail
