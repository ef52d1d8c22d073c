"""bench_ch06_torch.py - PyTorch's side of chapter 6's part of `make bench`.

Started by build/bench/bench_ch06 as a second process, with Debian's
/usr/bin/python3 (torch 1.13), one thread. It allocates a (vmax, dim) table,
says "ready", then answers one request per line on stdin, on the index files
bench_ch06.c wrote (ch06-idx-DIST-V.i64, B batches of N) and its upstream
gradient (ch06-grad.f32, (N, dim)):

    lookup DIST V  ->  MS    F.embedding(idx, weight[:V])
    sgd DIST V     ->  MS    a step of nn.Embedding(sparse=True) + torch.optim.SGD
    adam DIST V    ->  MS    the same with torch.optim.SparseAdam
    dsgd V, dadam V ->  MS   a dense nn.Embedding + torch.optim.SGD / Adam

A step is opt.zero_grad(); emb(idx).backward(G); opt.step(), on the table's
first V rows, trained in place. MS is the median milliseconds per call after
a warm-up pass over the batches, within a time budget (the C side's rule).
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_ms(fn, nbatches, budget, min_calls, max_calls):
    start = time.perf_counter()
    for b in range(nbatches):
        fn(b)
        if time.perf_counter() - start > budget / 4:
            break
    times = []
    start = time.perf_counter()
    while len(times) < max_calls and (len(times) < min_calls or
                                      time.perf_counter() - start < budget):
        t0 = time.perf_counter_ns()
        fn(len(times) % nbatches)
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[len(times) // 2] / 1e6


def main():
    p = argparse.ArgumentParser()
    for k in ("vmax", "dim", "n", "batches", "min_calls", "max_calls"):
        p.add_argument("--" + k, type=int, required=True)
    p.add_argument("--budget", type=float, required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    torch.set_num_threads(1)
    weight = torch.empty(a.vmax, a.dim).uniform_(-1, 1)
    G = torch.from_file(os.path.join(a.dir, "ch06-grad.f32"), size=a.n * a.dim,
                        dtype=torch.float32).view(a.n, a.dim)
    cache = {}

    def batches(dist, V):
        if (dist, V) not in cache:
            cache.clear()
            idx = torch.from_file(os.path.join(a.dir, f"ch06-idx-{dist}-{V}.i64"),
                                  size=a.batches * a.n, dtype=torch.int64)
            cache[dist, V] = list(idx.view(a.batches, a.n))
        return cache[dist, V]

    def step_ms(V, sparse, make_opt, dist="uniform"):
        emb = nn.Embedding.from_pretrained(weight[:V], freeze=False, sparse=sparse)
        opt = make_opt(emb.parameters())
        bs = batches(dist, V)

        def step(b):
            opt.zero_grad()
            emb(bs[b]).backward(G)
            opt.step()
        return median_ms(step, a.batches, a.budget, a.min_calls, a.max_calls)

    print(f"torch\t{torch.__version__}\t{torch.get_num_threads()}", flush=True)
    print("ready", flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "lookup":
            bs, t = batches(w[1], int(w[2])), weight[:int(w[2])]
            ms = median_ms(lambda b: F.embedding(bs[b], t), a.batches, a.budget,
                           a.min_calls, a.max_calls)
        elif w[0] == "sgd":
            ms = step_ms(int(w[2]), True, lambda p: torch.optim.SGD(p, lr=0.01), w[1])
        elif w[0] == "adam":
            ms = step_ms(int(w[2]), True, lambda p: torch.optim.SparseAdam(p), w[1])
        elif w[0] == "dsgd":
            ms = step_ms(int(w[1]), False, lambda p: torch.optim.SGD(p, lr=0.01))
        elif w[0] == "dadam":
            ms = step_ms(int(w[1]), False, lambda p: torch.optim.Adam(p))
        else:
            print(f"error unknown request {line.strip()}", flush=True)
            continue
        print(f"{ms:.6f}", flush=True)


if __name__ == "__main__":
    main()
