#include "data/augment.h"

#include <cmath>
#include <random>

namespace sisyphus::data {

const char* augment_name(Augment a) {
  switch (a) {
    case Augment::kNone:
      return "none";
    case Augment::kCropFlip:
      return "crop4+flip";
    case Augment::kRotateFlip:
      return "rotate20+flip";
  }
  return "?";
}

void prepare_image(const uint8_t* src, int64_t channels, int64_t height, int64_t width,
                   Augment augment, uint64_t seed, const Normalizer& norm, float* dst) {
  const int64_t plane = height * width;
  // Lookup tables: uint8 value -> normalised float, per channel.
  auto to_float = [&](int64_t c, uint8_t v) {
    return (static_cast<float>(v) * (1.0f / 255.0f) - norm.mean[c]) * norm.inv_std[c];
  };
  if (augment == Augment::kNone) {
    for (int64_t c = 0; c < channels; ++c) {
      float lut[256];
      for (int v = 0; v < 256; ++v) lut[v] = to_float(c, static_cast<uint8_t>(v));
      const uint8_t* s = src + c * plane;
      float* d = dst + c * plane;
      for (int64_t p = 0; p < plane; ++p) d[p] = lut[s[p]];
    }
    return;
  }

  std::mt19937_64 rng(seed);
  // For every output pixel, the source pixel index, or -1 for the zero fill.
  // Computed once per image and applied to every channel.
  thread_local std::vector<int64_t> src_index;
  src_index.resize(static_cast<size_t>(plane));
  if (augment == Augment::kCropFlip) {
    constexpr int64_t kPad = 4;
    int64_t dy = static_cast<int64_t>(rng() % (2 * kPad + 1)) - kPad;
    int64_t dx = static_cast<int64_t>(rng() % (2 * kPad + 1)) - kPad;
    bool flip = (rng() >> 63) != 0;
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        int64_t sx = (flip ? width - 1 - x : x) + dx;
        int64_t sy = y + dy;
        bool inside = sx >= 0 && sx < width && sy >= 0 && sy < height;
        src_index[y * width + x] = inside ? sy * width + sx : -1;
      }
    }
  } else {
    // Angle in [-20, 20] degrees from 53 random bits.
    double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
    double angle = (u * 40.0 - 20.0) * M_PI / 180.0;
    bool flip = (rng() >> 63) != 0;
    double cs = std::cos(angle), sn = std::sin(angle);
    double cy = (height - 1) * 0.5, cx = (width - 1) * 0.5;
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        // Inverse rotation of the output pixel (after the flip) into the source.
        double ox = (flip ? width - 1 - x : x) - cx, oy = y - cy;
        int64_t sx = std::lround(cs * ox + sn * oy + cx);
        int64_t sy = std::lround(-sn * ox + cs * oy + cy);
        bool inside = sx >= 0 && sx < width && sy >= 0 && sy < height;
        src_index[y * width + x] = inside ? sy * width + sx : -1;
      }
    }
  }
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* s = src + c * plane;
    float* d = dst + c * plane;
    float fill = to_float(c, 0);
    for (int64_t p = 0; p < plane; ++p) {
      int64_t i = src_index[p];
      d[p] = i < 0 ? fill : to_float(c, s[i]);
    }
  }
}

}  // namespace sisyphus::data
