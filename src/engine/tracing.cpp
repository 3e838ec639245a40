#include "engine/tracing.h"

#include "core/log.h"

namespace sisyphus::train {

RunTrace::RunTrace(const Job& job, const std::string& path, const trace::TraceHeader& header,
                   int64_t resume_step, int64_t every, bool test)
    : job_(job),
      every_(every),
      test_(test),
      acc_(header.layers.size(), header.bound, header.sample_per_image) {
  if (job.rank != 0 || !(every > 0 || test)) return;
  writer_ = std::make_unique<trace::TraceWriter>(path, header, /*append=*/resume_step >= 0,
                                                 trace::DropAfter{header.run, resume_step});
  if (resume_step < 0) return;
  if (const int64_t dropped = writer_->dropped(); dropped > 0)
    log::info("trace: dropped " + std::to_string(dropped) + " record(s) after step " +
              std::to_string(resume_step) + " that the interrupted run wrote (" + path + ")");
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
  if (!writer_) return;
  dist::TimedWait timed(write_timer_);
  writer_->write(r);
}

}  // namespace sisyphus::train
