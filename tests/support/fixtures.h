// Test helpers: temporary folders and small files in the real on-disk
// formats (IDX, CIFAR binary, TinyImageNet folders with JPEGs).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/image_set.h"

namespace sisyphus::fixtures {

// A fresh folder under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes.
std::vector<uint8_t> pattern_bytes(size_t n, uint32_t seed);

// IDX files: images [n, rows, cols] and labels [n]; gzip when gz is true.
void write_idx_images(const std::string& path, int n, int rows, int cols,
                      const std::vector<uint8_t>& pixels, bool gz);
void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels, bool gz);
// A Fashion-MNIST-like folder (train-* and t10k-* files) of n_train/n_test 28x28 images
// whose class is readable from the pixels (so a network can learn it).
void write_idx_dataset(const std::string& dir, int n_train, int n_test, bool gz);

// CIFAR binary records: label_bytes label bytes then 3072 pixel bytes each.
void write_cifar_file(const std::string& path, const std::vector<std::vector<uint8_t>>& labels,
                      const std::vector<uint8_t>& pixels);
// A cifar-10-batches-bin folder with `per_batch` images in each of the 6 files.
void write_cifar10_dir(const std::string& dir, int per_batch);

void write_text(const std::string& path, const std::string& text);

// An in-memory image set of n square grey or colour images: pixel byte k of
// image i is pixel(i, k), its label label(i).
data::ImageSet memory_set(int64_t n, int64_t channels, int64_t size, int64_t classes,
                          const std::function<uint8_t(int64_t, int64_t)>& pixel,
                          const std::function<int64_t(int64_t)>& label);
std::string read_text(const std::string& path);
void make_dirs(const std::string& path);

// Runs a shell command; returns its exit status and captures stdout+stderr.
int run_command(const std::string& cmd, std::string* output);

}  // namespace sisyphus::fixtures
