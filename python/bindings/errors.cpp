// Maps ome_writers::Error codes onto Python's builtin exception classes, so
// code written for ome-writers 0.3.2 catches the same things.
#include "ome_writers/errors.hpp"

#include "bindings.hpp"

namespace nb = nanobind;

namespace ome_writers::python {

namespace {

PyObject* exception_class(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return PyExc_ValueError;
    case ErrorCode::kTypeMismatch:
      return PyExc_TypeError;
    case ErrorCode::kIndexOutOfRange:
      return PyExc_IndexError;
    case ErrorCode::kFileExists:
      return PyExc_FileExistsError;
    case ErrorCode::kIo:
      return PyExc_OSError;
    case ErrorCode::kNotImplemented:
      return PyExc_NotImplementedError;
    case ErrorCode::kTimeout:
      return PyExc_TimeoutError;
    case ErrorCode::kClosed:
    case ErrorCode::kInternal:
      return PyExc_RuntimeError;
  }
  return PyExc_RuntimeError;
}

}  // namespace

void bind_errors(nb::module_& m) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kIo && e.system_errno() != 0) {
        // OSError(errno, message): Python picks the subclass (PermissionError...) and sets .errno.
        PyObject* args = Py_BuildValue("(is)", e.system_errno(), e.what());
        if (args != nullptr) {
          PyErr_SetObject(PyExc_OSError, args);
          Py_DECREF(args);
          return;
        }
      }
      PyErr_SetString(exception_class(e.code()), e.what());
    }
  });
  m.def(
      "error_code_name", [](int code) { return error_code_name(static_cast<ErrorCode>(code)); },
      "Name of an ome_writers::ErrorCode value.");
}

}  // namespace ome_writers::python
