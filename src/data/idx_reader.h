// Reader for the IDX format of MNIST and Fashion-MNIST
// (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], ...).
// gzip-compressed and plain files are both accepted (zlib reads either).
#pragma once

#include <string>

#include "data/image_set.h"

namespace sisyphus::data {

// Images: magic 0x00000803, dims n, rows, cols, then n*rows*cols bytes.
// Labels: magic 0x00000801, dim n, then n bytes. Throws Error(kData) naming
// the file for a missing, truncated or malformed file or a count mismatch.
ImageSet read_idx(const std::string& images_path, const std::string& labels_path,
                  int64_t num_classes = 10);

// Picks `<dir>/<prefix>-images-idx3-ubyte[.gz]` and the matching labels file;
// prefix is "train" or "t10k".
ImageSet read_idx_dir(const std::string& dir, bool train, int64_t num_classes = 10);

}  // namespace sisyphus::data
