#!/usr/bin/env bash
# Downloads the Debian 12 packages that a GPU machine lacks for building and
# testing sisyphus (MPI, HDF5, CLI11, GoogleTest, libjpeg, zlib headers) into
# one folder, gpu_bundle/ (git-ignored), to travel with `device run --carry
# gpu_bundle`. launch/gpu_check.sh unpacks them into a private prefix (never
# into /) and points the build and mpirun at it. No root needed.
#   launch/make_gpu_bundle.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_bundle}
# Runtime libraries first (Open MPI's transport and PMIx dependencies
# included), then the development files the build needs.
PACKAGES=(
  libopenmpi3 libopenmpi-dev openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
  libevent-pthreads-2.1-7 libfabric1 libucx0 libpsm2-2 libpsm-infinipath1 libibverbs1 librdmacm1
  libnl-3-200 libnl-route-3-200 libmunge2 libpciaccess0 libnuma1 libltdl7
  libhdf5-103-1 libhdf5-hl-100 libhdf5-dev libsz2 libaec0 libaec-dev hdf5-tools hdf5-helpers libcurl3-gnutls
  libcli11-dev googletest libgtest-dev libjpeg62-turbo libjpeg62-turbo-dev libjpeg-dev zlib1g-dev
)
rm -rf "$OUT" && mkdir -p "$OUT"
(cd "$OUT" && apt-get download -qq "${PACKAGES[@]}")
cp launch/requirements.txt "$OUT/"   # what the local build used, for the record
du -sh "$OUT"
