// A --config file (INI/TOML) read by the command line of `train` and of
// `quail`, then resolved and checked as those commands do before any work.
// A CLI::ParseError is the command line's clean refusal (one line, exit 2).
#include "command_line/command_line.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sisyphus;
  static const std::string path = fuzz::scratch_path("config.ini");
  fuzz::write_file(path, data, size);
  for (const char* command : {"train", "quail"}) {
    auto cl = app::make_command_line();
    std::string argv0 = "sisyphus", sub = command, flag = "--config", file = path;
    char* argv[] = {argv0.data(), sub.data(), flag.data(), file.data()};
    try {
      cl->app.parse(4, argv);
    } catch (const CLI::ParseError&) {
      continue;
    }
    fuzz::expect_clean([&] {
      if (*cl->train_cmd) train::resolve(cl->train_cfg);
      if (*cl->quail_cmd) train::resolve(cl->quail_cfg);
    });
  }
  return 0;
}
