# Shared helpers of the bench scripts (source it after setting BENCH_LOG, the
# file each timed command's output goes to).

# timed LABEL CMD...: runs CMD, its output to $BENCH_LOG; one row "LABEL
# seconds accuracy" (wall time start to exit; the last test accuracy the
# command printed, if any). A failing CMD prints "FAILED: LABEL" and the
# log's last lines, and returns 1.
timed() {
  local s e
  s=$(date +%s.%N)
  "${@:2}" > "$BENCH_LOG" 2>&1 || { echo "FAILED: $1"; tail -5 "$BENCH_LOG"; return 1; }
  e=$(date +%s.%N)
  printf '%s %.2f %s\n' "$1" "$(echo "$e - $s" | bc)" \
    "$(grep -oE '(test accuracy [0-9.]+%|test_acc=[0-9.]+)' "$BENCH_LOG" | tail -1 | grep -oE '[0-9.]+%?$')"
}
