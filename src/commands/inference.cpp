#include "commands/inference.h"

#include <torch/torch.h>

#include <cstdio>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "engine/collectives.h"
#include "engine/job.h"
#include "engine/run_setup.h"
#include "engine/tracing.h"
#include "io/checkpoint.h"
#include "model/saved_network.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/registry.h"
#include "settings/settings.h"

namespace sisyphus::train {
namespace {

constexpr double kEvalTraceBound = 1e6;  // the "above" threshold of eval traces

// A CSV field, quoted when it holds a comma or a quote (RFC 4180):
// activation specs such as poly:coeffs=... contain commas.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void append_result(const EvalConfig& cfg, const EvalReport& r, const std::string& mode,
                   const EvalResult& res) {
  const bool fresh = !fs::file_exists(cfg.result_file);
  std::FILE* f = std::fopen(cfg.result_file.c_str(), "a");
  if (!f) SISYPHUS_FAIL(ErrorKind::kIo, "cannot append to result file '" + cfg.result_file + "'");
  if (fresh)
    std::fprintf(
        f, "label,checkpoint,activation,amm_mode,accuracy,nonfinite,samples,accuracy_finite\n");
  std::fprintf(f, "%s,%s,%s,%s,%.6f,%lld,%lld,%.6f\n",
               csv_field(cfg.label.empty() ? cfg.checkpoint : cfg.label).c_str(),
               csv_field(cfg.checkpoint).c_str(), csv_field(r.activation).c_str(),
               r.has_amm ? mode.c_str() : "-", res.accuracy(),
               static_cast<long long>(res.nonfinite), static_cast<long long>(res.samples),
               res.finite_accuracy());
  if (std::fclose(f) != 0)
    SISYPHUS_FAIL(ErrorKind::kIo, "cannot write result file '" + cfg.result_file + "'");
}

// The evaluated inputs (after normalisation), labels and logits in test-set
// order, so that another implementation can be checked on the same inputs.
// Every rank computes the logits of the whole set in the same batches (AMM's
// global min/max in mm mode then is the batch's, as on one rank); `write`:
// this rank writes the file (rank 0).
void save_logits(nn::NetworkImpl& net, const data::ImageSet& set, const data::DatasetSpec& spec,
                 int64_t batch_size, const std::string& path, const std::string& checkpoint,
                 bool write) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::LoaderOptions opts;
  opts.batch_size = batch_size;
  data::BatchLoader loader(set, spec, data::epoch_order(set.n, 0, 0, /*shuffle=*/false), opts);
  std::vector<torch::Tensor> images, labels, logits;
  data::Batch batch;
  const torch::Device device = net.parameters().front().device();
  while (loader.next(&batch)) {
    images.push_back(batch.images);
    labels.push_back(batch.labels);
    logits.push_back(net.forward(batch.images.to(device, net.parameters().front().scalar_type()))
                         .to(torch::kCPU)
                         .to(torch::kFloat32));
  }
  if (!write) return;
  torch::Tensor x = torch::cat(images).contiguous(), y = torch::cat(labels).contiguous(),
                z = torch::cat(logits).contiguous();
  h5::Object file = h5::create_file(path);
  h5::set_attr(file, "checkpoint", checkpoint);
  h5::set_attr(file, "activation", nn::activation_spec(net));
  h5::write_array(file, "inputs", h5::DType::kF32, x.sizes().vec(), x.data_ptr());
  h5::write_array(file, "labels", h5::DType::kI64, y.sizes().vec(), y.data_ptr());
  h5::write_array(file, "logits", h5::DType::kF32, z.sizes().vec(), z.data_ptr());
  file.close();
}

// The paper's drop-in replacement: the checkpoint's activations swapped for
// cfg.act without retraining (the trained AMM statistics kept when both have
// AMM).
void drop_in(nn::NetworkImpl& net, const EvalConfig& cfg, const io::Checkpoint& ckpt,
             const data::DatasetSpec& spec) {
  if (nn::has_amm(net) && cfg.act.rfind("amm+", 0) != 0) {
    SISYPHUS_FAIL(ErrorKind::kConfig, "--act " + cfg.act + " would drop the AMM layers of '" +
                                          cfg.checkpoint + "' (" + ckpt.meta.activation + ")");
  }
  if (cfg.act.rfind("amm+", 0) == 0 && !nn::has_amm(net)) {
    SISYPHUS_FAIL(ErrorKind::kConfig, "--act " + cfg.act + ": '" + cfg.checkpoint +
                                          "' has no trained AMM statistics (" +
                                          ckpt.meta.activation +
                                          "); add AMM by training with `sisyphus quail --amm`");
  }
  if (!nn::has_amm(net)) {
    nn::set_activations(net, cfg.act, probe_input(spec));
    return;
  }
  // keep the trained AMM statistics, swap what follows them
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> amm_state;
  for (const auto& item : net.named_buffers())
    if (item.key().find(".amm.") != std::string::npos) amm_state[item.key()] = item.value().clone();
  nn::set_activations(net, cfg.act, probe_input(spec));
  for (auto& item : net.named_buffers()) {
    auto kept = amm_state.find(item.key());
    if (kept != amm_state.end()) item.value().copy_(kept->second);
  }
}

}  // namespace

void check_eval_config(const EvalConfig& cfg) {
  // Every row's rule, the device rows' included: an unknown AMM mode fails before any work.
  check_settings(eval_settings(), cfg);
  if (!cfg.act.empty()) nn::check_activation_spec(cfg.act);
}

EvalReport evaluate_checkpoint(const EvalConfig& cfg, const Job& job) {
  check_eval_config(cfg);
  SavedNetwork saved = load_saved_network(cfg.checkpoint);
  const io::Checkpoint& ckpt = saved.ckpt;
  const data::DatasetSpec& spec = *saved.spec;
  nn::Network net = saved.net;
  const std::vector<std::string>& missing = saved.missing;
  if (!missing.empty())
    log::info("eval: '" + cfg.checkpoint + "' predates AMM's biggest statistics (" +
              missing.front() + ", ...): --amm-mode biggest is unavailable for it");
  EvalReport report;
  if (!cfg.act.empty() && cfg.act != ckpt.meta.activation) drop_in(*net, cfg, ckpt, spec);
  report.activation = nn::activation_spec(*net);
  report.has_amm = nn::has_amm(*net);
  place_module(*net, job.place);
  const StatCollectives collectives = stat_collectives(job);
  attach(collectives, *net, {.amm = true});  // mm mode: the min/max of the global batch

  data::ImageSet test_set =
      data::load_split(spec, cfg.data_dir.empty() ? spec.default_dir : cfg.data_dir, false);
  test_set.truncate(cfg.test_limit);
  std::vector<std::string> modes = {report.has_amm ? cfg.amm_mode : "-"};
  if (report.has_amm && !cfg.trace_file.empty()) {
    modes.clear();
    for (const auto& m : nn::amm_mode_names())
      if (nn::has_amm_statistics(*net, nn::parse_amm_mode(m))) modes.push_back(m);
  }
  const std::string source = cfg.label.empty() ? cfg.checkpoint : cfg.label;
  std::unique_ptr<RunTrace> trace;
  if (!cfg.trace_file.empty()) {
    check_trace_not_in_use(cfg.trace_file);
    trace::TraceHeader header{source, ckpt.meta.network, ckpt.meta.dataset, ckpt.meta.config, "",
                              {},     kEvalTraceBound};
    for (const auto& p : net->points()) header.layers.push_back(p.name);
    trace = std::make_unique<RunTrace>(job, cfg.trace_file, header, /*append=*/true, /*every=*/0);
  }
  for (const auto& mode : modes) {
    if (report.has_amm) {
      const nn::AmmMode m = nn::parse_amm_mode(mode);
      SISYPHUS_CHECK(
          nn::has_amm_statistics(*net, m), ErrorKind::kCheckpoint,
          "--amm-mode " + mode + ": '" + cfg.checkpoint +
              "' predates AMM's biggest statistics; use --amm-mode amm, mm or extreme, or train it "
              "again with this version");
      nn::set_amm_mode(*net, m);
    }
    log::info("eval: " + cfg.checkpoint + " (" + ckpt.meta.network + ", stage " + ckpt.meta.stage +
              ") with activation " + report.activation +
              (report.has_amm ? ", AMM inference mode " + mode : "") + " on " +
              std::to_string(test_set.n) + " test images, " + std::to_string(job.world) +
              " rank(s)" + (trace ? ", tracing to " + cfg.trace_file : ""));
    EvalResult r = evaluate(*net, test_set, spec, job.place, cfg.batch_size, job.comm.get(),
                            trace ? &trace->accumulator() : nullptr);
    if (trace)
      trace->record(source, ckpt.meta.stage, "eval", mode, ckpt.meta.epoch, ckpt.meta.step);
    if (!cfg.result_file.empty() && job.rank == 0) append_result(cfg, report, mode, r);
    report.modes.emplace_back(mode, r);
    if (!cfg.save_logits.empty() && (mode == cfg.amm_mode || !report.has_amm)) {
      save_logits(*net, test_set, spec, cfg.batch_size, cfg.save_logits, cfg.checkpoint,
                  job.rank == 0);
    }
    if (mode == modes.front() || mode == cfg.amm_mode) report.result = r;
  }
  return report;
}

}  // namespace sisyphus::train
