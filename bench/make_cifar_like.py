#!/usr/bin/env python3
"""Writes a cifar-10-batches-bin folder of random images in the real CIFAR-10
binary format (<1 label byte><3072 pixel bytes> per record), for benchmarks
on a machine without the real data set.
Usage: make_cifar_like.py OUT_DIR [PER_FILE]"""
import os
import sys

import numpy as np

out = sys.argv[1]
per_file = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    rec = np.empty((per_file, 3073), dtype=np.uint8)
    rec[:, 0] = rng.integers(0, 10, per_file)
    rec[:, 1:] = rng.integers(0, 256, (per_file, 3072))
    rec.tofile(os.path.join(out, name))
