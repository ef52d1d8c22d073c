#!/usr/bin/python3
"""Writes tests/ch03_vectors.h: torch 1.13's embedding gradients across backward
calls, and max_norm's 2-norm rescaling, bit for bit.

Run by hand with Debian's python3-torch (tests never run it; they include the
header it wrote):

    /usr/bin/python3 tests/reference/ch03_vectors.py > tests/ch03_vectors.h

Accumulation: a table of ACC_V rows of ACC_D values, three backward calls with
no zero_grad between them, each looking rows up several times; recorded, the
gradient after each call, for plain F.embedding, for padding_idx, and for
scale_grad_by_freq. Autograd builds each call's gradient from zero and then
adds it to .grad, so a row's repeats are summed before they meet the old
gradient; the values are chosen so that the other order rounds differently.

Renorm: REN_ROWS rows of lengths 1 .. 70, each looked up once with
max_norm=1 and norm_type=2; recorded, each row before and after.
"""
import numpy as np
import torch

ACC_V, ACC_D = 5, 7
ACC_CALLS = [  # the indices of each backward call
    [0, 0, 3, 0, 1],
    [3, 0, 3, 4, 0, 0],
    [1, 0, 1, 3, 3, 3, 0],
]
REN_LENGTHS = list(range(1, 25)) + [31, 32, 33, 40, 47, 63, 64, 65, 67, 70]


def c_array(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).ravel()
    return "{" + ", ".join("0x%08x" % b for b in bits) + "}"


def accumulate(g, **options):
    """The gradient after each call, with the upstream rows of every call."""
    emb = torch.nn.Embedding(ACC_V, ACC_D, **options)
    ups, grads = [], []
    for idx in ACC_CALLS:
        # ones with small parts: summed first they survive, added one by one to
        # a gradient near 1 they round away
        up = 1.0 + torch.randn(len(idx), ACC_D, generator=g) * 2.0 ** -22
        if len(ups) == 0:
            up = torch.randn(len(idx), ACC_D, generator=g)
        emb(torch.tensor(idx)).backward(up)
        ups.append(up)
        grads.append(emb.weight.grad.clone())
    return ups, grads


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(3)
    print("// Written by tests/reference/ch03_vectors.py with torch %s; do not edit."
          % torch.__version__)
    print("// float32 bit patterns.\n#include <stdint.h>\n")
    print("enum { ACC_V = %d, ACC_D = %d, ACC_CALLS = %d, ACC_PADDING_IDX = 3 };"
          % (ACC_V, ACC_D, len(ACC_CALLS)))
    ns = [len(c) for c in ACC_CALLS]
    print("static const int64_t acc_n[ACC_CALLS] = {%s};" % ", ".join(map(str, ns)))
    flat = [i for c in ACC_CALLS for i in c]
    print("static const int64_t acc_idx[] = {%s};" % ", ".join(map(str, flat)))
    for name, options in [("plain", {}), ("padding", {"padding_idx": 3}),
                          ("freq", {"scale_grad_by_freq": True})]:
        ups, grads = accumulate(g, **options)
        print("// %s: the upstream rows of the calls, one after another, then the"
              " gradient after each call" % name)
        print("static const uint32_t acc_%s_up[] = %s;"
              % (name, c_array(torch.cat(ups).numpy())))
        print("static const uint32_t acc_%s_grad[ACC_CALLS][ACC_V * ACC_D] = {%s};"
              % (name, ", ".join(c_array(x.numpy()) for x in grads)))
    rows_before, rows_after = [], []
    for D in REN_LENGTHS:
        w = torch.randn(1, D, generator=g) * (0.5 + 3.0 * torch.rand(1, generator=g))
        emb = torch.nn.Embedding.from_pretrained(w.clone(), max_norm=1.0, norm_type=2.0)
        with torch.no_grad():
            emb(torch.zeros(1, dtype=torch.long))
        rows_before.append(w[0].numpy())
        rows_after.append(emb.weight[0].detach().numpy())
    print("\nenum { REN_ROWS = %d };" % len(REN_LENGTHS))
    print("static const int64_t ren_d[REN_ROWS] = {%s};" % ", ".join(map(str, REN_LENGTHS)))
    print("// rows one after another, before and after max_norm=1, norm_type=2")
    print("static const uint32_t ren_before[] = %s;" % c_array(np.concatenate(rows_before)))
    print("static const uint32_t ren_after[] = %s;" % c_array(np.concatenate(rows_after)))


if __name__ == "__main__":
    main()
