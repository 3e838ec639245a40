#!/usr/bin/env bash
# Writes the seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/:
# small valid files of each format (and a few near misses), the checkpoint and
# trace seeds made by the real binary. Run once; the seeds are kept in git and
# libFuzzer's long runs (launch/fuzz.sh) add what they find.
#   make_corpus.sh <path to sisyphus>
set -euo pipefail
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${SISYPHUS_PYTHON:-python3}
OUT=$HERE/corpus
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"/{idx,cifar,tiny_pack,jpeg,checkpoint,trace,config}

"$PY" - "$OUT" <<'PYEOF'
import gzip, io, struct, sys
import numpy as np
from PIL import Image

out = sys.argv[1]
rng = np.random.default_rng(3)

def idx_pair(n, rows, cols, classes=10):
    images = struct.pack(">IIII", 0x803, n, rows, cols) + rng.integers(0, 256, n * rows * cols, dtype=np.uint8).tobytes()
    labels = struct.pack(">II", 0x801, n) + rng.integers(0, classes, n, dtype=np.uint8).tobytes()
    return images, labels

def idx_input(images, labels):  # fuzz_idx.cpp: 2 bytes of split, images, labels
    return struct.pack("<H", len(images)) + images + labels

for name, (n, r, c) in {"plain-2x4x4": (2, 4, 4), "plain-3x28x28": (3, 28, 28)}.items():
    im, lb = idx_pair(n, r, c)
    open(f"{out}/idx/{name}", "wb").write(idx_input(im, lb))
im, lb = idx_pair(2, 5, 5)
open(f"{out}/idx/gzip-2x5x5", "wb").write(idx_input(gzip.compress(im), gzip.compress(lb)))
im, lb = idx_pair(2, 4, 4, classes=256)  # labels out of range
open(f"{out}/idx/bad-labels", "wb").write(idx_input(im, lb))

def cifar(records, label_bytes, classes):
    b = b""
    for _ in range(records):
        b += bytes(rng.integers(0, classes, label_bytes, dtype=np.uint8)) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
    return b
open(f"{out}/cifar/cifar10-2", "wb").write(b"\x00" + cifar(2, 1, 10))
open(f"{out}/cifar/cifar100-2", "wb").write(b"\x01" + cifar(2, 2, 100))
open(f"{out}/cifar/cifar10-short", "wb").write(b"\x00" + cifar(1, 1, 10)[:-7])

def jpeg(mode, size, **kw):
    a = rng.integers(0, 256, size=(size[1], size[0], 3 if mode == "RGB" else 1), dtype=np.uint8)
    img = Image.fromarray(a.squeeze(), mode)
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()
open(f"{out}/jpeg/rgb-8x8", "wb").write(jpeg("RGB", (8, 8)))
open(f"{out}/jpeg/grey-16x8", "wb").write(jpeg("L", (16, 8)))
open(f"{out}/jpeg/progressive-16x16", "wb").write(jpeg("RGB", (16, 16), progressive=True, quality=50))
open(f"{out}/jpeg/rgb-64x64", "wb").write(jpeg("RGB", (64, 64), quality=30))

configs = {
    "train-lenet.ini": "[train]\nnetwork=lenet\ndataset=fashion-mnist\nepochs=2\nbatch-size=64\nlr=0.01\nact=\"amm+quad\"\n",
    "train-toml.toml": "[train]\nnetwork = \"resnet20\"\ndataset = \"cifar10\"\nepochs = 1\naugment = false\nrange-penalty = 0.01\nrange-form = \"peak\"\n",
    "quail.ini": "[quail]\nteacher=\"ck/lenet.h5\"\nact=\"poly:degree=2,range=5\"\namm=true\nimitation-epochs=1\n",
    "bad.ini": "[train]\nepochs=-1\nbatch-size=0\nnetwork=nonet\n",
}
for name, text in configs.items():
    open(f"{out}/config/{name}", "w").write(text)
PYEOF

# The tiny pack: 2 classes, 2 train and 1 val image each.
"$PY" "$HERE/../support/make_tiny_pack.py" "$OUT/tiny_pack/pack-2x2" 2 1 2

# Checkpoint and trace seeds: a few LeNet steps on 64 generated images.
"$PY" "$HERE/../support/make_idx_dataset.py" "$WORK/fm" 64 32 --noise
D=(--dataset fashion-mnist --data-dir "$WORK/fm" --checkpoint-dir "$WORK/ck" --log-every 0 --threads 1)
"$BIN" train --net lenet --epochs 1 --batch-size 32 --trace-every 1 --run relu "${D[@]}" >/dev/null
"$BIN" train --net lenet --epochs 1 --batch-size 32 --act amm+quad --run amm "${D[@]}" >/dev/null
"$BIN" fold --checkpoint "$WORK/ck/amm/last.h5" --out "$WORK/folded.h5" >/dev/null
cp "$WORK/ck/relu/last.h5" "$OUT/checkpoint/lenet-relu.h5"
cp "$WORK/folded.h5" "$OUT/checkpoint/lenet-amm-quad-folded.h5"
cp "$WORK/ck/relu/trace.h5" "$OUT/trace/lenet-relu-trace.h5"
ls -l "$OUT"/*
