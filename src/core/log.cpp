#include "core/log.h"

#include <cmath>
#include <cstdio>

namespace sisyphus::log {
namespace {
int g_rank = 0;
std::string g_prefix;
bool g_verbose = false;
}  // namespace

void set_verbose(bool on) { g_verbose = on; }

void detail(const std::string& line) {
  if (g_verbose) info(line);
}

void set_rank(int r, const std::string& warn_prefix) {
  g_rank = r;
  g_prefix = warn_prefix;
}

int rank() { return g_rank; }

void info(const std::string& line) {
  if (g_rank != 0) return;
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

void warn(const std::string& line) {
  std::fprintf(stderr, "%swarning: %s\n", g_prefix.c_str(), line.c_str());
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--:--";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

}  // namespace sisyphus::log
