// Checkpoint loading as eval, fold and cost do it: the file read and
// verified, the network rebuilt from its metadata and its tensors loaded.
#include "fuzz_input.h"
#include "model/saved_network.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  static const std::string path = fuzz::scratch_path("checkpoint.h5");
  fuzz::write_file(path, data, size);
  fuzz::expect_clean([&] { train::load_saved_network(path); });
  return 0;
}
