// ome_writers::Stream. Blocking calls release the GIL; the engine never calls
// into Python.
#include "ome_writers/stream.hpp"

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <mutex>
#include <vector>

#include "bindings.hpp"

namespace nb = nanobind;

namespace ome_writers::python {

namespace {

// Frames appended without a copy hold a buffer view of the caller's object
// (which keeps it alive and, for numpy, unresizable). Writer threads must not
// touch Python objects, so their release only files the view here; a thread
// holding the GIL releases the views (on the next call into any stream).
class BorrowedViews {
 public:
  static BorrowedViews& instance() {
    static auto* views = new BorrowedViews;  // never destroyed: writers may outlive the module
    return *views;
  }
  /// Releases the views of finished frames when it goes out of scope (declare
  /// it before a gil_scoped_release: it then runs with the GIL held again).
  struct DrainOnExit {
    ~DrainOnExit() { instance().drain(); }
  };
  void done(Py_buffer* view) {
    std::lock_guard lock(mutex_);
    done_.push_back(view);
  }
  /// Needs the GIL.
  void drain() {
    std::vector<Py_buffer*> views;
    {
      std::lock_guard lock(mutex_);
      views.swap(done_);
    }
    for (Py_buffer* v : views) {
      PyBuffer_Release(v);
      delete v;
    }
  }

 private:
  std::mutex mutex_;
  std::vector<Py_buffer*> done_;
};

}  // namespace

using ReadOnlyArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using WritableArray = nb::ndarray<nb::c_contig, nb::device::cpu>;

void bind_stream(nb::module_& m) {
  nb::class_<Stream>(m, "Stream", "Writes frames to OME-Zarr or OME-TIFF (see stream.hpp).")
      .def(
          "__init__",
          [](Stream* self, const std::string& settings_json) {
            new (self) Stream(StreamSettings::from_json(settings_json));
          },
          nb::arg("settings_json"), nb::call_guard<nb::gil_scoped_release>(),
          "Creates the output described by the settings JSON.")
      .def(
          "append",
          [](Stream& s, ReadOnlyArray frame, const std::optional<std::string>& metadata_json) {
            const std::size_t n = frame.nbytes();
            const void* data = frame.data();
            nb::gil_scoped_release release;
            s.append(data, n,
                     metadata_json ? std::string_view(*metadata_json) : std::string_view());
            return s.last_append_wait_seconds();
          },
          nb::arg("frame"), nb::arg("metadata_json") = nb::none(),
          "Copies one C-contiguous frame into the queue (its bytes must match the stream); "
          "returns the seconds it waited for room in the memory budget.")
      .def(
          "append_borrowed",
          [](Stream& s, nb::handle frame, const std::optional<std::string>& metadata_json) {
            BorrowedViews::instance().drain();
            double waited = 0;
            auto view = std::make_unique<Py_buffer>();
            if (PyObject_GetBuffer(frame.ptr(), view.get(), PyBUF_C_CONTIGUOUS) != 0) {
              throw nb::python_error();
            }
            Py_buffer* raw = view.release();
            try {
              nb::gil_scoped_release release;
              s.append_borrowed(
                  raw->buf, static_cast<std::size_t>(raw->len),
                  metadata_json ? std::string_view(*metadata_json) : std::string_view(),
                  [raw] { BorrowedViews::instance().done(raw); });
              waited = s.last_append_wait_seconds();
            } catch (...) {
              PyBuffer_Release(raw);  // not taken: the GIL is held again here
              delete raw;
              throw;
            }
            return waited;
          },
          nb::arg("frame"), nb::arg("metadata_json") = nb::none(),
          "Queues a C-contiguous buffer itself, without a copy; it is held (and must not be "
          "changed) until written. Returns the seconds it waited for room in the memory budget.")
      .def("skip", &Stream::skip, nb::arg("frames") = 1, nb::call_guard<nb::gil_scoped_release>(),
           "Advances past frames that have no data.")
      .def(
          "flush",
          [](Stream& s) {
            BorrowedViews::DrainOnExit drain;
            nb::gil_scoped_release release;
            s.flush();
          },
          "Waits until everything appended is in the files.")
      .def(
          "close",
          [](Stream& s) {
            BorrowedViews::DrainOnExit drain;
            nb::gil_scoped_release release;
            s.close();
          },
          "Drains the queue, writes the final metadata and closes the files.")
      .def_prop_ro("closed", &Stream::closed, "True after close().")
      .def_prop_ro("output_path", &Stream::output_path, "The output file or directory.")
      .def_prop_ro("frame_bytes", &Stream::frame_bytes, "Bytes of one frame.")
      .def(
          "locate",
          [](const Stream& s, std::uint64_t n) {
            auto loc = s.locate(n);
            return std::make_tuple(loc.position, loc.storage_index);
          },
          nb::arg("frame_number"), "(position, storage index) of the n-th frame.")
      .def(
          "stats",
          [](const Stream& s) {
            const StreamStats st = s.stats();
            nb::dict d;
            d["frames_appended"] = st.frames_appended;
            d["frames_written"] = st.frames_written;
            d["bytes_written"] = st.bytes_written;
            d["queue_bytes"] = st.queue_bytes;
            d["peak_queue_bytes"] = st.peak_queue_bytes;
            d["append_waits"] = st.append_waits;
            d["append_wait_seconds"] = st.append_wait_seconds;
            d["checkpoints"] = st.checkpoints;
            d["checkpoint_seconds"] = st.checkpoint_seconds;
            return d;
          },
          "Counters of the stream as a dict.")
      .def("metadata_json", &Stream::metadata_json, "Metadata documents as JSON text.")
      .def("update_metadata_json", &Stream::update_metadata_json, nb::arg("metadata_json"),
           nb::call_guard<nb::gil_scoped_release>(), "Replaces metadata documents (JSON text).")
      .def("set_global_metadata", &Stream::set_global_metadata, nb::arg("name_space"),
           nb::arg("metadata_json"), nb::call_guard<nb::gil_scoped_release>(),
           "Stores a summary object under a namespace.")
      .def(
          "read_frame",
          [](const Stream& s, std::int64_t position, const std::vector<std::int64_t>& index,
             WritableArray out) {
            if (out.nbytes() != s.frame_bytes()) {
              throw nb::value_error("read_frame: output array has the wrong size");
            }
            void* data = out.data();
            nb::gil_scoped_release release;
            return s.read_frame(position, index, data);
          },
          nb::arg("position"), nb::arg("storage_index"), nb::arg("out"),
          "Copies an appended frame into `out`; False when it was never appended or skipped.")
      .def("current_shape", &Stream::current_shape, nb::arg("position"),
           "Current extent of each storage dimension of a position.")
      .def("levels", &Stream::levels, "Pyramid datasets, full resolution included.")
      .def(
          "read_level_frame",
          [](const Stream& s, std::int64_t position, int level,
             const std::vector<std::int64_t>& index, WritableArray out) {
            const auto full = s.level_shape(position, 0);
            const auto shape = s.level_shape(position, level);
            const std::size_t element =
                s.frame_bytes() / static_cast<std::size_t>(full.end()[-2] * full.end()[-1]);
            const std::size_t expected =
                element * static_cast<std::size_t>(shape.end()[-2] * shape.end()[-1]);
            if (out.nbytes() != expected) {
              throw nb::value_error("read_level_frame: output array has the wrong size");
            }
            void* data = out.data();
            nb::gil_scoped_release release;
            return s.read_level_frame(position, level, index, data);
          },
          nb::arg("position"), nb::arg("level"), nb::arg("storage_index"), nb::arg("out"),
          "Copies a plane of pyramid level `level` into `out`; False when not computed yet.")
      .def("level_shape", &Stream::level_shape, nb::arg("position"), nb::arg("level"),
           "Current extent of each storage dimension of a pyramid level's array.");
}

}  // namespace ome_writers::python
