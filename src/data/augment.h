// Per-image preparation: the paper's augmentations on uint8 pixels, then
// per-channel normalisation to float. Pure functions of (image, seed), so the
// same sample gets the same augmentation on any rank count and after resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sisyphus::data {

enum class Augment {
  kNone,        // normalise only (MNIST, Fashion-MNIST, and all test splits)
  kCropFlip,    // CIFAR: random crop 32 from zero padding 4, horizontal flip p=0.5
  kRotateFlip,  // TinyImageNet: rotation uniform in [-20, 20] degrees (nearest,
                // zero fill), then horizontal flip p=0.5
};

const char* augment_name(Augment a);

struct Normalizer {
  const float* mean;     // [channels]
  const float* inv_std;  // [channels], 1 / std
};

// src: uint8 [c, h, w]; dst: float [c, h, w] = (aug(src)/255 - mean) * inv_std.
void prepare_image(const uint8_t* src, int64_t channels, int64_t height, int64_t width,
                   Augment augment, uint64_t seed, const Normalizer& norm, float* dst);

}  // namespace sisyphus::data
