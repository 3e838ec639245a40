#include "train/run_setup.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"

namespace sisyphus::train {

std::string prepare_run_dir(const Job& job, const std::string& checkpoint_dir,
                            const std::string& run, bool resume) {
  const std::string run_dir = checkpoint_dir + "/" + run;
  const std::string last_path = run_dir + "/last.h5";
  if (job.rank == 0) fs::make_dirs(run_dir);
  if (!resume && fs::file_exists(last_path)) {
    SISYPHUS_FAIL(ErrorKind::kConfig,
                  "run '" + run + "' already has a checkpoint (" + last_path +
                      "); pass --resume to continue it or --run to start another run");
  }
  return last_path;
}

Splits load_splits(const data::DatasetSpec& spec, const std::string& dir, int64_t train_limit,
                   int64_t test_limit) {
  Splits s{data::load_split(spec, dir, /*train=*/true),
           data::load_split(spec, dir, /*train=*/false)};
  s.train.truncate(train_limit);
  s.test.truncate(test_limit);
  return s;
}

nn::NetShape shape_of(const data::DatasetSpec& spec, bool batchnorm, bool folded) {
  return nn::NetShape{spec.channels, spec.size, spec.num_classes, batchnorm, folded};
}

torch::Tensor probe_input(const data::DatasetSpec& spec) {
  return torch::zeros({1, spec.channels, spec.size, spec.size});
}

}  // namespace sisyphus::train
