#include "ome/xml_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ome_writers::detail {
namespace {

using namespace std::string_literals;

TEST(XmlText, OrdinaryTextIsUnchanged) {
  EXPECT_EQ(xml_text("DAPI 405 nm, µm, 日本"), "DAPI 405 nm, µm, 日本");
  EXPECT_EQ(xml_text(R"(C:\data\run1\users)"), R"(C:\data\run1\users)");
  EXPECT_EQ(xml_text("tab\tlf\ncr\r"), "tab\tlf\ncr\r");
  EXPECT_EQ(xml_text(R"(\u12 \uXYZW \U0041 \)"), R"(\u12 \uXYZW \U0041 \)");
  EXPECT_EQ(xml_text("\x7f\xc2\x85"), "\x7f\xc2\x85");  // DEL and NEL are XML 1.0 characters
}

TEST(XmlText, CharactersXmlCannotCarryAreEscaped) {
  EXPECT_EQ(xml_text("a\0b"s), R"(a\u0000b)");
  EXPECT_EQ(xml_text("\x01\x1f"), R"(\u0001\u001F)");
  EXPECT_EQ(xml_text("\xef\xbf\xbe\xef\xbf\xbf"), R"(\uFFFE\uFFFF)");
  EXPECT_EQ(xml_text("\xef\xbf\xbd"), "\xef\xbf\xbd");  // U+FFFD is allowed
}

TEST(XmlText, BackslashesThatLookLikeEscapesAreEscaped) {
  EXPECT_EQ(xml_text(R"(C:\u0041)"), R"(C:\u005Cu0041)");
  EXPECT_EQ(xml_text(R"(\uabcd)"), R"(\u005Cuabcd)");
  EXPECT_EQ(xml_text(R"(\\u0041)"), R"(\\u005Cu0041)");
}

TEST(XmlText, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(xml_text("a\xff"
                     "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(xml_text("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  EXPECT_EQ(xml_text("\xe6\x97"), "\xef\xbf\xbd\xef\xbf\xbd");                  // cut short
}

TEST(XmlText, CarriageReturnsBecomeCharacterReferences) {
  EXPECT_EQ(keep_carriage_returns("<a>x\ry</a>"), "<a>x&#13;y</a>");
  EXPECT_EQ(keep_carriage_returns("<a>xy</a>"), "<a>xy</a>");
}

}  // namespace
}  // namespace ome_writers::detail
