#!/usr/bin/env bash
# One fuzz run of a libFuzzer target from its kept corpus:
#   run_fuzz.sh <fuzz target> <corpus folder> <seconds> [<folder for new inputs>]
# New inputs go to the fourth argument (default: a scratch folder, so the kept
# corpus is only read). A finding (a crash, an exception other than
# sisyphus::Error, a sanitizer report, a leak, a 60 s input, 4 GiB of memory)
# fails the run: the log's end and the input are printed, and the input is
# kept in $FUZZ_FINDINGS (default: ./fuzz-findings).
set -u
BIN=$1
CORPUS=$2
SECS=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
NEW=${4:-$WORK/new}
mkdir -p "$NEW" "$WORK/art"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(dirname "$0")/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
name=$(basename "$BIN")
"$BIN" -max_total_time="$SECS" -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$WORK/art/" "$NEW" "$CORPUS" >"$WORK/log" 2>&1
rc=$?
# The numbers the docs record. A reader's first pass runs in a forked child
# (core/child_probe.h): a child that crashes prints its own stats first, so
# the parent's are the last ones.
for stat in number_of_executed_units average_exec_per_sec new_units_added peak_rss_mb; do
  grep -E "^stat::$stat:" "$WORK/log" | tail -1 | sed "s/^/$name /"
done
grep -E "^#[0-9]+ +DONE" "$WORK/log" | tail -1 | sed "s/^/$name /"
if [[ $rc -ne 0 ]]; then
  echo "$name: FINDING (exit $rc); the end of its log:"
  tail -60 "$WORK/log"
  keep=${FUZZ_FINDINGS:-$PWD/fuzz-findings}
  mkdir -p "$keep"
  for f in "$WORK"/art/*; do
    [[ -e $f ]] || continue
    cp "$f" "$keep/$name-$(basename "$f")"
    echo "input kept as $keep/$name-$(basename "$f"); its first bytes:"
    head -c 256 "$f" | od -A d -t x1 | head -20
  done
  exit 1
fi
# Inputs that crashed a reader's first pass in its child process
# (refused cleanly by the parent) leave artifacts too: kept for the record.
if compgen -G "$WORK/art/*" >/dev/null && [[ -n ${FUZZ_FINDINGS:-} ]]; then
  mkdir -p "$FUZZ_FINDINGS/handled"
  for f in "$WORK"/art/*; do cp "$f" "$FUZZ_FINDINGS/handled/$name-$(basename "$f")"; done
  echo "$name: $(ls "$WORK"/art | wc -l) input(s) crashed a child read (refused cleanly): $FUZZ_FINDINGS/handled"
fi
echo "$name: no finding in $SECS s"
