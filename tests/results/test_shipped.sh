#!/usr/bin/env bash
# The shipped networks of checkpoints/results/ (launch/ship_results.sh) reproduce their rows of
# checkpoints/results/results.csv on the real Fashion-MNIST test set (10,000 images): each folded
# network evaluated with a trace on one thread (launch/evaluate_folded.sh, as the study reported
# it), its accuracy, non-finite count, verdict and largest max |x| checked against its row.
# Tolerances (a CPU with other kernels, e.g. AVX-512, rounds differently): accuracy within 0.05
# points and non-finite within 5 images (on the machine that trained them: exact), the largest
# max |x| within 1% (it is written with 3 significant digits) or Inf on both sides.
# Also: every shipped file has its row and every row its file.
# Usage: test_shipped.sh <path to sisyphus>
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/tests/support/testlib.sh"
DATA=/usr/share/datasets/fashion-mnist
[[ -e $DATA/t10k-images-idx3-ubyte.gz ]] || skip_test "the real Fashion-MNIST is not installed (launch/install_deps.sh installs it)"
DIR=$ROOT/checkpoints/results
CSV=$DIR/results.csv
[[ -f $CSV ]] || { fail "no $CSV"; finish shipped; exit 1; }

for f in "$DIR"/*.h5; do
  grep -q "^$(basename "$f")," "$CSV" && pass "$(basename "$f") has its row" || fail "$(basename "$f") has no row in results.csv"
done
while IFS=, read -r file net method acc nonfinite bounded largest _; do
  [[ $file == file ]] && continue
  [[ -f $DIR/$file ]] || { fail "$file: the row's file is missing"; continue; }
  got=$(cd "$ROOT" && SISYPHUS_BIN=$BIN bash launch/evaluate_folded.sh "$DIR/$file" "$file" "$WORK/$file.trace.h5" \
    --threads 1 --data-dir "$DATA" 2> "$WORK/err") || { fail "$file: evaluation failed: $(cat "$WORK/err")"; continue; }
  read -r g_acc g_nonfinite g_bounded g_largest <<<"$got"
  if awk -v a="$acc" -v b="$g_acc" -v n="$nonfinite" -v m="$g_nonfinite" -v l="$largest" -v k="$g_largest" '
      function near(x, y) { return (x == "Inf" || y == "Inf") ? x == y : (x - y <= 0.01 * x && y - x <= 0.01 * x) }
      BEGIN { exit !((a - b) ^ 2 <= 0.05 ^ 2 && (n - m) ^ 2 <= 25 && near(l, k)) }' && [[ $bounded == "$g_bounded" ]]; then
    pass "$file ($net, $method): $g_acc% [$g_nonfinite non-finite], $g_bounded, largest max |x| $g_largest (row: $acc% [$nonfinite], $bounded, $largest)"
  else
    fail "$file ($net, $method): $g_acc% [$g_nonfinite non-finite], $g_bounded, largest max |x| $g_largest; the row says $acc% [$nonfinite], $bounded, $largest"
  fi
done < "$CSV"
finish shipped
