// A crash-proof first read of an untrusted file. The HDF5 library (1.10)
// itself crashes on some damaged files (fuzzing found reads past buffers and
// overlapping copies in its global heap code), and a crash there must become
// one error line naming the file, not the end of a job. So a reader first
// runs in a forked child: the same calls on the same bytes crash the child
// instead, and the parent refuses the file. Costs one extra read.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace sisyphus {

// Runs `read` in a child process (which leaves with _exit: no destructors, no
// atexit handlers, no MPI). Returns when it finished or threw Error (the
// caller's own read then reports that error), or when the child sleeps for a
// second without using CPU (stuck on a lock inherited through fork, which
// says nothing about the file: the caller's read is then unguarded); throws
// Error(kind) naming `file` when the child crashed or was still busy after
// 10 s plus 1 s per 10 MB of file (then it is killed). `read` must not start threads or use MPI.
void read_in_child_first(const std::string& file, ErrorKind kind,
                         const std::function<void()>& read);

}  // namespace sisyphus
