#include "train/config.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/hash.h"
#include "data/dataset.h"
#include "nn/registry.h"

namespace sisyphus::train {
namespace {

void require(bool ok, const std::string& flag, const std::string& why) {
  if (!ok) SISYPHUS_FAIL(ErrorKind::kConfig, "bad value for " + flag + ": " + why);
}

// The checks that training and QuaIL share.
void check_optim(const OptimConfig& o) {
  require(std::isfinite(o.lr) && o.lr > 0, "--lr", "must be positive");
  require(o.momentum >= 0 && o.momentum < 1, "--momentum", "must be in [0, 1)");
  require(!o.nesterov || o.momentum > 0, "--nesterov", "Nesterov momentum needs --momentum > 0");
  require(o.weight_decay >= 0, "--weight-decay", "must not be negative");
  require(o.lr_min >= 0 && o.lr_min <= o.lr, "--lr-min", "must be in [0, --lr]");
}

void check_job(int64_t batch_size, int64_t test_batch_size, int64_t train_limit, int64_t test_limit,
               int threads, double bucket_mb, const std::string& backend, int64_t log_every,
               int64_t trace_every, const std::string& run) {
  require(batch_size >= 1, "--batch-size", "must be at least 1");
  require(test_batch_size >= 1, "--test-batch-size", "must be at least 1");
  require(train_limit >= 0, "--train-limit", "must not be negative");
  require(test_limit >= 0, "--test-limit", "must not be negative");
  require(threads >= 0, "--threads", "must not be negative");
  require(bucket_mb > 0 && bucket_mb <= 4096, "--bucket-mb", "must be in (0, 4096]");
  require(backend == "auto" || backend == "local" || backend == "mpi" || backend == "nccl",
          "--backend", "'" + backend + "' is not one of auto, local, mpi, nccl");
  require(log_every >= 0, "--log-every", "must not be negative");
  require(trace_every >= 0, "--trace-every", "must not be negative");
  require(run.find('/') == std::string::npos && run != "." && run != "..", "--run",
          "must be a plain name, not a path");
}

}  // namespace

void check_device(const DeviceConfig& d) {
  require(d.device == "auto" || d.device == "cpu" || d.device == "cuda", "--device",
          "'" + d.device + "' is not one of auto, cpu, cuda");
  require(d.precision == "fp32" || d.precision == "bf16", "--precision",
          "'" + d.precision + "' is not one of fp32, bf16");
  require(std::isfinite(d.nccl_timeout) && d.nccl_timeout > 0, "--nccl-timeout",
          "must be positive (seconds)");
}

namespace {

// Config-file text: one "key=value" line per setting.
class ConfigText {
 public:
  explicit ConfigText(const char* section) : out_(std::string("[") + section + "]\n") {}
  void text(const char* key, const std::string& v) {
    out_ += std::string(key) + "=\"" + v + "\"\n";
  }
  void integer(const char* key, int64_t v) {
    out_ += std::string(key) + "=" + std::to_string(v) + "\n";
  }
  void unsigned_integer(const char* key, uint64_t v) {
    out_ += std::string(key) + "=" + std::to_string(v) + "\n";
  }
  void flag(const char* key, bool v) {
    out_ += std::string(key) + "=" + (v ? "true" : "false") + "\n";
  }
  void number(const char* key, double v) {  // shortest text that reads back to the same double
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out_ += std::string(key) + "=" + std::string(buf, end) + "\n";
  }
  // The batch and data settings every training command has.
  void batches(int64_t batch, int64_t test_batch, int64_t train_limit, int64_t test_limit,
               bool augment) {
    integer("batch-size", batch);
    integer("test-batch-size", test_batch);
    integer("train-limit", train_limit);
    integer("test-limit", test_limit);
    flag("augment", augment);
  }
  void optim(const OptimConfig& o) {
    number("lr", o.lr);
    number("momentum", o.momentum);
    flag("nesterov", o.nesterov);
    number("weight-decay", o.weight_decay);
    number("lr-min", o.lr_min);
  }
  void device(const DeviceConfig& d) {
    text("device", d.device);
    text("precision", d.precision);
    flag("channels-last", d.channels_last);
    flag("cudnn-benchmark", d.cudnn_benchmark);
    number("nccl-timeout", d.nccl_timeout);
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

void resolve(TrainConfig& cfg) {
  const auto& spec = data::dataset_spec(cfg.dataset);  // throws for unknown names
  bool known = false;
  for (const auto& n : nn::network_names()) known = known || n == cfg.network;
  if (!known) {
    std::string list;
    for (const auto& n : nn::network_names()) list += (list.empty() ? "" : ", ") + n;
    SISYPHUS_FAIL(ErrorKind::kConfig,
                  "unknown network '" + cfg.network + "' for --net (known: " + list + ")");
  }
  require(cfg.epochs >= 1, "--epochs", "must be at least 1");
  check_optim(cfg.optim);
  check_job(cfg.batch_size, cfg.test_batch_size, cfg.train_limit, cfg.test_limit, cfg.threads,
            cfg.bucket_mb, cfg.backend, cfg.log_every, cfg.trace_every, cfg.run);
  check_device(cfg.dev);
  require(!cfg.imagenet_stem || cfg.network == "resnet50", "--imagenet-stem",
          "applies to resnet50 only");
  if (cfg.data_dir.empty()) cfg.data_dir = spec.default_dir;
  if (cfg.run.empty()) cfg.run = cfg.network + "-" + cfg.dataset;
}

std::string to_config_text(const TrainConfig& c) {
  ConfigText t("train");
  t.text("net", c.network);
  t.text("dataset", c.dataset);
  t.text("data-dir", c.data_dir);
  t.flag("imagenet-stem", c.imagenet_stem);
  t.flag("batchnorm", c.batchnorm);
  t.integer("epochs", c.epochs);
  t.batches(c.batch_size, c.test_batch_size, c.train_limit, c.test_limit, c.augment);
  t.optim(c.optim);
  t.unsigned_integer("seed", c.seed);
  t.integer("threads", c.threads);
  t.flag("sync-bn", c.sync_bn);
  t.flag("verify-ranks", c.verify_ranks);
  t.text("backend", c.backend);
  t.device(c.dev);
  t.number("bucket-mb", c.bucket_mb);
  t.text("run", c.run);
  t.text("checkpoint-dir", c.checkpoint_dir);
  t.flag("resume", c.resume);
  t.integer("log-every", c.log_every);
  t.integer("trace-every", c.trace_every);
  return t.str();
}

void resolve(QuailConfig& cfg) {
  require(!cfg.teacher.empty(), "--teacher", "a baseline checkpoint is required");
  if (cfg.act.rfind("amm+", 0) == 0) {  // --act amm+quad means --amm --act quad
    cfg.amm = true;
    cfg.act = cfg.act.substr(4);
  }
  require(cfg.act.rfind("amm+", 0) != 0, "--act", "amm+ given twice");
  require(cfg.mimic_epochs >= 0, "--mimic-epochs", "must not be negative");
  require(cfg.finetune_epochs >= 0, "--finetune-epochs", "must not be negative");
  require(cfg.mimic_epochs + cfg.finetune_epochs > 0, "--mimic-epochs",
          "mimic and fine-tune stages cannot both have 0 epochs");
  check_optim(cfg.optim);
  check_job(cfg.batch_size, cfg.test_batch_size, cfg.train_limit, cfg.test_limit, cfg.threads,
            cfg.bucket_mb, cfg.backend, cfg.log_every, cfg.trace_every, cfg.run);
  check_device(cfg.dev);
  require(cfg.escape_bound > 0, "--escape-bound", "must be positive");
  require(cfg.evaluate == "reference" || cfg.evaluate == "stages" || cfg.evaluate == "epochs",
          "--evaluate", "'" + cfg.evaluate + "' is not one of reference, stages, epochs");
  require(cfg.stop_after_epochs >= 0, "--stop-after-epochs", "must not be negative");
  require(cfg.amm_sync || !cfg.verify_ranks, "--no-amm-sync",
          "leaves the ranks with different AMM statistics; add --no-verify-ranks (for measurements "
          "only)");
}

std::string to_config_text(const QuailConfig& c) {
  ConfigText t("quail");
  t.text("teacher", c.teacher);
  t.text("act", c.act);
  t.flag("amm", c.amm);
  t.integer("mimic-epochs", c.mimic_epochs);
  t.integer("finetune-epochs", c.finetune_epochs);
  t.batches(c.batch_size, c.test_batch_size, c.train_limit, c.test_limit, c.augment);
  t.optim(c.optim);
  t.unsigned_integer("seed", c.seed);
  t.integer("threads", c.threads);
  t.text("backend", c.backend);
  t.device(c.dev);
  t.number("bucket-mb", c.bucket_mb);
  t.text("data-dir", c.data_dir);
  t.text("run", c.run);
  t.text("checkpoint-dir", c.checkpoint_dir);
  t.flag("resume", c.resume);
  t.integer("log-every", c.log_every);
  t.number("escape-bound", c.escape_bound);
  t.flag("continue-on-escape", c.continue_on_escape);
  t.integer("stop-after-epochs", c.stop_after_epochs);
  t.flag("verify-ranks", c.verify_ranks);
  t.integer("trace-every", c.trace_every);
  t.text("evaluate", c.evaluate);
  t.flag("frozen-eval", c.frozen_eval);
  t.flag("sync-bn", c.sync_bn);
  t.flag("amm-sync", c.amm_sync);
  return t.str();
}

std::string config_hash(const std::string& text) {
  uint64_t h = fnv1a64(text);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace sisyphus::train
