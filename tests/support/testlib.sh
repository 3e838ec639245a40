# Shared helpers of the shell tests that run the real binary (source it).
# Expects WORK (a scratch folder) to be set; counts passes and failures.
failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok   $1"; }
fail() { failures=$((failures + 1)); echo "FAIL $1"; }
# one_error RC NAME PATTERN: the command exited 1..123 and wrote exactly one
# line to $WORK/err, matching PATTERN.
one_error() {
  local rc=$1 name=$2 pattern=$3
  if [[ $rc -ne 0 && $rc -lt 124 && $(grep -c . "$WORK/err") -eq 1 ]] && grep -qE -- "$pattern" "$WORK/err"; then
    pass "$name"
  else fail "$name (rc $rc)"; cat "$WORK/err"; fi
}
# skip_test REASON: a test that cannot run here reports a skip (exit 77,
# ctest's SKIP_RETURN_CODE), except with CI=true, where a skip fails the run
# naming what was missing: CI must not report an untested claim as tested.
skip_test() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL (CI=true: a skipped test fails) $1"; exit 1
  fi
  echo "skip: $1"; exit 77
}
# finish NAME: the summary line and the exit status
finish() {
  echo "$1: $passes passed, $failures failed"
  [[ $failures -eq 0 ]]
}

# rank_pid RUN RANK: the pid of that MPI rank of the `sisyphus ... --run RUN`
# processes (read from each one's environment; any host, one PID namespace).
rank_pid() {
  local p
  for p in $(pgrep -f "sisyphus (train|quail).*--run $1( |$)"); do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
  done
}

# alive PID: the process runs (not ended, not a zombie left to reap)
alive() {
  local st
  read -r _ _ st _ < "/proc/$1/stat" 2>/dev/null || return 1
  [[ $st != Z && $st != X ]]
}

# await_kill_moment DIR MID_WRITE WATCH_PID: the moment to kill a rank of a run
# writing DIR/last.h5: with MID_WRITE 1, while a checkpoint write is under way
# (DIR/last.h5.tmp seen, polled while WATCH_PID lives; write_seen=1 then);
# else after a random 0-2 s (write_seen=0).
await_kill_moment() {
  local dir=$1 mid_write=$2 watch=$3
  write_seen=0
  if ((mid_write)); then
    while alive "$watch"; do [[ -e $dir/last.h5.tmp ]] && { write_seen=1; break; }; sleep 0.001; done
  else
    sleep "$(awk -v s="$RANDOM" 'BEGIN {srand(s); printf "%.2f", rand() * 2}')"
  fi
}

# await_rank_pid RUN RANK WATCH_PID: the rank's PID (printed) once it runs,
# polled while WATCH_PID (its mpirun) lives: a kill never goes out before the
# test knows whom it kills.
await_rank_pid() {
  local p
  while alive "$3"; do
    p=$(rank_pid "$1" "$2")
    [[ -n $p ]] && { echo "$p"; return; }
    sleep 0.05
  done
}

# kill_rank_and_wait RUN RANK MPIRUN_PID OUT: SIGKILLs that rank, waits for
# mpirun; sets killed_pid, rc and secs (kill to mpirun's end), and ended_ok=1
# when the job ended non-zero (not by timeout) within 60 s with OUT naming
# the rank (mpirun's notice or the heartbeat's "lost rank").
kill_rank_and_wait() {
  killed_pid=$(await_rank_pid "$1" "$2" "$3")
  local at
  at=$(date +%s.%N)
  [[ -n $killed_pid ]] && kill -9 "$killed_pid" 2>/dev/null
  wait "$3"; rc=$?
  secs=$(echo "$(date +%s.%N) - $at" | bc)
  ended_ok=0
  if [[ -n $killed_pid && $rc -ne 0 && $rc -ne 124 ]] && (($(echo "$secs < 60" | bc))) &&
     grep -qE "rank $2 (with PID|\[)|process rank $2 |lost rank $2 " "$4"; then ended_ok=1; fi
}
