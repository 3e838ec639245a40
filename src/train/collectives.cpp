#include "train/collectives.h"

#include "core/clock.h"

namespace sisyphus::train {
namespace {

void timed_all_reduce(dist::Communicator& comm, SyncTime& time, torch::Tensor& t,
                      dist::ReduceOp op) {
  const auto t0 = Clock::now();
  comm.all_reduce(t, op);
  time.calls += 1;
  time.seconds += seconds_since(t0);
}

}  // namespace

StatCollectives stat_collectives(const Job& job) {
  StatCollectives c;
  if (job.world == 1) return c;
  std::shared_ptr<dist::Communicator> comm = job.comm;
  std::shared_ptr<SyncTime> time = c.time;
  auto sync = std::make_shared<nn::StatSync>();
  sync->sum = [comm, time](torch::Tensor& t) {
    timed_all_reduce(*comm, *time, t, dist::ReduceOp::kSum);
  };
  sync->max = [comm, time](torch::Tensor& t) {
    timed_all_reduce(*comm, *time, t, dist::ReduceOp::kMax);
  };
  c.sync = std::move(sync);
  return c;
}

void attach(const StatCollectives& c, torch::nn::Module& net, nn::SyncScope scope) {
  nn::attach_stat_sync(net, c.sync, scope);
}

}  // namespace sisyphus::train
