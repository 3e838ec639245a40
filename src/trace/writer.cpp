#include "trace/writer.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "trace/columns.h"

#ifndef SISYPHUS_VERSION
#define SISYPHUS_VERSION "unknown"
#endif

namespace sisyphus::trace {
namespace {

constexpr const char* kFormat = "sisyphus-trace";
constexpr int64_t kVersion = 1;

}  // namespace

std::string program_version() { return std::string("sisyphus ") + SISYPHUS_VERSION; }

TraceWriter::TraceWriter(const std::string& path, const TraceHeader& header, bool append)
    : path_(path), layers_(header.layers.size()) {
  if (append && fs::file_exists(path)) {
    file_ = h5::open_file(path, /*writable=*/true);
    if (!h5::has_attr(file_, "format") || h5::attr_string(file_, "format") != kFormat)
      SISYPHUS_FAIL(ErrorKind::kIo,
                    "'" + path + "' exists and is not a sisyphus trace; move it away");
    if (h5::attr_strings(file_, "layers") != header.layers)
      SISYPHUS_FAIL(
          ErrorKind::kIo,
          "trace '" + path + "' holds other layers than this network's; use another file");
    const int64_t sampled = h5::has_attr(file_, "hist_sample_per_image")
                                ? h5::attr_int(file_, "hist_sample_per_image")
                                : 0;
    if (sampled != header.sample_per_image)
      log::info("trace: '" + path + "' holds histograms over " +
                (sampled ? std::to_string(sampled) + " values" : std::string("every value")) +
                " per image; this run's records take " +
                (header.sample_per_image ? std::to_string(header.sample_per_image) + " values"
                                         : std::string("every value")) +
                " (the file's attribute keeps the first)");
    records_ = h5::open_group(file_, "records");
    committed_ = committed_records(file_);
    truncate_to(whole_records());  // what a killed writer left half written is no record
    return;
  }
  file_ = h5::create_file(path);
  h5::set_attr(file_, "format", std::string(kFormat));
  h5::set_attr(file_, "version", kVersion);
  h5::set_attr(file_, "program", program_version());
  h5::set_attr(file_, "run", header.run);
  h5::set_attr(file_, "network", header.network);
  h5::set_attr(file_, "dataset", header.dataset);
  h5::set_attr(file_, "config", header.config);
  h5::set_attr(file_, "layers", header.layers);
  h5::set_attr(file_, "bound", header.bound);
  h5::set_attr(file_, "hist_unit", std::string("log10(|x|)"));
  h5::set_attr(file_, "hist_sample_per_image", header.sample_per_image);
  std::vector<double> edges = hist_edges();
  h5::write_array(file_, "hist_edges", h5::DType::kF64, {static_cast<int64_t>(edges.size())},
                  edges.data());
  records_ = h5::create_group(file_, "records");
  const int64_t l = static_cast<int64_t>(layers_);
  for (const char* c : kStringColumns) h5::create_string_table(records_, c);
  for (const char* c : kScalarColumns) h5::create_table(records_, c, h5::DType::kI64, {});
  for (const char* c : kF64Columns) h5::create_table(records_, c, h5::DType::kF64, {l});
  for (const char* c : kI64Columns) h5::create_table(records_, c, h5::DType::kI64, {l});
  h5::create_table(records_, kHistColumn, h5::DType::kI64, {l, kHistBins}, 16);
  h5::set_attr(file_, kCommittedAttr, committed_);
  h5::flush(file_);
}

int64_t TraceWriter::whole_records() const { return trace::whole_records(records_, committed_); }

void TraceWriter::truncate_to(int64_t rows) {
  bool longer = committed_ != rows;
  for (const auto& c : all_columns()) longer = longer || h5::table_rows(records_, c) != rows;
  if (!longer) return;
  for (const auto& c : all_columns()) h5::truncate_rows(records_, c, rows);
  h5::flush(file_);
  committed_ = rows;
  h5::set_attr(file_, kCommittedAttr, committed_);
  h5::flush(file_);
}

int64_t TraceWriter::drop_after(const std::string& source, int64_t step) {
  const int64_t whole = whole_records();
  const std::vector<std::string> sources = h5::read_strings(records_, "source");
  std::vector<int64_t> steps(static_cast<size_t>(h5::table_rows(records_, "step")));
  h5::read_array(records_, "step", h5::DType::kI64, steps.data(),
                 static_cast<int64_t>(steps.size()));
  int64_t keep = whole;
  while (keep > 0 && sources[static_cast<size_t>(keep - 1)] == source &&
         steps[static_cast<size_t>(keep - 1)] > step)
    --keep;
  truncate_to(keep);
  return whole - keep;
}

void TraceWriter::write(const TraceRecord& r) {
  SISYPHUS_CHECK(r.layers.size() == layers_, ErrorKind::kIo,
                 "trace record with " + std::to_string(r.layers.size()) + " layers for a file of " +
                     std::to_string(layers_));
  h5::append_strings(records_, "source", {r.source});
  h5::append_strings(records_, "stage", {r.stage});
  h5::append_strings(records_, "phase", {r.phase});
  h5::append_strings(records_, "mode", {r.mode});
  h5::append_rows(records_, "epoch", h5::DType::kI64, &r.epoch, 1);
  h5::append_rows(records_, "step", h5::DType::kI64, &r.step, 1);
  h5::append_rows(records_, "samples", h5::DType::kI64, &r.samples, 1);
  std::vector<double> f(layers_);
  std::vector<int64_t> n(layers_);
  auto put_f = [&](const char* name, double LayerStats::*field) {
    for (size_t i = 0; i < layers_; ++i) f[i] = r.layers[i].*field;
    h5::append_rows(records_, name, h5::DType::kF64, f.data(), 1);
  };
  auto put_i = [&](const char* name, int64_t LayerStats::*field) {
    for (size_t i = 0; i < layers_; ++i) n[i] = r.layers[i].*field;
    h5::append_rows(records_, name, h5::DType::kI64, n.data(), 1);
  };
  put_f("min", &LayerStats::min);
  put_f("max", &LayerStats::max);
  put_f("max_abs", &LayerStats::max_abs);
  put_f("mean", &LayerStats::mean);
  put_f("std", &LayerStats::std);
  put_i("count", &LayerStats::count);
  put_i("nan", &LayerStats::nan);
  put_i("inf", &LayerStats::inf);
  put_i("above", &LayerStats::above);
  std::vector<int64_t> hist;
  for (const auto& s : r.layers) hist.insert(hist.end(), s.hist.begin(), s.hist.end());
  h5::append_rows(records_, kHistColumn, h5::DType::kI64, hist.data(), 1);
  h5::flush(file_);  // a killed run keeps every record written so far
  h5::set_attr(file_, kCommittedAttr, ++committed_);  // then the record counts
  h5::flush(file_);
}

}  // namespace sisyphus::trace
