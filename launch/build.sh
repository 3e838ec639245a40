#!/usr/bin/env bash
# Configures and builds sisyphus (Release) into ${BUILD_DIR:-build}.
# Torch: the LibTorch of the project's Python environment (launch/env.sh);
# TORCH_PREFIX overrides it with any LibTorch's CMake prefix, e.g. a GPU
# machine's own PyTorch:
#   TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') launch/build.sh
# CMake prints "Torch <version> CUDA <on|off> NCCL <on|off>".
# The compiler: CC/CXX when either is set, else clang where installed (launch/install_deps.sh
# installs it), else the system's c++. With the torch precompiled header, clang
# compiles this code base 2.4x faster than GCC 12 (the whole build on 2 cores:
# 382 s against 902 s; README.md, "Two commands").
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/env.sh
BUILD_DIR=${BUILD_DIR:-build}
if [[ -z "${TORCH_PREFIX:-}" ]]; then
  TORCH_PREFIX=$("$SISYPHUS_PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)')
fi
if [[ -z "${CC:-}" && -z "${CXX:-}" ]] && command -v clang++ >/dev/null && command -v clang >/dev/null; then
  export CC=clang CXX=clang++
fi
mkdir -p "$BUILD_DIR"
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$TORCH_PREFIX" \
    "-DSISYPHUS_PYTHON=$SISYPHUS_PYTHON" ${CMAKE_ARGS:-} >"$BUILD_DIR/configure.log" 2>&1; then
  cat "$BUILD_DIR/configure.log" >&2
  echo "build.sh: configuring failed (log above, also in $BUILD_DIR/configure.log)" >&2
  exit 1
fi
grep -E "^-- sisyphus:" "$BUILD_DIR/configure.log"
# BUILD_TARGET: one target or several, space-separated (all by default)
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$(nproc)" --target ${BUILD_TARGET:-all}
