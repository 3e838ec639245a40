// glibc malloc settings for training loops.
//
// A training step allocates and frees the same multi-megabyte activation and
// gradient tensors every step. With glibc's defaults those large blocks come
// from mmap (or are trimmed off the heap top) when freed and are page-faulted
// back in, zeroed by the kernel, on the next step: measured on ResNet-20,
// batch 128, up to 700k minor faults and 5 s of system time in 30 steps on
// one rank while the other had 160k, so one rank ran 2x slower and the other
// waited for it (docs/benchmarks.md). Keeping blocks up to 32 MiB on the heap
// and not trimming it removes the faults after the first steps.
#pragma once

#include <string>

namespace sisyphus {

// Sets M_MMAP_THRESHOLD = 32 MiB and M_TRIM_THRESHOLD = 1 GiB unless the
// environment sets SISYPHUS_MALLOC=system or glibc's own MALLOC_MMAP_THRESHOLD_
// / MALLOC_TRIM_THRESHOLD_ (the user's choice wins). Returns what it did, for
// the log; a rejected mallopt() is reported there, never fatal.
std::string tune_malloc();

}  // namespace sisyphus
