// Reads a trace file back (for `sisyphus trace`): header and all records.
// Error(kIo) naming the file when it is missing or not a sisyphus trace.
#pragma once

#include <string>
#include <vector>

#include "trace/record.h"

namespace sisyphus::trace {

struct TraceFile {
  std::string path;
  TraceHeader header;
  std::vector<TraceRecord> records;
};

TraceFile read_trace(const std::string& path);

}  // namespace sisyphus::trace
