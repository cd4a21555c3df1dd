#include "tiff/tiff_io.hpp"

#include <cstdarg>
#include <cstdio>
#include <exception>
#include <string_view>

#include "ome/ome_xml.hpp"
#include "ome_writers/errors.hpp"
#include "platform/platform.hpp"
#include "util/fs.hpp"

namespace ome_writers::detail {

namespace fs = std::filesystem;

namespace {

int collect_message(TIFF*, void* user_data, const char* module, const char* fmt, va_list ap) {
  auto* messages = static_cast<TiffMessages*>(user_data);
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (!messages->text.empty()) messages->text += "; ";
  messages->text += std::string(module ? module : "libtiff") + ": " + buf;
  return 1;
}

int ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

/// Options that send the handle's errors to `messages` and drop its warnings.
TIFFOpenOptions* message_options(TiffMessages* messages) {
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(opts, collect_message, messages);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, ignore_warning, nullptr);
  return opts;
}

void client_failure(ClientHandle* h, const std::exception& e) {
  if (h->messages == nullptr) return;
  if (!h->messages->text.empty()) h->messages->text += "; ";
  h->messages->text += e.what();
  const auto* error = dynamic_cast<const Error*>(&e);
  if (error != nullptr && h->messages->system_errno == 0) {
    h->messages->system_errno = error->system_errno();
  }
}

tmsize_t client_read(thandle_t handle, void* buf, tmsize_t n) {
  auto* h = static_cast<ClientHandle*>(handle);
  try {
    const std::size_t got = h->file->pread(buf, static_cast<std::size_t>(n), h->pos);
    h->pos += got;
    return static_cast<tmsize_t>(got);
  } catch (const std::exception& e) {
    client_failure(h, e);
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
    client_failure(h, e);
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
    client_failure(h, e);
    return static_cast<toff_t>(-1);
  }
}

int client_close(thandle_t) { return 0; }  // the sink closes the DirectFile itself
toff_t client_size(thandle_t handle) { return static_cast<ClientHandle*>(handle)->file->size(); }
int client_map(thandle_t, void**, toff_t*) { return 0; }
void client_unmap(thandle_t, void*, toff_t) {}

}  // namespace

TIFF* open_tiff(const fs::path& path, const char* mode, TiffMessages* messages) {
  TIFFOpenOptions* opts = message_options(messages);
#if defined(_WIN32)
  // libtiff's narrow names are in the ANSI code page on Windows.
  TIFF* tif = TIFFOpenWExt(path.wstring().c_str(), mode, opts);
#else
  TIFF* tif = TIFFOpenExt(path.c_str(), mode, opts);
#endif
  TIFFOpenOptionsFree(opts);
  return tif;
}

bool written_by_ome_writers(const fs::path& path) {
  char magic[4] = {};
  const platform::Handle f = platform::open_file(path, platform::kRead);
  if (f == platform::kNoHandle) return false;
  const std::int64_t n = platform::read_at(f, magic, sizeof magic, 0);
  platform::close_file(f);
  if (n != static_cast<std::int64_t>(sizeof magic)) return false;
  const std::string_view m(magic, sizeof magic);
  using namespace std::string_view_literals;
  if (m != "II*\0"sv && m != "MM\0*"sv && m != "II+\0"sv && m != "MM\0+"sv) return false;
  TiffMessages messages;
  TIFF* tif = open_tiff(path, "r", &messages);
  if (tif == nullptr) return false;
  TiffCloser closer{tif};
  const char* description = nullptr;
  if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &description) != 1 || description == nullptr) {
    return false;
  }
  return std::string_view(description).find(std::string("Creator=\"") + kCreatorPrefix) !=
         std::string_view::npos;
}

TIFF* open_client(const fs::path& path, const char* mode, ClientHandle* handle,
                  TiffMessages* messages) {
  TIFFOpenOptions* opts = message_options(messages);
  TIFF* tif = TIFFClientOpenExt(platform::path_to_utf8(path).c_str(), mode, handle, client_read,
                                client_write, client_seek, client_close, client_size, client_map,
                                client_unmap, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

TiffFile::~TiffFile() {
  if (tif != nullptr) TIFFClose(tif);
}

void TiffFile::create(std::size_t stage_bytes, bool direct) {
  io = std::make_unique<DirectFile>(temporary_path(path), stage_bytes, direct);
  handle = ClientHandle{io.get(), 0, &messages};
  tif = open_client(path, "w8", &handle, &messages);
  if (tif == nullptr) tiff_failure("cannot create TIFF", path, messages);
}

void TiffFile::publish() {
  io->flush();
  io->rename_to(path);
}

void TiffFile::close() {
  if (tif != nullptr) {
    TIFFClose(tif);
    tif = nullptr;
  }
  if (io != nullptr) io->close();
}

void TiffFile::release() noexcept {
  try {
    close();
  } catch (...) {
    // The file is already damaged; what matters now is the descriptors.
  }
  if (io != nullptr) io->release();
}

std::uint64_t TiffFile::size() const {
  if (io != nullptr && io->is_open()) return io->size();
  return fs::file_size(path);
}

[[noreturn]] void tiff_failure(const std::string& what, const fs::path& path,
                               const TiffMessages& messages) {
  throw Error(ErrorCode::kIo,
              what + " '" + platform::path_to_utf8(path) + "'" +
                  (messages.text.empty() ? "" : ": " + messages.text),
              messages.system_errno);
}

}  // namespace ome_writers::detail
