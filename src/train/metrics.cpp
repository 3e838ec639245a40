#include "train/metrics.h"

#include <sys/stat.h>

#include "core/error.h"
#include "core/log.h"

namespace sisyphus::train {

MetricsCsv::MetricsCsv(const std::string& path) : path_(path) {
  struct stat st;
  bool fresh = stat(path.c_str(), &st) != 0 || st.st_size == 0;
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) SISYPHUS_FAIL(ErrorKind::kIo, "cannot open '" + path + "' for appending");
  if (fresh) std::fprintf(file_, "%s\n", kMetricsHeader);
  std::fflush(file_);
}

MetricsCsv::~MetricsCsv() {
  if (file_) std::fclose(file_);
}

void MetricsCsv::write(const EpochRow& r) {
  std::fprintf(file_, "%s,%lld,%lld,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.1f\n", r.stage.c_str(),
               static_cast<long long>(r.epoch), static_cast<long long>(r.step), r.lr, r.train_loss,
               r.train_acc, r.test_loss, r.test_acc, r.test_acc_finite, r.images_per_s,
               r.elapsed_s);
  if (std::fflush(file_) != 0) SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + path_ + "'");
}

std::string progress_line(const std::string& stage, int64_t epoch, int64_t epochs, int64_t step,
                          int64_t steps, double loss, double acc, double lr, double images_per_s,
                          double eta_s) {
  char buf[256];
  std::snprintf(
      buf, sizeof(buf),
      "[%s] epoch %lld/%lld step %lld/%lld loss %.4f acc %.2f%% lr %.4g %.0f img/s ETA %s",
      stage.c_str(), static_cast<long long>(epoch), static_cast<long long>(epochs),
      static_cast<long long>(step), static_cast<long long>(steps), loss, acc * 100.0, lr,
      images_per_s, log::format_duration(eta_s).c_str());
  return buf;
}

}  // namespace sisyphus::train
