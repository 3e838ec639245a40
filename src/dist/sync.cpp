#include "dist/sync.h"

#include <torch/torch.h>

#include <climits>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"

namespace sisyphus::dist {
namespace {

// Rank `root`'s string on every rank.
std::string broadcast_string(Communicator& comm, const std::string& s, int root) {
  torch::Tensor len = torch::tensor({static_cast<int64_t>(s.size())}, torch::kInt64);
  comm.broadcast(len, root);
  torch::Tensor bytes = torch::zeros({len.item<int64_t>()}, torch::kUInt8);
  if (comm.rank() == root && !s.empty()) std::memcpy(bytes.data_ptr(), s.data(), s.size());
  if (bytes.numel() > 0) comm.broadcast(bytes, root);
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr()),
                     static_cast<size_t>(bytes.numel()));
}

// The first "key=value" line that differs, described for an error message.
std::string first_difference(const std::string& mine, const std::string& root, int rank) {
  std::istringstream a(mine), b(root);
  std::string la, lb;
  while (true) {
    bool ga = static_cast<bool>(std::getline(a, la));
    bool gb = static_cast<bool>(std::getline(b, lb));
    if (!ga && !gb) return "the configs differ";
    if (la != lb) {
      std::string key = (ga ? la : lb).substr(0, (ga ? la : lb).find('='));
      auto value = [](const std::string& line) {
        auto eq = line.find('=');
        return eq == std::string::npos ? std::string("(missing)") : line.substr(eq + 1);
      };
      return "setting '" + key + "' is " + (ga ? value(la) : "(missing)") + " on rank " +
             std::to_string(rank) + " but " + (gb ? value(lb) : "(missing)") + " on rank 0";
    }
  }
}

}  // namespace

void broadcast_state(Communicator& comm, torch::nn::Module& module) {
  if (!comm.communicates()) return;
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    torch::Tensor t = p.detach();
    comm.broadcast(t, 0);
  }
  for (auto& b : module.buffers()) comm.broadcast(b, 0);
}

void average_buffers(Communicator& comm, torch::nn::Module& module, int64_t weight,
                     const std::function<bool(const std::string&)>& include) {
  if (!comm.communicates()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> floats, ints;
  for (auto& item : module.named_buffers()) {
    if (include && !include(item.key())) continue;
    (item.value().is_floating_point() ? floats : ints).push_back(item.value());
  }
  if (!floats.empty()) {
    // [weighted buffers..., weight] in one all-reduce
    std::vector<torch::Tensor> flat_parts;
    for (auto& b : floats)
      flat_parts.push_back(b.reshape({-1}).to(torch::kFloat64) * static_cast<double>(weight));
    // On the buffers' device: torch::cat refuses a CPU tensor among CUDA ones.
    flat_parts.push_back(torch::full({1}, static_cast<double>(weight),
                                     floats.front().options().dtype(torch::kFloat64)));
    torch::Tensor flat = torch::cat(flat_parts);
    comm.all_reduce(flat, ReduceOp::kSum);
    flat = flat.narrow(0, 0, flat.numel() - 1) / flat[flat.numel() - 1];
    int64_t off = 0;
    for (auto& b : floats) {
      b.copy_(flat.narrow(0, off, b.numel()).view_as(b));
      off += b.numel();
    }
  }
  if (!ints.empty()) {
    std::vector<torch::Tensor> parts;
    for (auto& b : ints) parts.push_back(b.reshape({-1}).to(torch::kInt64));
    torch::Tensor flat = torch::cat(parts);
    comm.all_reduce(flat, ReduceOp::kMax);
    int64_t off = 0;
    for (auto& b : ints) {
      b.copy_(flat.narrow(0, off, b.numel()).view_as(b));
      off += b.numel();
    }
  }
}

void check_same_config(Communicator& comm, const std::string& config_text) {
  if (!comm.communicates()) return;
  torch::Tensor mine = torch::tensor({static_cast<int64_t>(fnv1a64(config_text))}, torch::kInt64);
  torch::Tensor all = comm.all_gather(mine);
  bool same = all.eq(all[0]).all().item<bool>();
  if (same) return;
  std::string root = broadcast_string(comm, config_text, 0);
  std::string diff = root == config_text ? "" : first_difference(config_text, root, comm.rank());
  torch::Tensor who =
      torch::tensor({diff.empty() ? static_cast<int64_t>(INT_MAX) : comm.rank()}, torch::kInt64);
  comm.all_reduce(who, ReduceOp::kMin);
  std::string message = broadcast_string(comm, diff, static_cast<int>(who.item<int64_t>()));
  SISYPHUS_FAIL(ErrorKind::kConfig, "ranks were started with different settings: " + message);
}

}  // namespace sisyphus::dist
