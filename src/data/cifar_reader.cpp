#include "data/cifar_reader.h"

#include <cstdio>
#include <memory>

#include "core/error.h"

namespace sisyphus::data {
namespace {
constexpr int64_t kImageBytes = 3 * 32 * 32;
}

ImageSet read_cifar_files(const std::vector<std::string>& files, int label_bytes,
                          int64_t num_classes) {
  ImageSet set;
  set.channels = 3;
  set.height = 32;
  set.width = 32;
  set.num_classes = num_classes;
  set.source = files.empty() ? "" : files.front();
  const int64_t record = label_bytes + kImageBytes;
  for (const auto& path : files) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) SISYPHUS_FAIL(ErrorKind::kData, "cannot open '" + path + "': no such file");
    if (std::fseek(f.get(), 0, SEEK_END) != 0) {
      SISYPHUS_FAIL(ErrorKind::kData, "cannot seek in '" + path + "'");
    }
    long size = std::ftell(f.get());
    std::rewind(f.get());
    if (size <= 0 || size % record != 0) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + path + "' has " + std::to_string(size) +
                                          " bytes, not a whole number of " +
                                          std::to_string(record) +
                                          "-byte CIFAR records (truncated or wrong format?)");
    }
    std::vector<uint8_t> raw(static_cast<size_t>(size));
    if (std::fread(raw.data(), 1, raw.size(), f.get()) != raw.size()) {
      SISYPHUS_FAIL(ErrorKind::kData, "short read from '" + path + "'");
    }
    int64_t count = size / record;
    set.pixels.reserve(set.pixels.size() + static_cast<size_t>(count * kImageBytes));
    for (int64_t i = 0; i < count; ++i) {
      const uint8_t* rec = raw.data() + i * record;
      int64_t label = rec[label_bytes - 1];  // CIFAR-100: the fine label is the second byte
      if (label >= num_classes) {
        SISYPHUS_FAIL(ErrorKind::kData, "'" + path + "': record " + std::to_string(i) +
                                            " has label " + std::to_string(label) +
                                            ", outside [0, " + std::to_string(num_classes) + ")");
      }
      set.labels.push_back(label);
      set.pixels.insert(set.pixels.end(), rec + label_bytes, rec + record);
    }
    set.n += count;
  }
  set.validate();
  return set;
}

ImageSet read_cifar10(const std::string& dir, bool train) {
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  return read_cifar_files(files, /*label_bytes=*/1, /*num_classes=*/10);
}

ImageSet read_cifar100(const std::string& dir, bool train) {
  return read_cifar_files({dir + (train ? "/train.bin" : "/test.bin")}, /*label_bytes=*/2,
                          /*num_classes=*/100);
}

}  // namespace sisyphus::data
