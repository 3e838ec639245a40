// Typed errors and the check macros every C API call goes through.
//
// Contract: a failing check throws a sisyphus::Error whose what() is one line
// naming the failed call, the file and line, and a HINT on how to fix it.
// `main` catches it, prints that line and exits non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace sisyphus {

// Which part of the system failed; lets callers and tests tell errors apart.
enum class ErrorKind {
  kConfig,
  kData,
  kCheckpoint,
  kHdf5,
  kMpi,
  kNccl,
  kCuda,
  kModel,
  kIo,
  kDiverged
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message);
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Throws Error(kind, "<message> (<file>:<line>)").
[[noreturn]] void fail(ErrorKind kind, const std::string& message, const char* file, int line);

}  // namespace sisyphus

#define SISYPHUS_FAIL(kind, msg) ::sisyphus::fail((kind), (msg), __FILE__, __LINE__)

// Throws ErrorKind `kind` with `msg` when `cond` is false.
#define SISYPHUS_CHECK(cond, kind, msg)        \
  do {                                         \
    if (!(cond)) SISYPHUS_FAIL((kind), (msg)); \
  } while (0)
