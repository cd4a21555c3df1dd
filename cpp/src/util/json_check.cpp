#include "util/json_check.hpp"

#include <cstddef>
#include <cstdint>

namespace ome_writers::detail {

namespace {

constexpr int kMaxDepth = 64;

class Checker {
 public:
  explicit Checker(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool document() {
    skip_ws();
    if (!value(0)) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  const char* p_;
  const char* end_;

  [[nodiscard]] bool at_end() const { return p_ == end_; }
  [[nodiscard]] unsigned char peek() const { return static_cast<unsigned char>(*p_); }

  void skip_ws() {
    while (!at_end() && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size()) return false;
    if (std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (at_end()) return false;
    switch (*p_) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool object(int depth) {
    return members(depth, '}', [this, depth] {
      if (at_end() || *p_ != '"' || !string()) return false;
      skip_ws();
      if (at_end() || *p_ != ':') return false;
      ++p_;
      skip_ws();
      return value(depth);
    });
  }

  bool array(int depth) {
    return members(depth, ']', [this, depth] { return value(depth); });
  }

  // After the opening bracket: `member`s separated by commas, up to `close`.
  template <typename Member>
  bool members(int depth, char close, Member&& member) {
    if (depth > kMaxDepth) return false;
    ++p_;
    skip_ws();
    if (!at_end() && *p_ == close) {
      ++p_;
      return true;
    }
    for (;;) {
      if (!member()) return false;
      skip_ws();
      if (at_end()) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      skip_ws();
    }
  }

  bool digits() {
    const char* start = p_;
    while (!at_end() && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and not so large that
  // it overflows a double (nlohmann::json refuses those): a number that might
  // is left to nlohmann::json.
  bool number() {
    if (*p_ == '-') ++p_;
    if (at_end()) return false;
    const char* int_start = p_;
    if (*p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    const auto int_digits = static_cast<long>(p_ - int_start);
    if (!at_end() && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    long exponent = 0;
    if (!at_end() && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      bool negative = false;
      if (!at_end() && (*p_ == '+' || *p_ == '-')) negative = *p_++ == '-';
      const char* exp_start = p_;
      if (!digits()) return false;
      for (const char* d = exp_start; d != p_ && exponent < 100000; ++d) {
        exponent = exponent * 10 + (*d - '0');
      }
      if (negative) exponent = -exponent;
    }
    return int_digits + exponent < 300;  // DBL_MAX is 1.8e308
  }

  bool hex4(std::uint32_t& out) {
    if (end_ - p_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      const char c = *p_;
      std::uint32_t d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
      out = out << 4 | d;
    }
    return true;
  }

  // After the backslash.
  bool escape() {
    if (at_end()) return false;
    const char c = *p_++;
    switch (c) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        std::uint32_t code = 0;
        if (!hex4(code)) return false;
        if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a low surrogate alone
        if (code >= 0xD800 && code <= 0xDBFF) {              // must pair with a low one
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          std::uint32_t low = 0;
          return hex4(low) && low >= 0xDC00 && low <= 0xDFFF;
        }
        return true;
      }
      default:
        return false;
    }
  }

  // One multi-byte UTF-8 sequence, well formed as RFC 3629 defines it (no
  // overlong forms, no surrogates, nothing past U+10FFFF).
  bool utf8() {
    const unsigned char b0 = peek();
    int extra = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      extra = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      extra = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      extra = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end_ - p_ <= extra) return false;
    ++p_;
    for (int i = 0; i < extra; ++i, ++p_) {
      const unsigned char b = peek();
      if (b < lo || b > hi) return false;
      lo = 0x80;  // only the second byte has the narrower ranges
      hi = 0xBF;
    }
    return true;
  }

  bool string() {
    ++p_;  // opening quote
    while (!at_end()) {
      const unsigned char c = peek();
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++p_;
        if (!escape()) return false;
      } else if (c < 0x80) {
        ++p_;
      } else if (!utf8()) {
        return false;
      }
    }
    return false;
  }
};

}  // namespace

bool quick_json_check(std::string_view text) noexcept { return Checker(text).document(); }

}  // namespace ome_writers::detail
