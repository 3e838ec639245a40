// `sisyphus trace`: tables and a figure from trace files (no torch).
//
// A *series* is the last evaluation record of one (source, mode) in a file:
// e.g. a QuaIL+AMM checkpoint evaluated with amm, mm and extreme gives three.
// Its profile is log10(max |x|) per layer. Escaping: from some layer k on,
// with log10 max|x| >= 1, the exponent grows by a factor >= 1.5 over at
// least two successive layers (repeated squaring doubles it: the paper's
// 10^1.5, 10^2.3, 10^4.4, 10^8.4, ...), or a value is NaN/Inf from layer k.
#pragma once

#include <string>
#include <vector>

#include "trace/reader.h"

namespace sisyphus::trace {

struct Series {
  std::string name;  // "<source> [mode]"
  const TraceRecord* record = nullptr;
};

std::vector<Series> eval_series(const TraceFile& file);
// -1: not escaping; otherwise the first escaping layer.
int escaping_layer(const TraceRecord& record);

// Per layer: max |x| of each series (last evaluation), the worst seen in any
// record, growth over the previous layer, the first NaN/Inf (layer, stage,
// step) and the verdict.
std::string summary(const TraceFile& file);
// The per-layer max |x| of every series of every file side by side.
std::string compare(const std::vector<TraceFile>& files);
// log10(max |x|) per layer, one line per series, as a PNG made by gnuplot.
// Error(kIo) when gnuplot is missing or fails.
void plot(const std::vector<TraceFile>& files, const std::string& out_png,
          const std::string& title);

}  // namespace sisyphus::trace
