#include "tiff/description_patcher.hpp"

#include <tiffio.h>

#include <cstdint>
#include <cstring>
#include <functional>

#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;

namespace {

/// Positioned reads and writes of one file, whichever way it is open.
struct FileAccess {
  std::function<void(void*, std::size_t, std::uint64_t)> read_at;
  std::function<void(const void*, std::size_t, std::uint64_t)> write_at;
  std::function<std::uint64_t()> size;
};

/// Finds the first IFD's ImageDescription entry: where it is, and the text's place.
void locate(const fs::path& path, const FileAccess& io, DescriptionSlots& slots) {
  unsigned char header[16];
  io.read_at(header, sizeof header, 0);
  if (header[0] != 'I' || header[1] != 'I' || header[2] != 43) {
    throw Error(ErrorCode::kIo,
                "'" + platform::path_to_utf8(path) + "' is not a little-endian BigTIFF");
  }
  std::uint64_t ifd = 0;
  std::memcpy(&ifd, header + 8, 8);
  std::uint64_t entries = 0;
  io.read_at(&entries, 8, ifd);
  for (std::uint64_t i = 0; i < entries; ++i) {
    const std::uint64_t at = ifd + 8 + i * 20;
    unsigned char entry[20];
    io.read_at(entry, sizeof entry, at);
    std::uint16_t tag = 0;
    std::memcpy(&tag, entry, 2);
    if (tag != TIFFTAG_IMAGEDESCRIPTION) continue;
    std::uint64_t count = 0;
    std::uint64_t offset = 0;
    std::memcpy(&count, entry + 4, 8);
    std::memcpy(&offset, entry + 12, 8);
    slots.entry = at;
    // Text of 8 bytes or less sits inside the entry itself: no place to reuse.
    slots.slots[0] = count <= 8 ? DescriptionSlots::Slot{} : DescriptionSlots::Slot{offset, count};
    slots.slots[1] = {};
    slots.current = 0;
    return;
  }
  throw Error(ErrorCode::kIo,
              "'" + platform::path_to_utf8(path) + "' has no ImageDescription in its first IFD");
}

using Producer = std::function<void(const TextSink&)>;

void patch(const fs::path& path, const FileAccess& io, const Producer& produce,
           DescriptionSlots& slots) {
  if (slots.entry == 0) locate(path, io, slots);
  std::uint64_t length = 0;
  produce([&](std::string_view piece) { length += piece.size(); });
  const std::uint64_t needed = length + 1;
  const int next = 1 - slots.current;
  DescriptionSlots::Slot& slot = slots.slots[next];
  std::uint64_t pad = 1;  // the NUL
  if (slot.capacity < needed) {
    // A new place at the end, half again as large: the document grows with
    // the run, and each new place costs file space.
    slot.offset = (io.size() + 1) & ~std::uint64_t{1};
    slot.capacity = needed + needed / 2;
    pad = slot.capacity - length;
  }
  // Through a buffer: the pieces are small (an element each).
  std::string buffer;
  std::uint64_t at = slot.offset;
  const auto write_out = [&] {
    io.write_at(buffer.data(), buffer.size(), at);
    at += buffer.size();
    buffer.clear();
  };
  produce([&](std::string_view piece) {
    buffer.append(piece);
    if (buffer.size() >= (1u << 20)) write_out();
  });
  if (at + buffer.size() - slot.offset != length) {
    throw Error(ErrorCode::kInternal, "the OME-XML of '" + platform::path_to_utf8(path) +
                                          "' changed while it was written");
  }
  while (pad > 0) {
    const std::uint64_t k = std::min<std::uint64_t>(pad, 1u << 20);
    buffer.append(static_cast<std::size_t>(k), '\0');
    pad -= k;
    write_out();
  }
  // Count and offset in one write: the entry never names one text's length
  // and another's place.
  unsigned char fields[16];
  std::memcpy(fields, &needed, 8);
  std::memcpy(fields + 8, &slot.offset, 8);
  io.write_at(fields, sizeof fields, slots.entry + 4);
  slots.current = next;
}

[[noreturn]] void header_unreadable(const fs::path& path) {
  throw Error(ErrorCode::kIo,
              "cannot read the TIFF header of '" + platform::path_to_utf8(path) + "'");
}

void patch_closed_file(const fs::path& path, const Producer& xml, DescriptionSlots& slots) {
  const platform::Handle fd = platform::open_file(path, platform::kRead | platform::kWrite);
  if (fd == platform::kNoHandle) throw_errno("cannot open", path);
  struct Closer {
    platform::Handle fd;
    ~Closer() { platform::close_file(fd); }
  } closer{fd};
  FileAccess io;
  io.read_at = [&](void* buf, std::size_t n, std::uint64_t off) {
    if (platform::read_at(fd, buf, n, off) != static_cast<std::int64_t>(n)) {
      header_unreadable(path);
    }
  };
  io.write_at = [&](const void* buf, std::size_t n, std::uint64_t off) {
    if (platform::write_at(fd, buf, n, off) != static_cast<std::int64_t>(n)) {
      throw_errno("cannot write", path);
    }
  };
  io.size = [&]() -> std::uint64_t {
    const std::optional<std::uint64_t> size = platform::file_size(fd);
    if (!size) throw_errno("cannot stat", path);
    return *size;
  };
  patch(path, io, xml, slots);
}

void patch_open_file(const fs::path& path, DirectFile& file, const Producer& xml,
                     DescriptionSlots& slots) {
  FileAccess io;
  io.read_at = [&](void* buf, std::size_t n, std::uint64_t off) {
    if (file.pread(buf, n, off) != n) header_unreadable(path);
  };
  io.write_at = [&](const void* buf, std::size_t n, std::uint64_t off) {
    file.pwrite(buf, n, off);
  };
  io.size = [&] { return file.size(); };
  patch(path, io, xml, slots);
}

}  // namespace

void patch_image_description(const fs::path& path, DirectFile* open_file, const std::string& xml,
                             DescriptionSlots* slots) {
  patch_image_description(
      path, open_file, [&](const TextSink& out) { out(xml); }, slots);
}

void patch_image_description(const fs::path& path, DirectFile* open_file, const Producer& xml,
                             DescriptionSlots* slots) {
  DescriptionSlots fresh;  // an earlier process's file: the text is appended
  DescriptionSlots& use = slots != nullptr ? *slots : fresh;
  if (open_file != nullptr && open_file->is_open()) {
    patch_open_file(path, *open_file, xml, use);
  } else {
    patch_closed_file(path, xml, use);
  }
}

}  // namespace ome_writers::detail
