// The MPI world of test_dist (made in test_mpi_main.cpp's main), shared by its
// test files; and the statistics all-reduces over it (what the trainer attaches).
#pragma once

#include <memory>

#include "dist/mpi_communicator.h"
#include "nn/stat_sync.h"

namespace sisyphus::dist_test {

dist::MpiCommunicator& world();
std::shared_ptr<dist::MpiCommunicator> world_ptr();
// sum/max over `comm`'s ranks
nn::StatSyncPtr ranks_sync(std::shared_ptr<dist::Communicator> comm);

}  // namespace sisyphus::dist_test

#define REQUIRE_RANKS() \
  if (::sisyphus::dist_test::world().size() < 2) GTEST_SKIP() << "needs mpirun -np >= 2"
