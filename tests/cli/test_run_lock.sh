#!/usr/bin/env bash
# One process per run folder (core/run_lock.h), with the real binary:
#  - two runs of one --run started together: one trains, the other stops at
#    once with one line naming the run, the holder's PID and host;
#  - --resume while the first still runs: the same line;
#  - `eval --trace <run>/trace.h5` while the run writes it: refused;
#  - the holder killed by SIGKILL: --resume takes the run over (nothing stale).
# Every step waits for its precondition (the holder's PID in <run>/.lock).
# Usage: test_run_lock.sh <path to sisyphus>
set -u
BIN=$1
WORK=$(mktemp -d)
source "$(dirname "$0")/../support/testlib.sh"
PY=${SISYPHUS_PYTHON:-python3}
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
"$PY" "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/fm" 2000 100 > /dev/null
# long enough that the holder is still training while the others come and go
C=(train --net lenet --data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --threads 1 --batch-size 16
   --epochs 200 --log-every 5)
HOST=$(hostname)

# holds RUN PID: PID is alive and is the holder that RUN's .lock names
holds() { kill -0 "$2" 2>/dev/null && grep -q "^pid=$2 " "$WORK/ck/$1/.lock" 2>/dev/null; }
# await_holder RUN PID: until `holds` (120 s at most)
await_holder() {
  for _ in $(seq 2400); do holds "$1" "$2" && return 0; sleep 0.05; done
  return 1
}

# ---- two together: exactly one holds the run, the other stops with the line
"$BIN" "${C[@]}" --run r > "$WORK/a.log" 2> "$WORK/a.err" & A=$!
"$BIN" "${C[@]}" --run r > "$WORK/b.log" 2> "$WORK/b.err" & B=$!
PIDS+=("$A" "$B")
winner=
for _ in $(seq 2400); do
  holds r "$A" && { winner=$A; loser=$B; loser_err=$WORK/b.err; break; }
  holds r "$B" && { winner=$B; loser=$A; loser_err=$WORK/a.err; break; }
  sleep 0.05
done
if [[ -n $winner ]]; then
  wait "$loser"; rc=$?
  cp "$loser_err" "$WORK/err"
  one_error "$rc" "started together: the second stops at once, naming the holder" \
    "^sisyphus: config error: run 'r' \(.*/ck/r\) is in use by process $winner on $HOST since [0-9T:-]+Z; one process per run"
  holds r "$winner" && pass "started together: the first goes on" || fail "the holder stopped"
else
  fail "started together: neither run took the lock"; tail -3 "$WORK/a.err" "$WORK/b.err"
fi

# ---- --resume while the holder runs
"$BIN" "${C[@]}" --run r --resume > "$WORK/out" 2> "$WORK/err"; rc=$?
one_error "$rc" "--resume while the run is held" "is in use by process $winner on $HOST"

# ---- eval --trace into the trace the holder writes
"$BIN" train --net lenet --data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --threads 1 --epochs 1 \
  --run done --log-every 0 > /dev/null 2>&1 || fail "a one-epoch run for eval"
"$BIN" eval --checkpoint "$WORK/ck/done/last.h5" --data-dir "$WORK/fm" --threads 1 \
  --trace "$WORK/ck/r/trace.h5" > "$WORK/out" 2> "$WORK/err"; rc=$?
one_error "$rc" "eval --trace into a live run's trace" \
  "'.*/ck/r/trace.h5' is the trace of the run in .*/ck/r, which process $winner on $HOST .*is writing"
"$BIN" eval --checkpoint "$WORK/ck/done/last.h5" --data-dir "$WORK/fm" --threads 1 \
  --trace "$WORK/ck/done/trace.h5" > "$WORK/out" 2>&1 \
  && pass "eval --trace into a finished run's trace" || { fail "eval --trace, finished run"; cat "$WORK/out"; }

# ---- the holder killed: the run is free for --resume
kill -9 "$winner"
wait "$winner" 2>/dev/null
"$BIN" "${C[@]}" --epochs 1 --run r --resume > "$WORK/out" 2>&1; rc=$?
if [[ $rc -eq 0 ]]; then
  pass "after kill -9 the run resumes (no stale lock)"
else fail "resume after kill -9 (rc $rc)"; tail -3 "$WORK/out"; fi
finish run_lock
