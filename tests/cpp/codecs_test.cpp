#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <regex>
#include <vector>

#include "codec/codecs.hpp"
#include "ome_writers/errors.hpp"
#include "ome_writers/stream.hpp"

namespace ome_writers::detail {
namespace {

TEST(DependencyVersions, NamesEachLibraryWithADottedVersion) {
  const auto versions = dependency_versions();
  std::vector<std::string> names;
  const std::regex dotted(R"(\d+\.\d+(\.\d+)*)");
  for (const auto& [name, value] : versions) {
    names.push_back(name);
    EXPECT_TRUE(std::regex_match(value, dotted)) << name << ": '" << value << "'";
  }
  EXPECT_EQ(names, (std::vector<std::string>{"libtiff", "zstd", "blosc", "libdeflate", "pugixml"}));
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // The CRC-32C check value of "123456789" (RFC 3720 appendix B.4).
  const char* text = "123456789";
  EXPECT_EQ(crc32c(text, std::strlen(text)), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32c, IsIncremental) {
  std::vector<unsigned char> data(1000);
  std::iota(data.begin(), data.end(), 0);
  const auto whole = crc32c(data.data(), data.size());
  const auto first = crc32c(data.data(), 333);
  EXPECT_EQ(crc32c(data.data() + 333, data.size() - 333, first), whole);
}

class CodecRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CodecRoundTrip, DecodesToTheSameBytes) {
  const ChunkCodec codec(GetParam(), DataType::kUInt16);
  std::vector<std::uint16_t> data(64 * 64);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint16_t>(i % 251 * 7);
  AlignedBuffer encoded;
  codec.encode(data.data(), data.size() * 2, encoded);
  if (GetParam() != Compression::kNone) EXPECT_LT(encoded.size(), data.size() * 2);
  std::vector<std::uint16_t> back(data.size());
  codec.decode(encoded.data(), encoded.size(), back.data(), back.size() * 2);
  EXPECT_EQ(back, data);
}

INSTANTIATE_TEST_SUITE_P(AllZarrCodecs, CodecRoundTrip,
                         ::testing::Values(Compression::kNone, Compression::kBloscZstd,
                                           Compression::kBloscLz4, Compression::kZstd));

TEST(ChunkCodec, DescribesItselfAsZarrJson) {
  EXPECT_EQ(ChunkCodec(Compression::kNone, DataType::kUInt8).codec_json(), "");
  // Integers: bit shuffle, clevel 2; floats: byte shuffle, clevel 3.
  EXPECT_EQ(
      ChunkCodec(Compression::kBloscZstd, DataType::kUInt16).codec_json(),
      R"({"name":"blosc","configuration":{"cname":"zstd","clevel":2,"shuffle":"bitshuffle","typesize":2,"blocksize":0}})");
  EXPECT_EQ(
      ChunkCodec(Compression::kBloscZstd, DataType::kFloat64).codec_json(),
      R"({"name":"blosc","configuration":{"cname":"zstd","clevel":3,"shuffle":"shuffle","typesize":8,"blocksize":0}})");
  EXPECT_EQ(
      ChunkCodec(Compression::kBloscLz4, DataType::kFloat32).codec_json(),
      R"({"name":"blosc","configuration":{"cname":"lz4","clevel":5,"shuffle":"shuffle","typesize":4,"blocksize":0}})");
  EXPECT_EQ(ChunkCodec(Compression::kZstd, DataType::kUInt16).codec_json(),
            R"({"name":"zstd","configuration":{"level":1,"checksum":false}})");
  // An explicit level wins.
  EXPECT_EQ(
      ChunkCodec(Compression::kBloscLz4, DataType::kUInt8, 9).codec_json(),
      R"({"name":"blosc","configuration":{"cname":"lz4","clevel":9,"shuffle":"bitshuffle","typesize":1,"blocksize":0}})");
  EXPECT_EQ(ChunkCodec(Compression::kZstd, DataType::kInt32, 7).codec_json(),
            R"({"name":"zstd","configuration":{"level":7,"checksum":false}})");
}

TEST(ChunkCodec, BitShuffledBloscRoundTripsEveryIntegerWidth) {
  for (const DataType dtype :
       {DataType::kUInt8, DataType::kInt16, DataType::kUInt32, DataType::kInt64, DataType::kBool}) {
    const ChunkCodec codec(Compression::kBloscZstd, dtype);
    std::vector<std::uint8_t> in(64 * 1024 + 24);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>((i * 7) % 13);
    if (dtype == DataType::kBool) {
      for (auto& v : in) v &= 1;
    }
    AlignedBuffer encoded;
    codec.encode(in.data(), in.size(), encoded);
    EXPECT_LT(encoded.size(), in.size());
    std::vector<std::uint8_t> out(in.size());
    codec.decode(encoded.data(), encoded.size(), out.data(), out.size());
    EXPECT_EQ(out, in) << dtype_name(dtype);
  }
}

TEST(ChunkCodec, RejectsCorruptInput) {
  const ChunkCodec codec(Compression::kZstd, DataType::kUInt8);
  std::vector<std::byte> junk(16, std::byte{0x5a});
  std::vector<std::byte> out(100);
  EXPECT_THROW(codec.decode(junk.data(), junk.size(), out.data(), out.size()), Error);
}

}  // namespace
}  // namespace ome_writers::detail
