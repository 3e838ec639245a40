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

}  // namespace

void resolve(TrainConfig& cfg) {
  const auto& spec = data::dataset_spec(cfg.dataset);  // throws for unknown names
  bool known = false;
  for (const auto& n : nn::network_names()) known = known || n == cfg.network;
  if (!known) {
    std::string list;
    for (const auto& n : nn::network_names()) list += (list.empty() ? "" : ", ") + n;
    SISYPHUS_FAIL(ErrorKind::kConfig, "unknown network '" + cfg.network + "' for --net (known: " + list + ")");
  }
  require(cfg.epochs >= 1, "--epochs", "must be at least 1");
  require(cfg.batch_size >= 1, "--batch-size", "must be at least 1");
  require(cfg.test_batch_size >= 1, "--test-batch-size", "must be at least 1");
  require(cfg.train_limit >= 0, "--train-limit", "must not be negative");
  require(cfg.test_limit >= 0, "--test-limit", "must not be negative");
  require(std::isfinite(cfg.optim.lr) && cfg.optim.lr > 0, "--lr", "must be positive");
  require(cfg.optim.momentum >= 0 && cfg.optim.momentum < 1, "--momentum", "must be in [0, 1)");
  require(!cfg.optim.nesterov || cfg.optim.momentum > 0, "--nesterov",
          "Nesterov momentum needs --momentum > 0");
  require(cfg.optim.weight_decay >= 0, "--weight-decay", "must not be negative");
  require(cfg.optim.lr_min >= 0 && cfg.optim.lr_min <= cfg.optim.lr, "--lr-min",
          "must be in [0, --lr]");
  require(cfg.threads >= 0, "--threads", "must not be negative");
  require(cfg.bucket_mb > 0 && cfg.bucket_mb <= 4096, "--bucket-mb", "must be in (0, 4096]");
  require(cfg.backend == "auto" || cfg.backend == "local" || cfg.backend == "mpi" ||
              cfg.backend == "nccl",
          "--backend", "'" + cfg.backend + "' is not one of auto, local, mpi, nccl");
  require(cfg.log_every >= 0, "--log-every", "must not be negative");
  require(!cfg.imagenet_stem || cfg.network == "resnet50", "--imagenet-stem",
          "applies to resnet50 only");
  if (cfg.data_dir.empty()) cfg.data_dir = spec.default_dir;
  if (cfg.run.empty()) cfg.run = cfg.network + "-" + cfg.dataset;
  require(cfg.run.find('/') == std::string::npos && cfg.run != "." && cfg.run != "..", "--run",
          "must be a plain name, not a path");
}

std::string to_config_text(const TrainConfig& c) {
  std::string out = "[train]\n";
  auto line = [&](const char* key, const std::string& value) {
    out += std::string(key) + "=" + value + "\n";
  };
  auto quoted = [](const std::string& s) { return "\"" + s + "\""; };
  auto num = [](double v) {  // shortest text that reads back to the same double
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, end);
  };
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  line("net", quoted(c.network));
  line("dataset", quoted(c.dataset));
  line("data-dir", quoted(c.data_dir));
  line("imagenet-stem", flag(c.imagenet_stem));
  line("batchnorm", flag(c.batchnorm));
  line("epochs", std::to_string(c.epochs));
  line("batch-size", std::to_string(c.batch_size));
  line("test-batch-size", std::to_string(c.test_batch_size));
  line("train-limit", std::to_string(c.train_limit));
  line("test-limit", std::to_string(c.test_limit));
  line("augment", flag(c.augment));
  line("lr", num(c.optim.lr));
  line("momentum", num(c.optim.momentum));
  line("nesterov", flag(c.optim.nesterov));
  line("weight-decay", num(c.optim.weight_decay));
  line("lr-min", num(c.optim.lr_min));
  line("seed", std::to_string(c.seed));
  line("threads", std::to_string(c.threads));
  line("sync-bn", flag(c.sync_bn));
  line("verify-ranks", flag(c.verify_ranks));
  line("backend", quoted(c.backend));
  line("bucket-mb", num(c.bucket_mb));
  line("run", quoted(c.run));
  line("checkpoint-dir", quoted(c.checkpoint_dir));
  line("resume", flag(c.resume));
  line("log-every", std::to_string(c.log_every));
  return out;
}

std::string config_hash(const std::string& text) {
  uint64_t h = fnv1a64(text);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace sisyphus::train
