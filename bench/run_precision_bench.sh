#!/usr/bin/env bash
# Whole runs in each CPU precision mode: fp32, channels-last, bf16, bf16 + channels-last.
# For each NET and SEED: `train` (TL images, EP epochs, the whole test set after each
# epoch, traces on) in each mode; then `quail --amm` (QL images, 1 epoch per stage) from
# the fp32 teacher of that seed in each mode, and `eval --amm-mode mm|amm` of its last
# checkpoint. One thread; rows "NET MODE seed=S PART seconds accuracy". Run it on a quiet
# machine, or with PARALLEL=2 for accuracies only (two runs at a time: the seconds mean
# nothing then). docs/benchmarks.md, runs F and G.
#   NETS="resnet20 resnet32" TL=6000 EP=5 QL=1000 bench/run_precision_bench.sh
#   MODES="fp32 bf16" SEEDS="1 2 3" PARTS=baseline PARALLEL=2 bench/run_precision_bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source launch/env.sh
if [[ -z ${WORK_DIR:-} ]]; then WORK_DIR=$(mktemp -d); trap 'rm -rf "$WORK_DIR"' EXIT; fi  # WORK_DIR set: kept
B=${SISYPHUS_BIN:-build/src/sisyphus}; D=$WORK_DIR; NETS=${NETS:-"resnet20 resnet32"}; TL=${TL:-6000}; EP=${EP:-5}; QL=${QL:-1000}
MODES=${MODES:-"fp32 cl bf16 bf16cl"}; SEEDS=${SEEDS:-42}; PARTS=${PARTS:-"baseline quail"}; PARALLEL=${PARALLEL:-1}
mkdir -p "$D"
MODES="$(for m in $MODES; do [[ $m == fp32 ]] && echo fp32; done) $(for m in $MODES; do [[ $m != fp32 ]] && echo $m; done)"  # fp32 first
if [[ " $PARTS " == *" quail "* && " $PARTS " != *" baseline "* ]]; then
  for net in $NETS; do for seed in $SEEDS; do
    [[ -e $D/$net-fp32-s$seed-t/last.h5 ]] || { echo "PARTS=quail alone needs the fp32 teachers in WORK_DIR ($D/$net-fp32-s$seed-t/last.h5)"; exit 1; }
  done; done
elif [[ " $PARTS " == *" quail "* && " $MODES " != *" fp32 "* ]]; then
  echo "the QuaIL runs start from the fp32 teacher: MODES must hold fp32"; exit 1
fi
flags() { case $1 in fp32) echo "";; cl) echo "--channels-last";; bf16) echo "--precision bf16";; bf16cl) echo "--precision bf16 --channels-last";; esac; }

# one NET MODE SEED: that mode's parts, its rows printed together at its end
one() {
  local net=$1 m=$2 seed=$3 ck am run=$1-$2-s$3
  BENCH_LOG=$D/$run.log
  source bench/lib.sh  # timed
  {
    if [[ " $PARTS " == *" baseline "* ]]; then
      timed "$net $m seed=$seed baseline" $B train --net $net --train-limit $TL --epochs $EP --threads 1 --log-every 0 \
        --seed $seed --checkpoint-dir $D --run $run-t $(flags $m)
      [[ $m == fp32 ]] && touch "$D/$run-t.done"  # the other modes' QuaIL runs may start
    fi
    if [[ " $PARTS " == *" quail "* ]]; then
      while [[ ! -e $D/$net-fp32-s$seed-t.done ]]; do sleep 1; done  # the fp32 teacher of this seed
      timed "$net $m seed=$seed quail" $B quail --teacher $D/$net-fp32-s$seed-t/last.h5 --amm --train-limit $QL --mimic-epochs 1 \
        --finetune-epochs 1 --threads 1 --log-every 0 --seed $seed --checkpoint-dir $D --run $run-q $(flags $m)
      ck=$D/$run-q/last.h5
      for am in mm amm; do timed "$net $m seed=$seed quail-eval-$am" $B eval --checkpoint $ck --amm-mode $am --threads 1 $(flags $m); done
    fi
  } > "$D/$run.rows"
  cat "$D/$run.rows"
}

for net in $NETS; do
  for seed in $SEEDS; do
    # the fp32 run first: its teacher starts every mode's QuaIL run of this seed
    [[ " $PARTS " == *" baseline "* ]] || touch "$D/$net-fp32-s$seed-t.done"
    for m in $MODES; do
      while (($(jobs -rp | wc -l) >= PARALLEL)); do wait -n; done
      one $net $m $seed &
    done
  done
done
wait
