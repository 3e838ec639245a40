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
# finish NAME: the summary line and the exit status
finish() {
  echo "$1: $passes passed, $failures failed"
  [[ $failures -eq 0 ]]
}
