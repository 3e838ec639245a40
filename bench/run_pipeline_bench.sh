#!/usr/bin/env bash
# Whole runs, side by side: sisyphus (`train`, then `quail --amm`, with its
# default evaluation, checkpoints and traces) against the same runs in Python
# PyTorch as the paper's code runs them (bench/reference_pipeline.py:
# torchvision dataset and DataLoader, a test pass after every baseline epoch,
# QuaIL stages with a teacher forward). Also sisyphus with traces off, for
# what traces cost. Alternating, repeated; wall time of each process (start
# to exit). One thread everywhere; run it on a quiet machine.
#   bench/run_pipeline_bench.sh [REPS] [NET:TRAIN_LIMIT:TEST_LIMIT:EPOCHS[:QUAIL_TRAIN_LIMIT] ...]
# TEST_LIMIT 0: the whole test set (10,000 images, evaluated after every baseline
# epoch, as the paper's code does: what a user meets). QUAIL_TRAIN_LIMIT: the
# training images of the QuaIL run (1 epoch per stage; default TRAIN_LIMIT; 0: no
# QuaIL run). default: 2 lenet:20000:0:2 resnet20:6000:0:5:1000
# PY_ALLOC=/path/libtcmalloc_minimal.so.4: also the Python pipeline with that
# allocator preloaded (LD_PRELOAD; rows "python-alloc"), what the sisyphus
# binary links where tcmalloc is installed: the share of the ratio that is the
# allocator's.
# EXTRA_FLAGS="--channels-last" (say): also sisyphus with those flags, traced
# (rows "sisyphus-extra"). NOTRACE=0: no untraced sisyphus rows (their
# difference to the traced rows is inside this VM's spread; the traced run's
# own trace seconds are the figure).
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/env.sh
REPS=${1:-2}
shift || true
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=(lenet:20000:0:2 resnet20:6000:0:5:1000)
BIN=${SISYPHUS_BIN:-build/src/sisyphus}
PY=${SISYPHUS_PYTHON:-python3}
DATA=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

BENCH_LOG=$WORK/last.log
source bench/lib.sh  # timed

# The seconds the traced run itself measured on its trace (the last epoch
# line's "| trace X s": statistics, reductions, writes), as a row
# "NET trace-seconds STAGE X": the trace's cost without the noise of two runs.
trace_seconds() {
  local t
  t=$(grep -oE '\| trace [0-9.]+ s' "$BENCH_LOG" | tail -1 | grep -oE '[0-9.]+' || true)
  [[ -n $t ]] && echo "$1 trace-seconds $2 $t"
  return 0
}

for c in "${CASES[@]}"; do
  IFS=: read -r NET TRAIN TEST EPOCHS QTRAIN <<< "$c"
  QTRAIN=${QTRAIN:-$TRAIN}
  L=(--train-limit "$TRAIN" --test-limit "$TEST")
  QL=(--train-limit "$QTRAIN" --test-limit "$TEST")
  for rep in $(seq "$REPS"); do
    d=$WORK/$NET-$rep
    S=(--net "$NET" --data-dir "$DATA" --threads 1 --log-every 0 "${L[@]}" --checkpoint-dir "$d")
    Q=(--data-dir "$DATA" --threads 1 --log-every 0 "${QL[@]}" --checkpoint-dir "$d" --amm --mimic-epochs 1 --finetune-epochs 1)
    timed "$NET sisyphus baseline" "$BIN" train "${S[@]}" --epochs "$EPOCHS" --run t
    trace_seconds "$NET" baseline
    timed "$NET python baseline" "$PY" bench/reference_pipeline.py --stage baseline --net "$NET" --data-dir "$DATA" "${L[@]}" --epochs "$EPOCHS" --out "$d/t.pt"
    [[ ${NOTRACE:-1} == 0 ]] || timed "$NET sisyphus-notrace baseline" "$BIN" train "${S[@]}" --epochs "$EPOCHS" --run tn --trace-every 0 --no-trace-test
    # shellcheck disable=SC2086  # EXTRA_FLAGS is a list of flags
    [[ -z ${EXTRA_FLAGS:-} ]] || timed "$NET sisyphus-extra baseline" "$BIN" train "${S[@]}" --epochs "$EPOCHS" --run tx $EXTRA_FLAGS
    if [[ -n ${PY_ALLOC:-} ]]; then timed "$NET python-alloc baseline" env LD_PRELOAD="$PY_ALLOC" "$PY" bench/reference_pipeline.py --stage baseline --net "$NET" --data-dir "$DATA" "${L[@]}" --epochs "$EPOCHS" --out "$d/ta.pt"; fi
    [[ $QTRAIN == 0 ]] && continue
    timed "$NET sisyphus quail" "$BIN" quail "${Q[@]}" --teacher "$d/t/last.h5" --run q
    trace_seconds "$NET" quail
    timed "$NET python quail" "$PY" bench/reference_pipeline.py --stage quail --net "$NET" --data-dir "$DATA" "${QL[@]}" --teacher "$d/t.pt" --out "$d/pq"
    [[ ${NOTRACE:-1} == 0 ]] || timed "$NET sisyphus-notrace quail" "$BIN" quail "${Q[@]}" --teacher "$d/t/last.h5" --run qn --trace-every 0 --no-trace-test
    # shellcheck disable=SC2086
    [[ -z ${EXTRA_FLAGS:-} ]] || timed "$NET sisyphus-extra quail" "$BIN" quail "${Q[@]}" --teacher "$d/t/last.h5" --run qx $EXTRA_FLAGS
    if [[ -n ${PY_ALLOC:-} ]]; then timed "$NET python-alloc quail" env LD_PRELOAD="$PY_ALLOC" "$PY" bench/reference_pipeline.py --stage quail --net "$NET" --data-dir "$DATA" "${QL[@]}" --teacher "$d/t.pt" --out "$d/pqa"; fi
  done
done | tee "$WORK/rows"
echo "medians (seconds), and sisyphus's speed relative to Python (python seconds / sisyphus seconds):"
"$PY" - "$WORK/rows" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 4 and p[0] != "FAILED":
        rows.setdefault((p[0], p[2]), {}).setdefault(p[1], []).append(float(p[3]))
for (net, stage), by in rows.items():
    m = {k: statistics.median(v) for k, v in by.items()}
    print(f"{net} {stage}: sisyphus {m['sisyphus']:.1f} s, python {m['python']:.1f} s -> {m['python'] / m['sisyphus']:.2f}x; "
          f"runs {len(by['sisyphus'])}")
    if "sisyphus-notrace" in m:
        print(f"  traces cost {100 * (m['sisyphus'] - m['sisyphus-notrace']) / m['sisyphus']:+.1f}% of the run "
              f"(without: {m['sisyphus-notrace']:.1f} s)")
    if "trace-seconds" in m:
        print(f"  the traced run's own trace time: {m['trace-seconds']:.2f} s, "
              f"{100 * m['trace-seconds'] / m['sisyphus']:.1f}% of the run")
    if "sisyphus-extra" in m:
        print(f"  sisyphus with EXTRA_FLAGS {m['sisyphus-extra']:.1f} s -> {m['python'] / m['sisyphus-extra']:.2f}x")
    if "python-alloc" in m:
        print(f"  python with PY_ALLOC {m['python-alloc']:.1f} s -> sisyphus {m['python-alloc'] / m['sisyphus']:.2f}x")
PY
