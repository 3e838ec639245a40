#!/usr/bin/env bash
# A trace writer SIGKILLed before each of its file-system calls in turn leaves
# a readable trace (docs/trace-format.md, "A killed writer"):
#   - strace's fault injection kills the writer (tests/trace/trace_kill_driver)
#     on entering the n-th call of one kind (pwrite64, rename, ...), for every
#     kind and every n until a run ends unkilled: every state a kill can
#     leave, as a resumed run (appending to a file of 3 records) and as a new
#     run (no file yet);
#   - after each kill the file reads (`sisyphus trace`'s reader), holding the
#     records it had plus the new ones whole, each once, in order (or, for a
#     new run, no file at all), and h5py with swmr=True reads it too;
#   - a resume after each kill (the writer again, appending, dropping what
#     the killed one wrote) ends with exactly the uninterrupted run's records.
# Usage: test_trace_kills.sh path/to/trace_kill_driver
set -u
D=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
source "$(dirname "$0")/../support/testlib.sh"
PY=${SISYPHUS_PYTHON:-python3}

command -v strace > /dev/null || { fail "strace is not installed (launch/install_deps.sh installs it)"; finish trace_kills; exit; }
(strace -qq -o /dev/null -e trace=openat -e inject=openat:signal=KILL:when=1 true 2> "$WORK/err"; exit $?) 2> /dev/null
[[ $? -eq 137 ]] || { fail "strace cannot kill a traced process here: $(head -1 "$WORK/err")"; finish trace_kills; exit; }

# The calls that change files: a kill before each one leaves every state.
CALLS=(openat pwrite64 pwritev write ftruncate rename renameat renameat2 unlink unlinkat)
mkdir -p "$WORK/states"

# kills NAME PREP WANT_KILLED WANT_RESUMED ARGS...: for each call kind and
# each n, PREP (a shell command making $WORK/t.h5's starting state), the
# driver `write $WORK/t.h5 ARGS...` killed at the n-th call, the file checked
# (its steps one of WANT_KILLED, a |-separated list; "none": no file), then
# resumed (write 1 2 --append --drop-after 3 for the resume case, as given by
# RESUME) and checked to be WANT_RESUMED.
kills() {
  local name=$1 prep=$2 want_killed=$3 resume=$4 want_resumed=$5 call n rc got total=0 bad= nbad=0 was
  shift 5
  for call in "${CALLS[@]}"; do
    for ((n = 1; ; n++)); do
      eval "$prep"
      (strace -qq -o /dev/null -e trace="$call" -e inject="$call":signal=KILL:when=$n \
        "$D" write "$WORK/t.h5" "$@" > /dev/null 2> "$WORK/err"; exit $?) 2> /dev/null  # no "Killed" line
      rc=$?
      ((rc == 0)) && break  # fewer than n calls of this kind: all its points done
      if ((rc != 137)); then bad+=" [$call #$n: the writer failed, rc $rc: $(head -1 "$WORK/err")]"; break; fi
      total=$((total + 1))
      was=${#bad}
      if [[ -e $WORK/t.h5 ]]; then
        got=$("$D" check "$WORK/t.h5" 2>&1)
        cp "$WORK/t.h5" "$WORK/states/$name-$call-$n.h5"
      else got=none; fi
      [[ "|$want_killed|" == *"|$got|"* ]] || bad+=" [$call #$n: killed: '$got']"
      "$D" write "$WORK/t.h5" $resume > /dev/null 2> "$WORK/err" || bad+=" [$call #$n: resume: $(head -1 "$WORK/err")]"
      got=$("$D" check "$WORK/t.h5" 2>&1)
      [[ $got == "$want_resumed" ]] || bad+=" [$call #$n: resumed: '$got']"
      ((${#bad} > was)) && nbad=$((nbad + 1))
    done
  done
  if [[ -z $bad ]] && ((total > 20)); then
    pass "$name: writer killed at each of its $total file-system calls; the trace reads every time, a resume ends with the whole run's records"
  else fail "$name: wrong at $nbad of $total kill points:${bad:0:2000}"; fi
}

"$D" write "$WORK/base.h5" 1 3 || fail "writing the first run's trace"
kills resumed "cp '$WORK/base.h5' '$WORK/t.h5'; rm -f '$WORK/t.h5.tmp'" \
  "steps: 1 2 3|steps: 1 2 3 4|steps: 1 2 3 4 5" "4 2 --append --drop-after 3" "steps: 1 2 3 4 5" \
  4 2 --append --drop-after 3
kills new "rm -f '$WORK/t.h5' '$WORK/t.h5.tmp'" \
  "none|steps:|steps: 1|steps: 1 2" "1 2 --append --drop-after 0" "steps: 1 2" \
  1 2 --append --drop-after 0

# h5py (a user's reader) opens every state a kill left: as the format doc
# says, plainly, or with swmr=True where the writer was killed holding it.
if out=$("$PY" - "$WORK/states" <<'PY' 2>&1
import glob, sys
import h5py
bad, n = [], 0
for f in sorted(glob.glob(sys.argv[1] + "/*.h5")):
    n += 1
    errors = []
    for swmr in (False, True):
        try:
            with h5py.File(f, "r", swmr=swmr) as h:
                c = int(h.attrs["committed_records"])
                steps = h["records/step"][:c]
                if len(steps) != c:
                    errors.append(f"{len(steps)} rows for {c} committed records")
                break
        except Exception as e:
            errors.append(f"swmr={swmr}: {e}")
    else:
        bad.append(f"{f}: {'; '.join(errors)}")
print(f"{n} files")
if bad:
    sys.exit("\n".join(bad[:5]))
PY
); then pass "h5py reads every state a kill left, plainly or with swmr=True ($out)"
else fail "h5py: ${out:0:1500}"; fi

finish trace_kills
