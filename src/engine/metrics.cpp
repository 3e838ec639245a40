#include "engine/metrics.h"

#include <sys/stat.h>

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace sisyphus::train {

namespace {

// Keeps the header and the whole rows up to `step` (column 3); true when
// something was dropped.
bool trim_rows(const std::string& path, int64_t step) {
  std::FILE* in = std::fopen(path.c_str(), "r");
  if (!in) return false;  // nothing yet
  std::string text, kept;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), in)) > 0;) text.append(buf, n);
  const bool read_error = std::ferror(in) != 0;
  std::fclose(in);
  SISYPHUS_CHECK(!read_error, ErrorKind::kIo, "cannot read '" + path + "'");
  bool dropped = false;
  size_t at = 0;
  for (bool header = true; at < text.size(); header = false) {
    const size_t end = text.find('\n', at);
    if (end == std::string::npos) {  // a row cut short by a kill
      dropped = true;
      break;
    }
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    long long epoch = 0, row_step = 0;
    char stage[128];
    const bool keep =
        header || (std::count(line.begin(), line.end(), ',') == 10 &&
                   std::sscanf(line.c_str(), "%127[^,],%lld,%lld", stage, &epoch, &row_step) == 3 &&
                   row_step <= step);
    if (keep)
      kept += line + "\n";
    else
      dropped = true;
  }
  if (!dropped) return false;
  const std::string tmp = path + ".tmp";
  std::FILE* out = std::fopen(tmp.c_str(), "w");
  SISYPHUS_CHECK(out, ErrorKind::kIo, "cannot write '" + tmp + "'");
  const bool ok = std::fwrite(kept.data(), 1, kept.size(), out) == kept.size();
  SISYPHUS_CHECK(std::fclose(out) == 0 && ok, ErrorKind::kIo, "cannot write '" + tmp + "'");
  fs::sync_file(tmp);
  fs::rename_over(tmp, path);
  return true;
}

}  // namespace

MetricsCsv::MetricsCsv(const std::string& path, int64_t resume_step) : path_(path) {
  if (resume_step >= 0 && trim_rows(path, resume_step))
    log::info("metrics: dropped the rows after step " + std::to_string(resume_step) +
              " that the interrupted run wrote (" + path + ")");
  struct stat st;
  bool fresh = resume_step < 0 || stat(path.c_str(), &st) != 0 || st.st_size == 0;
  file_ = std::fopen(path.c_str(), fresh ? "w" : "a");
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
