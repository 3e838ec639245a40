#include "core/error.h"

namespace sisyphus {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConfig:
      return "config";
    case ErrorKind::kData:
      return "data";
    case ErrorKind::kCheckpoint:
      return "checkpoint";
    case ErrorKind::kHdf5:
      return "hdf5";
    case ErrorKind::kMpi:
      return "mpi";
    case ErrorKind::kNccl:
      return "nccl";
    case ErrorKind::kCuda:
      return "cuda";
    case ErrorKind::kModel:
      return "model";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kDiverged:
      return "diverged";
  }
  return "unknown";
}

Error::Error(ErrorKind kind, const std::string& message)
    : std::runtime_error(message), kind_(kind) {}

void fail(ErrorKind kind, const std::string& message, const char* file, int line) {
  // Keep only the file name: the full build path is noise in a one-line error.
  std::string where(file);
  auto slash = where.find("src/");
  if (slash != std::string::npos) where = where.substr(slash + 4);
  throw Error(kind, std::string(error_kind_name(kind)) + " error: " + message + " (" + where + ":" +
                        std::to_string(line) + ")");
}

}  // namespace sisyphus
