// How a job ends on an error: one line on stderr and a non-zero exit, with
// every rank ended (no rank left hanging in a collective).
#pragma once

#include <string>

#include "dist/communicator.h"

namespace sisyphus::dist {

// This process's rank as the launcher (mpirun, srun) set it; 0 when alone.
int launcher_rank();

// Prints one error line and ends the job. With several ranks, rank 0 prints
// and aborts at once; other ranks wait a moment first, so an error that every
// rank hits is printed once (by rank 0), and one that only rank r hits still
// gets printed by r before it aborts the job. `comm`: the job's communicator,
// null before the ranks are connected (then the error comes from settings
// every rank shares: the launcher's rank 0 speaks for all). Returns the exit
// code (1) where it does not abort.
int fail_job(Communicator* comm, const std::string& message);

}  // namespace sisyphus::dist
