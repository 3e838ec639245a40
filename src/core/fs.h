// Small file-system helpers shared by the readers and the trainer.
#pragma once

#include <string>

namespace sisyphus::fs {

bool file_exists(const std::string& path);
// mkdir -p; throws Error(kIo) naming the folder it cannot create.
void make_dirs(const std::string& path);

}  // namespace sisyphus::fs
