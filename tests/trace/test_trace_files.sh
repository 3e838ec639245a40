#!/usr/bin/env bash
# Trace and checkpoint files with the real binary and Python's h5py/PyTorch.
# Usage: test_trace_files.sh <path to sisyphus>
#  - a trace read while the run writes it (SWMR): h5py (swmr=True), `trace
#    summary` and `trace watch` (which follows it to the run's end);
#  - a run killed (SIGKILL) mid-way leaves a readable trace (h5py swmr=True,
#    `trace summary`; `trace watch` ends naming the lost writer; a resumed run
#    rewrites it so that plain readers and h5dump read it again);
#  - h5py reads trace and checkpoint; the values are consistent;
#  - h5dump -H shows the documented structure;
#  - our checkpoints loaded into Python PyTorch (LeNet, ResNet-20) give our
#    logits on the same inputs within 1e-5;
#  - eval --trace traces each AMM inference mode; summary/compare/plot work;
#  - bad input: one error line.
set -u
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
PY=${SISYPHUS_PYTHON:-python3}  # the Python of the torch we link (CMake passes it)
source "$(dirname "$0")/../support/testlib.sh"

$PY "$HERE/../support/make_idx_dataset.py" "$WORK/fm" 500 100 --noise
D=(--dataset fashion-mnist --data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1)

# --- killed mid-way: what was traced stays readable
"$BIN" train --net lenet --epochs 50 --trace-every 1 --run killed "${D[@]}" > "$WORK/out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  sleep 0.2
  n=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r',swmr=True).attrs['committed_records'])" "$WORK/ck/killed/trace.h5" 2>/dev/null || echo 0)
  [[ $n -ge 12 ]] && break
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
if $PY - "$WORK/ck/killed/trace.h5" <<'PY' && "$BIN" trace summary "$WORK/ck/killed/trace.h5" > "$WORK/out" 2>&1
import sys, h5py
f = h5py.File(sys.argv[1], "r", swmr=True)  # a killed SWMR writer leaves the "open for write" mark
n = [len(f["records"][k]) for k in f["records"]]
assert min(n) >= 10 and f.attrs["committed_records"] >= 10 and f.attrs["writing"] == 1, n
print(f"  {f.attrs['committed_records']} records readable after SIGKILL")
PY
then pass "a run killed with SIGKILL leaves a readable trace"
else fail "trace after kill"; cat "$WORK/out"; fi
timeout 60 "$BIN" trace watch "$WORK/ck/killed/trace.h5" --interval 0.2 > "$WORK/watch" 2>&1
if [[ $? -eq 0 ]] && grep -q "is gone without closing the file (killed?)" "$WORK/watch"; then
  pass "trace watch of a killed run's trace ends, naming the lost writer"
else fail "trace watch after kill"; tail -3 "$WORK/watch"; fi
"$BIN" train --net lenet --epochs 1 --trace-every 1 --run killed --resume "${D[@]}" > "$WORK/out" 2>&1
if [[ $? -eq 0 ]] && h5dump -H "$WORK/ck/killed/trace.h5" > /dev/null 2>&1; then
  pass "a resumed run rewrites the killed run's trace: h5dump reads it again"
else fail "resume after a killed trace"; tail -3 "$WORK/out"; fi
# a trace damaged by something else: the resume stops on one line naming it,
# the checkpoint stays as it was, and a resume with the trace moved aside runs
cp "$WORK/ck/killed/last.h5" "$WORK/killed-last.h5"
head -c 3000 "$WORK/ck/killed/trace.h5" > "$WORK/half.h5" && mv "$WORK/half.h5" "$WORK/ck/killed/trace.h5"
"$BIN" train --net lenet --epochs 2 --trace-every 1 --run killed --resume "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "a resume onto a damaged trace: one line naming it" "killed/trace.h5.*move .*aside and run again"
mv "$WORK/ck/killed/trace.h5" "$WORK/ck/killed/trace.h5.damaged"
if cmp -s "$WORK/ck/killed/last.h5" "$WORK/killed-last.h5" &&
   "$BIN" train --net lenet --epochs 2 --trace-every 1 --run killed --resume "${D[@]}" > "$WORK/out" 2>&1 &&
   "$BIN" trace summary "$WORK/ck/killed/trace.h5" > /dev/null 2>&1; then
  pass "the damaged trace left the checkpoint as it was; moved aside, the resume runs with a new trace"
else fail "resume after moving a damaged trace aside"; tail -3 "$WORK/out"; fi

# --- read while the run writes it: h5py (SWMR), trace summary, trace watch to the run's end
"$BIN" trace watch "$WORK/ck/live/trace.h5" --interval 0.1 > "$WORK/watch" 2>&1 &
watcher=$!
"$BIN" train --net lenet --epochs 20 --batch-size 16 --trace-every 1 --run live "${D[@]}" > "$WORK/out" 2>&1 &
runner=$!
seen=0
for _ in $(seq 1 600); do  # until the run has committed 20 records (60 s at most)
  sleep 0.1
  seen=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r',swmr=True).attrs['committed_records'])" "$WORK/ck/live/trace.h5" 2>/dev/null || echo 0)
  [[ $seen -ge 20 ]] && break
done
live_ok=0
if [[ $seen -ge 20 ]] && kill -0 $runner 2>/dev/null && $PY - "$WORK/ck/live/trace.h5" <<'PY' && "$BIN" trace summary "$WORK/ck/live/trace.h5" > "$WORK/sum" 2>&1
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r", swmr=True)
n = f.attrs["committed_records"]
r = f["records"]
assert f.attrs["writing"] == 1 and n >= 20
assert all(len(r[k]) >= n for k in r), {k: len(r[k]) for k in r}
assert np.isfinite(r["max_abs"][:n]).all() and (r["count"][:n] > 0).all()
steps = r["step"][:n]
assert (np.diff(steps[r["phase"][:n] == b"train"]) > 0).all()
print(f"  {n} records read while the run wrote them")
PY
then live_ok=1; fi
wait $runner; run_rc=$?
wait_watch() { for _ in $(seq 600); do kill -0 $watcher 2>/dev/null || return 0; sleep 0.1; done; kill $watcher; return 1; }
wait_watch; wait $watcher; watch_rc=$?
records=$($PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['committed_records'])" "$WORK/ck/live/trace.h5")
if [[ $live_ok -eq 1 && $run_rc -eq 0 && $watch_rc -eq 0 ]] && grep -q "the writer closed the file ($records records)" "$WORK/watch" \
   && [[ $(grep -c "^step " "$WORK/watch") -eq $records ]] && grep -q "^  0 features.2" "$WORK/watch"; then
  pass "read while written: h5py (SWMR) and trace summary during the run, trace watch shows all $records records and ends with the run"
else fail "live reading (live $live_ok, run $run_rc, watch $watch_rc, $records records)"; tail -3 "$WORK/watch" "$WORK/sum"; fi

# --- a finished run: trace and checkpoint through h5py
"$BIN" train --net lenet --epochs 2 --trace-every 2 --run t "${D[@]}" > "$WORK/out" 2>&1
if $PY - "$WORK/ck/t/trace.h5" "$WORK/ck/t/last.h5" <<'PY'
import sys, h5py, numpy as np
t, c = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert t.attrs["format"] == "sisyphus-trace" and t.attrs["version"] == 2 and t.attrs["writing"] == 0
assert list(t.attrs["layers"]) == ["features.2", "features.6", "classifier.3", "classifier.6", "classifier.7"]
assert t.attrs["network"] == c.attrs["network"] == "lenet"
assert t.attrs["program"].startswith("sisyphus ")
assert len(t["hist_edges"]) == 50 and t["hist_edges"][0] == -9
r = t["records"]
phase = [p.decode() for p in r["phase"][()]]
assert phase.count("eval") == 2 and phase.count("train") == 4, phase   # 8 steps, every 2nd; 2 epochs
L = len(t.attrs["layers"])
for k in ("min", "max", "max_abs", "mean", "std", "count", "nan", "inf", "above"):
    assert r[k].shape == (len(phase), L), (k, r[k].shape)
assert r["hist"].shape == (len(phase), L, 49)
# the histogram holds a fixed sample of every image's values (docs/trace-format.md)
k = t.attrs["hist_sample_per_image"]
assert k == 64
per = r["count"][()] // r["samples"][()][:, None]                      # values per image
stride = np.where(per > k, per // k + (per // k + 1) % 2, 1)          # odd stride
picked = np.where(per > k, -(-per // stride), per)                     # positions per image
assert (r["hist"][()].sum(axis=2) == picked * r["samples"][()][:, None]).all()
assert (picked[:, -1] == 10).all()  # the logits: every value
assert np.allclose(r["max_abs"][()], np.maximum(np.abs(r["min"][()]), np.abs(r["max"][()])))
assert (r["min"][()] <= r["mean"][()]).all() and (r["mean"][()] <= r["max"][()]).all()
ev = [i for i, p in enumerate(phase) if p == "eval"]
assert (r["samples"][()][ev] == 100).all() and (r["count"][()][ev][:, -1] == 100 * 10).all()
assert r["epoch"][()][ev[-1]] == c.attrs["epoch"] == 2 and r["step"][()][ev[-1]] == c.attrs["step"]
assert c["model"]["features.0.weight"].shape == (6, 1, 5, 5) and 0 <= c.attrs["test_acc"] <= 1
PY
then pass "h5py reads trace and checkpoint; records are consistent (histograms, extremes, epochs, steps)"
else fail "h5py interop"; fi

# --- what the trace costs: every epoch line of a traced run ends with the
# seconds spent on it so far (growing); an untraced run's lines say nothing
t1=$(grep "epoch 1/2 done" "$WORK/out" | grep -oE '\| trace [0-9.]+ s$' | grep -oE '[0-9.]+')
t2=$(grep "epoch 2/2 done" "$WORK/out" | grep -oE '\| trace [0-9.]+ s$' | grep -oE '[0-9.]+')
"$BIN" train --net lenet --epochs 1 --trace-every 0 --no-trace-test --run untraced "${D[@]}" > "$WORK/out_u" 2>&1
if [[ -n $t1 && -n $t2 ]] && (($(echo "$t2 > $t1 && $t1 > 0" | bc))) \
   && grep -q "epoch 1/1 done" "$WORK/out_u" && ! grep -q "| trace " "$WORK/out_u"; then
  pass "epoch lines show the trace's seconds ($t1 s, then $t2 s); none without a trace"
else fail "trace seconds in the epoch lines ('$t1', '$t2')"; grep "done" "$WORK/out" "$WORK/out_u"; fi

if h5dump -H "$WORK/ck/t/trace.h5" > "$WORK/h" 2>&1 && grep -q 'GROUP "records"' "$WORK/h" \
   && grep -q 'DATASET "max_abs"' "$WORK/h" && grep -q 'DATASET "hist"' "$WORK/h" \
   && grep -q 'ATTRIBUTE "layers"' "$WORK/h" && grep -q 'H5S_UNLIMITED' "$WORK/h"; then
  pass "h5dump -H shows /records with extendable datasets and the layer attribute"
else fail "h5dump -H"; head -20 "$WORK/h"; fi

# --- our logits == Python PyTorch's on the same inputs (LeNet, ResNet-20)
"$BIN" train --net resnet20 --epochs 1 --train-limit 128 --run r20 "${D[@]}" > "$WORK/out" 2>&1
ok=1
for pair in "lenet:t" "resnet20:r20"; do
  net=${pair%%:*}; run=${pair#*:}
  "$BIN" eval --checkpoint "$WORK/ck/$run/last.h5" --data-dir "$WORK/fm" --test-limit 40 --threads 1 \
    --save-logits "$WORK/$net-logits.h5" > "$WORK/out" 2>&1 || ok=0
  $PY - "$HERE/../../bench" "$net" "$WORK/ck/$run/last.h5" "$WORK/$net-logits.h5" <<'PY' || ok=0
import sys, h5py, torch
sys.path.insert(0, sys.argv[1])
import reference_models
net = reference_models.build(sys.argv[2], 1, 28, 10)
with h5py.File(sys.argv[3], "r") as f:
    net.load_state_dict({k: torch.as_tensor(v[()]) for k, v in f["model"].items()})
net.eval()
with h5py.File(sys.argv[4], "r") as f:
    x, ours = torch.from_numpy(f["inputs"][()]), torch.from_numpy(f["logits"][()])
with torch.no_grad():
    theirs = net(x)
err = ((theirs - ours).abs() / ours.abs().clamp(min=1)).max().item()
print(f"  {sys.argv[2]}: {len(x)} inputs, max relative logit difference vs PyTorch {err:.2g}")
sys.exit(0 if err < 1e-5 else 1)
PY
done
[[ $ok -eq 1 ]] && pass "checkpoints in Python PyTorch reproduce our logits (LeNet, ResNet-20)" || fail "PyTorch logits"

# --- eval --trace: ReLU teacher and a QuaIL+AMM student in each inference mode, in one file
"$BIN" quail --teacher "$WORK/ck/t/last.h5" --data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 \
  --threads 1 --amm --mimic-epochs 1 --finetune-epochs 0 --lr 0.01 --run s > "$WORK/out" 2>&1
E=$WORK/eval-trace.h5
"$BIN" eval --checkpoint "$WORK/ck/t/last.h5" --data-dir "$WORK/fm" --threads 1 --trace "$E" --label relu > "$WORK/out" 2>&1
"$BIN" eval --checkpoint "$WORK/ck/s/mimic-04.h5" --data-dir "$WORK/fm" --threads 1 --trace "$E" --label quail+amm > "$WORK/out2" 2>&1
if [[ $(grep -c "test accuracy" "$WORK/out2") -eq 4 ]] && $PY - "$E" <<'PY'
import sys, h5py
r = h5py.File(sys.argv[1], "r")["records"]
got = [(s.decode(), m.decode()) for s, m in zip(r["source"][()], r["mode"][()])]
assert got == [("relu", "-")] + [("quail+amm", m) for m in ("amm", "mm", "biggest", "extreme")], got
PY
then pass "eval --trace records the ReLU network and each AMM inference mode (amm, mm, biggest, extreme)"
else fail "eval --trace"; cat "$WORK/out2"; fi
"$BIN" trace summary "$E" > "$WORK/out" 2>&1 && [[ $(grep -c "verdict:" "$WORK/out") -eq 5 ]] \
  && pass "trace summary: a verdict per series" || { fail "trace summary"; cat "$WORK/out"; }
"$BIN" trace compare "$E" "$WORK/ck/t/trace.h5" > "$WORK/out" 2>&1 && grep -q "\[6\] t: " "$WORK/out" \
  && pass "trace compare: several files side by side" || { fail "trace compare"; cat "$WORK/out"; }
"$BIN" trace plot "$E" --out "$WORK/fig.png" > "$WORK/out" 2>&1 && [[ "$(head -c 4 "$WORK/fig.png" | tail -c 3)" == "PNG" ]] \
  && pass "trace plot writes a PNG (gnuplot)" || { fail "trace plot"; cat "$WORK/out"; }

# --- a checkpoint from before AMM's biggest statistics: loads, evaluates in the
# other modes, and refuses --amm-mode biggest with one line
O=$WORK/old.h5
cp "$WORK/ck/s/mimic-04.h5" "$O"
$PY - "$O" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    for k in [k for k in f["model"] if ".amm.biggest_" in k]:
        del f["model"][k]
    f.attrs["version"] = 1  # as such files were: before the content checksum
    del f.attrs["checksum"]
PY
# a version-1 file loads once the user vouches for it
"$BIN" checkpoint seal "$O" > "$WORK/out" 2>&1 || { fail "seal the older checkpoint"; cat "$WORK/out"; }
"$BIN" eval --checkpoint "$O" --data-dir "$WORK/fm" --threads 1 --trace "$WORK/old-trace.h5" > "$WORK/out" 2>&1
if [[ $? -eq 0 && $(grep -c "test accuracy" "$WORK/out") -eq 3 ]] && grep -q "predates AMM's biggest statistics" "$WORK/out"; then
  pass "an older AMM checkpoint evaluates in amm, mm and extreme"
else fail "older AMM checkpoint"; cat "$WORK/out"; fi
"$BIN" eval --checkpoint "$O" --data-dir "$WORK/fm" --threads 1 --amm-mode biggest > "$WORK/out" 2> "$WORK/err"
one_error $? "--amm-mode biggest on an older checkpoint" "predates AMM's biggest statistics; use --amm-mode amm, mm or extreme"

# --- bad input
"$BIN" trace summary "$WORK/ck/t/last.h5" > "$WORK/out" 2> "$WORK/err"
one_error $? "a checkpoint is not a trace" "not a sisyphus trace"
"$BIN" trace summary "$WORK/none.h5" > "$WORK/out" 2> "$WORK/err"
one_error $? "missing trace file" "does not exist"
echo "garbage" > "$WORK/bad.h5"
"$BIN" trace plot "$WORK/bad.h5" > "$WORK/out" 2> "$WORK/err"
one_error $? "a corrupt trace file" "not an HDF5 file"
"$BIN" eval --checkpoint "$WORK/ck/t/last.h5" --data-dir "$WORK/fm" --trace "$WORK/ck/r20/trace.h5" > "$WORK/out" 2> "$WORK/err"
one_error $? "appending to a trace of another network" "other layers"

finish "trace tests"
