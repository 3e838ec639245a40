// The checkpoint's metadata fields as one table (like trace/columns.h): each
// field's attribute name, where it lives in CheckpointMeta, and whether files
// written before it existed lack it. The attribute writer, the reader and the
// checksum's text (checkpoint.cpp) all walk this table, in its order (the
// checksum's order: never reorder it).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "io/checkpoint.h"

namespace sisyphus::io {

struct MetaField {
  const char* name;
  // bools are stored as int64 attributes (0/1)
  std::variant<std::string CheckpointMeta::*, int64_t CheckpointMeta::*, double CheckpointMeta::*,
               bool CheckpointMeta::*>
      member;
  bool optional;  // older files may lack it: the field keeps its default
};

const std::vector<MetaField>& meta_fields();

}  // namespace sisyphus::io
