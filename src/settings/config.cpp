#include "settings/config.h"

#include <cstdio>

#include "core/error.h"
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
  if (cfg.data.dir.empty()) cfg.data.dir = spec.default_dir;
  if (cfg.output.run.empty()) {
    cfg.output.run = cfg.network + "-" + cfg.dataset;
    if (cfg.act != "relu") {  // "amm+cpoly:degree=2,range=5" -> "-amm-cpoly"
      std::string name = cfg.act.substr(0, cfg.act.find(':'));
      for (char& ch : name)
        if (ch == '+') ch = '-';
      cfg.output.run += "-" + name;
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

namespace {

template <class E>
struct Named {
  const char* name;
  E value;
};
constexpr Named<Method> kMethods[] = {{"imitate", Method::kImitate},
                                      {"progressive", Method::kProgressive},
                                      {"blend", Method::kBlend}};
constexpr Named<Evaluation> kEvaluations[] = {{"reference", Evaluation::kReference},
                                              {"stages", Evaluation::kStages},
                                              {"epochs", Evaluation::kEpochs}};

template <class E, size_t N>
std::vector<std::string> names_of(const Named<E> (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& n : table) names.push_back(n.name);
  return names;
}

template <class E, size_t N>
E parse_named(const Named<E> (&table)[N], const std::string& flag, const std::string& name) {
  std::string listed;
  for (const auto& n : table) {
    if (name == n.name) return n.value;
    listed += (listed.empty() ? "" : ", ") + std::string(n.name);
  }
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "bad value for --" + flag + ": '" + name + "' is not one of " + listed);
}

}  // namespace

std::vector<std::string> method_names() { return names_of(kMethods); }
std::vector<std::string> evaluation_names() { return names_of(kEvaluations); }
Method parse_method(const std::string& name) { return parse_named(kMethods, "method", name); }
Evaluation parse_evaluation(const std::string& name) {
  return parse_named(kEvaluations, "evaluate", name);
}

std::string config_hash(const std::string& text) {
  uint64_t h = fnv1a64(text);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace sisyphus::train
