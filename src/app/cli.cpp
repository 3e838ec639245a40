#include "app/cli.h"

#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "command_line/command_line.h"
#include "commands/baseline.h"
#include "commands/cost_command.h"
#include "commands/fold_command.h"
#include "commands/inference.h"
#include "commands/quail.h"
#include "core/error.h"
#include "core/log.h"
#include "core/stop_signal.h"
#include "data/dataset.h"
#include "data/tiny_imagenet.h"
#include "dist/job_failure.h"
#include "io/checkpoint.h"
#include "nn/registry.h"
#include "trace/reader.h"
#include "trace/report.h"
#include "trace/watch.h"

namespace sisyphus::app {
namespace {

// A run a signal stopped at a checkpoint says so; --resume continues it.
bool say_interrupted(const std::string& message) {
  if (message.empty()) return false;
  log::info(message);
  return true;
}

int quail_command(const train::QuailConfig& cfg, train::Job& job) {
  train::QuailResult r = train::run_quail(cfg, job);
  if (say_interrupted(r.interrupted)) return kExitResumable;
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

int run_train(const train::TrainConfig& cfg, const train::Job& job) {
  train::BaselineResult r = train::train_baseline(cfg, job);
  if (say_interrupted(r.interrupted)) return kExitResumable;
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

int run_eval(const train::EvalConfig& cfg, const train::Job& job) {
  train::EvalReport rep = train::evaluate_checkpoint(cfg, job);
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

// A command that runs in a job: its settings checked (and resolved) first,
// then the job started into `job` (which the caller owns: app/cli.cpp's
// run_cli), then the command.
template <class Config, class Prepare, class Command>
int with_job(Config cfg, std::optional<train::Job>& job, Prepare prepare, Command command) {
  prepare(cfg);
  job = train::start_job(cfg.job);
  return command(cfg, *job);
}

}  // namespace

// Exit codes: 0 done; 2 a command line that does not parse (an unknown flag,
// a missing or non-numeric value), as Python's argparse in the reference does;
// 1 every other error (a value out of range, a missing or damaged file, a
// failure while running); 75 a run stopped by a signal, resumable.
constexpr int kUsageExit = 2;

int run_cli(int argc, char** argv) {
  // A file-size limit (RLIMIT_FSIZE) must fail the write that crosses it
  // (EFBIG, reported with the file's name, the old checkpoint kept), not kill
  // the process in the middle of it.
  if (std::signal(SIGXFSZ, SIG_IGN) == SIG_ERR) std::perror("sisyphus: signal(SIGXFSZ)");
  std::unique_ptr<CommandLine> cl = make_command_line();
  CommandLine& c = *cl;
  CLI::App& app = c.app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error, and once per job: every rank parses
    // the same command line.
    if (dist::launcher_rank() == 0)
      std::fprintf(stderr, "sisyphus: command line error: %s (see --help)\n", e.what());
    return kUsageExit;
  }

  log::set_verbose(c.verbose);
  // The job of train, quail and eval: started once the command's settings are
  // checked (bad settings are reported once, before any rank connects), its
  // communicator at hand for the abort path below, and released when this
  // function returns: before MPI_Finalize and before the CUDA runtime's
  // teardown at exit.
  std::optional<train::Job> job;
  try {
    const auto resolve = [](auto& cfg) { train::resolve(cfg); };
    if (*c.train_cmd) return with_job(c.train_cfg, job, resolve, run_train);
    if (*c.eval_cmd) return with_job(c.eval_cfg, job, train::check_eval_config, run_eval);
    if (*c.quail_cmd) return with_job(c.quail_cfg, job, resolve, quail_command);
    if (*c.fold_cmd) {
      train::fold_checkpoint(c.fold_cfg);
      return 0;
    }
    if (*c.cost_cmd) {
      train::cost_checkpoint(c.cost_cfg);
      return 0;
    }
    if (*c.summary_cmd) {
      std::fputs(trace::summary(trace::read_trace(c.trace_file)).c_str(), stdout);
      return 0;
    }
    if (*c.watch_cmd) {
      trace::watch(c.trace_file, c.watch_interval, stdout);
      return 0;
    }
    if (*c.compare_cmd || *c.plot_cmd) {
      std::vector<trace::TraceFile> files;
      for (const auto& f : c.trace_files) files.push_back(trace::read_trace(f));
      if (*c.compare_cmd) {
        std::fputs(trace::compare(files).c_str(), stdout);
      } else {
        trace::plot(files, c.plot_out, c.plot_title);
        log::info("wrote " + c.plot_out);
      }
      return 0;
    }
    if (*c.seal_cmd) {
      io::seal_checkpoint(c.seal_file);
      log::info("sealed " + c.seal_file + ": version 2 with its content checksum");
      return 0;
    }
    if (*c.pack_cmd) {
      data::PackStats s = data::pack_tiny_imagenet(c.tiny_src, c.tiny_out);
      log::info("packed " + std::to_string(s.train) + " train and " + std::to_string(s.val) +
                " val images of " + std::to_string(s.classes) + " classes into " + c.tiny_out);
      return 0;
    }
  } catch (const Error& e) {
    return dist::fail_job(job ? job->comm.get() : nullptr, e.what());
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    return dist::fail_job(job ? job->comm.get() : nullptr,
                          "torch error: " + msg.substr(0, msg.find('\n')));
  } catch (const std::exception& e) {
    return dist::fail_job(job ? job->comm.get() : nullptr, std::string("error: ") + e.what());
  }
  return 0;
}

}  // namespace sisyphus::app
