#!/usr/bin/env python3
"""Writes a small Fashion-MNIST-format folder (gzip'd IDX files, like the real
ones) whose class is readable from the pixels: a bright 4x4 square at a
class-dependent place on a patterned background (with --noise: on a
pseudo-random background, so that no two images are equal and no activation
ties another exactly, which min/max gradients would break differently in runs
that are equal up to float rounding).
Usage: make_idx_dataset.py OUT_DIR N_TRAIN N_TEST [--noise]"""
import gzip
import os
import random
import struct
import sys

out, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
noise = random.Random(42) if "--noise" in sys.argv[4:] else None
os.makedirs(out)
for prefix, n in (("train", n_train), ("t10k", n_test)):
    labels = bytes((i * 7) % 10 for i in range(n))
    pixels = bytearray()
    for i in range(n):
        if noise:
            img = bytearray(noise.randrange(64) for p in range(784))
        else:
            img = bytearray((i * 31 + p * 7) % 64 for p in range(784))
        k = labels[i]
        for r in range(4):
            for c in range(4):
                img[(2 + (k // 5) * 12 + r) * 28 + 2 + (k % 5) * 5 + c] = 255
        pixels += img
    with gzip.open(f"{out}/{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(pixels))
    with gzip.open(f"{out}/{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)
