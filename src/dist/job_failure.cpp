#include "dist/job_failure.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sisyphus::dist {

int launcher_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

int fail_job(Communicator* comm, const std::string& message) {
  if (!comm || comm->size() == 1) {
    if (launcher_rank() == 0) std::fprintf(stderr, "sisyphus: %s\n", message.c_str());
    return 1;
  }
  if (comm->rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  std::fprintf(stderr, "sisyphus: [rank %d] %s\n", comm->rank(), message.c_str());
  std::fflush(stderr);
  comm->abort(1);
  return 1;  // not reached
}

}  // namespace sisyphus::dist
