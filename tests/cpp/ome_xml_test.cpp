#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "ome/ome_xml.hpp"
#include "test_support.hpp"

namespace ome_writers::detail {
namespace {

using ome_writers::testing::dim;
using ome_writers::testing::settings;
using T = DimensionType;

TEST(OmeXml, DimensionOrderFollowsAcquisitionOrder) {
  auto order = [](std::vector<Dimension> dims) {
    return tiff_dimension_order(Layout(settings(std::move(dims), FileFormat::kOmeTiff)));
  };
  EXPECT_EQ(order({dim("t", 2, T::kTime), dim("y", 4), dim("x", 4)}), "XYTCZ");
  EXPECT_EQ(order({dim("t", 2, T::kTime), dim("c", 2, T::kChannel), dim("z", 2, T::kSpace),
                   dim("y", 4), dim("x", 4)}),
            "XYZCT");
  EXPECT_EQ(order({dim("t", 2, T::kTime), dim("z", 2, T::kSpace), dim("c", 2, T::kChannel),
                   dim("y", 4), dim("x", 4)}),
            "XYCZT");
}

TEST(OmeXml, PixelTypesCoverOmeAndRejectTheRest) {
  EXPECT_EQ(*ome_pixel_type(DataType::kFloat32), "float");
  EXPECT_EQ(*ome_pixel_type(DataType::kFloat64), "double");
  EXPECT_EQ(*ome_pixel_type(DataType::kBool), "bit");
  EXPECT_EQ(*ome_pixel_type(DataType::kComplex128), "double-complex");
  EXPECT_FALSE(ome_pixel_type(DataType::kInt64).has_value());
  EXPECT_FALSE(ome_pixel_type(DataType::kUInt64).has_value());
}

TEST(OmeXml, UnitSymbols) {
  EXPECT_EQ(*ome_unit_symbol("micrometer"), "µm");
  EXPECT_EQ(*ome_unit_symbol("millisecond"), "ms");
  EXPECT_FALSE(ome_unit_symbol("furlong").has_value());
}

TEST(OmeXml, PlanesAnnotationsAndGlobalMetadata) {
  auto x = dim("x", 8, T::kSpace);
  x.scale = 0.5;
  x.unit = "micrometer";
  auto t = dim("t", std::nullopt, T::kTime);
  t.scale = 2.0;
  const auto s = settings({t, dim("y", 8), x}, FileFormat::kOmeTiff);
  const Layout layout(s);
  OmeXmlInput in;
  in.settings = &s;
  in.layout = &layout;
  in.uuid = make_uuid();
  ImageInfo img;
  img.size_t_ = 2;
  img.tiff_data.push_back(TiffDataBlock{0, 2});
  PlaneInfo p = plane_from_metadata(nlohmann::json::parse(
      R"({"delta_t": 0.5, "position_x": 100.5, "temperature": 37.1, "note": "ok"})"));
  p.t = 1;
  p.annotation = 0;
  img.planes.push_back(p);
  in.images.push_back(img);
  in.global_metadata["my_ns"] = nlohmann::json::parse(R"({"a": 1, "b": [1, 2]})");
  const std::string xml = build_ome_xml(in);

  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  auto px = doc.child("OME").child("Image").child("Pixels");
  EXPECT_STREQ(px.attribute("DimensionOrder").value(), "XYTCZ");
  EXPECT_STREQ(px.attribute("SizeT").value(), "2");
  EXPECT_STREQ(px.attribute("PhysicalSizeX").value(), "0.5");
  EXPECT_STREQ(px.attribute("PhysicalSizeXUnit").value(), "µm");
  EXPECT_STREQ(px.attribute("TimeIncrement").value(), "2");
  EXPECT_STREQ(px.attribute("TimeIncrementUnit").value(), "s");
  auto plane = px.child("Plane");
  EXPECT_STREQ(plane.attribute("TheT").value(), "1");
  EXPECT_STREQ(plane.attribute("DeltaT").value(), "0.5");
  EXPECT_STREQ(plane.attribute("PositionX").value(), "100.5");
  EXPECT_STREQ(plane.attribute("PositionXUnit").value(), "µm");
  EXPECT_STREQ(plane.child("AnnotationRef").attribute("ID").value(), "Annotation:0");
  auto sa = doc.child("OME").child("StructuredAnnotations");
  auto first = sa.child("MapAnnotation");
  EXPECT_STREQ(first.attribute("ID").value(), "Annotation:0");
  EXPECT_STREQ(first.child("Value").find_child_by_attribute("M", "K", "note").text().get(), "ok");
  EXPECT_STREQ(first.child("Value").find_child_by_attribute("M", "K", "temperature").text().get(),
               "37.1");
  auto global = first.next_sibling("MapAnnotation");
  EXPECT_STREQ(global.attribute("Namespace").value(), "my_ns");
  EXPECT_STREQ(global.child("Value").find_child_by_attribute("M", "K", "b").text().get(), "[1,2]");
}

TEST(OmeXml, AnyStringReadsBackThroughAnXmlParser) {
  using namespace std::string_literals;
  const std::string odd =
      "a\0b\x01"
      "c\rd\ne\tf\xef\xbf\xbfg"s;
  const std::string kept = "a\\u0000b\\u0001c\rd\ne\tf\\uFFFFg";
  auto s = settings({dim("c", 1, T::kChannel), dim("y", 4), dim("x", 4)}, FileFormat::kOmeTiff);
  s.dimensions[0].channels = {Channel{odd}};
  const Layout layout(s);
  OmeXmlInput in;
  in.settings = &s;
  in.layout = &layout;
  ImageInfo img;
  PlaneInfo p;
  p.extra.emplace_back(odd, odd);
  p.annotation = 0;
  img.planes.push_back(p);
  in.images.push_back(img);
  const std::string xml = build_ome_xml(in);
  EXPECT_EQ(xml.find('\r'), std::string::npos);
  for (char ch = 1; ch < 0x20; ++ch) {
    if (ch != '\t' && ch != '\n') EXPECT_EQ(xml.find(ch), std::string::npos) << int(ch);
  }
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  auto ome = doc.child("OME");
  EXPECT_EQ(ome.child("Image").child("Pixels").child("Channel").attribute("Name").value(), kept);
  auto m = ome.child("StructuredAnnotations").child("MapAnnotation").child("Value").child("M");
  EXPECT_EQ(m.attribute("K").value(), kept);
  EXPECT_EQ(std::string(m.text().get()), kept);
}

TEST(OmeXml, BinaryOnlyPointsAtTheMetadataFile) {
  OmeXmlInput in;
  in.uuid = "urn:uuid:1";
  in.binary_only = std::make_pair(std::string("run.companion.ome"), std::string("urn:uuid:2"));
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(build_ome_xml(in).c_str()));
  auto b = doc.child("OME").child("BinaryOnly");
  EXPECT_STREQ(b.attribute("MetadataFile").value(), "run.companion.ome");
  EXPECT_STREQ(b.attribute("UUID").value(), "urn:uuid:2");
  EXPECT_FALSE(doc.child("OME").child("Image"));
}

TEST(OmeXml, ZarrDocumentIsAFunctionOfItsInputs) {
  std::vector<Dimension> dims{dim("p", 2, T::kPosition), dim("t", 3, T::kTime),
                              dim("c", 2, T::kChannel), dim("y", 4), dim("x", 4)};
  const auto s = settings(dims);
  const Layout layout(s);
  const std::string uuid = "urn:uuid:00000000-0000-4000-8000-000000000001";
  const std::string date = "2026-01-02T03:04:05.000006Z";
  const std::string xml = build_ome_xml_for_zarr(s, layout, uuid, date);
  EXPECT_EQ(xml, build_ome_xml_for_zarr(s, layout, uuid, date));
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  auto ome = doc.child("OME");
  EXPECT_EQ(ome.attribute("UUID").value(), uuid);
  auto image = ome.child("Image");
  EXPECT_EQ(image.child("AcquisitionDate").text().get(), date);
  EXPECT_STREQ(image.child("Pixels").attribute("SizeT").value(), "3");
  EXPECT_STREQ(image.child("Pixels").attribute("SizeC").value(), "2");
  EXPECT_TRUE(image.next_sibling("Image"));
}

TEST(OmeXml, UuidsAreRandomAndWellFormed) {
  const auto a = make_uuid();
  EXPECT_EQ(a.size(), 45u);
  EXPECT_EQ(a.rfind("urn:uuid:", 0), 0u);
  EXPECT_NE(a, make_uuid());
}

}  // namespace
}  // namespace ome_writers::detail
