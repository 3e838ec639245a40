#!/usr/bin/env bash
# QuaIL end to end with the real binary on a small Fashion-MNIST-format set.
# Usage: test_quail.sh <path to sisyphus>
#  - every stage writes <stage>.h5 with stage/point/loss/accuracy attributes;
#  - a mimic stage trains exactly its point's parameters; frozen points' BN
#    statistics follow the batches (the reference's default) or, with
#    --frozen-eval, stay bit for bit;
#  - a run stopped mid-stage and resumed ends bitwise equal to one run;
#  - the escape guard fires on a diverging stage (one line naming stage,
#    point and step, exit 1), leaves the checkpoints untouched and loadable;
#    --continue-on-escape records it and exits 0;
#  - 2 and 3 ranks == 1 rank at global batch 32 with BN and AMM (both
#    synchronised) in every stage within 1e-5, uneven splits; AMM `mm`
#    inference on 3 ranks == 1 at global batch 30 (last batch 10: 4+3+3);
#  - drop-in evaluation (taylor, fitted poly) reports non-finite counts;
#  - bad input gives one error line.
set -u
BIN=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=(timeout 300 mpirun --oversubscribe --bind-to none)
PY=${SISYPHUS_PYTHON:-python3}  # the Python of the torch we link (CMake passes it)
source "$(dirname "$0")/../support/testlib.sh"

$PY "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/fm" 500 100
D=(--data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1)
"$BIN" train --net lenet --dataset fashion-mnist --epochs 2 --run teacher "${D[@]}" > "$WORK/out" 2>&1 \
  || { echo "FAIL teacher training"; tail "$WORK/out"; exit 1; }
T=$WORK/ck/teacher/last.h5
Q=(--teacher "$T" "${D[@]}" --batch-size 32)

# --- stages, files and attributes
"$BIN" quail "${Q[@]}" --amm --mimic-epochs 2 --finetune-epochs 1 --run A > "$WORK/out" 2>&1
rc=$?
if [[ $rc -eq 0 ]] && $PY - "$WORK/ck/A" <<'PY'
import sys, h5py, math
d = sys.argv[1]
for kind, order in (("mimic", range(5)), ("finetune", range(4, -1, -1))):
    for l in order:
        f = h5py.File(f"{d}/{kind}-{l:02d}.h5")
        a = f.attrs
        assert a["stage"] == f"{kind}-{l:02d}" and a["point"] == l, dict(a)
        assert a["activation"] == "amm+quad" and a["epoch"] == a["stage_epochs"], dict(a)
        # --evaluate reference: tested after the last mimic stage and after fine-tuning only
        tested = (kind, l) in (("mimic", 4), ("finetune", 0))
        assert a["train_loss"] >= 0, dict(a)
        assert (0 <= a["test_acc"] <= 1) if tested else math.isnan(a["test_acc"]), (kind, l, dict(a))
        assert f"features.2.fn.amm.running_min" in f["model"]
PY
then pass "quail writes mimic-00..04 and finetune-04..00 with their attributes"
else fail "quail stages (rc $rc)"; tail -20 "$WORK/out"; fi

# --- freezing: a mimic stage trains exactly its point's parameters. By default
# (the reference's behaviour) the whole student runs in training mode, so the
# frozen points' BN statistics move too; with --frozen-eval they stay bit for bit.
"$BIN" quail "${Q[@]}" --amm --mimic-epochs 1 --finetune-epochs 0 --frozen-eval --run Z > "$WORK/out" 2>&1 \
  || { fail "quail --frozen-eval run"; tail -5 "$WORK/out"; }
for mode in reference frozen-eval; do
  dir=$WORK/ck/A; [[ $mode == frozen-eval ]] && dir=$WORK/ck/Z
  if $PY - "$T" "$dir" "$mode" <<'PY'
import sys, h5py, numpy as np
teacher, d, mode = h5py.File(sys.argv[1])["model"], sys.argv[2], sys.argv[3]
owners = [["features.0.", "features.1.", "features.2."], ["features.4.", "features.5.", "features.6."],
          ["classifier.1.", "classifier.2.", "classifier.3."], ["classifier.4.", "classifier.5.", "classifier.6."],
          ["classifier.7."]]
point = lambda name: next(l for l, o in enumerate(owners) if any(name.startswith(p) for p in o))
statistic = lambda n: any(k in n for k in ("running_", "extreme_", "biggest_", "num_batches"))
prev = h5py.File(f"{d}/mimic-00.h5")["model"]
for name in prev:  # after mimic-00, points 1.. keep the teacher's parameters, bit for bit
    if point(name) > 0 and name in teacher and (mode == "frozen-eval" or not statistic(name)):
        assert np.array_equal(prev[name][()], teacher[name][()]), name
frozen_stats_moved = False
for l in range(1, 5):
    cur = h5py.File(f"{d}/mimic-{l:02d}.h5")["model"]
    changed = {n for n in cur if not np.array_equal(cur[n][()], prev[n][()])}
    mine = {n for n in cur if point(n) == l}
    outside = changed - mine
    if mode == "frozen-eval":
        assert not outside, (l, outside)
    else:  # only statistics may move outside the trained point
        assert all(statistic(n) for n in outside), (l, outside)
        frozen_stats_moved |= any("running_mean" in n for n in outside)
    assert any(n.endswith("weight") for n in changed), (l, changed)
    if l < 4:  # BN statistics and AMM estimates of the trained point move
        assert any("running_mean" in n for n in changed) and any("amm.running_max" in n for n in changed), (l, changed)
    prev = cur
assert mode == "frozen-eval" or frozen_stats_moved, "frozen points' BN statistics never moved"
PY
  then pass "$mode: mimic stage l trains only point l's parameters; frozen statistics $([[ $mode == frozen-eval ]] && echo 'bitwise unchanged' || echo 'follow the batches')"
  else fail "freezing ($mode)"; fi
done

# --- resume: stopped mid-stage (epoch 3 = mimic-01 epoch 1 of 2), then resumed
"$BIN" quail "${Q[@]}" --amm --mimic-epochs 2 --finetune-epochs 1 --run B --stop-after-epochs 3 > "$WORK/out" 2>&1 \
  && grep -q "stopped after 3 epoch" "$WORK/out" \
  && "$BIN" quail "${Q[@]}" --amm --mimic-epochs 2 --finetune-epochs 1 --run B --resume > "$WORK/out" 2>&1
rc=$?
if [[ $rc -eq 0 ]] && grep -q "resume: .* after mimic-01 epoch 1" "$WORK/out" && $PY - "$WORK/ck/A/finetune-00.h5" "$WORK/ck/B/finetune-00.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1])["model"], h5py.File(sys.argv[2])["model"]
assert set(a) == set(b)
bad = [k for k in a if not np.array_equal(a[k][()], b[k][()])]
assert not bad, bad
PY
then pass "stopped mid-stage and resumed: bitwise the uninterrupted run"
else fail "stage resume (rc $rc)"; tail -5 "$WORK/out"; fi

# --- escape guard: mimic-00 done, then a diverging learning rate in mimic-01
# (plain Quad on this synthetic set needs a small learning rate to get through mimic-00)
"$BIN" quail "${Q[@]}" --mimic-epochs 1 --finetune-epochs 1 --run C --lr 0.001 --lr-min 0.0001 --stop-after-epochs 1 > "$WORK/out" 2>&1
sum_before=$(md5sum "$WORK/ck/C/last.h5" "$WORK/ck/C/mimic-00.h5" | cut -c1-32)
"$BIN" quail "${Q[@]}" --mimic-epochs 1 --finetune-epochs 1 --run C --resume --lr 1e9 --lr-min 0 > "$WORK/out" 2> "$WORK/err"
one_error $? "escape guard stops the diverging stage with one line" \
  "escape guard: stage mimic-01 \(point features.6\), epoch 1 step [0-9]+ .*(point features.6|loss).*last good checkpoint: .*/C/last.h5"
sum_after=$(md5sum "$WORK/ck/C/last.h5" "$WORK/ck/C/mimic-00.h5" | cut -c1-32)
if [[ "$sum_before" == "$sum_after" && ! -e "$WORK/ck/C/mimic-01.h5" ]] \
   && "$BIN" eval --checkpoint "$WORK/ck/C/mimic-00.h5" --data-dir "$WORK/fm" --threads 1 > "$WORK/out" 2>&1; then
  pass "escape leaves the last good checkpoints untouched and loadable"
else fail "checkpoints after escape"; cat "$WORK/out"; fi
"$BIN" quail "${Q[@]}" --mimic-epochs 1 --finetune-epochs 1 --run C --resume --lr 1e9 --lr-min 0 --continue-on-escape > "$WORK/out" 2>&1
if [[ $? -eq 0 ]] && grep -q "final: escaped" "$WORK/out" && grep -q "stage mimic-01" "$WORK/ck/C/escaped.txt"; then
  pass "--continue-on-escape records the escape and exits 0"
else fail "--continue-on-escape"; tail -3 "$WORK/out"; fi

# --- R ranks == 1 rank at the same global batch, BN (synchronised) and AMM
# (synchronised), every mimic and fine-tune stage, and mm inference
# (500 = 15 x 32 + 20: uneven splits on 2 and 3 ranks). A noisy background:
# no exact ties between activations. Min/max gradients switch between nearly
# equal elements, so end-to-end fine-tuning amplifies float rounding: one
# process with 1 vs 2 threads differs by 6e-5 after finetune-01 and 4.5e-2
# after finetune-00. Every stage must agree within 1e-5, or within 3x that
# thread-count difference measured here (the rounding floor).
$PY "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/noisy" 500 100 --noise
DN=(--data-dir "$WORK/noisy" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1)
"$BIN" train --net lenet --dataset fashion-mnist --epochs 1 --run teacher-noisy "${DN[@]}" > "$WORK/out" 2>&1
TN=$WORK/ck/teacher-noisy/last.h5
QA=(--teacher "$TN" "${DN[@]}" --amm --mimic-epochs 1 --finetune-epochs 1 --lr 0.01 --lr-min 0.001 --batch-size 32)
"$BIN" quail "${QA[@]}" --run one > "$WORK/out" 2>&1
"$BIN" quail "${QA[@]}" --run one-2threads --threads 2 > "$WORK/out" 2>&1
for np in 2 3; do
  "${MPIRUN[@]}" -np $np "$BIN" quail "${QA[@]}" --run ranks$np > "$WORK/out2" 2>&1
  rc=$?
  if [[ $rc -eq 0 ]] && [[ $(grep -c "(identical on $np ranks)" "$WORK/out2") -eq 10 ]] && grep -q "AMM/BN sync" "$WORK/out2" \
     && $PY - "$WORK/ck/one" "$WORK/ck/ranks$np" "$WORK/ck/one-2threads" <<'PY'
import sys, h5py, numpy as np
def diff(x, y, st):
    a, b = h5py.File(f"{x}/{st}.h5")["model"], h5py.File(f"{y}/{st}.h5")["model"]
    assert set(a) == set(b)
    return max(float(np.abs(a[k][()] - b[k][()]).max() / max(np.abs(a[k][()]).max(), 1e-12)) for k in a)
ok = True
for st in [f"mimic-{l:02d}" for l in range(5)] + [f"finetune-{l:02d}" for l in range(4, -1, -1)]:
    worst, floor = diff(sys.argv[1], sys.argv[2], st), diff(sys.argv[1], sys.argv[3], st)
    print(f"  {st}: max relative difference vs one rank {worst:.2g} (1 vs 2 threads: {floor:.2g})")
    ok = ok and worst < max(1e-5, 3 * floor)
sys.exit(0 if ok else 1)
PY
  then pass "BN + AMM: $np ranks == 1 rank at global batch 32 in every stage (identical buffers on all ranks)"
  else fail "BN + AMM $np ranks vs 1 (rc $rc)"; tail -5 "$WORK/out2"; fi
done

# --- the same chain in float64 (--precision fp64: network, AMM, BN, SGD and
# the collectives in double): R ranks x B against 1 rank x RB must agree far
# below float32's rounding, not within a float32 noise floor. Bound 1e-10
# relative on every tensor of every stage (measured 7.1e-12 at finetune-00,
# 1e-14 before it; docs/quail.md).
QA64=("${QA[@]}" --precision fp64)
"$BIN" quail "${QA64[@]}" --run one64 > "$WORK/out" 2>&1 || { fail "fp64 one rank"; tail -3 "$WORK/out"; }
for np in 2 3; do
  "${MPIRUN[@]}" -np $np "$BIN" quail "${QA64[@]}" --run ranks64-$np > "$WORK/out2" 2>&1
  rc=$?
  if [[ $rc -eq 0 ]] && $PY - "$WORK/ck/one64" "$WORK/ck/ranks64-$np" <<'PY'
import sys, h5py, numpy as np
ok, worst_all = True, 0.0
for st in [f"mimic-{l:02d}" for l in range(5)] + [f"finetune-{l:02d}" for l in range(4, -1, -1)]:
    a, b = h5py.File(f"{sys.argv[1]}/{st}.h5")["model"], h5py.File(f"{sys.argv[2]}/{st}.h5")["model"]
    assert set(a) == set(b)
    worst = 0.0
    for k in a:
        x, y = a[k][()], b[k][()]
        if np.issubdtype(x.dtype, np.floating):
            ok = ok and x.dtype == np.float64 and y.dtype == np.float64
            worst = max(worst, float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-300)))
        else:
            ok = ok and np.array_equal(x, y)  # counters exactly
    print(f"  fp64 {st}: max relative difference vs one rank {worst:.2g}")
    worst_all = max(worst_all, worst)
    ok = ok and worst < 1e-10
sys.exit(0 if ok else 1)
PY
  then pass "fp64: $np ranks == 1 rank at global batch 32 within 1e-10 in every stage (counters exactly)"
  else fail "fp64 $np ranks vs 1 (rc $rc)"; tail -5 "$WORK/out2"; fi
done

F=$WORK/ck/one/finetune-00.h5
"$BIN" eval --checkpoint "$F" --data-dir "$WORK/noisy" --threads 1 --amm-mode mm --batch-size 30 > "$WORK/out" 2>&1
"${MPIRUN[@]}" -np 3 "$BIN" eval --checkpoint "$F" --data-dir "$WORK/noisy" --threads 1 --amm-mode mm --batch-size 30 > "$WORK/out2" 2>&1
a=$(grep -o "test accuracy [0-9.]*% loss [0-9.]*" "$WORK/out"); b=$(grep -o "test accuracy [0-9.]*% loss [0-9.]*" "$WORK/out2")
if [[ -n "$a" && "$a" == "$b" ]] && grep -q "amm+quad, mm" "$WORK/out"; then pass "mm inference: 3 ranks == 1 at global batch 30 ($a)"
else fail "mm inference across ranks: '$a' vs '$b'"; tail -3 "$WORK/out2"; fi
ok=1
for mode in amm biggest extreme; do
  "$BIN" eval --checkpoint "$F" --data-dir "$WORK/noisy" --threads 1 --amm-mode $mode --result-file "$WORK/r.csv" --label $mode > "$WORK/out" 2>&1 || ok=0
done
[[ $ok -eq 1 && $(grep -c "^amm,.*amm+quad,amm," "$WORK/r.csv") -eq 1 && $(grep -c "^extreme,.*,extreme," "$WORK/r.csv") -eq 1 && $(grep -c "^biggest,.*,biggest," "$WORK/r.csv") -eq 1 ]] \
  && pass "eval --amm-mode amm/biggest/extreme with --result-file rows" || { fail "amm modes"; cat "$WORK/r.csv"; }

# --- drop-in evaluation of the ReLU teacher
ok=1
for act in taylor "poly:degree=2,range=5" "poly:coeffs=0,0,0,0,0,0,0,0,1"; do
  "$BIN" eval --checkpoint "$T" --data-dir "$WORK/fm" --threads 1 --act "$act" > "$WORK/out" 2>&1 || ok=0
  grep -qE "test accuracy [0-9.]+% .* [0-9]+ non-finite outputs" "$WORK/out" || ok=0
done
[[ $ok -eq 1 ]] && pass "drop-in eval: taylor, fitted poly, x^8 report accuracy and non-finite counts" || { fail "drop-in eval"; cat "$WORK/out"; }

# --- bad input
"$BIN" quail --teacher "$WORK/nope.h5" "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "missing teacher" "nope.h5"
"$BIN" quail --teacher "$T" --act swish "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "unknown student activation" "bad activation 'swish'"
"$BIN" quail --teacher "$F" "${D[@]}" --run D > "$WORK/out" 2> "$WORK/err"
one_error $? "a QuaIL checkpoint as teacher" "imitates a ReLU network"
"$BIN" quail "${Q[@]}" --mimic-epochs 1 --finetune-epochs 1 --run A > "$WORK/out" 2> "$WORK/err"
one_error $? "existing run without --resume" "already has a checkpoint"
"$BIN" eval --checkpoint "$T" --data-dir "$WORK/fm" --act amm+quad > "$WORK/out" 2> "$WORK/err"
one_error $? "eval --act amm+ on a network without AMM statistics" "no trained AMM statistics"
"$BIN" eval --checkpoint "$F" --data-dir "$WORK/fm" --amm-mode minmax > "$WORK/out" 2> "$WORK/err"
one_error $? "unknown AMM mode" "unknown AMM inference mode 'minmax'"
"$BIN" quail "${Q[@]}" --mimic-epochs 0 --finetune-epochs 0 > "$WORK/out" 2> "$WORK/err"
one_error $? "no stages" "cannot both have 0 epochs"

"$BIN" quail "${Q[@]}" --amm --mimic-epochs 0 --finetune-epochs 1 --frozen-eval --run E > "$WORK/out" 2> "$WORK/err"
one_error $? "AMM fine-tuning without mimic stages, --frozen-eval (no estimates)" "without running estimates"
"$BIN" quail "${Q[@]}" --amm --no-amm-sync --run E > "$WORK/out" 2> "$WORK/err"
one_error $? "--no-amm-sync needs --no-verify-ranks" "add --no-verify-ranks"

# --- --mimic-forward to-point: the student stops at the imitated point. In
# training mode BN and AMM normalise with the batch, so every parameter of
# every mimic stage is bitwise what the full forward (the reference) gives;
# only the running statistics of the points after l differ (they move only
# in their own stages)
if "$BIN" quail "${Q[@]}" --amm --mimic-epochs 1 --finetune-epochs 0 --run MF > "$WORK/out" 2>&1 \
  && "$BIN" quail "${Q[@]}" --amm --mimic-epochs 1 --finetune-epochs 0 --mimic-forward to-point \
     --run MT > "$WORK/out2" 2>&1 && $PY - "$WORK/ck" <<'PY'
import sys, h5py, numpy as np
ck = sys.argv[1]
for l in range(5):
    a, b = h5py.File(f"{ck}/MF/mimic-{l:02d}.h5")["model"], h5py.File(f"{ck}/MT/mimic-{l:02d}.h5")["model"]
    for k in a:
        running = "running_" in k or "num_batches" in k or ".amm." in k
        if not running:
            assert np.array_equal(a[k][()], b[k][()]), f"mimic-{l:02d}: parameter {k} differs"
a, b = h5py.File(f"{ck}/MF/mimic-00.h5")["model"], h5py.File(f"{ck}/MT/mimic-00.h5")["model"]
assert np.array_equal(a["features.1.running_mean"][()], b["features.1.running_mean"][()])  # point 0's BN
assert not np.array_equal(a["classifier.2.running_mean"][()], b["classifier.2.running_mean"][()])  # a later BN
PY
then pass "--mimic-forward to-point: every parameter as the full forward's, later points' running statistics left alone"
else fail "--mimic-forward to-point"; tail -3 "$WORK/out" "$WORK/out2"; fi

finish "quail tests"
