#!/usr/bin/env python3
"""The scaling model of docs/scaling.md: step time of data-parallel training
with bucketed gradient all-reduce overlapped with the backward pass.

    scaling_model.py fit MEASURED.txt      fit the all-reduce model to the sweeps,
                                           predict the test hosts' step times and
                                           compare with what they measured
    scaling_model.py predict               ResNet-50 at 1, 8, 64, 512 GPUs, and the
                                           published anchors, under the stated assumptions

The model (all of its assumptions are here):
  * a step is forward (a third of the compute time T_c) then backward (two
    thirds); gradients become ready at a uniform rate over the backward pass,
    last layer first, and fill buckets of B bytes (the reducer's 25 MiB);
  * a bucket's all-reduce starts when it is full and the previous one is done
    (one communication channel), and takes the ring all-reduce time
        t(n, p) = 2 (p - 1) alpha + 2 (p - 1) / p * n / busbw
    (NCCL's tree algorithm bounds the latency term by 2 log2(p) alpha instead;
    the smaller is used);
  * the step ends when the backward pass and the last all-reduce have ended:
        T_step(p) = max(T_c, end of the last bucket's all-reduce);
  * weak scaling: a fixed batch per rank, so T_c does not change with p, and
    efficiency(p) = T_step(1) / T_step(p);
  * nothing else: no data-loading stalls, no stragglers, no optimizer time
    beyond what T_c holds.
"""
import math
import re
import sys

BUCKET = 25 * 2**20


def allreduce_s(n, p, alpha, busbw):
    if p <= 1:
        return 0.0
    latency = min(2 * (p - 1), 2 * math.ceil(math.log2(p))) * alpha
    return latency + 2 * (p - 1) / p * n / busbw


def step_s(tc, grad_bytes, p, ar, bucket=BUCKET, fwd=1 / 3):
    """T_step for compute tc (s), gradients of grad_bytes, all-reduce time ar(n)."""
    if p <= 1:
        return tc
    t_f, t_b = tc * fwd, tc * (1 - fwd)
    k = max(1, math.ceil(grad_bytes / bucket))
    sizes = [bucket] * (k - 1) + [grad_bytes - (k - 1) * bucket]
    free, produced = 0.0, 0
    for s in sizes:
        produced += s
        ready = t_f + t_b * produced / grad_bytes
        free = max(ready, free) + ar(s)
    return max(tc, free)


def serial_step_s(tc, grad_bytes, p, ar, bucket=BUCKET):
    """No overlap at all: every bucket's all-reduce after the backward pass (the bound
    when communication needs the cores the compute uses, as MPI over TCP on a CPU)."""
    if p <= 1:
        return tc
    k = max(1, math.ceil(grad_bytes / bucket))
    return tc + (k - 1) * ar(bucket) + ar(grad_bytes - (k - 1) * bucket)


def fit(path):
    """Lines of bench/run_scaling_bench.sh: sweeps (mode=sweep), steps (mode=train)."""
    sweeps, steps = {}, {}
    for line in open(path):
        kv = dict(re.findall(r"(\w+)=(\S+)", line))
        if kv.get("mode") == "sweep":
            sweeps.setdefault(kv["where"], []).append((int(kv["ranks"]), int(kv["bytes"]), float(kv["median_us"]) * 1e-6))
        elif kv.get("mode") == "train":
            steps[kv["where"]] = kv
    print("## All-reduce across the test hosts (MPI over TCP, veth and a bridge)\n")
    print("| where | ranks | fitted latency a (us) | fitted busbw (MB/s) | alpha (us) | 1 MiB measured / model (ms) | 16 MiB measured / model (ms) |")
    print("|---|---|---|---|---|---|---|")
    models = {}
    for where, rows in sorted(sweeps.items()):
        p = rows[0][0]
        big = [(n, t) for _, n, t in rows if n >= 2**16]  # the bandwidth part
        mx = sum(n for n, _ in big) / len(big)
        my = sum(t for _, t in big) / len(big)
        slope = sum((n - mx) * (t - my) for n, t in big) / sum((n - mx) ** 2 for n, _ in big)
        small = min(t for _, n, t in rows)
        busbw = 2 * (p - 1) / p / slope
        alpha = small / (2 * (p - 1))
        models[where] = (p, alpha, busbw)
        def at(n):
            return next((t for _, m, t in rows if m == n), float("nan"))
        m1, m16 = 2**20, 2**24
        print(f"| {where} | {p} | {small * 1e6:.0f} | {busbw / 1e6:.0f} | {alpha * 1e6:.0f} | "
              f"{at(m1) * 1e3:.2f} / {allreduce_s(m1, p, alpha, busbw) * 1e3:.2f} | "
              f"{at(m16) * 1e3:.2f} / {allreduce_s(m16, p, alpha, busbw) * 1e3:.2f} |")
    print("\n## Step time: the model against the test hosts\n")
    print("| run | ranks | T_c measured alone (ms) | gradient bytes | predicted step, overlapped (ms) | predicted, no overlap (ms) | measured step (ms) |")
    print("|---|---|---|---|---|---|---|")
    for where, kv in sorted(steps.items()):
        if not where.startswith("hosts"):
            continue
        p = int(kv["ranks"])
        tc = float(steps[f"alone{p}"]["step_ms"]) * 1e-3  # T_c with p ranks' load on the cores
        grad = int(kv["bytes_per_step"])
        _, alpha, busbw = models[f"sweep{p}"]
        ar = lambda n: allreduce_s(n, p, alpha, busbw)
        pred, serial = step_s(tc, grad, p, ar), serial_step_s(tc, grad, p, ar)
        meas = float(kv["step_ms"]) * 1e-3
        print(f"| {where} | {p} | {tc * 1e3:.1f} | {grad:,} | {pred * 1e3:.1f} ({(pred - meas) / meas * 100:+.0f}%) | "
              f"{serial * 1e3:.1f} ({(serial - meas) / meas * 100:+.0f}%) | {meas * 1e3:.1f} |")


# Assumed hardware (docs/scaling.md says where each figure comes from).
# A ring all-reduce moves 2 (p-1)/p n bytes over its slowest link; across
# nodes that is the node's network, shared by the rings (one per NIC rail), so
# the inter-node bus bandwidth is about the node's total NIC bandwidth at 90%.
GPU = {
    # name: (intra-node busbw B/s, inter-node busbw B/s, alpha intra s, alpha inter s, GPUs per node)
    "H100 SXM, NVLink 4, 8 x 400 Gb/s IB": (450e9, 360e9, 3e-6, 8e-6, 8),
    "A100 SXM, NVLink 3, 8 x 200 Gb/s IB": (230e9, 180e9, 4e-6, 10e-6, 8),
    "P100, 4 per node, 25 Gb/s Ethernet": (15e9, 2.5e9, 10e-6, 30e-6, 4),
}
R50_TINY_GRAD = 95_640_608  # bytes: sisyphus's resnet50, 200 classes (bench mode train prints it)
R50_TINY_IPS = 3500  # images/s per H100 (assumed): 64x64 with the CIFAR stem costs ~1.3x a 224x224 ImageNet image


def cluster_ar(hw, p):
    intra, inter, a_in, a_out, per_node = GPU[hw]
    if p <= per_node:
        return lambda n: allreduce_s(n, p, a_in, intra)
    return lambda n: allreduce_s(n, p, a_out, inter)


def predict():
    rows = [
        # (what, hardware, T_c per step s, gradient bytes, published efficiency or None)
        ("ResNet-50 TinyImageNet 64x64, batch 128/GPU, bf16 autocast (fp32 gradients)",
         "H100 SXM, NVLink 4, 8 x 400 Gb/s IB", 128 / R50_TINY_IPS, R50_TINY_GRAD, None),
        ("ResNet-50 TinyImageNet 64x64, batch 32/GPU", "H100 SXM, NVLink 4, 8 x 400 Gb/s IB",
         32 / R50_TINY_IPS, R50_TINY_GRAD, None),
        ("ResNet-50 ImageNet 224x224, batch 256/GPU, AMP (NVIDIA: 7.7x on 8 A100s)",
         "A100 SXM, NVLink 3, 8 x 200 Gb/s IB", 256 / 2700, 25_557_032 * 4, {8: 7.7 / 8}),
        ("ResNet-50 ImageNet, batch 32/GPU (PyTorch DDP paper: near-linear to 256 GPUs)",
         "A100 SXM, NVLink 3, 8 x 200 Gb/s IB", 32 / 1400, 25_557_032 * 4, None),
        ("ResNet-101, batch 64/GPU (Horovod: 90% at 512 GPUs)", "P100, 4 per node, 25 Gb/s Ethernet",
         64 / 130, 44_549_160 * 4, {512: 0.90}),
    ]
    print("## Predicted step time and efficiency (weak scaling)\n")
    print("| model and setting | hardware (assumed) | T_c (ms) | 1 GPU | 8 GPUs | 64 GPUs | 512 GPUs | published |")
    print("|---|---|---|---|---|---|---|---|")
    for what, hw, tc, grad, pub in rows:
        cells = []
        t1 = step_s(tc, grad, 1, None)
        for p in (1, 8, 64, 512):
            t = step_s(tc, grad, p, cluster_ar(hw, p))
            ts = serial_step_s(tc, grad, p, cluster_ar(hw, p))
            cells.append(f"{t * 1e3:.1f} ms ({t1 / t * 100:.0f}%; {t1 / ts * 100:.0f}% without overlap)")
        published = ", ".join(f"{e * 100:.0f}% at {p}" for p, e in (pub or {}).items()) or "-"
        print(f"| {what} | {hw} | {tc * 1e3:.1f} | " + " | ".join(cells) + f" | {published} |")
    print("\n## ResNet-50 TinyImageNet: time per epoch (100,000 images), H100 assumption\n")
    print("| batch per GPU | GPUs | steps per epoch | step (ms) | epoch (s) |")
    print("|---|---|---|---|---|")
    hw = "H100 SXM, NVLink 4, 8 x 400 Gb/s IB"
    for b in (32, 128):
        tc = b / R50_TINY_IPS
        for p in (1, 8, 64, 512):
            steps = math.ceil(100_000 / (b * p))
            t = step_s(tc, R50_TINY_GRAD, p, cluster_ar(hw, p))
            print(f"| {b} | {p} | {steps} | {t * 1e3:.1f} | {steps * t:.1f} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "fit":
        fit(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "predict":
        predict()
    else:
        sys.exit(__doc__)
