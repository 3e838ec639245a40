// sisyphus: the command-line entry point. All work happens in app::run_cli.
#include "app/cli.h"

int main(int argc, char** argv) { return sisyphus::app::run_cli(argc, argv); }
