#!/usr/bin/env python3
"""PyTorch DDP (gloo backend) training of the same model, batch per rank and
optimizer as `sisyphus_bench_train --mode train` under mpirun. Start one
process per rank with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set (the
bench script does). Rank 0 prints
"python-ddp ranks=... images=... seconds=... images_per_s=..." (whole job)."""
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402
from reference_train import SPECS, read_cifar10, read_idx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="lenet")
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--batch-size", type=int, default=128, help="per rank")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(42)
    c, size, classes, mean, std = SPECS[a.dataset]
    x, y = read_idx(a.data_dir) if a.dataset == "fashion-mnist" else read_cifar10(a.data_dir)
    xt = (torch.from_numpy(x.copy()).float().div_(255) - torch.tensor(mean).view(1, -1, 1, 1)) \
        / torch.tensor(std).view(1, -1, 1, 1)
    yt = torch.from_numpy(y.copy())
    net = nn.parallel.DistributedDataParallel(reference_models.build(a.net, c, size, classes))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.5, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(yt), generator=g)
    gb = a.batch_size * world
    steps_per_epoch = len(yt) // gb
    images = 0
    t0 = time.perf_counter()
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            dist.barrier()
            t0 = time.perf_counter()
        k = step % steps_per_epoch
        idx = perm[k * gb + rank * a.batch_size: k * gb + (rank + 1) * a.batch_size]
        opt.zero_grad(set_to_none=True)
        out = net(xt[idx])
        loss = loss_fn(out, yt[idx])
        loss.backward()
        opt.step()
        loss.item()
        if step >= a.warmup:
            images += gb
    dist.barrier()
    secs = time.perf_counter() - t0
    if rank == 0:
        print(f"python-ddp net={a.net} ranks={world} batch={a.batch_size} threads={a.threads} "
              f"images={images} seconds={secs:.3f} images_per_s={images / secs:.1f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
