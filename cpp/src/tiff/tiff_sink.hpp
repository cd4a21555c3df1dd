// OME-TIFF writer on libtiff: BigTIFF, one IFD per plane in acquisition order,
// OME-XML in the first IFD's ImageDescription (rewritten at close).
#pragma once

#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/journal.hpp"
#include "core/layout.hpp"
#include "core/rewrite_pacer.hpp"
#include "core/sink.hpp"
#include "core/task_pool.hpp"
#include "ome/ome_xml.hpp"
#include "tiff/plane_format.hpp"
#include "tiff/strip_encoder.hpp"
#include "tiff/tiff_ome_input.hpp"

namespace ome_writers::detail {

class DirectFile;
struct TiffFile;

class TiffSink final : public Sink {
 public:
  /// Checks the settings (dimension names, dtype, codec) and the output paths.
  /// `recovered` (the head line of a journal) reopens a crashed stream's files
  /// instead of creating new ones.
  /// `tasks` (optional) encodes compressed strips in parallel.
  TiffSink(const StreamSettings& settings, const Layout& layout, TaskPool* tasks = nullptr,
           const nlohmann::json* recovered = nullptr);
  ~TiffSink() override;

  void write_frame(const FrameLocation& where, FrameBuffer frame,
                   const std::string& metadata_json) override;
  void skip_frame(const FrameLocation& where) override;
  bool checkpoint() override;
  void close() override;
  /// fsync of each file written (and its directory).
  void sync() const override;
  /// The size of the files so far: strips as encoded, IFDs and OME-XML (bytes
  /// still staged for the next write included), and the companion file. After
  /// close() it equals the files' sizes on disk.
  std::uint64_t bytes_written() const override;

  std::string metadata_json() const override;
  void update_metadata_json(const std::string& json) override;
  void set_global_metadata(const std::string& name_space, const std::string& json) override;
  bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                  void* out) const override;
  std::vector<std::int64_t> current_shape(std::int64_t position) const override;
  int levels() const override { return static_cast<int>(levels_.size()) + 1; }
  bool read_level_frame(std::int64_t position, int level,
                        const std::vector<std::int64_t>& storage_index, void* out) const override;
  std::vector<std::int64_t> level_shape(std::int64_t position, int level) const override;

  /// Rewrites the OME-XML of the files a crashed stream left, from its journal.
  /// Returns the number of planes found in the files.
  static std::uint64_t recover(const std::filesystem::path& journal);

 private:
  /// A reduced pyramid level: its planes are SubIFDs of each full-resolution IFD.
  struct Level {
    Level(const StreamSettings& settings, const Layout& base, int level, TaskPool* tasks);
    const Layout layout;
    TiffPlaneFormat format;
    StripEncoder encoder;
    std::vector<std::byte> pixels;  // the level's current plane, as computed
  };

  /// Where a plane is stored, for reading it back.
  struct PlaneLocation {
    std::filesystem::path path;
    std::int64_t ifd = 0;
    DirectFile* io = nullptr;  // while the stream writes the file
  };

  void check_settings() const;
  void name_files();
  void prepare_output();
  void remove_stale_files() const;
  /// Throws Error(kFileExists): `path` is not ours to replace.
  [[noreturn]] static void refuse_to_overwrite(const std::filesystem::path& path);
  void open_journal();
  void open_file(TiffFile& f);
  /// Writes a plane, then its journal entry (`journal_entry`, none when
  /// empty), then adds it to its Image. `plane`: its metadata, if any.
  /// `slot`: the encoder slot already holding the plane's strips (-1: none).
  void write_plane(std::int64_t position, const std::byte* data, const PlaneInfo* plane,
                   const std::vector<std::int64_t>& storage_index, const std::string& journal_entry,
                   int slot = -1);
  /// Writes a frame and its journal entry (its strips in `slot`, or -1).
  void store_frame(const FrameLocation& where, const std::byte* data,
                   const std::string& metadata_json, int slot);
  /// Writes the pending frames (in order).
  void write_pending();
  /// Writes the oldest pending frame, freeing its encoder slot.
  void write_oldest_pending();
  /// The plane as stored before compression: bit-packed, or a copy that
  /// libtiff may change in place, or the frame itself.
  const std::byte* stored_pixels(const std::byte* frame, const TiffPlaneFormat& format);
  void write_raw_strips(TiffFile& f, const std::byte* pixels, const TiffPlaneFormat& format,
                        StripEncoder& encoder, int slot = -1);
  void write_lzw_strips(TiffFile& f, const std::byte* pixels, const TiffPlaneFormat& format);
  /// Computes the reduced planes of `frame` and writes them as the SubIFDs
  /// the IFD just written announced.
  void write_levels(TiffFile& f, const std::byte* frame);
  /// Under mutex_: adds the plane just written to its Image; `line`: the
  /// journal offset of its entry when it carries metadata, `annotated` when
  /// that metadata has a MapAnnotation.
  void record_plane(TiffImage& image, TiffFile& f, std::optional<std::uint64_t> line,
                    bool annotated);
  /// The OME-XML a new file starts with: its first plane already described,
  /// so that the file is a valid OME-TIFF from the moment it appears.
  std::string first_description(std::size_t image_index, const PlaneInfo* plane,
                                const std::vector<std::int64_t>& storage_index) const;
  /// Under mutex_: the OME-XML of every file (and the companion) brought up to date.
  void write_current_metadata();
  /// Under mutex_: brings bytes_written() up to date with a file's size.
  void count_size(std::uint64_t& counted, std::uint64_t size);
  void finish_images();
  TiffOmeState ome_state() const;
  std::string xml_for(std::size_t file_index) const;
  /// Writes the OME-XML of every file (and the companion).
  void write_final_metadata();
  void write_companion(const std::function<void(const TextSink&)>& produce);
  void rewrite_description(TiffFile& f, const std::function<void(const TextSink&)>& produce);
  /// After close: the OME-XML documents as the files hold them.
  std::map<std::int64_t, std::string> documents_on_disk() const;
  void close_journal();
  /// Index of a plane in its Image: planes are in acquisition order whatever
  /// the storage order.
  std::int64_t plane_number(const std::vector<std::int64_t>& storage_index) const;
  std::optional<PlaneLocation> locate_plane(std::int64_t position, std::int64_t plane) const;
  /// Reads a plane (level 0) or one of its reduced planes (a SubIFD).
  bool read_plane(const PlaneLocation& where, void* out, int level = 0) const;
  /// Recovery: replays one journal entry (at `offset`); false when its plane
  /// is not in the files.
  bool replay(const nlohmann::json& entry, std::uint64_t offset,
              const std::vector<std::int64_t>& on_disk);

  const StreamSettings& settings_;
  const Layout& layout_;
  const TiffPlaneFormat format_;
  std::filesystem::path dir_;
  bool multi_file_ = false;
  TiffFileId companion_;  // name empty: none
  std::string acquisition_date_;
  std::vector<std::unique_ptr<TiffFile>> files_;
  std::vector<TiffFileId> file_ids_;  // the OME-XML's names of files_
  std::vector<TiffImage> images_;
  std::map<std::string, nlohmann::json> global_;
  std::int64_t next_annotation_ = 0;

  // A frame whose strips are encoding while the one before it is written
  // (zstd and deflate planes, no pyramid): written by the next write_frame(),
  // skip_frame(), checkpoint() or close(). Declared before encoder_, which
  // waits for their strips when destroyed before the frames are freed.
  struct Pending {
    FrameLocation where;
    FrameBuffer frame;
    std::string metadata_json;
    int slot = 0;
  };
  std::deque<Pending> pending_;
  bool pipelined_ = false;
  StripEncoder encoder_;
  std::vector<std::unique_ptr<Level>> levels_;  // [L - 1]: pyramid level L
  std::vector<std::byte> scratch_;
  std::vector<std::byte> blank_;
  Journal journal_;
  std::uint64_t companion_bytes_ = 0;
  std::atomic<std::uint64_t> bytes_written_{0};
  mutable std::mutex mutex_;
  // Held shared by readers of planes (live views) and exclusively while the
  // files are closed or their metadata patched: a read sees the file whole.
  mutable std::shared_mutex files_mutex_;
  bool closed_ = false;
  bool metadata_dirty_ = false;  // the OME-XML in the files lacks planes or global metadata
  RewritePacer metadata_pacer_;
};

}  // namespace ome_writers::detail
