// A trace file read back and summarised, as `sisyphus trace summary` does.
#include "fuzz_input.h"
#include "trace/reader.h"
#include "trace/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  static const std::string path = fuzz::scratch_path("trace.h5");
  fuzz::write_file(path, data, size);
  fuzz::expect_clean([&] { trace::summary(trace::read_trace(path)); });
  return 0;
}
