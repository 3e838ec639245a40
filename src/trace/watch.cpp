#include "trace/watch.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "trace/reader.h"

namespace sisyphus::trace {
namespace {

// "pid=P host=H" -> {P, H}; {-1, ""} when it says nothing.
std::pair<long, std::string> parse_writer(const std::string& writer) {
  long pid = -1;
  std::string host;
  if (const auto at = writer.find("pid="); at != std::string::npos)
    pid = std::strtol(writer.c_str() + at + 4, nullptr, 10);
  if (const auto at = writer.find("host="); at != std::string::npos)
    host = writer.substr(at + 5, writer.find(' ', at + 5) - at - 5);
  return {pid, host};
}

// Whether the writer is a process of this host that no longer exists.
bool writer_gone(const std::string& writer) {
  const auto [pid, host] = parse_writer(writer);
  char here[256] = {};
  if (pid <= 0 || gethostname(here, sizeof(here) - 1) != 0 || host != here) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

void print_record(const TraceRecord& r, std::FILE* out) {
  std::fprintf(out, "step %lld epoch %lld %s %s %s |", static_cast<long long>(r.step),
               static_cast<long long>(r.epoch), r.stage.c_str(), r.phase.c_str(), r.mode.c_str());
  for (const auto& l : r.layers) std::fprintf(out, " %.3g", l.max_abs);
  std::fprintf(out, "\n");
}

}  // namespace

int64_t watch(const std::string& path, double interval_s, std::FILE* out) {
  const auto pause = std::chrono::duration<double>(interval_s);
  if (!fs::file_exists(path)) {
    std::fprintf(out, "trace watch: waiting for %s\n", path.c_str());
    std::fflush(out);
    while (!fs::file_exists(path)) std::this_thread::sleep_for(pause);
  }
  size_t shown = 0;
  bool header = false;
  int failed_reads = 0;
  while (true) {
    TraceFile t;
    try {
      t = read_trace(path);
      failed_reads = 0;
    } catch (const Error&) {
      // A file being created or replaced (a resumed run rewrites it) may not
      // read for a moment; one that never reads is not a trace.
      if (++failed_reads > 20) throw;
      std::this_thread::sleep_for(pause);
      continue;
    }
    if (!header) {
      std::fprintf(out, "trace watch: %s (%s, run '%s'); max |x| per layer, one line per record:\n",
                   path.c_str(), t.header.network.c_str(), t.header.run.c_str());
      for (size_t l = 0; l < t.header.layers.size(); ++l)
        std::fprintf(out, "  %zu %s\n", l, t.header.layers[l].c_str());
      header = true;
    }
    if (t.records.size() < shown) {  // a resumed run dropped what it traces again
      std::fprintf(out, "trace watch: the file was rewritten with %zu records\n", t.records.size());
      shown = t.records.size();
    }
    for (; shown < t.records.size(); ++shown) print_record(t.records[shown], out);
    std::fflush(out);
    if (!t.live) {
      std::fprintf(out, "trace watch: the writer closed the file (%zu records)\n", shown);
      return static_cast<int64_t>(shown);
    }
    if (writer_gone(t.writer)) {
      std::fprintf(out,
                   "trace watch: the writer (%s) is gone without closing the file (killed?); "
                   "%zu records\n",
                   t.writer.c_str(), shown);
      return static_cast<int64_t>(shown);
    }
    std::this_thread::sleep_for(pause);
  }
}

}  // namespace sisyphus::trace
