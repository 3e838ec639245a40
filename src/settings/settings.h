// One table of settings per command (`train`, `quail`, `eval`, `fold`,
// `cost`): each row names a
// setting (the flag --<name> and the config-file key <name>), says what it
// is for (--help), where it lives in the config struct, and the rule its
// value must satisfy. The command line (app/cli.cpp), the config-file text
// (to_config_text) and validation (resolve) all walk the same table, so a
// setting is written once. No CLI11 here: the app binds the rows by type.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "settings/checkpoint_config.h"
#include "settings/config.h"

namespace sisyphus::train {

// Where a setting's value lives (one of the config struct's fields).
using SettingField = std::variant<bool*, int*, int64_t*, uint64_t*, double*, std::string*>;

template <class C>
struct Setting {
  std::string name;      // "batch-size": --batch-size, and batch-size= in a config file
  std::string help;      // for --help; on/off settings get "(default: on|off)" appended
  std::string negation;  // on/off settings: the flag that turns it off ("no-augment")
  std::function<SettingField(C&)> field;
  std::function<std::string(const C&)> why_bad;  // "" when the value is fine; may be empty
  bool required = false;                         // the command cannot run without it
};

const std::vector<Setting<DeviceConfig>>& device_settings();  // also `eval`'s
const std::vector<Setting<TrainConfig>>& train_settings();
const std::vector<Setting<QuailConfig>>& quail_settings();
const std::vector<Setting<EvalConfig>>& eval_settings();
const std::vector<Setting<FoldConfig>>& fold_settings();
const std::vector<Setting<CostConfig>>& cost_settings();

// The value of a row as it appears in a config file: strings quoted,
// numbers in the shortest text that reads back to the same value.
std::string setting_value_text(const SettingField& field);

// "[section]" then one "name=value" line per row, in table order.
template <class C>
std::string settings_text(const char* section, const std::vector<Setting<C>>& table, const C& cfg) {
  std::string out = std::string("[") + section + "]\n";
  C& c = const_cast<C&>(cfg);  // fields are only read
  for (const auto& row : table) out += row.name + "=" + setting_value_text(row.field(c)) + "\n";
  return out;
}

// Error(kConfig) "bad value for --<name>: <why>" for the first row whose
// rule fails.
void fail_setting(const std::string& name, const std::string& why);
template <class C>
void check_settings(const std::vector<Setting<C>>& table, const C& cfg) {
  for (const auto& row : table) {
    if (!row.why_bad) continue;
    const std::string why = row.why_bad(cfg);
    if (!why.empty()) fail_setting(row.name, why);
  }
}

}  // namespace sisyphus::train
