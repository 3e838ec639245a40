#!/usr/bin/env bash
# Beyond the paper, end to end with the real binary (docs/beyond.md):
#  - `train --act` trains HerPN and the learnable quadratic from scratch and
#    stores them in the checkpoint (eval reads them back to the same accuracy);
#  - the range penalty and clipping log the per-layer max |x| they leave;
#  - progressive replacement and blending: their stages, a run stopped and
#    resumed ends bitwise equal to one run, the final checkpoint is the pure
#    polynomial network (eval equals the run's final test);
#    a finished run whose stage copy is missing gets it from --resume;
#  - `fold` writes a folded checkpoint that `eval` scores like the original,
#    `cost` prints its depth and multiplications and its CSV;
#  - launch/beyond_study.sh stopped by a signal ends with 75 and resumes;
#  - bad input gives one error line.
set -u
BIN=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PY=${SISYPHUS_PYTHON:-python3}
source "$(dirname "$0")/../support/testlib.sh"

$PY "$(dirname "$0")/../support/make_idx_dataset.py" "$WORK/fm" 400 100
D=(--data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1 --trace-every 0)
acc() { grep -oE "test accuracy [0-9.]+%" "$1" | tail -1; }

# --- from scratch, stored, read back
ok=1
for act in herpn "cpoly:degree=2,range=5"; do
  "$BIN" train --net lenet --epochs 1 --act "$act" --run "s-${act%%:*}" "${D[@]}" > "$WORK/out" 2>&1 || ok=0
  "$BIN" eval --checkpoint "$WORK/ck/s-${act%%:*}/last.h5" --data-dir "$WORK/fm" --threads 1 > "$WORK/eval" 2>&1 || ok=0
  grep -q "\[$act\] test accuracy" "$WORK/eval" || ok=0
  [[ "$(acc "$WORK/out")" == "$(acc "$WORK/eval")" ]] || ok=0
done
[[ $ok -eq 1 ]] && pass "train --act herpn / cpoly from scratch; eval reads the checkpoint back to the same accuracy" \
  || { fail "train --act"; tail -3 "$WORK/out" "$WORK/eval"; }

# --- range penalty and clipping
"$BIN" train --net lenet --epochs 1 --act quad --range-penalty 0.01 --range-bound 3 --clip-inputs --run pen "${D[@]}" > "$WORK/out" 2>&1
if [[ $? -eq 0 ]] && grep -qE "range: max \|x\| at the activation inputs .* features.2 [0-9.e+]+ .* classifier.6 [0-9.e+]+" "$WORK/out" \
   && grep -q "range-penalty=0.01" "$WORK/out"; then
  pass "range penalty and clipping: the per-layer max |x| is logged every epoch"
else fail "range penalty"; tail -5 "$WORK/out"; fi

# --- progressive replacement and blending, resumed bitwise
"$BIN" train --net lenet --epochs 2 --run teacher "${D[@]}" > "$WORK/out" 2>&1 || { fail "teacher"; tail -3 "$WORK/out"; }
T=$WORK/ck/teacher/last.h5
for method in progressive blend; do
  Q=(--teacher "$T" "${D[@]}" --act herpn --method "$method" --replace-epochs 2 --batch-size 32)
  "$BIN" quail "${Q[@]}" --run "$method-A" > "$WORK/outA" 2>&1; rcA=$?
  "$BIN" quail "${Q[@]}" --run "$method-B" --stop-after-epochs 3 > "$WORK/outB" 2>&1 \
    && "$BIN" quail "${Q[@]}" --run "$method-B" --resume >> "$WORK/outB" 2>&1; rcB=$?
  last=replace-03; [[ $method == blend ]] && last=blend
  "$BIN" eval --checkpoint "$WORK/ck/$method-A/$last.h5" --data-dir "$WORK/fm" --threads 1 > "$WORK/eval" 2>&1
  if [[ $rcA -eq 0 && $rcB -eq 0 ]] && [[ "$(acc "$WORK/outA")" == "$(acc "$WORK/eval")" ]] \
     && $PY - "$WORK/ck/$method-A/$last.h5" "$WORK/ck/$method-B/$last.h5" "$method" <<'PY'
import sys, h5py, numpy as np
a, b, method = h5py.File(sys.argv[1]), h5py.File(sys.argv[2]), sys.argv[3]
assert a.attrs["activation"] == "herpn", dict(a.attrs)
for k in a["model"]:
    assert np.array_equal(a["model"][k][()], b["model"][k][()]), k
stages = ["replace-%02d" % l for l in range(4)] if method == "progressive" else ["blend"]
import os
d = os.path.dirname(sys.argv[1])
assert sorted(f[:-3] for f in os.listdir(d) if f[:-3] in stages) == stages, os.listdir(d)
PY
  then pass "$method: stages, stopped and resumed bitwise equal to one run, final checkpoint evaluates as the run's test"
  else fail "$method (rc $rcA $rcB)"; tail -3 "$WORK/outA" "$WORK/outB" "$WORK/eval"; fi
done

# a kill between a stage's last checkpoint and its copy (<stage>.h5): the resumed run makes the copy
rm -f "$WORK/ck/blend-A/blend.h5"
"$BIN" quail --teacher "$T" "${D[@]}" --act herpn --method blend --replace-epochs 2 --batch-size 32 \
  --run blend-A --resume > "$WORK/out" 2>&1
if [[ $? -eq 0 ]] && grep -q "blend.h5 was missing" "$WORK/out" && grep -q "already finished" "$WORK/out" \
   && cmp -s "$WORK/ck/blend-A/blend.h5" "$WORK/ck/blend-A/last.h5"; then
  pass "a finished run whose stage copy is missing: --resume copies last.h5 to blend.h5"
else fail "missing stage copy"; tail -3 "$WORK/out"; ls "$WORK/ck/blend-A"; fi

# --- fold and cost
S=$WORK/ck/s-herpn/last.h5
"$BIN" fold --checkpoint "$S" --out "$WORK/folded.h5" > "$WORK/out" 2>&1 \
  && "$BIN" eval --checkpoint "$WORK/folded.h5" --data-dir "$WORK/fm" --threads 1 > "$WORK/eval2" 2>&1 \
  && "$BIN" eval --checkpoint "$S" --data-dir "$WORK/fm" --threads 1 > "$WORK/eval" 2>&1
if [[ $? -eq 0 ]] && grep -q "4 BN layers folded" "$WORK/out" && grep -q "\[cpoly:degree=2\]" "$WORK/eval2" \
   && [[ "$(acc "$WORK/eval")" == "$(acc "$WORK/eval2")" ]]; then
  pass "fold: 4 BNs into their layers, slots as cpoly:degree=2, the same test accuracy"
else fail "fold"; cat "$WORK/out"; tail -2 "$WORK/eval" "$WORK/eval2"; fi
"$BIN" cost --checkpoint "$WORK/folded.h5" --csv "$WORK/cost.csv" > "$WORK/out" 2>&1
if [[ $? -eq 0 ]] && grep -qE "^total +this network +- +13 +4684 +291008" "$WORK/out" \
   && grep -q "^-,with-relu,total,0,73," "$WORK/cost.csv"; then
  pass "cost: folded LeNet-HerPN 13 levels (4 x (conv 1 + a x^2 + b x + c 2) + 1), 4684 ct-ct, 291008 pt-ct multiplications; 73 levels with ReLU composites"
else fail "cost"; cat "$WORK/out"; fi

# --- fine-tuning the folded network itself (train --init): it stays folded
I=(--net lenet --epochs 1 --lr 0.002 --grad-clip 1 --range-penalty 0.01 --range-bound 20 --range-form peak --clip-inputs --clip-bound 100)
"$BIN" train "${I[@]}" --init "$WORK/folded.h5" --run settle "${D[@]}" > "$WORK/out" 2>&1; rc=$?
"$BIN" eval --checkpoint "$WORK/ck/settle/last.h5" --data-dir "$WORK/fm" --threads 1 > "$WORK/eval" 2>&1
"$BIN" fold --checkpoint "$WORK/ck/settle/last.h5" --out "$WORK/f5.h5" > "$WORK/fold" 2>&1
if [[ $rc -eq 0 ]] && grep -q "init: $WORK/folded.h5 (lenet, folded, activation cpoly:degree=2" "$WORK/out" \
   && grep -q "range: max |x| at the activation inputs this epoch (bound 20):" "$WORK/out" && grep -q "clip-bound=100" "$WORK/out" && grep -q "\[cpoly:degree=2\] test accuracy" "$WORK/eval" \
   && [[ "$(acc "$WORK/out")" == "$(acc "$WORK/eval")" ]] && grep -q "folded already" "$WORK/fold" \
   && $PY - "$WORK/folded.h5" "$WORK/ck/settle/last.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert b.attrs["folded"] == 1 and b.attrs["activation"] == "cpoly:degree=2", dict(b.attrs)
assert sorted(a["model"]) == sorted(b["model"])
changed = [k for k in a["model"] if not np.array_equal(a["model"][k][()], b["model"][k][()])]
assert any(k.endswith("coeffs") for k in changed) and any(k.endswith("weight") for k in changed), changed
PY
then pass "train --init a folded network: trains its weights and coefficients, stays folded, eval equals the run's test"
else fail "train --init (rc $rc)"; tail -3 "$WORK/out" "$WORK/eval" "$WORK/fold"; fi

# --- the study script: a step stopped with its state saved ends the study with 75, resumable
cat > "$WORK/stopping-bin" <<EOF
#!/usr/bin/env bash
# the real binary; its first train of the herpn run gets SIGTERM once it runs
if [[ " \$* " == *" --run study-lenet-herpn "* && ! -f "$WORK/stopped-once" ]]; then
  touch "$WORK/stopped-once"
  "$BIN" "\$@" > "$WORK/stopped.out" & pid=\$!
  until grep -q "resolved config" "$WORK/stopped.out" 2>/dev/null || ! kill -0 \$pid 2>/dev/null; do sleep 0.05; done
  kill -TERM \$pid; wait \$pid; rc=\$?; cat "$WORK/stopped.out"; exit \$rc
fi
exec "$BIN" "\$@"
EOF
chmod +x "$WORK/stopping-bin"
STUDY=(bash "$(dirname "$0")/../../launch/beyond_study.sh" lenet --epochs 2 --train-limit 400 --threads 1
       --data-dir "$WORK/fm" --methods "relu herpn")
SISYPHUS_BIN=$WORK/stopping-bin CHECKPOINT_DIR=$WORK/study "${STUDY[@]}" > "$WORK/s1" 2>&1; rc1=$?
SISYPHUS_BIN=$WORK/stopping-bin CHECKPOINT_DIR=$WORK/study "${STUDY[@]}" > "$WORK/s2" 2>&1; rc2=$?
csv=$WORK/study/study-lenet-study.csv
if [[ $rc1 -eq 75 && $rc2 -eq 0 && -f $WORK/stopped-once ]] && grep -q "stopped with its state saved" "$WORK/s1" &&
   [[ ! -e $WORK/study/study-lenet-herpn/escaped.txt ]] && grep -q "^relu,.*,[0-9.]\+,0," "$csv" &&
   grep -q "resume: .*study-lenet-herpn/last.h5 after epoch" "$WORK/s2" &&
   grep -qE "^herpn,[^,]+,[0-9.]+,[0-9]+,(bounded|escaping)," "$csv"; then
  pass "beyond_study.sh: a step stopped by SIGTERM ends the study with 75 (not marked escaped); the same command resumes it and reports it"
else fail "beyond_study.sh stopped and resumed (rc $rc1, $rc2)"; tail -n 5 "$WORK/s1" "$WORK/s2"; cat "$csv"; fi

# --- bad input
"$BIN" train --net resnet20 --init "$WORK/folded.h5" "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "train --init of another network" "holds lenet on fashion-mnist, this run names resnet20"
"$BIN" train --net lenet --act quad --init "$WORK/folded.h5" "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "train --init with another --act" "has activation cpoly:degree=2, --act says quad"
"$BIN" train --net lenet --init "$WORK/nope.h5" "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "train --init of a missing checkpoint" "nope.h5"
"$BIN" train --net lenet --grad-clip -1 "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "negative --grad-clip" "grad-clip"
"$BIN" train --net lenet --range-penalty 0.1 --range-bound 2 --clip-bound 5 "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "--clip-bound without --clip-inputs" "clip-bound: needs --clip-inputs"
"$BIN" train --net lenet --act swish "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "train --act unknown" "bad activation 'swish'"
"$BIN" train --net lenet --range-penalty 0.1 "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "range penalty without a bound" "need a bound > 0"
"$BIN" quail --teacher "$T" --method distil "${D[@]}" > "$WORK/out" 2> "$WORK/err"
one_error $? "unknown --method" "method"
"$BIN" fold --checkpoint "$S" --out "$S" > "$WORK/out" 2> "$WORK/err"
one_error $? "fold over its input" "must not be the input"
# a folded network trained further: fold writes its weights without its training state
"$BIN" fold --checkpoint "$WORK/ck/settle/last.h5" --out "$WORK/f2.h5" > "$WORK/out" 2> "$WORK/err"
if [[ $? -eq 0 ]] && grep -q "is folded already -> $WORK/f2.h5: its weights without its training state" "$WORK/out" \
   && $PY - "$WORK/ck/settle/last.h5" "$WORK/f2.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert b.attrs["folded"] == 1 and b.attrs["stage"] == "folded", dict(b.attrs)
assert sorted(a["model"]) == sorted(b["model"])
for k in a["model"]:
    assert np.array_equal(a["model"][k][()], b["model"][k][()]), k
assert len(a["optimizer"]) > 0 and len(b["optimizer"]) == 0, (list(a["optimizer"]), list(b["optimizer"]))
PY
then pass "fold of a folded network trained further: the same weights, no momentum"
else fail "fold of a folded network trained further"; cat "$WORK/out" "$WORK/err"; fi
"$BIN" train --net lenet --epochs 1 --act amm+quad --run s-amm "${D[@]}" > "$WORK/out" 2>&1
"$BIN" fold --checkpoint "$WORK/ck/s-amm/last.h5" --out "$WORK/f3.h5" --amm-mode mm > "$WORK/out" 2> "$WORK/err"
one_error $? "fold with AMM mode mm (batch statistics)" "no fixed map to fold"
"$BIN" fold --checkpoint "$WORK/nope.h5" --out "$WORK/f4.h5" > "$WORK/out" 2> "$WORK/err"
one_error $? "fold a missing checkpoint" "nope.h5"
"$BIN" cost --checkpoint "$S" --sign-degrees 15,16 > "$WORK/out" 2> "$WORK/err"
one_error $? "cost with an even sign degree" "sign-degrees"
finish "beyond tests"
