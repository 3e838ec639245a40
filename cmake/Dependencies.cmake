# Finds every third-party dependency once (docs/gpu.md says which library
# comes from where and why):
#   - Torch: the LibTorch of PyPI's torch wheel in the project's Python
#     environment (launch/build.sh passes its CMake prefix); a CUDA build.
#   - CUDA runtime and NCCL: the ones that wheel itself loads (its nvidia-*
#     packages), so that one process holds one of each. The CUDA toolkit
#     (/usr/local/cuda, nvcc on PATH) only serves torch's CMake detection.
#   - MPI, HDF5, CLI11, GoogleTest, zlib, libjpeg: Debian packages.

# We compile no CUDA kernels of our own, so the architecture list only feeds
# torch's nvcc flags. Setting it skips torch's GPU probing (a CUDA try_run that
# CMake < 3.28 cannot configure with C++20, and that needs a GPU anyway).
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "9.0")
endif()
if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
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

# Torch exports its flags in TORCH_CXX_FLAGS (empty for current wheels, which
# use the C++11 ABI); they must reach every target so all objects agree.
string(APPEND CMAKE_CXX_FLAGS " ${TORCH_CXX_FLAGS}")

# HDF5 as one imported target so that only the core layer sees its headers.
add_library(sisyphus_hdf5 INTERFACE)
target_include_directories(sisyphus_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(sisyphus_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(sisyphus_hdf5 INTERFACE ${HDF5_DEFINITIONS})

# --- CUDA: on when this torch is a CUDA build --------------------------------
set(SISYPHUS_WITH_CUDA OFF)
set(SISYPHUS_WITH_NCCL OFF)
set(SISYPHUS_CUDART_SOURCE "none")
set(SISYPHUS_NCCL_SOURCE "none")
option(SISYPHUS_NCCL "Build the NCCL backend when torch is a CUDA build" ON)
if(TARGET torch_cuda)
  set(SISYPHUS_WITH_CUDA ON)
  # A pip-installed torch sits in site-packages/torch; its CUDA runtime and
  # NCCL in site-packages/nvidia/<package>/{include,lib}.
  get_filename_component(_site "${TORCH_INSTALL_PREFIX}/.." ABSOLUTE)
  file(GLOB _cudart "${_site}/nvidia/*/lib/libcudart.so.[0-9]*")
  file(GLOB _nccl_lib "${_site}/nvidia/*/lib/libnccl.so.[0-9]*")
  file(GLOB _nccl_h "${_site}/nvidia/*/include/nccl.h")
  if(_cudart)
    # torch's config links the toolkit's libcudart (same SONAME): the first one
    # loaded would serve the whole process. Make it the wheel's.
    list(GET _cudart 0 SISYPHUS_CUDART)
    set_property(TARGET torch::cudart PROPERTY INTERFACE_LINK_LIBRARIES "${SISYPHUS_CUDART}")
    set(SISYPHUS_CUDART_SOURCE "${SISYPHUS_CUDART}")
  else()  # a LibTorch archive without wheels: the toolkit's runtime
    set(SISYPHUS_CUDART_SOURCE "CUDA toolkit ${CUDAToolkit_VERSION}")
  endif()
  if(_nccl_lib AND _nccl_h)
    list(GET _nccl_lib 0 NCCL_LIBRARY)
    list(GET _nccl_h 0 _nccl_h)
    get_filename_component(NCCL_INCLUDE_DIR "${_nccl_h}" DIRECTORY)
  else()
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
  endif()
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    # libtorch_cuda itself needs this NCCL (an older one lacks its symbols).
    set_property(TARGET torch_cuda APPEND PROPERTY INTERFACE_LINK_LIBRARIES "${NCCL_LIBRARY}")
    set(SISYPHUS_NCCL_SOURCE "${NCCL_LIBRARY}")
    if(SISYPHUS_NCCL)
      set(SISYPHUS_WITH_NCCL ON)
      add_library(sisyphus_nccl INTERFACE)
      target_include_directories(sisyphus_nccl SYSTEM BEFORE INTERFACE ${NCCL_INCLUDE_DIR})
      target_link_libraries(sisyphus_nccl INTERFACE ${NCCL_LIBRARY} torch)
    endif()
  endif()
endif()

# --- Python: the interpreter of the same torch, for interop tests and benches
if(NOT SISYPHUS_PYTHON)
  get_filename_component(_venv_py "${TORCH_INSTALL_PREFIX}/../../../../bin/python3" ABSOLUTE)
  if(EXISTS "${_venv_py}")
    set(SISYPHUS_PYTHON "${_venv_py}")
  else()
    set(SISYPHUS_PYTHON "python3")
  endif()
endif()
set(SISYPHUS_PYTHON "${SISYPHUS_PYTHON}" CACHE STRING "Python with the same torch (tests, benchmarks)")

function(sisyphus_on_off var out)
  if(${var})
    set(${out} on PARENT_SCOPE)
  else()
    set(${out} off PARENT_SCOPE)
  endif()
endfunction()
sisyphus_on_off(SISYPHUS_WITH_CUDA _cuda)
sisyphus_on_off(SISYPHUS_WITH_NCCL _nccl)
message(STATUS "sisyphus: Torch ${Torch_VERSION} CUDA ${_cuda} NCCL ${_nccl}")
message(STATUS "sisyphus: CUDA runtime ${SISYPHUS_CUDART_SOURCE}; NCCL ${SISYPHUS_NCCL_SOURCE}")
message(STATUS "sisyphus: HDF5 ${HDF5_VERSION}, MPI ${MPI_C_VERSION}, python ${SISYPHUS_PYTHON}")
message(STATUS "sisyphus: compiler ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}, precompiled torch header ${SISYPHUS_PCH}")
