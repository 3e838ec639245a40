// The `quail` command's settings table (settings.h).
#include "data/dataset.h"
#include "nn/registry.h"
#include "settings/settings.h"
#include "settings/settings_table.h"

namespace sisyphus::train {
namespace {
using namespace table;

std::vector<Setting<QuailConfig>> make_quail_settings() {
  using C = QuailConfig;
  Table<C> t;
  t.add<std::string>(
      "teacher", "The ReLU baseline checkpoint to imitate (from `sisyphus train`)",
      [](C& c) -> std::string& { return c.teacher; },
      [](const std::string& v) { return v.empty() ? "a baseline checkpoint is required" : ""; });
  t.add<std::string>(
      "act",
      "Student activation: quad, taylor, poly:degree=D,range=A, poly:coeffs=c0,c1,..., herpn, "
      "cpoly:degree=D[,range=A] (amm+<act> is the same as --amm)",
      [](C& c) -> std::string& { return c.act; },
      [](const std::string& v) { return v.rfind("amm+", 0) == 0 ? "amm+ given twice" : ""; });
  t.add<bool>("amm", "AMM normalisation before every activation",
              [](C& c) -> bool& { return c.amm; });
  add_range(t);
  t.add<std::string>(
      "method",
      "imitate: QuaIL (mimic stages, then fine-tune stages); progressive: replace ReLU by the "
      "polynomial one slot at a time, training the whole network with cross-entropy after each; "
      "blend: every slot (1-t) ReLU + t poly with t rising to 1 over the first half of one stage",
      [](C& c) -> std::string& { return c.method; }, one_of(method_names()));
  t.add<int64_t>(
      "replace-epochs", "Epochs of each replace stage (progressive) or of the blend stage",
      [](C& c) -> int64_t& { return c.replace_epochs; }, at_least<int64_t>(1));
  t.add<int64_t>(
       "mimic-epochs", "Epochs of each mimic stage (0: skip them)",
       [](C& c) -> int64_t& { return c.mimic_epochs; }, not_negative<int64_t>())
      .also([](const C& c) {
        return c.mimic_epochs + c.finetune_epochs > 0
                   ? ""
                   : "mimic and fine-tune stages cannot both have 0 epochs";
      });
  t.add<int64_t>(
      "finetune-epochs", "Epochs of each fine-tune stage (0: skip them)",
      [](C& c) -> int64_t& { return c.finetune_epochs; }, not_negative<int64_t>());
  add_batches(t);
  add_optim(t, " of every stage");
  t.add<uint64_t>("seed", "Random seed (data order and augmentation of every stage)",
                  [](C& c) -> uint64_t& { return c.seed; });
  add_job(t);
  t.add<std::string>("data-dir", "Data folder; empty: the teacher's data set's default location",
                     [](C& c) -> std::string& { return c.data.dir; });
  add_run(t, "<net>-<dataset>-quail-<act>[-amm]");
  t.add<double>(
      "escape-bound",
      "Escape guard: stop a stage when the loss or a trained point's max |x| exceeds this "
      "(NaN/Inf always stop it)",
      [](C& c) -> double& { return c.escape_bound; }, positive());
  t.add<bool>("continue-on-escape",
              "On escape, record it (escaped.txt) and exit 0 so a sweep goes on with the next "
              "configuration "
              "(off: exit 1)",
              [](C& c) -> bool& { return c.continue_on_escape; })
      .negation("stop-on-escape");
  t.add<int64_t>(
      "stop-after-epochs",
      "End this invocation after N epochs (its checkpoint written); go on later with --resume "
      "(0: run all stages)",
      [](C& c) -> int64_t& { return c.stop_after_epochs; }, not_negative<int64_t>());
  t.add<std::string>(
      "evaluate",
      "When the student is tested (and traced): reference (after the last mimic stage and after "
      "fine-tuning, as the reference code), stages (after every stage), epochs (after every epoch)",
      [](C& c) -> std::string& { return c.evaluate; }, one_of(evaluation_names()));
  t.add<std::string>(
      "mimic-forward",
      "The student's forward in a mimic stage: full (every point, as the reference code: the "
      "BN/AMM layers after the imitated point keep updating their running statistics) or "
      "to-point (stops at the imitated point: faster; those layers' statistics then move only in "
      "their own stages)",
      [](C& c) -> std::string& { return c.mimic_forward; }, one_of({"full", "to-point"}));
  t.add<bool>("frozen-eval",
              "Frozen points' BatchNorm and AMM in evaluation mode during a stage (running "
              "estimates used and "
              "kept); off: the whole student trains in training mode, as the reference code",
              [](C& c) -> bool& { return c.frozen_eval; });
  t.add<bool>("sync-bn",
              "SyncBatchNorm in every stage (off: per-rank statistics, averaged after every step)",
              [](C& c) -> bool& { return c.ranks.sync_bn; });
  t.add<bool>("amm-sync",
              "AMM batch min/max over all ranks (off only to measure what it costs, with "
              "--no-verify-ranks: "
              "ranks' AMM statistics then differ)",
              [](C& c) -> bool& { return c.amm_sync; })
      .also([](const C& c) {
        return c.amm_sync || !c.ranks.verify_ranks
                   ? ""
                   : "leaves the ranks with different AMM statistics; "
                     "add --no-verify-ranks (for measurements only)";
      });
  return t.rows;
}

}  // namespace

const std::vector<Setting<QuailConfig>>& quail_settings() {
  static const std::vector<Setting<QuailConfig>> table = make_quail_settings();
  return table;
}

}  // namespace sisyphus::train
