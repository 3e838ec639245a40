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

// Appends rows to <run>/metrics.csv, writing the header to a new file.
class MetricsCsv {
 public:
  explicit MetricsCsv(const std::string& path);
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
