#!/usr/bin/env bash
# Preemption-safe runs (core/stop_signal.h) with real `mpirun` runs of the real binary:
#  - SIGUSR1 to mpirun (which forwards it, as a batch script does for Slurm's
#    --signal=B:USR1@T) stops both ranks of a baseline run inside an epoch: exit
#    75, a mid-epoch checkpoint; --resume ends bitwise equal to an
#    uninterrupted run (weights, momentum, RNG) with the same metrics rows
#    (time columns aside);
#  - SIGUSR1 to one rank only: the ranks agree and stop at the same step (one
#    checkpoint that resumes bitwise);
#  - SIGTERM to every rank (Slurm's preemption, scancel, scontrol requeue)
#    inside a QuaIL+AMM mimic stage: resumed, every stage file bitwise equal;
#  - a blend replacement run (its weight moves every step) stopped and
#    resumed in one process: bitwise equal.
# Usage: test_preempt.sh <path to sisyphus>
set -u
BIN=$1
WORK=$(mktemp -d)
source "$(dirname "$0")/../support/testlib.sh"
PY=${SISYPHUS_PYTHON:-python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=(mpirun --oversubscribe --bind-to none)
BG=
trap '[[ -n $BG ]] && kill -9 $BG 2>/dev/null; rm -rf "$WORK"' EXIT

"$PY" "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/fm" 3000 200 > /dev/null
C=(--data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --threads 1 --batch-size 16)  # quail: the teacher's data set

# start_bg LOG CMD...: runs CMD in the background (BG: its PID), output to LOG
start_bg() { local log=$1; shift; "$@" > "$log" 2>&1 & BG=$!; }
# wait_for LOG PATTERN: until LOG holds PATTERN (60 s at most)
wait_for() {
  for _ in $(seq 1200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1"; return 1
}
# end_bg: the background command's exit status (killed after 120 s)
end_bg() {
  local rc
  ( sleep 120; kill -9 "$BG" 2>/dev/null ) & local guard=$!
  wait "$BG"; rc=$?
  kill "$guard" 2>/dev/null; BG=
  return $rc
}
# same_state A.h5 B.h5 [metrics A] [metrics B]: model, optimizer state and RNG
# bitwise equal; the metrics rows equal but for images_per_s and elapsed_s
same_state() {
  "$PY" - "$@" <<'PY'
import csv, sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
for group in ("model", "optimizer", "rng"):
    names = []
    b[group].visit(lambda n: names.append(n) if isinstance(b[group][n], h5py.Dataset) else None)
    for n in names:
        if not np.array_equal(a[group][n][()], b[group][n][()]):
            sys.exit(f"{group}/{n} differs")
for k in ("epoch", "step", "train_loss", "test_acc", "epoch_step"):
    if not np.array_equal(a.attrs[k], b.attrs[k], equal_nan=True):
        sys.exit(f"attribute {k}: {a.attrs[k]} vs {b.attrs[k]}")
if len(sys.argv) > 3:
    rows = [[{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")}
             for r in csv.DictReader(open(f))] for f in sys.argv[3:5]]
    if rows[0] != rows[1] or not rows[0]:
        sys.exit(f"metrics differ:\n{rows[0]}\n{rows[1]}")
PY
}
epoch_step() { "$PY" -c "import h5py,sys; print(h5py.File(sys.argv[1]).attrs['epoch_step'])" "$1"; }

# ---------------------------------------------------------------- baseline, SIGUSR1 to mpirun
T=(train --net lenet --dataset fashion-mnist --epochs 2 "${C[@]}")
"${MPIRUN[@]}" -np 2 "$BIN" "${T[@]}" --run ref --log-every 0 > "$WORK/ref.out" 2>&1 \
  || { fail "uninterrupted baseline"; tail -5 "$WORK/ref.out"; }
start_bg "$WORK/pre.out" "${MPIRUN[@]}" -np 2 "$BIN" "${T[@]}" --run pre --log-every 1
wait_for "$WORK/pre.out" "epoch 1/2 step 40/" && kill -USR1 "$BG"
end_bg; rc=$?
k=$(epoch_step "$WORK/ck/pre/last.h5" 2>/dev/null)
if [[ $rc -eq 75 && ${k:-0} -gt 0 ]] &&
   grep -q "stopped on SIGUSR1 at epoch 1 step $k; the state is in" "$WORK/pre.out"; then
  pass "SIGUSR1 to mpirun: both ranks stop at epoch 1 step $k, exit 75"
else fail "SIGUSR1 to mpirun (rc $rc, epoch_step ${k:-none})"; tail -5 "$WORK/pre.out"; fi
"${MPIRUN[@]}" -np 2 "$BIN" "${T[@]}" --run pre --resume --log-every 0 > "$WORK/pre2.out" 2>&1
rc=$?
if [[ $rc -eq 0 ]] && grep -q "resume: .* after epoch 0 and $k steps of the next" "$WORK/pre2.out" &&
   same_state "$WORK/ck/pre/last.h5" "$WORK/ck/ref/last.h5" "$WORK/ck/pre/metrics.csv" "$WORK/ck/ref/metrics.csv"; then
  pass "resumed from the mid-epoch checkpoint: bitwise the uninterrupted run, same metrics rows"
else fail "resume after SIGUSR1 (rc $rc)"; tail -5 "$WORK/pre2.out"; fi

# ---------------------------------------------------------------- one rank only
start_bg "$WORK/one.out" "${MPIRUN[@]}" -np 2 "$BIN" "${T[@]}" --run one --log-every 1
wait_for "$WORK/one.out" "epoch 1/2 step 20/" && kill -USR1 "$(pgrep -P "$BG" | tail -1)"
end_bg; rc=$?
k=$(epoch_step "$WORK/ck/one/last.h5" 2>/dev/null)
if [[ $rc -eq 75 && ${k:-0} -gt 0 ]] && grep -q "stopped on .* at epoch 1 step $k;" "$WORK/one.out"; then
  pass "SIGUSR1 to one rank: both ranks stop at step $k"
else fail "SIGUSR1 to one rank (rc $rc)"; tail -5 "$WORK/one.out"; fi
"${MPIRUN[@]}" -np 2 "$BIN" "${T[@]}" --run one --resume --log-every 0 > "$WORK/one2.out" 2>&1 &&
  same_state "$WORK/ck/one/last.h5" "$WORK/ck/ref/last.h5" \
  && pass "...and resumed bitwise" || { fail "resume after one rank's signal"; tail -5 "$WORK/one2.out"; }

# ---------------------------------------------------------------- QuaIL+AMM, SIGTERM to every rank
Q=(quail --teacher "$WORK/ck/ref/last.h5" --amm --mimic-epochs 1 --finetune-epochs 1
   --train-limit 1000 "${C[@]}")
"${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --run qref --log-every 0 > "$WORK/qref.out" 2>&1 \
  || { fail "uninterrupted QuaIL"; tail -5 "$WORK/qref.out"; }
start_bg "$WORK/q.out" "${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --run q --log-every 1
wait_for "$WORK/q.out" "\[mimic-02\] epoch 1/1 step 30/" && pkill -TERM -P "$BG"
end_bg; rc=$?
if [[ $rc -eq 75 ]] && grep -q "stopped on SIGTERM at mimic-02 epoch 1 step" "$WORK/q.out" &&
   [[ ! -f $WORK/ck/q/mimic-02.h5 ]]; then
  pass "SIGTERM to every rank inside mimic-02: exit 75, no stage file for the unfinished stage"
else fail "SIGTERM in a QuaIL stage (rc $rc)"; tail -5 "$WORK/q.out"; fi
"${MPIRUN[@]}" -np 2 "$BIN" "${Q[@]}" --run q --resume --log-every 0 > "$WORK/q2.out" 2>&1
rc=$?
ok=1
for f in "$WORK"/ck/qref/*-0*.h5; do
  same_state "$WORK/ck/q/$(basename "$f")" "$f" || { ok=0; echo "differs: $(basename "$f")"; }
done
if [[ $rc -eq 0 && $ok -eq 1 ]] && grep -q "resume: .* after mimic-02 epoch 0 and" "$WORK/q2.out" &&
   same_state "$WORK/ck/q/last.h5" "$WORK/ck/qref/last.h5" "$WORK/ck/q/metrics.csv" "$WORK/ck/qref/metrics.csv"; then
  pass "QuaIL resumed inside mimic-02: every stage file bitwise the uninterrupted run's, same metrics rows"
else fail "QuaIL resume after SIGTERM (rc $rc)"; tail -5 "$WORK/q2.out"; fi

# ---------------------------------------------------------------- blend replacement, one process
BL=(quail --teacher "$WORK/ck/ref/last.h5" --act herpn --method blend --replace-epochs 2
    --train-limit 1000 "${C[@]}")
"$BIN" "${BL[@]}" --run bref --log-every 0 > "$WORK/bref.out" 2>&1 || { fail "uninterrupted blend"; tail -5 "$WORK/bref.out"; }
start_bg "$WORK/b.out" "$BIN" "${BL[@]}" --run b --log-every 1
wait_for "$WORK/b.out" "epoch 1/2 step 25/" && kill -USR1 "$BG"
end_bg; rc=$?
"$BIN" "${BL[@]}" --run b --resume --log-every 0 > "$WORK/b2.out" 2>&1
rc2=$?
if [[ $rc -eq 75 && $rc2 -eq 0 ]] && same_state "$WORK/ck/b/blend.h5" "$WORK/ck/bref/blend.h5" \
     "$WORK/ck/b/metrics.csv" "$WORK/ck/bref/metrics.csv"; then
  pass "blend stopped mid-epoch (its weight mid-rise) and resumed: bitwise equal"
else fail "blend stop/resume (rc $rc, $rc2)"; tail -n 3 "$WORK/b.out" "$WORK/b2.out"; fi

finish "preempt"
