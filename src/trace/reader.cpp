#include "trace/reader.h"

#include "core/child_probe.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/h5.h"
#include "trace/columns.h"

namespace sisyphus::trace {
namespace {

std::vector<double> read_f64(const h5::Object& g, const std::string& name, int64_t count) {
  std::vector<double> v(static_cast<size_t>(count));
  h5::read_array(g, name, h5::DType::kF64, v.data(), count);
  return v;
}

std::vector<int64_t> read_i64(const h5::Object& g, const std::string& name, int64_t count) {
  std::vector<int64_t> v(static_cast<size_t>(count));
  h5::read_array(g, name, h5::DType::kI64, v.data(), count);
  return v;
}

TraceFile read_unguarded(const std::string& path) {
  if (!fs::file_exists(path))
    SISYPHUS_FAIL(ErrorKind::kIo, "trace file '" + path + "' does not exist");
  if (!h5::is_hdf5(path)) SISYPHUS_FAIL(ErrorKind::kIo, "'" + path + "' is not an HDF5 file");
  h5::Object file = h5::open_file(path);
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
  h5::Object g = h5::open_group(file, "records");
  std::vector<std::string> source = h5::read_strings(g, "source"),
                           stage = h5::read_strings(g, "stage"),
                           phase = h5::read_strings(g, "phase"), mode = h5::read_strings(g, "mode");
  // A killed writer may leave rows that are no records (docs/trace-format.md)
  const int64_t rows = whole_records(g, committed_records(file));
  const int64_t L = static_cast<int64_t>(t.header.layers.size());
  auto whole = [&](const char* c) { return h5::array_info(g, c).numel(); };
  auto epoch = read_i64(g, "epoch", whole("epoch")), step = read_i64(g, "step", whole("step")),
       samples = read_i64(g, "samples", whole("samples"));
  auto mn = read_f64(g, "min", whole("min")), mx = read_f64(g, "max", whole("max")),
       ma = read_f64(g, "max_abs", whole("max_abs")), mean = read_f64(g, "mean", whole("mean")),
       sd = read_f64(g, "std", whole("std"));
  auto count = read_i64(g, "count", whole("count")), nan = read_i64(g, "nan", whole("nan")),
       inf = read_i64(g, "inf", whole("inf")), above = read_i64(g, "above", whole("above")),
       hist = read_i64(g, "hist", whole("hist"));
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
