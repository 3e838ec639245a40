#include "engine/evaluate.h"

#include <torch/torch.h>

#include "data/loader.h"
#include "data/sampler.h"

namespace sisyphus::train {

EvalResult evaluate(nn::NetworkImpl& net, const data::ImageSet& set, const data::DatasetSpec& spec,
                    const Placement& place, int64_t batch_size, dist::Communicator* comm,
                    trace::TraceAccumulator* trace) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::LoaderOptions opts;
  opts.pin_memory = place.cuda();
  // Global batches of `batch_size` in test-set order, each split over the
  // ranks (data/sampler.h): every rank runs every batch, some possibly
  // empty, so that layers that synchronise in forward (AMM's `mm` mode)
  // issue the same collectives everywhere and see one process's batches.
  const std::vector<int64_t> order = data::epoch_order(set.n, 0, 0, /*shuffle=*/false);
  data::BatchLoader loader(
      set, spec,
      data::shard_batches(order, comm ? comm->rank() : 0, comm ? comm->size() : 1, batch_size),
      opts);
  DeviceFeed feed(loader, spec, place);
  const int64_t steps = data::num_global_batches(set.n, batch_size);
  const auto on_device = torch::TensorOptions().device(place.device);
  torch::Tensor counts =
      torch::zeros({3}, on_device.dtype(torch::kInt64));  // samples, correct, non-finite
  torch::Tensor loss_sum = torch::zeros({}, on_device.dtype(torch::kFloat64));
  for (int64_t s = 0; s < steps; ++s) {
    data::Batch batch = feed.next();
    torch::Tensor logits;  // [B, classes]
    {
      AutocastScope autocast(place);
      if (trace) {  // each point's statistics as the forward pass computes it
        logits = net.forward_observed(
            batch.images, [trace](size_t l, const torch::Tensor& y) { trace->add_point(l, y); });
        trace->end_batch(batch.size());
      } else {
        logits = net.forward(batch.images);
      }
    }
    logits = logits.to(torch::kFloat32);
    torch::Tensor finite = torch::isfinite(logits).all(/*dim=*/1);  // [B]
    torch::Tensor losses = torch::nn::functional::cross_entropy(
        logits, batch.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // [B]
    torch::Tensor hit = logits.argmax(1).eq(batch.labels).logical_and(finite);
    counts[0] += batch.size();
    counts[1] += hit.sum();
    counts[2] += batch.size() - finite.sum();
    loss_sum += losses.masked_select(finite).sum().to(torch::kFloat64);
  }
  counts = counts.to(torch::kCPU);
  EvalResult r;
  r.samples = counts[0].item<int64_t>();
  r.correct = counts[1].item<int64_t>();
  r.nonfinite = counts[2].item<int64_t>();
  r.loss_sum = loss_sum.item<double>();
  if (comm && comm->communicates()) {
    torch::Tensor counts = torch::tensor({r.samples, r.correct, r.nonfinite}, torch::kInt64);
    torch::Tensor loss = torch::tensor({r.loss_sum}, torch::kFloat64);
    comm->all_reduce(counts, dist::ReduceOp::kSum);
    comm->all_reduce(loss, dist::ReduceOp::kSum);
    r.samples = counts[0].item<int64_t>();
    r.correct = counts[1].item<int64_t>();
    r.nonfinite = counts[2].item<int64_t>();
    r.loss_sum = loss.item<double>();
  }
  net.train();
  return r;
}

}  // namespace sisyphus::train
