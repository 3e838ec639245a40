#include "model/data_network.h"

#include <torch/torch.h>

namespace sisyphus::train {

nn::NetShape shape_of(const data::DatasetSpec& spec, bool batchnorm, bool folded) {
  return nn::NetShape{spec.channels, spec.size, spec.num_classes, batchnorm, folded};
}

torch::Tensor probe_input(const data::DatasetSpec& spec) {
  return torch::zeros({1, spec.channels, spec.size, spec.size});
}

}  // namespace sisyphus::train
