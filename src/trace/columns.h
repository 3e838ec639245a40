// The trace file's record columns and how many of their rows are records
// (docs/trace-format.md), shared by the writer and the reader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/h5.h"

namespace sisyphus::trace {

// Per-layer numeric columns, [rows, layers]; "hist" is [rows, layers, bins].
inline const char* const kF64Columns[] = {"min", "max", "max_abs", "mean", "std"};
inline const char* const kI64Columns[] = {"count", "nan", "inf", "above"};
inline const char* const kStringColumns[] = {"source", "stage", "phase", "mode"};
inline const char* const kScalarColumns[] = {"epoch", "step", "samples"};
inline constexpr const char* kHistColumn = "hist";

// The root attribute counting the records written whole and flushed. A kill
// inside a flush may leave rows past it in every column (extents written,
// data not); those are not records (older traces lack it: every whole row is).
inline constexpr const char* kCommittedAttr = "committed_records";
// Who writes the file ("pid=P host=H") and whether it still does (1 while a
// writer holds it, 0 once it closed it; a killed writer leaves 1).
inline constexpr const char* kWriterAttr = "writer";
inline constexpr const char* kWritingAttr = "writing";

std::vector<std::string> all_columns();

// The records of a trace: the rows every column of `records` has, within the
// committed count (`committed` < 0: a trace that predates it).
int64_t whole_records(const h5::Object& records, int64_t committed);

// The committed count `file` holds, -1 when it predates it.
int64_t committed_records(const h5::Object& file);

}  // namespace sisyphus::trace
