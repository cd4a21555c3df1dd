#include "tiff/tiff_sink.hpp"

#include "codec/codecs.hpp"
#include "tiff/direct_file.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <functional>

#include "core/journal.hpp"
#include "ome_writers/errors.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Fast levels: a camera stream must keep up, and on noisy microscopy data higher
// levels gain little (libdeflate level 1 measured within 1% of level 4 here).
constexpr int kTiffZstdLevel = 3;
constexpr int kTiffDeflateLevel = 1;
// Uncompressed planes at least this large are written from the frame's slot.
constexpr std::size_t kDirectPlaneBytes = std::size_t{2} << 20;

/// Collects libtiff's messages for one handle (never a global handler).
struct TiffMessages {
  std::string text;
};

int collect_message(TIFF*, void* user_data, const char* module, const char* fmt, va_list ap) {
  auto* messages = static_cast<TiffMessages*>(user_data);
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (!messages->text.empty()) messages->text += "; ";
  messages->text += std::string(module ? module : "libtiff") + ": " + buf;
  return 1;
}

int ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

TIFF* open_tiff(const fs::path& path, const char* mode, TiffMessages* messages) {
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(opts, collect_message, messages);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, ignore_warning, nullptr);
  TIFF* tif = TIFFOpenExt(path.c_str(), mode, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

[[noreturn]] void tiff_failure(const std::string& what, const fs::path& path,
                               const TiffMessages& messages) {
  throw Error(ErrorCode::kIo, what + " '" + path.string() + "'" +
                                  (messages.text.empty() ? "" : ": " + messages.text));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::uint16_t tiff_compression(Compression c) {
  switch (c) {
    case Compression::kLzw:
      return COMPRESSION_LZW;
    case Compression::kDeflate:
      return COMPRESSION_ADOBE_DEFLATE;
    case Compression::kZstd:
      return COMPRESSION_ZSTD;
    default:
      return COMPRESSION_NONE;
  }
}

std::uint16_t sample_format(DataType t) {
  if (is_floating(t)) return SAMPLEFORMAT_IEEEFP;
  if (t == DataType::kComplex64 || t == DataType::kComplex128) return SAMPLEFORMAT_COMPLEXIEEEFP;
  if (t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32)
    return SAMPLEFORMAT_INT;
  return SAMPLEFORMAT_UINT;
}

// Pixels per centimetre for a pixel size in the given NGFF length unit.
std::optional<double> pixels_per_cm(const Dimension& d) {
  if (!d.scale || *d.scale <= 0) return std::nullopt;
  const std::string unit = d.unit.value_or("micrometer");
  const double cm = unit == "micrometer"   ? 1e-4
                    : unit == "nanometer"  ? 1e-7
                    : unit == "millimeter" ? 1e-1
                    : unit == "centimeter" ? 1.0
                    : unit == "meter"      ? 100.0
                                           : 0.0;
  if (cm == 0.0) return std::nullopt;
  return 1.0 / (*d.scale * cm);
}

// Replaces the ImageDescription of a BigTIFF's first IFD: in place when the new
// text fits, else appended at the end of the file with the tag pointed at it.
// libtiff cannot do this in update mode without re-chopping the first strip.
struct FileAccess {
  std::function<void(void*, std::size_t, std::uint64_t)> read_at;
  std::function<void(const void*, std::size_t, std::uint64_t)> write_at;
  std::function<std::uint64_t()> size;
};

void patch_image_description(const fs::path& path, const FileAccess& io, const std::string& xml) {
  unsigned char header[16];
  io.read_at(header, sizeof header, 0);
  if (header[0] != 'I' || header[1] != 'I' || header[2] != 43) {
    throw Error(ErrorCode::kIo, "'" + path.string() + "' is not a little-endian BigTIFF");
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
    const std::uint64_t needed = xml.size() + 1;
    if (count <= 8 || needed > count) {
      offset = (io.size() + 1) & ~std::uint64_t{1};
    } else {
      // Blank out the old text so no stale tail remains after the new one.
      const std::string pad(count, '\0');
      io.write_at(pad.data(), pad.size(), offset);
    }
    io.write_at(xml.c_str(), needed, offset);
    std::memcpy(entry + 4, &needed, 8);
    std::memcpy(entry + 12, &offset, 8);
    io.write_at(entry, sizeof entry, at);
    return;
  }
  throw Error(ErrorCode::kIo, "'" + path.string() + "' has no ImageDescription in its first IFD");
}

void patch_image_description(const fs::path& path, const std::string& xml) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  FileAccess io;
  io.read_at = [&](void* buf, std::size_t n, std::uint64_t off) {
    if (::pread(fd, buf, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      throw Error(ErrorCode::kIo, "cannot read the TIFF header of '" + path.string() + "'");
    }
  };
  io.write_at = [&](const void* buf, std::size_t n, std::uint64_t off) {
    if (::pwrite(fd, buf, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      throw_errno("cannot write", path);
    }
  };
  io.size = [&]() -> std::uint64_t {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("cannot stat", path);
    return static_cast<std::uint64_t>(st.st_size);
  };
  patch_image_description(path, io, xml);
}

void patch_image_description(const fs::path& path, DirectFile& file, const std::string& xml) {
  FileAccess io;
  io.read_at = [&](void* buf, std::size_t n, std::uint64_t off) {
    if (file.pread(buf, n, off) != n) {
      throw Error(ErrorCode::kIo, "cannot read the TIFF header of '" + path.string() + "'");
    }
  };
  io.write_at = [&](const void* buf, std::size_t n, std::uint64_t off) {
    file.pwrite(buf, n, off);
  };
  io.size = [&] { return file.size(); };
  patch_image_description(path, io, xml);
}

// libtiff client I/O over a DirectFile: each handle has its own position.
struct ClientHandle {
  DirectFile* file = nullptr;
  std::uint64_t pos = 0;
  TiffMessages* messages = nullptr;
};

void client_failure(ClientHandle* h, const char* what) {
  if (h->messages == nullptr) return;
  if (!h->messages->text.empty()) h->messages->text += "; ";
  h->messages->text += what;
}

tmsize_t client_read(thandle_t handle, void* buf, tmsize_t n) {
  auto* h = static_cast<ClientHandle*>(handle);
  try {
    const std::size_t got = h->file->pread(buf, static_cast<std::size_t>(n), h->pos);
    h->pos += got;
    return static_cast<tmsize_t>(got);
  } catch (const std::exception& e) {
    client_failure(h, e.what());
    return -1;
  }
}

tmsize_t client_write(thandle_t handle, void* buf, tmsize_t n) {
  auto* h = static_cast<ClientHandle*>(handle);
  try {
    h->file->pwrite(buf, static_cast<std::size_t>(n), h->pos);
    h->pos += static_cast<std::uint64_t>(n);
    return n;
  } catch (const std::exception& e) {
    client_failure(h, e.what());
    return -1;
  }
}

toff_t client_seek(thandle_t handle, toff_t off, int whence) {
  auto* h = static_cast<ClientHandle*>(handle);
  try {
    if (whence == SEEK_SET) {
      h->pos = off;
    } else if (whence == SEEK_CUR) {
      h->pos += off;
    } else {
      h->pos = h->file->end() + off;
    }
    return h->pos;
  } catch (const std::exception& e) {
    client_failure(h, e.what());
    return static_cast<toff_t>(-1);
  }
}

int client_close(thandle_t) { return 0; }  // the sink closes the DirectFile itself
toff_t client_size(thandle_t handle) { return static_cast<ClientHandle*>(handle)->file->size(); }
int client_map(thandle_t, void**, toff_t*) { return 0; }
void client_unmap(thandle_t, void*, toff_t) {}

TIFF* open_client(const fs::path& path, const char* mode, ClientHandle* handle,
                  TiffMessages* messages) {
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(opts, collect_message, messages);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, ignore_warning, nullptr);
  TIFF* tif = TIFFClientOpenExt(path.c_str(), mode, handle, client_read, client_write, client_seek,
                                client_close, client_size, client_map, client_unmap, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

}  // namespace

/// One output TIFF file.
struct TiffSink::File {
  fs::path path;
  std::string name;  // file name only
  std::string uuid;
  TIFF* tif = nullptr;
  TiffMessages messages;
  std::int64_t ifds = 0;
  std::unique_ptr<DirectFile> io;  // while the stream writes the file
  ClientHandle handle;             // libtiff's position in `io`
};

/// One OME Image (one position): where its planes went and their metadata.
struct TiffSink::Image {
  std::size_t file = 0;
  std::int64_t frames = 0;         // planes written (blank ones included)
  std::vector<std::int64_t> ifds;  // IFD of each plane, in plane order
  std::vector<PlaneInfo> planes;   // planes that carry metadata
};

TiffSink::TiffSink(const StreamSettings& settings, const Layout& layout, TaskPool* tasks,
                   const nlohmann::json* recovered)
    : settings_(settings),
      zstd_level_(settings.engine.compression_level != 0 ? settings.engine.compression_level
                                                         : kTiffZstdLevel),
      deflate_level_(settings.engine.compression_level != 0 ? settings.engine.compression_level
                                                            : kTiffDeflateLevel),
      layout_(layout),
      acquisition_date_(utc_now_iso8601()),
      tasks_(tasks) {
  if (!ome_pixel_type(layout_.dtype)) {
    throw Error(ErrorCode::kInvalidArgument,
                "dtype '" + std::string(dtype_name(layout_.dtype)) +
                    "' has no OME-TIFF pixel type (use OME-Zarr, or int32/uint32/float64)");
  }
  for (std::size_t a = 0; a < layout_.index_rank(); ++a) {
    const std::string n = lower(layout_.axes[a].name);
    if (n != "t" && n != "c" && n != "z") {
      throw Error(ErrorCode::kNotImplemented,
                  "OME-TIFF stores only t, c and z besides the frame axes; dimension '" +
                      layout_.axes[a].name + "' cannot be written (use OME-Zarr)");
    }
  }
  const std::uint16_t codec = tiff_compression(settings_.compression);
  if (!TIFFIsCODECConfigured(codec)) {
    throw Error(ErrorCode::kNotImplemented, std::string("this libtiff lacks the '") +
                                                to_string(settings_.compression) + "' codec");
  }
  const std::string out = settings_.output_path();
  const std::size_t npos = layout_.positions.size();
  multi_file_ = npos > 1 && settings_.format.prefer_single_file != PreferSingleFile::kAlways;
  if (!multi_file_ && settings_.format.prefer_single_file == PreferSingleFile::kNever) {
    multi_file_ = true;
  }
  if (multi_file_) {
    dir_ = out;
    const std::string stem = dir_.filename().string();
    for (std::size_t i = 0; i < npos; ++i) {
      auto f = std::make_unique<File>();
      char idx[32];
      std::snprintf(idx, sizeof idx, "_p%03zu", i);
      f->name = stem + idx + settings_.format.suffix;
      f->path = dir_ / f->name;
      f->uuid = make_uuid();
      files_.push_back(std::move(f));
    }
    if (settings_.format.multi_file_metadata == MultiFileMetadata::kCompanionFile) {
      companion_name_ = settings_.format.companion_file == "companion.ome"
                            ? stem + ".companion.ome"
                            : settings_.format.companion_file;
      companion_uuid_ = make_uuid();
    }
  } else {
    auto f = std::make_unique<File>();
    f->path = out;
    f->name = f->path.filename().string();
    f->uuid = make_uuid();
    dir_ = f->path.parent_path();
    files_.push_back(std::move(f));
  }
  images_.resize(npos);
  for (std::size_t i = 0; i < npos; ++i) images_[i].file = multi_file_ ? i : 0;
  blank_.assign(layout_.frame_bytes, std::byte{0});
  if (recovered != nullptr) {
    // Recovery: the files exist; take their identities from the journal.
    acquisition_date_ = recovered->value("acquisition_date", acquisition_date_);
    const auto uuids = recovered->value("uuids", std::vector<std::string>{});
    for (std::size_t i = 0; i < files_.size() && i < uuids.size(); ++i) files_[i]->uuid = uuids[i];
    companion_uuid_ = recovered->value("companion_uuid", companion_uuid_);
    return;
  }
  prepare_output();
}

TiffSink::~TiffSink() {
  for (auto& f : files_) {
    if (f->tif != nullptr) TIFFClose(f->tif);
  }
  if (journal_ != nullptr) std::fclose(journal_);
}

void TiffSink::prepare_output() {
  std::vector<fs::path> targets;
  for (const auto& f : files_) targets.push_back(f->path);
  if (!companion_name_.empty()) targets.push_back(dir_ / companion_name_);
  for (const auto& t : targets) {
    if (fs::exists(fs::symlink_status(t)) && !settings_.overwrite) {
      throw Error(ErrorCode::kFileExists,
                  "File '" + t.string() + "' already exists. Use overwrite=True to replace it.");
    }
  }
  if (multi_file_ && fs::is_directory(dir_)) {
    // Files of an earlier, larger run would otherwise pose as part of this one.
    const std::string stem = dir_.filename().string() + "_p";
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      const bool ours = name.rfind(stem, 0) == 0 && name.size() > settings_.format.suffix.size() &&
                        name.compare(name.size() - settings_.format.suffix.size(),
                                     settings_.format.suffix.size(), settings_.format.suffix) == 0;
      const bool companion =
          name.size() > 14 && name.compare(name.size() - 14, 14, ".companion.ome") == 0;
      if ((ours || companion) && !settings_.overwrite) {
        throw Error(ErrorCode::kFileExists,
                    "File '" + entry.path().string() +
                        "' already exists. Use overwrite=True to replace it.");
      }
      if (ours) remove_tree(entry.path());
    }
  }
  for (const auto& t : targets) {
    if (fs::exists(fs::symlink_status(t))) remove_tree(t);
  }
  if (!dir_.empty()) make_directories(dir_);
  const fs::path jp = tiff_journal_path(settings_.output_path());
  journal_ = std::fopen(jp.c_str(), "w");
  if (journal_ == nullptr) throw_errno("cannot create journal", jp);
  json head{{"settings", json::parse(settings_.to_json())},
            {"acquisition_date", acquisition_date_}};
  for (const auto& f : files_) head["uuids"].push_back(f->uuid);
  head["companion_uuid"] = companion_uuid_;
  journal_line(head.dump());
}

void TiffSink::journal_line(const std::string& line) {
  if (journal_ == nullptr) return;
  std::fwrite(line.data(), 1, line.size(), journal_);
  std::fputc('\n', journal_);
}

void TiffSink::open_file(File& f) {
  // Staging per file: 8 MiB (16 planes of 512x512 uint16 per write), less when
  // many files are open at once: 32 MiB in all (at least 256 KiB per file).
  const std::size_t stage = std::clamp<std::size_t>(
      (32u << 20) / std::max<std::size_t>(files_.size(), 1), 256u << 10, 8u << 20);
  f.io = std::make_unique<DirectFile>(f.path, stage, settings_.engine.direct_io);
  f.handle = ClientHandle{f.io.get(), 0, &f.messages};
  f.tif = open_client(f.path, "w8", &f.handle, &f.messages);
  if (f.tif == nullptr) tiff_failure("cannot create TIFF", f.path, f.messages);
}

void TiffSink::write_plane(std::int64_t position, const std::byte* data, const PlaneInfo* plane,
                           const std::vector<std::int64_t>& storage_index) {
  Image& image = images_[static_cast<std::size_t>(position)];
  File& f = *files_[image.file];
  if (f.tif == nullptr) open_file(f);
  TIFF* tif = f.tif;
  const auto w = static_cast<std::uint32_t>(layout_.width);
  const auto h = static_cast<std::uint32_t>(layout_.height);
  const bool bit = layout_.dtype == DataType::kBool;
  const std::uint16_t bits =
      bit ? 1 : static_cast<std::uint16_t>(8 * bytes_per_element(layout_.dtype));
  const std::uint16_t codec = tiff_compression(settings_.compression);
  const std::size_t row_bytes = bit ? (w + 7) / 8 : w * bytes_per_element(layout_.dtype);
  std::uint32_t rows_per_strip = h;
  if (codec != COMPRESSION_NONE) {
    rows_per_strip = static_cast<std::uint32_t>(std::max<std::size_t>(1, (256u << 10) / row_bytes));
    rows_per_strip = std::min(rows_per_strip, h);
  }
  // Compression first: setting it later resets the strip layout of the first IFD.
  TIFFSetField(tif, TIFFTAG_COMPRESSION, codec);
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, sample_format(layout_.dtype));
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
  if (codec != COMPRESSION_NONE && is_integer(layout_.dtype)) {
    TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  }
  const auto& xdim = settings_.dimensions.back();
  const auto& ydim = settings_.dimensions[settings_.dimensions.size() - 2];
  const auto xres = pixels_per_cm(xdim);
  const auto yres = pixels_per_cm(ydim);
  if (xres && yres) {
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, *xres);
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, *yres);
  }
  TIFFSetField(tif, TIFFTAG_SOFTWARE, "ome_writers");
  if (f.ifds == 0) {
    // Placeholder until close() writes the final document.
    const std::string xml = xml_for(image.file);
    TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, xml.c_str());
  }
  const std::byte* pixels = data;
  if (bit) {
    scratch_.assign(row_bytes * h, std::byte{0});
    for (std::uint32_t y = 0; y < h; ++y) {
      for (std::uint32_t x = 0; x < w; ++x) {
        if (data[static_cast<std::size_t>(y) * w + x] != std::byte{0}) {
          scratch_[y * row_bytes + x / 8] |= static_cast<std::byte>(0x80 >> (x % 8));
        }
      }
    }
    pixels = scratch_.data();
  } else if (codec == COMPRESSION_LZW) {
    // libtiff's predictor works in place: give it a copy, not the caller's frame.
    scratch_.assign(data, data + row_bytes * h);
    pixels = scratch_.data();
  }
  const std::uint32_t strips = (h + rows_per_strip - 1) / rows_per_strip;
  if (codec == COMPRESSION_NONE || codec == COMPRESSION_ADOBE_DEFLATE ||
      codec == COMPRESSION_ZSTD) {
    // Strips are encoded here (in parallel) and handed to libtiff as raw
    // bytes: no copy for uncompressed planes, all cores for compressed ones.
    if (codec != COMPRESSION_NONE) {
      while (strips_.size() < strips) strips_.push_back(std::make_unique<AlignedBuffer>());
      for (std::uint32_t s = 0; s < strips; ++s) {
        const std::uint32_t rows = std::min(rows_per_strip, h - s * rows_per_strip);
        const auto* p = pixels + static_cast<std::size_t>(s) * rows_per_strip * row_bytes;
        AlignedBuffer* out = strips_[s].get();
        auto job = [this, p, rows, row_bytes, out] { encode_strip(p, rows, row_bytes, *out); };
        if (tasks_ != nullptr) {
          tasks_->submit(job);
        } else {
          job();
        }
      }
      if (tasks_ != nullptr) tasks_->wait();
    }
    for (std::uint32_t s = 0; s < strips; ++s) {
      const std::uint32_t rows = std::min(rows_per_strip, h - s * rows_per_strip);
      const void* bytes = pixels + static_cast<std::size_t>(s) * rows_per_strip * row_bytes;
      std::size_t n = rows * row_bytes;
      if (codec != COMPRESSION_NONE) {
        bytes = strips_[s]->data();
        n = strips_[s]->size();
      }
      if (s == 0 && codec == COMPRESSION_NONE && f.io != nullptr && n >= kDirectPlaneBytes) {
        // Start a large plane on a page boundary: it then goes to the disk
        // straight from the frame's slot (O_DIRECT), without a copy. Smaller
        // planes are gathered with their IFDs in the stage: one large write
        // per several planes costs less than three small ones per plane.
        f.io->align_next_append();
      }
      if (TIFFWriteRawStrip(tif, s, const_cast<void*>(bytes), static_cast<tmsize_t>(n)) < 0) {
        tiff_failure("cannot write a strip to", f.path, f.messages);
      }
    }
  }
  for (std::uint32_t s = 0; codec == COMPRESSION_LZW && s < strips; ++s) {
    const std::uint32_t rows = std::min(rows_per_strip, h - s * rows_per_strip);
    const auto* p = pixels + static_cast<std::size_t>(s) * rows_per_strip * row_bytes;
    if (TIFFWriteEncodedStrip(tif, s, const_cast<std::byte*>(p),
                              static_cast<tmsize_t>(rows * row_bytes)) < 0) {
      tiff_failure("cannot write a strip to", f.path, f.messages);
    }
  }
  if (!TIFFWriteDirectory(tif)) tiff_failure("cannot write a directory to", f.path, f.messages);
  std::lock_guard lock(mutex_);
  image.ifds.push_back(f.ifds++);
  ++image.frames;
  if (plane != nullptr) {
    PlaneInfo p = *plane;
    for (std::size_t a = 0; a < storage_index.size(); ++a) {
      const char n =
          static_cast<char>(std::tolower(static_cast<unsigned char>(layout_.axes[a].name[0])));
      (n == 'z' ? p.z : n == 'c' ? p.c : p.t) = storage_index[a];
    }
    if (!p.extra.empty()) p.annotation = next_annotation_++;
    image.planes.push_back(std::move(p));
  }
}

void TiffSink::encode_strip(const std::byte* pixels, std::size_t rows, std::size_t row_bytes,
                            AlignedBuffer& out) const {
  thread_local AlignedBuffer diffed;
  const std::byte* src = pixels;
  const std::size_t n = rows * row_bytes;
  if (is_integer(layout_.dtype)) {
    // Horizontal differencing (TIFF predictor 2), per row, modulo the sample size.
    diffed.resize(n);
    const std::size_t width = static_cast<std::size_t>(layout_.width);
    auto diff = [&](auto sample) {
      using T = decltype(sample);
      for (std::size_t r = 0; r < rows; ++r) {
        const auto* in = reinterpret_cast<const T*>(pixels + r * row_bytes);
        auto* o = reinterpret_cast<T*>(diffed.data() + r * row_bytes);
        o[0] = in[0];
        for (std::size_t x = 1; x < width; ++x) o[x] = static_cast<T>(in[x] - in[x - 1]);
      }
    };
    switch (bytes_per_element(layout_.dtype)) {
      case 1:
        diff(std::uint8_t{});
        break;
      case 2:
        diff(std::uint16_t{});
        break;
      default:
        diff(std::uint32_t{});
        break;
    }
    src = diffed.data();
  }
  if (settings_.compression == Compression::kZstd) {
    out.resize(ZSTD_compressBound(n));
    const std::size_t m =
        ZSTD_compressCCtx(thread_zstd_context(), out.data(), out.size(), src, n, zstd_level_);
    if (ZSTD_isError(m)) throw Error(ErrorCode::kInternal, "zstd compression failed");
    out.resize(m);
    return;
  }
  // libdeflate: the zlib format TIFF's Adobe Deflate expects, several times faster than zlib.
  struct Compressor {
    libdeflate_compressor* c = nullptr;
    int level = 0;
    ~Compressor() { libdeflate_free_compressor(c); }
  };
  thread_local Compressor compressor;
  if (compressor.c == nullptr || compressor.level != deflate_level_) {
    libdeflate_free_compressor(compressor.c);
    compressor.c = libdeflate_alloc_compressor(deflate_level_);
    compressor.level = deflate_level_;
  }
  if (compressor.c == nullptr)
    throw Error(ErrorCode::kInternal, "cannot allocate a deflate compressor");
  out.resize(libdeflate_zlib_compress_bound(compressor.c, n));
  const std::size_t m = libdeflate_zlib_compress(compressor.c, src, n, out.data(), out.size());
  if (m == 0) throw Error(ErrorCode::kInternal, "deflate compression failed");
  out.resize(m);
}

void TiffSink::write_frame(const FrameLocation& where, FrameBuffer frame,
                           const std::string& metadata_json) {
  std::optional<PlaneInfo> plane;
  if (!metadata_json.empty()) plane = plane_from_metadata(json::parse(metadata_json));
  write_plane(where.position, frame.data(), plane ? &*plane : nullptr, where.storage_index);
  frame.reset();
  // The metadata text is already valid JSON (checked by append): splice it in,
  // re-serialised only if it spans lines (the journal is one entry per line).
  std::string line = json{{"p", where.position}, {"i", where.storage_index}}.dump();
  if (!metadata_json.empty()) {
    line.pop_back();
    line += ",\"m\":";
    line += metadata_json.find('\n') == std::string::npos ? metadata_json
                                                          : json::parse(metadata_json).dump();
    line += "}";
  }
  journal_line(line);
}

void TiffSink::skip_frame(const FrameLocation& where) {
  write_plane(where.position, blank_.data(), nullptr, where.storage_index);
  journal_line(json{{"p", where.position}, {"i", where.storage_index}, {"skip", true}}.dump());
}

void TiffSink::flush() {
  for (auto& f : files_) {
    if (f->tif != nullptr && !TIFFFlush(f->tif)) tiff_failure("cannot flush", f->path, f->messages);
  }
  {
    // Bring the OME-XML up to date, so the files describe every plane so far
    // even if the process dies before close().
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < files_.size(); ++i) {
      if (files_[i]->ifds > 0) rewrite_description(*files_[i], xml_for(i));
    }
  }
  for (auto& f : files_) {
    if (f->io != nullptr) f->io->flush();
  }
  if (journal_ != nullptr && std::fflush(journal_) != 0) {
    throw_errno("cannot flush journal", tiff_journal_path(settings_.output_path()));
  }
}

std::uint64_t TiffSink::bytes_written() const {
  std::lock_guard lock(mutex_);
  std::uint64_t planes = 0;
  for (const auto& img : images_) planes += static_cast<std::uint64_t>(img.frames);
  return planes * layout_.frame_bytes;
}

OmeXmlInput TiffSink::full_input(const std::string& uuid) const {
  OmeXmlInput in;
  in.settings = &settings_;
  in.layout = &layout_;
  in.uuid = uuid;
  in.acquisition_date = acquisition_date_;
  in.global_metadata = global_;
  // Sizes: declared counts; the outermost axis follows the planes written.
  const std::int64_t inner = planes_per_outer_index();
  for (std::size_t i = 0; i < images_.size(); ++i) {
    const Image& img = images_[i];
    ImageInfo info;
    info.index = static_cast<std::int64_t>(i);
    for (std::size_t a = 0; a < layout_.index_rank(); ++a) {
      const auto& axis = layout_.axes[a];
      std::int64_t size = axis.count;
      if (!layout_.index_dims_acquisition.empty() &&
          layout_.storage_to_outer[a] == layout_.index_dims_acquisition.front() &&
          (closed_ || axis.count == 0)) {
        size = std::max<std::int64_t>(1, (img.frames + inner - 1) / inner);
      }
      const char n = static_cast<char>(std::tolower(static_cast<unsigned char>(axis.name[0])));
      (n == 'z' ? info.size_z : n == 'c' ? info.size_c : info.size_t_) = size;
    }
    const File& f = *files_[img.file];
    const bool contiguous = !img.ifds.empty() && img.ifds.back() - img.ifds.front() + 1 ==
                                                     static_cast<std::int64_t>(img.ifds.size());
    if (contiguous || img.ifds.empty()) {
      TiffDataBlock td;
      td.ifd = img.ifds.empty() ? 0 : img.ifds.front();
      td.plane_count = static_cast<std::int64_t>(img.ifds.size());
      if (multi_file_) {
        td.file_name = f.name;
        td.uuid = f.uuid;
      }
      info.tiff_data.push_back(td);
    } else {
      // Interleaved series in one file: one TiffData per plane.
      const std::string order = tiff_dimension_order(layout_);
      for (std::size_t p = 0; p < img.ifds.size(); ++p) {
        TiffDataBlock td;
        td.ifd = img.ifds[p];
        td.plane_count = 1;
        std::int64_t rest = static_cast<std::int64_t>(p);
        std::int64_t zct[3] = {0, 0, 0};
        for (std::size_t k = 2; k < 5; ++k) {
          const char d = order[k];
          const std::int64_t size = d == 'Z' ? info.size_z : d == 'C' ? info.size_c : info.size_t_;
          const std::int64_t v = rest % size;
          rest /= size;
          (d == 'Z' ? zct[0] : d == 'C' ? zct[1] : zct[2]) = v;
        }
        td.first_z = zct[0];
        td.first_c = zct[1];
        td.first_t = zct[2];
        info.tiff_data.push_back(td);
      }
    }
    info.planes = img.planes;
    in.images.push_back(std::move(info));
  }
  return in;
}

std::string TiffSink::xml_for(std::size_t file_index) const {
  const File& f = *files_[file_index];
  if (multi_file_) {
    const auto mode = settings_.format.multi_file_metadata;
    if (mode == MultiFileMetadata::kCompanionFile) {
      OmeXmlInput in;
      in.uuid = f.uuid;
      in.binary_only = std::make_pair(companion_name_, companion_uuid_);
      return build_ome_xml(in);
    }
    if (mode == MultiFileMetadata::kMasterTiff && file_index != 0) {
      OmeXmlInput in;
      in.uuid = f.uuid;
      in.binary_only = std::make_pair(files_[0]->name, files_[0]->uuid);
      return build_ome_xml(in);
    }
  }
  return build_ome_xml(full_input(f.uuid));
}

std::string TiffSink::companion_xml() const { return build_ome_xml(full_input(companion_uuid_)); }

void TiffSink::rewrite_description(const File& f, const std::string& xml) const {
  if (f.io != nullptr && f.io->is_open()) {
    patch_image_description(f.path, *f.io, xml);
  } else {
    patch_image_description(f.path, xml);
  }
}

void TiffSink::finish_images() {
  // Complete a partly filled last outer index with blank planes, so that the
  // sizes in the OME-XML and the planes in the file agree.
  const std::int64_t inner = planes_per_outer_index();
  std::int64_t total = 0;
  for (const auto& img : images_) total += img.frames;
  if (total == 0) return;
  for (std::size_t i = 0; i < images_.size(); ++i) {
    const std::int64_t frames = images_[i].frames;
    const std::int64_t target = std::max<std::int64_t>(1, (frames + inner - 1) / inner) * inner;
    for (std::int64_t n = frames; n < target; ++n) {
      write_plane(static_cast<std::int64_t>(i), blank_.data(), nullptr, {});
    }
  }
}

void TiffSink::close() {
  if (closed_) return;
  finish_images();
  std::unique_lock files_lock(files_mutex_);
  std::int64_t total = 0;
  for (const auto& img : images_) total += img.frames;
  for (auto& f : files_) {
    if (f->tif != nullptr) {
      TIFFClose(f->tif);
      f->tif = nullptr;
    }
    if (f->io != nullptr) f->io->close();
  }
  closed_ = true;
  if (total == 0) {
    // Nothing was acquired: leave no file rather than an invalid TIFF.
    if (journal_ != nullptr) {
      std::fclose(journal_);
      journal_ = nullptr;
    }
    remove_tree(tiff_journal_path(settings_.output_path()));
    return;
  }
  std::lock_guard lock(mutex_);
  write_final_metadata();
  if (journal_ != nullptr) {
    std::fclose(journal_);
    journal_ = nullptr;
  }
  remove_tree(tiff_journal_path(settings_.output_path()));
}

std::int64_t TiffSink::planes_per_outer_index() const {
  // Planes of one index of the outermost (acquisition order) axis.
  std::int64_t inner = 1;
  for (std::size_t k = 1; k < layout_.index_dims_acquisition.size(); ++k) {
    inner *=
        *settings_.dimensions[static_cast<std::size_t>(layout_.index_dims_acquisition[k])].count;
  }
  return inner;
}

void TiffSink::sync() const {
  bool any = false;
  for (const auto& f : files_) {
    if (fs::exists(f->path)) {
      fsync_path(f->path);
      any = true;
    }
  }
  if (!companion_name_.empty() && fs::exists(dir_ / companion_name_)) {
    fsync_path(dir_ / companion_name_);
  }
  if (any) fsync_path(dir_.empty() ? fs::path(".") : dir_);
}

void TiffSink::write_final_metadata() {
  for (std::size_t i = 0; i < files_.size(); ++i) {
    final_xml_[static_cast<std::int64_t>(i)] = xml_for(i);
    rewrite_description(*files_[i], final_xml_[static_cast<std::int64_t>(i)]);
  }
  if (!companion_name_.empty()) {
    final_xml_[-1] = companion_xml();
    write_file_atomic(dir_ / companion_name_, final_xml_[-1]);
  }
}

std::string TiffSink::metadata_json() const {
  std::lock_guard lock(mutex_);
  json out = json::object();
  if (closed_) {
    for (const auto& [k, xml] : final_xml_) out[std::to_string(k)] = xml;
    return out.dump();
  }
  for (std::size_t i = 0; i < files_.size(); ++i) out[std::to_string(i)] = xml_for(i);
  if (!companion_name_.empty()) out["-1"] = companion_xml();
  return out.dump();
}

void TiffSink::update_metadata_json(const std::string& text) {
  std::lock_guard lock(mutex_);
  if (!closed_) {
    throw Error(ErrorCode::kClosed,
                "OME-TIFF metadata can only be updated after the stream is closed");
  }
  const json update = json::parse(text);
  for (const auto& [key, xml] : update.items()) {
    const std::int64_t k = std::stoll(key);
    if (k == -1 && !companion_name_.empty()) {
      write_file_atomic(dir_ / companion_name_, xml.get<std::string>());
    } else if (k >= 0 && static_cast<std::size_t>(k) < files_.size()) {
      rewrite_description(*files_[static_cast<std::size_t>(k)], xml.get<std::string>());
    } else {
      throw Error(ErrorCode::kInvalidArgument, "no OME-TIFF file with index " + key);
    }
    final_xml_[k] = xml.get<std::string>();
  }
}

void TiffSink::set_global_metadata(const std::string& name_space, const std::string& text) {
  {
    std::lock_guard lock(mutex_);
    global_[name_space] = json::parse(text);
  }
  if (closed_) {
    std::unique_lock files_lock(files_mutex_);
    std::lock_guard lock(mutex_);
    write_final_metadata();
  }
}

bool TiffSink::read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                          void* out) const {
  // Plane number within the image: planes are in acquisition order whatever
  // the storage order (the OME-XML's DimensionOrder follows it).
  std::int64_t plane = 0;
  bool first = true;
  for (int outer : layout_.index_dims_acquisition) {
    for (std::size_t a = 0; a < storage_index.size(); ++a) {
      if (layout_.storage_to_outer[a] != outer) continue;
      plane = first ? storage_index[a] : plane * layout_.axes[a].count + storage_index[a];
      first = false;
    }
  }
  fs::path path;
  std::int64_t ifd = 0;
  DirectFile* io = nullptr;
  std::shared_lock files_lock(files_mutex_);
  {
    std::lock_guard lock(mutex_);
    const Image& image = images_.at(static_cast<std::size_t>(position));
    if (plane < 0 || plane >= static_cast<std::int64_t>(image.ifds.size())) return false;
    ifd = image.ifds[static_cast<std::size_t>(plane)];
    path = files_[image.file]->path;
    io = files_[image.file]->io.get();
  }
  TiffMessages messages;
  ClientHandle handle{io, 0, &messages};
  TIFF* tif = io != nullptr && io->is_open() ? open_client(path, "rc", &handle, &messages)
                                             : open_tiff(path, "rc", &messages);
  if (tif == nullptr) tiff_failure("cannot open for reading", path, messages);
  struct Closer {
    TIFF* tif;
    ~Closer() { TIFFClose(tif); }
  } closer{tif};
  if (!TIFFSetDirectory(tif, static_cast<tdir_t>(ifd))) return false;
  const bool bit = layout_.dtype == DataType::kBool;
  const auto w = static_cast<std::size_t>(layout_.width);
  const std::size_t row_bytes = bit ? (w + 7) / 8 : w * bytes_per_element(layout_.dtype);
  std::vector<std::byte> raw(row_bytes * static_cast<std::size_t>(layout_.height));
  std::size_t offset = 0;
  const tstrip_t strips = TIFFNumberOfStrips(tif);
  for (tstrip_t s = 0; s < strips; ++s) {
    const tmsize_t n = TIFFReadEncodedStrip(tif, s, raw.data() + offset,
                                            static_cast<tmsize_t>(raw.size() - offset));
    if (n < 0) tiff_failure("cannot read a strip of", path, messages);
    offset += static_cast<std::size_t>(n);
  }
  auto* dst = static_cast<std::byte*>(out);
  if (!bit) {
    std::memcpy(dst, raw.data(), raw.size());
    return true;
  }
  for (std::size_t y = 0; y < static_cast<std::size_t>(layout_.height); ++y) {
    for (std::size_t x = 0; x < w; ++x) {
      const auto byte = std::to_integer<unsigned>(raw[y * row_bytes + x / 8]);
      dst[y * w + x] = static_cast<std::byte>((byte >> (7 - x % 8)) & 1);
    }
  }
  return true;
}

std::vector<std::int64_t> TiffSink::current_shape(std::int64_t position) const {
  std::lock_guard lock(mutex_);
  std::vector<std::int64_t> shape;
  for (const auto& a : layout_.axes) shape.push_back(a.count);
  if (layout_.unbounded && !shape.empty()) {
    const std::int64_t inner = planes_per_outer_index();
    const auto frames = images_.at(static_cast<std::size_t>(position)).frames;
    for (std::size_t a = 0; a < layout_.index_rank(); ++a) {
      if (layout_.axes[a].count == 0) shape[a] = (frames + inner - 1) / inner;
    }
  }
  return shape;
}

std::uint64_t TiffSink::recover(const fs::path& journal) {
  std::ifstream in(journal);
  std::string line;
  if (!std::getline(in, line)) {
    throw Error(ErrorCode::kInvalidArgument, "journal '" + journal.string() + "' is empty");
  }
  const json head = json::parse(line);
  const StreamSettings settings = StreamSettings::from_json(head.at("settings").dump());
  const Layout layout(settings);
  TiffSink sink(settings, layout, nullptr, &head);
  // Planes actually in each file (a plane journaled but not linked is dropped).
  std::vector<std::int64_t> on_disk;
  for (const auto& f : sink.files_) {
    std::int64_t n = 0;
    if (fs::exists(f->path)) {
      TiffMessages messages;
      TIFF* tif = open_tiff(f->path, "rc", &messages);
      if (tif != nullptr) {
        n = TIFFNumberOfDirectories(tif);
        TIFFClose(tif);
      }
    }
    on_disk.push_back(n);
  }
  std::uint64_t frames = 0;
  while (std::getline(in, line)) {
    json entry;
    try {
      entry = json::parse(line);
    } catch (const json::exception&) {
      break;  // the line the crash cut short
    }
    const auto position = entry.value("p", std::int64_t{0});
    Image& image = sink.images_.at(static_cast<std::size_t>(position));
    File& f = *sink.files_[image.file];
    if (f.ifds >= on_disk[image.file]) break;
    const auto index = entry.value("i", std::vector<std::int64_t>{});
    image.ifds.push_back(f.ifds++);
    ++image.frames;
    if (entry.contains("m")) {
      PlaneInfo p = plane_from_metadata(entry["m"]);
      for (std::size_t a = 0; a < index.size(); ++a) {
        const char n =
            static_cast<char>(std::tolower(static_cast<unsigned char>(layout.axes[a].name[0])));
        (n == 'z' ? p.z : n == 'c' ? p.c : p.t) = index[a];
      }
      if (!p.extra.empty()) p.annotation = sink.next_annotation_++;
      image.planes.push_back(std::move(p));
    }
    ++frames;
  }
  // With one position the planes after the last journal line are still in order.
  if (sink.images_.size() == 1) {
    Image& image = sink.images_[0];
    File& f = *sink.files_[image.file];
    while (f.ifds < on_disk[image.file]) {
      image.ifds.push_back(f.ifds++);
      ++image.frames;
      ++frames;
    }
  }
  for (auto& f : sink.files_) {
    if (f->ifds > 0) {
      f->tif = open_tiff(f->path, "a8", &f->messages);
      if (f->tif == nullptr) tiff_failure("cannot reopen", f->path, f->messages);
    }
  }
  sink.close();
  return frames;
}

}  // namespace ome_writers::detail
