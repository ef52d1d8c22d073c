#!/usr/bin/python3
"""Writes the PyTorch reference files tests/reference/*.ref (format: FORMAT.md).

Run it by hand with Debian's python3-torch (another python3 may come first on
PATH and have no torch):

    /usr/bin/python3 tests/reference/generate.py

It needs an x86-64 CPU with AVX2, because the init cases record which path
PyTorch's normal_ took; the scalar-path cases come from a second process run
with ATEN_CPU_CAPABILITY=default. Every file records the torch version that
made it. The output is deterministic: running it twice writes the same bytes.
Tests never run this script; they read the committed files.

Each case is built by running the real PyTorch module on small inputs and
writing down the inputs and what PyTorch computed, step by step.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ATOL, RTOL = 1e-6, 1e-5  # float32-tight; FORMAT.md explains why and where they apply
VALUES_PER_LINE = 1000  # a longer row continues over lines ending in " \" (FORMAT.md)


# ---------------------------------------------------------------------------
# Writing the format
# ---------------------------------------------------------------------------

def scalar_text(value):
    """The text of a scalar value: none, true/false, an integer or a real."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same double
    return str(value)


class RefWriter:
    """Collects the lines of one reference file and writes it atomically."""

    def __init__(self, filename, title):
        self.path = os.path.join(HERE, filename)
        self.lines = [
            f"# {title}",
            "# Made by tests/reference/generate.py with Debian's python3-torch; do not edit by hand.",
            "# Format: tests/reference/FORMAT.md",
            "embref 1",
            f"torch {torch.__version__}",
            "generator tests/reference/generate.py",
        ]
        self.names = set()

    def case(self, name, kind, note=None):
        assert name not in self.names, name
        self.names.add(name)
        self.lines.append("")
        if note:
            self.lines.append(f"# {note}")
        self.lines.append(f"case {name} {kind}")

    def scalar(self, key, value, indent=1):
        self.lines.append("  " * indent + f"{key} {scalar_text(value)}")

    def tensor(self, key, t, kind="f32", indent=1):
        """Writes a tensor header and one line per row of its last dimension.

        A row of more than VALUES_PER_LINE values (a model's logits or bias at
        V = 7000, say) continues over several lines, each but the last ending
        in " \\", so that no line comes near the reader's 65536-byte limit.
        """
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        if kind == "i64":
            a = a.astype(np.int64)
        else:
            a = a.astype(np.float32)
        shape = a.shape if a.ndim > 0 else (1,)
        self.lines.append("  " * indent + f"{key} {kind} " + " ".join(str(d) for d in shape))
        if a.size == 0:
            return
        rows = a.reshape(-1, shape[-1])
        pad = "  " * (indent + 1)
        for row in rows:
            if kind == "bits32":
                values = ["%08x" % v for v in row.view(np.uint32)]
            elif kind == "i64":
                values = [str(int(v)) for v in row]
            else:
                values = [str(v) for v in row]  # np.float32: shortest text that reads back
            for k in range(0, len(values), VALUES_PER_LINE):
                more = k + VALUES_PER_LINE < len(values)
                self.lines.append(pad + " ".join(values[k:k + VALUES_PER_LINE]) + (" \\" if more else ""))

    def step(self, n):
        self.lines.append(f"  step {n}")

    def end(self):
        self.lines.append("end")

    def save(self):
        text = "\n".join(self.lines) + "\n"
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)
        print(f"{os.path.relpath(self.path)}: {len(self.names)} cases, {len(text)} bytes")


def tolerances(w, atol=ATOL, rtol=RTOL):
    w.scalar("atol", atol)
    w.scalar("rtol", rtol)


def rand(gen, *shape):
    """float32 N(0,1) values from a private generator (inputs, not init cases)."""
    return torch.randn(*shape, generator=gen)


def seeded(name):
    """A generator seeded from a case name, so each case's inputs are stable."""
    g = torch.Generator()
    g.manual_seed(sum((i + 1) * b for i, b in enumerate(name.encode())) % (2 ** 31))
    return g


# ---------------------------------------------------------------------------
# Initialization: torch.manual_seed(seed); nn.Embedding(V, D, padding_idx)
# ---------------------------------------------------------------------------

def init_bits(seed, V, D, padding_idx):
    torch.manual_seed(seed)
    e = nn.Embedding(V, D, padding_idx=padding_idx)
    return e.weight.detach().numpy().copy()


def scalar_init_main():
    """Child process (ATEN_CPU_CAPABILITY=default): init cases on the scalar path."""
    cap = [l for l in torch.__config__.show().splitlines() if "CPU capability usage" in l]
    if not cap or "AVX" in cap[0].replace("NO AVX", ""):
        sys.exit(f"scalar child: expected no AVX, got {cap}")
    specs = json.load(sys.stdin)
    out = []
    for seed, V, D, p in specs:
        out.append(["%08x" % v for v in init_bits(seed, V, D, p).view(np.uint32).ravel()])
    json.dump(out, sys.stdout)


def scalar_path_weights(specs):
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--scalar-init"],
                         input=json.dumps(specs), capture_output=True, text=True, env=env,
                         check=True)
    weights = []
    for (seed, V, D, p), hexes in zip(specs, json.loads(res.stdout)):
        bits = np.array([int(h, 16) for h in hexes], dtype=np.uint32)
        weights.append(bits.view(np.float32).reshape(V, D))
    return weights


def write_init():
    w = RefWriter("init.ref", "Initialization: torch.manual_seed(seed); nn.Embedding(V, D, padding_idx), bit for bit")
    cap = [l for l in torch.__config__.show().splitlines() if "CPU capability usage" in l]
    assert cap and "AVX2" in cap[0], f"the avx2 cases need an AVX2 CPU; torch reports {cap}"

    def case(name, seed, V, D, p, path, weight, note=None):
        w.case(name, "init", note)
        w.scalar("seed", seed)
        w.scalar("V", V)
        w.scalar("D", D)
        w.scalar("padding_idx", p)
        w.scalar("path", path)
        w.tensor("weight", torch.from_numpy(weight), "bits32")
        w.end()

    # numel < 16: double Box-Muller; 16: one block; others: blocks plus a tail
    shapes = [(1, 1), (3, 1), (5, 3), (1, 15), (4, 4), (2, 8), (16, 1), (17, 1),
              (10, 4), (7, 5), (3, 17), (33, 3), (100, 16)]
    for seed in range(4):
        for V, D in shapes:
            if (V, D) == (100, 16) and seed > 1:
                continue
            case(f"init/seed{seed}-{V}x{D}", seed, V, D, None, "avx2", init_bits(seed, V, D, None))
    for seed, note in [(42, None), (12345, None),
                       (2 ** 32 + 5, "manual_seed uses only the low 32 bits: same table as seed 5"),
                       (5, None),
                       (2 ** 64 - 1, "the largest seed (what manual_seed(-1) stores)")]:
        for V, D in [(5, 3), (10, 4)]:
            case(f"init/seed{seed}-{V}x{D}", seed, V, D, None, "avx2", init_bits(seed, V, D, None), note)
    # padding: the row is drawn like the others, then zeroed
    pads = [(0, 4, 3, 1), (1, 10, 4, 0), (2, 10, 4, -1), (3, 7, 5, 6), (0, 5, 3, -5), (0, 100, 16, 37)]
    for seed, V, D, p in pads:
        case(f"init/seed{seed}-{V}x{D}-pad{p}", seed, V, D, p, "avx2", init_bits(seed, V, D, p),
             "padding_idx: the same draws as without padding, then the row is zeroed")
    # the scalar path (ATEN_CPU_CAPABILITY=default, or a CPU without AVX2)
    specs = [[seed, V, D, None] for seed in (0, 1)
             for V, D in [(5, 3), (4, 4), (2, 8), (10, 4), (7, 5), (3, 17), (33, 3), (100, 16)]]
    specs.append([0, 10, 4, 2])
    for (seed, V, D, p), weight in zip(specs, scalar_path_weights(specs)):
        suffix = f"-pad{p}" if p is not None else ""
        case(f"init/scalar/seed{seed}-{V}x{D}{suffix}", seed, V, D, p, "scalar", weight,
             "the scalar normal_ (glibc logf/cosf/sinf), as on a CPU without AVX2")
    w.save()


# ---------------------------------------------------------------------------
# Lookup: F.embedding(indices, weight)
# ---------------------------------------------------------------------------

def write_lookup():
    w = RefWriter("lookup.ref", "Lookup: F.embedding(indices, weight) gathers rows, or raises for a bad index")
    cases = [
        ("lookup/1d-repeats", 6, 3, [0, 5, 2, 2, 5, 0, 1]),
        ("lookup/2d", 5, 4, [[1, 2, 4], [1, 1, 0]]),
        ("lookup/3d", 7, 2, [[[6, 0, 3], [3, 3, 1]], [[2, 5, 4], [0, 0, 6]]]),
        ("lookup/single", 3, 5, [2]),
        ("lookup/empty", 4, 3, torch.zeros(0, dtype=torch.long)),
        ("lookup/empty-2d", 4, 3, torch.zeros(2, 0, dtype=torch.long)),
        ("lookup/last-row", 50, 2, [49, 0, 49, 48]),
        ("lookup/all-same", 4, 3, [3] * 20),
        ("lookup/wide", 4, 64, [3, 0, 3]),
        ("lookup/one-row", 1, 4, [0, 0, 0]),
        ("lookup/row-of-1001", 1, 1001, [0]),  # rows continue over two lines (VALUES_PER_LINE)
    ]
    for name, V, D, idx in cases:
        weight = rand(seeded(name), V, D)
        idx = torch.as_tensor(idx, dtype=torch.long)
        out = F.embedding(idx, weight)
        w.case(name, "lookup")
        w.scalar("V", V)
        w.scalar("D", D)
        tolerances(w, 0.0, 0.0)  # a lookup copies rows: exact
        w.tensor("weight", weight)
        w.tensor("indices", idx, "i64")
        w.tensor("output", out)
        w.end()
    errors = [
        ("lookup/error-index-V", 5, 3, [0, 5, 1], "index V is one past the last row"),
        ("lookup/error-negative", 5, 3, [-1], "no Python-style wrap-around: -1 is out of range"),
        ("lookup/error-huge", 5, 3, [2, 2 ** 40], None),
        ("lookup/error-2d", 4, 2, [[0, 1], [2, 9]], None),
    ]
    for name, V, D, idx, note in errors:
        weight = rand(seeded(name), V, D)
        idx = torch.as_tensor(idx, dtype=torch.long)
        try:
            F.embedding(idx, weight)
            raise AssertionError(f"{name}: torch did not raise")
        except IndexError as e:
            assert "index out of range in self" in str(e), e
        w.case(name, "lookup", note)
        w.scalar("V", V)
        w.scalar("D", D)
        w.tensor("weight", weight)
        w.tensor("indices", idx, "i64")
        w.scalar("error", "index_out_of_range")
        w.end()
    w.save()


# ---------------------------------------------------------------------------
# Training trajectories: lookup, loss = sum(output * G), backward, step
# ---------------------------------------------------------------------------

# Keys written for each optimizer, in torch's own names (betas split in two).
OPTIMIZER_KEYS = {
    "sgd": ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"],
    "adam": ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"],
    "adamw": ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"],
    "adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"],
    "rmsprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"],
    "sparse_adam": ["lr", "beta1", "beta2", "eps", "maximize"],
}
OPTIMIZER_CLASSES = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
    "sparse_adam": torch.optim.SparseAdam,
}


def make_optimizer(params, opt):
    """The torch optimizer for opt = {"name": ..., hyperparameters...}; None for none."""
    if opt is None or opt["name"] == "none":
        return None
    kw = {k: v for k, v in opt.items() if k not in ("name", "beta1", "beta2")}
    if "beta1" in opt or "beta2" in opt:
        kw["betas"] = (opt.get("beta1", 0.9), opt.get("beta2", 0.999))
    return OPTIMIZER_CLASSES[opt["name"]](params, **kw)


def write_optimizer(w, opt):
    """Writes the optimizer and every one of its hyperparameters, defaults included."""
    if opt is None or opt["name"] == "none":
        w.scalar("optimizer", "none")
        return
    o = make_optimizer([torch.zeros(1, requires_grad=True)], opt)
    group = o.param_groups[0]
    w.scalar("optimizer", opt["name"])
    for key in OPTIMIZER_KEYS[opt["name"]]:
        if key == "beta1":
            value = group["betas"][0]
        elif key == "beta2":
            value = group["betas"][1]
        else:
            value = group[key]
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        w.scalar(key, value)


def write_options(w, opts, zero_grad, opt):
    w.scalar("padding_idx", opts.get("padding_idx"))
    mn = opts.get("max_norm")
    w.scalar("max_norm", None if mn is None else float(mn))
    w.scalar("norm_type", float(opts.get("norm_type", 2.0)))
    w.scalar("scale_grad_by_freq", opts.get("scale_grad_by_freq", False))
    w.scalar("sparse", opts.get("sparse", False))
    w.scalar("zero_grad", zero_grad)
    write_optimizer(w, opt)


def dense(grad):
    if grad is None:
        return None
    return grad.coalesce().to_dense() if grad.is_sparse else grad


def train_case(w, name, V, D, weight, steps, opts=None, opt=None, zero_grad=True, note=None,
               atol=ATOL, rtol=RTOL):
    """Runs nn.Embedding plus an optimizer over steps [(indices, G)], writing every step."""
    opts = opts or {}
    emb = nn.Embedding(V, D, padding_idx=opts.get("padding_idx"), max_norm=opts.get("max_norm"),
                       norm_type=opts.get("norm_type", 2.0),
                       scale_grad_by_freq=opts.get("scale_grad_by_freq", False),
                       sparse=opts.get("sparse", False))
    with torch.no_grad():
        emb.weight.copy_(weight)  # also a nonzero padding row, as from_pretrained keeps it
    optimizer = make_optimizer([emb.weight], opt)
    w.case(name, "train", note)
    w.scalar("V", V)
    w.scalar("D", D)
    write_options(w, opts, zero_grad, opt)
    tolerances(w, atol, rtol)
    w.tensor("weight", weight)
    for n, (idx, G) in enumerate(steps, 1):
        idx = torch.as_tensor(idx, dtype=torch.long)
        G = torch.as_tensor(G, dtype=torch.float32)
        if zero_grad:
            (optimizer or emb).zero_grad()
        out = emb(idx)
        (out * G).sum().backward()
        grad = emb.weight.grad
        grad_dense = dense(grad).clone()
        # an empty gradient can come back with values of shape (0,): written as (0, D)
        raw = ((grad._indices()[0].clone(), grad._values().clone().reshape(-1, D))
               if grad.is_sparse else None)
        if optimizer:
            optimizer.step()
        w.step(n)
        w.tensor("indices", idx, "i64", 2)
        w.tensor("G", G, indent=2)
        # the lookup and the embedding's own gradients are bit for bit too
        w.tensor("output", out, "bits32", indent=2)
        w.tensor("grad", grad_dense, "bits32", indent=2)
        if raw is not None:
            w.tensor("grad_indices", raw[0], "i64", 2)
            w.tensor("grad_values", raw[1], "bits32", indent=2)
        # after an optimizer step the weights are compared bit for bit (chapters 4 and 6)
        w.tensor("weight", emb.weight, "bits32" if optimizer else "f32", indent=2)
    w.end()


def random_steps(gen, V, D, shapes, row_sets=None):
    """Steps with random in-range indices of the given shapes and random G."""
    steps = []
    for i, shape in enumerate(shapes):
        if row_sets:
            rows = torch.as_tensor(row_sets[i])
            idx = rows[torch.randint(len(rows), shape, generator=gen)]
        else:
            idx = torch.randint(V, shape, generator=gen)
        steps.append((idx, rand(gen, *shape, D)))
    return steps


GHOST_W = torch.tensor([[1.0, -1.0], [0.5, 0.5], [2.0, 0.0], [0.0, 0.0]])
GHOST_STEPS = [([0, 1], torch.ones(2, 2)), ([0], torch.ones(1, 2)), ([1, 1], torch.ones(2, 2))]
GHOST_NOTE = "rows 1-3 are absent from some steps: do they still move? (facts, section 7)"
TAIL_NOTE = ("11 x 7 = 77 values: PyTorch's AVX2 kernels run 64 in their vector body "
             "(16 per iteration) and 13 in their scalar tail")


def tail_case(w, name, opt):
    """A longer run on a table whose size is not a multiple of the vector width."""
    g = seeded(name)
    rows = [[0, 1, 2, 3], [1, 2, 9], [0, 4, 5, 6, 7, 8], [10, 0], [3, 4], [1, 1, 2]]
    train_case(w, name, 11, 7, rand(g, 11, 7),
               random_steps(g, 11, 7, [(6,), (4,), (3, 2), (5,), (4,), (3,)], rows), opt=opt,
               note=TAIL_NOTE)


def write_backward():
    w = RefWriter("backward.ref", "Dense backward: the gradient of sum(output * G) is a scatter-add of G")
    g = seeded("backward")
    G12 = torch.arange(1, 13, dtype=torch.float32).view(2, 2, 3)
    train_case(w, "backward/facts-example", 4, 3, rand(g, 4, 3), [([[1, 2], [1, 1]], G12)],
               note="grad row 1 = g0+g2+g3 = [18,21,24]; rows never looked up are exactly 0")
    train_case(w, "backward/repeats-1d", 6, 4, rand(g, 6, 4), [([0, 3, 3, 5, 3, 0], rand(g, 6, 4))])
    train_case(w, "backward/3d", 7, 3, rand(g, 7, 3), random_steps(g, 7, 3, [(2, 2, 3)]))
    train_case(w, "backward/empty", 4, 3, rand(g, 4, 3), [(torch.zeros(0, dtype=torch.long), torch.zeros(0, 3))],
               note="no index, no gradient: grad is all zeros")
    train_case(w, "backward/many-repeats", 3, 5, rand(g, 3, 5), [([1] * 50 + [0] * 10, rand(g, 60, 5))])
    train_case(w, "backward/untouched-rows", 20, 2, rand(g, 20, 2), [([3, 17], rand(g, 2, 2))])
    train_case(w, "backward/two-steps", 5, 3, rand(g, 5, 3), random_steps(g, 5, 3, [(4,), (2, 3)]),
               note="zero_grad before each step: each step's grad stands alone")
    train_case(w, "backward/accumulate", 5, 3, rand(g, 5, 3), random_steps(g, 5, 3, [(4,), (3,), (2, 2)]),
               zero_grad=False, note="no zero_grad: gradients add up across backward calls")
    train_case(w, "backward/wide", 3, 64, rand(g, 3, 64), random_steps(g, 3, 64, [(5,)]))
    w.save()


def write_options_file():
    w = RefWriter("options.ref", "Embedding options: padding_idx, max_norm/norm_type, scale_grad_by_freq")
    g = seeded("options")
    G12 = torch.arange(1, 13, dtype=torch.float32).view(2, 2, 3)
    W = rand(g, 4, 3)
    train_case(w, "options/padding", 4, 3, W, [([[1, 2], [1, 1]], G12)], {"padding_idx": 1},
               note="the padding row gets no gradient, but the forward still returns it")
    train_case(w, "options/padding-negative", 4, 3, W, [([[1, 2], [3, 3]], G12)], {"padding_idx": -1},
               note="padding_idx -1 means row V-1")
    Wz = rand(g, 6, 3)
    Wz[0] = 0
    train_case(w, "options/padding-zero-row-sgd", 6, 3, Wz, random_steps(g, 6, 3, [(5,), (5,)]),
               {"padding_idx": 0}, {"name": "sgd", "lr": 0.1},
               note="a zero padding row (as nn.Embedding makes it) never moves under plain SGD")
    G18 = torch.arange(1, 19, dtype=torch.float32).view(2, 3, 3)
    train_case(w, "options/scale-grad-by-freq", 4, 3, rand(g, 4, 3), [([[0, 2, 2], [2, 3, 0]], G18)],
               {"scale_grad_by_freq": True}, note="each row's gradient is the mean of its upstream rows")
    train_case(w, "options/scale-grad-by-freq-padding", 4, 3, rand(g, 4, 3), [([[0, 2, 2], [2, 3, 0]], G18)],
               {"scale_grad_by_freq": True, "padding_idx": 2})
    train_case(w, "options/scale-grad-by-freq-random", 8, 5, rand(g, 8, 5),
               random_steps(g, 8, 5, [(4, 6), (3, 5)]), {"scale_grad_by_freq": True},
               {"name": "sgd", "lr": 0.1})
    Wm = torch.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [1.0, 1.0]])
    train_case(w, "options/max-norm", 4, 2, Wm, [([0, 0, 1], torch.ones(3, 2))], {"max_norm": 1.0},
               note="row 0 [3,4] is renormalised in place to [0.6,0.8]; row 2 [6,8] is not looked up and stays")
    train_case(w, "options/max-norm-equal", 4, 2, Wm, [([0, 3], torch.ones(2, 2))], {"max_norm": 5.0},
               note="a norm exactly equal to max_norm is left alone (strict >)")
    Wn = torch.tensor([[3.0, -4.0, 0.0], [0.1, 0.2, -0.1], [1.0, 2.0, 2.0]])
    for p in [1.0, 2.0, 3.0, float("inf"), 0.0]:
        train_case(w, f"options/max-norm-p{p:g}", 3, 3, Wn, [([0, 1, 2, 0], torch.ones(4, 3))],
                   {"max_norm": 1.0, "norm_type": p})
    Wr = rand(g, 6, 4) * 2
    train_case(w, "options/max-norm-sgd", 6, 4, Wr, random_steps(g, 6, 4, [(5,), (5,), (5,)]),
               {"max_norm": 1.5}, {"name": "sgd", "lr": 0.5},
               note="renorm runs before every lookup, on the rows that step looks up")
    Wp = rand(g, 4, 2)
    Wp[3] = torch.tensor([6.0, 8.0])
    train_case(w, "options/max-norm-padding", 4, 2, Wp, [([3, 0, 3], torch.ones(3, 2))],
               {"max_norm": 1.0, "padding_idx": 3},
               note="a nonzero padding row is renormalised too; it still gets no gradient")
    Wd = rand(g, 4, 2)
    Wd[3] = torch.tensor([0.3, -0.6])
    for name, opt in [("sgd", {"name": "sgd", "lr": 0.1, "weight_decay": 0.1}),
                      ("adam", {"name": "adam", "lr": 0.1, "weight_decay": 0.1}),
                      ("adamw", {"name": "adamw", "lr": 0.1, "weight_decay": 0.1}),
                      ("adam-no-decay", {"name": "adam", "lr": 0.1})]:
        train_case(w, f"options/padding-nonzero-{name}", 4, 2, Wd,
                   [([3, 0, 3], torch.ones(3, 2)), ([1, 3], torch.ones(2, 2))],
                   {"padding_idx": 3}, opt,
                   note="a nonzero padding row gets a zero gradient, but weight decay still moves it")
    train_case(w, "options/all", 7, 3, rand(g, 7, 3), random_steps(g, 7, 3, [(2, 4), (6,), (3, 2)]),
               {"padding_idx": 2, "max_norm": 1.2, "norm_type": 3.0, "scale_grad_by_freq": True},
               {"name": "adam", "lr": 0.05})
    w.save()


def write_sgd():
    w = RefWriter("sgd.ref", "torch.optim.SGD on a dense embedding: plain, momentum, dampening, Nesterov, weight decay, maximize")
    g = seeded("sgd")
    train_case(w, "sgd/plain", 6, 3, rand(g, 6, 3), random_steps(g, 6, 3, [(4,), (2, 3), (5,)]),
               opt={"name": "sgd", "lr": 0.1})
    train_case(w, "sgd/plain-repeats", 4, 2, rand(g, 4, 2), [([1, 1, 1, 2], rand(g, 4, 2)), ([1, 1], rand(g, 2, 2))],
               opt={"name": "sgd", "lr": 0.5})
    train_case(w, "sgd/plain-ghost", 4, 2, GHOST_W, GHOST_STEPS, opt={"name": "sgd", "lr": 0.1}, note=GHOST_NOTE)
    train_case(w, "sgd/no-zero-grad", 5, 3, rand(g, 5, 3), random_steps(g, 5, 3, [(3,), (3,), (3,)]),
               opt={"name": "sgd", "lr": 0.1}, zero_grad=False,
               note="without zero_grad each step applies the sum of all gradients so far")
    variants = [
        ("momentum", {"momentum": 0.9}),
        ("momentum-dampening", {"momentum": 0.9, "dampening": 0.5}),
        ("nesterov", {"momentum": 0.9, "nesterov": True}),
        ("weight-decay", {"weight_decay": 0.1}),
        ("maximize", {"maximize": True}),
        ("momentum-weight-decay-maximize", {"momentum": 0.8, "dampening": 0.1, "weight_decay": 0.05,
                                            "maximize": True}),
    ]
    for name, kw in variants:
        opt = dict({"name": "sgd", "lr": 0.1}, **kw)
        train_case(w, f"sgd/{name}-ghost", 4, 2, GHOST_W, GHOST_STEPS, opt=opt, note=GHOST_NOTE)
        train_case(w, f"sgd/{name}", 6, 3, rand(g, 6, 3),
                   random_steps(g, 6, 3, [(4,), (3,), (2, 2), (4,)], [[0, 1, 2], [1, 2], [0, 1, 2, 3, 4], [5, 0]]),
                   opt=opt)
        tail_case(w, f"sgd/{name}-tail", opt)
    w.save()


def write_optimizers():
    w = RefWriter("optimizers.ref", "Adam (AMSGrad), AdamW, Adagrad, RMSprop on a dense embedding")
    g = seeded("optimizers")
    configs = [
        ("adam/default", {"name": "adam", "lr": 0.01}),
        ("adam/amsgrad", {"name": "adam", "lr": 0.01, "amsgrad": True}),
        ("adam/weight-decay", {"name": "adam", "lr": 0.01, "weight_decay": 0.1}),
        ("adam/maximize", {"name": "adam", "lr": 0.01, "maximize": True}),
        ("adam/betas-eps", {"name": "adam", "lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
        ("adamw/default", {"name": "adamw", "lr": 0.01}),
        ("adamw/weight-decay", {"name": "adamw", "lr": 0.01, "weight_decay": 0.1}),
        ("adamw/amsgrad", {"name": "adamw", "lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
        ("adagrad/default", {"name": "adagrad", "lr": 0.1}),
        ("adagrad/lr-decay", {"name": "adagrad", "lr": 0.1, "lr_decay": 0.1}),
        ("adagrad/weight-decay", {"name": "adagrad", "lr": 0.1, "weight_decay": 0.1}),
        ("adagrad/initial-accumulator", {"name": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.5,
                                         "eps": 1e-6}),
        ("adagrad/maximize", {"name": "adagrad", "lr": 0.1, "maximize": True}),
        ("rmsprop/default", {"name": "rmsprop", "lr": 0.01}),
        ("rmsprop/centered", {"name": "rmsprop", "lr": 0.01, "centered": True}),
        ("rmsprop/momentum", {"name": "rmsprop", "lr": 0.01, "momentum": 0.9}),
        ("rmsprop/weight-decay", {"name": "rmsprop", "lr": 0.01, "weight_decay": 0.1, "alpha": 0.9}),
        ("rmsprop/centered-momentum-maximize", {"name": "rmsprop", "lr": 0.01, "centered": True,
                                                "momentum": 0.5, "maximize": True}),
    ]
    for name, opt in configs:
        train_case(w, name, 6, 3, rand(g, 6, 3),
                   random_steps(g, 6, 3, [(4,), (3,), (2, 2), (4,)], [[0, 1, 2], [1, 2], [0, 1, 2, 3, 4], [5, 0]]),
                   opt=opt, note="row 5 first appears in step 4; rows 3 and 4 come and go")
        tail_case(w, name + "-tail", opt)
        if name.endswith("default") or name.endswith("weight-decay"):
            train_case(w, name + "-ghost", 4, 2, GHOST_W, GHOST_STEPS, opt=opt, note=GHOST_NOTE)
    w.save()


def write_sparse():
    w = RefWriter("sparse.ref", "sparse=True: uncoalesced sparse gradients; sparse SGD, Adagrad and SparseAdam")
    g = seeded("sparse")
    sp = {"sparse": True}
    shapes = [(5,), (2, 3), (4,)]
    rows = [[0, 1, 2, 5], [1, 2], [0, 3, 3, 4]]
    train_case(w, "sparse/backward", 6, 3, rand(g, 6, 3), random_steps(g, 6, 3, [(2, 3)]), sp,
               note="grad_indices/grad_values: the input in order, duplicates kept")
    train_case(w, "sparse/backward-padding", 5, 2, rand(g, 5, 2), [([1, 2, 2, 0, 2], rand(g, 5, 2))],
               {"sparse": True, "padding_idx": 2}, note="padding entries are dropped from the sparse gradient")
    train_case(w, "sparse/no-zero-grad", 5, 3, rand(g, 5, 3), random_steps(g, 5, 3, [(3,), (2,), (3,)]), sp,
               {"name": "sgd", "lr": 0.1}, zero_grad=False)
    for name, opt in [("sgd", {"name": "sgd", "lr": 0.1}),
                      ("sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9}),
                      ("sgd-maximize", {"name": "sgd", "lr": 0.1, "maximize": True}),
                      ("adagrad", {"name": "adagrad", "lr": 0.1}),
                      ("adagrad-lr-decay", {"name": "adagrad", "lr": 0.1, "lr_decay": 0.05,
                                            "initial_accumulator_value": 0.1}),
                      ("sparse-adam", {"name": "sparse_adam", "lr": 0.05}),
                      ("sparse-adam-betas", {"name": "sparse_adam", "lr": 0.05, "beta1": 0.5, "beta2": 0.9,
                                             "eps": 1e-6}),
                      ("sparse-adam-maximize", {"name": "sparse_adam", "lr": 0.05, "maximize": True})]:
        train_case(w, f"sparse/{name}", 6, 3, rand(g, 6, 3), random_steps(g, 6, 3, shapes, rows), sp, opt)
        train_case(w, f"sparse/{name}-ghost", 4, 2, GHOST_W, GHOST_STEPS, sp, opt, note=GHOST_NOTE)
    train_case(w, "sparse/sgd-padding-max-norm", 6, 3, rand(g, 6, 3) * 2, random_steps(g, 6, 3, shapes, rows),
               {"sparse": True, "padding_idx": 3, "max_norm": 1.0}, {"name": "sgd", "lr": 0.1})
    # Longer runs with many repeats: more than 16 entries, so coalesce's std::sort is a
    # quicksort whose order of equal rows decides the sums; D = 19 covers a vector body
    # and a scalar tail; an all-padding step gives a gradient with no entries.
    many = [(40,), (3, 11), (25,), (2, 20), (33,)]
    for name, opt in [("sgd", {"name": "sgd", "lr": 0.1}),
                      ("sgd-momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
                      ("sgd-nesterov", {"name": "sgd", "lr": 0.1, "momentum": 0.8, "nesterov": True}),
                      ("sgd-momentum-maximize", {"name": "sgd", "lr": 0.05, "momentum": 0.5,
                                                 "maximize": True}),
                      ("adagrad", {"name": "adagrad", "lr": 0.1, "lr_decay": 0.01}),
                      ("adagrad-maximize", {"name": "adagrad", "lr": 0.1, "maximize": True,
                                            "initial_accumulator_value": 0.05}),
                      ("sparse-adam", {"name": "sparse_adam", "lr": 0.01})]:
        steps = random_steps(g, 9, 19, many)
        steps.insert(2, ([4, 4, 4], rand(g, 3, 19)))  # padding only: nnz 0
        train_case(w, f"sparse/repeats-{name}", 9, 19, rand(g, 9, 19), steps,
                   {"sparse": True, "padding_idx": 4}, opt)
    train_case(w, "sparse/repeats-no-zero-grad-adagrad", 9, 19, rand(g, 9, 19),
               random_steps(g, 9, 19, many), sp, {"name": "adagrad", "lr": 0.1}, zero_grad=False)
    w.save()


# ---------------------------------------------------------------------------
# Next-token model: embedding -> projection (+ bias) -> cross-entropy
# ---------------------------------------------------------------------------

CORPUS = "the cat sat on the mat the dog sat on the log".split()
VOCAB = sorted(set(CORPUS))  # 7 words


def model_case(w, name, D, tied, bias, opt, steps, opts=None, zero_grad=True, note=None, V=None,
               write_grads=True, write_logits=True):
    """Runs logits = emb(inputs) @ proj.T (+ bias), mean cross-entropy, optimizer step.

    write_grads=False, write_logits=False write what a training script knows: the loss and
    the weights after each step (FORMAT.md: a step's gradients are optional).
    """
    opts = opts or {}
    V = V or len(VOCAB)
    torch.manual_seed(sum(name.encode()))
    emb = nn.Embedding(V, D, padding_idx=opts.get("padding_idx"), max_norm=opts.get("max_norm"),
                       norm_type=opts.get("norm_type", 2.0),
                       scale_grad_by_freq=opts.get("scale_grad_by_freq", False),
                       sparse=opts.get("sparse", False))
    proj = nn.Linear(D, V, bias=bias)
    if tied:
        proj.weight = emb.weight
    params = [emb.weight] + ([] if tied else [proj.weight]) + ([proj.bias] if bias else [])
    optimizer = make_optimizer(params, opt)
    w.case(name, "model", note)
    w.scalar("V", V)
    w.scalar("D", D)
    w.scalar("tied", tied)
    w.scalar("bias", bias)
    write_options(w, opts, zero_grad, opt)
    tolerances(w)
    w.tensor("weight", emb.weight)
    if not tied:
        w.tensor("proj_weight", proj.weight)
    if bias:
        w.tensor("proj_bias", proj.bias)
    for n, (inputs, targets) in enumerate(steps, 1):
        inputs = torch.as_tensor(inputs, dtype=torch.long)
        targets = torch.as_tensor(targets, dtype=torch.long)
        if zero_grad:
            if optimizer:
                optimizer.zero_grad()
            else:
                emb.zero_grad()
                proj.zero_grad()
        logits = proj(emb(inputs))
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        loss.backward()
        grads = {"grad_weight": dense(emb.weight.grad).clone()}
        if not tied:
            grads["grad_proj_weight"] = proj.weight.grad.clone()
        if bias:
            grads["grad_proj_bias"] = proj.bias.grad.clone()
        if optimizer:
            optimizer.step()
        w.step(n)
        w.tensor("inputs", inputs, "i64", 2)
        w.tensor("targets", targets, "i64", 2)
        if write_logits:
            w.tensor("logits", logits, indent=2)
        w.tensor("loss", loss.reshape(1), indent=2)
        for key, t in (grads.items() if write_grads else []):
            w.tensor(key, t, indent=2)
        w.tensor("weight", emb.weight, indent=2)
        if not tied:
            w.tensor("proj_weight", proj.weight, indent=2)
        if bias:
            w.tensor("proj_bias", proj.bias, indent=2)
    w.end()


def corpus_batches(T, B, n, offset=0):
    """n batches of (B, T) inputs and their next-token targets from CORPUS."""
    ids = [VOCAB.index(t) for t in CORPUS]
    out = []
    for k in range(n):
        xs, ys = [], []
        for b in range(B):
            s = (offset + 3 * k + 5 * b) % (len(ids) - T)
            xs.append(ids[s:s + T])
            ys.append(ids[s + 1:s + T + 1])
        out.append((xs, ys))
    return out


def write_model():
    w = RefWriter("model.ref", "A next-token model: embedding, output projection (tied or untied), cross-entropy")
    steps = corpus_batches(5, 2, 3)
    sgd = {"name": "sgd", "lr": 0.5}
    model_case(w, "model/untied-sgd", 4, False, False, sgd, steps)
    model_case(w, "model/untied-bias-sgd", 4, False, True, sgd, steps)
    model_case(w, "model/untied-1d-inputs", 3, False, True, sgd,
               [(x[0], y[0]) for x, y in corpus_batches(6, 1, 2)], note="inputs (N,) instead of (B, T)")
    model_case(w, "model/tied-sgd", 4, True, False, sgd, steps,
               note="one weight, two paths: the gradient is their sum")
    model_case(w, "model/tied-bias-sgd", 4, True, True, sgd, steps)
    model_case(w, "model/tied-no-zero-grad", 4, True, False, {"name": "sgd", "lr": 0.1}, steps,
               zero_grad=False, note="without zero_grad the tied gradient keeps growing")
    model_case(w, "model/untied-adam", 4, False, True, {"name": "adam", "lr": 0.05}, steps)
    model_case(w, "model/tied-adamw", 4, True, True, {"name": "adamw", "lr": 0.05, "weight_decay": 0.1}, steps)
    model_case(w, "model/untied-padding", 4, False, True, sgd,
               [([[0, 1, 0, 2]], [[1, 0, 2, 3]]), ([[0, 0, 3, 1]], [[0, 3, 1, 2]])], {"padding_idx": 0},
               note="the padding row gets no gradient from the embedding path")
    model_case(w, "model/tied-padding", 4, True, False, sgd,
               [([[0, 1, 0, 2]], [[1, 0, 2, 3]]), ([[0, 0, 3, 1]], [[0, 3, 1, 2]])], {"padding_idx": 0},
               note="tied: the padding row still gets the projection path's gradient")
    model_case(w, "model/tied-sparse-sgd", 4, True, False, {"name": "sgd", "lr": 0.5}, steps, {"sparse": True},
               note="sparse=True plus tying: the gradient is dense anyway")
    model_case(w, "model/untied-sparse-sgd", 4, False, True, {"name": "sgd", "lr": 0.5}, steps, {"sparse": True})
    model_case(w, "model/untied-max-norm", 4, False, True, sgd, steps, {"max_norm": 0.8})
    model_case(w, "model/untied-weights-only", 4, False, True, sgd, steps, write_grads=False,
               write_logits=False, note="what a training script knows: the loss and the weights after each step")
    model_case(w, "model/tied-adam", 4, True, False, {"name": "adam", "lr": 0.05}, steps,
               note="one parameter, one Adam state")
    model_case(w, "model/tied-adam-bias", 4, True, True, {"name": "adam", "lr": 0.05, "amsgrad": True}, steps)
    model_case(w, "model/tied-adamw-padding", 4, True, True, {"name": "adamw", "lr": 0.05, "weight_decay": 0.1},
               [([[0, 1, 0, 2]], [[1, 0, 2, 3]]), ([[0, 0, 3, 1]], [[0, 3, 1, 2]]), ([[2, 0, 1, 0]], [[0, 1, 0, 3]])],
               {"padding_idx": 0}, note="tied, AdamW: the padding row moves")
    model_case(w, "model/tied-max-norm", 4, True, False, sgd, steps, {"max_norm": 0.8},
               note="max_norm renormalises the tied rows in place before the projection reads them")
    w.save()


# ---------------------------------------------------------------------------
# EmbeddingBag
# ---------------------------------------------------------------------------

BAG_W = torch.tensor([[k, 10.0 * k] for k in range(1, 6)])  # rows [k, 10k], facts section 9
BAG_INPUT = [0, 2, 2, 4, 1, 3]
BAG_OFFSETS = [0, 3, 3, 5]  # bags [0,2,2], [], [4,1], [3]


def bag_case(w, name, V, D, weight, mode, steps, opts=None, opt=None, include_last_offset=False,
             note=None):
    """Runs nn.EmbeddingBag over steps [(input, offsets, per_sample_weights, G)]."""
    opts = opts or {}
    bag = nn.EmbeddingBag(V, D, mode=mode, padding_idx=opts.get("padding_idx"),
                          max_norm=opts.get("max_norm"), norm_type=opts.get("norm_type", 2.0),
                          scale_grad_by_freq=opts.get("scale_grad_by_freq", False),
                          sparse=opts.get("sparse", False), include_last_offset=include_last_offset)
    with torch.no_grad():
        bag.weight.copy_(weight)
    optimizer = make_optimizer([bag.weight], opt)
    w.case(name, "bag", note)
    w.scalar("V", V)
    w.scalar("D", D)
    w.scalar("mode", mode)
    w.scalar("include_last_offset", include_last_offset)
    write_options(w, opts, True, opt)
    tolerances(w)
    w.tensor("weight", weight)
    for n, (inp, offsets, psw, G) in enumerate(steps, 1):
        inp = torch.as_tensor(inp, dtype=torch.long)
        offsets = None if offsets is None else torch.as_tensor(offsets, dtype=torch.long)
        if psw is not None:
            psw = torch.as_tensor(psw, dtype=torch.float32).clone().requires_grad_(True)
        (optimizer or bag).zero_grad()
        out = bag(inp, offsets, per_sample_weights=psw)
        G = torch.as_tensor(G, dtype=torch.float32)
        (out * G).sum().backward()
        grad = dense(bag.weight.grad).clone()
        if optimizer:
            optimizer.step()
        w.step(n)
        w.tensor("input", inp, "i64", 2)
        if offsets is not None:
            w.tensor("offsets", offsets, "i64", 2)
        if psw is not None:
            w.tensor("per_sample_weights", psw, indent=2)
        w.tensor("G", G, indent=2)
        w.tensor("output", out, indent=2)
        w.tensor("grad", grad, indent=2)
        if psw is not None:
            w.tensor("grad_per_sample_weights", psw.grad, indent=2)
        w.tensor("weight", bag.weight, indent=2)
    w.end()


def write_bag():
    w = RefWriter("bag.ref", "nn.EmbeddingBag: sum, mean and max bags, offsets, per-sample weights, padding")
    g = seeded("bag")
    G4 = rand(g, 4, 2)
    facts = [(BAG_INPUT, BAG_OFFSETS, None, G4)]
    for mode in ("sum", "mean", "max"):
        bag_case(w, f"bag/facts-{mode}", 5, 2, BAG_W, mode, facts,
                 note="bags [0,2,2], [], [4,1], [3]: an empty bag gives zeros in every mode")
    bag_case(w, "bag/include-last-offset", 5, 2, BAG_W, "mean",
             [(BAG_INPUT, BAG_OFFSETS + [6], None, G4)], include_last_offset=True,
             note="B+1 offsets: the last one closes the last bag")
    bag_case(w, "bag/trailing-empty-bag", 5, 2, BAG_W, "sum",
             [(BAG_INPUT, BAG_OFFSETS + [6], None, rand(g, 5, 2))],
             note="without include_last_offset the 5th offset starts an empty 5th bag")
    bag_case(w, "bag/per-sample-weights", 5, 2, BAG_W, "sum",
             [(BAG_INPUT, BAG_OFFSETS, [1, 0.5, 0.5, 2, -1, 3], G4)],
             note="output = sum of w_i * W[idx_i]; grad_per_sample_weights = G . W[idx_i]")
    for mode in ("sum", "mean", "max"):
        bag_case(w, f"bag/padding-{mode}", 5, 2, BAG_W, mode,
                 [([0, 2, 2, 4, 2, 3, 1], [0, 3, 5, 6], None, rand(g, 4, 2))], {"padding_idx": 2},
                 note="padding entries leave the bag and the mean's count; bag [2] is all padding")
    bag_case(w, "bag/2d-mean", 5, 2, BAG_W, "mean", [([[0, 2], [4, 1]], None, None, rand(g, 2, 2))],
             note="2-D input: each row is a bag, no offsets")
    bag_case(w, "bag/2d-psw-sum", 5, 2, BAG_W, "sum",
             [([[0, 2, 2], [4, 1, 3]], None, [[0.5, -1, 2], [1, 1, 0.25]], rand(g, 2, 2))])
    Wr = rand(g, 10, 4)
    for mode in ("sum", "mean", "max"):
        steps = []
        for _ in range(2):
            inp = torch.randint(10, (9,), generator=g)
            steps.append((inp, [0, 2, 2, 6], None, rand(g, 4, 4)))
        bag_case(w, f"bag/sgd-{mode}", 10, 4, Wr, mode, steps, opt={"name": "sgd", "lr": 0.1})
    bag_case(w, "bag/sparse-sum-sgd", 10, 4, Wr, "sum",
             [(torch.randint(10, (7,), generator=g), [0, 3, 4], None, rand(g, 3, 4)) for _ in range(2)],
             {"sparse": True}, {"name": "sgd", "lr": 0.1})
    bag_case(w, "bag/scale-grad-mean", 10, 4, Wr, "mean",
             [([1, 1, 2, 1, 3, 3], [0, 2, 3], None, rand(g, 3, 4))], {"scale_grad_by_freq": True})
    bag_case(w, "bag/max-norm-sum", 10, 4, Wr * 2, "sum",
             [([1, 5, 2, 1, 3, 3], [0, 2, 3], None, rand(g, 3, 4))], {"max_norm": 1.0})
    bag_case(w, "bag/adam-mean-padding", 10, 4, Wr, "mean",
             [(torch.randint(10, (8,), generator=g), [0, 1, 5], None, rand(g, 3, 4)) for _ in range(3)],
             {"padding_idx": 4}, {"name": "adam", "lr": 0.05})
    w.save()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--scalar-init":
        scalar_init_main()
        return
    torch.set_num_threads(1)  # one summation order, whatever the machine
    write_init()
    write_lookup()
    write_backward()
    write_options_file()
    write_sgd()
    write_optimizers()
    write_sparse()
    write_model()
    write_bag()


if __name__ == "__main__":
    main()
