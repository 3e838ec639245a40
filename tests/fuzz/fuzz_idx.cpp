// IDX (MNIST, Fashion-MNIST) images and labels files, plain or gzip: the
// first two bytes of the input say where the images file ends and the labels
// file begins.
#include <algorithm>

#include "data/idx_reader.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  if (size < 2) return 0;
  const size_t rest = size - 2;
  const size_t split = std::min<size_t>(rest, data[0] | (data[1] << 8));
  static const std::string images = fuzz::scratch_path("images-idx3-ubyte");
  static const std::string labels = fuzz::scratch_path("labels-idx1-ubyte");
  fuzz::write_file(images, data + 2, split);
  fuzz::write_file(labels, data + 2 + split, rest - split);
  fuzz::expect_clean([&] {
    data::ImageSet set = data::read_idx(images, labels);
    set.validate();
  });
  return 0;
}
