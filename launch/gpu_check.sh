#!/usr/bin/env bash
# Everything GPU-specific, on a machine with one NVIDIA GPU, a CUDA PyTorch
# and no network (docs/gpu.md), in under 9 minutes. Writes $OUT/gpu_check.txt
# (or ./gpu_check.txt) with every figure, and exits non-zero if a check fails.
#
#   here:        bash launch/make_gpu_bundle.sh            # once; gpu_bundle/ is git-ignored
#   GPU machine: device run --carry gpu_bundle "bash launch/gpu_check.sh"
#
# Steps: unpack the Debian bundle into a private prefix; build against the
# machine's own PyTorch (its CUDA runtime and NCCL); the unit tests (the GPU
# step test included); the MPI tests with 2 ranks whose CUDA tensors are
# staged through pinned memory (two ranks on one GPU); the real binary with
# --backend nccl (world 1) and with 2 MPI ranks sharing the GPU; a GPU step
# against a CPU step; ResNet-50 on TinyImageNet-shaped data (bf16,
# channels-last) side by side with torchvision's ResNet-50 on the same GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=${OUT:-$ROOT}/gpu_check.txt
PREFIX=${GPU_PREFIX:-/tmp/sisyphus-prefix}
BUILD_DIR=${BUILD_DIR:-build-gpu}
PY=${SISYPHUS_PYTHON:-python3}
BUDGET_START=$(date +%s)
failures=0
say() { echo "$*" | tee -a "$RESULTS"; }
check() {  # check NAME CMD...: runs CMD, records ok/FAIL and its time
  local name=$1; shift
  local t0=$(date +%s)
  if "$@" >"$ROOT/$BUILD_DIR.$name.log" 2>&1; then say "ok   $name ($(( $(date +%s) - t0 )) s)"
  else failures=$((failures + 1)); say "FAIL $name ($(( $(date +%s) - t0 )) s): last lines:"
       tail -15 "$ROOT/$BUILD_DIR.$name.log" | tee -a "$RESULTS"; fi
}
: > "$RESULTS"
say "# sisyphus gpu_check $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null)"
say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
say "torch: $("$PY" -c 'import torch;print(torch.__version__, "cuda", torch.version.cuda, "nccl", ".".join(map(str, torch.cuda.nccl.version())))' 2>&1)"

# --- 1. the Debian bundle, unpacked into a private prefix
if [[ -d gpu_bundle ]]; then  # carried: the machine lacks these (never mixed with a system MPI)
  mkdir -p "$PREFIX"
  for f in gpu_bundle/*.deb; do dpkg -x "$f" "$PREFIX"; done
  L=$PREFIX/usr/lib/x86_64-linux-gnu
  ln -sf orterun "$PREFIX/usr/bin/mpirun"   # Debian sets these by update-alternatives
  ln -sf mpicc.openmpi "$PREFIX/usr/bin/mpicc"
  export PATH=$PREFIX/usr/bin:$PATH
  export LD_LIBRARY_PATH=$L:$L/openmpi/lib:$L/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export OPAL_PREFIX=$PREFIX/usr PMIX_INSTALL_PREFIX=$L/pmix2
  export CMAKE_ARGS="-DMPI_C_COMPILER=$PREFIX/usr/bin/mpicc.openmpi \
    -DMPI_C_HEADER_DIR=$L/openmpi/include -DMPI_C_LIB_NAMES=mpi -DMPI_mpi_LIBRARY=$L/openmpi/lib/libmpi.so \
    -DHDF5_ROOT=$L/hdf5/serial -DHDF5_C_INCLUDE_DIR=$PREFIX/usr/include/hdf5/serial \
    -DCLI11_DIR=$PREFIX/usr/share/cmake/CLI11 -DGTest_DIR=$L/cmake/GTest \
    -DJPEG_INCLUDE_DIR=$PREFIX/usr/include -DJPEG_LIBRARY=$L/libjpeg.so \
    -DZLIB_INCLUDE_DIR=$PREFIX/usr/include"
  EXTRA_PREFIX=";$PREFIX/usr"
  say "bundle: $(ls gpu_bundle/*.deb | wc -l) packages unpacked into $PREFIX"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

# --- 2. build against this machine's PyTorch
export TORCH_PREFIX="$("$PY" -c 'import torch;print(torch.utils.cmake_prefix_path)')${EXTRA_PREFIX:-}"
export SISYPHUS_PYTHON=$PY BUILD_DIR
check build bash launch/build.sh
grep -E "^-- sisyphus:" "$BUILD_DIR/configure.log" | tee -a "$RESULTS"
BIN=$BUILD_DIR/src/sisyphus
[[ -x $BIN ]] || { say "no binary: stopping"; exit 1; }

# --- 3. tests: unit tests (GPU step vs CPU step inside), MPI tests with 2 ranks
check unit_tests "$BUILD_DIR/tests/test_units" --gtest_brief=1
grep -h "\[gpu step\]" "$ROOT/$BUILD_DIR.unit_tests.log" | tee -a "$RESULTS"
check mpi_tests_2_ranks mpirun --oversubscribe --bind-to none -np 2 "$BUILD_DIR/tests/test_dist"

# --- 4. the real binary on the GPU: NCCL (world 1), MPI staging with 2 ranks on one GPU
DATA=$(mktemp -d)
"$PY" tests/support/make_idx_dataset.py "$DATA/fm" 2048 512 >/dev/null
COMMON=(--net resnet20 --dataset fashion-mnist --data-dir "$DATA/fm" --checkpoint-dir "$DATA/ck" --epochs 2
        --threads 4 --log-every 0)
check train_nccl_world1 mpirun -np 1 "$BIN" train "${COMMON[@]}" --device cuda --backend nccl --run nccl1
check train_mpi_2ranks_one_gpu mpirun --oversubscribe --bind-to none -np 2 "$BIN" train "${COMMON[@]}" \
  --device cuda --backend mpi --run mpi2
check train_auto_2ranks_one_gpu mpirun --oversubscribe --bind-to none -np 2 "$BIN" train "${COMMON[@]}" \
  --device cuda --run auto2 --precision bf16 --channels-last
grep -h "device: \|final:" "$ROOT/$BUILD_DIR".train_*.log | sed 's/^/  /' | tee -a "$RESULTS"
check quail_amm_gpu "$BIN" quail --teacher "$DATA/ck/nccl1/last.h5" --amm --mimic-epochs 1 --finetune-epochs 1 \
  --data-dir "$DATA/fm" --checkpoint-dir "$DATA/ck" --run q --device cuda --log-every 0
grep -h "final:" "$ROOT/$BUILD_DIR.quail_amm_gpu.log" | sed 's/^/  /' | tee -a "$RESULTS"

# --- 5. ResNet-50, TinyImageNet-shaped (64x64, 200 classes), bf16 + channels-last,
#        sisyphus and torchvision alternating, 3 times each
say "resnet50 64x64x3, 200 classes, batch 256, bf16, channels-last, img/s (sisyphus | torchvision):"
for rep in 1 2 3; do
  s=$("$BUILD_DIR/bench/sisyphus_bench_train" --mode train --net resnet50 --dataset tiny-imagenet --synthetic 8192 \
      --batch-size 256 --steps 30 --warmup 10 --threads 8 --device cuda --precision bf16 --channels-last \
      --imagenet-stem 2>/dev/null | sed -n 's/.*images_per_s=\([0-9.]*\).*/\1/p')
  p=$("$PY" bench/reference_gpu.py --batch-size 256 --steps 30 --warmup 10 2>/dev/null | sed -n 's/.*images_per_s=\([0-9.]*\).*/\1/p')
  say "  rep $rep: ${s:-failed} | ${p:-failed}"
done
rm -rf "$DATA"
say "total $(( $(date +%s) - BUDGET_START )) s, $failures failed check(s)"
[[ $failures -eq 0 ]]
