// JPEG decode/encode with libjpeg-turbo, for packing TinyImageNet and for
// tests that generate JPEG files. Decoding always yields RGB (grey JPEGs,
// which TinyImageNet contains, are expanded to three channels).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sisyphus::data {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3], interleaved
};

// Throws Error(kData) naming the file if it is missing or not a valid JPEG.
RgbImage decode_jpeg_file(const std::string& path);
// Writes interleaved RGB (channels 3) or grey (channels 1) pixels as a JPEG.
void encode_jpeg_file(const std::string& path, const uint8_t* pixels, int width, int height,
                      int channels, int quality = 95);

}  // namespace sisyphus::data
