#!/usr/bin/env bash
# Runs the real `sisyphus` binary on good and bad input.
# Usage: test_cli.sh <path to sisyphus>
# Every bad input must exit non-zero with exactly one line on stderr that
# names the problem; nothing may crash (exit >= 128) or hang.
set -u
BIN=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); echo "ok   $1"; }
fail() { failures=$((failures + 1)); echo "FAIL $1"; }

# expect_error NAME PATTERN CMD...: non-zero exit (< 128), one stderr line matching PATTERN
expect_error() {
  local name=$1 pattern=$2
  shift 2
  timeout 120 "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  local lines
  lines=$(grep -c . "$WORK/err")
  if [[ $rc -eq 0 || $rc -ge 124 ]]; then
    fail "$name: exit code $rc"; cat "$WORK/err"
  elif ! grep -qE -- "$pattern" "$WORK/err"; then
    fail "$name: stderr does not match '$pattern'"; cat "$WORK/err"
  elif [[ $lines -ne 1 ]]; then
    fail "$name: $lines stderr lines instead of one"; cat "$WORK/err"
  else
    pass "$name"
  fi
}

expect_ok() {
  local name=$1
  shift
  if timeout 300 "$@" >"$WORK/out" 2>"$WORK/err"; then pass "$name"; else
    fail "$name: exit $?"; cat "$WORK/err"; tail -5 "$WORK/out"; fi
}

# --- a small Fashion-MNIST-format data set, written with gzip like the real one
"${SISYPHUS_PYTHON:-python3}" "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/fm" 256 64

COMMON=(--dataset fashion-mnist --data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --threads 1 --log-every 0)

# --- bad flags and names
expect_error "unknown network" "--net: 'resnet19' is not one of" "$BIN" train --net resnet19 "${COMMON[@]}"
expect_error "unknown data set" "--dataset: 'svhn' is not one of" "$BIN" train --dataset svhn
expect_error "zero epochs" "--epochs" "$BIN" train --epochs 0 "${COMMON[@]}"
expect_error "negative epochs" "bad value for --epochs: must be at least 1" "$BIN" train --epochs -3 "${COMMON[@]}"
expect_error "batch 0" "bad value for --batch-size: must be at least 1" "$BIN" train --batch-size 0 "${COMMON[@]}"
expect_error "degree below 1" "degree must be in \[1, 20\], got 0" "$BIN" train --act poly:degree=0,range=5 "${COMMON[@]}"
expect_error "fit range 0" "fit range must be a positive number" "$BIN" train --act poly:degree=2,range=0 "${COMMON[@]}"
expect_error "learnable degree 0" "degree must be an integer between 1 and 16" "$BIN" train --act cpoly:degree=0 "${COMMON[@]}"
expect_error "negative range bound" "bad value for --range-bound: must not be negative" "$BIN" train --range-bound -1 "${COMMON[@]}"
expect_error "penalty without a bound" "need a bound > 0" "$BIN" train --range-penalty 0.1 "${COMMON[@]}"
expect_error "unknown range form" "--range-form" "$BIN" train --range-form cubic "${COMMON[@]}"
expect_error "peer timeout 0" "--peer-timeout" "$BIN" train --peer-timeout 0 "${COMMON[@]}"
expect_error "non-numeric flag" "lr" "$BIN" train --lr fast "${COMMON[@]}"
# exit codes: 2 for a command line that does not parse (as argparse), 1 for a bad value
"$BIN" train --lr fast > /dev/null 2>&1; rc_parse=$?
"$BIN" train --no-such-flag > /dev/null 2>&1; rc_unknown=$?
"$BIN" train --epochs -3 "${COMMON[@]}" > /dev/null 2>&1; rc_value=$?
if [[ $rc_parse -eq 2 && $rc_unknown -eq 2 && $rc_value -eq 1 ]]; then pass "exit codes 2 (parse) and 1 (value)"
else fail "exit codes: non-numeric $rc_parse, unknown flag $rc_unknown (want 2), bad value $rc_value (want 1)"; fi
expect_error "unknown flag" "--bogus" "$BIN" train --bogus 3
expect_error "missing subcommand" "subcommand" "$BIN"
expect_error "run name is a path" "--run" "$BIN" train --run a/b "${COMMON[@]}"
expect_error "network too deep for 28x28" "cannot take 1x28x28" "$BIN" train --net vgg16 "${COMMON[@]}"

# --- bad data
expect_error "missing data dir" "no such file" "$BIN" train --net lenet --dataset fashion-mnist --data-dir "$WORK/none" --checkpoint-dir "$WORK/ck"
mkdir -p "$WORK/trunc" && cp "$WORK/fm"/* "$WORK/trunc/"
size=$(stat -c %s "$WORK/fm/train-images-idx3-ubyte.gz")
head -c $((size / 2)) "$WORK/fm/train-images-idx3-ubyte.gz" > "$WORK/trunc/train-images-idx3-ubyte.gz"
expect_error "truncated data" "train-images-idx3-ubyte.gz" "$BIN" train --data-dir "$WORK/trunc" --checkpoint-dir "$WORK/ck"
expect_error "missing cifar" "data_batch_1.bin" "$BIN" train --net resnet20 --dataset cifar10 --data-dir "$WORK/none"
expect_error "tiny-imagenet not packed" "no such file|not a" "$BIN" train --net resnet50 --dataset tiny-imagenet --data-dir "$WORK/none.h5"
expect_error "pack-tiny missing folder" "wnids.txt" "$BIN" data pack-tiny "$WORK/none" --out "$WORK/t.h5"

# --- --help: an on/off pair reads "--augment,--no-augment", without CLI11's stored value
"$BIN" train --help > "$WORK/out" 2>&1
"$BIN" quail --help >> "$WORK/out" 2>&1
if grep -q -- "--augment,--no-augment  " "$WORK/out" && ! grep -q "{false}\|{true}" "$WORK/out"; then
  pass "--help shows on/off pairs plainly"
else fail "--help on/off pairs"; grep -- "--augment" "$WORK/out"; fi

# --- a real run, its config file, eval, resume, refusals
expect_ok "train lenet" "$BIN" train --net lenet --epochs 2 --run r1 "${COMMON[@]}"
grep -q "final: lenet on fashion-mnist test accuracy" "$WORK/out" && pass "final line" || fail "final line"
[[ -f "$WORK/ck/r1/last.h5" && -f "$WORK/ck/r1/metrics.csv" ]] && pass "run files" || fail "run files"
[[ $(wc -l < "$WORK/ck/r1/metrics.csv") -eq 3 ]] && pass "metrics rows" || fail "metrics rows"

# the printed config reads back through --config and reproduces the run
sed -n '/^\[train\]/,/^$/p' "$WORK/out" | sed 's/^run=.*/run="r2"/' > "$WORK/r2.ini"
expect_ok "train from --config" "$BIN" --config "$WORK/r2.ini" train
cmp -s <(h5dump -d /model/features.0.weight "$WORK/ck/r1/last.h5" | tail -n +3) \
       <(h5dump -d /model/features.0.weight "$WORK/ck/r2/last.h5" | tail -n +3) \
  && pass "config file reproduces weights" || fail "config file reproduces weights"

expect_ok "eval" "$BIN" eval --checkpoint "$WORK/ck/r1/last.h5" --data-dir "$WORK/fm" --threads 1
grep -qE "eval: .* test accuracy [0-9.]+% loss [0-9.]+ on 64 images, 0 non-finite" "$WORK/out" \
  && pass "eval line" || { fail "eval line"; cat "$WORK/out"; }

expect_error "overwrite refused" "--resume" "$BIN" train --net lenet --epochs 2 --run r1 "${COMMON[@]}"
expect_ok "resume to 3 epochs" "$BIN" train --net lenet --epochs 3 --run r1 --resume "${COMMON[@]}"
grep -q "resume: .* after epoch 2" "$WORK/out" && pass "resume line" || fail "resume line"
expect_error "resume other network" "holds lenet" "$BIN" train --net mlp --run r1 --resume "${COMMON[@]}"

# --- device, precision and backend settings (docs/gpu.md)
expect_error "unknown device" "--device.*'tpu'" "$BIN" train --device tpu "${COMMON[@]}"
expect_error "unknown precision" "--precision.*'fp16'" "$BIN" train --precision fp16 "${COMMON[@]}"
expect_error "bad nccl timeout" "--nccl-timeout" "$BIN" quail --teacher "$WORK/ck/r1/last.h5" --nccl-timeout 0 --checkpoint-dir "$WORK/ck"
expect_error "nccl with cpu device" "--backend nccl needs --device cuda" "$BIN" train --backend nccl --device cpu --run n0 "${COMMON[@]}"
if ! nvidia-smi -L >/dev/null 2>&1; then  # on a GPU machine these would run
  expect_error "cuda without GPU" "--device cuda: no GPU is visible" "$BIN" train --device cuda --run n1 "${COMMON[@]}"
  expect_error "nccl without GPU" "--backend nccl: no GPU is visible" "$BIN" train --backend nccl --run n2 "${COMMON[@]}"
fi
expect_ok "train bf16 channels-last" "$BIN" train --net lenet --epochs 1 --run bf --precision bf16 --channels-last \
  --device cpu "${COMMON[@]}"
grep -q "device: cpu, backend local (one process (not under mpirun)), bf16, channels-last" "$WORK/out" \
  && pass "device line" || { fail "device line"; grep "device" "$WORK/out"; }
grep -qE "final: lenet on fashion-mnist test accuracy [0-9.]+%" "$WORK/out" && pass "bf16 run finishes" || fail "bf16 run finishes"
grep -q 'precision="bf16"' "$WORK/out" && pass "precision in config text" || fail "precision in config text"

# --- bad checkpoints
echo "garbage" > "$WORK/garbage.h5"
expect_error "eval garbage" "not a readable HDF5 file" "$BIN" eval --checkpoint "$WORK/garbage.h5"
head -c 20000 "$WORK/ck/r1/last.h5" > "$WORK/trunc.h5"
expect_error "eval truncated" "trunc.h5" "$BIN" eval --checkpoint "$WORK/trunc.h5"
expect_error "eval missing" "no such file" "$BIN" eval --checkpoint "$WORK/nothing.h5"
cp "$WORK/ck/r1/last.h5" "$WORK/ck/r1/keep.h5"
head -c 20000 "$WORK/ck/r1/keep.h5" > "$WORK/ck/r1/last.h5"
expect_error "resume from truncated" "last.h5" "$BIN" train --net lenet --epochs 4 --run r1 --resume "${COMMON[@]}"
# 32 bytes flipped inside the largest weight's stored data (found with h5py:
# the file still parses): refused by the content checksum and nothing else,
# never evaluated to other accuracies or NaN outputs
"${SISYPHUS_PYTHON:-python3}" - "$WORK/ck/r1/keep.h5" "$WORK/flip.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    sets = []
    f.visititems(lambda n, o: sets.append(o) if isinstance(o, h5py.Dataset) and o.name.startswith("/model/") else None)
    big = max(sets, key=lambda d: d.nbytes)
    at = big.id.get_offset() + big.nbytes // 2
b = bytearray(open(sys.argv[1], "rb").read())
b[at:at + 32] = bytes(x ^ 0xFF for x in b[at:at + 32])
open(sys.argv[2], "wb").write(b)
PY
checksum="is damaged: its content does not match its checksum"
expect_error "eval bit-flipped" "flip.h5' $checksum" "$BIN" eval --checkpoint "$WORK/flip.h5"
cp "$WORK/flip.h5" "$WORK/ck/r1/last.h5"
expect_error "resume from bit-flipped" "last.h5' $checksum" "$BIN" train --net lenet --epochs 4 --run r1 --resume "${COMMON[@]}"
expect_error "quail from a bit-flipped teacher" "flip.h5' $checksum" "$BIN" quail --teacher "$WORK/flip.h5" --checkpoint-dir "$WORK/ck"
# A version-1 checkpoint (before content checksums) loads only once sealed
"${SISYPHUS_PYTHON:-python3}" - "$WORK/ck/r1/keep.h5" "$WORK/v1.h5" <<'PY'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    f.attrs["version"] = 1
    del f.attrs["checksum"]
PY
expect_error "eval a version-1 checkpoint" "v1.h5' is version 1 .*checkpoint seal" "$BIN" eval --checkpoint "$WORK/v1.h5"
expect_ok "checkpoint seal" "$BIN" checkpoint seal "$WORK/v1.h5"
"$BIN" eval --checkpoint "$WORK/v1.h5" > "$WORK/out" 2>&1 && "$BIN" eval --checkpoint "$WORK/ck/r1/keep.h5" > "$WORK/out2" 2>&1 &&
  [[ $(grep -o "accuracy [0-9.]*%" "$WORK/out") == $(grep -o "accuracy [0-9.]*%" "$WORK/out2") ]] &&
  pass "the sealed checkpoint loads and evaluates as the original" || { fail "sealed checkpoint"; tail -2 "$WORK/out"; }
expect_error "seal a version-2 checkpoint" "version 2: it has its checksum already" "$BIN" checkpoint seal "$WORK/v1.h5"
expect_error "seal refuses a damaged version-2 file" "flip.h5' is version 2" "$BIN" checkpoint seal "$WORK/flip.h5"
# 32 bytes flipped in the file's structure (its first kilobytes: superblock and
# object headers): refused as unreadable or damaged, one line
"${SISYPHUS_PYTHON:-python3}" - "$WORK/ck/r1/keep.h5" "$WORK/struct.h5" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[800:832] = bytes(x ^ 0xFF for x in b[800:832])
open(sys.argv[2], "wb").write(b)
PY
expect_error "eval with damaged structure" "struct.h5' is (damaged|incomplete or damaged|not a readable HDF5 file)" \
  "$BIN" eval --checkpoint "$WORK/struct.h5"
# The disk full (a file-size limit the checkpoint crosses): the write fails
# with one line naming the file, no partial file is left, the previous
# checkpoint is untouched and loads.
# A resumed run first rewrites its trace (about 90 KB here, the checkpoint
# about 400 KB): a 256 KB limit lets the trace through and stops the checkpoint.
cp "$WORK/ck/r1/keep.h5" "$WORK/ck/r1/last.h5"
cp "$WORK/ck/r1/trace.h5" "$WORK/trace-keep.h5"
expect_error "trace rewrite on a full disk" "writing trace '.*trace.h5' failed" \
  bash -c 'ulimit -f 64; exec "$@"' _ "$BIN" train --net lenet --epochs 4 --run r1 --resume "${COMMON[@]}"
if [[ ! -e $WORK/ck/r1/trace.h5.tmp ]] && cmp -s "$WORK/ck/r1/trace.h5" "$WORK/trace-keep.h5" &&
   cmp -s "$WORK/ck/r1/last.h5" "$WORK/ck/r1/keep.h5" &&
   "$BIN" trace summary "$WORK/ck/r1/trace.h5" > /dev/null 2>&1; then
  pass "after the failed trace rewrite: no partial file, trace and checkpoint intact"
else fail "after the failed trace rewrite"; ls -la "$WORK/ck/r1"; fi
expect_error "checkpoint write on a full disk" "writing checkpoint '.*last.h5' failed" \
  bash -c 'ulimit -f 256; exec "$@"' _ "$BIN" train --net lenet --epochs 4 --run r1 --resume "${COMMON[@]}"
if [[ ! -e $WORK/ck/r1/last.h5.tmp ]] && cmp -s "$WORK/ck/r1/last.h5" "$WORK/ck/r1/keep.h5" &&
   "$BIN" eval --checkpoint "$WORK/ck/r1/last.h5" > /dev/null 2>&1; then
  pass "after the failed write: no partial file, the previous checkpoint intact and loading"
else fail "after the failed write"; ls -la "$WORK/ck/r1"; fi

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
