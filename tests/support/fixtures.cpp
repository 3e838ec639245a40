#include "support/fixtures.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sisyphus::fixtures {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/sisyphus-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::string cmd = "rm -rf '" + path_ + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", path_.c_str());
}

std::vector<uint8_t> pattern_bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 12345u;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x >> 24);
  }
  return out;
}

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gz) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("gzopen " + path);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(static_cast<uint8_t>(x >> 24));
  v.push_back(static_cast<uint8_t>(x >> 16));
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

}  // namespace

void write_idx_images(const std::string& path, int n, int rows, int cols,
                      const std::vector<uint8_t>& pixels, bool gz) {
  std::vector<uint8_t> v;
  put_be32(v, 0x00000803);
  put_be32(v, static_cast<uint32_t>(n));
  put_be32(v, static_cast<uint32_t>(rows));
  put_be32(v, static_cast<uint32_t>(cols));
  v.insert(v.end(), pixels.begin(), pixels.end());
  write_bytes(path, v, gz);
}

void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels, bool gz) {
  std::vector<uint8_t> v;
  put_be32(v, 0x00000801);
  put_be32(v, static_cast<uint32_t>(labels.size()));
  v.insert(v.end(), labels.begin(), labels.end());
  write_bytes(path, v, gz);
}

void write_idx_dataset(const std::string& dir, int n_train, int n_test, bool gz) {
  make_dirs(dir);
  const char* suffix = gz ? ".gz" : "";
  int split = 0;
  for (int n : {n_train, n_test}) {
    std::vector<uint8_t> labels(static_cast<size_t>(n));
    std::vector<uint8_t> pixels = pattern_bytes(static_cast<size_t>(n) * 784, 7 + split);
    for (int i = 0; i < n; ++i) {
      uint8_t label = static_cast<uint8_t>((i * 7 + split) % 10);
      labels[i] = label;
      // A bright 4x4 square whose position encodes the class.
      uint8_t* img = pixels.data() + static_cast<size_t>(i) * 784;
      for (int p = 0; p < 784; ++p) img[p] /= 4;
      int r0 = 2 + (label / 5) * 12, c0 = 2 + (label % 5) * 5;
      for (int r = r0; r < r0 + 4; ++r)
        for (int c = c0; c < c0 + 4; ++c) img[r * 28 + c] = 255;
    }
    std::string prefix = dir + "/" + (split == 0 ? "train" : "t10k");
    write_idx_images(prefix + "-images-idx3-ubyte" + suffix, n, 28, 28, pixels, gz);
    write_idx_labels(prefix + "-labels-idx1-ubyte" + suffix, labels, gz);
    ++split;
  }
}

void write_cifar_file(const std::string& path, const std::vector<std::vector<uint8_t>>& labels,
                      const std::vector<uint8_t>& pixels) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i < labels.size(); ++i) {
    v.insert(v.end(), labels[i].begin(), labels[i].end());
    v.insert(v.end(), pixels.begin() + static_cast<long>(i * 3072),
             pixels.begin() + static_cast<long>((i + 1) * 3072));
  }
  write_bytes(path, v, false);
}

void write_cifar10_dir(const std::string& dir, int per_batch) {
  make_dirs(dir);
  std::vector<std::string> names = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                    "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
  for (size_t f = 0; f < names.size(); ++f) {
    std::vector<std::vector<uint8_t>> labels;
    for (int i = 0; i < per_batch; ++i) labels.push_back({static_cast<uint8_t>((i + f) % 10)});
    write_cifar_file(dir + "/" + names[f], labels,
                     pattern_bytes(static_cast<size_t>(per_batch) * 3072, 100 + f));
  }
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void make_dirs(const std::string& path) {
  std::string cmd = "mkdir -p '" + path + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("mkdir -p " + path);
}

int run_command(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  output->clear();
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, got);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

data::ImageSet memory_set(int64_t n, int64_t channels, int64_t size, int64_t classes,
                          const std::function<uint8_t(int64_t, int64_t)>& pixel,
                          const std::function<int64_t(int64_t)>& label) {
  data::ImageSet set;
  set.n = n;
  set.channels = channels;
  set.height = set.width = size;
  set.num_classes = classes;
  const int64_t bytes = set.image_bytes();
  set.pixels.resize(static_cast<size_t>(n * bytes));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < bytes; ++k)
      set.pixels[static_cast<size_t>(i * bytes + k)] = pixel(i, k);
    set.labels.push_back(label(i));
  }
  return set;
}

}  // namespace sisyphus::fixtures
