// What a training command sets up before its first step: the run folder,
// the data splits (the network's input shape: model/data_network.h).
#pragma once

#include <memory>
#include <string>

#include "core/run_lock.h"

#include "data/dataset.h"
#include "engine/job.h"
#include "model/data_network.h"

namespace sisyphus::train {

// A run's folder, held by this run alone (rank 0 holds its RunLock for the
// run's life: a second process on the same run stops at once, naming the
// holder's PID and host).
struct RunFolder {
  std::string dir;        // <checkpoint_dir>/<run>
  std::string last_path;  // <dir>/last.h5
  std::unique_ptr<RunLock> lock;
};

// <checkpoint_dir>/<run>/ made and locked by rank 0. Error(kConfig) when the
// run is in use by another process, or has a checkpoint and resume is off (a
// run is never overwritten).
RunFolder prepare_run_dir(const Job& job, const std::string& checkpoint_dir, const std::string& run,
                          bool resume);

// Error(kConfig) when `trace_file` is the trace of a run folder that a live
// run holds (`<run>/trace.h5` of a locked run): one writer per trace file.
void check_trace_not_in_use(const std::string& trace_file);

// The data set's train and test splits, each cut to its first `limit`
// images when limit > 0.
struct Splits {
  data::ImageSet train, test;
};
Splits load_splits(const data::DatasetSpec& spec, const std::string& dir, int64_t train_limit,
                   int64_t test_limit);

}  // namespace sisyphus::train
