// Activation traces: what one record holds (no torch, no HDF5 here).
//
// A record is the per-point statistics of the network's outputs at every
// imitation point over some samples: one training batch (every k steps) or a
// whole evaluation (one inference mode), reduced over all ranks. The file
// layout is docs/trace-format.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sisyphus::trace {

// Histogram of log10|x| with fixed bins of width 1: bin i holds
// log10|x| in [kHistLow + i, kHistLow + i + 1); the first bin also holds
// everything smaller (zeros included), the last everything larger (Inf
// included). NaN is not in the histogram (it has its own count).
inline constexpr int kHistBins = 49;
inline constexpr double kHistLow = -9.0;  // edges -9, -8, ..., 40

struct LayerStats {
  double min = 0, max = 0;   // over non-NaN values (an overflow shows as +-inf)
  double max_abs = 0;        // max |x| over non-NaN values
  double mean = 0, std = 0;  // over finite values (population std)
  int64_t count = 0;         // values seen
  int64_t nan = 0, inf = 0;  // NaN and +-Inf values
  int64_t above = 0;         // values with |x| > the file's bound (Inf included)
  std::array<int64_t, kHistBins> hist{};
};

struct TraceRecord {
  std::string source;   // what was traced: the run name, or eval's --label / checkpoint
  std::string stage;    // "baseline", "mimic-03", "finetune-00", ...
  std::string phase;    // "train" or "eval"
  std::string mode;     // AMM inference mode in evaluation ("amm", "mm", "extreme"), "batch" in
                        // training, "-" without AMM
  int64_t epoch = 0;    // epochs completed in the stage (training: the epoch in progress, 1-based)
  int64_t step = 0;     // optimizer steps completed in the run
  int64_t samples = 0;  // input samples behind the record (all ranks)
  std::vector<LayerStats> layers;  // one per imitation point, in order
};

// Values of every image behind a record's histogram and moments by default
// (--trace-sample; trace/stats.h).
inline constexpr int64_t kTraceSamplePerImage = 64;

struct TraceHeader {
  std::string run, network, dataset, config;
  std::string program;              // "sisyphus 0.1.0"
  std::vector<std::string> layers;  // imitation point names, in order (the last is the logits)
  double bound = 1e6;               // the "above" threshold
  // Values of every image at each point behind the histogram and the moments
  // (trace/stats.h); 0: every value (traces of sisyphus before 0.2 hold no
  // such attribute: every value).
  int64_t sample_per_image = kTraceSamplePerImage;
};

std::vector<double> hist_edges();  // kHistBins + 1 edges
std::string program_version();

}  // namespace sisyphus::trace
