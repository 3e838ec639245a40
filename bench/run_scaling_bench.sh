#!/usr/bin/env bash
# Measurements for the scaling model (bench/scaling_model.py, docs/scaling.md)
# on the multi-host test cluster (tests/cluster/cluster.sh: 3 hosts as network
# namespaces on a bridge; needs root):
#   1. all-reduce time across message sizes (4 B .. 64 MiB), MPI over the
#      test network, on 2 and 3 hosts (one rank each);
#   2. compute per step T_c: the training step alone (one rank, no
#      communication), run by p processes at once for p = 1, 2, 3 so that it
#      carries the same load on this machine's cores as the p-host run;
#   3. the real training step (reducer, buckets, overlap) on 2 and 3 hosts.
# Then the model is fitted to 1 and its prediction of 3 compared with what was
# measured, and the GPU predictions printed.
#   bench/run_scaling_bench.sh [--net alexnet] [--batch 16] [--steps 10] [--out FILE]
# AlexNet on Fashion-MNIST shapes by default: 93 MB of gradients per step,
# about ResNet-50's 96-102 MB, with a CPU step short enough to measure.
set -euo pipefail
cd "$(dirname "$0")/.."
NET=alexnet; BATCH=16; STEPS=10; OUT=
while (($#)); do
  case $1 in
    --net) NET=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "run_scaling_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BENCH=$(realpath "${SISYPHUS_BENCH:-build/bench/sisyphus_bench_train}")
WORK=$(mktemp -d)
OUT=${OUT:-$WORK/scaling.txt}
source tests/cluster/cluster.sh
trap 'cluster_down; rm -rf "$WORK"' EXIT
cluster_up 3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm_rsh_agent=$PWD/tests/cluster/netns_rsh.sh OMPI_MCA_btl_tcp_if_include=$CL_NET.0/24 \
       OMPI_MCA_oob_tcp_if_include=$CL_NET.0/24 OMPI_MCA_mpi_yield_when_idle=1  # 3 ranks share 2 cores
for p in 2 3; do seq -f "$CL_NET.%g slots=1" 1 $p > "$WORK/hosts$p"; done
T=(--mode train --net "$NET" --dataset fashion-mnist --synthetic 2048 --batch-size "$BATCH" --steps "$STEPS"
   --warmup 2 --threads 1)
: > "$OUT"
echo "== $(date +%T) all-reduce sweeps"
for p in 2 3; do
  on_host 1 mpirun --hostfile "$WORK/hosts$p" -np $p --bind-to none "$BENCH" --mode sweep --max-mb 64 \
    --steps 10 --warmup 2 2>/dev/null | grep "^sisyphus" | sed "s/^sisyphus /sisyphus where=sweep$p /" | tee -a "$OUT"
done
echo "== $(date +%T) compute alone, 1..3 processes at once"
for p in 1 2 3; do
  for i in $(seq $p); do "$BENCH" "${T[@]}" > "$WORK/alone$p-$i.txt" 2>/dev/null & done
  wait
  # the mean of the processes' step times
  awk -v p=$p '/^sisyphus/ {for (i = 1; i <= NF; i++) if ($i ~ /^step_ms=/) {split($i, a, "="); s += a[2]; n++}; line = $0}
    END {sub(/step_ms=[0-9.]+/, "step_ms=" s / n, line); sub(/^sisyphus /, "sisyphus where=alone" p " ", line); print line}' \
    "$WORK"/alone$p-*.txt | tee -a "$OUT"
done
echo "== $(date +%T) training across the hosts"
for p in 2 3; do
  on_host 1 mpirun --hostfile "$WORK/hosts$p" -np $p --bind-to none "$BENCH" "${T[@]}" 2>/dev/null |
    grep "^sisyphus" | sed "s/^sisyphus /sisyphus where=hosts$p /" | tee -a "$OUT"
done
echo "== $(date +%T) model"
python3 bench/scaling_model.py fit "$OUT"
echo
python3 bench/scaling_model.py predict
echo "(measurements: $OUT)"
[[ $OUT != "$WORK"/* ]] || cp "$OUT" "./scaling-$(date +%Y%m%d-%H%M%S).txt"
