#include "engine/ranks.h"

#include <torch/torch.h>

#include <cstdio>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "io/checkpoint.h"

namespace sisyphus::train {
namespace {

// FNV-1a over the bytes of every parameter and buffer, in state_dict order.
uint64_t state_checksum(const torch::nn::Module& module) {
  uint64_t h = kFnvOffset;
  for (const auto& [name, t] : io::module_state(module)) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    h = fnv1a64(c.data_ptr(), static_cast<size_t>(c.numel() * c.element_size()), h);
  }
  return h;
}

}  // namespace

void verify_ranks(dist::Communicator& comm, const torch::nn::Module& module,
                  const std::string& when) {
  if (!comm.communicates()) return;
  torch::Tensor mine = torch::tensor({static_cast<int64_t>(state_checksum(module))}, torch::kInt64);
  torch::Tensor all = comm.all_gather(mine).reshape({-1});
  std::string list;
  for (int64_t r = 0; r < all.size(0); ++r) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%016llx",
                  static_cast<unsigned long long>(all[r].item<int64_t>()));
    list += (r ? " " : "") + std::string(buf);
  }
  bool same = all.eq(all[0]).all().item<bool>();
  log::info("ranks: " + when + " parameter+buffer checksums " + list +
            (same ? " (identical on " + std::to_string(comm.size()) + " ranks)" : " (DIFFERENT)"));
  if (!same)
    SISYPHUS_FAIL(ErrorKind::kMpi,
                  "ranks hold different parameters after " + when + ": checksums " + list);
}

}  // namespace sisyphus::train
