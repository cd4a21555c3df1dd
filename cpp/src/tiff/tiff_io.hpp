// libtiff handles for the OME-TIFF sink: opened on a path, or over a
// DirectFile while the stream writes it (client I/O), each with its own
// message collector.
#pragma once

#include <tiffio.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tiff/description_patcher.hpp"
#include "tiff/direct_file.hpp"

namespace ome_writers::detail {

/// Collects libtiff's messages for one handle (never a global handler).
struct TiffMessages {
  std::string text;
  int system_errno = 0;  ///< errno of the first failed file operation, passed on unchanged
};

/// libtiff's position in a DirectFile: each handle has its own.
struct ClientHandle {
  DirectFile* file = nullptr;
  std::uint64_t pos = 0;
  TiffMessages* messages = nullptr;
};

/// Opens `path` with libtiff (`mode` as TIFFOpen's); nullptr on failure, with
/// the reason in `messages`.
TIFF* open_tiff(const std::filesystem::path& path, const char* mode, TiffMessages* messages);

/// Opens a TIFF that libtiff reads and writes through `handle` (its DirectFile
/// stays open after TIFFClose); nullptr on failure, with the reason in `messages`.
TIFF* open_client(const std::filesystem::path& path, const char* mode, ClientHandle* handle,
                  TiffMessages* messages);

/// Whether `path` is a TIFF this library wrote: the TIFF (or BigTIFF) magic
/// bytes, and OME-XML in the first ImageDescription with our Creator.
bool written_by_ome_writers(const std::filesystem::path& path);

/// Throws Error(kIo) naming the operation, the file and libtiff's messages.
[[noreturn]] void tiff_failure(const std::string& what, const std::filesystem::path& path,
                               const TiffMessages& messages);

/// One output TIFF file of the sink.
struct TiffFile {
  std::filesystem::path path;
  TIFF* tif = nullptr;
  TiffMessages messages;
  std::int64_t ifds = 0;            ///< IFDs written (one per plane)
  std::uint64_t counted_bytes = 0;  ///< its size as the sink's bytes_written() last counted it
  std::unique_ptr<DirectFile> io;   ///< while the stream writes the file
  ClientHandle handle;              ///< libtiff's position in `io`
  DescriptionSlots description;     ///< where its OME-XML is rewritten

  TiffFile() = default;
  TiffFile(const TiffFile&) = delete;
  TiffFile& operator=(const TiffFile&) = delete;
  ~TiffFile();

  /// Creates the file as a BigTIFF that libtiff writes through a DirectFile
  /// staging `stage_bytes` (with O_DIRECT when `direct`). It is written under
  /// a temporary name until publish(): a reader never finds it without its
  /// header and first IFD.
  void create(std::size_t stage_bytes, bool direct);
  /// After its first IFD: hands everything to the kernel and renames the file
  /// to `path`.
  void publish();
  /// Closes libtiff's handle and the DirectFile (the file stays).
  void close();
  /// close() after a failure: never throws, and releases the descriptors even
  /// when writing what was staged fails.
  void release() noexcept;
  /// Its size now: the DirectFile's while open (staged bytes included), else on disk.
  std::uint64_t size() const;
};

/// Closes a libtiff handle at the end of a scope.
struct TiffCloser {
  TIFF* tif;
  ~TiffCloser() {
    if (tif != nullptr) TIFFClose(tif);
  }
};

}  // namespace ome_writers::detail
