// Readers for the CIFAR-10 and CIFAR-100 binary versions.
//
// CIFAR-10 (cifar-10-batches-bin/): data_batch_1..5.bin and test_batch.bin,
// each 10000 records of <1 byte label><3072 bytes: 1024 R, 1024 G, 1024 B>.
// CIFAR-100 (cifar-100-binary/): train.bin (50000) and test.bin (10000),
// records of <1 byte coarse label><1 byte fine label><3072 bytes>; we use
// the fine label (100 classes).
#pragma once

#include <string>
#include <vector>

#include "data/image_set.h"

namespace sisyphus::data {

// Reads and concatenates whole-record files; throws Error(kData) naming the
// file for a missing file, a size that is not a whole number of records, or
// a label out of range.
ImageSet read_cifar_files(const std::vector<std::string>& files, int label_bytes,
                          int64_t num_classes);
ImageSet read_cifar10(const std::string& dir, bool train);
ImageSet read_cifar100(const std::string& dir, bool train);

}  // namespace sisyphus::data
