// A graceful stop asked for by a signal: Slurm's `--signal=USR1@<seconds>`
// before a time limit, SIGTERM when a job is preempted, cancelled or
// requeued (`scontrol requeue`), SIGUSR1 forwarded by mpirun.
//
// The handler only records the signal; training looks at it between steps,
// the ranks agree on it (engine/epoch_runner.cpp), and every rank stops at the
// same step boundary, writes a mid-epoch checkpoint and exits with
// kExitResumable, so that a requeued job goes on with --resume and ends as an
// uninterrupted run would.
//
// Signal dispositions belong to the process, so the recorded signal is the one
// piece of process-wide state here; a StopSignal handle is what code is given.
#pragma once

#include <string>

namespace sisyphus {

// The exit status of a run that stopped on request with its state saved
// (sysexits' EX_TEMPFAIL: "try again later"); the batch scripts requeue on it.
inline constexpr int kExitResumable = 75;

class StopSignal {
 public:
  // Installs the handlers for SIGUSR1 and SIGTERM (the previous ones are put
  // back by the destructor). One StopSignal at a time.
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  int received() const;      // the signal number received so far, 0 when none
  std::string name() const;  // "SIGUSR1", "SIGTERM", or "" when none
};

}  // namespace sisyphus
