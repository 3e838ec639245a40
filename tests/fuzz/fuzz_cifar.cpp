// CIFAR-10 and CIFAR-100 binary batches: the first byte of the input picks
// the format (even: CIFAR-10, 1 label byte; odd: CIFAR-100, 2), the rest is
// the file.
#include "data/cifar_reader.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  if (size < 1) return 0;
  const bool cifar100 = data[0] & 1;
  static const std::string path = fuzz::scratch_path("batch.bin");
  fuzz::write_file(path, data + 1, size - 1);
  fuzz::expect_clean([&] {
    data::ImageSet set = data::read_cifar_files({path}, cifar100 ? 2 : 1, cifar100 ? 100 : 10);
    set.validate();
  });
  return 0;
}
