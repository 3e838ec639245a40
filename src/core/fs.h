// Small file-system helpers shared by the readers and the trainer.
#pragma once

#include <string>

namespace sisyphus::fs {

bool file_exists(const std::string& path);
// mkdir -p; throws Error(kIo) naming the folder it cannot create.
void make_dirs(const std::string& path);

// fsync of a written file, so a rename after it is durable; Error(kIo)
// when the file cannot be opened or synced (disk full).
void sync_file(const std::string& path);
// rename(2) of `from` over `to`; Error(kIo) naming both when it fails.
void rename_over(const std::string& from, const std::string& to);
// Copies `src` to `dst` atomically: written to <dst>.tmp, synced, renamed
// over `dst`, so a kill leaves either the old `dst` or the complete copy.
void copy_file_atomic(const std::string& src, const std::string& dst);
// Writes `text` as the whole of `path`; Error(kIo) naming it when it cannot.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace sisyphus::fs
