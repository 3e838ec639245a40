// TinyImageNet: packing the standard folder layout into one HDF5 file, and
// reading that file back.
//
// Source layout (tiny-imagenet-200/):
//   wnids.txt                          200 class ids, one per line (label = line index)
//   train/<wnid>/images/*.JPEG         500 images per class, 64x64
//   val/val_annotations.txt            "<file>\t<wnid>\t<x0>\t<y0>\t<x1>\t<y1>"
//   val/images/*.JPEG                  10000 images
// Packed file (see docs/data-format.md):
//   /train/images uint8 [N, 3, 64, 64], /train/labels int64 [N],
//   /val/images, /val/labels likewise; root attributes format="sisyphus-tiny-imagenet",
//   version=1, wnids (newline separated), num_classes.
#pragma once

#include <string>

#include "data/image_set.h"

namespace sisyphus::data {

struct PackStats {
  int64_t train = 0;
  int64_t val = 0;
  int64_t classes = 0;
};

// Decodes every JPEG and writes `out_h5` atomically (temp file + rename).
PackStats pack_tiny_imagenet(const std::string& src_dir, const std::string& out_h5);
// split: "train" or "val".
ImageSet read_tiny_imagenet(const std::string& h5_path, const std::string& split);

}  // namespace sisyphus::data
