#include "app/cli.h"

#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>

#include "core/error.h"
#include "core/log.h"
#include "core/stop_signal.h"
#include "data/dataset.h"
#include "data/tiny_imagenet.h"
#include "dist/sync.h"
#include "nn/registry.h"
#include "trace/reader.h"
#include "trace/report.h"
#include "train/baseline.h"
#include "train/cost_command.h"
#include "train/fold_command.h"
#include "train/inference.h"
#include "train/quail.h"
#include "train/settings.h"

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

// Every row of a command's settings table (train/settings.h) as a flag:
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
            cmd->add_option("--" + row.name, *value, row.help);
          }
        },
        row.field(cfg));
  }
}

int quail_command(const train::QuailConfig& cfg) {
  train::QuailResult r = train::run_quail(cfg);
  if (!r.interrupted.empty()) {
    log::info(r.interrupted);
    return kExitResumable;
  }
  char line[512];
  if (r.escaped) {
    std::snprintf(line, sizeof(line), "final: escaped (%s)", r.escape_message.c_str());
  } else if (r.stopped_early) {
    std::snprintf(line, sizeof(line),
                  "stopped after %lld epoch(s) as asked; continue with --resume",
                  static_cast<long long>(cfg.stop_after_epochs));
  } else {
    std::snprintf(line, sizeof(line),
                  "final: student test accuracy %.2f%% over all, %.2f%% over the finite "
                  "(%lld non-finite of %lld), checkpoint %s",
                  r.eval.accuracy() * 100, r.eval.finite_accuracy() * 100,
                  static_cast<long long>(r.eval.nonfinite), static_cast<long long>(r.eval.samples),
                  r.final_checkpoint.c_str());
  }
  log::info(line);
  return 0;
}

int run_train(const train::TrainConfig& cfg) {
  train::BaselineResult r = train::train_baseline(cfg);
  if (!r.interrupted.empty()) {
    log::info(r.interrupted);
    return kExitResumable;
  }
  char line[512];
  std::snprintf(
      line, sizeof(line),
      "final: %s on %s test accuracy %.2f%% loss %.4f (%lld images, %lld non-finite; accuracy over "
      "the finite %.2f%%), checkpoint %s",
      cfg.network.c_str(), cfg.dataset.c_str(), r.eval.accuracy() * 100, r.eval.mean_loss(),
      static_cast<long long>(r.eval.samples), static_cast<long long>(r.eval.nonfinite),
      r.eval.finite_accuracy() * 100, r.checkpoint.c_str());
  log::info(line);
  return 0;
}

int run_eval(const train::EvalConfig& cfg) {
  train::EvalReport rep = train::evaluate_checkpoint(cfg);
  for (const auto& [mode, r] : rep.modes) {
    char line[512];
    std::snprintf(
        line, sizeof(line),
        "eval: %s [%s%s] test accuracy %.2f%% loss %.4f on %lld images, %lld non-finite outputs "
        "(accuracy over the finite: %.2f%%)",
        cfg.checkpoint.c_str(), rep.activation.c_str(), rep.has_amm ? (", " + mode).c_str() : "",
        r.accuracy() * 100, r.mean_loss(), static_cast<long long>(r.samples),
        static_cast<long long>(r.nonfinite), r.finite_accuracy() * 100);
    log::info(line);
  }
  return 0;
}

// This process's rank as the launcher (mpirun, srun) set it; 0 when alone.
int launcher_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

// Prints one error line and ends the job. With several ranks, rank 0 prints
// and aborts at once; other ranks wait a moment first, so an error that every
// rank hits is printed once (by rank 0), and one that only rank r hits still
// gets printed by r before it aborts the job (no rank is left hanging).
int fail_job(const std::string& message) {
  auto comm = dist::active();
  if (!comm || comm->size() == 1) {
    // Before the ranks are connected, errors come from settings that every
    // rank shares: rank 0 speaks for all.
    if (launcher_rank() == 0) std::fprintf(stderr, "sisyphus: %s\n", message.c_str());
    return 1;
  }
  if (comm->rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  std::fprintf(stderr, "sisyphus: [rank %d] %s\n", comm->rank(), message.c_str());
  std::fflush(stderr);
  comm->abort(1);
  return 1;  // not reached
}

}  // namespace

int run_cli(int argc, char** argv) {
  // A file-size limit (RLIMIT_FSIZE) must fail the write that crosses it
  // (EFBIG, reported with the file's name, the old checkpoint kept), not kill
  // the process in the middle of it.
  if (std::signal(SIGXFSZ, SIG_IGN) == SIG_ERR) std::perror("sisyphus: signal(SIGXFSZ)");
  CLI::App app{
      "sisyphus: distributed training of networks with polynomial activations "
      "(Garimella, Jha, Reagen 2021)"};
  // A flag given twice takes the last value, as with argparse.
  app.option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands, which inherit it
  app.set_config("--config", "", "Read settings from a TOML/INI file ([train] section for train)");
  bool verbose = false;
  app.add_flag("--verbose", verbose, "Also log how the process was set up (allocator tuning, ...)");
  app.require_subcommand(1);

  train::TrainConfig train_cfg;
  CLI::App* train_cmd = app.add_subcommand(
      "train", "Train a network from scratch: the ReLU baseline, or with --act a polynomial one");
  bind_settings(train_cmd, train::train_settings(), train_cfg);

  train::EvalConfig eval_cfg;
  CLI::App* eval_cmd = app.add_subcommand("eval", "Evaluate a checkpoint on its test set");
  eval_cmd->add_option("--checkpoint", eval_cfg.checkpoint, "Checkpoint file (.h5)")->required();
  eval_cmd->add_option("--data-dir", eval_cfg.data_dir,
                       "Data folder; empty: the data set's default");
  eval_cmd
      ->add_option("--batch-size", eval_cfg.batch_size,
                   "Global evaluation batch, split over the ranks")
      ->check(CLI::PositiveNumber);
  eval_cmd->add_option("--test-limit", eval_cfg.test_limit, "First N test images only (0: all)")
      ->check(CLI::NonNegativeNumber);
  eval_cmd
      ->add_option("--threads", eval_cfg.threads,
                   "Torch intra-op threads (0: the host's cores / local ranks)")
      ->check(CLI::NonNegativeNumber);
  eval_cmd->add_option(
      "--act", eval_cfg.act,
      "Swap every activation before evaluating (drop-in baselines): relu, quad, taylor, "
      "poly:degree=D,range=A, poly:coeffs=c0,c1,..., herpn, cpoly:degree=D[,range=A]; empty: the "
      "checkpoint's own");
  eval_cmd->add_option(
      "--amm-mode", eval_cfg.amm_mode,
      "AMM inference statistics: amm (running estimates), mm (true batch min/max), biggest "
      "(the reference code's mode 0: smallest batch min, largest batch range), extreme "
      "(running extremes)");
  eval_cmd->add_option("--backend", eval_cfg.backend,
                       "Communication under mpirun: auto, local, mpi, nccl");
  bind_settings(eval_cmd, train::device_settings(), eval_cfg.dev);
  eval_cmd->add_option("--result-file", eval_cfg.result_file,
                       "Append a CSV row with the result to this file");
  eval_cmd->add_option(
      "--label", eval_cfg.label,
      "Label of the CSV row and source name in the trace (default: the checkpoint path)");
  eval_cmd->add_option(
      "--save-logits", eval_cfg.save_logits,
      "Write the normalised inputs, labels and logits (test-set order) to this HDF5 file "
      "(one rank; use --test-limit for big sets)");
  eval_cmd->add_option(
      "--trace", eval_cfg.trace_file,
      "Append per-layer activation statistics to this trace file (HDF5); a network with "
      "AMM is evaluated and traced in each inference mode: amm, mm, biggest, extreme");

  CLI::App* trace_cmd = app.add_subcommand("trace", "Analyse activation traces (trace.h5 files)");
  trace_cmd->require_subcommand(1);
  std::string trace_file, plot_out = "escaping.png", plot_title = "max |x| per layer";
  std::vector<std::string> trace_files;
  CLI::App* summary_cmd = trace_cmd->add_subcommand(
      "summary",
      "Per layer max |x| (last evaluation, worst seen), growth, first NaN/Inf, escaping verdict");
  summary_cmd->add_option("file", trace_file, "Trace file")->required();
  CLI::App* compare_cmd =
      trace_cmd->add_subcommand("compare", "The per-layer max |x| of several runs side by side");
  compare_cmd->add_option("files", trace_files, "Trace files")->required();
  CLI::App* plot_cmd = trace_cmd->add_subcommand(
      "plot", "PNG of log10(max |x|) per layer, one line per run and mode (gnuplot)");
  plot_cmd->add_option("files", trace_files, "Trace files")->required();
  plot_cmd->add_option("--out", plot_out, "PNG to write");
  plot_cmd->add_option("--title", plot_title, "Figure title");

  train::QuailConfig quail_cfg;
  CLI::App* quail_cmd = app.add_subcommand(
      "quail",
      "QuaIL: imitate a ReLU teacher layer by layer with polynomial activations, then fine-tune");
  bind_settings(quail_cmd, train::quail_settings(), quail_cfg);

  train::FoldConfig fold_cfg;
  CLI::App* fold_cmd = app.add_subcommand(
      "fold",
      "Write a checkpoint's deployable form: BN folded into the conv/linear weights, each "
      "activation (AMM included) one polynomial per channel; no batch statistics at inference");
  fold_cmd->add_option("--checkpoint", fold_cfg.checkpoint, "The trained checkpoint (.h5)")
      ->required();
  fold_cmd->add_option("--out", fold_cfg.out, "The folded checkpoint to write (.h5)")->required();
  fold_cmd->add_option("--amm-mode", fold_cfg.amm_mode,
                       "AMM statistics that become coefficients: amm (running estimates), "
                       "biggest, extreme (mm uses each batch's and cannot be folded)");

  train::CostConfig cost_cfg;
  CLI::App* cost_cmd = app.add_subcommand(
      "cost",
      "Multiplicative depth (CKKS levels) and ct-ct / pt-ct multiplications of a checkpoint's "
      "inference, per layer and in total, beside ReLU composites (rules: docs/beyond.md)");
  cost_cmd->add_option("--checkpoint", cost_cfg.checkpoint, "Checkpoint file (.h5)")->required();
  cost_cmd->add_option("--amm-mode", cost_cfg.amm_mode,
                       "AMM statistics the activations are counted with: amm, biggest, extreme");
  cost_cmd->add_option("--sign-degrees", cost_cfg.sign_degrees,
                       "ReLU's sign approximation for the comparison: odd degrees, composed");
  cost_cmd->add_option("--csv", cost_cfg.csv, "Also write the table as CSV to this file");
  cost_cmd->add_flag("--layers,!--totals-only", cost_cfg.layers, "Print every layer (default: on)");

  CLI::App* data_cmd = app.add_subcommand("data", "Data set tools");
  data_cmd->require_subcommand(1);
  std::string tiny_src, tiny_out = "datasets/tiny-imagenet.h5";
  CLI::App* pack_cmd =
      data_cmd->add_subcommand("pack-tiny", "Pack a tiny-imagenet-200 folder into one HDF5 file");
  pack_cmd->add_option("source", tiny_src, "The tiny-imagenet-200 folder")->required();
  pack_cmd->add_option("--out", tiny_out, "Output HDF5 file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error, and once per job: every rank parses
    // the same command line.
    if (launcher_rank() == 0)
      std::fprintf(stderr, "sisyphus: command line error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  }

  log::set_verbose(verbose);
  try {
    if (*train_cmd) return run_train(train_cfg);
    if (*eval_cmd) return run_eval(eval_cfg);
    if (*quail_cmd) return quail_command(quail_cfg);
    if (*fold_cmd) {
      train::fold_checkpoint(fold_cfg);
      return 0;
    }
    if (*cost_cmd) {
      train::cost_checkpoint(cost_cfg);
      return 0;
    }
    if (*summary_cmd) {
      std::fputs(trace::summary(trace::read_trace(trace_file)).c_str(), stdout);
      return 0;
    }
    if (*compare_cmd || *plot_cmd) {
      std::vector<trace::TraceFile> files;
      for (const auto& f : trace_files) files.push_back(trace::read_trace(f));
      if (*compare_cmd) {
        std::fputs(trace::compare(files).c_str(), stdout);
      } else {
        trace::plot(files, plot_out, plot_title);
        log::info("wrote " + plot_out);
      }
      return 0;
    }
    if (*pack_cmd) {
      data::PackStats s = data::pack_tiny_imagenet(tiny_src, tiny_out);
      log::info("packed " + std::to_string(s.train) + " train and " + std::to_string(s.val) +
                " val images of " + std::to_string(s.classes) + " classes into " + tiny_out);
      return 0;
    }
  } catch (const Error& e) {
    return fail_job(e.what());
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    return fail_job("torch error: " + msg.substr(0, msg.find('\n')));
  } catch (const std::exception& e) {
    return fail_job(std::string("error: ") + e.what());
  }
  return 0;
}

}  // namespace sisyphus::app
