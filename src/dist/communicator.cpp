#include "dist/communicator.h"

#include <torch/cuda.h>

#include <cstdlib>

#include "core/error.h"
#include "dist/local_communicator.h"
#include "dist/mpi_communicator.h"
#ifdef SISYPHUS_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace sisyphus::dist {

Backend parse_backend(const std::string& name) {
  if (name == "auto") return Backend::kAuto;
  if (name == "local") return Backend::kLocal;
  if (name == "mpi") return Backend::kMpi;
  if (name == "nccl") return Backend::kNccl;
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "unknown backend '" + name + "' for --backend (known: auto, local, mpi, nccl)");
}

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

std::shared_ptr<Communicator> make_communicator(Backend backend) {
  switch (backend) {
    case Backend::kLocal: {
      const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
      if (size && std::atoi(size) > 1) {
        SISYPHUS_FAIL(ErrorKind::kConfig, "--backend local cannot run under mpirun with " +
                                              std::string(size) + " ranks (HINT: --backend mpi)");
      }
      return std::make_shared<LocalCommunicator>();
    }
    case Backend::kMpi:
      return std::make_shared<MpiCommunicator>();
    case Backend::kNccl:
#ifdef SISYPHUS_WITH_NCCL
      return std::make_shared<NcclCommunicator>(std::make_shared<MpiCommunicator>());
#else
      SISYPHUS_FAIL(ErrorKind::kNccl,
                    "this build has no NCCL support (HINT: configure with the CUDA toolkit and "
                    "NCCL installed, e.g. under /usr/local/cuda)");
#endif
    case Backend::kAuto:
#ifdef SISYPHUS_WITH_NCCL
      if (torch::cuda::is_available() && nccl_gpu_count() > 0)
        return std::make_shared<NcclCommunicator>(std::make_shared<MpiCommunicator>());
#endif
      if (launched_by_mpi()) return std::make_shared<MpiCommunicator>();
      return std::make_shared<LocalCommunicator>();
  }
  return std::make_shared<LocalCommunicator>();
}

}  // namespace sisyphus::dist
