#!/usr/bin/env bash
# Whole runs in each CPU precision mode: fp32, channels-last, bf16, bf16 + channels-last.
# For each NET: `train` (TRAIN_LIMIT images, EPOCHS epochs, the whole test set after each
# epoch, traces on, seed 42) in each mode; then `quail --amm` (QUAIL_LIMIT images, 1 epoch
# per stage) from the fp32 teacher in each mode, and `eval --amm-mode mm|amm` of its last
# checkpoint. One thread; wall time of each process and its final line. Run it on a quiet
# machine. docs/benchmarks.md, run F.
#   NETS="resnet20 resnet32" TL=6000 EP=5 QL=1000 bench/run_precision_bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source launch/env.sh
if [[ -z ${WORK_DIR:-} ]]; then WORK_DIR=$(mktemp -d); trap 'rm -rf "$WORK_DIR"' EXIT; fi  # WORK_DIR set: kept
B=${SISYPHUS_BIN:-build/src/sisyphus}; D=$WORK_DIR; NETS=${NETS:-"resnet20 resnet32"}; TL=${TL:-6000}; EP=${EP:-5}; QL=${QL:-1000}
mkdir -p $D
flags() { case $1 in fp32) echo "";; cl) echo "--channels-last";; bf16) echo "--precision bf16";; bf16cl) echo "--precision bf16 --channels-last";; esac; }
t() { local s=$(date +%s.%N); "$@" > $D/last.log 2>&1; local rc=$?; local e=$(date +%s.%N); printf "%.1f rc=%d %s\n" "$(echo "$e-$s"|bc)" $rc "$(grep -E '^.*final:' $D/last.log | tail -1 | sed 's/.*final: //' | cut -c1-150)"; }
for net in $NETS; do
  for m in fp32 cl bf16 bf16cl; do
    echo "$net $m baseline $(t $B train --net $net --train-limit $TL --epochs $EP --threads 1 --log-every 0 --checkpoint-dir $D --run $net-$m-t $(flags $m))"
  done
  for m in fp32 cl bf16 bf16cl; do
    echo "$net $m quail $(t $B quail --teacher $D/$net-fp32-t/last.h5 --amm --train-limit $QL --mimic-epochs 1 --finetune-epochs 1 --threads 1 --log-every 0 --checkpoint-dir $D --run $net-$m-q $(flags $m))"
    ck=$D/$net-$m-q/last.h5
    for am in mm amm; do echo "$net $m quail-eval-$am $ck $(t $B eval --checkpoint $ck --amm-mode $am --threads 1 $(flags $m)) $(grep -oE 'accuracy [0-9.]+%' $D/last.log | head -1)"; done
  done
done
