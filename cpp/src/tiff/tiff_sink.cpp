#include "tiff/tiff_sink.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/journal.hpp"
#include "core/pyramid.hpp"
#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "tiff/description_patcher.hpp"
#include "tiff/direct_file.hpp"
#include "tiff/tiff_io.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Uncompressed planes at least this large are written from the frame's slot.
constexpr std::size_t kDirectPlaneBytes = std::size_t{2} << 20;

}  // namespace

TiffSink::Level::Level(const StreamSettings& settings, const Layout& base, int level,
                       TaskPool* tasks)
    : layout(level_layout(base, level, -1)),
      format(settings, layout),
      encoder(format, layout.dtype, settings.compression, settings.engine.compression_level, tasks),
      pixels(layout.frame_bytes) {
  // A reduced pixel is 2^level full-resolution pixels wide.
  const double factor = static_cast<double>(std::int64_t{1} << level);
  if (format.x_resolution) format.x_resolution = *format.x_resolution / factor;
  if (format.y_resolution) format.y_resolution = *format.y_resolution / factor;
}

TiffSink::TiffSink(const StreamSettings& settings, const Layout& layout, TaskPool* tasks,
                   const nlohmann::json* recovered)
    : settings_(settings),
      layout_(layout),
      format_(settings, layout),
      acquisition_date_(utc_now_iso8601()),
      encoder_(format_, layout.dtype, settings.compression, settings.engine.compression_level,
               tasks) {
  check_settings();
  const int levels = pyramid_levels(settings_, layout_);
  for (int level = 1; level < levels; ++level) {
    levels_.push_back(std::make_unique<Level>(settings_, layout_, level, tasks));
  }
  // Only what encode_plane() handles from the frame itself: no bit packing,
  // no libtiff codec, no reduced planes computed from the frame after it.
  pipelined_ =
      tasks != nullptr && tasks->threads() > 0 && levels_.empty() && !format_.bit_packed &&
      (format_.compression == COMPRESSION_ZSTD || format_.compression == COMPRESSION_ADOBE_DEFLATE);
  if (pipelined_) tasks->allow_pending(2 * static_cast<std::size_t>(format_.strip_count()));
  name_files();
  images_.resize(layout_.positions.size());
  for (std::size_t i = 0; i < images_.size(); ++i) images_[i].file = multi_file_ ? i : 0;
  blank_.assign(layout_.frame_bytes, std::byte{0});
  if (recovered != nullptr) {
    // Recovery: the files exist; take their identities from the journal.
    acquisition_date_ = recovered->value("acquisition_date", acquisition_date_);
    const auto uuids = recovered->value("uuids", std::vector<std::string>{});
    for (std::size_t i = 0; i < file_ids_.size() && i < uuids.size(); ++i) {
      file_ids_[i].uuid = uuids[i];
    }
    companion_.uuid = recovered->value("companion_uuid", companion_.uuid);
    return;
  }
  prepare_output();
}

TiffSink::~TiffSink() = default;

void TiffSink::check_settings() const {
  check_tiff_layout(layout_);
  if (!TIFFIsCODECConfigured(format_.compression)) {
    throw Error(ErrorCode::kNotImplemented, std::string("this libtiff lacks the '") +
                                                to_string(settings_.compression) + "' codec");
  }
}

void TiffSink::name_files() {
  TiffFileNames names = name_tiff_files(settings_, layout_);
  multi_file_ = names.multi_file;
  dir_ = names.dir;
  companion_ = names.companion;
  file_ids_ = std::move(names.files);
  for (const auto& id : file_ids_) {
    files_.push_back(std::make_unique<TiffFile>());
    files_.back()->path = multi_file_ ? dir_ / platform::path_from_utf8(id.name)
                                      : platform::path_from_utf8(settings_.output_path());
  }
}

void TiffSink::prepare_output() {
  std::vector<fs::path> targets;
  for (const auto& f : files_) targets.push_back(f->path);
  if (!companion_.name.empty()) targets.push_back(dir_ / platform::path_from_utf8(companion_.name));
  // Every check before anything is removed: a refusal leaves the disk as it was.
  for (const auto& t : targets) {
    check_inside(dir_, t);
    const auto status = fs::symlink_status(t);
    if (!fs::exists(status)) continue;
    if (!settings_.overwrite) {
      throw Error(ErrorCode::kFileExists,
                  "File '" + platform::path_to_utf8(t) +
                      "' already exists. Use overwrite=True to replace it.");
    }
    // overwrite replaces a file, never a directory; in a multi-position
    // directory, only the TIFFs this library wrote.
    const bool companion = !companion_.name.empty() && t == targets.back();
    if (fs::is_directory(status) || (multi_file_ && !companion && !written_by_ome_writers(t))) {
      refuse_to_overwrite(t);
    }
  }
  if (multi_file_) {
    const auto status = fs::symlink_status(dir_);
    if (fs::is_directory(fs::status(dir_))) {
      remove_stale_files();
    } else if (fs::exists(status)) {
      if (!settings_.overwrite) {
        throw Error(ErrorCode::kFileExists,
                    "File '" + platform::path_to_utf8(dir_) +
                        "' already exists. Use overwrite=True to replace it.");
      }
      remove_tree(dir_);  // a file where the output directory goes
    }
  }
  for (const auto& t : targets) {
    if (fs::exists(fs::symlink_status(t))) remove_tree(t);
  }
  if (!dir_.empty()) make_directories(dir_);
  open_journal();
}

void TiffSink::refuse_to_overwrite(const fs::path& path) {
  throw Error(ErrorCode::kFileExists,
              "'" + platform::path_to_utf8(path) +
                  "' exists, but is not an OME-TIFF file written by ome_writers. Refusing to "
                  "overwrite. Please delete manually.");
}

void TiffSink::remove_stale_files() const {
  // Files of an earlier, larger run would otherwise pose as part of this one;
  // any other file in the directory is the user's and stays.
  const std::string stem = platform::path_to_utf8(dir_.filename()) + "_p";
  const std::string& suffix = settings_.format.suffix;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const std::string name = platform::path_to_utf8(entry.path().filename());
    const bool ours = name.rfind(stem, 0) == 0 && name.size() > suffix.size() &&
                      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    const bool companion =
        name.size() > 14 && name.compare(name.size() - 14, 14, ".companion.ome") == 0;
    if ((ours || companion) && !settings_.overwrite) {
      throw Error(ErrorCode::kFileExists,
                  "File '" + platform::path_to_utf8(entry.path()) +
                      "' already exists. Use overwrite=True to replace it.");
    }
    if (ours && entry.is_regular_file() && written_by_ome_writers(entry.path())) {
      remove_tree(entry.path());
    }
  }
}

void TiffSink::open_journal() {
  journal_ = Journal::create(tiff_journal_path(settings_.output_path()));
  json head{{"settings", json::parse(settings_.to_json())},
            {"acquisition_date", acquisition_date_}};
  for (const auto& id : file_ids_) head["uuids"].push_back(id.uuid);
  head["companion_uuid"] = companion_.uuid;
  journal_.append(head.dump());
  // On disk at once: recover() needs the head even if the process dies
  // before the first checkpoint.
  journal_.flush();
}

void TiffSink::close_journal() {
  if (journal_.is_open()) {
    journal_.remove();
  } else {
    remove_tree(tiff_journal_path(settings_.output_path()));
  }
}

void TiffSink::open_file(TiffFile& f) {
  // Staging per file: 8 MiB (16 planes of 512x512 uint16 per write), less when
  // many files are open at once: 32 MiB in all (at least 256 KiB per file).
  const std::size_t stage = std::clamp<std::size_t>(
      (32u << 20) / std::max<std::size_t>(files_.size(), 1), 256u << 10, 8u << 20);
  f.create(stage, settings_.engine.direct_io);
}

void TiffSink::write_plane(std::int64_t position, const std::byte* data, const PlaneInfo* plane,
                           const std::vector<std::int64_t>& storage_index,
                           const std::string& journal_entry, int slot) {
  TiffImage& image = images_[static_cast<std::size_t>(position)];
  TiffFile& f = *files_[image.file];
  if (f.tif == nullptr) open_file(f);
  format_.set_tags(f.tif);
  const bool first = f.ifds == 0;
  if (first) {
    // Until the next checkpoint (or close()) writes the current document.
    const std::string xml =
        first_description(static_cast<std::size_t>(position), plane, storage_index);
    TIFFSetField(f.tif, TIFFTAG_IMAGEDESCRIPTION, xml.c_str());
  }
  if (!levels_.empty()) {
    // libtiff fills the offsets in as it writes the next directories, which
    // it then keeps out of the main chain.
    std::vector<toff_t> offsets(levels_.size(), 0);
    TIFFSetField(f.tif, TIFFTAG_SUBIFD, static_cast<std::uint16_t>(levels_.size()), offsets.data());
  }
  const std::byte* pixels = stored_pixels(data, format_);
  if (format_.compression == COMPRESSION_LZW) {
    write_lzw_strips(f, pixels, format_);
  } else {
    write_raw_strips(f, pixels, format_, encoder_, slot);
  }
  if (!TIFFWriteDirectory(f.tif)) tiff_failure("cannot write a directory to", f.path, f.messages);
  // Its reduced planes before the seal: the link to this IFD then goes out
  // only once they and their offsets in its SubIFDs entry have, so that no
  // reader ever follows a SubIFDs entry still zero.
  if (!levels_.empty()) write_levels(f, data);
  // The link to this IFD (written before it) may go out once the IFD has.
  if (f.io != nullptr) {
    f.io->seal();
    if (first) f.publish();
  }
  // The entry before the plane is recorded: documents built from the record
  // find its metadata in the journal.
  std::optional<std::uint64_t> line;
  if (!journal_entry.empty()) line = journal_.append(journal_entry);
  std::lock_guard lock(mutex_);
  record_plane(image, f, plane != nullptr ? line : std::nullopt,
               plane != nullptr && !plane->extra.empty());
  count_size(f.counted_bytes, f.size());
}

std::string TiffSink::first_description(std::size_t image_index, const PlaneInfo* plane,
                                        const std::vector<std::int64_t>& storage_index) const {
  std::lock_guard lock(mutex_);
  std::vector<TiffImage> images = images_;
  TiffImage& image = images[image_index];
  image.ifds.push_back(0);
  ++image.frames;
  std::int64_t next_annotation = next_annotation_;
  if (plane != nullptr) {
    PlaneInfo p = plane_at(*plane, layout_, storage_index);
    if (!p.extra.empty()) p.annotation = next_annotation++;
    image.pending.push_back(std::move(p));
  }
  const TiffOmeState state{settings_, layout_,   acquisition_date_, global_,
                           images,    file_ids_, multi_file_,       companion_,
                           closed_,   &journal_, next_annotation};
  return file_ome_xml(state, image.file);
}

void TiffSink::write_levels(TiffFile& f, const std::byte* frame) {
  const std::byte* above = frame;
  std::int64_t h = layout_.height;
  std::int64_t w = layout_.width;
  for (auto& level : levels_) {
    downsample_plane(layout_.dtype, settings_.pyramid.method, above, nullptr, h, w,
                     level->pixels.data());
    level->format.set_tags(f.tif);
    TIFFSetField(f.tif, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
    const std::byte* pixels = stored_pixels(level->pixels.data(), level->format);
    if (level->format.compression == COMPRESSION_LZW) {
      write_lzw_strips(f, pixels, level->format);
    } else {
      write_raw_strips(f, pixels, level->format, level->encoder);
    }
    if (!TIFFWriteDirectory(f.tif)) {
      tiff_failure("cannot write a reduced-resolution directory to", f.path, f.messages);
    }
    above = level->pixels.data();
    h = level->layout.height;
    w = level->layout.width;
  }
}

const std::byte* TiffSink::stored_pixels(const std::byte* frame, const TiffPlaneFormat& format) {
  if (format.bit_packed) {
    pack_bits(frame, format, scratch_);
    return scratch_.data();
  }
  if (format.compression == COMPRESSION_LZW) {
    // libtiff's predictor works in place: give it a copy, not the caller's frame.
    scratch_.assign(frame, frame + format.plane_bytes());
    return scratch_.data();
  }
  return frame;
}

void TiffSink::write_raw_strips(TiffFile& f, const std::byte* pixels, const TiffPlaneFormat& format,
                                StripEncoder& encoder, int slot) {
  // Strips are encoded here (in parallel) and handed to libtiff as raw
  // bytes: no copy for uncompressed planes, all cores for compressed ones.
  const bool compressed = format.compression != COMPRESSION_NONE;
  if (compressed) {
    const StripEncoder::Emit emit = [&](std::uint32_t s, const AlignedBuffer& strip) {
      if (TIFFWriteRawStrip(f.tif, s, const_cast<std::byte*>(strip.data()),
                            static_cast<tmsize_t>(strip.size())) < 0) {
        tiff_failure("cannot write a strip to", f.path, f.messages);
      }
    };
    if (slot >= 0) {
      encoder.finish(slot, emit);
    } else {
      encoder.encode_plane(pixels, emit);
    }
    return;
  }
  for (std::uint32_t s = 0; s < format.strip_count(); ++s) {
    const void* bytes = pixels + format.strip_offset(s);
    const std::size_t n = format.strip_rows(s) * format.row_bytes;
    if (s == 0 && !compressed && f.io != nullptr && n >= kDirectPlaneBytes) {
      // Start a large plane on a page boundary: it then goes to the disk
      // straight from the frame's slot (O_DIRECT), without a copy. Smaller
      // planes are gathered with their IFDs in the stage: one large write
      // per several planes costs less than three small ones per plane.
      f.io->align_next_append();
    }
    if (TIFFWriteRawStrip(f.tif, s, const_cast<void*>(bytes), static_cast<tmsize_t>(n)) < 0) {
      tiff_failure("cannot write a strip to", f.path, f.messages);
    }
  }
}

void TiffSink::write_lzw_strips(TiffFile& f, const std::byte* pixels,
                                const TiffPlaneFormat& format) {
  for (std::uint32_t s = 0; s < format.strip_count(); ++s) {
    auto* p = const_cast<std::byte*>(pixels + format.strip_offset(s));
    const auto n = static_cast<tmsize_t>(format.strip_rows(s) * format.row_bytes);
    if (TIFFWriteEncodedStrip(f.tif, s, p, n) < 0) {
      tiff_failure("cannot write a strip to", f.path, f.messages);
    }
  }
}

void TiffSink::record_plane(TiffImage& image, TiffFile& f, std::optional<std::uint64_t> line,
                            bool annotated) {
  image.ifds.push_back(f.ifds++);
  ++image.frames;
  metadata_dirty_ = true;
  if (line) image.plane_lines.push_back(*line);
  if (line && annotated) {
    ++image.annotated;
    ++next_annotation_;
  }
}

void TiffSink::count_size(std::uint64_t& counted, std::uint64_t size) {
  // Unsigned wrap-around makes a file that shrank (a shorter companion) subtract.
  bytes_written_.fetch_add(size - counted);
  counted = size;
}

void TiffSink::write_frame(const FrameLocation& where, FrameBuffer frame,
                           const std::string& metadata_json) {
  if (!pipelined_) {
    store_frame(where, frame.data(), metadata_json, -1);
    return;
  }
  // Its strips start encoding now; the frame before it goes out meanwhile.
  const int slot = encoder_.start(frame.data());
  pending_.push_back(Pending{where, std::move(frame), metadata_json, slot});
  // Each pending frame holds one of the encoder's two slots.
  if (pending_.size() > 1) write_oldest_pending();
}

void TiffSink::write_oldest_pending() {
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  store_frame(p.where, p.frame.data(), p.metadata_json, p.slot);
}

void TiffSink::write_pending() {
  while (!pending_.empty()) write_oldest_pending();
}

void TiffSink::store_frame(const FrameLocation& where, const std::byte* data,
                           const std::string& metadata_json, int slot) {
  std::optional<PlaneInfo> plane;
  if (!metadata_json.empty()) plane = plane_from_metadata(json::parse(metadata_json));
  // Its MapAnnotation takes the next number (record_plane counts it).
  const std::int64_t annotation = plane && !plane->extra.empty() ? next_annotation_ : -1;
  write_plane(where.position, data, plane ? &*plane : nullptr, where.storage_index,
              tiff_journal_entry(where.position, where.storage_index, metadata_json, annotation),
              slot);
}

void TiffSink::skip_frame(const FrameLocation& where) {
  write_pending();
  write_plane(where.position, blank_.data(), nullptr, where.storage_index,
              json{{"p", where.position}, {"i", where.storage_index}, {"skip", true}}.dump());
}

bool TiffSink::checkpoint() {
  write_pending();
  // Planes and their IFD links first, then the documents that describe them.
  for (auto& f : files_) {
    if (f->tif != nullptr && !TIFFFlush(f->tif)) tiff_failure("cannot flush", f->path, f->messages);
    if (f->io != nullptr) f->io->flush();
  }
  if (journal_.is_open()) journal_.flush();
  {
    std::lock_guard lock(mutex_);
    if (!metadata_dirty_) return true;
    if (!metadata_pacer_.due()) return false;
    metadata_pacer_.run([&] { write_current_metadata(); });
  }
  // The switches to the new descriptions.
  for (auto& f : files_) {
    if (f->io != nullptr) f->io->flush();
  }
  return true;
}

void TiffSink::write_current_metadata() {
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (files_[i]->ifds > 0) {
      rewrite_description(*files_[i],
                          [&](const TextSink& out) { write_file_ome_xml(ome_state(), i, out); });
      if (files_[i]->io != nullptr) files_[i]->io->seal();
    }
  }
  if (!companion_.name.empty()) {
    write_companion([&](const TextSink& out) { write_companion_ome_xml(ome_state(), out); });
  }
  metadata_dirty_ = false;
}

std::uint64_t TiffSink::bytes_written() const { return bytes_written_.load(); }

TiffOmeState TiffSink::ome_state() const {
  return TiffOmeState{settings_, layout_,   acquisition_date_, global_,
                      images_,   file_ids_, multi_file_,       companion_,
                      closed_,   &journal_, next_annotation_};
}

std::string TiffSink::xml_for(std::size_t file_index) const {
  return file_ome_xml(ome_state(), file_index);
}

void TiffSink::rewrite_description(TiffFile& f,
                                   const std::function<void(const TextSink&)>& produce) {
  patch_image_description(f.path, f.io.get(), produce, &f.description);
  count_size(f.counted_bytes, f.size());
}

void TiffSink::write_companion(const std::function<void(const TextSink&)>& produce) {
  const fs::path path = dir_ / platform::path_from_utf8(companion_.name);
  write_file_atomic_streamed(path, produce);
  count_size(companion_bytes_, fs::file_size(path));
}

void TiffSink::finish_images() {
  // Complete a partly filled last outer index with blank planes, so that the
  // sizes in the OME-XML and the planes in the file agree.
  const std::int64_t inner = planes_per_outer_index(settings_, layout_);
  std::int64_t total = 0;
  for (const auto& img : images_) total += img.frames;
  if (total == 0) return;
  for (std::size_t i = 0; i < images_.size(); ++i) {
    const std::int64_t frames = images_[i].frames;
    const std::int64_t target = std::max<std::int64_t>(1, (frames + inner - 1) / inner) * inner;
    for (std::int64_t n = frames; n < target; ++n) {
      write_plane(static_cast<std::int64_t>(i), blank_.data(), nullptr, {}, "");
    }
  }
}

void TiffSink::close() {
  if (closed_) return;
  // However this ends, no descriptor stays open: a stream that failed (disk
  // full) must let go of its files at close(), not when it is destroyed. The
  // journal file itself stays unless everything was written (recover()).
  struct Release {
    TiffSink& sink;
    ~Release() {
      for (auto& f : sink.files_) f->release();
      try {
        sink.journal_.close();
      } catch (...) {
        // Already failing; the descriptor is released all the same.
      }
    }
  } release{*this};
  write_pending();
  finish_images();
  std::unique_lock files_lock(files_mutex_);
  std::int64_t total = 0;
  for (const auto& img : images_) total += img.frames;
  for (auto& f : files_) f->close();
  closed_ = true;
  // With nothing acquired no file was created: leave none rather than an invalid TIFF.
  if (total > 0) {
    std::lock_guard lock(mutex_);
    write_final_metadata();
  }
  close_journal();
}

void TiffSink::sync() const {
  bool any = false;
  for (const auto& f : files_) {
    if (fs::exists(f->path)) {
      fsync_path(f->path);
      any = true;
    }
  }
  if (!companion_.name.empty() && fs::exists(dir_ / platform::path_from_utf8(companion_.name))) {
    fsync_path(dir_ / platform::path_from_utf8(companion_.name));
  }
  // The journal (beside the output) and the directory entries of the files
  // and of the journal.
  const fs::path journal = tiff_journal_path(settings_.output_path());
  if (fs::exists(journal)) fsync_path(journal);
  const fs::path here = dir_.empty() ? fs::path(".") : dir_;
  if (any) fsync_path(here);
  const fs::path parent =
      journal.has_parent_path() ? journal.parent_path() : fs::path(".");  // a relative path
  if (fs::absolute(parent) != fs::absolute(here)) fsync_path(parent);
}

void TiffSink::write_final_metadata() {
  // Streamed from the journal: the documents of a long run are never whole
  // in memory.
  for (std::size_t i = 0; i < files_.size(); ++i) {
    rewrite_description(*files_[i],
                        [&](const TextSink& out) { write_file_ome_xml(ome_state(), i, out); });
  }
  if (!companion_.name.empty()) {
    write_companion([&](const TextSink& out) { write_companion_ome_xml(ome_state(), out); });
  }
}

std::map<std::int64_t, std::string> TiffSink::documents_on_disk() const {
  std::map<std::int64_t, std::string> out;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    const TiffFile& f = *files_[i];
    if (!fs::exists(f.path)) continue;
    TiffMessages messages;
    TIFF* tif = open_tiff(f.path, "r", &messages);
    if (tif == nullptr) tiff_failure("cannot open", f.path, messages);
    const TiffCloser closer{tif};
    const char* text = nullptr;
    if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &text) == 1 && text != nullptr) {
      out[static_cast<std::int64_t>(i)] = text;
    }
  }
  if (!companion_.name.empty() && fs::exists(dir_ / platform::path_from_utf8(companion_.name))) {
    out[-1] = read_file(dir_ / platform::path_from_utf8(companion_.name));
  }
  return out;
}

std::string TiffSink::metadata_json() const {
  std::lock_guard lock(mutex_);
  json out = json::object();
  if (closed_) {
    // The journal is gone: the documents are read back from the files.
    for (const auto& [k, xml] : documents_on_disk()) out[std::to_string(k)] = xml;
    return out.dump();
  }
  for (std::size_t i = 0; i < files_.size(); ++i) out[std::to_string(i)] = xml_for(i);
  if (!companion_.name.empty()) out["-1"] = companion_ome_xml(ome_state());
  return out.dump();
}

void TiffSink::update_metadata_json(const std::string& text) {
  std::lock_guard lock(mutex_);
  if (!closed_) {
    throw Error(ErrorCode::kClosed,
                "update_metadata() must be called after the stream context exits: "
                "OME-TIFF metadata can only be updated after the stream is closed.");
  }
  const json update = json::parse(text);
  for (const auto& [key, xml] : update.items()) {
    const std::int64_t k = std::stoll(key);
    const std::string doc = xml.get<std::string>();
    const auto produce = [&](const TextSink& out) { out(doc); };
    if (k == -1 && !companion_.name.empty()) {
      write_companion(produce);
    } else if (k >= 0 && static_cast<std::size_t>(k) < files_.size()) {
      rewrite_description(*files_[static_cast<std::size_t>(k)], produce);
    } else {
      throw Error(ErrorCode::kInvalidArgument, "no OME-TIFF file with index " + key);
    }
  }
}

void TiffSink::set_global_metadata(const std::string& name_space, const std::string& text) {
  {
    std::lock_guard lock(mutex_);
    global_[name_space] = json::parse(text);
    metadata_dirty_ = true;
  }
  if (closed_) {
    // The journal is gone: the documents in the files are edited.
    std::unique_lock files_lock(files_mutex_);
    std::lock_guard lock(mutex_);
    const json value = json::parse(text);
    for (const auto& [k, xml] : documents_on_disk()) {
      const std::string edited = with_global_metadata(xml, name_space, value);
      if (edited == xml) continue;
      const auto produce = [&](const TextSink& out) { out(edited); };
      if (k == -1) {
        write_companion(produce);
      } else {
        rewrite_description(*files_[static_cast<std::size_t>(k)], produce);
      }
    }
  }
}

bool TiffSink::read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                          void* out) const {
  const std::int64_t plane = plane_number(storage_index);
  std::shared_lock files_lock(files_mutex_);
  const std::optional<PlaneLocation> where = locate_plane(position, plane);
  return where && read_plane(*where, out);
}

bool TiffSink::read_level_frame(std::int64_t position, int level,
                                const std::vector<std::int64_t>& storage_index, void* out) const {
  check_level(level);
  const std::int64_t plane = plane_number(storage_index);
  std::shared_lock files_lock(files_mutex_);
  const std::optional<PlaneLocation> where = locate_plane(position, plane);
  return where && read_plane(*where, out, level);
}

std::vector<std::int64_t> TiffSink::level_shape(std::int64_t position, int level) const {
  check_level(level);
  std::vector<std::int64_t> shape = current_shape(position);
  if (level > 0) {
    const Layout& l = levels_[static_cast<std::size_t>(level - 1)]->layout;
    shape[shape.size() - 2] = l.height;
    shape[shape.size() - 1] = l.width;
  }
  return shape;
}

std::int64_t TiffSink::plane_number(const std::vector<std::int64_t>& storage_index) const {
  // The OME-XML's DimensionOrder follows the acquisition order too.
  std::int64_t plane = 0;
  bool first = true;
  for (int outer : layout_.index_dims_acquisition) {
    for (std::size_t a = 0; a < storage_index.size(); ++a) {
      if (layout_.storage_to_outer[a] != outer) continue;
      plane = first ? storage_index[a] : plane * layout_.axes[a].count + storage_index[a];
      first = false;
    }
  }
  return plane;
}

std::optional<TiffSink::PlaneLocation> TiffSink::locate_plane(std::int64_t position,
                                                              std::int64_t plane) const {
  std::lock_guard lock(mutex_);
  const TiffImage& image = images_.at(static_cast<std::size_t>(position));
  if (plane < 0 || plane >= static_cast<std::int64_t>(image.ifds.size())) return std::nullopt;
  const TiffFile& f = *files_[image.file];
  return PlaneLocation{f.path, image.ifds[static_cast<std::size_t>(plane)], f.io.get()};
}

bool TiffSink::read_plane(const PlaneLocation& where, void* out, int level) const {
  TiffMessages messages;
  ClientHandle handle{where.io, 0, &messages};
  TIFF* tif = where.io != nullptr && where.io->is_open()
                  ? open_client(where.path, "rc", &handle, &messages)
                  : open_tiff(where.path, "rc", &messages);
  if (tif == nullptr) tiff_failure("cannot open for reading", where.path, messages);
  const TiffCloser closer{tif};
  if (!TIFFSetDirectory(tif, static_cast<tdir_t>(where.ifd))) return false;
  const TiffPlaneFormat& format =
      level == 0 ? format_ : levels_[static_cast<std::size_t>(level - 1)]->format;
  if (level > 0) {
    std::uint16_t count = 0;
    toff_t* offsets = nullptr;
    if (!TIFFGetField(tif, TIFFTAG_SUBIFD, &count, &offsets) || count < level) return false;
    const toff_t offset = offsets[level - 1];
    if (offset == 0 || !TIFFSetSubDirectory(tif, offset)) return false;
  }
  std::vector<std::byte> raw(format.plane_bytes());
  std::size_t offset = 0;
  const tstrip_t strips = TIFFNumberOfStrips(tif);
  for (tstrip_t s = 0; s < strips; ++s) {
    const tmsize_t n = TIFFReadEncodedStrip(tif, s, raw.data() + offset,
                                            static_cast<tmsize_t>(raw.size() - offset));
    if (n < 0) tiff_failure("cannot read a strip of", where.path, messages);
    offset += static_cast<std::size_t>(n);
  }
  auto* dst = static_cast<std::byte*>(out);
  if (format.bit_packed) {
    unpack_bits(raw.data(), format, dst);
  } else {
    std::memcpy(dst, raw.data(), raw.size());
  }
  return true;
}

std::vector<std::int64_t> TiffSink::current_shape(std::int64_t position) const {
  std::lock_guard lock(mutex_);
  std::vector<std::int64_t> shape;
  for (const auto& a : layout_.axes) shape.push_back(a.count);
  if (layout_.unbounded && !shape.empty()) {
    const std::int64_t inner = planes_per_outer_index(settings_, layout_);
    const auto frames = images_.at(static_cast<std::size_t>(position)).frames;
    for (std::size_t a = 0; a < layout_.index_rank(); ++a) {
      if (layout_.axes[a].count == 0) shape[a] = (frames + inner - 1) / inner;
    }
  }
  return shape;
}

}  // namespace ome_writers::detail
