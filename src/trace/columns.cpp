#include "trace/columns.h"

#include <algorithm>

namespace sisyphus::trace {

std::vector<std::string> all_columns() {
  std::vector<std::string> columns;
  for (const char* c : kStringColumns) columns.push_back(c);
  for (const char* c : kScalarColumns) columns.push_back(c);
  for (const char* c : kF64Columns) columns.push_back(c);
  for (const char* c : kI64Columns) columns.push_back(c);
  columns.push_back(kHistColumn);
  return columns;
}

int64_t whole_records(const h5::Object& records, int64_t committed) {
  int64_t whole = -1;  // rows every column has
  for (const auto& c : all_columns()) {
    const int64_t rows = h5::table_rows(records, c);
    whole = whole < 0 ? rows : std::min(whole, rows);
  }
  return committed >= 0 ? std::min(whole, committed) : whole;
}

int64_t committed_records(const h5::Object& file) {
  return h5::has_attr(file, kCommittedAttr) ? h5::attr_int(file, kCommittedAttr) : -1;
}

}  // namespace sisyphus::trace
