// A TinyImageNet pack (HDF5, docs/data-format.md): both splits read back.
#include "data/tiny_imagenet.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  static const std::string path = fuzz::scratch_path("tiny.h5");
  fuzz::write_file(path, data, size);
  for (const char* split : {"train", "val"})
    fuzz::expect_clean([&] { data::read_tiny_imagenet(path, split).validate(); });
  return 0;
}
