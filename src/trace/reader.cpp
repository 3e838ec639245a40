#include "trace/reader.h"

#include "core/child_probe.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "trace/columns.h"

namespace sisyphus::trace {
namespace {

// The first `rows` rows of a per-layer column ([rows, row] values).
template <class T>
std::vector<T> read_column(const h5::Object& g, const char* name, h5::DType dtype, int64_t rows,
                           int64_t row) {
  std::vector<T> v(static_cast<size_t>(rows * row));
  h5::read_rows(g, name, dtype, v.data(), rows, row);
  return v;
}

TraceFile read_unguarded(const std::string& path) {
  if (!fs::file_exists(path))
    SISYPHUS_FAIL(ErrorKind::kIo, "trace file '" + path + "' does not exist");
  if (!h5::is_hdf5(path)) SISYPHUS_FAIL(ErrorKind::kIo, "'" + path + "' is not an HDF5 file");
  h5::Object file = h5::open_file_swmr_read(path);  // also while a run writes it
  if (!h5::has_attr(file, "format") || h5::attr_string(file, "format") != "sisyphus-trace")
    SISYPHUS_FAIL(ErrorKind::kIo,
                  "'" + path + "' is not a sisyphus trace (no format=sisyphus-trace attribute)");
  TraceFile t;
  t.path = path;
  t.header.run = h5::attr_string(file, "run");
  t.header.network = h5::attr_string(file, "network");
  t.header.dataset = h5::attr_string(file, "dataset");
  t.header.config = h5::attr_string(file, "config");
  t.header.program = h5::attr_string(file, "program");
  t.header.layers = h5::attr_strings(file, "layers");
  t.header.bound = h5::attr_double(file, "bound");
  t.header.sample_per_image =
      h5::has_attr(file, "hist_sample_per_image") ? h5::attr_int(file, "hist_sample_per_image") : 0;
  t.live = h5::has_attr(file, kWritingAttr) && h5::attr_int(file, kWritingAttr) != 0;
  t.writer = h5::has_attr(file, kWriterAttr) ? h5::attr_string(file, kWriterAttr) : "";
  h5::Object g = h5::open_group(file, "records");
  // The committed records: a killed writer may leave rows that are no
  // records, and a live one appends past them (docs/trace-format.md). The
  // count first, then the rows it covers.
  const int64_t rows = whole_records(g, committed_records(file));
  const int64_t L = static_cast<int64_t>(t.header.layers.size());
  const std::vector<std::string> source = h5::read_strings(g, "source", rows),
                                 stage = h5::read_strings(g, "stage", rows),
                                 phase = h5::read_strings(g, "phase", rows),
                                 mode = h5::read_strings(g, "mode", rows);
  using h5::DType;
  auto i64 = [&](const char* c, int64_t row) {
    return read_column<int64_t>(g, c, DType::kI64, rows, row);
  };
  auto f64 = [&](const char* c) { return read_column<double>(g, c, DType::kF64, rows, L); };
  auto epoch = i64("epoch", 1), step = i64("step", 1), samples = i64("samples", 1);
  auto mn = f64("min"), mx = f64("max"), ma = f64("max_abs"), mean = f64("mean"), sd = f64("std");
  auto count = i64("count", L), nan = i64("nan", L), inf = i64("inf", L), above = i64("above", L),
       hist = i64("hist", L * kHistBins);
  for (int64_t r = 0; r < rows; ++r) {
    TraceRecord rec;
    const size_t ru = static_cast<size_t>(r);
    rec.source = source[ru];
    rec.stage = stage[ru];
    rec.phase = phase[ru];
    rec.mode = mode[ru];
    rec.epoch = epoch[ru];
    rec.step = step[ru];
    rec.samples = samples[ru];
    for (int64_t l = 0; l < L; ++l) {
      const size_t i = static_cast<size_t>(r * L + l);
      LayerStats s;
      s.min = mn[i];
      s.max = mx[i];
      s.max_abs = ma[i];
      s.mean = mean[i];
      s.std = sd[i];
      s.count = count[i];
      s.nan = nan[i];
      s.inf = inf[i];
      s.above = above[i];
      for (int b = 0; b < kHistBins; ++b)
        s.hist[static_cast<size_t>(b)] = hist[i * kHistBins + static_cast<size_t>(b)];
      rec.layers.push_back(s);
    }
    t.records.push_back(std::move(rec));
  }
  return t;
}

}  // namespace

TraceFile read_trace(const std::string& path) {
  read_in_child_first(path, ErrorKind::kIo, [&] { read_unguarded(path); });
  return read_unguarded(path);
}

}  // namespace sisyphus::trace
