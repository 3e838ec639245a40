#!/usr/bin/env bash
# Everything GPU-specific, on a machine with one NVIDIA GPU, a CUDA PyTorch and
# no network (the device tool's; docs/gpu.md has the runbook), in two parts
# that run back to back while the machine is warm (the build folder and the
# unpacked bundle survive between them). Each part fits in 6 minutes on 16
# cores with room to spare, puts every check under `timeout -k`, prints its
# elapsed time, and writes under $OUT (or ./gpu_check_out): a results file
# and one tar of every log (configure.log included).
#
#   here, once:   bash launch/make_gpu_bundle.sh         # gpu_bundle/, git-ignored, ~24 MB
#   part a:       bash launch/gpu_check.sh a   preflight (OS, compilers, GPU, ldd of every
#                 bundled library, mpirun -np 2 true), build (Ninja), unit tests (the GPU
#                 step against the CPU step inside), test_dist with 1 rank (NCCL at world 1:
#                 every collective of a step) and with 2 ranks on the GPU (CUDA staging)
#   part b:       bash launch/gpu_check.sh b   the headline figures first (bench/run_gpu_bench.sh:
#                 ResNet-50 TinyImageNet-shaped bf16 + channels-last against torchvision,
#                 ResNet-20 CIFAR-shaped fp32 and bf16 against PyTorch eager), then training
#                 (NCCL forced at world 1, 2 MPI ranks on one GPU, auto bf16 channels-last),
#                 QuaIL+AMM, and a dropout network's resume (CUDA generator restored)
# Part b builds first if part a's build is not there (a cold machine). Exit status: the
# number of failed checks (a GPU test that finds no GPU fails: SISYPHUS_REQUIRE_GPU).
set -uo pipefail
exec </dev/null  # no check reads the caller's input (mpirun would forward it to rank 0)
PART=${1:-}
[[ $PART == a || $PART == b ]] || { echo "usage: launch/gpu_check.sh a|b" >&2; exit 2; }
cd "$(dirname "$0")/.."
ROOT=$PWD
OUTDIR=${OUT:-$ROOT/gpu_check_out}
mkdir -p "$OUTDIR"
LOGS=$(mktemp -d)
RESULTS=$OUTDIR/gpu_check_$PART.txt
export BUILD_DIR=${BUILD_DIR:-build-gpu}  # build.sh reads it
START=$(date +%s)
failures=0
: > "$RESULTS"
say() { echo "$*" | tee -a "$RESULTS"; }
elapsed() { echo "$(( $(date +%s) - START )) s"; }
# check NAME SECONDS CMD...: runs CMD under a time limit; ok/FAIL, its time and on failure
# its last lines go to the results; its whole output to $LOGS/NAME.log (tarred under $OUT)
check() {
  local name=$1 limit=$2; shift 2
  local t0 rc
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" > "$LOGS/$name.log" 2>&1; rc=$?
  if [[ $rc -eq 0 ]]; then
    say "ok   $name ($(( $(date +%s) - t0 )) s)"
  else
    failures=$((failures + 1))
    say "FAIL $name ($(( $(date +%s) - t0 )) s, exit $rc$([[ $rc -eq 124 || $rc -eq 137 ]] && echo ": timed out after $limit s")); last lines:"
    tail -20 "$LOGS/$name.log" | sed 's/^/     /' | tee -a "$RESULTS"
  fi
  return $rc
}
finish() {
  [[ -f $BUILD_DIR/configure.log ]] && cp "$BUILD_DIR/configure.log" "$LOGS/"
  tar -czf "$OUTDIR/gpu_check_${PART}_logs.tar.gz" -C "$LOGS" . 2>/dev/null
  say "part $PART: total $(elapsed), $failures failed check(s); logs: gpu_check_${PART}_logs.tar.gz"
  exit "$failures"
}
trap finish EXIT
py() { env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" "$GPU_PY" "$@"; }  # the image's python, unshadowed
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}

say "# sisyphus gpu_check part $PART $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null)"
source launch/gpu_env.sh
if ! gpu_env_setup "$ROOT"; then
  failures=$((failures + 1))
  say "FAIL environment: $GPU_ENV_REPORT"
  exit
fi
printf '%s' "$GPU_ENV_REPORT" | tee -a "$RESULTS"
BIN=$BUILD_DIR/src/sisyphus

build() {
  BUILD_TARGET="sisyphus test_units test_dist sisyphus_bench_train" check build 420 bash launch/build.sh
  grep -h "^-- sisyphus:" "$BUILD_DIR/configure.log" 2>/dev/null | tee -a "$RESULTS"
}

# A GPU test that finds no GPU fails here instead of skipping (tests/support/gpu.h).
export SISYPHUS_REQUIRE_GPU=1
# gtest's summary lines of a test log into the results
gtest_summary() { grep -hE "^\[  (PASSED|FAILED|SKIPPED) \]|\[gpu step\]" "$1" | sed 's/^/     /' | tee -a "$RESULTS"; }

if [[ $PART == a ]]; then
  # ------------------------------------------------------------------ preflight
  say "os: $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"), kernel $(uname -r), $(nproc) cores"
  say "compilers: $(c++ --version 2>&1 | head -1); $(nvcc --version 2>&1 | tail -1); cmake $(cmake --version 2>&1 | head -1 | awk '{print $3}'); ninja $(ninja --version 2>&1)"
  say "gpu: $(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1 || echo "no nvidia-smi")"
  say "torch: $(py -c 'import torch;print(torch.__version__, "cuda", torch.version.cuda, "nccl", ".".join(map(str, torch.cuda.nccl.version())), "gpus", torch.cuda.device_count())' 2>&1 | tail -1)"
  gpu_env_ldd_report | tee -a "$RESULTS"
  check mpirun_np2_true 30 mpirun -np 2 true
  check mpirun_np2_hostname 30 mpirun -np 2 hostname
  say "preflight done at $(elapsed)"
  # ------------------------------------------------------------------ build, tests
  build
  [[ -x $BIN ]] || { say "no binary: stopping"; exit; }
  say "build done at $(elapsed)"
  check unit_tests 240 "$BUILD_DIR/tests/test_units" --gtest_brief=1
  gtest_summary "$LOGS/unit_tests.log"
  check nccl_world1_tests 120 mpirun -np 1 "$BUILD_DIR/tests/test_dist"
  gtest_summary "$LOGS/nccl_world1_tests.log"
  check mpi_staging_2ranks_tests 120 mpirun -np 2 --bind-to none "$BUILD_DIR/tests/test_dist"
  gtest_summary "$LOGS/mpi_staging_2ranks_tests.log"
  exit
fi

# ==================================================================== part b
if [[ ! -x $BIN || ! -x $BUILD_DIR/bench/sisyphus_bench_train ]]; then
  say "no build from part a: building first"
  build
  [[ -x $BIN ]] || { say "no binary: stopping"; exit; }
fi
# ------------------------------------------------------------------ headline figures
check gpu_bench 240 env OUT_DIR="$LOGS" RUN_TIMEOUT=90 SISYPHUS_PYTHON="$GPU_PY" \
  PYTHON_LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" bash bench/run_gpu_bench.sh "$BUILD_DIR" 2
sed -n '/^== one GPU/,$p' "$LOGS/gpu_bench.log" | tee -a "$RESULTS"
say "figures done at $(elapsed)"
# ------------------------------------------------------------------ training on the GPU
DATA=$(mktemp -d)
py tests/support/make_idx_dataset.py "$DATA/fm" 2048 512 >/dev/null
py bench/make_cifar_like.py "$DATA/cifar" 1024 >/dev/null
COMMON=(--dataset fashion-mnist --data-dir "$DATA/fm" --checkpoint-dir "$DATA/ck" --threads 4 --log-every 0)
check train_nccl_world1_forced 90 mpirun -np 1 "$BIN" train --net resnet20 "${COMMON[@]}" --epochs 2 \
  --device cuda --backend nccl --force-collectives --run nccl1
check train_mpi_2ranks_one_gpu 90 mpirun -np 2 --bind-to none "$BIN" train --net resnet20 "${COMMON[@]}" \
  --epochs 2 --device cuda --backend mpi --run mpi2
check train_auto_2ranks_bf16_cl 90 mpirun -np 2 --bind-to none "$BIN" train --net resnet20 "${COMMON[@]}" \
  --epochs 2 --device cuda --run auto2 --precision bf16 --channels-last
grep -h "device: \|final:" "$LOGS"/train_*.log | sed 's/^/     /' | tee -a "$RESULTS"
check quail_amm_gpu 120 "$BIN" quail --teacher "$DATA/ck/nccl1/last.h5" --amm --mimic-epochs 1 \
  --finetune-epochs 1 --data-dir "$DATA/fm" --checkpoint-dir "$DATA/ck" --run q --device cuda --log-every 0
grep -h "final:" "$LOGS/quail_amm_gpu.log" | sed 's/^/     /' | tee -a "$RESULTS"
# ------------------------------------------------------------------ resume of a dropout network
mkdir -p "$DATA/resume"
check resume_dropout_gpu 200 bash launch/gpu_resume_check.sh "$BIN" "$DATA/cifar" "$DATA/resume" "$GPU_PY"
tail -3 "$LOGS/resume_dropout_gpu.log" | sed 's/^/     /' | tee -a "$RESULTS"
rm -rf "$DATA"
