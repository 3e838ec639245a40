#!/usr/bin/env bash
# Installs what sisyphus needs on Debian 12 (as root), skipping whatever is
# already there:
#   - Debian packages: compilers, MPI, HDF5, CLI11, GoogleTest, Slurm, munge,
#     gnuplot and the real Fashion-MNIST;
#   - the project's Python environment ($SISYPHUS_VENV, launch/env.sh) with
#     PyPI's torch and the rest of launch/requirements.txt. Its LibTorch is
#     the one sisyphus links (launch/build.sh), its CUDA runtime and NCCL
#     (the nvidia-* wheels) the ones the GPU path uses (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/env.sh
PACKAGES=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin   # MPI
  libhdf5-dev hdf5-tools       # checkpoints, packed data, h5dump
  libcli11-dev                 # command line
  googletest                   # unit tests
  zlib1g-dev libjpeg-dev       # gzip'd IDX files, TinyImageNet JPEGs
  dataset-fashion-mnist        # the real data set of the main job
  gnuplot-nox                  # `sisyphus trace plot`
  clang-format                 # the code form (.clang-format), checked by the test command
  clang libclang-rt-14-dev llvm  # the libFuzzer targets (tests/fuzz, launch/fuzz.sh) and symbolised reports
  python3 python3-venv         # the project's Python environment (torch from PyPI)
  slurmctld slurmd slurm-client munge  # the Slurm batch-job test (tests/slurm)
  iproute2 util-linux bc       # the multi-host test cluster (tests/cluster: ip netns, nsenter)
  strace                       # kills at each file-system call (tests/trace/test_trace_kills.sh)
  libtcmalloc-minimal4         # the sisyphus binary's allocator (src/CMakeLists.txt)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Python environment: re-installed only when launch/requirements.txt
# changed since it was made (its copy inside the venv says what it holds).
if ! cmp -s launch/requirements.txt "$SISYPHUS_VENV/sisyphus-requirements.txt"; then
  echo "python environment: $SISYPHUS_VENV (launch/requirements.txt)"
  [[ -x "$SISYPHUS_PYTHON" ]] || /usr/bin/python3 -m venv "$SISYPHUS_VENV"
  "$SISYPHUS_PYTHON" -m pip install -q --disable-pip-version-check -r launch/requirements.txt
  cp launch/requirements.txt "$SISYPHUS_VENV/sisyphus-requirements.txt"
fi
