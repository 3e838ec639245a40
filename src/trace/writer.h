// Writes trace records into one HDF5 file per run (docs/trace-format.md):
// every record is appended to chunked, extendable datasets under /records
// and the file is flushed, so a killed run keeps what it traced. Only the
// rank that writes (rank 0) creates a writer.
#pragma once

#include <string>

#include "core/h5.h"
#include "trace/record.h"

namespace sisyphus::trace {

class TraceWriter {
 public:
  // append: add to an existing trace (its layers must equal header.layers),
  // first dropping what a killed writer left half written: a kill inside
  // write() leaves some columns a row longer, a kill inside its flush may
  // leave rows in every column past the file's committed-records count;
  // otherwise (or when the file does not exist) start a new file.
  TraceWriter(const std::string& path, const TraceHeader& header, bool append);
  void write(const TraceRecord& record);
  // A resumed run: drops the last records of `source` with a step beyond
  // `step` (what a killed run traced after its last checkpoint, which the
  // resumed run traces again). Returns the records dropped.
  int64_t drop_after(const std::string& source, int64_t step);
  const std::string& path() const { return path_; }

 private:
  int64_t whole_records() const;   // the rows every column has, within the committed count
  void truncate_to(int64_t rows);  // every column, and the committed count
  std::string path_;
  size_t layers_ = 0;
  h5::Object file_, records_;
  int64_t committed_ = 0;  // the file's committed_records; -1: a trace that predates it
};

}  // namespace sisyphus::trace
