#include <charconv>

#include "core/error.h"
#include "data/dataset.h"
#include "nn/registry.h"
#include "settings/settings.h"
#include "settings/settings_table.h"

namespace sisyphus::train {
namespace {
using namespace table;

std::vector<Setting<TrainConfig>> make_train_settings() {
  using C = TrainConfig;
  Table<C> t;
  t.add<std::string>(
      "net", "Network: " + listed(nn::network_names()),
      [](C& c) -> std::string& { return c.network; }, one_of(nn::network_names()));
  t.add<std::string>(
      "dataset", "Data set: " + listed(data::dataset_names()),
      [](C& c) -> std::string& { return c.dataset; }, one_of(data::dataset_names()));
  t.add<std::string>(
      "data-dir",
      "Folder (or packed .h5 for tiny-imagenet) holding the data set; empty: its default location",
      [](C& c) -> std::string& { return c.data.dir; });
  t.add<bool>("imagenet-stem",
              "resnet50: ImageNet stem (7x7/2 conv, 3x3/2 avg pool) instead of the 64x64 one",
              [](C& c) -> bool& { return c.imagenet_stem; })
      .also([](const C& c) {
        return !c.imagenet_stem || c.network == "resnet50"
                   ? ""
                   : std::string("applies to resnet50 only");
      });
  t.add<bool>("batchnorm", "BatchNorm after every conv/linear (off only for plain stacks)",
              [](C& c) -> bool& { return c.batchnorm; });
  t.add<std::string>(
      "act",
      "Activation of every slot, trained from scratch: relu, quad, taylor, "
      "poly:degree=D,range=A, poly:coeffs=c0,c1,..., herpn, cpoly:degree=D[,range=A], each "
      "optionally prefixed by amm+",
      [](C& c) -> std::string& { return c.act; });
  t.add<std::string>(
      "init",
      "Start from this checkpoint's weights instead of random ones (fine-tuning): its network, "
      "data set, activation and form (a folded network trains as it is deployed: no BN, no "
      "batch statistics); --net and --dataset must name its network and data set, --act its "
      "activation or stay relu",
      [](C& c) -> std::string& { return c.init; });
  add_range(t);
  t.add<int64_t>(
      "epochs", "Total training epochs", [](C& c) -> int64_t& { return c.epochs; },
      at_least<int64_t>(1));
  add_batches(t);
  add_optim(t, "");
  t.add<uint64_t>("seed", "Random seed (weights, data order, augmentation)",
                  [](C& c) -> uint64_t& { return c.seed; });
  add_job(t);
  t.add<bool>("sync-bn",
              "SyncBatchNorm: training-mode BN statistics over all ranks' batches, so R ranks "
              "train like one process "
              "with the global batch (off: per-rank statistics, averaged after every step)",
              [](C& c) -> bool& { return c.ranks.sync_bn; });
  add_run(t, "<net>-<dataset>");
  return t.rows;
}

}  // namespace

const std::vector<Setting<DeviceConfig>>& device_settings() {
  static const std::vector<Setting<DeviceConfig>> table = make_device_settings();
  return table;
}

const std::vector<Setting<TrainConfig>>& train_settings() {
  static const std::vector<Setting<TrainConfig>> table = make_train_settings();
  return table;
}

std::string setting_value_text(const SettingField& field) {
  struct Text {
    std::string operator()(bool* v) const { return *v ? "true" : "false"; }
    std::string operator()(int* v) const { return std::to_string(*v); }
    std::string operator()(int64_t* v) const { return std::to_string(*v); }
    std::string operator()(uint64_t* v) const { return std::to_string(*v); }
    std::string operator()(double* v) const {  // shortest text that reads back to the same double
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *v);
      return std::string(buf, end);
    }
    std::string operator()(std::string* v) const { return "\"" + *v + "\""; }
  };
  return std::visit(Text{}, field);
}

void fail_setting(const std::string& name, const std::string& why) {
  SISYPHUS_FAIL(ErrorKind::kConfig, "bad value for --" + name + ": " + why);
}

}  // namespace sisyphus::train