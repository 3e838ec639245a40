// The `sisyphus` command line: turns flags (or a --config file) into config
// structs and calls one function per subcommand. Returns the exit code.
#pragma once

namespace sisyphus::app {

int run_cli(int argc, char** argv);

}  // namespace sisyphus::app
