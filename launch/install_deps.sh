#!/usr/bin/env bash
# Installs the Debian 12 packages sisyphus needs (as root), skipping the
# package index update when everything is already there.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev                 # LibTorch 1.13 (CPU)
  libopenmpi-dev openmpi-bin   # MPI
  libhdf5-dev hdf5-tools       # checkpoints, packed data, h5dump
  libcli11-dev                 # command line
  googletest                   # unit tests
  zlib1g-dev libjpeg-dev       # gzip'd IDX files, TinyImageNet JPEGs
  dataset-fashion-mnist        # the real data set of the main job
  gnuplot-nox                  # `sisyphus trace plot`
  python3-torch python3-torchvision python3-h5py python3-numpy  # benchmarks and interop checks
  slurmctld slurmd slurm-client munge  # the Slurm batch-job test (tests/slurm)
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
