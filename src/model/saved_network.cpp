#include "model/saved_network.h"

#include <torch/torch.h>

#include "core/error.h"
#include "model/data_network.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/registry.h"

namespace sisyphus::train {

SavedNetwork load_saved_network(const std::string& path) {
  SavedNetwork s;
  s.ckpt = io::load_checkpoint(path);
  const io::CheckpointMeta& m = s.ckpt.meta;
  s.spec = &data::dataset_spec(m.dataset);
  if (m.in_channels != s.spec->channels || m.image_size != s.spec->size ||
      m.num_classes != s.spec->num_classes) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "'" + path + "' was written for other input shapes than " + s.spec->name);
  }
  s.net = nn::make_network(m.network, shape_of(*s.spec, m.batchnorm, m.folded), m.imagenet_stem);
  // The checkpoint's activations first: their tensors must load.
  nn::set_activations(*s.net, m.activation, probe_input(*s.spec));
  s.missing = io::load_module_state(*s.net, s.ckpt.model, path, nn::amm_later_buffers());
  return s;
}

}  // namespace sisyphus::train
