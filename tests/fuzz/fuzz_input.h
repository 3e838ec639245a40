// Shared by the libFuzzer targets (one per parser). The parsers read files,
// so each input is written to a file of this process's own first; a
// sisyphus::Error (the one clear line naming the file that a user sees) is the
// expected answer to bad bytes. Any other exception, a crash, a sanitizer
// report or a leak is a finding: libFuzzer stops and saves the input.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

namespace sisyphus::fuzz {

// A path under $TMPDIR (default /tmp) unique to this process and `name`.
inline std::string scratch_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/sisyphus-fuzz-" + std::to_string(getpid()) +
         "-" + name;
}

// Writes `size` bytes to `path`; aborts (a harness fault, not a finding of
// the parser) when the scratch file cannot be written.
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
  const bool ok = (size == 0 || std::fwrite(data, 1, size, f) == size);
  if (std::fclose(f) != 0 || !ok) {
    std::fprintf(stderr, "fuzz: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
}

// Runs `parse`; a sisyphus::Error is the parser refusing the input cleanly.
template <class F>
void expect_clean(F&& parse) {
  try {
    parse();
  } catch (const sisyphus::Error&) {
  }
}

}  // namespace sisyphus::fuzz
