#!/usr/bin/env bash
# What synchronising AMM across ranks costs: `sisyphus quail` fine-tuning on
# 2 MPI ranks (1 thread each) with --amm-sync (global batch min/max: one
# all-reduce per AMM layer in forward, one in backward) against
# --no-amm-sync (per-rank min/max, estimates averaged after the step like BN
# statistics), alternating, in one invocation. Reports the throughput of the
# stage that trains every layer (finetune-00, all AMM layers synchronised)
# and the time the ranks spent in AMM all-reduces (including waiting for the
# slower rank).
# Usage: bench/run_amm_bench.sh [BUILD_DIR] [REPEATS] [NET] [TRAIN_LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; REPEATS=${2:-3}; NET=${3:-lenet}; LIMIT=${4:-12800}
BIN=$BUILD/src/sisyphus
OUT=bench/out/amm-$NET
rm -rf "$OUT"; mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
C=(--checkpoint-dir "$OUT" --log-every 0 --threads 1)
echo "teacher: $NET, 1 epoch on $LIMIT Fashion-MNIST images"
"$BIN" train --net "$NET" --dataset fashion-mnist --epochs 1 --train-limit "$LIMIT" --run teacher "${C[@]}" > "$OUT/teacher.log" 2>&1
Q=(--teacher "$OUT/teacher/last.h5" --amm --mimic-epochs 1 --finetune-epochs 1 --train-limit "$LIMIT"
   --test-limit 1000 --batch-size 64 --lr 0.01 --trace-every 0 --continue-on-escape "${C[@]}")
for i in $(seq 1 "$REPEATS"); do
  for mode in sync nosync; do
    flags=(--amm-sync); [[ $mode == nosync ]] && flags=(--no-amm-sync --no-verify-ranks)
    mpirun --oversubscribe --bind-to none -np 2 "$BIN" quail "${Q[@]}" "${flags[@]}" --run "$mode-$i" \
      > "$OUT/$mode-$i.log" 2>&1
    line=$(grep "\[finetune-00\] point .* done" "$OUT/$mode-$i.log")
    rate=$(echo "$line" | grep -o "[0-9]* img/s" | cut -d' ' -f1)
    sync=$(echo "$line" | grep -o "AMM sync [0-9.]* ms/step" | cut -d' ' -f3)
    echo "run $i $mode: finetune-00 $rate img/s${sync:+, AMM all-reduces $sync ms/step}"
    echo "$mode $rate" >> "$OUT/rates"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
s=$(awk '$1=="sync" {print $2}' "$OUT/rates" | median); n=$(awk '$1=="nosync" {print $2}' "$OUT/rates" | median)
echo "median finetune-00 throughput: synchronised $s img/s, per-rank $n img/s, ratio $(awk -v s="$s" -v n="$n" 'BEGIN {printf "%.3f", s / n}')"
