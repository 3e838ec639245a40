#include "data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace sisyphus::data {
namespace {

// A gzFile that closes itself; reads plain files transparently.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    if (!fs::file_exists(path)) {
      SISYPHUS_FAIL(ErrorKind::kData, "cannot open '" + path + "': no such file");
    }
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) SISYPHUS_FAIL(ErrorKind::kData, "gzopen failed for '" + path + "'");
  }
  ~GzReader() {
    if (file_) gzclose(file_);
  }
  // Reads exactly `size` bytes or throws naming the file; `before` and
  // `total` place them in a longer read for the message.
  void read(void* out, size_t size, const char* what, size_t before = 0, size_t total = 0) {
    auto* dst = static_cast<unsigned char*>(out);
    size_t done = 0;
    while (done < size) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
      int got = gzread(file_, dst + done, chunk);
      if (got < 0) {
        int errnum = 0;
        const char* msg = gzerror(file_, &errnum);
        SISYPHUS_FAIL(ErrorKind::kData,
                      "'" + path_ + "' is corrupt while reading " + what + ": " + msg);
      }
      if (got == 0) {
        SISYPHUS_FAIL(ErrorKind::kData, "'" + path_ + "' is truncated: it ends inside the " + what +
                                            " (" + std::to_string(before + done) + " of " +
                                            std::to_string(total ? total : size) + " bytes)");
      }
      done += static_cast<size_t>(got);
    }
  }
  // Reads exactly `size` bytes into `out`, growing it as the data arrives:
  // a header that claims more than the file holds (gzip hides the true size)
  // costs no more memory than the file before it is refused as truncated.
  void read_vector(std::vector<uint8_t>& out, size_t size, const char* what) {
    constexpr size_t kStep = size_t(64) << 20;
    out.clear();
    while (out.size() < size) {
      const size_t at = out.size();
      out.resize(at + std::min(kStep, size - at));
      read(out.data() + at, out.size() - at, what, at, size);
    }
  }
  uint32_t read_be32(const char* what) {
    std::array<unsigned char, 4> b{};
    read(b.data(), 4, what);
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

std::string pick(const std::string& base) {
  if (fs::file_exists(base + ".gz")) return base + ".gz";
  return base;  // a missing file is reported by the reader with this name
}

}  // namespace

ImageSet read_idx(const std::string& images_path, const std::string& labels_path,
                  int64_t num_classes) {
  ImageSet set;
  set.source = images_path;
  set.num_classes = num_classes;
  {
    GzReader in(images_path);
    uint32_t magic = in.read_be32("header");
    if (magic != 0x00000803u) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + images_path + "' is not an IDX image file (magic " +
                                          std::to_string(magic) + ", expected 2051)");
    }
    uint32_t n = in.read_be32("header");
    uint32_t rows = in.read_be32("header");
    uint32_t cols = in.read_be32("header");
    if (n == 0 || rows == 0 || cols == 0 || rows > 4096 || cols > 4096) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + images_path + "' has implausible dimensions " +
                                          std::to_string(n) + "x" + std::to_string(rows) + "x" +
                                          std::to_string(cols));
    }
    set.n = n;
    set.channels = 1;
    set.height = rows;
    set.width = cols;
    in.read_vector(set.pixels, static_cast<size_t>(set.n * set.image_bytes()), "pixel data");
  }
  {
    GzReader in(labels_path);
    uint32_t magic = in.read_be32("header");
    if (magic != 0x00000801u) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + labels_path + "' is not an IDX label file (magic " +
                                          std::to_string(magic) + ", expected 2049)");
    }
    uint32_t n = in.read_be32("header");
    if (static_cast<int64_t>(n) != set.n) {
      SISYPHUS_FAIL(ErrorKind::kData, "'" + labels_path + "' holds " + std::to_string(n) +
                                          " labels but '" + images_path + "' holds " +
                                          std::to_string(set.n) + " images");
    }
    std::vector<uint8_t> raw;
    in.read_vector(raw, n, "label data");
    set.labels.assign(raw.begin(), raw.end());
  }
  set.source = images_path;
  set.validate();
  return set;
}

ImageSet read_idx_dir(const std::string& dir, bool train, int64_t num_classes) {
  std::string prefix = dir + "/" + (train ? "train" : "t10k");
  return read_idx(pick(prefix + "-images-idx3-ubyte"), pick(prefix + "-labels-idx1-ubyte"),
                  num_classes);
}

}  // namespace sisyphus::data
