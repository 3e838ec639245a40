#!/usr/bin/env bash
# Training speed on one GPU, sisyphus against PyTorch eager (bench/reference_gpu.py)
# on the same GPU, the same shapes, optimizer and precision, alternating, REPEATS
# times each; medians. What a GPU user reads: step ms, images/s and the peak GPU
# memory (the caching allocator's max_memory_allocated) per row.
#
# Usage: bench/run_gpu_bench.sh [BUILD_DIR] [REPEATS] [ROWS]
#   ROWS (default all): a space-separated subset of
#     resnet50-bf16-cl  ResNet-50, TinyImageNet-shaped (64x64, 200 classes), batch 256,
#                       bf16 + channels-last (sisyphus --imagenet-stem; torchvision's)
#     resnet20-fp32     ResNet-20, CIFAR-shaped (32x32, 10 classes), batch 128, fp32
#     resnet20-bf16     the same in bf16
# PYTHON_LD_LIBRARY_PATH: the library path for python (gpu_check: the image's own, not
# the bundle's). Each line of both programs is kept in $OUT_DIR/gpu_bench.raw (default: a temp folder);
# a failed run is counted and named, never dropped silently. Exit status: the number
# of failed runs (0: all ran).
set -uo pipefail
BUILD=${1:-build}
REPEATS=${2:-3}
ROWS=${3:-resnet50-bf16-cl resnet20-fp32 resnet20-bf16}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="$BUILD/bench/sisyphus_bench_train"
PY=${SISYPHUS_PYTHON:-python3}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
WORK=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$WORK"
RAW=$WORK/gpu_bench.raw
: > "$RAW"
failures=0

row_args() {  # row -> "sisyphus args|pytorch args"
  case $1 in
    resnet50-bf16-cl)
      echo "--net resnet50 --dataset tiny-imagenet --imagenet-stem --batch-size 256 --steps 30 --warmup 10 --synthetic 8192 --precision bf16 --channels-last|--net resnet50 --batch-size 256 --steps 30 --warmup 10 --images 8192 --precision bf16 --channels-last" ;;
    resnet20-fp32)
      echo "--net resnet20 --dataset cifar10 --batch-size 128 --steps 60 --warmup 15 --synthetic 8192 --precision fp32|--net resnet20 --batch-size 128 --steps 60 --warmup 15 --images 8192 --precision fp32" ;;
    resnet20-bf16)
      echo "--net resnet20 --dataset cifar10 --batch-size 128 --steps 60 --warmup 15 --synthetic 8192 --precision bf16|--net resnet20 --batch-size 128 --steps 60 --warmup 15 --images 8192 --precision bf16" ;;
    *) echo "run_gpu_bench.sh: unknown row '$1'" >&2; return 1 ;;
  esac
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

one() {  # who row args...: runs one program under a time limit, keeps its line
  local who=$1 row=$2; shift 2
  local out rc
  out=$(timeout -k 5 "$RUN_TIMEOUT" "$@" 2>"$WORK/$who-$row.err"); rc=$?
  local line
  line=$(grep -E "^(sisyphus|pytorch) " <<<"$out" | tail -1)
  if [[ $rc -ne 0 || -z $line ]]; then
    failures=$((failures + 1))
    echo "FAILED $who $row (exit $rc): $(tail -3 "$WORK/$who-$row.err" | tr '\n' ' ')" | tee -a "$RAW" >&2
    return
  fi
  echo "$who $row $line" >> "$RAW"
}

for row in $ROWS; do
  args=$(row_args "$row") || { failures=$((failures + 1)); continue; }
  cxx=${args%%|*}; py=${args#*|}
  for ((i = 0; i < REPEATS; i++)); do
    # shellcheck disable=SC2086
    one sisyphus "$row" "$BENCH" --mode train --device cuda --threads 4 $cxx
    # shellcheck disable=SC2086
    one pytorch "$row" env LD_LIBRARY_PATH="${PYTHON_LD_LIBRARY_PATH-${LD_LIBRARY_PATH:-}}" \
      "$PY" "$HERE/reference_gpu.py" $py
  done
done

echo "== one GPU, median of $REPEATS alternating runs: sisyphus | PyTorch eager =="
printf "%-18s %10s %10s %10s | %10s %10s %10s | %6s\n" row "step ms" "img/s" "peak MiB" \
  "step ms" "img/s" "peak MiB" ratio
for row in $ROWS; do
  vals=()
  for who in sisyphus pytorch; do
    for f in step_ms images_per_s peak_mem_mb; do
      vals+=("$(grep "^$who $row " "$RAW" | field "$f" | median)")
    done
  done
  ratio=$(awk -v a="${vals[1]}" -v b="${vals[4]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
  printf "%-18s %10s %10s %10s | %10s %10s %10s | %6s\n" "$row" "${vals[@]}" "$ratio"
done
echo "(ratio: sisyphus images/s over PyTorch's; raw lines: $RAW; failed runs: $failures)"
exit "$failures"
