// The `sisyphus` command line as CLI11 objects bound to the config structs
// (one row per setting, settings/settings.h). Built here, parsed and run by
// app/cli.cpp; apart so that a command line or config file can be parsed
// without running anything (tests/fuzz/fuzz_config.cpp).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "settings/checkpoint_config.h"
#include "settings/config.h"

namespace sisyphus::app {

struct CommandLine {
  CLI::App app{
      "sisyphus: distributed training of networks with polynomial activations "
      "(Garimella, Jha, Reagen 2021)"};
  bool verbose = false;
  // Each subcommand, and the settings its flags (or a --config file) fill.
  CLI::App* train_cmd = nullptr;
  train::TrainConfig train_cfg;
  CLI::App* eval_cmd = nullptr;
  train::EvalConfig eval_cfg;
  CLI::App* quail_cmd = nullptr;
  train::QuailConfig quail_cfg;
  CLI::App* fold_cmd = nullptr;
  train::FoldConfig fold_cfg;
  CLI::App* cost_cmd = nullptr;
  train::CostConfig cost_cfg;
  CLI::App* summary_cmd = nullptr;  // trace summary FILE
  CLI::App* watch_cmd = nullptr;    // trace watch FILE
  double watch_interval = 1.0;
  CLI::App* compare_cmd = nullptr;  // trace compare FILES
  CLI::App* plot_cmd = nullptr;     // trace plot FILES
  std::string trace_file;
  std::vector<std::string> trace_files;
  std::string plot_out = "escaping.png";
  std::string plot_title = "max |x| per layer";
  CLI::App* pack_cmd = nullptr;  // data pack-tiny SOURCE
  CLI::App* seal_cmd = nullptr;  // checkpoint seal FILE
  std::string seal_file;
  std::string tiny_src;
  std::string tiny_out = "datasets/tiny-imagenet.h5";
};

// On the heap: the subcommand pointers and the bound fields must not move.
std::unique_ptr<CommandLine> make_command_line();

}  // namespace sisyphus::app
