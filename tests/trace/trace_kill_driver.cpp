// Writes and checks trace files for tests/trace/test_trace_kills.sh, which
// SIGKILLs `write` before each of its file-system calls in turn (strace's
// syscall fault injection). No torch, so it starts in milliseconds.
//
//   trace_kill_driver write PATH FIRST COUNT [--append] [--drop-after STEP]
//       a TraceWriter on PATH (as a run, resumed with --append) writing
//       COUNT records of steps FIRST, FIRST+1, ...; record s holds s in
//       every statistic, so the checker knows what each record must say
//   trace_kill_driver check PATH
//       reads PATH as `sisyphus trace` does and prints its records' steps
//       ("steps: 1 2 3"); one error line and exit 1 when the file does not
//       read or a record does not hold its step's statistics
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "trace/reader.h"
#include "trace/writer.h"

namespace trace = sisyphus::trace;

namespace {

trace::TraceHeader header() {
  return {"run", "chain", "none", "[train]\n", "", {"a", "b"}, 1e6, 64};
}

trace::TraceRecord record(int64_t step) {
  trace::TraceRecord r;
  r.source = "run";
  r.stage = "baseline";
  r.phase = "train";
  r.mode = "batch";
  r.epoch = step / 10;
  r.step = step;
  r.samples = step;
  const double v = static_cast<double>(step);
  for (int l = 0; l < 2; ++l) {
    trace::LayerStats s;
    s.min = -v;
    s.max = v;
    s.max_abs = v;
    s.mean = v / 2;
    s.std = v / 4;
    s.count = step * 10 + l;
    s.hist[3] = step;
    r.layers.push_back(s);
  }
  return r;
}

// The record is the one record(step) wrote, every field.
bool holds_its_step(const trace::TraceRecord& r) {
  const trace::TraceRecord want = record(r.step);
  if (r.source != want.source || r.stage != want.stage || r.phase != want.phase ||
      r.mode != want.mode || r.epoch != want.epoch || r.samples != want.samples ||
      r.layers.size() != want.layers.size())
    return false;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const trace::LayerStats &a = r.layers[l], &b = want.layers[l];
    if (a.min != b.min || a.max != b.max || a.max_abs != b.max_abs || a.mean != b.mean ||
        a.std != b.std || a.count != b.count || a.nan != b.nan || a.inf != b.inf ||
        a.above != b.above || a.hist != b.hist)
      return false;
  }
  return true;
}

int usage() {
  std::fprintf(stderr,
               "usage: trace_kill_driver write PATH FIRST COUNT [--append] [--drop-after STEP]\n"
               "       trace_kill_driver check PATH\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string command = argv[1], path = argv[2];
  try {
    if (command == "write" && argc >= 5) {
      const int64_t first = std::atoll(argv[3]), count = std::atoll(argv[4]);
      bool append = false;
      trace::DropAfter drop{"run", -1};
      for (int i = 5; i < argc; ++i) {
        if (std::strcmp(argv[i], "--append") == 0) {
          append = true;
        } else if (std::strcmp(argv[i], "--drop-after") == 0 && i + 1 < argc) {
          drop.step = std::atoll(argv[++i]);
        } else {
          return usage();
        }
      }
      trace::TraceWriter w(path, header(), append, drop);
      for (int64_t s = first; s < first + count; ++s) w.write(record(s));
      return 0;
    }
    if (command == "check" && argc == 3) {
      const trace::TraceFile t = trace::read_trace(path);
      std::string steps;
      for (const auto& r : t.records) {
        if (!holds_its_step(r)) {
          std::fprintf(stderr, "error: the record of step %lld does not hold its statistics\n",
                       static_cast<long long>(r.step));
          return 1;
        }
        steps += " " + std::to_string(r.step);
      }
      std::printf("steps:%s\n", steps.c_str());
      return 0;
    }
  } catch (const sisyphus::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return usage();
}
