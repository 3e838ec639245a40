#!/usr/bin/env python3
"""torchvision's ResNet-50 on TinyImageNet-shaped random data (64x64x3, 200
classes) on one GPU, the way a PyTorch user would train it fast: bf16
autocast, channels-last, cudnn.benchmark, SGD (lr 0.1, momentum 0.5 Nesterov,
weight decay 5e-4), pinned host batches copied non_blocking. The side-by-side
reference of launch/gpu_check.sh for `sisyphus_bench_train --net resnet50
--imagenet-stem --synthetic ... --precision bf16 --channels-last` (the same
shapes; torchvision's stem pools with max, ours with average).
Prints: "torchvision ... images_per_s=..."."""
import argparse
import time

import torch
import torchvision

ap = argparse.ArgumentParser()
ap.add_argument("--batch-size", type=int, default=256)
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--warmup", type=int, default=10)
ap.add_argument("--images", type=int, default=8192)
a = ap.parse_args()

torch.manual_seed(42)
torch.backends.cudnn.benchmark = True
dev = torch.device("cuda")
model = torchvision.models.resnet50(num_classes=200).to(dev).to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5, nesterov=True, weight_decay=5e-4)
# normalised float images in pinned memory, as a DataLoader with pin_memory hands them out
x_all = ((torch.randint(0, 256, (a.images, 3, 64, 64), dtype=torch.uint8).float() / 255 - 0.45) / 0.225).pin_memory()
y_all = (torch.arange(a.images) % 200).pin_memory()
loss_fn = torch.nn.CrossEntropyLoss()
model.train()
done, t0 = 0, None
while done < a.warmup + a.steps:
    for k in range(0, a.images - a.batch_size + 1, a.batch_size):
        if done == a.warmup:
            torch.cuda.synchronize()
            t0 = time.time()
        if done == a.warmup + a.steps:
            break
        x = x_all[k:k + a.batch_size].to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y_all[k:k + a.batch_size].to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()  # sisyphus reads the loss every step too
        done += 1
torch.cuda.synchronize()
s = time.time() - t0
print(f"torchvision net=resnet50 batch={a.batch_size} steps={a.steps} seconds={s:.3f} "
      f"images_per_s={a.steps * a.batch_size / s:.1f}")
