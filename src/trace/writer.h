// Writes trace records into one HDF5 file per run (docs/trace-format.md),
// readable while it is written: the file is in HDF5's latest format and
// written in single-writer/multiple-reader (SWMR) mode, so another process
// can read it at any moment (`sisyphus trace summary|watch`, h5py with
// swmr=True) and sees every record committed so far. Each record is appended
// to chunked, extendable datasets under /records and flushed, then counted
// (@committed_records) and flushed again, so a killed run keeps what it
// traced. Only the rank that writes (rank 0) creates a writer.
#pragma once

#include <string>
#include <vector>

#include "core/h5.h"
#include "trace/record.h"

namespace sisyphus::trace {

// A resumed run drops the last records of `source` with a step beyond
// `step`: what a killed run traced after its last checkpoint, which the
// resumed run traces again (no duplicates).
struct DropAfter {
  std::string source;
  int64_t step = -1;  // < 0: drop nothing
};

class TraceWriter {
 public:
  // append: add to an existing trace (its layers must equal header.layers).
  // An existing file is rewritten, not appended to in place: its whole,
  // committed records (what a killed writer left half written is no record),
  // less `drop`, go into a fresh SWMR-format file that replaces it. A file
  // that a killed SWMR writer left marked "open for write", and one of the
  // older format, can only be rewritten. Otherwise (or when the file does not
  // exist) a new file. Either way the file is made beside `path` and renamed
  // over it once whole and in SWMR mode, so a kill never leaves an unreadable
  // file there.
  TraceWriter(const std::string& path, const TraceHeader& header, bool append,
              const DropAfter& drop = {});
  ~TraceWriter();  // marks the file finished (@writing 0) and closes it
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  void write(const TraceRecord& record);
  int64_t dropped() const { return dropped_; }  // records `drop` removed
  const std::string& path() const { return path_; }

 private:
  void create(const std::string& file, const TraceHeader& header);
  void add_rows(const TraceRecord& record);  // the rows of one record, not yet flushed
  void commit(int64_t records);              // flush, count, flush
  std::string path_;
  size_t layers_ = 0;
  h5::Object file_, records_;
  int64_t committed_ = 0;
  int64_t dropped_ = 0;
};

}  // namespace sisyphus::trace
