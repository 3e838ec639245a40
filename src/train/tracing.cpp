#include "train/tracing.h"

namespace sisyphus::train {

RunTrace::RunTrace(const Job& job, const std::string& path, const trace::TraceHeader& header,
                   bool append, int64_t every, bool test)
    : job_(job), every_(every), test_(test), acc_(header.layers.size(), header.bound) {
  if (job.rank == 0 && (every > 0 || test))
    writer_ = std::make_unique<trace::TraceWriter>(path, header, append);
}

void RunTrace::record(const std::string& source, const std::string& stage, const std::string& phase,
                      const std::string& mode, int64_t epoch, int64_t step) {
  trace::TraceRecord r;
  r.source = source;
  r.stage = stage;
  r.phase = phase;
  r.mode = mode;
  r.epoch = epoch;
  r.step = step;
  r.layers = acc_.reduce(job_.comm.get(), &r.samples);
  acc_.reset();
  if (writer_) writer_->write(r);
}

}  // namespace sisyphus::train
