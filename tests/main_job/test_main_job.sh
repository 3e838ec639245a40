#!/usr/bin/env bash
# The README's main job (launch/paper_pipeline.sh) on a reduced budget: 2 MPI
# ranks, the real Fashion-MNIST cut to 3,000 training images, 1 baseline epoch,
# 1 epoch per QuaIL stage, into a temporary checkpoint folder. Checks that
# every step ran and the poster's table came out with a figure in every cell.
# Usage: test_main_job.sh <path to sisyphus>
set -u
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [[ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  [[ ${CI:-} == true ]] && { echo "FAIL (CI=true: a skipped test fails) the real Fashion-MNIST is not installed"; exit 1; }
  echo "skip: the real Fashion-MNIST is not installed (launch/install_deps.sh installs it)"; exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
CHECKPOINT_DIR=$WORK/ck SISYPHUS_BIN=$BIN timeout 600 bash "$ROOT/launch/paper_pipeline.sh" 2 --prefix ci \
  --train-limit 3000 --epochs 1 --mimic-epochs 1 --finetune-epochs 1 > "$WORK/out" 2>&1
rc=$?
failures=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi; }
check "pipeline exits 0 (rc $rc)" "[[ $rc -eq 0 ]]"
check "every step ran" "[[ \$(grep -c '^== .* [1-5]\\. ' '$WORK/out') -eq 5 ]]"
row=$(grep "^| lenet |" "$WORK/out")
check "the table's row: $row" "[[ -n '$row' ]]"
# seven cells, each a percentage (optionally with [non-finite count]) or 'escaped'
check "a figure in every cell" "echo '$row' | awk -F'|' '{ ok = NF == 9; for (i = 3; i <= 8; i++) if (\$i !~ /^ *([0-9]+\\.[0-9][0-9]( \\[[0-9]+\\])?|escaped) *$/) ok = 0; exit !ok }'"
check "results CSV has 8 fields per row" "awk -F, 'NR > 1 && NF < 8 { bad = 1 } END { exit bad }' '$WORK/ck/ci-lenet-fashion-mnist-results.csv'"
check "no mpirun warning about unset variables" "! grep -q 'could not find environment variable' '$WORK/out'"
[[ $failures -eq 0 ]] || { echo "--- output"; tail -30 "$WORK/out"; }
echo "$(( 6 - failures )) passed, $failures failed"
[[ $failures -eq 0 ]]
