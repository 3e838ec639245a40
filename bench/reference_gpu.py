#!/usr/bin/env python3
"""The PyTorch reference of bench/run_gpu_bench.sh on one GPU: the same
network, shapes, optimizer and precision as `sisyphus_bench_train --device
cuda`, trained the way a PyTorch user would train it fast (eager mode,
cudnn.benchmark, pinned host batches copied non_blocking, SGD lr 0.1,
momentum 0.5 Nesterov, weight decay 5e-4, foreach):
  --net resnet50: torchvision's ResNet-50 on TinyImageNet-shaped random data
                  (64x64x3, 200 classes); its stem pools with max, ours with
                  average (sisyphus --imagenet-stem);
  --net resnet20: the paper's ResNet-20 (bench/reference_models.py, sisyphus's
                  structure and names) on CIFAR-shaped data (32x32x3, 10 classes).
--precision bf16 trains under autocast(bfloat16); --channels-last makes images
and weights NHWC. --compile wraps the model in torch.compile(mode=...).
Prints one line: "pytorch net=... step_ms=... images_per_s=... peak_mem_mb=..."
(peak: torch.cuda.max_memory_allocated over the timed steps)."""
import argparse
import os
import sys
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--net", choices=["resnet50", "resnet20"], default="resnet50")
ap.add_argument("--batch-size", type=int, default=256)
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--warmup", type=int, default=10)
ap.add_argument("--images", type=int, default=8192)
ap.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
ap.add_argument("--channels-last", action="store_true")
ap.add_argument("--compile", default="", help="torch.compile mode, e.g. reduce-overhead")
a = ap.parse_args()

torch.manual_seed(42)
torch.backends.cudnn.benchmark = True
dev = torch.device("cuda")
if a.net == "resnet50":
    import torchvision
    model, side, classes = torchvision.models.resnet50(num_classes=200), 64, 200
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference_models
    model, side, classes = reference_models.resnet20(10, 3), 32, 10
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
model = model.to(dev).to(memory_format=fmt)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5, nesterov=True, weight_decay=5e-4,
                      foreach=True)
step_model = torch.compile(model, mode=a.compile) if a.compile else model
# normalised float images in pinned memory, as a DataLoader with pin_memory hands them out
x_all = ((torch.randint(0, 256, (a.images, 3, side, side), dtype=torch.uint8).float() / 255 - 0.45)
         / 0.225).pin_memory()
y_all = (torch.arange(a.images) % classes).pin_memory()
loss_fn = torch.nn.CrossEntropyLoss()
model.train()
done, t0 = 0, None
while done < a.warmup + a.steps:
    for k in range(0, a.images - a.batch_size + 1, a.batch_size):
        if done == a.warmup:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            t0 = time.time()
        if done == a.warmup + a.steps:
            break
        x = x_all[k:k + a.batch_size].to(dev, non_blocking=True).contiguous(memory_format=fmt)
        y = y_all[k:k + a.batch_size].to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = loss_fn(step_model(x), y)
        loss.backward()
        opt.step()
        loss.item()  # sisyphus reads the loss every step too
        done += 1
torch.cuda.synchronize()
s = time.time() - t0
print(f"pytorch net={a.net} precision={a.precision} channels_last={int(a.channels_last)} "
      f"compile={a.compile or 'none'} batch={a.batch_size} steps={a.steps} seconds={s:.3f} "
      f"step_ms={1000 * s / a.steps:.3f} images_per_s={a.steps * a.batch_size / s:.1f} "
      f"peak_mem_mb={torch.cuda.max_memory_allocated() / 2**20:.1f}")
