// The settings tables of `eval`, `fold` and `cost` (settings/settings.h).
#include "nn/amm.h"
#include "settings/settings.h"
#include "settings/settings_table.h"

namespace sisyphus::train {
namespace {
using namespace table;

// The AMM statistics a command uses (nn/amm.h's modes).
Rule<std::string> amm_mode() {
  return [](const std::string& v) {
    for (const auto& n : nn::amm_mode_names())
      if (n == v) return std::string();
    return "unknown AMM inference mode '" + v + "' (known: " + listed(nn::amm_mode_names()) + ")";
  };
}

template <class C>
void add_checkpoint(Table<C>& t, const std::string& help) {
  t.template add<std::string>("checkpoint", help,
                              [](C& c) -> std::string& { return c.checkpoint; });
  t.required();
}

std::vector<Setting<EvalConfig>> make_eval_settings() {
  using C = EvalConfig;
  Table<C> t;
  add_checkpoint(t, "Checkpoint file (.h5)");
  t.add<std::string>("data-dir", "Data folder; empty: the data set's default",
                     [](C& c) -> std::string& { return c.data_dir; });
  t.add<int64_t>(
      "batch-size", "Global evaluation batch, split over the ranks",
      [](C& c) -> int64_t& { return c.batch_size; }, at_least<int64_t>(1));
  add_test_limit<C>(t, [](C& c) -> int64_t& { return c.test_limit; });
  t.add<std::string>(
      "act",
      "Swap every activation before evaluating (drop-in baselines): relu, quad, taylor, "
      "poly:degree=D,range=A, poly:coeffs=c0,c1,..., herpn, cpoly:degree=D[,range=A]; empty: the "
      "checkpoint's own",
      [](C& c) -> std::string& { return c.act; });
  t.add<std::string>(
      "amm-mode",
      "AMM inference statistics: amm (running estimates), mm (true batch min/max), biggest "
      "(the reference code's mode 0: smallest batch min, largest batch range), extreme "
      "(running extremes)",
      [](C& c) -> std::string& { return c.amm_mode; }, amm_mode());
  add_compute(t);
  t.add<std::string>("result-file", "Append a CSV row with the result to this file",
                     [](C& c) -> std::string& { return c.result_file; });
  t.add<std::string>(
      "label", "Label of the CSV row and source name in the trace (default: the checkpoint path)",
      [](C& c) -> std::string& { return c.label; });
  t.add<std::string>(
      "save-logits",
      "Write the normalised inputs, labels and logits (test-set order) to this HDF5 file "
      "(one rank; use --test-limit for big sets)",
      [](C& c) -> std::string& { return c.save_logits; });
  t.add<std::string>(
      "trace",
      "Append per-layer activation statistics to this trace file (HDF5); a network with "
      "AMM is evaluated and traced in each inference mode: amm, mm, biggest, extreme",
      [](C& c) -> std::string& { return c.trace_file; });
  return t.rows;
}

std::vector<Setting<FoldConfig>> make_fold_settings() {
  using C = FoldConfig;
  Table<C> t;
  add_checkpoint(t, "The trained checkpoint (.h5)");
  t.add<std::string>("out", "The folded checkpoint to write (.h5)",
                     [](C& c) -> std::string& { return c.out; });
  t.required();
  t.add<std::string>(
      "amm-mode",
      "AMM statistics that become coefficients: amm (running estimates), biggest, extreme (mm "
      "uses each batch's and cannot be folded)",
      [](C& c) -> std::string& { return c.amm_mode; }, amm_mode());
  return t.rows;
}

std::vector<Setting<CostConfig>> make_cost_settings() {
  using C = CostConfig;
  Table<C> t;
  add_checkpoint(t, "Checkpoint file (.h5)");
  t.add<std::string>(
      "amm-mode", "AMM statistics the activations are counted with: amm, biggest, extreme",
      [](C& c) -> std::string& { return c.amm_mode; }, amm_mode());
  t.add<std::string>("sign-degrees",
                     "ReLU's sign approximation for the comparison: odd degrees, composed",
                     [](C& c) -> std::string& { return c.sign_degrees; });
  t.add<std::string>("csv", "Also write the table as CSV to this file",
                     [](C& c) -> std::string& { return c.csv; });
  t.add<bool>("layers", "Print every layer", [](C& c) -> bool& {
     return c.layers;
   }).negation("totals-only");
  return t.rows;
}

}  // namespace

const std::vector<Setting<EvalConfig>>& eval_settings() {
  static const std::vector<Setting<EvalConfig>> table = make_eval_settings();
  return table;
}

const std::vector<Setting<FoldConfig>>& fold_settings() {
  static const std::vector<Setting<FoldConfig>> table = make_fold_settings();
  return table;
}

const std::vector<Setting<CostConfig>>& cost_settings() {
  static const std::vector<Setting<CostConfig>> table = make_cost_settings();
  return table;
}

}  // namespace sisyphus::train
