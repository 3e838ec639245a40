#!/usr/bin/env python3
"""The same training as sisyphus_bench_train, written in Python PyTorch.

Same model (reference_models.py), batch, optimizer (SGD lr 0.1, momentum 0.5,
Nesterov, weight decay 5e-4), loss and thread count. Two input pipelines:
  --pipeline torchvision : the paper's code path (torchvision FashionMNIST
                           dataset, ToTensor+Normalize, DataLoader, no workers)
  --pipeline tensor      : the fastest plain-Python path (the whole set
                           normalised once in memory, batches by indexing)
Prints one line: "python pipeline=... images=... seconds=... images_per_s=...".
"""
import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402

SPECS = {  # channels, size, classes, mean, std (as in src/data/dataset.cpp)
    "fashion-mnist": (1, 28, 10, [0.2860], [0.3530]),
    "cifar10": (3, 32, 10, [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
}


def read_idx(data_dir, prefix="train"):
    def load(name):
        path = os.path.join(data_dir, name)
        opener = gzip.open if os.path.exists(path + ".gz") else open
        with opener(path + (".gz" if opener is gzip.open else ""), "rb") as f:
            return f.read()
    img = load(f"{prefix}-images-idx3-ubyte")
    lab = load(f"{prefix}-labels-idx1-ubyte")
    n = int.from_bytes(img[4:8], "big")
    x = np.frombuffer(img, dtype=np.uint8, offset=16).reshape(n, 1, 28, 28)
    y = np.frombuffer(lab, dtype=np.uint8, offset=8).astype(np.int64)
    return x, y


def read_cifar10(data_dir):
    xs, ys = [], []
    for i in range(1, 6):
        raw = np.fromfile(os.path.join(data_dir, f"data_batch_{i}.bin"), dtype=np.uint8)
        raw = raw.reshape(-1, 3073)
        ys.append(raw[:, 0].astype(np.int64))
        xs.append(raw[:, 1:].reshape(-1, 3, 32, 32))
    return np.concatenate(xs), np.concatenate(ys)


def tensor_batches(x, y, mean, std, batch):
    xt = torch.from_numpy(x.copy()).float().div_(255)
    mean_t = torch.tensor(mean).view(1, -1, 1, 1)
    std_t = torch.tensor(std).view(1, -1, 1, 1)
    xt = (xt - mean_t) / std_t
    yt = torch.from_numpy(y.copy())
    while True:
        perm = torch.randperm(len(yt))
        for i in range(0, len(yt), batch):
            idx = perm[i:i + batch]
            yield xt[idx], yt[idx]


def test_batches(a, mean, std, tmp):
    """The test split in batches of 100, as the paper's code evaluates it."""
    if a.pipeline == "tensor":
        x, y = read_idx(a.data_dir, "t10k")
        xt = (torch.from_numpy(x.copy()).float().div_(255) - mean[0]) / std[0]
        yt = torch.from_numpy(y.copy())
        return [(xt[i:i + 100], yt[i:i + 100]) for i in range(0, len(yt), 100)]
    import torchvision
    import torchvision.transforms as T
    ds = torchvision.datasets.FashionMNIST(
        tmp, train=False, download=False,
        transform=T.Compose([T.ToTensor(), T.Normalize(tuple(mean), tuple(std))]))
    return torch.utils.data.DataLoader(ds, batch_size=100, shuffle=False)


def fashion_mnist_root(data_dir, tmp):
    """`tmp` laid out as torchvision's FashionMNIST root, from our IDX files."""
    raw = os.path.join(tmp, "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        src = os.path.join(data_dir, name)
        if os.path.exists(src + ".gz"):
            with gzip.open(src + ".gz", "rb") as f, open(os.path.join(raw, name), "wb") as g:
                shutil.copyfileobj(f, g)
        else:
            shutil.copy(src, raw)
    return tmp


def torchvision_batches(data_dir, mean, std, batch, tmp):
    import torchvision
    import torchvision.transforms as T
    fashion_mnist_root(data_dir, tmp)
    ds = torchvision.datasets.FashionMNIST(
        tmp, train=True, download=False,
        transform=T.Compose([T.ToTensor(), T.Normalize(tuple(mean), tuple(std))]))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True)
    while True:
        for xb, yb in loader:
            yield xb, yb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="lenet")
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--pipeline", default="tensor", choices=["tensor", "torchvision"])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=0, help="0: one epoch")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval", action="store_true",
                    help="after training, one test-set pass (batch 100), inside the timed span")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    c, size, classes, mean, std = SPECS[a.dataset]
    x, y = read_idx(a.data_dir) if a.dataset == "fashion-mnist" else read_cifar10(a.data_dir)
    tmp = tempfile.mkdtemp()
    try:
        if a.pipeline == "tensor":
            batches = tensor_batches(x, y, mean, std, a.batch_size)
        else:
            batches = torchvision_batches(a.data_dir, mean, std, a.batch_size, tmp)
        net = reference_models.build(a.net, c, size, classes)
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.5, nesterov=True,
                              weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        timed = a.steps if a.steps > 0 else (len(y) + a.batch_size - 1) // a.batch_size
        images = 0
        t0 = time.perf_counter()
        for step in range(a.warmup + timed):
            if step == a.warmup:
                t0 = time.perf_counter()
            xb, yb = next(batches)
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            loss.item()
            out.argmax(1).eq(yb).sum().item()
            if step >= a.warmup:
                images += len(yb)
        if a.eval:  # the paper's code tests after every epoch
            tests = test_batches(a, mean, std, tmp)  # reading the test split is part of it
            net.eval()
            correct = 0
            with torch.no_grad():
                for xb, yb in tests:
                    correct += net(xb).argmax(1).eq(yb).sum().item()
            net.train()
        secs = time.perf_counter() - t0
        print(f"python pipeline={a.pipeline} net={a.net} dataset={a.dataset} batch={a.batch_size} eval={int(a.eval)} "
              f"threads={a.threads} images={images} seconds={secs:.3f} "
              f"images_per_s={images / secs:.1f}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
