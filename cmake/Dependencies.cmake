# Finds every third-party dependency once. All of them come from Debian
# packages (see README.md); Torch may instead come from a CUDA PyTorch install
# via -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)').

find_package(Torch REQUIRED)
find_package(MPI REQUIRED COMPONENTS C)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(JPEG REQUIRED)
find_package(Threads REQUIRED)
if(SISYPHUS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Torch exports its flags in TORCH_CXX_FLAGS (e.g. -D_GLIBCXX_USE_CXX11_ABI=1);
# they must reach every target so all objects agree on the ABI.
string(APPEND CMAKE_CXX_FLAGS " ${TORCH_CXX_FLAGS}")

# HDF5 as one imported target so that only the core layer sees its headers.
add_library(sisyphus_hdf5 INTERFACE)
target_include_directories(sisyphus_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(sisyphus_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(sisyphus_hdf5 INTERFACE ${HDF5_DEFINITIONS})

message(STATUS "sisyphus: Torch ${Torch_VERSION}, HDF5 ${HDF5_VERSION}, MPI ${MPI_C_VERSION}")

# NCCL backend: compiled and linked wherever the CUDA toolkit and NCCL are
# found (this project's CI machines have both under /usr/local/cuda, without
# a GPU); without them `--backend nccl` reports that the build lacks NCCL.
option(SISYPHUS_NCCL "Build the NCCL backend when CUDA and NCCL are found" ON)
set(SISYPHUS_WITH_NCCL OFF)
if(SISYPHUS_NCCL)
  if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  endif()
  find_package(CUDAToolkit QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  if(CUDAToolkit_FOUND AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(SISYPHUS_WITH_NCCL ON)
    add_library(sisyphus_nccl INTERFACE)
    target_include_directories(sisyphus_nccl SYSTEM INTERFACE ${NCCL_INCLUDE_DIR} ${CUDAToolkit_INCLUDE_DIRS})
    target_link_libraries(sisyphus_nccl INTERFACE ${NCCL_LIBRARY} CUDA::cudart)
  endif()
endif()
message(STATUS "sisyphus: NCCL backend ${SISYPHUS_WITH_NCCL}")
