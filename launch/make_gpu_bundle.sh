#!/usr/bin/env bash
# Downloads the Debian 12 packages a GPU machine lacks for building and testing
# sisyphus into one folder, gpu_bundle/ (git-ignored), to travel with the
# device tool's `carry` (docs/gpu.md). launch/gpu_env.sh unpacks them into a
# private prefix (never into /) and points the build and mpirun at it.
# No root needed.
#   launch/make_gpu_bundle.sh [OUT_DIR]
#
# Two kinds of package:
#   gpu_bundle/*.deb           what the build and the tests use: Open MPI, HDF5,
#                              CLI11, GoogleTest, libjpeg, zlib (runtime and headers);
#   gpu_bundle/fallback/*.deb  every other library those need at run time (their
#                              dependency closure, less the C runtime and what any
#                              Linux image has). The GPU machine's image (likely
#                              Ubuntu 24.04) has many of them already; gpu_env.sh
#                              takes one from here only for a library the image
#                              lacks (`ldd` says "not found"), so the image's own
#                              libssl or libcurl are never shadowed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_bundle}
PACKAGES=(
  libopenmpi3 libopenmpi-dev openmpi-bin openmpi-common libpmix2 libhwloc15
  libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-2.1-7 libevent-dev
  libhdf5-103-1 libhdf5-hl-100 libhdf5-dev libsz2 libaec0 libaec-dev hdf5-tools hdf5-helpers
  libcli11-dev googletest libgtest-dev
  libjpeg62-turbo libjpeg62-turbo-dev libjpeg-dev zlib1g zlib1g-dev
)
# Never carried: the C runtime and what every image has (a second copy of
# them breaks more than it fixes), and what only interactive tools use.
EXCLUDE='^(libc6|libgcc-s1|libstdc\+\+6|gcc-[0-9]+-base|libcrypt1|debconf|cdebconf|dpkg|adduser|passwd|tar|install-info|perl-base|libpam.*|libselinux1|libsemanage.*|libsepol2|libaudit.*|libcap-ng0|libacl1|libdebian-installer4|libnewt0\.52|libslang2|libtextwrap1|readline-common|libreadline8|libtinfo6|libx11-data|libicu[0-9]+|libhwloc-plugins|ocl-icd-libopencl1|libxnvctrl0|libx11-6|libxau6|libxcb1|libxdmcp6|libxext6|libbsd0|libmd0)$'
rm -rf "$OUT" && mkdir -p "$OUT/fallback"
(cd "$OUT" && apt-get download -qq "${PACKAGES[@]}" 2>&1 | grep -v unsandboxed || true)
# the run-time closure: of the libraries and tools, not of the -dev packages (compilers)
RUNTIME=(libopenmpi3 openmpi-bin libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7
         libhdf5-103-1 libhdf5-hl-100 libsz2 libaec0 hdf5-tools libjpeg62-turbo zlib1g)
mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances "${RUNTIME[@]}" 2>/dev/null | grep -E '^[a-z0-9]' | sort -u)
fallback=()
for p in "${closure[@]}"; do
  [[ " ${PACKAGES[*]} " == *" $p "* ]] && continue
  [[ $p =~ $EXCLUDE ]] && continue
  [[ $p == lib* || $p == ibverbs-providers ]] || continue  # runtime libraries (libefa: ibverbs-providers)
  fallback+=("$p")
done
(cd "$OUT/fallback" && apt-get download -qq "${fallback[@]}" 2>&1 | grep -v unsandboxed || true)
cp launch/requirements.txt "$OUT/"  # what the local build used, for the record
echo "$(ls "$OUT"/*.deb | wc -l) packages, $(ls "$OUT"/fallback/*.deb | wc -l) fallbacks: $(du -sh "$OUT" | cut -f1)"
