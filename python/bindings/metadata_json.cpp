// Frame metadata to JSON text without Python's json encoder. An append with the
// usual few-key dict of floats spent half its time in json.JSONEncoder, and
// the longer an append takes, the more of them a scheduler hiccup lands in:
// the copy=False append tail followed the metadata (benchmarks/README.md,
// issue #20). This covers the plain cases: dicts with str keys whose values
// are str, int, float, bool, None, lists, tuples and such dicts again. For
// anything else (another key type, NaN, a numpy scalar, a cycle, a subclass of
// dict, whose items() Python's encoder would call) it returns None and the
// caller falls back to Python's encoder, which owns every error.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <charconv>
#include <cmath>
#include <optional>
#include <string>

#include "bindings.hpp"

namespace nb = nanobind;

namespace ome_writers::python {

namespace {

// Deeper than any sensible metadata; a cycle reaches it and falls back (where
// Python's encoder reports the cycle).
constexpr int kMaxDepth = 32;

bool put_string(PyObject* s, std::string& out) {
  Py_ssize_t n = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(s, &n);
  if (utf8 == nullptr) {  // a lone surrogate: Python's encoder escapes it
    PyErr_Clear();
    return false;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (Py_ssize_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through: JSON text is UTF-8
        }
    }
  }
  out += '"';
  return true;
}

bool put_value(PyObject* v, std::string& out, int depth);

bool put_sequence(PyObject* seq, bool is_list, std::string& out, int depth) {
  const Py_ssize_t n = is_list ? PyList_Size(seq) : PyTuple_Size(seq);
  out += '[';
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (i) out += ',';
    // Borrowed references: nothing here runs Python code that could change them.
    PyObject* item = is_list ? PyList_GetItem(seq, i) : PyTuple_GetItem(seq, i);
    if (item == nullptr || !put_value(item, out, depth + 1)) return false;
  }
  out += ']';
  return true;
}

bool put_dict(PyObject* d, std::string& out, int depth) {
  if (depth > kMaxDepth) return false;
  out += '{';
  Py_ssize_t pos = 0;
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  bool first = true;
  while (PyDict_Next(d, &pos, &key, &value)) {
    if (!PyUnicode_Check(key)) return false;  // Python converts numbers and None; leave it that
    if (!first) out += ',';
    first = false;
    if (!put_string(key, out)) return false;
    out += ':';
    if (!put_value(value, out, depth + 1)) return false;
  }
  out += '}';
  return true;
}

bool put_value(PyObject* v, std::string& out, int depth) {
  if (depth > kMaxDepth) return false;
  if (v == Py_None) {
    out += "null";
  } else if (v == Py_True) {
    out += "true";
  } else if (v == Py_False) {
    out += "false";
  } else if (PyFloat_Check(v)) {
    const double x = PyFloat_AsDouble(v);
    if (!std::isfinite(x)) return false;  // not JSON: Python's encoder raises
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
    if (ec != std::errc()) return false;
    const std::string_view text(buf, static_cast<std::size_t>(end - buf));
    out += text;
    // A float stays a float when read back ("20" would be read as an integer).
    if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
  } else if (PyLong_Check(v)) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow != 0 || (x == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return false;  // beyond 64 bits
    }
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
    out.append(buf, end);
  } else if (PyUnicode_Check(v)) {
    return put_string(v, out);
  } else if (PyDict_CheckExact(v)) {
    return put_dict(v, out, depth);
  } else if (PyList_Check(v)) {
    return put_sequence(v, true, out, depth);
  } else if (PyTuple_Check(v)) {
    return put_sequence(v, false, out, depth);
  } else {
    return false;
  }
  return true;
}

}  // namespace

void bind_metadata_json(nb::module_& m) {
  m.def(
      "metadata_json",
      [](nb::handle obj) -> std::optional<std::string> {
        if (!PyDict_CheckExact(obj.ptr())) return std::nullopt;
        std::string out;
        out.reserve(256);
        if (!put_dict(obj.ptr(), out, 0)) return std::nullopt;
        return out;
      },
      nb::arg("metadata"),
      "The JSON text of a dict of plain values (str keys; str, int, float, bool, None, "
      "lists, tuples, dicts), or None for anything else (use Python's json then).");
}

}  // namespace ome_writers::python
