#!/usr/bin/env bash
# A dropout network's bitwise resume on a GPU (launch/gpu_check.sh part b): AlexNet's
# dropout draws from the GPU's generator, whose state checkpoints carry
# (/rng/torch_cuda). Trains twice uninterrupted and once stopped by SIGUSR1 inside
# epoch 1 and resumed, all with --deterministic; compares model, momentum and RNG bit
# for bit. Two uninterrupted runs that differ mean the GPU run is not deterministic
# (the resume comparison then proves nothing, and says so).
#   launch/gpu_resume_check.sh BIN DATA_DIR(cifar10 format) WORK_DIR PYTHON
set -uo pipefail
BIN=$1 DATA=$2 WORK=$3 PY=$4
RC=(--net alexnet --dataset cifar10 --data-dir "$DATA" --checkpoint-dir "$WORK" --threads 4
    --epochs 2 --batch-size 128 --device cuda --deterministic --log-every 5)
"$BIN" train "${RC[@]}" --run full1 > "$WORK/full1.log" 2>&1 || { tail "$WORK/full1.log"; exit 1; }
"$BIN" train "${RC[@]}" --run full2 > "$WORK/full2.log" 2>&1 || { tail "$WORK/full2.log"; exit 1; }
"$BIN" train "${RC[@]}" --run part > "$WORK/part.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do grep -q "epoch 1/2 step 10/" "$WORK/part.log" && break; sleep 0.05; done
kill -USR1 "$pid"
wait "$pid"; rc=$?
[[ $rc -eq 75 ]] || { echo "the stopped run exited $rc, not 75"; tail "$WORK/part.log"; exit 1; }
grep "stopped on" "$WORK/part.log"
"$BIN" train "${RC[@]}" --run part --resume >> "$WORK/part.log" 2>&1 || { tail "$WORK/part.log"; exit 1; }
"$PY" - "$WORK" <<'PY'
import sys, h5py, numpy as np
ck = sys.argv[1]
def differing(a, b):
    fa, fb = h5py.File(f"{ck}/{a}/last.h5"), h5py.File(f"{ck}/{b}/last.h5")
    diff = []
    for g in ("model", "optimizer", "rng"):
        names = []
        fa[g].visit(lambda n: names.append(n) if isinstance(fa[g][n], h5py.Dataset) else None)
        diff += [f"{g}/{n}" for n in names if not np.array_equal(fa[g][n][()], fb[g][n][()])]
    return diff, "torch_cuda" in fa["rng"]
d12, cuda_rng = differing("full1", "full2")
dres, _ = differing("full1", "part")
say = lambda d: "bitwise equal" if not d else f"DIFFER in {len(d)} tensors, e.g. {d[0]}"
print(f"cuda generator state stored: {cuda_rng}")
print(f"two uninterrupted runs: {say(d12)}")
print(f"stopped and resumed against uninterrupted: {say(dres)}")
sys.exit(0 if cuda_rng and not dres else 1)
PY
