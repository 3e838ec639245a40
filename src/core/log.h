// Rank-aware logging: info() prints only on rank 0 (set once at start-up),
// detail() likewise but only with --verbose (how the process was set up:
// allocator tuning and the like), warn() on every rank with the rank's prefix
// ("[rank r] " in a job of several ranks: dist::Communicator::log_prefix).
#pragma once

#include <string>

namespace sisyphus::log {

void set_rank(int rank, const std::string& warn_prefix);
int rank();
void info(const std::string& line);
void set_verbose(bool on);
void detail(const std::string& line);
void warn(const std::string& line);
// "0:01:23" for 83 seconds; "--:--:--" for negative or non-finite values.
std::string format_duration(double seconds);

}  // namespace sisyphus::log
