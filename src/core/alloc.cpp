#include "core/alloc.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace sisyphus {
namespace {
constexpr int kMmapThreshold = 32 << 20;  // glibc's largest allowed value on 64-bit
constexpr int kTrimThreshold = 1 << 30;
}  // namespace

std::string tune_malloc() {
  const char* choice = std::getenv("SISYPHUS_MALLOC");
  if (choice && std::strcmp(choice, "system") == 0)
    return "malloc: glibc defaults (SISYPHUS_MALLOC=system)";
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return "malloc: settings from MALLOC_*_ environment variables";
#ifdef __GLIBC__
  std::string out = "malloc: mmap threshold 32 MiB, trim threshold 1 GiB";
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1) out += " (mallopt(M_MMAP_THRESHOLD) refused)";
  if (mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1) out += " (mallopt(M_TRIM_THRESHOLD) refused)";
  return out;
#else
  return "malloc: not glibc, left as it is";
#endif
}

}  // namespace sisyphus
