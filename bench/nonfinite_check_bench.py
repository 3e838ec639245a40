"""The reducer's per-bucket NaN/Inf check (src/dist/reducer.cpp): isfinite().all()
against aminmax, on one CPU thread, alternating and repeated, with the ATen kernels
LibTorch runs. Usage: python bench/nonfinite_check_bench.py [--threads 1] [--rounds 5]"""
import argparse
import time

import torch


def isfinite_all(x):
    return torch.isfinite(x).all().logical_not()


def aminmax(x):
    lo, hi = torch.aminmax(x)
    return lo.isfinite().logical_and(hi.isfinite()).logical_not()


def per_call_us(f, x, reps):
    f(x)
    t = time.perf_counter()
    for _ in range(reps):
        f(x)
    return (time.perf_counter() - t) / reps * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # they must agree on every kind of value first
    for v in [float("nan"), float("inf"), -float("inf"), 3e38, 1.0]:
        x = torch.randn(1000)
        x[500] = v
        assert bool(isfinite_all(x)) == bool(aminmax(x)), v
    # ResNet-20's gradients (one bucket), a 25 MiB bucket (the default bucket size)
    for n in [272_474, 6_553_600]:
        x = torch.randn(n)
        reps = max(5, 30_000_000 // n)
        old, new = [], []
        for _ in range(a.rounds):
            old.append(per_call_us(isfinite_all, x, reps))
            new.append(per_call_us(aminmax, x, reps))
        med = lambda v: sorted(v)[len(v) // 2]
        print(f"{n} floats: isfinite().all() {med(old):.0f} us, aminmax {med(new):.0f} us "
              f"(median of {a.rounds} alternating rounds of {reps} calls)")


if __name__ == "__main__":
    main()
