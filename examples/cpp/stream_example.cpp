// Streams a small time-lapse to OME-Zarr and OME-TIFF from C++, the way a
// camera program would: fill the settings, append frames (copied, then
// borrowed from the program's own buffers without a copy), close.
//
//   stream_example OUTPUT_DIR
//   stream_example --help
#include <ome_writers/ome_writers.hpp>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::string usage =
      "usage: stream_example OUTPUT_DIR\n"
      "Streams a small time-lapse (2 channels, 64x48 uint16) to OUTPUT_DIR/cpp_example.ome.zarr\n"
      "and OUTPUT_DIR/cpp_example.ome.tiff.\n";
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << usage;
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    std::cerr << usage;
    return 2;
  }
  const std::string out = argv[1];
  using namespace ome_writers;
  for (FileFormat format : {FileFormat::kOmeZarr, FileFormat::kOmeTiff}) {
    StreamSettings s;
    s.root_path = out + "/cpp_example";
    s.format.name = format;
    s.format.suffix = format == FileFormat::kOmeZarr ? ".ome.zarr" : ".ome.tiff";
    s.overwrite = true;
    s.dtype = DataType::kUInt16;
    Dimension t;
    t.name = "t";
    t.type = DimensionType::kTime;  // unbounded: count stays empty
    Dimension c;
    c.name = "c";
    c.count = 2;
    c.type = DimensionType::kChannel;
    c.channels = {Channel{"DAPI"}, Channel{"GFP"}};
    Dimension y;
    y.name = "y";
    y.count = 64;
    y.type = DimensionType::kSpace;
    Dimension x = y;
    x.name = "x";
    x.count = 48;
    s.dimensions = {t, c, y, x};
    try {
      Stream stream(s);
      std::vector<std::uint16_t> frame(64 * 48);
      // Frame i holds the value i everywhere: the verifier checks each frame's place.
      for (std::uint16_t i = 0; i < 3; ++i) {
        std::fill(frame.begin(), frame.end(), i);  // one buffer, reused: append copies it
        stream.append(frame.data(), frame.size() * sizeof(std::uint16_t),
                      "{\"frame\": " + std::to_string(i) + "}");
      }
      // Zero-copy: each frame stays in its own buffer until the stream releases it.
      std::vector<std::vector<std::uint16_t>> grabbed(3, std::vector<std::uint16_t>(64 * 48));
      std::atomic<int> released{0};
      for (std::uint16_t i = 3; i < 6; ++i) {
        auto& buffer = grabbed[i - 3];
        std::fill(buffer.begin(), buffer.end(), i);
        stream.append_borrowed(buffer.data(), buffer.size() * sizeof(std::uint16_t),
                               "{\"frame\": " + std::to_string(i) + "}",
                               [&released] { ++released; });
      }
      stream.close();
      if (released != 3) {
        std::cerr << "expected 3 borrowed frames released, got " << released << "\n";
        return 1;
      }
      std::cout << "wrote " << stream.output_path() << "\n";
    } catch (const Error& e) {
      std::cerr << "ome_writers error (" << error_code_name(e.code()) << "): " << e.what() << "\n";
      return 1;
    }
  }
  return 0;
}
