#include "data/dataset.h"

#include "core/error.h"
#include "data/cifar_reader.h"
#include "data/idx_reader.h"
#include "data/tiny_imagenet.h"

namespace sisyphus::data {
namespace {

// Normalisation as the paper's reference implementation: CIFAR-10 with the
// data set's true per-channel std (0.2470, 0.2435, 0.2616; not the widely
// copied 0.2023, 0.1994, 0.2010), TinyImageNet with ImageNet's mean and std.
// CIFAR-100 uses its own statistics; Fashion-MNIST and MNIST theirs.
const std::vector<DatasetSpec>& specs() {
  static const std::vector<DatasetSpec> kSpecs = {
      {"fashion-mnist",
       1,
       28,
       10,
       {0.2860f},
       {0.3530f},
       Augment::kNone,
       "/usr/share/datasets/fashion-mnist"},
      {"mnist", 1, 28, 10, {0.1307f}, {0.3081f}, Augment::kNone, "datasets/mnist"},
      {"cifar10",
       3,
       32,
       10,
       {0.4914f, 0.4822f, 0.4465f},
       {0.2470f, 0.2435f, 0.2616f},
       Augment::kCropFlip,
       "datasets/cifar-10-batches-bin"},
      {"cifar100",
       3,
       32,
       100,
       {0.5071f, 0.4865f, 0.4409f},
       {0.2673f, 0.2564f, 0.2762f},
       Augment::kCropFlip,
       "datasets/cifar-100-binary"},
      {"tiny-imagenet",
       3,
       64,
       200,
       {0.485f, 0.456f, 0.406f},
       {0.229f, 0.224f, 0.225f},
       Augment::kRotateFlip,
       "datasets/tiny-imagenet.h5"},
  };
  return kSpecs;
}

}  // namespace

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& s : specs()) names.push_back(s.name);
  return names;
}

const DatasetSpec& dataset_spec(const std::string& name) {
  for (const auto& s : specs())
    if (s.name == name) return s;
  std::string known;
  for (const auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  SISYPHUS_FAIL(ErrorKind::kConfig, "unknown data set '" + name + "' (known: " + known + ")");
}

ImageSet load_split(const DatasetSpec& spec, const std::string& dir, bool train) {
  ImageSet set;
  if (spec.name == "fashion-mnist" || spec.name == "mnist") {
    set = read_idx_dir(dir, train, spec.num_classes);
  } else if (spec.name == "cifar10") {
    set = read_cifar10(dir, train);
  } else if (spec.name == "cifar100") {
    set = read_cifar100(dir, train);
  } else {
    set = read_tiny_imagenet(dir, train ? "train" : "val");
  }
  if (set.channels != spec.channels || set.height != spec.size || set.width != spec.size ||
      set.num_classes != spec.num_classes) {
    SISYPHUS_FAIL(ErrorKind::kData,
                  "'" + set.source + "' holds " + std::to_string(set.channels) + "x" +
                      std::to_string(set.height) + "x" + std::to_string(set.width) + " images of " +
                      std::to_string(set.num_classes) + " classes, but " + spec.name + " expects " +
                      std::to_string(spec.channels) + "x" + std::to_string(spec.size) + "x" +
                      std::to_string(spec.size) + " and " + std::to_string(spec.num_classes));
  }
  return set;
}

}  // namespace sisyphus::data
