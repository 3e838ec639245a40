#include "train/evaluate.h"

#include <torch/torch.h>

#include "data/loader.h"
#include "data/sampler.h"

namespace sisyphus::train {

EvalResult evaluate(nn::NetworkImpl& net, const data::ImageSet& set, const data::DatasetSpec& spec,
                    int64_t batch_size, dist::Communicator* comm) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::LoaderOptions opts;
  opts.batch_size = batch_size;
  std::vector<int64_t> order = data::epoch_order(set.n, 0, 0, /*shuffle=*/false);
  if (comm) order = data::shard(order, comm->rank(), comm->size());
  data::BatchLoader loader(set, spec, order, opts);
  EvalResult r;
  const torch::Device device = net.parameters().front().device();
  data::Batch batch;
  while (loader.next(&batch)) {
    if (!device.is_cpu()) {
      batch.images = batch.images.to(device);
      batch.labels = batch.labels.to(device);
    }
    torch::Tensor logits = net.forward(batch.images);                       // [B, classes]
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
