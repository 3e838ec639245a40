#!/usr/bin/env bash
# Rehearses launch/gpu_check.sh on this Debian machine (no GPU) as the GPU
# machine will meet it: inside a private mount namespace whose /usr hides every
# file of the packages that gpu_bundle/ carries and of what that image lacks
# (Open MPI, PMIx, HDF5, CLI11, GoogleTest, libjpeg/zlib headers, the verbs,
# fabric and UCX libraries, libefa, libcurl4), the ssh client, make, and
# Debian's cmake and ninja (the image has pip's: so does the rehearsal, from a
# throw-away venv). Overlay mounts with whiteouts: nothing on the machine
# changes, and the namespace ends with the script.
#
# Both parts run as on the GPU machine and must fail at the first GPU call and
# only there ("no GPU visible, but SISYPHUS_REQUIRE_GPU is set", "--device cuda:
# no GPU is visible").
#   launch/gpu_rehearse.sh [a|b|ab] [OUT]   (root; the results under OUT, default /tmp/gpu_rehearsal)
set -euo pipefail
PARTS=${1:-ab}
OUT=${2:-/tmp/gpu_rehearsal}
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ $(id -u) -eq 0 ]] || { echo "gpu_rehearse.sh: needs root (mount namespaces)" >&2; exit 1; }
[[ -d gpu_bundle ]] || bash launch/make_gpu_bundle.sh
source launch/env.sh
# Fixed paths, so that build-gpu/'s CMake cache (which names the prefix's
# libraries and ninja) stays valid from one rehearsal to the next, as it does
# between the two parts on a warm GPU machine. The prefix is unpacked anew.
WORK=/tmp/sisyphus-rehearse
TOOLS=$WORK/tools
rm -rf "$WORK/prefix" "$WORK"/up-* "$WORK"/wk-*
mkdir -p "$WORK"
trap 'rm -rf "$WORK/prefix" "$WORK"/up-* "$WORK"/wk-*' EXIT

# pip's cmake and ninja, as the image has them
if [[ ! -x $TOOLS/bin/ninja ]]; then
  "$SISYPHUS_PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check cmake ninja
fi

HIDE_PACKAGES=(libopenmpi3 libopenmpi-dev openmpi-bin openmpi-common libpmix2 libpmix-dev libhwloc15
  libhwloc-dev libhwloc-plugins libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-2.1-7
  libevent-extra-2.1-7 libevent-openssl-2.1-7 libevent-dev libhdf5-103-1 libhdf5-hl-100 libhdf5-dev
  libhdf5-cpp-103-1 libhdf5-hl-cpp-100 libhdf5-fortran-102 libhdf5-hl-fortran-100 libsz2 libaec0
  libaec-dev hdf5-tools hdf5-helpers libcli11-dev googletest libgtest-dev libgmock-dev libjpeg62-turbo
  libjpeg62-turbo-dev libjpeg-dev zlib1g-dev libfabric1 libucx0 libpsm2-2 libpsm-infinipath1
  libibverbs1 libibverbs-dev ibverbs-providers librdmacm1 libnl-3-200 libnl-route-3-200 libmunge2
  libpciaccess0 libnuma1 libnuma-dev libcurl4 openssh-client make cmake ninja-build)
declare -A roots=([/usr/lib/x86_64-linux-gnu]=lib [/usr/include]=include [/usr/bin]=bin
                  [/usr/share]=share [/usr/lib/openmpi]=libompi)
for r in "${!roots[@]}"; do mkdir -p "$WORK/up-${roots[$r]}" "$WORK/wk-${roots[$r]}"; done
n=0
for p in "${HIDE_PACKAGES[@]}"; do
  dpkg-query -W "$p" >/dev/null 2>&1 || continue
  while IFS= read -r f; do
    f=${f/#\/lib\//\/usr\/lib\/}  # merged /usr
    [[ -d $f && ! -L $f ]] && continue
    for r in "${!roots[@]}"; do
      if [[ $f == "$r"/* ]]; then
        rel=${f#$r/}
        mkdir -p "$WORK/up-${roots[$r]}/$(dirname "$rel")"
        [[ -e $WORK/up-${roots[$r]}/$rel ]] || { mknod "$WORK/up-${roots[$r]}/$rel" c 0 0; n=$((n + 1)); }
      fi
    done
  done < <(dpkg -L "$p")
done
echo "rehearsal: $n files hidden; cmake $("$TOOLS/bin/cmake" --version | head -1), ninja $("$TOOLS/bin/ninja" --version) from pip"

mkdir -p "$OUT"
# The namespace's script from a file (read from stdin, mpirun would eat what follows).
cat > "$WORK/inside.sh" <<'NS'
set -uo pipefail
ROOT=$1 WORK=$2 OUT=$3 PARTS=$4 PY=$5
mount --make-rprivate /
for pair in /usr/lib/x86_64-linux-gnu:lib /usr/include:include /usr/bin:bin /usr/share:share; do
  dir=${pair%%:*} tag=${pair##*:}
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$WORK/up-$tag,workdir=$WORK/wk-$tag" "$dir"
done
[[ -d /usr/lib/openmpi ]] && mount -t overlay overlay \
  -o "lowerdir=/usr/lib/openmpi,upperdir=$WORK/up-libompi,workdir=$WORK/wk-libompi" /usr/lib/openmpi
export PATH=$WORK/tools/bin:$PATH
for tool in ssh make mpirun h5dump; do
  command -v "$tool" >/dev/null && echo "rehearsal: $tool is still visible: $(command -v $tool)"
done
ldconfig -p | grep -q "libmpi.so" && echo "rehearsal: ldconfig still lists libmpi (its cache; the files are hidden)"
cd "$ROOT"
rc=0
for part in $(echo "$PARTS" | grep -o .); do
  OUT=$OUT SISYPHUS_PYTHON=$PY GPU_PREFIX=$WORK/prefix bash launch/gpu_check.sh "$part" </dev/null; r=$?
  echo "rehearsal: part $part exited $r"
  rc=$((rc + r))
done
exit $rc
NS
unshare -m bash "$WORK/inside.sh" "$ROOT" "$WORK" "$OUT" "$PARTS" "$SISYPHUS_PYTHON"
