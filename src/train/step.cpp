#include "train/step.h"

#include <torch/torch.h>

namespace sisyphus::train {

StepFigures fetch_step_figures(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  torch::Tensor both = torch::stack({loss.detach().to(torch::kFloat64),
                                     logits.argmax(1).eq(labels).sum().to(torch::kFloat64)})
                           .to(torch::kCPU);
  return {both[0].item<double>(), static_cast<int64_t>(both[1].item<double>())};
}

StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch, const Placement& place, double lr,
                      dist::GradientReducer* reducer, int64_t global_count, bool empty_forward,
                      std::vector<torch::Tensor>* outputs) {
  sgd.zero_grad();
  StepResult r;
  if (reducer) reducer->begin_step(batch.size(), global_count);
  if (batch.size() == 0) {  // nothing to compute here; zeros join the all-reduce
    if (empty_forward) {
      torch::Tensor out;
      {
        AutocastScope autocast(place);
        out = net.forward(batch.images);
      }
      (out.sum() * 0.0).backward();
    }
    if (reducer) {
      reducer->finish_step();
      sgd.step(lr);
    }
    return r;
  }
  torch::Tensor logits;  // [B, classes]
  torch::Tensor loss;    // []
  {
    AutocastScope autocast(place);  // backward runs in the forward's dtypes
    if (outputs) {
      std::vector<torch::Tensor> outs = net.forward_points(batch.images);
      logits = outs.back();
      outputs->clear();
      for (auto& o : outs) outputs->push_back(o.detach());
    } else {
      logits = net.forward(batch.images);
    }
    loss = torch::nn::functional::cross_entropy(logits, batch.labels);  // fp32 under autocast
  }
  loss.backward();
  if (reducer) reducer->finish_step();
  sgd.step(lr);
  const StepFigures f = fetch_step_figures(loss, logits, batch.labels);
  r.loss = f.loss;
  r.correct = f.correct;
  return r;
}

}  // namespace sisyphus::train
