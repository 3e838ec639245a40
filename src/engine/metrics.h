// Progress lines and machine-readable metrics.
//
// progress: "[baseline] epoch 2/5 step 300/469 loss 0.3412 acc 87.50% lr 0.0905 2841 img/s ETA
// 0:00:41" metrics.csv: one row per epoch, columns in kMetricsHeader.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace sisyphus::train {

inline constexpr const char* kMetricsHeader =
    "stage,epoch,step,lr,train_loss,train_acc,test_loss,test_acc,test_acc_finite,images_per_s,"
    "elapsed_s";

struct EpochRow {
  std::string stage;  // "baseline"
  int64_t epoch = 0;  // 1-based, completed
  int64_t step = 0;   // optimizer steps so far
  double lr = 0;
  double train_loss = 0;
  double train_acc = 0;  // fraction
  double test_loss = 0;
  double test_acc = 0;         // fraction, over all test samples
  double test_acc_finite = 0;  // over the samples with finite outputs (the reference's figure)
  double images_per_s = 0;
  double elapsed_s = 0;
};

// Rows of <run>/metrics.csv. resume_step < 0: a run from its start (no
// checkpoint): a new file with the header, whatever an earlier attempt left.
// Rows are written before the epoch's checkpoint; a resumed run (resume_step
// >= 0: its checkpoint's step) first drops the rows beyond that step and any
// partly written last row, which it writes again: a run killed anywhere and
// resumed ends with the uninterrupted run's rows, each once.
class MetricsCsv {
 public:
  explicit MetricsCsv(const std::string& path, int64_t resume_step = -1);
  ~MetricsCsv();
  MetricsCsv(const MetricsCsv&) = delete;
  MetricsCsv& operator=(const MetricsCsv&) = delete;
  void write(const EpochRow& row);

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

std::string progress_line(const std::string& stage, int64_t epoch, int64_t epochs, int64_t step,
                          int64_t steps, double loss, double acc, double lr, double images_per_s,
                          double eta_s);

}  // namespace sisyphus::train
