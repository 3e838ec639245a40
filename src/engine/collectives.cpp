#include "engine/collectives.h"

namespace sisyphus::train {
namespace {

void timed_all_reduce(dist::Communicator& comm, SyncTime& time, torch::Tensor& t,
                      dist::ReduceOp op) {
  dist::TimedWait timed(*time.timer);
  comm.all_reduce(t, op);
  time.calls += 1;
}

}  // namespace

StatCollectives stat_collectives(const Job& job) {
  StatCollectives c;
  if (!job.comm->communicates()) return c;
  std::shared_ptr<dist::Communicator> comm = job.comm;
  std::shared_ptr<SyncTime> time = c.time;
  time->timer = comm->interval_timer();
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
