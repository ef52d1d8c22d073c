"""bench_torch.py - PyTorch's side of `make bench`, one thread.

Started by build/bench/bench as a second process, with Debian's /usr/bin/python3
(the one with torch 1.13). It prints "torch VERSION THREADS", then answers one
request per line on stdin, timing with the same rule as harness.c's
bench_time_calls, on the files bench.c wrote; it exits when stdin ends. Each
chapter's requests are a section below and a line in REQUESTS at the end.

Chapter 1, the table and the lookup:

    fill               ->  fill SECONDS             torch.manual_seed(seed);
                                                    nn.Embedding(vmax, dim), timed once
    refill             ->  refill SECONDS           torch.manual_seed(seed);
                                                    weight.normal_(), in place
    fillcheck SUM      ->  fillcheck SAME           SAME is 1 if the weight's int32 bit
                                                    patterns sum to SUM (bench.c's)
    lookup DIST V      ->  lookup DIST V MS SAME    F.embedding(idx, weight[:V])
    onehot V MIN       ->  onehot V MS SAME         F.one_hot(idx, V).float() @ weight[:V],
                                                    at least MIN timed calls

MS is the median milliseconds per call; SAME is 1 if the output of the first
batch has exactly the bits of bench.c's lookup output (out-DIST-V.f32).

Chapter 2, a dense training step on the first V rows of the same table, in
place, with the uniform batches and the upstream gradient G that bench.c wrote
(grad-out.f32):

    densecheck V SUM LR -> densecheck V SAME   one step on batch 0; SAME is 1 if
                                               the rows of batch 0 then have the
                                               bits of bench.c's (dense-V.f32) and
                                               the weight's bits sum to SUM
    dense V LR MIN      -> dense V MS          median ms per step, at least MIN
                                               timed steps

A step is what a training loop with a dense nn.Embedding and torch.optim.SGD
does: opt.zero_grad(set_to_none=False); emb(idx).backward(G); opt.step().
set_to_none=False is zero_grad's default in torch 1.13 (2.0 made it True): the
gradient is kept and zeroed in place, as the C step does. Then backward builds
a fresh zeroed (V, D) gradient, scatters G into it and adds it to .grad, and
SGD runs param.add_(grad, alpha=-lr) over the whole weight.

Chapter 4, the same step with torch.optim.Adam, with fresh state for each
request (freed when it returns), on the same table after both sides refilled
it (chapter 2's timed steps left the two tables different):

    adamcheck V SUM LR -> adamcheck V SAME     one step on batch 0, compared as
                                               densecheck does (adam-V.f32)
    adam V LR MIN      -> adam V MS            median ms per step, at least MIN
                                               timed steps

Chapter 6, sparse steps on the first V rows of the table, trained in place,
with the uniform or Zipf batches and G:

    sparse KIND DIST V BUDGET MIN -> sparse KIND DIST V MS
        KIND lookup: F.embedding(idx, weight[:V]);
        KIND sgd:    a step of nn.Embedding(sparse=True) and torch.optim.SGD(lr=0.01);
        KIND adam:   the same with torch.optim.SparseAdam (default options);
        median ms per call within a budget of BUDGET seconds, at least MIN calls
    sparsefree                    -> sparsefree   frees SparseAdam's moments

SparseAdam's two moments are made once, for the whole table, zeroed (so their
memory exists before the clock starts, as on the C side), and every "sparse
adam" request steps on their first V rows; "sparsefree" drops them.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def time_calls(fn, nbatches, budget, min_calls, max_calls):
    """Median ms per call of fn(b), call c taking batch c % nbatches, after one
    warm-up pass over the batches (cut short after a quarter of the budget):
    the rule of harness.c's bench_time_calls."""
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
        self.weight = None
        self.moments = None  # chapter 6: SparseAdam's (exp_avg, exp_avg_sq), (vmax, dim)

    def load(self, name, dtype, count):
        """A file bench.c wrote, as a 1-D tensor of count values."""
        path = os.path.join(self.args.dir, name)
        return torch.from_file(path, shared=False, size=count, dtype=dtype)

    def time(self, fn, nbatches, min_calls=None):
        a = self.args
        return time_calls(fn, nbatches, a.budget, min_calls or a.min_calls, a.max_calls)

    # -- chapter 1: the table ------------------------------------------------

    def fill(self):
        a = self.args
        t0 = time.perf_counter()
        torch.manual_seed(a.seed)
        emb = nn.Embedding(a.vmax, a.dim)
        s = time.perf_counter() - t0
        # A plain tensor sharing the weight's memory, so that F.embedding
        # records no autograd graph - the C side keeps none either.
        self.weight = emb.weight.detach()
        return f"fill {s:.6f}"

    def refill(self):
        t0 = time.perf_counter()
        torch.manual_seed(self.args.seed)
        self.weight.normal_()  # what nn.Embedding's reset_parameters runs
        return f"refill {time.perf_counter() - t0:.6f}"

    @staticmethod
    def bits_sum(w):
        """The sum of w's values read as int32 bit patterns, as harness.c's bench_bits_sum
        (NumPy widens to int64 a buffer at a time, without a 5 GB copy)."""
        bits = w.detach().contiguous().view(torch.int32).view(-1).numpy()
        return int(bits.sum(dtype=np.int64))

    def fillcheck(self, c_sum):
        return f"fillcheck {int(self.bits_sum(self.weight) == int(c_sum))}"

    # -- chapter 1: the lookup -----------------------------------------------

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
        V = int(V)
        batches = self.batches(dist, V)
        w = self.weight[:V]  # the first V rows: a (V, dim) table, as on the C side
        same = self.same_as_c(F.embedding(batches[0], w), dist, V)
        ms = self.time(lambda b: F.embedding(batches[b], w), self.args.batches)
        return f"lookup {dist} {V} {ms:.6f} {int(same)}"

    def onehot(self, V, min_calls):
        V = int(V)
        idx = self.batches("uniform", V)[0]
        w = self.weight[:V]
        same = self.same_as_c(F.one_hot(idx, V).float() @ w, "uniform", V)
        ms = self.time(lambda b: F.one_hot(idx, V).float() @ w, 1, int(min_calls))
        return f"onehot {V} {ms:.6f} {int(same)}"

    # -- chapter 2: a dense training step ------------------------------------

    def dense_model(self, V, lr):
        """A dense nn.Embedding on the table's first V rows (sharing its memory, as
        the C side trains its table in place) and plain SGD on it."""
        emb = nn.Embedding.from_pretrained(self.weight[:V], freeze=False)
        assert emb.weight.data_ptr() == self.weight.data_ptr() and not emb.sparse
        return emb, torch.optim.SGD(emb.parameters(), lr=lr)

    def grad_out(self):
        """G, the upstream gradient (N, D) bench.c drew and wrote."""
        a = self.args
        return self.load("grad-out.f32", torch.float32, a.n * a.dim).view(a.n, a.dim)

    @staticmethod
    def train_step(emb, opt, idx, G):
        opt.zero_grad(set_to_none=False)  # 1.13's default
        emb(idx).backward(G)              # the loss sum(out * G) has gradient G
        opt.step()

    def densecheck(self, V, c_sum, lr):
        V = int(V)
        batches = self.batches("uniform", V)
        emb, opt = self.dense_model(V, float(lr))
        self.train_step(emb, opt, batches[0], self.grad_out())
        a = self.args
        c_rows = self.load(f"dense-{V}.f32", torch.float32, a.n * a.dim).view(a.n, a.dim)
        with torch.no_grad():
            same = torch.equal(emb(batches[0]), c_rows) and self.bits_sum(emb.weight) == int(c_sum)
        return f"densecheck {V} {int(same)}"

    def dense(self, V, lr, min_calls):
        V = int(V)
        batches = self.batches("uniform", V)
        emb, opt = self.dense_model(V, float(lr))
        G = self.grad_out()
        ms = self.time(lambda b: self.train_step(emb, opt, batches[b], G), self.args.batches,
                       int(min_calls))
        return f"dense {V} {ms:.6f}"

    # -- chapter 4: a dense Adam step ----------------------------------------

    def adam_model(self, V, lr):
        """A dense nn.Embedding on the table's first V rows and a fresh Adam on it."""
        emb = nn.Embedding.from_pretrained(self.weight[:V], freeze=False)
        assert emb.weight.data_ptr() == self.weight.data_ptr() and not emb.sparse
        return emb, torch.optim.Adam(emb.parameters(), lr=lr)

    def adamcheck(self, V, c_sum, lr):
        V = int(V)
        batches = self.batches("uniform", V)
        emb, opt = self.adam_model(V, float(lr))
        self.train_step(emb, opt, batches[0], self.grad_out())
        a = self.args
        c_rows = self.load(f"adam-{V}.f32", torch.float32, a.n * a.dim).view(a.n, a.dim)
        with torch.no_grad():
            same = torch.equal(emb(batches[0]), c_rows) and self.bits_sum(emb.weight) == int(c_sum)
        return f"adamcheck {V} {int(same)}"

    def adam(self, V, lr, min_calls):
        V = int(V)
        batches = self.batches("uniform", V)
        emb, opt = self.adam_model(V, float(lr))
        G = self.grad_out()
        ms = self.time(lambda b: self.train_step(emb, opt, batches[b], G), self.args.batches,
                       int(min_calls))
        return f"adam {V} {ms:.6f}"

    # -- chapter 5: weight tying ---------------------------------------------

    def tying(self, V, D, B, tied, lr):
        """One Adam step of chapter 5's model (no hidden layer, a bias), tied or not:
        inputs the first B indices of a uniform batch, targets the next B."""
        V, D, B, tied = int(V), int(D), int(B), bool(int(tied))
        batches = self.batches("uniform", V)
        torch.manual_seed(0)
        emb = nn.Embedding(V, D)
        proj = nn.Linear(D, V)
        if tied:
            proj.weight = emb.weight
        params = list(nn.ModuleList([emb, proj]).parameters())  # the tied weight once
        opt = torch.optim.Adam(params, lr=float(lr))

        def step(b):
            x = batches[b]
            opt.zero_grad(set_to_none=False)
            loss = F.cross_entropy(proj(emb(x[:B])), x[B:2 * B])
            loss.backward()
            opt.step()
            return loss

        first = step(0).item()
        ms = self.time(step, self.args.batches)
        return f"tying {ms:.6f} {first:.6f}"

    # -- chapter 6: sparse steps -----------------------------------------------

    def sparse_adam(self, emb):
        """torch.optim.SparseAdam on emb, its state the first V rows of moments
        made once for the whole table (what its first step would allocate)."""
        if self.moments is None:
            a = self.args
            self.moments = (torch.zeros(a.vmax, a.dim), torch.zeros(a.vmax, a.dim))
        opt = torch.optim.SparseAdam(emb.parameters())
        V = emb.weight.shape[0]
        opt.state[emb.weight] = {"step": 0, "exp_avg": self.moments[0][:V],
                                 "exp_avg_sq": self.moments[1][:V]}
        return opt

    def sparse(self, kind, dist, V, budget, min_calls):
        V = int(V)
        batches = self.batches(dist, V)
        if kind not in ("lookup", "sgd", "adam"):
            sys.exit(f"bench_torch.py: unknown kind of sparse case: {kind}")
        emb = nn.Embedding.from_pretrained(self.weight[:V], freeze=False, sparse=True)
        assert emb.weight.data_ptr() == self.weight.data_ptr() and emb.sparse
        opt = (torch.optim.SGD(emb.parameters(), lr=0.01) if kind == "sgd"
               else self.sparse_adam(emb) if kind == "adam" else None)
        G = self.grad_out()
        w = self.weight[:V]

        def fn(b):
            if opt is None:
                F.embedding(batches[b], w)
            else:
                self.train_step(emb, opt, batches[b], G)
        a = self.args
        ms = time_calls(fn, a.batches, float(budget), int(min_calls), a.max_calls)
        return f"sparse {kind} {dist} {V} {ms:.6f}"

    def sparsefree(self):
        self.moments = None
        return "sparsefree done"

# Each request: its first word, the number of words after it, the method.
REQUESTS = {
    "fill": (0, Bench.fill),
    "refill": (0, Bench.refill),
    "fillcheck": (1, Bench.fillcheck),
    "lookup": (2, Bench.lookup),
    "onehot": (2, Bench.onehot),
    "densecheck": (3, Bench.densecheck),
    "dense": (3, Bench.dense),
    "adamcheck": (3, Bench.adamcheck),
    "adam": (3, Bench.adam),
    "tying": (5, Bench.tying),
    "sparse": (5, Bench.sparse),
    "sparsefree": (0, Bench.sparsefree),
}


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
    args = p.parse_args()

    torch.set_num_threads(1)
    print(f"torch\t{torch.__version__}\t{torch.get_num_threads()}", flush=True)
    bench = Bench(args)
    for line in sys.stdin:
        words = line.split()
        nargs, method = REQUESTS.get(words[0] if words else "", (None, None))
        if method is None or len(words) != nargs + 1:
            sys.exit(f"bench_torch.py: unknown request: {line.strip()}")
        print(method(bench, *words[1:]), flush=True)


if __name__ == "__main__":
    main()
