// An in-memory image classification split: uint8 pixels in [n, c, h, w]
// (planar, C order) and int64 labels. Every reader returns one; nothing here
// depends on torch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sisyphus::data {

struct ImageSet {
  int64_t n = 0;         // images, e.g. 60000
  int64_t channels = 0;  // 1 (grey) or 3 (RGB)
  int64_t height = 0;    // e.g. 28
  int64_t width = 0;     // e.g. 28
  int64_t num_classes = 0;
  std::vector<uint8_t> pixels;  // [n, channels, height, width]
  std::vector<int64_t> labels;  // [n], each in [0, num_classes)
  std::string source;           // file or folder it came from, for messages

  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
  // Throws Error(kData) naming `source` when sizes disagree or a label is out of range.
  void validate() const;
  // Keeps the first `count` images (count <= 0 keeps all).
  void truncate(int64_t count);
};

}  // namespace sisyphus::data
