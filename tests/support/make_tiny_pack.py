#!/usr/bin/env python3
"""A small TinyImageNet pack in the format `sisyphus data pack-tiny` writes
(docs/data-format.md): /train and /val images [N, 3, 64, 64] uint8 and
int64 labels, root attributes format, version, num_classes, wnids, layout.
Class k's images are noise around a colour and a stripe of its own, so a
network learns them in a few steps.

    make_tiny_pack.py OUT.h5 TRAIN_PER_CLASS VAL_PER_CLASS CLASSES
"""
import sys

import h5py
import numpy as np


def split(rng, per_class, classes):
    n = per_class * classes
    labels = np.repeat(np.arange(classes, dtype=np.int64), per_class)
    images = rng.integers(0, 60, size=(n, 3, 64, 64)).astype(np.int64)
    for i, k in enumerate(labels):
        images[i, k % 3] += 80 + 40 * (k // 3 % 4)
        images[i, :, 8 * (k % 8): 8 * (k % 8) + 8, :] += 60
    order = rng.permutation(n)
    return np.clip(images, 0, 255).astype(np.uint8)[order], labels[order]


def main():
    out, per_train, per_val, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(7)
    with h5py.File(out, "w") as f:
        for name, per in (("train", per_train), ("val", per_val)):
            images, labels = split(rng, per, classes)
            f.create_dataset(f"{name}/images", data=images, chunks=(1, 3, 64, 64), compression="gzip")
            f.create_dataset(f"{name}/labels", data=labels)
        f.attrs["format"] = "sisyphus-tiny-imagenet"
        f.attrs["version"] = 1
        f.attrs["num_classes"] = classes
        f.attrs["wnids"] = "\n".join(f"n{1000 + k:08d}" for k in range(classes))
        f.attrs["layout"] = "NCHW"


if __name__ == "__main__":
    main()
