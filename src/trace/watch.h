// `sisyphus trace watch FILE`: follows a trace while a run writes it (the
// file is written in SWMR mode: trace/writer.h) and prints each new record's
// per-layer max |x| as it arrives, one line per record. Waits for a file that
// does not exist yet; ends when the writer closes the file, or when the writer
// (a process of this host) is gone without closing it (killed), or on Ctrl-C.
#pragma once

#include <cstdio>
#include <string>

namespace sisyphus::trace {

// Polls every `interval_s` seconds; writes to `out`. Returns the records shown.
int64_t watch(const std::string& path, double interval_s, std::FILE* out);

}  // namespace sisyphus::trace
