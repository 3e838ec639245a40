#!/usr/bin/env bash
# Configures and builds sisyphus (Release) into ${BUILD_DIR:-build}.
# Torch: Debian's libtorch-dev by default; set TORCH_PREFIX to a CMake prefix
# of another LibTorch, e.g. a CUDA PyTorch install:
#   TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') launch/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
args=(-DCMAKE_BUILD_TYPE=Release)
if [[ -n "${TORCH_PREFIX:-}" ]]; then args+=("-DCMAKE_PREFIX_PATH=$TORCH_PREFIX"); fi
cmake -S . -B "$BUILD_DIR" "${args[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
