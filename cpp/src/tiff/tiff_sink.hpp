// OME-TIFF writer on libtiff: BigTIFF, one IFD per plane in acquisition order,
// OME-XML in the first IFD's ImageDescription (rewritten at close).
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/layout.hpp"
#include "core/sink.hpp"
#include "core/task_pool.hpp"
#include "ome/ome_xml.hpp"
#include "util/aligned_buffer.hpp"

namespace ome_writers::detail {

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
  void flush() override;
  void close() override;
  /// fsync of each file written (and its directory).
  void sync() const override;
  std::uint64_t bytes_written() const override;

  std::string metadata_json() const override;
  void update_metadata_json(const std::string& json) override;
  void set_global_metadata(const std::string& name_space, const std::string& json) override;
  bool read_frame(std::int64_t position, const std::vector<std::int64_t>& storage_index,
                  void* out) const override;
  std::vector<std::int64_t> current_shape(std::int64_t position) const override;

  /// Rewrites the OME-XML of the files a crashed stream left, from its journal.
  /// Returns the number of planes found in the files.
  static std::uint64_t recover(const std::filesystem::path& journal);

 private:
  struct File;
  struct Image;

  void prepare_output();
  void open_file(File& f);
  void write_plane(std::int64_t position, const std::byte* data, const PlaneInfo* plane,
                   const std::vector<std::int64_t>& storage_index);
  void finish_images();
  std::string xml_for(std::size_t file_index) const;
  std::string companion_xml() const;
  OmeXmlInput full_input(const std::string& uuid) const;
  /// Writes the OME-XML of every file (and the companion) and keeps it for get_metadata.
  void write_final_metadata();
  std::int64_t planes_per_outer_index() const;
  void rewrite_description(const File& f, const std::string& xml) const;
  void journal_line(const std::string& line);

  const StreamSettings& settings_;
  int zstd_level_;
  int deflate_level_;
  const Layout& layout_;
  std::filesystem::path dir_;
  bool multi_file_ = false;
  std::string companion_name_;
  std::string companion_uuid_;
  std::string acquisition_date_;
  std::vector<std::unique_ptr<File>> files_;
  std::vector<Image> images_;
  std::map<std::string, nlohmann::json> global_;
  std::int64_t next_annotation_ = 0;
  void encode_strip(const std::byte* pixels, std::size_t rows, std::size_t row_bytes,
                    AlignedBuffer& out) const;

  TaskPool* tasks_ = nullptr;
  std::vector<std::unique_ptr<AlignedBuffer>> strips_;  // encoded strips of one plane
  std::vector<std::byte> scratch_;
  std::vector<std::byte> blank_;
  std::FILE* journal_ = nullptr;
  mutable std::mutex mutex_;
  // Held shared by readers of planes (live views) and exclusively while the
  // files are closed or their metadata patched: a read sees the file whole.
  mutable std::shared_mutex files_mutex_;
  bool closed_ = false;
  std::map<std::int64_t, std::string> final_xml_;  // file index (-1 companion) -> XML
};

}  // namespace ome_writers::detail
