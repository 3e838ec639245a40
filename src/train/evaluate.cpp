#include "train/evaluate.h"

#include <torch/torch.h>

#include "data/loader.h"
#include "data/sampler.h"

namespace sisyphus::train {

EvalResult evaluate(nn::NetworkImpl& net, const data::ImageSet& set, const data::DatasetSpec& spec,
                    int64_t batch_size, dist::Communicator* comm, trace::TraceAccumulator* trace) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::LoaderOptions opts;
  opts.batch_size = batch_size;
  std::vector<int64_t> order = data::epoch_order(set.n, 0, 0, /*shuffle=*/false);
  if (comm) order = data::shard(order, comm->rank(), comm->size());
  data::BatchLoader loader(set, spec, order, opts);
  EvalResult r;
  const torch::Device device = net.parameters().front().device();
  // Every rank runs as many batches as the largest shard (rank 0's) needs,
  // the others finishing with empty ones: layers that synchronise in
  // forward (AMM's `mm` mode) then issue the same collectives everywhere.
  const int world = comm ? comm->size() : 1;
  const int64_t largest_shard = (set.n + world - 1) / world;
  const int64_t steps = (largest_shard + batch_size - 1) / batch_size;
  for (int64_t s = 0; s < steps; ++s) {
    data::Batch batch;
    if (!loader.next(&batch)) {
      batch.images = torch::zeros({0, spec.channels, spec.size, spec.size});
      batch.labels = torch::zeros({0}, torch::kInt64);
    }
    if (!device.is_cpu()) {
      batch.images = batch.images.to(device);
      batch.labels = batch.labels.to(device);
    }
    torch::Tensor logits;  // [B, classes]
    if (trace) {
      std::vector<torch::Tensor> outs = net.forward_points(batch.images);
      trace->add(outs, batch.size());
      logits = outs.back();
    } else {
      logits = net.forward(batch.images);
    }
    torch::Tensor finite = torch::isfinite(logits).all(/*dim=*/1);          // [B]
    torch::Tensor losses = torch::nn::functional::cross_entropy(
        logits, batch.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // [B]
    torch::Tensor hit = logits.argmax(1).eq(batch.labels).logical_and(finite);
    r.samples += batch.size();
    r.correct += hit.sum().item<int64_t>();
    r.nonfinite += batch.size() - finite.sum().item<int64_t>();
    r.loss_sum += losses.masked_select(finite).sum().item<double>();
  }
  if (comm && comm->size() > 1) {
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
