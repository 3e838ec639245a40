#!/usr/bin/env python3
"""A whole run as the paper's reference code runs it, in Python PyTorch: the
reference for sisyphus's whole-run benchmark (bench/run_pipeline_bench.sh).

  --stage baseline : the ReLU network trained with the paper's optimizer (SGD
                     lr 0.1, momentum 0.5 Nesterov, weight decay 5e-4, cosine to
                     0 per epoch), torchvision's FashionMNIST dataset
                     (ToTensor + Normalize) and DataLoader (batch 128,
                     shuffled), a test pass after every epoch (batch 100), the
                     model saved after every epoch.
  --stage quail    : QuaIL from that teacher: AMM -> Quad in every slot, for
                     each point a mimic stage (MSE to the teacher's output,
                     the teacher run forward on every batch), then fine-tune
                     stages from the last point down; a fresh SGD (weight
                     decay 0, cosine to 1e-3) per stage; the whole student in
                     training mode; the test set after the last mimic stage
                     and after fine-tuning; the model saved after every stage.
Prints one line: "python stage=... seconds=... test_acc=...".
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402
from reference_models import outputs_at, points, student  # noqa: E402
from reference_train import fashion_mnist_root  # noqa: E402

MEAN, STD = (0.2860,), (0.3530,)  # Fashion-MNIST, as src/data/dataset.cpp


def datasets(data_dir, tmp, train_limit, test_limit):
    import torchvision
    import torchvision.transforms as T
    fashion_mnist_root(data_dir, tmp)
    tf = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    train = torchvision.datasets.FashionMNIST(tmp, train=True, download=False, transform=tf)
    test = torchvision.datasets.FashionMNIST(tmp, train=False, download=False, transform=tf)
    if train_limit:
        train = torch.utils.data.Subset(train, range(train_limit))
    if test_limit:
        test = torch.utils.data.Subset(test, range(test_limit))
    return (torch.utils.data.DataLoader(train, batch_size=128, shuffle=True),
            torch.utils.data.DataLoader(test, batch_size=100, shuffle=False))


def test(net, loader):
    """Accuracy over the samples with finite outputs, as the reference code counts it."""
    net.eval()
    correct = finite = 0
    with torch.no_grad():
        for xb, yb in loader:
            out = net(xb)
            ok = torch.isfinite(out).all(1)
            finite += int(ok.sum())
            correct += int((out.argmax(1).eq(yb) & ok).sum())
    net.train()
    return correct / max(finite, 1)


def baseline(a, train, tests):
    net = reference_models.build(a.net, 1, 28, 10)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.5, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs, eta_min=0)
    loss_fn = nn.CrossEntropyLoss()
    acc = 0
    net.train()
    for _ in range(a.epochs):
        for xb, yb in train:
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
        acc = test(net, tests)
        torch.save(net.state_dict(), a.out)
    return acc


def quail(a, train, tests):
    teacher = reference_models.build(a.net, 1, 28, 10)
    teacher.load_state_dict(torch.load(a.teacher))
    teacher.eval()
    s = student(a.net)
    s.load_state_dict(teacher.state_dict(), strict=False)  # the AMM buffers start fresh
    pts = points(a.net, s)
    L = len(pts)
    stages = [(True, l) for l in range(L)] + [(False, l) for l in range(L - 1, -1, -1)]
    acc = 0
    for k, (mimic, point) in enumerate(stages):
        owners = [o for l, (_, os_) in enumerate(pts) if (l == point if mimic else l >= point) for o in os_]
        for name, p in s.named_parameters():
            p.requires_grad_(any(name.startswith(o + ".") for o in owners))
        params = [p for p in s.parameters() if p.requires_grad]
        epochs = a.mimic_epochs if mimic else a.finetune_epochs
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.5, nesterov=True, weight_decay=0)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=1e-3)
        s.train()  # the whole student, frozen points included
        for _ in range(epochs):
            for xb, yb in train:
                opt.zero_grad()
                outs = outputs_at(s, a.net, xb)
                if mimic:
                    with torch.no_grad():
                        target = outputs_at(teacher, a.net, xb)[point]
                    loss = nn.functional.mse_loss(outs[point], target)
                else:
                    loss = nn.functional.cross_entropy(outs[-1], yb)
                loss.backward()
                opt.step()
            sched.step()
        last_mimic = mimic and (k + 1 == len(stages) or not stages[k + 1][0])
        if last_mimic or k + 1 == len(stages):
            acc = test(s, tests)
        torch.save(s.state_dict(), os.path.join(a.out, f"{'mimic' if mimic else 'finetune'}-{point:02d}.pt"))
    return acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", choices=["baseline", "quail"], required=True)
    ap.add_argument("--net", default="lenet")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--mimic-epochs", type=int, default=1)
    ap.add_argument("--finetune-epochs", type=int, default=1)
    ap.add_argument("--teacher", help="quail: the baseline's saved state_dict")
    ap.add_argument("--out", required=True, help="baseline: the .pt file; quail: a folder")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    t0 = time.perf_counter()  # the whole run: reading the data included
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    tmp = tempfile.mkdtemp()
    try:
        train, tests = datasets(a.data_dir, tmp, a.train_limit, a.test_limit)
        if a.stage == "quail":
            os.makedirs(a.out, exist_ok=True)
        acc = baseline(a, train, tests) if a.stage == "baseline" else quail(a, train, tests)
    finally:
        shutil.rmtree(tmp)
    print(f"python stage={a.stage} net={a.net} seconds={time.perf_counter() - t0:.2f} test_acc={acc:.4f}")


if __name__ == "__main__":
    main()
