#include "util/json_check.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace ome_writers::detail {
namespace {

bool nlohmann_accepts(const std::string& text) { return nlohmann::json::accept(text); }

TEST(QuickJsonCheck, AcceptsWhatNlohmannAccepts) {
  const std::vector<std::string> valid = {
      R"({"delta_t":1.23,"exposure_time":0.01,"position_x":102.0,"camera":"Andor"})",
      "{}",
      " \t\r\n{ } \n",
      "[]",
      "0",
      "-0",
      "-0.5e-3",
      "1E+250",
      "1e-400",
      "123456789012345678901234567890",
      "true",
      "null",
      R"("")",
      R"({"a":[1,[2,{"b":null}],false],"c":{"d":{}}})",
      R"({"esc":"\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uD83D\uDE00"})",
      "{\"utf8\":\"h\xC3\xA9llo \xE2\x80\xA8 \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF\"}",
  };
  for (const auto& text : valid) {
    SCOPED_TRACE(text);
    ASSERT_TRUE(nlohmann_accepts(text));  // the table itself is right
    EXPECT_TRUE(quick_json_check(text));
  }
}

TEST(QuickJsonCheck, RefusesWhatNlohmannRefuses) {
  const std::vector<std::string> invalid = {
      "",
      " ",
      "{",
      "{\"a\":1,}",
      "[1,]",
      "{\"a\" 1}",
      "{a:1}",
      "{\"a\":1}}",
      "{\"a\":1} x",
      "01",
      "1.",
      ".5",
      "1e",
      "-",
      "+1",
      "NaN",
      "Infinity",
      "tru",
      "nul",
      "'a'",
      "\"tab\there\"",
      "\"\\x\"",
      "\"\\u12\"",
      "\"\\uDE00\"",               // a low surrogate alone
      "\"\\uD83D\"",               // a high surrogate alone
      "\"\\uD83Dx\"",              // ... followed by something else
      "\"\\uD83D\\u0041\"",        // ... or by a non-surrogate escape
      "\"\xC0\xAF\"",              // overlong
      "\"\xE0\x80\xAF\"",          // overlong
      "\"\xED\xA0\x80\"",          // an encoded surrogate
      "\"\xF4\x90\x80\x80\"",      // past U+10FFFF
      "\"\xF5\x80\x80\x80\"",      // no such lead byte
      "\"\x80\"",                  // a continuation byte alone
      "\"\xC3\"",                  // cut short
      std::string("\"a\0b\"", 5),  // a NUL byte in a string
      "2e308",                     // not a double
  };
  for (const auto& text : invalid) {
    SCOPED_TRACE(text);
    ASSERT_FALSE(nlohmann_accepts(text));
    EXPECT_FALSE(quick_json_check(text));
  }
}

TEST(QuickJsonCheck, LeavesTheUnusualToNlohmann) {
  // Not wrong, only not decided here: the caller asks nlohmann::json.
  const std::string bom = "\xEF\xBB\xBF{}";
  EXPECT_FALSE(quick_json_check(bom));
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_FALSE(quick_json_check(deep));
  EXPECT_TRUE(nlohmann_accepts(deep));
  // Numbers near the largest double: 1.5e308 is one, 2e308 overflows.
  EXPECT_FALSE(quick_json_check("1.5e308"));
  EXPECT_TRUE(nlohmann_accepts("1.5e308"));
  for (const char* big : {"2e308", "1E+400", "-1e99999999999999999999"}) {
    EXPECT_FALSE(quick_json_check(big)) << big;
    EXPECT_FALSE(nlohmann_accepts(big)) << big;
  }
  const std::string long_integer(400, '9');
  EXPECT_FALSE(quick_json_check(long_integer));
  EXPECT_FALSE(nlohmann_accepts(long_integer));
}

// Random edits of valid documents: whatever the check passes, nlohmann::json
// must accept, and it must pass nearly all that nlohmann::json accepts.
TEST(QuickJsonCheck, AgreesWithNlohmannOnRandomEdits) {
  const std::vector<std::string> seeds = {
      R"({"delta_t":1.23,"exposure_time":0.01,"position_x":-102.0e+2,"ok":true,"n":null})",
      R"({"a":[1,[2,{"b":"x\"y\\z\u00e9\ud83d\ude00"}],false],"c":{"d":{}}})",
      "{\"s\":\"h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\",\"t\":[0,-0,1e5,2.5E-3]}",
  };
  const std::string alphabet = std::string("{}[]:,\"\\/ 0123456789.eE+-tfnrulsabdxuD\t\n\x01\x7f") +
                               "\x80\xBF\xC2\xC3\xE0\xED\xEF\xF0\xF4\xF5\xFF";
  std::mt19937 rng(20261202);
  std::size_t valid = 0;
  std::size_t invalid = 0;
  std::size_t unsure = 0;
  for (int round = 0; round < 60000; ++round) {
    std::string text = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 2:
          text.erase(at, 1);
          break;
        default:
          text.resize(at);
      }
    }
    const bool expected = nlohmann_accepts(text);
    const bool quick = quick_json_check(text);
    // Never passes what nlohmann::json refuses (the writer could not parse it).
    ASSERT_TRUE(!quick || expected) << "text: " << text;
    // Leaves to nlohmann::json only numbers that might overflow a double
    // (an edit can make an exponent of 3 digits).
    if (expected && !quick) ++unsure;
    ++(expected ? valid : invalid);
  }
  // Both outcomes were exercised many times, and "not sure" is rare.
  EXPECT_GT(valid, 2000U);
  EXPECT_GT(invalid, 20000U);
  EXPECT_LT(unsure * 100, valid);
}

}  // namespace
}  // namespace ome_writers::detail
