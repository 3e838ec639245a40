// Trace statistics against direct computation, the file round trip, and the
// escaping verdict on a constructed network whose activations square layer
// over layer (and not on the same network with ReLU).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/h5.h"
#include "nn/act_spec.h"
#include "nn/network.h"
#include "nn/registry.h"
#include "support/fixtures.h"
#include "trace/reader.h"
#include "trace/report.h"
#include "trace/scan.h"
#include "trace/stats.h"
#include "trace/writer.h"

using namespace sisyphus;

namespace {

// k identity linear layers (4 -> 4), each followed by an activation slot,
// then logits: with Quad and inputs of 10, point l holds 10^(2^(l+1)).
class SquaringChain : public nn::NetworkImpl {
 public:
  explicit SquaringChain(int k) : nn::NetworkImpl("chain") {
    for (int i = 0; i < k; ++i) {
      auto lin = register_module("lin" + std::to_string(i),
                                 torch::nn::Linear(torch::nn::LinearOptions(4, 4).bias(false)));
      torch::NoGradGuard no_grad;
      lin->weight.copy_(torch::eye(4));
      auto slot = register_module("act" + std::to_string(i), nn::ActivationSlot());
      lins_.push_back(lin);
      slots_.push_back(slot);
      add_point("act" + std::to_string(i), {"lin" + std::to_string(i)}, slot);
    }
    fc_ = register_module("fc", torch::nn::Linear(4, 2));
    add_point("fc", {"fc"}, nn::ActivationSlot(nullptr));
  }
  torch::Tensor forward(torch::Tensor x) override {
    for (size_t i = 0; i < lins_.size(); ++i) x = slots_[i]->forward(lins_[i]->forward(x));
    return fc_->forward(x);
  }

 private:
  std::vector<torch::nn::Linear> lins_;
  std::vector<nn::ActivationSlot> slots_;
  torch::nn::Linear fc_{nullptr};
};

// Two statistics of the same values, bit for bit.
void expect_same_stats(const trace::LayerStats& a, const trace::LayerStats& c) {
  EXPECT_EQ(a.count, c.count);
  EXPECT_EQ(a.nan, c.nan);
  EXPECT_EQ(a.inf, c.inf);
  EXPECT_EQ(a.above, c.above);
  EXPECT_EQ(a.min, c.min);
  EXPECT_EQ(a.max, c.max);
  EXPECT_EQ(a.max_abs, c.max_abs);
  EXPECT_EQ(a.mean, c.mean);
  EXPECT_EQ(a.std, c.std);
  EXPECT_EQ(a.hist, c.hist);
}

trace::TraceRecord record_of(nn::NetworkImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  trace::TraceAccumulator acc(net.points().size(), 1e6);
  acc.add(net.forward_points(x), x.size(0));
  trace::TraceRecord r;
  r.source = net.arch();
  r.stage = "test";
  r.phase = "eval";
  r.mode = "-";
  r.layers = acc.reduce(nullptr, &r.samples);
  return r;
}

}  // namespace

TEST(TraceStats, EqualDirectComputation) {
  torch::manual_seed(5);
  torch::Tensor a = torch::randn({6, 3, 4, 4}) * 50;
  a.view({-1})[3] = NAN;
  a.view({-1})[7] = INFINITY;
  a.view({-1})[11] = 0.0f;
  torch::Tensor b = torch::randn({6, 10}) * 1e-3;
  trace::TraceAccumulator acc(2, 100.0);
  acc.add({a.narrow(0, 0, 2), b.narrow(0, 0, 2)}, 2);  // two batches
  acc.add({a.narrow(0, 2, 4), b.narrow(0, 2, 4)}, 4);
  int64_t samples = 0;
  std::vector<trace::LayerStats> s = acc.reduce(nullptr, &samples);
  EXPECT_EQ(samples, 6);
  torch::Tensor valid = a.masked_select(torch::isnan(a).logical_not());
  torch::Tensor finite = a.masked_select(torch::isfinite(a)).to(torch::kFloat64);
  EXPECT_EQ(s[0].count, a.numel());
  EXPECT_EQ(s[0].nan, 1);
  EXPECT_EQ(s[0].inf, 1);
  EXPECT_EQ(s[0].min, valid.min().item<float>());
  EXPECT_TRUE(std::isinf(s[0].max) && std::isinf(s[0].max_abs));
  // finite batches accumulate their sums in fp32 (cascade summation): ~1e-8 relative to the data's
  // scale (50)
  EXPECT_NEAR(s[0].mean, finite.mean().item<double>(), 1e-6);
  EXPECT_NEAR(s[0].std, finite.std(/*unbiased=*/false).item<double>(), 1e-5);
  EXPECT_EQ(s[0].above, valid.abs().gt(100).sum().item<int64_t>());
  int64_t in_hist = 0;
  for (auto c : s[0].hist) in_hist += c;
  EXPECT_EQ(in_hist, a.numel() - 1);              // everything but the NaN
  EXPECT_GE(s[0].hist[0], 1);                     // the zero
  EXPECT_GE(s[0].hist[trace::kHistBins - 1], 1);  // the Inf
  // layer 1: |x| ~ 1e-3: log10 in [-7, -1) mostly; exact bin counts against numpy-style floor
  torch::Tensor lg = b.abs().to(torch::kFloat64).log10().floor() - trace::kHistLow;
  for (int bin = 0; bin < trace::kHistBins; ++bin)
    EXPECT_EQ(s[1].hist[static_cast<size_t>(bin)], lg.eq(bin).sum().item<int64_t>())
        << "bin " << bin;
  EXPECT_FLOAT_EQ(static_cast<float>(s[1].max_abs), b.abs().max().item<float>());
  EXPECT_EQ(s[1].nan + s[1].inf + s[1].above, 0);
}

namespace {

// The file tests' trace: two layers; a training record of run "run".
trace::TraceHeader two_layer_header() {
  return {"run", "chain", "none", "[train]\n", "", {"a", "b"}, 1e6};
}
trace::TraceRecord train_record(const std::string& stage) {
  trace::TraceRecord r;
  r.source = "run";
  r.stage = stage;
  r.phase = "train";
  r.mode = "batch";
  r.layers.resize(2);
  return r;
}

}  // namespace

TEST(TraceFile, RoundTripAndAppend) {
  fixtures::TempDir dir;
  const std::string path = dir.file("trace.h5");
  const trace::TraceHeader h = two_layer_header();
  trace::TraceRecord r = train_record("mimic-01");
  r.epoch = 2;
  r.step = 17;
  r.samples = 64;
  r.layers[0].max_abs = 3.5;
  r.layers[1].nan = 4;
  r.layers[1].hist[7] = 11;
  {
    trace::TraceWriter w(path, h, /*append=*/false);
    w.write(r);
  }
  r.phase = "eval";
  r.mode = "mm";
  {
    trace::TraceWriter w(path, h, /*append=*/true);
    w.write(r);
  }
  trace::TraceFile t = trace::read_trace(path);
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.header.layers, h.layers);
  EXPECT_EQ(t.records[0].phase, "train");
  EXPECT_EQ(t.records[1].mode, "mm");
  EXPECT_EQ(t.records[1].step, 17);
  EXPECT_EQ(t.records[1].layers[0].max_abs, 3.5);
  EXPECT_EQ(t.records[1].layers[1].nan, 4);
  EXPECT_EQ(t.records[1].layers[1].hist[7], 11);
  trace::TraceHeader other = h;
  other.layers = {"x"};
  EXPECT_THROW(trace::TraceWriter(path, other, true), sisyphus::Error);
  EXPECT_THROW(trace::read_trace(dir.file("missing.h5")), sisyphus::Error);
}

// What a killed writer leaves is no record: rows past the committed count in
// every column (a kill inside a flush: extents written, data not; here
// zero rows appended behind the writer's back), and one column a row longer
// (a kill inside write()). The reader skips them and a writer appending to
// the file (a resumed run, `eval --trace`) drops them first, so its records
// stay aligned and counted.
TEST(TraceFile, RowsAKilledWriterLeftAreNoRecords) {
  fixtures::TempDir dir;
  const std::string path = dir.file("trace.h5");
  const trace::TraceHeader h = two_layer_header();
  trace::TraceRecord r = train_record("baseline");
  {
    trace::TraceWriter w(path, h, /*append=*/false);
    for (int64_t step : {10, 20}) {
      r.step = step;
      r.layers[0].max_abs = static_cast<double>(step);
      w.write(r);
    }
  }
  {
    h5::Object file = h5::open_file(path, /*writable=*/true);
    h5::Object g = h5::open_group(file, "records");
    const std::vector<int64_t> zeros(2 * trace::kHistBins, 0);
    const std::vector<double> fzeros(2, 0.0);
    for (const char* c : {"source", "stage", "phase", "mode"}) h5::append_strings(g, c, {""});
    for (const char* c : {"epoch", "step", "samples"})
      h5::append_rows(g, c, h5::DType::kI64, zeros.data(), 1);
    for (const char* c : {"min", "max", "max_abs", "mean", "std"})
      h5::append_rows(g, c, h5::DType::kF64, fzeros.data(), 1);
    for (const char* c : {"count", "nan", "inf", "above", "hist"})
      h5::append_rows(g, c, h5::DType::kI64, zeros.data(), 1);
    h5::append_strings(g, "source", {"run"});  // and a record begun
    h5::flush(file);
  }
  EXPECT_EQ(trace::read_trace(path).records.size(), 2u);
  {
    trace::TraceWriter w(path, h, /*append=*/true, {"run", 20});
    EXPECT_EQ(w.dropped(), 0);  // nothing of the run's past step 20 but the debris
    r.step = 30;
    r.layers[0].max_abs = 30;
    w.write(r);
  }
  trace::TraceFile t = trace::read_trace(path);
  ASSERT_EQ(t.records.size(), 3u);
  EXPECT_EQ(t.records[2].source, "run");
  EXPECT_EQ(t.records[2].step, 30);
  EXPECT_EQ(t.records[2].layers[0].max_abs, 30);
  h5::Object file = h5::open_file(path);
  h5::Object g = h5::open_group(file, "records");
  EXPECT_EQ(h5::table_rows(g, "source"), 3);
  EXPECT_EQ(h5::table_rows(g, "hist"), 3);
  EXPECT_EQ(h5::attr_int(file, "committed_records"), 3);
}

TEST(TraceReport, FlagsSquaringNetworkNotRelu) {
  auto quad = std::make_shared<SquaringChain>(6);
  auto relu = std::make_shared<SquaringChain>(6);
  torch::Tensor x = torch::full({3, 4}, 10.0f);
  nn::set_activations(*quad, "quad", x.narrow(0, 0, 1));
  trace::TraceRecord rq = record_of(*quad, x), rr = record_of(*relu, x);
  // 10^2, 10^4, 10^8, 10^16, 10^32, then overflow
  EXPECT_NEAR(std::log10(rq.layers[0].max_abs), 2, 1e-5);
  EXPECT_NEAR(std::log10(rq.layers[3].max_abs), 16, 1e-4);
  EXPECT_GT(rq.layers[5].inf + rq.layers[5].nan, 0);
  EXPECT_EQ(trace::escaping_layer(rq), 0);
  EXPECT_EQ(trace::escaping_layer(rr), -1);

  fixtures::TempDir dir;
  trace::TraceHeader h{"chain", "chain", "none", "", "", {}, 1e6};
  for (const auto& p : quad->points()) h.layers.push_back(p.name);
  {
    trace::TraceWriter w(dir.file("t.h5"), h, false);
    w.write(rq);
    rr.source = "relu";
    w.write(rr);
  }
  trace::TraceFile t = trace::read_trace(dir.file("t.h5"));
  std::string s = trace::summary(t);
  EXPECT_NE(s.find("escaping from layer 0 (act0)"), std::string::npos) << s;
  EXPECT_NE(s.find("bounded (no escaping)"), std::string::npos) << s;
  EXPECT_NE(s.find("first NaN/Inf: layer 5 (act5)"), std::string::npos) << s;
  std::string c = trace::compare({t});
  EXPECT_NE(c.find("[1] chain: escaping"), std::string::npos) << c;
  EXPECT_NE(c.find("[2] relu: bounded"), std::string::npos) << c;
}

// The fused path for finite batches: `above` counted only when max |x|
// passes the bound, values under the first edge (0) in the first bin, the
// largest float32 values in their bin, as the general path.
TEST(TraceStats, FiniteBatchFastPathMatchesTheGeneralPath) {
  trace::TraceAccumulator fast(1, 100.0), general(1, 100.0);
  const torch::Tensor x = torch::tensor({1.0f, 200.0f, -300.0f, 5.0f, 0.0f, 3e38f});
  fast.add({x}, 1);
  general.add({torch::cat({x, torch::tensor({NAN})})}, 1);  // a NaN sends it down the general path
  const trace::LayerStats a = fast.reduce(nullptr)[0], b = general.reduce(nullptr)[0];
  EXPECT_EQ(a.above, 3);
  EXPECT_EQ(b.above, 3);
  EXPECT_EQ(a.hist, b.hist);
  EXPECT_EQ(a.hist[0], 1);   // the zero
  EXPECT_EQ(a.hist[47], 1);  // 3e38: log10 38.5
  EXPECT_EQ(a.hist[9], 2);   // 1 and 5: log10 in [0, 1)
  EXPECT_EQ(a.hist[11], 2);  // 200 and 300
  EXPECT_FLOAT_EQ(static_cast<float>(a.min), -300.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(a.max_abs), 3e38f);
}

// The histogram and the moments take kTraceSamplePerImage values of every
// image (the same positions in each); count, min, max and max |x| stay exact
// over every value, also where the extreme lies outside the sample. With a
// sample of 0 every value counts.
TEST(TraceStats, HistogramOverASampleExtremesOverEveryValue) {
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({8, 16, 32, 32});
  x[3][7][5][9] = -1234.5f;  // position 7*1024+5*32+9 = 7337: not a multiple of the stride (257)
  for (int64_t per_image : {trace::kTraceSamplePerImage, int64_t{0}}) {
    trace::TraceAccumulator acc(1, 1000.0, per_image);
    acc.add({x}, 8);
    EXPECT_EQ(acc.samples(), 8);
    const trace::LayerStats s = acc.reduce(nullptr)[0];
    EXPECT_EQ(s.count, x.numel());
    EXPECT_EQ(s.min, -1234.5);
    EXPECT_EQ(s.max_abs, 1234.5);
    EXPECT_FLOAT_EQ(static_cast<float>(s.max), x.max().item<float>());
    EXPECT_EQ(s.above, 1);  // exact: a pass over every value when max |x| exceeds the bound
    int64_t in_hist = 0;
    for (auto c : s.hist) in_hist += c;
    // 16384 values per image, stride 16384/64 = 256 made odd: 257, so 64 positions
    EXPECT_EQ(in_hist, per_image ? 8 * 64 : x.numel()) << per_image;
    if (per_image == 0) {
      EXPECT_NEAR(s.mean, x.mean().item<double>(), 1e-6);
    } else {
      EXPECT_NEAR(s.mean, 0.0,
                  0.2);  // the sample's mean of N(0, 1) values (the outlier is not in it)
      EXPECT_NEAR(s.std, 1.0, 0.2);
    }
  }
}

// A channels-last batch (read in memory order, sampled where its memory keeps
// the NCHW sample's values) gives bitwise the NCHW batch's statistics, on
// the one-pass CPU path and on the general one (float64; a NaN).
TEST(TraceStats, ChannelsLastBatchEqualsNchw) {
  torch::manual_seed(9);
  torch::Tensor x = torch::randn({4, 16, 12, 12}) * 5;
  x[1][3][2][7] = 2000.f;
  torch::Tensor xn = x.clone();
  xn[2][9][0][1] = NAN;
  for (const torch::Tensor& b : {x, xn, x.to(torch::kFloat64)}) {
    trace::TraceAccumulator nchw(1, 1000.0), nhwc(1, 1000.0);
    nchw.add({b}, 4);
    const torch::Tensor cl = b.contiguous(torch::MemoryFormat::ChannelsLast);
    ASSERT_FALSE(cl.is_contiguous());
    nhwc.add({cl}, 4);
    // the same sample in the same order: bitwise, the moments too
    expect_same_stats(nchw.reduce(nullptr)[0], nhwc.reduce(nullptr)[0]);
  }
}

// The evaluation takes each point's statistics as the forward pass computes
// it (forward_observed, add_point, end_batch): the same records, bit for bit,
// as capturing every point and adding them at the end, on the CPU's scan
// (float32) and on the general path (float64), with NaN in one image.
TEST(TraceStats, ObservedForwardEqualsCapturedPoints) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    nn::Network net = nn::make_network("resnet20", {1, 16, 10});
    net->to(dtype);
    net->eval();
    const size_t points = net->points().size();
    trace::TraceAccumulator captured(points, 4.0), observed(points, 4.0);
    for (int b = 0; b < 2; ++b) {
      torch::Tensor x = torch::randn({5, 1, 16, 16}, dtype);
      if (b == 1) x[2][0][3][4] = NAN;
      const std::vector<torch::Tensor> outs = net->forward_points(x);
      captured.add(outs, 5);
      size_t seen = 0;
      const torch::Tensor logits = net->forward_observed(x, [&](size_t l, const torch::Tensor& y) {
        EXPECT_EQ(l, seen++);
        observed.add_point(l, y);
      });
      observed.end_batch(5);
      EXPECT_EQ(seen, points);
      EXPECT_TRUE(torch::equal(logits.isnan(), outs.back().isnan()));
      EXPECT_TRUE(torch::equal(logits.nan_to_num(0), outs.back().nan_to_num(0)));
    }
    int64_t na = 0, nb = 0;
    const std::vector<trace::LayerStats> a = captured.reduce(nullptr, &na);
    const std::vector<trace::LayerStats> c = observed.reduce(nullptr, &nb);
    EXPECT_EQ(na, nb);
    EXPECT_EQ(observed.batches_computed(), 2);
    for (size_t l = 0; l < points; ++l) {
      SCOPED_TRACE(std::to_string(l) + (dtype == torch::kFloat32 ? " float" : " double"));
      expect_same_stats(a[l], c[l]);
    }
    EXPECT_GT(a[points - 1].nan, 0);  // the NaN image reached the logits
  }
  // the observers are gone afterwards: a plain forward hands nothing on
  nn::Network net = nn::make_network("resnet20", {1, 16, 10});
  net->eval();
  size_t calls = 0;
  net->forward_observed(torch::randn({2, 1, 16, 16}),
                        [&](size_t, const torch::Tensor&) { ++calls; });
  EXPECT_EQ(calls, net->points().size());
  net->forward(torch::randn({2, 1, 16, 16}));
  EXPECT_EQ(calls, net->points().size());
}

// seconds(): the wall time of the statistics (add, reduce), kept over resets.
TEST(TraceStats, SecondsCountTheStatisticsWork) {
  trace::TraceAccumulator acc(1, 100.0);
  EXPECT_EQ(acc.seconds(), 0.0);
  acc.add({torch::randn({64, 16, 28, 28})}, 64);
  const double after_add = acc.seconds();
  EXPECT_GT(after_add, 0.0);
  acc.reduce(nullptr);
  const double after_reduce = acc.seconds();
  EXPECT_GT(after_reduce, after_add);
  acc.reset();
  EXPECT_EQ(acc.seconds(), after_reduce);
}

// A point after an overflow is all NaN: counted as such, nothing else moves
// (its fast path gives the general path's row).
TEST(TraceStats, AllNaNPoint) {
  trace::TraceAccumulator acc(2, 100.0);
  const torch::Tensor nan = torch::full({4, 3, 5, 5}, std::numeric_limits<float>::quiet_NaN());
  acc.add({torch::ones({4, 3}), nan}, 4);
  const std::vector<trace::LayerStats> s = acc.reduce(nullptr);
  EXPECT_EQ(s[1].count, nan.numel());
  EXPECT_EQ(s[1].nan, nan.numel());
  EXPECT_EQ(s[1].inf + s[1].above, 0);
  EXPECT_EQ(s[1].max_abs, 0.0);
  EXPECT_EQ(s[1].min, 0.0);
  EXPECT_EQ(s[1].max, 0.0);
  int64_t in_hist = 0;
  for (auto c : s[1].hist) in_hist += c;
  EXPECT_EQ(in_hist, 0);
  EXPECT_EQ(s[0].max_abs, 1.0);  // the finite point beside it is unaffected
}

// The CPU's scans (AVX-512 and AVX2 where the CPU has them) against torch's own
// operations and against the portable loop: every length around the vector
// widths, NaN, +-Inf, values at the bound, an all-NaN array, and arrays where
// the extremes alone settle the counts but for one value (NaN, Inf or above
// the bound) anywhere, the vector part or the tail, which the first pass
// must not miss. Zero extremes are +0 in every scan.
TEST(TraceScan, EqualsTorchAndThePortableLoop) {
  torch::manual_seed(9);
  const float bound = 100.0f;
  std::vector<trace::ScanIsa> isas;
  for (auto isa : {trace::ScanIsa::kPortable, trace::ScanIsa::kAvx2, trace::ScanIsa::kAvx512})
    if (trace::scan_isa_supported(isa)) isas.push_back(isa);
  for (int64_t n : {0, 1, 7, 8, 9, 31, 63, 64, 65, 129, 1003, 100000}) {
    for (int variant = 0; variant < 11; ++variant) {
      torch::Tensor x = torch::randn({n}) * 80;
      if (variant >= 3) x = torch::rand({n}) * 2 * bound - bound;  // within the bound
      auto v = x.accessor<float, 1>();
      if (variant == 1) {  // NaN, +-Inf and the bound itself sprinkled in
        for (int64_t i = 0; i < n; i += 5) v[i] = NAN;
        for (int64_t i = 2; i < n; i += 13) v[i] = INFINITY;
        for (int64_t i = 3; i < n; i += 17) v[i] = -INFINITY;
        for (int64_t i = 4; i < n; i += 19) v[i] = bound;
      }
      if (variant == 2) x.fill_(NAN);
      // one value the extremes alone would not count: in the tail (even
      // variants) or in the vector part (odd)
      const int64_t at = variant % 2 == 0 ? n - 1 : n / 3;
      if (n > 0 && (variant == 4 || variant == 5)) v[at] = NAN;
      if (n > 0 && variant == 6) v[at] = -INFINITY;
      if (n > 0 && variant == 7) v[at] = INFINITY;
      if (n > 0 && variant == 8) v[at] = std::nextafter(-bound, -INFINITY);
      if (n > 0 && variant == 9) v[at] = std::nextafter(bound, INFINITY);
      if (variant == 10) {  // zeros of both signs: the extremes are +0
        for (int64_t i = 0; i < n; ++i) v[i] = i % 3 == 0 ? -0.0f : 0.0f;
      }
      const trace::ValueScan b = trace::scan_values_portable(x.data_ptr<float>(), n, bound);
      const torch::Tensor nan = torch::isnan(x), valid = x.masked_select(nan.logical_not());
      for (auto isa : isas) {
        const trace::ValueScan a = trace::scan_values_with(isa, x.data_ptr<float>(), n, bound);
        const std::string at_case =
            std::to_string(n) + " " + std::to_string(variant) + " isa " + std::to_string(int(isa));
        EXPECT_EQ(a.nan, nan.sum().item<int64_t>()) << at_case;
        EXPECT_EQ(a.inf, torch::isinf(x).sum().item<int64_t>()) << at_case;
        EXPECT_EQ(a.above, valid.abs().gt(bound).sum().item<int64_t>()) << at_case;
        if (valid.numel() > 0) {
          EXPECT_EQ(a.min, valid.min().item<float>()) << at_case;
          EXPECT_EQ(a.max, valid.max().item<float>()) << at_case;
        } else {
          EXPECT_EQ(a.min, INFINITY);
          EXPECT_EQ(a.max, -INFINITY);
        }
        EXPECT_EQ(a.nan, b.nan) << at_case;
        EXPECT_EQ(a.inf, b.inf) << at_case;
        EXPECT_EQ(a.above, b.above) << at_case;
        EXPECT_EQ(a.min, b.min) << at_case;
        EXPECT_EQ(a.max, b.max) << at_case;
        if (a.min == 0) EXPECT_FALSE(std::signbit(a.min)) << at_case;
        if (a.max == 0) EXPECT_FALSE(std::signbit(a.max)) << at_case;
      }
    }
  }
}

// A CPU float32 batch takes the scan; the same values in float64 take the
// general path (as a GPU batch does): the same record.
TEST(TraceStats, CpuScanRowEqualsTheGeneralRow) {
  torch::manual_seed(11);
  torch::Tensor x = torch::randn({6, 4, 9, 9}) * 60;
  torch::Tensor flat = x.view({-1});
  auto v = flat.accessor<float, 1>();
  for (int64_t i = 0; i < x.numel(); i += 37) v[i] = NAN;
  v[5] = INFINITY;
  v[6] = -INFINITY;
  v[8] = 0.0f;
  trace::TraceAccumulator scanned(1, 100.0), general(1, 100.0);
  scanned.add({x}, 6);
  general.add({x.to(torch::kFloat64)}, 6);
  const trace::LayerStats a = scanned.reduce(nullptr)[0], b = general.reduce(nullptr)[0];
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.nan, b.nan);
  EXPECT_GT(a.nan, 0);
  EXPECT_EQ(a.inf, 2);
  EXPECT_EQ(b.inf, 2);
  EXPECT_EQ(a.above, b.above);
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
  EXPECT_EQ(a.max_abs, b.max_abs);
  EXPECT_EQ(a.hist, b.hist);
  EXPECT_NEAR(a.mean, b.mean, 1e-9 * (1 + std::abs(b.mean)));
  EXPECT_NEAR(a.std, b.std, 1e-9 * b.std);
}
