#include "train/evaluate.h"

#include <torch/torch.h>

#include "data/loader.h"
#include "data/sampler.h"

namespace sisyphus::train {

EvalResult evaluate(nn::NetworkImpl& net, const data::ImageSet& set, const data::DatasetSpec& spec,
                    int64_t batch_size) {
  torch::NoGradGuard no_grad;
  net.eval();
  data::LoaderOptions opts;
  opts.batch_size = batch_size;
  data::BatchLoader loader(set, spec, data::epoch_order(set.n, 0, 0, /*shuffle=*/false), opts);
  EvalResult r;
  data::Batch batch;
  while (loader.next(&batch)) {
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
  net.train();
  return r;
}

}  // namespace sisyphus::train
