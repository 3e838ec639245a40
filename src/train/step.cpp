#include "train/step.h"

#include <torch/torch.h>

namespace sisyphus::train {

StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch, double lr) {
  sgd.zero_grad();
  torch::Tensor logits = net.forward(batch.images);                                // [B, classes]
  torch::Tensor loss = torch::nn::functional::cross_entropy(logits, batch.labels);  // []
  loss.backward();
  sgd.step(lr);
  StepResult r;
  r.loss = loss.item<double>();
  r.correct = logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  return r;
}

}  // namespace sisyphus::train
