#include "engine/run_setup.h"

#include "core/error.h"
#include "core/fs.h"

namespace sisyphus::train {

RunFolder prepare_run_dir(const Job& job, const std::string& checkpoint_dir, const std::string& run,
                          bool resume) {
  RunFolder f;
  f.dir = checkpoint_dir + "/" + run;
  f.last_path = f.dir + "/last.h5";
  // First the lock: nothing of the folder is read or written by a second process.
  if (job.rank == 0) f.lock = std::make_unique<RunLock>(f.dir, run);
  if (!resume && fs::file_exists(f.last_path)) {
    SISYPHUS_FAIL(ErrorKind::kConfig,
                  "run '" + run + "' already has a checkpoint (" + f.last_path +
                      "); pass --resume to continue it or --run to start another run");
  }
  return f;
}

void check_trace_not_in_use(const std::string& trace_file) {
  const auto slash = trace_file.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : trace_file.substr(0, slash);
  const std::string name = slash == std::string::npos ? trace_file : trace_file.substr(slash + 1);
  if (name != "trace.h5") return;  // a run writes only <run>/trace.h5
  if (const auto who = RunLock::holder(folder))
    SISYPHUS_FAIL(ErrorKind::kConfig, "'" + trace_file + "' is the trace of the run in " + folder +
                                          ", which " + *who +
                                          " is writing; give --trace another file");
}

Splits load_splits(const data::DatasetSpec& spec, const std::string& dir, int64_t train_limit,
                   int64_t test_limit) {
  Splits s{data::load_split(spec, dir, /*train=*/true),
           data::load_split(spec, dir, /*train=*/false)};
  s.train.truncate(train_limit);
  s.test.truncate(test_limit);
  return s;
}

}  // namespace sisyphus::train
