#include "trace/writer.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "trace/columns.h"
#include "trace/reader.h"

#ifndef SISYPHUS_VERSION
#define SISYPHUS_VERSION "unknown"
#endif

namespace sisyphus::trace {
namespace {

constexpr const char* kFormat = "sisyphus-trace";
// 2: HDF5's latest format written in SWMR mode, @writer/@writing, @hist_sample_per_image
constexpr int64_t kVersion = 2;

}  // namespace

std::string program_version() { return std::string("sisyphus ") + SISYPHUS_VERSION; }

std::vector<double> hist_edges() {
  std::vector<double> e;
  for (int i = 0; i <= kHistBins; ++i) e.push_back(kHistLow + i);
  return e;
}

namespace {

// What an appending writer's new file starts with: the old trace's identity
// and whole records, less the records of `drop.source` past `drop.step`
// (counted in *dropped).
TraceFile kept_records(const std::string& path, const TraceHeader& header, const DropAfter& drop,
                       int64_t* dropped) {
  TraceFile old;
  try {
    old = read_trace(path);   // its whole, committed records (SWMR read: also a live file's)
  } catch (const Error& e) {  // the reader's line, and what to do
    throw Error(e.kind(), std::string(e.what()) +
                              " (HINT: the records go on in that trace, which does not read; "
                              "checkpoints are not affected: move '" +
                              path + "' aside and run again to start a new trace)");
  }
  if (old.header.layers != header.layers)
    SISYPHUS_FAIL(ErrorKind::kIo,
                  "trace '" + path + "' holds other layers than this network's; use another file");
  if (old.header.sample_per_image != header.sample_per_image)
    log::info("trace: '" + path + "' holds histograms over " +
              (old.header.sample_per_image ? std::to_string(old.header.sample_per_image) + " values"
                                           : std::string("every value")) +
              " per image; this run's records take " +
              (header.sample_per_image ? std::to_string(header.sample_per_image) + " values"
                                       : std::string("every value")) +
              " (the file's attribute keeps the first)");
  std::vector<TraceRecord>& records = old.records;
  size_t keep = records.size();
  if (drop.step >= 0)
    while (keep > 0 && records[keep - 1].source == drop.source &&
           records[keep - 1].step > drop.step)
      --keep;
  *dropped = static_cast<int64_t>(records.size() - keep);
  records.resize(keep);
  return old;
}

}  // namespace

TraceWriter::TraceWriter(const std::string& path, const TraceHeader& header, bool append,
                         const DropAfter& drop)
    : path_(path), layers_(header.layers.size()) {
  TraceFile old;  // what the new file starts with: the old file's identity and records, or none
  old.header = header;
  if (append && fs::file_exists(path)) old = kept_records(path, header, drop, &dropped_);
  // The new file is made whole beside the old one (the file's identity, the
  // records kept, SWMR mode on) and then renamed over it, so a kill at any
  // moment leaves at `path` the old file or the new one, both readable. A
  // latest-format file that its writer held open and had not yet switched to
  // SWMR mode is readable by no one (its superblock says "open for write"):
  // such a file must never sit at `path` (tests/trace/test_trace_kills.sh).
  const std::string tmp = path + ".tmp";
  try {
    create(tmp, old.header);
    for (const auto& r : old.records) add_rows(r);
    commit(static_cast<int64_t>(old.records.size()));
    h5::start_swmr_write(file_);
    fs::sync_file(tmp);
  } catch (const Error& e) {
    records_ = h5::Object();
    file_ = h5::Object();
    std::remove(tmp.c_str());  // `path` is untouched
    SISYPHUS_FAIL(e.kind(), "writing trace '" + path + "' failed (disk full?): " + e.what());
  }
  fs::rename_over(tmp, path);
}

void TraceWriter::create(const std::string& path, const TraceHeader& header) {
  file_ = h5::create_file(path, /*swmr_format=*/true);
  h5::set_attr(file_, "format", std::string(kFormat));
  h5::set_attr(file_, "version", kVersion);
  h5::set_attr(file_, "program", header.program.empty() ? program_version() : header.program);
  h5::set_attr(file_, "run", header.run);
  h5::set_attr(file_, "network", header.network);
  h5::set_attr(file_, "dataset", header.dataset);
  h5::set_attr(file_, "config", header.config);
  h5::set_attr(file_, "layers", header.layers);
  h5::set_attr(file_, "bound", header.bound);
  h5::set_attr(file_, "hist_unit", std::string("log10(|x|)"));
  h5::set_attr(file_, "hist_sample_per_image", header.sample_per_image);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "?");
  h5::set_attr(file_, kWriterAttr,
               "pid=" + std::to_string(getpid()) + " host=" + std::string(host));
  h5::set_attr(file_, kWritingAttr, int64_t{1});
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
  committed_ = 0;
  h5::set_attr(file_, kCommittedAttr, committed_);
  h5::flush(file_);
}

TraceWriter::~TraceWriter() {
  if (!file_.valid()) return;
  try {  // a reader that watches the file learns that no more records come
    h5::set_attr(file_, kWritingAttr, int64_t{0});
    h5::flush(file_);
    file_.close();
  } catch (const std::exception& e) {
    log::info(std::string("trace: closing '") + path_ + "' failed: " + e.what());
  }
}

void TraceWriter::add_rows(const TraceRecord& r) {
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
}

void TraceWriter::commit(int64_t records) {
  h5::flush(file_);  // a killed run keeps every record written so far
  committed_ += records;
  h5::set_attr(file_, kCommittedAttr, committed_);  // then the records count (in place)
  h5::flush(file_);
}

void TraceWriter::write(const TraceRecord& r) {
  add_rows(r);
  commit(1);
}

}  // namespace sisyphus::trace
