// BatchNorm followed by ReLU in one kernel each way (an option,
// --fused-bn-relu): on a CPU float32 NCHW batch, the forward pass takes the
// batch statistics (two passes, as torch's) and writes max(0, x*scale +
// shift) in one more; the backward pass recomputes ReLU's mask from x
// instead of reading a saved output, so it reads the gradient and x twice
// and writes dx once (torch's BN + ReLU: 6 reads and 2 writes backward, 4
// reads and 2 writes forward; here 4 + 1 and 3 + 1). The same arithmetic as
// torch's batch_norm and relu up to the order of float sums.
#pragma once

#include <torch/types.h>

namespace sisyphus::nn {

class BatchNormImpl;

// Whether bn_relu takes x: float32 on the CPU, 4-d, contiguous (NCHW), with
// at least one value per channel beyond one image row; training needs more
// than one value per channel (torch's batch_norm refuses one).
bool bn_relu_fusable(const torch::Tensor& x, bool training);

// relu(bn(x)) for a BatchNorm that is not synchronised across ranks:
// training mode with the batch's statistics (the running estimates updated
// as torch's, num_batches_tracked by the caller), evaluation mode (no
// gradient) with the running ones.
torch::Tensor bn_relu(BatchNormImpl& bn, const torch::Tensor& x, double momentum, double eps);

}  // namespace sisyphus::nn
