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
  std::vector<TraceRecord> records;  // the committed records
  bool live = false;                 // a writer held it open (@writing 1): a run, or a killed one
  std::string writer;                // "pid=P host=H" of the last writer ("" in older traces)
};

// Opens the file for SWMR reading, so it reads a trace while a run writes
// it (and one a killed writer left) as well as a finished one.
TraceFile read_trace(const std::string& path);

}  // namespace sisyphus::trace
