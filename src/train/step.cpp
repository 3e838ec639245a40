#include "train/step.h"

#include <torch/torch.h>

namespace sisyphus::train {

StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch, double lr,
                      dist::GradientReducer* reducer, int64_t global_count, bool empty_forward,
                      std::vector<torch::Tensor>* outputs) {
  sgd.zero_grad();
  StepResult r;
  if (reducer) reducer->begin_step(batch.size(), global_count);
  if (batch.size() == 0) {  // nothing to compute here; zeros join the all-reduce
    if (empty_forward) (net.forward(batch.images).sum() * 0.0).backward();
    if (reducer) {
      reducer->finish_step();
      sgd.step(lr);
    }
    return r;
  }
  torch::Tensor logits;  // [B, classes]
  if (outputs) {
    std::vector<torch::Tensor> outs = net.forward_points(batch.images);
    logits = outs.back();
    outputs->clear();
    for (auto& o : outs) outputs->push_back(o.detach());
  } else {
    logits = net.forward(batch.images);
  }
  torch::Tensor loss = torch::nn::functional::cross_entropy(logits, batch.labels);  // []
  loss.backward();
  if (reducer) reducer->finish_step();
  sgd.step(lr);
  r.loss = loss.item<double>();
  r.correct = logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  return r;
}

}  // namespace sisyphus::train
