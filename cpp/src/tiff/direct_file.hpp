// A file written mostly with O_DIRECT, for libtiff's client I/O.
//
// libtiff writes a TIFF as a sequence of small and large pieces at the end of
// the file (strips, IFDs, tag data) plus a few patches behind it (the link to
// the next IFD, the header). DirectFile collects the pieces in a page-aligned
// staging buffer and writes whole pages with O_DIRECT: no copy into the page
// cache, no writeback or reclaim work for the kernel. A large piece that
// starts on a page boundary (an uncompressed plane, see align_next_append) is
// written straight from the caller's buffer. The last pages written out are
// kept, so that patching them (every IFD link) neither reads the disk nor
// dirties the page cache; older regions are patched through the page cache.
//
// Where the file system refuses O_DIRECT (tmpfs...) or `direct` is false, the
// same staging writes through the page cache, starting writeback early and
// dropping written stretches from the cache.
//
// Valid at every instant: a write over bytes already in the file (an IFD link,
// the header, a description pointer) may point at anything written up to the
// next seal() (libtiff links an IFD before it writes it). It reaches the
// kernel only after all of that has: a process killed at any moment leaves a
// file whose links all lead to complete data. Such a write is held (reads see
// it) until the write-out that completes its targets; it goes out with that
// write-out's pages when its own place is in them and was never handed to the
// kernel (nothing on disk leads there yet), else right after it, as a patch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <vector>

#include "platform/platform.hpp"

namespace ome_writers::detail {

/// Called after every write a DirectFile hands to the kernel, with its
/// descriptor: a kill may come between any two of them, and tests check the
/// file at each such point. nullptr (the default): none.
using KernelWriteHook = void (*)(platform::Handle fd);
void set_kernel_write_hook(KernelWriteHook hook) noexcept;

class DirectFile {
 public:
  /// Creates (truncates) `path`. `stage_bytes` is rounded up to whole pages.
  DirectFile(const std::filesystem::path& path, std::size_t stage_bytes, bool direct);
  ~DirectFile();
  DirectFile(const DirectFile&) = delete;
  DirectFile& operator=(const DirectFile&) = delete;

  /// Writes `n` bytes at `offset` (a gap beyond the end reads as zeros).
  void pwrite(const void* data, std::size_t n, std::uint64_t offset);
  /// Reads up to `n` bytes at `offset`; returns how many (short at the end).
  std::size_t pread(void* data, std::size_t n, std::uint64_t offset) const;
  /// Logical size of the file.
  std::uint64_t size() const;
  /// The next end() call first pads the file to a page boundary, so that the
  /// piece appended there can go to the disk straight from its buffer.
  void align_next_append();
  /// End of the file (after padding, when align_next_append() asked for it).
  std::uint64_t end();
  /// Declares that the overwrites made so far point only at bytes written by now.
  void seal();
  /// seal(), hands every byte to the kernel, then the held overwrites: a crash
  /// of this process loses nothing, and the file is valid at every step.
  void flush();
  /// Renames the file (it stays open); the new name is used in messages.
  void rename_to(const std::filesystem::path& path);

  /// flush(), trims the padding of the last page, closes the file. Idempotent.
  void close();
  /// Closes the descriptors without writing what is still staged (after a
  /// failure: a stream that cannot finish must not keep its files open).
  void release() noexcept;
  bool is_open() const;
  /// True while writes bypass the page cache.
  bool direct() const;

 private:
  static constexpr std::size_t kPage = 4096;
  static constexpr std::size_t kRecentPages = 8;

  /// An overwrite of bytes [offset, offset + bytes.size()) that may point at
  /// the file's first `after` bytes (kUnsealed: until the next seal()).
  struct Overwrite {
    std::uint64_t offset = 0;
    std::vector<std::byte> bytes;
    std::uint64_t after = 0;
    /// At least the end of every overwrite held before it and of itself:
    /// reads look back only as far as they must (there are thousands held
    /// when many small planes share the stage).
    std::uint64_t max_end = 0;
  };
  static constexpr std::uint64_t kUnsealed = UINT64_MAX;

  void seal_locked();

  void overwrite_locked(const std::byte* data, std::size_t n, std::uint64_t offset);
  /// Before a write-out up to `end` (or once the kernel has the file up to
  /// it): the held overwrites whose targets lie below `end`, into the stage
  /// or onto patches_.
  void release_locked(std::uint64_t end);
  /// After the file's first `end` bytes reached the kernel: the held
  /// overwrites whose targets they complete.
  void handed_over_locked(std::uint64_t end);
  /// Writes patches_ into the file, the last page first.
  void apply_patches_locked();
  void read_behind_stage_locked(std::byte* out, std::size_t n, std::uint64_t offset) const;
  void append_locked(const std::byte* data, std::size_t n);
  void write_full_pages_locked();
  void write_out_locked(const std::byte* data, std::size_t n, std::uint64_t offset);
  void remember_page_locked(const std::byte* page, std::uint64_t offset);
  std::byte* recent_page_locked(std::uint64_t page_offset) const;
  void buffered_write_locked(const void* data, std::size_t n, std::uint64_t offset);

  std::filesystem::path path_;
  mutable std::mutex mutex_;
  platform::Handle fd_ = platform::kNoHandle;         // buffered, read/write
  platform::Handle direct_fd_ = platform::kNoHandle;  // unbuffered, write only (or none)
  std::byte* stage_ = nullptr;
  std::size_t capacity_ = 0;
  std::uint64_t stage_offset_ = 0;  // page aligned; everything below is written out
  std::size_t stage_len_ = 0;       // bytes staged; size() == stage_offset_ + stage_len_
  bool align_next_ = false;
  // Copies of the pages last written out from the stage.
  std::byte* recent_ = nullptr;  // kRecentPages pages, page aligned
  std::vector<std::uint64_t> recent_offsets_;
  std::size_t recent_next_ = 0;
  // Page-cache mode: writeback started up to here / dropped up to here.
  std::uint64_t written_back_ = 0;
  std::uint64_t released_ = 0;
  // The file's first kernel_end_ bytes have been handed to the kernel (in the
  // stage's state at the time).
  std::uint64_t kernel_end_ = 0;
  std::deque<Overwrite> held_;      // in the order they were made
  std::vector<Overwrite> patches_;  // released, for places the kernel has
};

}  // namespace ome_writers::detail
