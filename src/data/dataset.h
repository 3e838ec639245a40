// The data sets sisyphus knows: their shapes, normalisation constants, the
// paper's training augmentation, and where their files are by default.
#pragma once

#include <string>
#include <vector>

#include "data/augment.h"
#include "data/image_set.h"

namespace sisyphus::data {

struct DatasetSpec {
  std::string name;         // "fashion-mnist"
  int64_t channels;         // 1
  int64_t size;             // 28 (square images)
  int64_t num_classes;      // 10
  std::vector<float> mean;  // per channel, of pixel/255
  std::vector<float> stdv;  // per channel
  Augment train_augment;    // the paper's augmentation for this data set
  std::string default_dir;  // where `--data-dir` points when not given
};

// Throws Error(kConfig) listing the known names for an unknown one.
const DatasetSpec& dataset_spec(const std::string& name);
std::vector<std::string> dataset_names();

// Reads the train or test split from `dir` in the data set's on-disk format
// and checks that the images have the shape the spec promises.
ImageSet load_split(const DatasetSpec& spec, const std::string& dir, bool train);

}  // namespace sisyphus::data
