#!/usr/bin/env bash
# The "beyond the paper" study (docs/beyond.md, docs/results.md) for one
# network on Fashion-MNIST at one budget: the ReLU baseline, QuaIL+AMM (the
# paper), and each new method; every result folded, evaluated with a trace
# of its max |x| per layer on the test set, and costed.
#   launch/beyond_study.sh NET [--epochs E] [--stage-epochs S] [--train-limit N] [--threads T]
#                              [--prefix P] [--methods "relu quail-amm herpn ..."] [--tune-epochs T]
#                              [--data-dir D]   (default: the dataset's shipped folder)
# Budget: E epochs for every network trained from scratch (ReLU, HerPN, the
# learnable quadratic with range control and clipping, HerPN with range control); S epochs per QuaIL stage and per
# progressive replacement stage, E for the blend stage; these start from the
# E-epoch ReLU baseline. A *-tuned method (blend-herpn-peak-tuned) adds T epochs
# (default 3) on the folded network of its method, which must have run before it; *-tuned-bounded
# (blend-herpn-tuned-bounded) the same with MobileNet-V1's bounded setting (λ 1, r 5, clip 10). Every step resumes (--resume) or is skipped when its
# result exists, so the study runs in pieces: re-run the same command. A step
# stopped by SIGTERM/SIGINT/SIGUSR1 (sisyphus saves its state and exits 75)
# ends the study with 75, as slurm/resumable.sh expects; nothing is marked escaped.
# Results: $CK/P-NET-study.csv (label, checkpoint, accuracy, non-finite,
# bounded, largest max |x|, levels, ct-ct, pt-ct) and the trace $CK/P-NET-study-trace.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
NET=${1:?usage: beyond_study.sh NET [options]}; shift
EPOCHS=5; STAGE=1; LIMIT=0; THREADS=0; PREFIX=study; DATA=()
METHODS="relu quail-amm herpn herpn-range herpn-range-clip herpn-peak cpoly-range blend-herpn blend-herpn-range blend-herpn-peak blend-herpn-peak-tuned progressive-herpn quail-herpn"
RANGE=(--range-penalty 1e-2 --range-bound 4)  # the range control of the *-range methods (no clipping)
PEAK=(--range-penalty 1e-2 --range-bound 20 --range-form peak)  # the *-peak methods' (no clipping)
# *-tuned: the folded network of the method before it trained further as it is deployed (no BN,
# no batch statistics): the peak penalty (r 10) on that inference path, its inputs clipped at 20
# in training (at 2r, so the penalty sees moderate excursions grow), gradient clipping
TUNE_EPOCHS=3
TUNE=(--lr 0.002 --weight-decay 0 --grad-clip 1 --range-penalty 1e-1 --range-bound 10 --range-form peak --clip-inputs --clip-bound 20)
# *-tuned-bounded: the setting that bounded MobileNet-V1 (docs/results.md, mb-tune-C): λ 1, r 5, clip 10
TUNE_BOUNDED=(--lr 0.002 --weight-decay 0 --grad-clip 1 --range-penalty 1 --range-bound 5 --range-form peak --clip-inputs --clip-bound 10)
while (($#)); do
  case $1 in
    --epochs) EPOCHS=$2; shift 2 ;;
    --stage-epochs) STAGE=$2; shift 2 ;;
    --train-limit) LIMIT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --methods) METHODS=$2; shift 2 ;;
    --tune-epochs) TUNE_EPOCHS=$2; shift 2 ;;
    --data-dir) DATA=(--data-dir "$2"); shift 2 ;;
    *) echo "beyond_study.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${SISYPHUS_BIN:-build/src/sisyphus}
CK=${CHECKPOINT_DIR:-checkpoints}
P=$PREFIX-$NET
CSV=$CK/$P-study.csv
TRACE=$CK/$P-study-trace.h5
COMMON=(--checkpoint-dir "$CK" --train-limit "$LIMIT" --threads "$THREADS" --log-every 200 --resume ${DATA[@]+"${DATA[@]}"})
log() { echo "== $(date +%H:%M:%S) $*"; }

# The result of each method: its final checkpoint.
# A run that diverges or escapes leaves $CK/RUN/escaped.txt: its result is "escaped".
train_run() {  # RUN [train flags]: a network from scratch
  local run=$1; shift
  log "train $run"
  [[ -f $CK/$run/escaped.txt ]] && return 0
  local rc=0
  "$BIN" train --net "$NET" --epochs "$EPOCHS" --run "$run" "${COMMON[@]}" "$@" 2> "$CK/$run.err" || rc=$?
  stopped_for_resume "$run" $rc
  ((rc == 0)) || { mkdir -p "$CK/$run"; cat "$CK/$run.err" > "$CK/$run/escaped.txt"; cat "$CK/$run.err"; }
}
quail_run() {  # RUN [quail flags]
  local run=$1; shift
  log "quail $run"
  local rc=0
  "$BIN" quail --teacher "$CK/$P-relu/last.h5" --run "$run" "${COMMON[@]}" --continue-on-escape "$@" || rc=$?
  stopped_for_resume "$run" $rc
  return $rc
}
stopped_for_resume() {  # RUN RC: a run stopped with its state saved ends the study, resumable
  if (($2 == 75)); then log "$1 stopped with its state saved; run the same command to continue"; exit 75; fi
}

# Folded, evaluated with a trace, costed: one CSV row.
report() {  # LABEL CHECKPOINT [amm mode | folded]: replaces LABEL's row of an earlier invocation
  local label=$1 ckpt=$2 mode=${3:-amm} folded=$CK/$P-$1-folded.h5
  sed -i "/^$label,/d" "$CSV"
  if [[ -f $(dirname "$ckpt")/escaped.txt || ! -f $ckpt ]]; then
    log "$label: escaped in training ($(head -c 200 "$(dirname "$ckpt")/escaped.txt" 2>/dev/null))"
    echo "$label,$ckpt,,,escaped in training,,,," >> "$CSV"
    return
  fi
  rm -f "$folded"
  # a network trained in its folded form (mode folded): fold writes its weights without the training state
  if [[ $mode == folded ]]; then "$BIN" fold --checkpoint "$ckpt" --out "$folded" > /dev/null
  else "$BIN" fold --checkpoint "$ckpt" --out "$folded" --amm-mode "$mode" > /dev/null; fi
  local acc nonfinite bounded largest cost
  read -r acc nonfinite bounded largest < <(SISYPHUS_BIN=$BIN bash launch/evaluate_folded.sh "$folded" "$label-folded" "$TRACE" \
    ${DATA[@]+"${DATA[@]}"} --threads "$THREADS")
  cost=$("$BIN" cost --checkpoint "$folded" --totals-only | awk '/this network/ {print $(NF-2)","$(NF-1)","$NF}')
  echo "$label,$ckpt,$acc,$nonfinite,$bounded,$largest,$cost" >> "$CSV"
  log "$label: folded $acc% ($nonfinite non-finite), $bounded (max |x| $largest), levels/ct-ct/pt-ct $cost"
}

mkdir -p "$CK"
[[ -f $CSV ]] || echo "label,checkpoint,accuracy,nonfinite,bounded,max_abs,levels,ct_ct,pt_ct" > "$CSV"
for m in $METHODS; do
  case $m in
    relu) train_run "$P-relu"; report relu "$CK/$P-relu/last.h5" ;;
    quail-amm)
      quail_run "$P-quail-amm" --amm --mimic-epochs "$STAGE" --finetune-epochs "$STAGE"
      report quail-amm "$CK/$P-quail-amm/finetune-00.h5" amm
      # MM inference (the true batch min/max) has no fixed map: evaluated unfolded, batch 100
      if [[ -f $CK/$P-quail-amm/finetune-00.h5 ]]; then
        mm=$("$BIN" eval --checkpoint "$CK/$P-quail-amm/finetune-00.h5" ${DATA[@]+"${DATA[@]}"} --amm-mode mm --threads "$THREADS" 2>&1 \
             | grep -oE "test accuracy [0-9.]+%" | grep -oE "[0-9.]+")
        sed -i "/^quail-amm-mm /d" "$CSV"
        echo "quail-amm-mm (not foldable),$CK/$P-quail-amm/finetune-00.h5,$mm,0,bounded by construction,,,," >> "$CSV"
      fi ;;
    herpn) train_run "$P-herpn" --act herpn; report herpn "$CK/$P-herpn/last.h5" ;;
    herpn-range) train_run "$P-herpn-range" --act herpn "${RANGE[@]}"; report herpn-range "$CK/$P-herpn-range/last.h5" ;;
    herpn-peak) train_run "$P-herpn-peak" --act herpn "${PEAK[@]}"; report herpn-peak "$CK/$P-herpn-peak/last.h5" ;;
    herpn-range-clip)  # PILLAR's pairing: the penalty with clipping in training (none at inference)
      train_run "$P-herpn-range-clip" --act herpn "${RANGE[@]}" --clip-inputs
      report herpn-range-clip "$CK/$P-herpn-range-clip/last.h5" ;;
    cpoly-range)
      train_run "$P-cpoly-range" --act cpoly:degree=2,range=5 --range-penalty 1e-3 --range-bound 5 --clip-inputs
      report cpoly-range "$CK/$P-cpoly-range/last.h5" ;;
    quail-herpn)
      quail_run "$P-quail-herpn" --act herpn --mimic-epochs "$STAGE" --finetune-epochs "$STAGE"
      report quail-herpn "$CK/$P-quail-herpn/finetune-00.h5" ;;
    progressive-herpn)
      quail_run "$P-progressive-herpn" --act herpn --method progressive --replace-epochs "$STAGE"
      # the last replace stage (the highest-numbered slotted point) is the result
      report progressive-herpn "$(ls "$CK/$P-progressive-herpn"/replace-*.h5 2>/dev/null | sort | tail -1)" ;;
    blend-herpn)
      quail_run "$P-blend-herpn" --act herpn --method blend --replace-epochs "$EPOCHS"
      report blend-herpn "$CK/$P-blend-herpn/blend.h5" ;;
    blend-herpn-range)
      quail_run "$P-blend-herpn-range" --act herpn --method blend --replace-epochs "$EPOCHS" "${RANGE[@]}"
      report blend-herpn-range "$CK/$P-blend-herpn-range/blend.h5" ;;
    blend-herpn-peak)
      quail_run "$P-blend-herpn-peak" --act herpn --method blend --replace-epochs "$EPOCHS" "${PEAK[@]}"
      report blend-herpn-peak "$CK/$P-blend-herpn-peak/blend.h5" ;;
    *-tuned-bounded)
      base=${m%-tuned-bounded}
      [[ -f $CK/$P-$base-folded.h5 ]] || { echo "beyond_study.sh: $m needs $base's folded network: run $base first" >&2; exit 2; }
      train_run "$P-$m" --init "$CK/$P-$base-folded.h5" "${TUNE_BOUNDED[@]}" --epochs "$TUNE_EPOCHS"
      report "$m" "$CK/$P-$m/last.h5" folded ;;
    *-tuned)
      base=${m%-tuned}
      [[ -f $CK/$P-$base-folded.h5 ]] || { echo "beyond_study.sh: $m needs $base's folded network: run $base first" >&2; exit 2; }
      train_run "$P-$m" --init "$CK/$P-$base-folded.h5" "${TUNE[@]}" --epochs "$TUNE_EPOCHS"
      report "$m" "$CK/$P-$m/last.h5" folded ;;
    *) echo "beyond_study.sh: unknown method $m" >&2; exit 2 ;;
  esac
done
column -s, -t "$CSV"
