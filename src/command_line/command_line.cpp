#include "command_line/command_line.h"

#include <type_traits>
#include <variant>

#include "settings/settings.h"

namespace sisyphus::app {
namespace {

// CLI11 2.1 prints an on/off pair as "--augment,--no-augment{false}" (the
// value the negated name stores); the help text already says the default.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    std::string name = CLI::Formatter::make_option_name(opt, positional);
    for (const char* stored : {"{false}", "{true}"})
      for (size_t at; (at = name.find(stored)) != std::string::npos;)
        name.erase(at, std::string(stored).size());
    return name;
  }
};

// Every row of a command's settings table (settings/settings.h) as a flag:
// on/off settings as --name and its negation, the others as --name VALUE.
template <class C>
void bind_settings(CLI::App* cmd, const std::vector<train::Setting<C>>& table, C& cfg) {
  static C defaults{};  // static: GCC 12 otherwise warns (falsely) of its strings uninitialised
  for (const auto& row : table) {
    std::visit(
        [&](auto* value) {
          using T = std::remove_pointer_t<decltype(value)>;
          if constexpr (std::is_same_v<T, bool>) {
            const bool on = *std::get<bool*>(row.field(defaults));
            cmd->add_flag("--" + row.name + ",!--" + row.negation, *value,
                          row.help + " (default: " + (on ? "on" : "off") + ")");
          } else {
            CLI::Option* opt = cmd->add_option("--" + row.name, *value, row.help);
            if (row.required) opt->required();
          }
        },
        row.field(cfg));
  }
}

// A subcommand whose flags are the rows of its settings table.
template <class C>
CLI::App* add_table_command(CLI::App& app, const std::string& name, const std::string& help,
                            const std::vector<train::Setting<C>>& table, C& cfg) {
  CLI::App* cmd = app.add_subcommand(name, help);
  bind_settings(cmd, table, cfg);
  return cmd;
}

}  // namespace

std::unique_ptr<CommandLine> make_command_line() {
  auto out = std::make_unique<CommandLine>();
  CommandLine& c = *out;
  CLI::App& app = c.app;
  // A flag given twice takes the last value, as with argparse.
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands, which inherit it
  app.set_config("--config", "", "Read settings from a TOML/INI file ([train] section for train)");
  bool& verbose = c.verbose;
  app.add_flag("--verbose", verbose, "Also log how the process was set up (allocator tuning, ...)");
  app.require_subcommand(1);

  c.train_cmd = add_table_command(
      app, "train",
      "Train a network from scratch: the ReLU baseline, or with --act a polynomial one",
      train::train_settings(), c.train_cfg);

  c.eval_cmd = add_table_command(app, "eval", "Evaluate a checkpoint on its test set",
                                 train::eval_settings(), c.eval_cfg);

  CLI::App* trace_cmd = app.add_subcommand("trace", "Analyse activation traces (trace.h5 files)");
  trace_cmd->require_subcommand(1);
  std::string& trace_file = c.trace_file;
  std::string& plot_out = c.plot_out;
  std::string& plot_title = c.plot_title;
  std::vector<std::string>& trace_files = c.trace_files;
  CLI::App* summary_cmd = c.summary_cmd = trace_cmd->add_subcommand(
      "summary",
      "Per layer max |x| (last evaluation, worst seen), growth, first NaN/Inf, escaping verdict");
  summary_cmd->add_option("file", trace_file, "Trace file")->required();
  CLI::App* compare_cmd = c.compare_cmd =
      trace_cmd->add_subcommand("compare", "The per-layer max |x| of several runs side by side");
  compare_cmd->add_option("files", trace_files, "Trace files")->required();
  CLI::App* plot_cmd = c.plot_cmd = trace_cmd->add_subcommand(
      "plot", "PNG of log10(max |x|) per layer, one line per run and mode (gnuplot)");
  plot_cmd->add_option("files", trace_files, "Trace files")->required();
  plot_cmd->add_option("--out", plot_out, "PNG to write");
  plot_cmd->add_option("--title", plot_title, "Figure title");
  CLI::App* watch_cmd = c.watch_cmd = trace_cmd->add_subcommand(
      "watch",
      "Follow a trace while a run writes it: each new record's per-layer max |x| as it arrives "
      "(waits for the file; ends when the run closes it or is gone, or on Ctrl-C)");
  watch_cmd->add_option("file", trace_file, "Trace file")->required();
  watch_cmd->add_option("--interval", c.watch_interval, "Seconds between looks at the file")
      ->check(CLI::PositiveNumber);

  c.quail_cmd = add_table_command(
      app, "quail",
      "QuaIL: imitate a ReLU teacher layer by layer with polynomial activations, then fine-tune",
      train::quail_settings(), c.quail_cfg);

  c.fold_cmd = add_table_command(
      app, "fold",
      "Write a checkpoint's deployable form: BN folded into the conv/linear weights, each "
      "activation (AMM included) one polynomial per channel; no batch statistics at inference (a "
      "folded checkpoint, trained further: its weights without the training state)",
      train::fold_settings(), c.fold_cfg);

  c.cost_cmd = add_table_command(
      app, "cost",
      "Multiplicative depth (CKKS levels) and ct-ct / pt-ct multiplications of a checkpoint's "
      "inference, per layer and in total, beside ReLU composites (rules: docs/beyond.md)",
      train::cost_settings(), c.cost_cfg);

  CLI::App* data_cmd = app.add_subcommand("data", "Data set tools");
  data_cmd->require_subcommand(1);
  std::string& tiny_src = c.tiny_src;
  std::string& tiny_out = c.tiny_out;
  CLI::App* pack_cmd = c.pack_cmd =
      data_cmd->add_subcommand("pack-tiny", "Pack a tiny-imagenet-200 folder into one HDF5 file");
  pack_cmd->add_option("source", tiny_src, "The tiny-imagenet-200 folder")->required();
  pack_cmd->add_option("--out", tiny_out, "Output HDF5 file");

  CLI::App* ckpt_cmd = app.add_subcommand("checkpoint", "Checkpoint tools");
  ckpt_cmd->require_subcommand(1);
  c.seal_cmd = ckpt_cmd->add_subcommand(
      "seal",
      "Add the content checksum to a version-1 checkpoint (written before checksums, refused "
      "until sealed): do it only for a file you trust");
  c.seal_cmd->add_option("file", c.seal_file, "The checkpoint (.h5)")->required();
  return out;
}

}  // namespace sisyphus::app
