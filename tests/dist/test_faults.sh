#!/usr/bin/env bash
# Faults (docs/reliability.md), with the real binary:
#  1. crash and resume: the baseline (20 epochs), a QuaIL run (mimic and
#     fine-tune stages) and the blend ReLU -> HerPN (12 epochs), each SIGKILLed at 10 points (random times,
#     and the first three the moment a checkpoint write is under way), resumed
#     each time, end with bitwise the uninterrupted run's weights, buffers,
#     momentum and RNG, the same metrics rows (each once) and a readable
#     trace whose records, each once, are the uninterrupted run's;
#  2. a rank dies: mpirun -np 3, one rank SIGKILLed at 10 points (random
#     times and ranks; some inside a checkpoint write): the job ends within
#     60 s, non-zero, naming the lost rank, and the last checkpoint loads;
#     a rank that hangs (SIGSTOP) is named by the others' heartbeat within
#     --peer-timeout;
#  3. NaN gradients on one rank (SISYPHUS_FAULT_NAN_GRAD): every rank stops
#     at that step, the report names the rank, the last checkpoint loads.
# Usage: test_faults.sh path/to/sisyphus
set -u
BIN=$1
WORK=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/../support/testlib.sh"
PY=${SISYPHUS_PYTHON:-python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$PY" "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/fm" 610 100 > /dev/null
C=(--data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1 --trace-every 10)
TRAIN=(train --net lenet --dataset fashion-mnist --epochs 20 --batch-size 16 "${C[@]}")

# same RUN_A RUN_B: every checkpoint file of run A bitwise run B's (model,
# optimizer, RNG), metrics rows equal but for the timing columns and each
# once, trace records (keys and statistics) equal and each once
same() {
  "$PY" - "$WORK/ck/$1" "$WORK/ck/$2" <<'PY'
import csv, glob, os, sys
import h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
for f in sorted(glob.glob(b + "/*.h5")):
    name = os.path.basename(f)
    if name == "trace.h5":
        continue
    x, y = h5py.File(os.path.join(a, name)), h5py.File(f)
    for g in ("model", "optimizer/momentum", "rng"):
        if g in y:
            for k in y[g]:
                if not np.array_equal(x[g][k][()], y[g][k][()]):
                    sys.exit(f"{name}: {g}/{k} differs")
def rows(d):
    with open(os.path.join(d, "metrics.csv")) as f:
        return [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")} for r in csv.DictReader(f)]
ra, rb = rows(a), rows(b)
if ra != rb:
    sys.exit(f"metrics rows differ: {len(ra)} rows against {len(rb)}")
def records(d):
    r = h5py.File(os.path.join(d, "trace.h5"))["records"]
    keys = list(zip(*[r[c].asstr()[()] for c in ("stage", "phase", "mode")],  # source: the run's name
                    r["epoch"][()], r["step"][()]))
    return keys, r["max_abs"][()], r["count"][()]
(ka, ma, ca), (kb, mb, cb) = records(a), records(b)
if len(set(ka)) != len(ka):
    sys.exit(f"trace: {len(ka) - len(set(ka))} duplicate records")
if ka != kb or not np.array_equal(ma, mb) or not np.array_equal(ca, cb):
    sys.exit(f"trace records differ: {len(ka)} against {len(kb)}")
PY
}

# killed RUN N CMD...: runs CMD (with --run RUN --resume) N times, each
# SIGKILLed (another start when a run ended before its kill, up to 2N): the
# first three the moment a checkpoint write is under way (<run>/last.h5.tmp
# seen while the run lives), the others at a random time within a tenth of the
# uninterrupted run's length (after 0.3 s); then once to the end. A kill counts
# only when the process died by SIGKILL, and "write" only when the .tmp was
# seen. Runs of many short epochs, so that 10 kills fall before the end on a
# fast machine too. Prints where the kills fell.
killed() {
  local run=$1 n=$2 i kills=0 pid t where= seen st
  shift 2
  for ((i = 1; kills < n && i <= 2 * n; i++)); do
    "$BIN" "$@" --run "$run" --resume > "$WORK/$run.out" 2>&1 &
    pid=$!
    if ((kills < 3)); then
      seen=0
      while alive "$pid"; do [[ -e $WORK/ck/$run/last.h5.tmp ]] && { seen=1; break; }; sleep 0.001; done
      ((seen)) && kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null; st=$?
      ((seen && st == 137)) && { where+=" write"; kills=$((kills + 1)); }
    else
      t=$(awk -v s="$RANDOM" -v d="$DURATION" 'BEGIN {srand(s); printf "%.2f", 0.3 + rand() * d / 10}')
      sleep "$t"
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null; st=$?
      ((st == 137)) && { where+=" ${t}s"; kills=$((kills + 1)); }
    fi
  done
  "$BIN" "$@" --run "$run" --resume > "$WORK/$run.out" 2>&1 || { echo "final resume failed"; tail -3 "$WORK/$run.out"; }
  ((kills >= n)) || echo "only $kills kills: the run ended first"
  echo "$where"
}

# --- 1. crash and resume
# crash_and_resume RUN WHAT CMD...: the uninterrupted run RUN-ref (its length
# sets the random kill times), then RUN killed 10 times and resumed; same.
crash_and_resume() {
  local run=$1 what=$2 start where
  shift 2
  start=$(date +%s.%N)
  "$BIN" "$@" --run "$run-ref" > "$WORK/$run-ref.out" 2>&1 || { fail "$run: reference run"; tail -3 "$WORK/$run-ref.out"; }
  DURATION=$(echo "$(date +%s.%N) - $start" | bc)
  where=$(killed "$run" 10 "$@")
  if same "$run" "$run-ref" && [[ $where != *"only"* ]]; then
    pass "$what killed at 10 points (${where# }), resumed: bitwise equal, metrics rows and trace records once"
  else fail "$what killed at:$where"; fi
}
crash_and_resume base "baseline" "${TRAIN[@]}"
crash_and_resume q "QuaIL+AMM (10 stages)" quail --teacher "$WORK/ck/base-ref/last.h5" --amm --mimic-epochs 1 \
  --finetune-epochs 1 --batch-size 16 "${C[@]}"
crash_and_resume blend "blend ReLU -> HerPN" quail --teacher "$WORK/ck/base-ref/last.h5" --act herpn --method blend \
  --replace-epochs 12 --batch-size 16 "${C[@]}"

# --- 2. a rank dies, or hangs
ok=0; bad=; writes=0
for i in $(seq 10); do
  rm -rf "$WORK/ck/mr"
  timeout 120 mpirun -np 3 --bind-to none "$BIN" train --net lenet --dataset fashion-mnist --epochs 40 \
    --batch-size 8 "${C[@]}" --run mr > "$WORK/mr.out" 2>&1 &
  mp=$!
  while alive "$mp" && [[ ! -f $WORK/ck/mr/last.h5 ]]; do sleep 0.05; done
  victim=$((RANDOM % 3))
  ((i <= 3)) && victim=0  # rank 0 in the middle of a checkpoint write
  await_kill_moment "$WORK/ck/mr" $((i <= 3)) "$mp"
  writes=$((writes + write_seen))
  kill_rank_and_wait mr $victim "$mp" "$WORK/mr.out"
  if ((i <= 3 && !write_seen)); then
    bad+=" [kill $i: no checkpoint write seen before the run ended]"
  elif [[ $ended_ok -eq 1 ]] &&
     "$BIN" eval --checkpoint "$WORK/ck/mr/last.h5" --data-dir "$WORK/fm" > /dev/null 2>&1; then
    ok=$((ok + 1))
  else bad+=" [kill $i: rank $victim pid '$killed_pid' rc $rc after ${secs}s: $(grep -iE "rank|error" "$WORK/mr.out" | tail -2 | tr '\n' ' ')]"; fi
done
if [[ $ok -eq 10 ]]; then pass "mpirun -np 3, a rank SIGKILLed at 10 points ($writes in a checkpoint write, its .tmp seen): ended within 60 s naming it, last checkpoint loads"
else fail "rank killed: $ok of 10$bad"; fi

rm -rf "$WORK/ck/mr"
timeout 120 mpirun -np 3 --bind-to none "$BIN" train --net lenet --dataset fashion-mnist --epochs 40 \
  --batch-size 8 "${C[@]}" --run mr --peer-timeout 5 > "$WORK/mr.out" 2>&1 &
mp=$!
while alive "$mp" && [[ ! -f $WORK/ck/mr/last.h5 ]]; do sleep 0.05; done
pid=$(await_rank_pid mr 2 "$mp")
stopped_at=$(date +%s.%N)
kill -STOP "$pid"
wait "$mp"; rc=$?
secs=$(echo "$(date +%s.%N) - $stopped_at" | bc)
# The promise: --peer-timeout plus one heartbeat interval (at most 1 s) and
# the exit; asserted with a stated margin for a loaded machine: timeout + 4 s.
if [[ $rc -ne 0 && $rc -ne 124 ]] && (($(echo "$secs < 5 + 4" | bc))) && grep -q "lost rank 2 (host" "$WORK/mr.out"; then
  pass "a hung rank (SIGSTOP): the job ends after ${secs}s (bound: --peer-timeout 5 + 4 s), the others naming rank 2"
else fail "hung rank: rc $rc after ${secs}s"; grep -i "rank\|error" "$WORK/mr.out" | tail -5; fi

# --- 3. NaN gradients on one rank
rm -rf "$WORK/ck/nan"
SISYPHUS_FAULT_NAN_GRAD=1:50 timeout 120 mpirun -np 3 --bind-to none -x SISYPHUS_FAULT_NAN_GRAD "$BIN" train \
  --net lenet --dataset fashion-mnist --epochs 4 --batch-size 16 "${C[@]}" --run nan > "$WORK/nan.out" 2>&1
rc=$?
if [[ $rc -ne 0 && $rc -ne 124 ]] &&
   grep -q "the gradients became NaN or Inf at step 50 (first seen on rank 1)" "$WORK/nan.out" &&
   "$BIN" eval --checkpoint "$WORK/ck/nan/last.h5" --data-dir "$WORK/fm" > "$WORK/eval.out" 2>&1 &&
   grep -q "epoch 1" <("$PY" -c "import h5py,sys; print('epoch', h5py.File(sys.argv[1]).attrs['epoch'])" "$WORK/ck/nan/last.h5"); then
  pass "NaN gradients on rank 1 at step 50: every rank stops there, rank 1 named, the epoch-1 checkpoint loads"
else fail "NaN gradients (rc $rc)"; grep -iE "nan|error|rank" "$WORK/nan.out" | tail -5; fi

finish faults
