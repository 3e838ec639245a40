#include "settings/config.h"

#include <cstdio>

#include "core/hash.h"
#include "data/dataset.h"
#include "nn/act_spec.h"
#include "settings/settings.h"

namespace sisyphus::train {

void check_device(const DeviceConfig& d) { check_settings(device_settings(), d); }

void resolve(TrainConfig& cfg) {
  check_settings(train_settings(), cfg);
  nn::check_activation_spec(cfg.act);
  const auto& spec = data::dataset_spec(cfg.dataset);
  if (cfg.data_dir.empty()) cfg.data_dir = spec.default_dir;
  if (cfg.run.empty()) {
    cfg.run = cfg.network + "-" + cfg.dataset;
    if (cfg.act != "relu") {  // "amm+cpoly:degree=2,range=5" -> "-amm-cpoly"
      std::string name = cfg.act.substr(0, cfg.act.find(':'));
      for (char& ch : name)
        if (ch == '+') ch = '-';
      cfg.run += "-" + name;
    }
  }
}

std::string to_config_text(const TrainConfig& c) {
  return settings_text("train", train_settings(), c);
}

void resolve(QuailConfig& cfg) {
  if (cfg.act.rfind("amm+", 0) == 0) {  // --act amm+quad means --amm --act quad
    cfg.amm = true;
    cfg.act = cfg.act.substr(4);
  }
  check_settings(quail_settings(), cfg);
}

std::string to_config_text(const QuailConfig& c) {
  return settings_text("quail", quail_settings(), c);
}

std::string config_hash(const std::string& text) {
  uint64_t h = fnv1a64(text);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace sisyphus::train
