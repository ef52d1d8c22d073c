#!/usr/bin/python3
"""Which multiply-adds does torch 1.13's CPU kernels fuse? (chapter 4)

Run by hand with Debian's python3-torch: /usr/bin/python3 tests/reference/fma_sites.py

Each tensor operation an optimizer uses is run on random float32 tensors and
its bits are compared with NumPy emulations of the candidate formulas: one
tensor of 1,013 values (the kernels' vector body and a tail) and 3,000
tensors of 15 values (the scalar tail only). A fused multiply-add
fma(a, b, c) is emulated as the float64 product (exact for two float32
values) plus c, rounded to float32; that can differ from a true fma only
in rare double-rounding cases, far fewer than the mismatches that decide.
"""
import numpy as np
import torch


def fma(a, b, c):
    return (np.float64(a) * np.float64(b) + np.float64(c)).astype(np.float32)


def mismatches(got, want):
    return int(np.sum(got.numpy().view(np.uint32) != np.asarray(want, np.float32).view(np.uint32)))


def trial(g, n, tally):
    a, b = torch.randn(n, generator=g), torch.randn(n, generator=g)
    c = torch.rand(n, generator=g) + 0.5
    A, B, C = a.numpy(), b.numpy(), c.numpy()
    s = np.float32(0.1)
    cases = {
        "add(b, alpha=0.1)": (a.add(b, alpha=0.1), {"fma(b, alpha, a)": fma(B, s, A),
                                                    "a + alpha*b": A + s * B}),
        "addcmul(a, a, value=-1)": (c.addcmul(a, a, value=-1),
                                    {"fma(-1*a, a, c)": fma(-A, A, C),
                                     "c + (-1*a)*a": C + (np.float32(-1) * A) * A}),
        "addcmul(b, c, value=0.3)": (a.addcmul(b, c, value=0.3),
                                     {"fma(0.3*b, c, a)": fma(np.float32(0.3) * B, C, A),
                                      "a + (0.3*b)*c": A + (np.float32(0.3) * B) * C}),
        "addcdiv(b, c, value=0.3)": (a.addcdiv(b, c, value=0.3),
                                     {"a + (0.3*b)/c": A + (np.float32(0.3) * B) / C,
                                      "fma(0.3, b/c, a)": fma(np.float32(0.3), B / C, A)}),
        "div(1.9235)": (c.div(1.9235), {"c / s": C / np.float32(1.9235),
                                        "c * (1/s)": C * np.float32(1 / 1.9235)}),
        "mul(0.9)": (a.mul(0.9), {"a * s": A * np.float32(0.9)}),
        "sqrt": (c.sqrt(), {"sqrtf": np.sqrt(C)}),
        "maximum": (torch.maximum(a, b), {"max": np.maximum(A, B)}),
    }
    for op, (got, cands) in cases.items():
        for name, want in cands.items():
            key = (op, name)
            bad, total = tally.get(key, (0, 0))
            tally[key] = (bad + mismatches(got, want), total + n)


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    for label, n, trials in (("1,013 values (vector body and tail)", 1013, 1),
                             ("15 values (scalar tail), 3,000 tensors", 15, 3000)):
        tally = {}
        for _ in range(trials):
            trial(g, n, tally)
        print(f"# {label}")
        for (op, name), (bad, total) in tally.items():
            print(f"{op:28s} {name:20s} {bad:6d} of {total} values differ")


if __name__ == "__main__":
    main()
