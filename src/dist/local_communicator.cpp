#include "dist/local_communicator.h"

#include <cstdlib>

namespace sisyphus::dist {
namespace {
class DoneWork : public Work {
 public:
  void wait() override {}
  bool test() override { return true; }
};
}  // namespace

std::unique_ptr<Work> LocalCommunicator::all_reduce_async(torch::Tensor& t, ReduceOp op) {
  return std::make_unique<DoneWork>();  // sum/min/max/avg over one rank is the tensor itself
}

void LocalCommunicator::abort(int code) { std::exit(code); }

}  // namespace sisyphus::dist
