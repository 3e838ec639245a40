#include "engine/step.h"

#include <torch/torch.h>

namespace sisyphus::train {

StepFigures fetch_step_figures(const torch::Tensor& loss, const torch::Tensor& logits,
                               const torch::Tensor& labels, const torch::Tensor& flag) {
  torch::NoGradGuard no_grad;
  // Undefined logits (a forward that stopped before them): no hits counted.
  std::vector<torch::Tensor> parts = {
      loss.detach().to(torch::kFloat64),
      logits.defined() ? logits.argmax(1).eq(labels).sum().to(torch::kFloat64)
                       : torch::zeros({}, loss.options().dtype(torch::kFloat64))};
  if (flag.defined()) parts.push_back(flag.to(loss.device(), torch::kFloat64));
  torch::Tensor all = torch::stack(parts).to(torch::kCPU);
  return {all[0].item<double>(), static_cast<int64_t>(all[1].item<double>()),
          flag.defined() && all[2].item<double>() != 0};
}

StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch,
                      const Placement& place, double lr, const Objective& objective,
                      dist::GradientReducer& reducer, int64_t global_count, bool keep_outputs) {
  sgd.zero_grad();
  reducer.begin_step(batch.size(), global_count);
  std::vector<torch::Tensor> outs;  // every point's output, or the logits only
  torch::Tensor loss;               // []
  {
    AutocastScope autocast(place);  // backward runs in the forward's dtypes
    if (keep_outputs || objective.imitates()) {
      outs = net.forward_points(batch.images, objective.last_output());
    } else {
      outs.push_back(net.forward(batch.images));
    }
    loss = objective.loss(outs, batch);
  }
  if (loss.requires_grad()) loss.backward();
  reducer.finish_step();
  sgd.step(lr);
  StepResult r;
  if (batch.size() > 0) {
    const StepFigures f = fetch_step_figures(
        loss, objective.last_output() == SIZE_MAX ? outs.back() : torch::Tensor(), batch.labels,
        reducer.local_nonfinite());
    r.loss = f.loss;
    r.correct = f.correct;
    r.grads_nonfinite = f.flag;
  } else if (reducer.local_nonfinite().defined()) {
    r.grads_nonfinite = reducer.local_nonfinite().item<bool>();
  }
  if (keep_outputs)
    for (auto& o : outs) r.outputs.push_back(o.detach());
  return r;
}

}  // namespace sisyphus::train
