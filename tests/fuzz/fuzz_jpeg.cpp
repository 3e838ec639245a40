// The JPEG decoder that packs TinyImageNet's images.
#include "data/jpeg.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  static const std::string path = fuzz::scratch_path("image.JPEG");
  fuzz::write_file(path, data, size);
  fuzz::expect_clean([&] {
    data::RgbImage im = data::decode_jpeg_file(path);
    if (im.pixels.size() != static_cast<size_t>(im.width) * im.height * 3) std::abort();
  });
  return 0;
}
