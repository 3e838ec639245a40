#include "core/fs.h"

#include <sys/stat.h>

#include "core/error.h"

namespace sisyphus::fs {

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && !file_exists(partial) && mkdir(partial.c_str(), 0755) != 0 &&
          !file_exists(partial)) {
        SISYPHUS_FAIL(ErrorKind::kIo, "cannot create folder '" + partial + "'");
      }
    }
    if (i < path.size()) partial += path[i];
  }
}

}  // namespace sisyphus::fs
