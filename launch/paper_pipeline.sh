#!/usr/bin/env bash
# The paper's pipeline with N MPI ranks (default 2) on Fashion-MNIST (or --dataset):
#   ReLU baseline -> drop-in x/2 and fitted-polynomial evaluation -> QuaIL
#   (Quad) -> QuaIL+AMM -> evaluation with AMM and with true min/max (MM)
# and the poster's table. Every step resumes or reuses what an earlier
# invocation finished, so re-running only prints the table again.
#   launch/paper_pipeline.sh [NRANKS] [--net NAME] [--train-limit N] [--epochs E] [--prefix P]
#                            [--mimic-epochs M] [--finetune-epochs F]   (default: configs/main_quail.ini)
#                            [--dataset D] [--data-dir DIR] [--quail-config FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
NP=2
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then NP=$1; shift; fi
NET=lenet; LIMIT=0; EPOCHS=5; PREFIX=main; DATASET=fashion-mnist; QCONFIG=configs/main_quail.ini
DATA=()
STAGES=()
while (($#)); do
  case $1 in
    --mimic-epochs|--finetune-epochs) STAGES+=("$1" "$2"); shift 2 ;;
    --net) NET=$2; shift 2 ;;
    --train-limit) LIMIT=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --dataset) DATASET=$2; shift 2 ;;
    --data-dir) DATA=(--data-dir "$2"); shift 2 ;;
    --quail-config) QCONFIG=$2; shift 2 ;;
    *) echo "paper_pipeline.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${SISYPHUS_BIN:-build/src/sisyphus}      # the tests point these elsewhere
CK=${CHECKPOINT_DIR:-checkpoints}
RUN=$PREFIX-$NET-$DATASET
RESULTS=$CK/$RUN-results.csv
THREADS=$(( $(nproc) / NP > 0 ? $(nproc) / NP : 1 ))
source launch/env.sh
mapfile -t FWD < <(mpi_forward PATH LD_LIBRARY_PATH)
MPI=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$NP" "${FWD[@]}")
log() { echo "== $(date +%H:%M:%S) $*"; }

log "1. ReLU baseline ($NET, $EPOCHS epochs, $NP ranks)"
DATASET_FLAGS=(--dataset "$DATASET")
[[ $DATASET == fashion-mnist && ${#DATA[@]} -eq 0 ]] || DATASET_FLAGS+=(--data-dir "")  # not the config's folder
"${MPI[@]}" "$BIN" --config configs/main_job.ini train --net "$NET" "${DATASET_FLAGS[@]}" ${DATA[@]+"${DATA[@]}"} \
  --epochs "$EPOCHS" --run "$RUN" --checkpoint-dir "$CK" --train-limit "$LIMIT" --threads "$THREADS" --resume
TEACHER=$CK/$RUN/last.h5
rm -f "$RESULTS"
evaluate() {  # LABEL CHECKPOINT [eval flags]
  local label=$1 ckpt=$2; shift 2
  "${MPI[@]}" "$BIN" eval --checkpoint "$ckpt" ${DATA[@]+"${DATA[@]}"} --threads "$THREADS" --result-file "$RESULTS" \
    --label "$label" "$@"
}
evaluate relu "$TEACHER"

log "2. drop-in replacements of ReLU (no retraining)"
evaluate taylor "$TEACHER" --act taylor
for fit in 2:5 2:10 4:10; do  # degree:range
  evaluate "poly-d${fit%:*}-a${fit#*:}" "$TEACHER" --act "poly:degree=${fit%:*},range=${fit#*:}"
done

quail() {  # RUN [quail flags]
  local run=$1; shift
  "${MPI[@]}" "$BIN" --config "$QCONFIG" quail --teacher "$TEACHER" --run "$run" --checkpoint-dir "$CK" \
    ${DATA[@]+"${DATA[@]}"} --train-limit "$LIMIT" --threads "$THREADS" --resume ${STAGES[@]+"${STAGES[@]}"} "$@"
}
final() {  # RUN: the last stage's file, or nothing when the run escaped
  local f=$CK/$1/finetune-00.h5
  [[ -e $CK/$1/escaped.txt || ! -e $f ]] || echo "$f"
}
log "3. QuaIL with Quad"
quail "$RUN-quail" --act quad
if f=$(final "$RUN-quail") && [[ -n "$f" ]]; then evaluate quail "$f"; else echo "quail,escaped,-,-,nan,0,0,nan" >> "$RESULTS"; fi

log "4. QuaIL with AMM + Quad"
quail "$RUN-quail-amm" --act quad --amm
if f=$(final "$RUN-quail-amm") && [[ -n "$f" ]]; then
  log "5. QuaIL+AMM evaluated with running min/max (AMM) and true min/max (MM)"
  evaluate quail+amm "$f" --amm-mode amm
  evaluate quail+mm "$f" --amm-mode mm
  evaluate quail+biggest "$f" --amm-mode biggest   # the reference code's mode 0 (in the CSV)
  evaluate quail+extreme "$f" --amm-mode extreme
else
  echo "quail+amm,escaped,-,-,nan,0,0,nan" >> "$RESULTS"
fi

log "results ($RESULTS): test accuracy %, [non-finite outputs]"
bash launch/paper_table.sh "$NET=$RESULTS"
