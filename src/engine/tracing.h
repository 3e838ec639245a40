// A run's activation trace (<run>/trace.h5): statistics of every imitation
// point's outputs, recorded every `every` training steps (one batch over all
// ranks) and at every evaluation. Every rank accumulates and joins the
// reduction; rank 0 writes.
#pragma once

#include <memory>
#include <string>

#include "dist/interval_timer.h"
#include "engine/job.h"
#include "trace/stats.h"
#include "trace/writer.h"

namespace sisyphus::train {

class RunTrace {
 public:
  // every = 0: no training records; test = false: no evaluation records;
  // both: no trace file at all. resume_step < 0: a new trace file; else the
  // run resumes from its checkpoint at that step: the trace is appended to,
  // after dropping the records a killed run wrote beyond that step (the
  // resumed run writes them again: no duplicates).
  RunTrace(const Job& job, const std::string& path, const trace::TraceHeader& header,
           int64_t resume_step, int64_t every, bool test = true);
  bool traces_test() const { return test_; }
  bool due(int64_t step) const { return every_ > 0 && step % every_ == 0; }
  trace::TraceAccumulator& accumulator() { return acc_; }
  // Reduces what was accumulated (a collective), writes it (rank 0), resets.
  void record(const std::string& source, const std::string& stage, const std::string& phase,
              const std::string& mode, int64_t epoch, int64_t step);
  // Whether the run computes any record (a trace file exists).
  bool on() const { return every_ > 0 || test_; }
  // Wall seconds this process spent on the trace so far: statistics,
  // reductions and writes (the epoch lines show it: what traces cost).
  double seconds() const { return acc_.seconds() + write_timer_.seconds(); }

 private:
  const Job& job_;
  int64_t every_;
  bool test_;
  trace::TraceAccumulator acc_;
  std::unique_ptr<trace::TraceWriter> writer_;
  mutable dist::HostTimer write_timer_;
};

}  // namespace sisyphus::train
