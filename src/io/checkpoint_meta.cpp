#include "io/checkpoint_meta.h"

namespace sisyphus::io {

const std::vector<MetaField>& meta_fields() {
  using M = CheckpointMeta;
  static const std::vector<MetaField> fields = {
      {"network", &M::network, false},
      {"dataset", &M::dataset, false},
      {"stage", &M::stage, false},
      {"epoch", &M::epoch, false},
      {"step", &M::step, false},
      {"config", &M::config, false},
      {"config_hash", &M::config_hash, false},
      {"test_acc", &M::test_acc, false},
      {"test_acc_finite", &M::test_acc_finite, true},  // absent: test_acc (read_meta)
      {"test_loss", &M::test_loss, false},
      {"num_classes", &M::num_classes, false},
      {"in_channels", &M::in_channels, false},
      {"image_size", &M::image_size, false},
      {"imagenet_stem", &M::imagenet_stem, false},
      {"batchnorm", &M::batchnorm, false},
      {"folded", &M::folded, true},
      {"activation", &M::activation, true},
      {"point", &M::point, true},
      {"stage_epochs", &M::stage_epochs, true},
      {"train_loss", &M::train_loss, true},
      {"test_nonfinite", &M::test_nonfinite, true},
      {"teacher", &M::teacher, true},
      {"epoch_step", &M::epoch_step, true},
      {"partial_seconds", &M::partial_seconds, true},
  };
  return fields;
}

}  // namespace sisyphus::io
