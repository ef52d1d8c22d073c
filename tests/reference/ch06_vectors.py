#!/usr/bin/python3
"""Writes tests/ch06_vectors.h: torch 1.13's SparseAdam on one row, bit for bit.

Run by hand with Debian's python3-torch (tests never run it; they include the
header it wrote):

    /usr/bin/python3 tests/reference/ch06_vectors.py > tests/ch06_vectors.h

A table of one row of 67 values (64 in the vector body of PyTorch's AVX2
kernels, 3 in their scalar tail), trained with SparseAdam(lr=0.01) for 4
steps that all look the row up, so from step 2 on its moments are not zero:
step 1 once, step 2 three times, step 3 twice with opposite upstream rows
(the gradient is a row of zeros, which coalesce() keeps and SparseAdam still
steps), step 4 once. Recorded: the upstream rows, the coalesced gradient of
each step, and the weight, exp_avg and exp_avg_sq after each step.
"""
import numpy as np
import torch

N, STEPS, LR = 67, 4, 0.01


def c_array(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).ravel()
    return "{" + ", ".join("0x%08x" % b for b in bits) + "}"


def c_arrays(rows):
    return "{" + ", ".join(c_array(r) for r in rows) + "}"


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(6)
    w0 = torch.randn(1, N, generator=g)
    x = torch.randn(N, generator=g)
    ups = [  # each step's upstream rows, one per position
        [torch.randn(N, generator=g)],
        [torch.randn(N, generator=g) * 0.3 for _ in range(3)],
        [x, -x],
        [torch.randn(N, generator=g) * 2.0],
    ]
    emb = torch.nn.Embedding.from_pretrained(w0.clone(), freeze=False, sparse=True)
    opt = torch.optim.SparseAdam(emb.parameters(), lr=LR)
    grads, after_w, after_m, after_v = [], [], [], []
    for rows in ups:
        opt.zero_grad()
        out = emb(torch.zeros(len(rows), dtype=torch.long))
        out.backward(torch.stack(rows))
        c = emb.weight.grad.coalesce()
        assert c.indices().tolist() == [[0]]
        grads.append(c.values()[0].clone())
        opt.step()
        st = opt.state[emb.weight]
        after_w.append(emb.weight.detach()[0].clone())
        after_m.append(st["exp_avg"][0].clone())
        after_v.append(st["exp_avg_sq"][0].clone())
    print("// Written by tests/reference/ch06_vectors.py with torch %s; do not edit." % torch.__version__)
    print("// float32 bit patterns: SparseAdam(lr=%r) on a table of one row of SAV_N values," % LR)
    print("// looked up 1, 3, 2 (opposite upstream rows: a zero gradient) and 1 times in")
    print("// the 4 steps (chapter 6's tests).")
    print("#define SAV_N %d" % N)
    print("#define SAV_STEPS %d" % STEPS)
    print("#define SAV_LR %r" % LR)
    print("static const int SAV_LOOKUPS[SAV_STEPS] = {%s};" % ", ".join(str(len(r)) for r in ups))
    print("static const uint32_t SAV_W0[SAV_N] = %s;" % c_array(w0[0]))
    print("// the upstream rows of each step (unused ones zero)")
    print("static const uint32_t SAV_UP[SAV_STEPS][3][SAV_N] = {%s};"
          % ", ".join(c_arrays(r + [torch.zeros(N)] * (3 - len(r))) for r in ups))
    print("// grad.coalesce().values()[0] of each step")
    print("static const uint32_t SAV_GRAD[SAV_STEPS][SAV_N] = %s;" % c_arrays(grads))
    print("// after each step: the weight, exp_avg and exp_avg_sq")
    print("static const uint32_t SAV_W[SAV_STEPS][SAV_N] = %s;" % c_arrays(after_w))
    print("static const uint32_t SAV_M[SAV_STEPS][SAV_N] = %s;" % c_arrays(after_m))
    print("static const uint32_t SAV_V[SAV_STEPS][SAV_N] = %s;" % c_arrays(after_v))


if __name__ == "__main__":
    main()
