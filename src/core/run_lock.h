// One process per run folder: an exclusive flock(2) on <folder>/.lock, held
// for the life of the run. The kernel releases it when the process ends in
// any way (kill -9, a Slurm requeue, a node reboot for a local disk), so
// nothing is ever stale; the file itself stays and says who held it last.
//
// The holder writes "pid=<pid> host=<host> started=<UTC time>" into the file,
// so the process that finds the lock taken names the holder in its one error
// line. Advisory, like every flock: it stops sisyphus processes, not other
// programs. Over NFS, Linux emulates flock with fcntl locks (held by the
// NFS server), so it holds across hosts sharing the folder too.
#pragma once

#include <optional>
#include <string>

namespace sisyphus {

class RunLock {
 public:
  // Takes the lock of `folder` (made if missing), or throws Error(kConfig):
  // "run '<run>' (<folder>) is in use by process <pid> on <host> since
  // <time>; ...". `run` names the run in that message.
  RunLock(const std::string& folder, const std::string& run);
  ~RunLock();  // releases it (closing the file)
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Who holds the lock of `folder` now ("process P on H since T"), or
  // nothing when no live process does. Takes nothing.
  static std::optional<std::string> holder(const std::string& folder);

 private:
  int fd_ = -1;
};

}  // namespace sisyphus
