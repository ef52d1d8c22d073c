"""bench_torch.py - PyTorch's side of `make bench` (chapter 1's lookup, chapter 2's dense step).

Started by build/bench/bench as a second process, with Debian's /usr/bin/python3
(the one with torch 1.13). It builds the same table the C side builds
(torch.manual_seed(seed), then the N(0, 1) fill of nn.Embedding(vmax, dim)),
says "ready", then answers one request per line on stdin, timing on one thread
with the same rule as bench.c's time_calls, on the index files bench.c wrote:

    lookup DIST V  ->  lookup DIST V MS SAME    F.embedding(idx, weight[:V])
    onehot V       ->  onehot V MS SAME         F.one_hot(idx, V).float() @ weight[:V]

MS is the median milliseconds per call; SAME is 1 if the output of the first
batch has exactly the bits of bench.c's lookup output (out-DIST-V.f32).

After the lookups, chapter 2's dense training step trains the first V rows of
the same table in place, with the uniform batches and the upstream gradient G
that bench.c wrote (grad-out.f32):

    densecheck V SUM -> densecheck V SAME   one step on batch 0; SAME is 1 if the
                                            rows of batch 0 then have the bits of
                                            bench.c's (dense-V.f32) and the
                                            weight's int32 bit patterns sum to SUM
    dense V          -> dense V MS          median ms per step

A step is what a training loop with a dense nn.Embedding and torch.optim.SGD
does: opt.zero_grad(set_to_none=False); emb(idx).backward(G); opt.step().
set_to_none=False is zero_grad's default in torch 1.13 (2.0 made it True): the
gradient is kept and zeroed in place, as the C step does. Then backward builds
a fresh zeroed (V, D) gradient, scatters G into it and adds it to .grad, and
SGD runs param.add_(grad, alpha=-lr) over the whole weight.
It exits when stdin ends.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def time_calls(fn, nbatches, budget, min_calls, max_calls):
    """Median ms per call of fn(b), call c taking batch c % nbatches, after one
    warm-up pass over the batches (cut short after a quarter of the budget):
    the rule of bench.c's time_calls."""
    start = time.perf_counter()
    for b in range(nbatches):
        fn(b)
        if time.perf_counter() - start > budget / 4:
            break
    times = []
    start = time.perf_counter()
    while len(times) < max_calls and (len(times) < min_calls or time.perf_counter() - start < budget):
        b = len(times) % nbatches
        t0 = time.perf_counter_ns()
        fn(b)
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    n = len(times)
    median_ns = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    return median_ns / 1e6


class Bench:
    """The table, the index batches (loaded once per set) and the requests."""

    def __init__(self, args):
        self.args = args
        self.sets = {}
        # What nn.Embedding(vmax, dim) holds after torch.manual_seed(seed): it is
        # torch.empty(vmax, dim) then init.normal_. A plain tensor, so that
        # F.embedding records no autograd graph - the C side keeps none either.
        torch.manual_seed(args.seed)
        self.weight = torch.empty(args.vmax, args.dim).normal_()

    def load(self, name, dtype, count):
        """A file bench.c wrote, as a 1-D tensor of count values."""
        path = os.path.join(self.args.dir, name)
        return torch.from_file(path, shared=False, size=count, dtype=dtype)

    def batches(self, dist, V):
        """The index set (dist, V) as a list of (n,) tensors, one per batch."""
        if (dist, V) not in self.sets:
            a = self.args
            idx = self.load(f"idx-{dist}-{V}.i64", torch.int64, a.batches * a.n)
            self.sets[dist, V] = list(idx.view(a.batches, a.n))
        return self.sets[dist, V]

    def same_as_c(self, out, dist, V):
        """True if out has exactly the bits of bench.c's lookup of batch 0."""
        a = self.args
        c_out = self.load(f"out-{dist}-{V}.f32", torch.float32, a.n * a.dim).view(a.n, a.dim)
        return torch.equal(out, c_out)

    def lookup(self, dist, V):
        batches = self.batches(dist, V)
        w = self.weight[:V]  # the first V rows: a (V, dim) table, as on the C side
        same = self.same_as_c(F.embedding(batches[0], w), dist, V)
        a = self.args
        ms = time_calls(lambda b: F.embedding(batches[b], w), a.batches, a.budget,
                        a.min_calls, a.max_calls)
        return f"lookup {dist} {V} {ms:.6f} {int(same)}"

    def onehot(self, V):
        idx = self.batches("uniform", V)[0]
        w = self.weight[:V]
        same = self.same_as_c(F.one_hot(idx, V).float() @ w, "uniform", V)
        a = self.args
        ms = time_calls(lambda b: F.one_hot(idx, V).float() @ w, 1, a.budget,
                        a.min_calls, a.max_calls)
        return f"onehot {V} {ms:.6f} {int(same)}"

    def dense_model(self, V):
        """A dense nn.Embedding on the table's first V rows (sharing its memory, as
        the C side trains its table in place) and plain SGD on it."""
        emb = nn.Embedding.from_pretrained(self.weight[:V], freeze=False)
        assert emb.weight.data_ptr() == self.weight.data_ptr() and not emb.sparse
        return emb, torch.optim.SGD(emb.parameters(), lr=self.args.lr)

    def grad_out(self):
        """G, the upstream gradient (N, D) bench.c drew and wrote."""
        a = self.args
        return self.load("grad-out.f32", torch.float32, a.n * a.dim).view(a.n, a.dim)

    @staticmethod
    def dense_step(emb, opt, idx, G):
        opt.zero_grad(set_to_none=False)  # 1.13's default
        emb(idx).backward(G)              # the loss sum(out * G) has gradient G
        opt.step()

    @staticmethod
    def bits_sum(w):
        """The sum of w's values read as int32 bit patterns, as bench.c's bits_sum."""
        bits = w.view(torch.int32).view(-1)
        return sum(int(c.sum(dtype=torch.int64)) for c in bits.split(1 << 22))

    def dense_check(self, V, c_sum):
        batches = self.batches("uniform", V)
        emb, opt = self.dense_model(V)
        self.dense_step(emb, opt, batches[0], self.grad_out())
        a = self.args
        c_rows = self.load(f"dense-{V}.f32", torch.float32, a.n * a.dim).view(a.n, a.dim)
        with torch.no_grad():
            same = torch.equal(emb(batches[0]), c_rows) and self.bits_sum(emb.weight) == c_sum
        return f"densecheck {V} {int(same)}"

    def dense(self, V):
        batches = self.batches("uniform", V)
        emb, opt = self.dense_model(V)
        G = self.grad_out()
        a = self.args
        ms = time_calls(lambda b: self.dense_step(emb, opt, batches[b], G), a.batches, a.budget,
                        a.min_calls, a.max_calls)
        return f"dense {V} {ms:.6f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--batches", type=int, required=True)
    p.add_argument("--vmax", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--budget", type=float, required=True)
    p.add_argument("--min-calls", type=int, required=True)
    p.add_argument("--max-calls", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    args = p.parse_args()

    torch.set_num_threads(1)
    print(f"torch\t{torch.__version__}\t{torch.get_num_threads()}", flush=True)
    t0 = time.perf_counter()
    bench = Bench(args)
    print(f"fill\t{time.perf_counter() - t0:.3f}", flush=True)
    print("ready", flush=True)

    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["lookup"] and len(words) == 3:
            print(bench.lookup(words[1], int(words[2])), flush=True)
        elif words[:1] == ["onehot"] and len(words) == 2:
            print(bench.onehot(int(words[1])), flush=True)
        elif words[:1] == ["densecheck"] and len(words) == 3:
            print(bench.dense_check(int(words[1]), int(words[2])), flush=True)
        elif words[:1] == ["dense"] and len(words) == 2:
            print(bench.dense(int(words[1])), flush=True)
        else:
            sys.exit(f"bench_torch.py: unknown request: {line.strip()}")


if __name__ == "__main__":
    main()
