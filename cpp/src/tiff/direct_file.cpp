#include "tiff/direct_file.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"
#include "util/pages.hpp"

namespace ome_writers::detail {

using platform::kNoHandle;

namespace {

// Page-cache mode: start writeback of each new 16 MiB at once and drop what
// reached the disk two steps behind (no dirty-page build-up, no reclaim).
constexpr std::uint64_t kWritebackStep = 16u << 20;

std::atomic<KernelWriteHook> g_kernel_write_hook{nullptr};

void after_kernel_write(platform::Handle fd) {
  if (KernelWriteHook hook = g_kernel_write_hook.load(std::memory_order_relaxed)) hook(fd);
}

}  // namespace

void set_kernel_write_hook(KernelWriteHook hook) noexcept { g_kernel_write_hook.store(hook); }

DirectFile::DirectFile(const std::filesystem::path& path, std::size_t stage_bytes, bool direct)
    : path_(path), capacity_(std::max<std::size_t>((stage_bytes + kPage - 1) / kPage, 1) * kPage) {
  fd_ = platform::open_file(
      path, platform::kRead | platform::kWrite | platform::kCreate | platform::kTruncate);
  if (fd_ == kNoHandle) throw_errno("cannot create", path);
  if (direct) {  // kNoHandle: page cache
    direct_fd_ = platform::open_file(path, platform::kWrite | platform::kUnbuffered);
  }
  stage_ = map_pages(capacity_);
  recent_ = map_pages(kRecentPages * kPage);
  recent_offsets_.assign(kRecentPages, UINT64_MAX);
}

DirectFile::~DirectFile() {
  if (direct_fd_ != kNoHandle) platform::close_file(direct_fd_);
  if (fd_ != kNoHandle) platform::close_file(fd_);
  unmap_pages(stage_, capacity_);
  unmap_pages(recent_, kRecentPages * kPage);
}

bool DirectFile::is_open() const {
  std::lock_guard lock(mutex_);
  return fd_ != kNoHandle;
}

bool DirectFile::direct() const {
  std::lock_guard lock(mutex_);
  return direct_fd_ != kNoHandle;
}

std::uint64_t DirectFile::size() const {
  std::lock_guard lock(mutex_);
  return stage_offset_ + stage_len_;
}

void DirectFile::align_next_append() {
  std::lock_guard lock(mutex_);
  align_next_ = direct_fd_ != kNoHandle;
}

std::uint64_t DirectFile::end() {
  std::lock_guard lock(mutex_);
  if (align_next_) {
    align_next_ = false;
    const std::size_t pad = (kPage - stage_len_ % kPage) % kPage;
    if (pad > 0) {
      std::memset(stage_ + stage_len_, 0, pad);  // capacity is whole pages: it fits
      stage_len_ += pad;
    }
    write_full_pages_locked();
  }
  return stage_offset_ + stage_len_;
}

void DirectFile::pwrite(const void* data, std::size_t n, std::uint64_t offset) {
  std::lock_guard lock(mutex_);
  if (fd_ == kNoHandle)
    throw Error(ErrorCode::kIo, "'" + platform::path_to_utf8(path_) + "' is closed");
  const auto* p = static_cast<const std::byte*>(data);
  std::uint64_t end = stage_offset_ + stage_len_;
  if (offset < end) {  // over bytes already in the file
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, end - offset));
    overwrite_locked(p, k, offset);
    p += k;
    n -= k;
    offset += k;
  }
  if (n == 0) return;
  static const std::byte kZeros[kPage] = {};
  while (end < offset) {  // a gap: zeros
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(offset - end, kPage));
    append_locked(kZeros, k);
    end += k;
  }
  append_locked(p, n);
}

void DirectFile::overwrite_locked(const std::byte* data, std::size_t n, std::uint64_t offset) {
  const std::uint64_t end = offset + n;
  const std::uint64_t max_end = held_.empty() ? end : std::max(held_.back().max_end, end);
  held_.push_back(Overwrite{offset, std::vector<std::byte>(data, data + n), kUnsealed, max_end});
}

void DirectFile::seal() {
  std::lock_guard lock(mutex_);
  seal_locked();
}

void DirectFile::seal_locked() {
  const std::uint64_t size = stage_offset_ + stage_len_;
  for (auto it = held_.rbegin(); it != held_.rend() && it->after == kUnsealed; ++it) {
    it->after = size;
  }
  // Those whose targets are with the kernel already.
  release_locked(kernel_end_);
  apply_patches_locked();
}

void DirectFile::release_locked(std::uint64_t end) {
  // In the order they were made (later ones may overlap earlier ones), the
  // overwrites whose targets lie below `end`: the part in places never handed
  // to the kernel goes into the stage, to go out with its pages (nothing on
  // disk leads there yet); the rest waits to be patched in after the write-out.
  while (!held_.empty() && held_.front().after <= end) {
    Overwrite w = std::move(held_.front());
    held_.pop_front();
    const std::uint64_t w_end = w.offset + w.bytes.size();
    if (w_end > kernel_end_) {
      const std::uint64_t from = std::max(w.offset, kernel_end_);
      std::memcpy(stage_ + (from - stage_offset_), w.bytes.data() + (from - w.offset),
                  static_cast<std::size_t>(w_end - from));
      w.bytes.resize(static_cast<std::size_t>(from > w.offset ? from - w.offset : 0));
    }
    if (!w.bytes.empty()) patches_.push_back(std::move(w));
  }
}

void DirectFile::handed_over_locked(std::uint64_t end) {
  kernel_end_ = std::max(kernel_end_, end);
  release_locked(kernel_end_);
  apply_patches_locked();
}

void DirectFile::apply_patches_locked() {
  if (patches_.empty()) return;
  // The pages they touch, updated in order...
  struct Page {
    std::byte* data = nullptr;  // a kept copy, the stage, or `read`
    std::vector<std::byte> read;
    std::uint64_t lo = UINT64_MAX;  // changed bytes [lo, hi)
    std::uint64_t hi = 0;
    bool kept = false;
    bool joined = false;  // a patch runs on into the next page
  };
  std::map<std::uint64_t, Page> pages;
  for (const auto& w : patches_) {
    const std::uint64_t w_end = w.offset + w.bytes.size();
    for (std::uint64_t at = w.offset; at < w_end;) {
      const std::uint64_t page = at / kPage * kPage;
      const std::uint64_t stop = std::min(w_end, page + kPage);
      Page& p = pages[page];
      if (p.data == nullptr) {
        if (page >= stage_offset_) {
          p.data = stage_ + (page - stage_offset_);
        } else if (std::byte* kept = direct_fd_ != kNoHandle ? recent_page_locked(page) : nullptr) {
          p.data = kept;
          p.kept = true;
        } else {
          p.read.resize(kPage);
          read_behind_stage_locked(p.read.data(), kPage, page);
          p.data = p.read.data();
        }
      }
      std::memcpy(p.data + (at - page), w.bytes.data() + (at - w.offset),
                  static_cast<std::size_t>(stop - at));
      p.lo = std::min(p.lo, at);
      p.hi = std::max(p.hi, stop);
      p.joined = p.joined || stop < w_end;
      at = stop;
    }
  }
  patches_.clear();
  // ...then written from the end of the file backwards: links point forward,
  // so whatever a patch leads to is written before it. A patch across a page
  // boundary (a description's tag entry) is one write, so no kill leaves half.
  std::vector<std::map<std::uint64_t, Page>::iterator> order;
  for (auto it = pages.begin(); it != pages.end(); ++it) order.push_back(it);
  std::size_t i = order.size();
  while (i > 0) {
    std::size_t j = i - 1;  // the run [j, i)
    while (j > 0 && order[j - 1]->second.joined && order[j - 1]->first + kPage == order[j]->first) {
      --j;
    }
    if (i - j == 1 && order[j]->second.kept) {
      write_out_locked(order[j]->second.data, kPage, order[j]->first);
    } else {
      const std::uint64_t lo = order[j]->second.lo;
      const std::uint64_t hi = order[i - 1]->second.hi;
      std::vector<std::byte> span(static_cast<std::size_t>(hi - lo));
      for (std::size_t k = j; k < i; ++k) {
        const std::uint64_t page = order[k]->first;
        const std::uint64_t from = std::max(lo, page);
        const std::uint64_t to = std::min(hi, page + kPage);
        std::memcpy(span.data() + (from - lo), order[k]->second.data + (from - page),
                    static_cast<std::size_t>(to - from));
      }
      buffered_write_locked(span.data(), span.size(), lo);
    }
    i = j;
  }
}

void DirectFile::rename_to(const std::filesystem::path& path) {
  std::lock_guard lock(mutex_);
  if (!platform::replace_file(path_, path)) throw_errno("cannot rename into place", path);
  path_ = path;
}

void DirectFile::append_locked(const std::byte* data, std::size_t n) {
  if (direct_fd_ != kNoHandle && stage_len_ == 0 && n >= kPage && is_page_aligned(data)) {
    // Page aligned in the file and in memory: straight from the caller's buffer.
    const std::size_t whole = n / kPage * kPage;
    write_out_locked(data, whole, stage_offset_);
    stage_offset_ += whole;
    handed_over_locked(stage_offset_);
    data += whole;
    n -= whole;
  }
  while (n > 0) {
    const std::size_t k = std::min(n, capacity_ - stage_len_);
    std::memcpy(stage_ + stage_len_, data, k);
    stage_len_ += k;
    data += k;
    n -= k;
    if (stage_len_ == capacity_) write_full_pages_locked();
  }
}

void DirectFile::write_full_pages_locked() {
  const std::size_t whole = stage_len_ / kPage * kPage;
  if (whole == 0) return;
  const std::uint64_t end = stage_offset_ + whole;
  release_locked(end);
  write_out_locked(stage_, whole, stage_offset_);
  // Keep the last pages: the next IFD link (or header) patch lands there.
  const std::size_t keep = std::min<std::size_t>(whole / kPage, kRecentPages);
  for (std::size_t k = whole / kPage - keep; k < whole / kPage; ++k) {
    remember_page_locked(stage_ + k * kPage, stage_offset_ + k * kPage);
  }
  std::memmove(stage_, stage_ + whole, stage_len_ - whole);
  stage_offset_ += whole;
  stage_len_ -= whole;
  handed_over_locked(end);
}

void DirectFile::remember_page_locked(const std::byte* page, std::uint64_t offset) {
  for (std::size_t i = 0; i < kRecentPages; ++i) {
    if (recent_offsets_[i] == offset) recent_offsets_[i] = UINT64_MAX;
  }
  std::memcpy(recent_ + recent_next_ * kPage, page, kPage);
  recent_offsets_[recent_next_] = offset;
  recent_next_ = (recent_next_ + 1) % kRecentPages;
}

std::byte* DirectFile::recent_page_locked(std::uint64_t page_offset) const {
  for (std::size_t i = 0; i < kRecentPages; ++i) {
    if (recent_offsets_[i] == page_offset) return recent_ + i * kPage;
  }
  return nullptr;
}

void DirectFile::read_behind_stage_locked(std::byte* out, std::size_t n,
                                          std::uint64_t offset) const {
  std::size_t got = 0;
  while (got < n) {
    const std::int64_t r = platform::read_at(fd_, out + got, n - got, offset + got);
    if (r < 0) throw_errno("cannot read", path_);
    if (r == 0)
      throw Error(ErrorCode::kIo,
                  "'" + platform::path_to_utf8(path_) + "' is shorter than written");
    got += static_cast<std::size_t>(r);
  }
}

void DirectFile::buffered_write_locked(const void* data, std::size_t n, std::uint64_t offset) {
  const auto* p = static_cast<const std::byte*>(data);
  while (n > 0) {
    const std::int64_t w = platform::write_at(fd_, p, n, offset);
    if (w < 0) throw_errno("cannot write", path_);
    after_kernel_write(fd_);
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
}

void DirectFile::write_out_locked(const std::byte* data, std::size_t n, std::uint64_t offset) {
  while (direct_fd_ != kNoHandle && n > 0) {
    const std::int64_t w = platform::write_at(direct_fd_, data, n, offset);
    if (w < 0 && errno == EINVAL) {
      // The file system took O_DIRECT at open but refuses the write: page cache.
      platform::close_file(direct_fd_);
      direct_fd_ = kNoHandle;
      break;
    }
    if (w < 0) throw_errno("cannot write", path_);
    after_kernel_write(fd_);
    data += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  if (n == 0) return;
  buffered_write_locked(data, n, offset);
  const std::uint64_t end = offset + n;
  if (end < written_back_ + kWritebackStep) return;
  platform::start_writeback(fd_, written_back_, end - written_back_);
  written_back_ = end;
  if (written_back_ >= released_ + 2 * kWritebackStep) {
    const std::uint64_t upto = written_back_ - kWritebackStep;
    platform::drop_written(fd_, released_, upto - released_);
    released_ = upto;
  }
}

std::size_t DirectFile::pread(void* data, std::size_t n, std::uint64_t offset) const {
  std::lock_guard lock(mutex_);
  if (fd_ == kNoHandle)
    throw Error(ErrorCode::kIo, "'" + platform::path_to_utf8(path_) + "' is closed");
  const std::uint64_t size = stage_offset_ + stage_len_;
  if (offset >= size) return 0;
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size - offset));
  auto* out = static_cast<std::byte*>(data);
  std::size_t done = 0;
  // Behind the stage: kept pages from memory, the rest from the file.
  while (done < n && offset + done < stage_offset_) {
    const std::uint64_t at = offset + done;
    const std::uint64_t page = at / kPage * kPage;
    const std::size_t in_page = static_cast<std::size_t>(at - page);
    std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(
        n - done, std::min<std::uint64_t>(stage_offset_ - at, kPage - in_page)));
    const std::byte* kept = direct_fd_ != kNoHandle ? recent_page_locked(page) : nullptr;
    if (kept != nullptr) {
      std::memcpy(out + done, kept + in_page, k);
    } else {
      // Read up to the next kept page or the stage, whichever comes first.
      std::uint64_t stop = std::min<std::uint64_t>(offset + n, stage_offset_);
      for (std::uint64_t q = page + kPage; q < stop; q += kPage) {
        if (direct_fd_ != kNoHandle && recent_page_locked(q) != nullptr) {
          stop = q;
          break;
        }
      }
      k = static_cast<std::size_t>(stop - at);
      std::size_t got = 0;
      while (got < k) {
        const std::int64_t r = platform::read_at(fd_, out + done + got, k - got, at + got);
        if (r < 0) throw_errno("cannot read", path_);
        if (r == 0)
          throw Error(ErrorCode::kIo,
                      "'" + platform::path_to_utf8(path_) + "' is shorter than written");
        got += static_cast<std::size_t>(r);
      }
    }
    done += k;
  }
  if (done < n) {
    const std::size_t at = static_cast<std::size_t>(offset + done - stage_offset_);
    std::memcpy(out + done, stage_ + at, n - done);
    done = n;
  }
  // Readers see the overwrites still held back, in the order they were made,
  // from the first that can reach the bytes read.
  std::size_t first = held_.size();
  while (first > 0 && held_[first - 1].max_end > offset) --first;
  for (std::size_t i = first; i < held_.size(); ++i) {
    const Overwrite& w = held_[i];
    const std::uint64_t lo = std::max(offset, w.offset);
    const std::uint64_t hi = std::min(offset + n, w.offset + w.bytes.size());
    if (lo < hi) std::memcpy(out + (lo - offset), w.bytes.data() + (lo - w.offset), hi - lo);
  }
  return done;
}

void DirectFile::flush() {
  std::lock_guard lock(mutex_);
  if (fd_ == kNoHandle) return;
  seal_locked();
  write_full_pages_locked();
  // The partial last page goes through the page cache (it stays staged; when
  // it is full it is written again, directly).
  if (stage_len_ > 0) {
    const std::uint64_t end = stage_offset_ + stage_len_;
    release_locked(end);
    buffered_write_locked(stage_, stage_len_, stage_offset_);
    handed_over_locked(end);
  }
}

void DirectFile::release() noexcept {
  std::lock_guard lock(mutex_);
  if (direct_fd_ != kNoHandle) platform::close_file(direct_fd_);
  if (fd_ != kNoHandle) platform::close_file(fd_);
  direct_fd_ = kNoHandle;
  fd_ = kNoHandle;
}

void DirectFile::close() {
  std::lock_guard lock(mutex_);
  if (fd_ == kNoHandle) return;
  const std::uint64_t size = stage_offset_ + stage_len_;
  seal_locked();
  write_full_pages_locked();
  if (stage_len_ > 0) {
    release_locked(size);
    if (direct_fd_ != kNoHandle) {  // a whole padded page, then trim the padding
      std::memset(stage_ + stage_len_, 0, kPage - stage_len_);
      write_out_locked(stage_, kPage, stage_offset_);
    } else {
      buffered_write_locked(stage_, stage_len_, stage_offset_);
    }
    handed_over_locked(size);
  }
  if (!platform::truncate_file(fd_, size)) throw_errno("cannot truncate", path_);
  if (direct_fd_ != kNoHandle) platform::close_file(direct_fd_);
  direct_fd_ = kNoHandle;
  const platform::Handle fd = std::exchange(fd_, kNoHandle);
  if (platform::close_file(fd) != 0) throw_errno("cannot close", path_);
}

}  // namespace ome_writers::detail
