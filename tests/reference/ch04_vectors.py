#!/usr/bin/python3
"""Writes tests/ch04_vectors.h: torch 1.13's optimizer steps on one tensor, bit for bit.

Run by hand with Debian's python3-torch (tests never run it; they include the
header it wrote):

    /usr/bin/python3 tests/reference/ch04_vectors.py > tests/ch04_vectors.h

Each vector is one parameter of 67 values (64 in the vector body of PyTorch's
AVX2 kernels, 3 in their scalar tail), the gradients of 4 steps (step 3's is
zero, so state alone moves the parameter), and the parameter after every step.

Then the AMSGrad NaN vectors (AMS_*): Adam and AdamW with amsgrad on
parameters of several shapes, NaN gradients at the ends of torch.maximum's
vector body and scalar tail, and NaNs put into max_exp_avg_sq by hand after
step 1, with the parameter and max_exp_avg_sq after every step. On the CPU
torch.maximum gives a NaN the bits 0xffffffff in its vector body (the first
n - n % 16 values) and 0x7fc00000 in its tail, and those bits reach the
parameter.
"""
import numpy as np
import torch

N, STEPS = 67, 4
CASES = [
    ("sgd_plain", "SGD", dict(lr=0.1)),
    ("sgd_momentum_dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_all", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.05, maximize=True)),
    ("sgd_weight_decay", "SGD", dict(lr=0.1, weight_decay=0.1)),
    ("adam_default", "Adam", dict(lr=0.01)),
    ("adam_amsgrad", "Adam", dict(lr=0.01, amsgrad=True)),
    ("adam_weight_decay", "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam_maximize_betas_eps", "Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3, maximize=True)),
    ("adam_maximize_weight_decay", "Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("adam_beta2_half", "Adam", dict(lr=0.01, betas=(0.5, 0.5))),
    ("adamw_default", "AdamW", dict(lr=0.01)),
    ("adamw_amsgrad_decay", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("adagrad_all", "Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05,
                                    initial_accumulator_value=0.2, eps=1e-6)),
    ("rmsprop_default", "RMSprop", dict(lr=0.01)),
    ("rmsprop_alpha_half", "RMSprop", dict(lr=0.01, alpha=0.5, centered=True)),
    ("rmsprop_centered_momentum", "RMSprop", dict(lr=0.01, centered=True, momentum=0.5,
                                                  weight_decay=0.1, maximize=True, alpha=0.9)),
]


def c_array(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).ravel()
    return "{" + ", ".join("0x%08x" % b for b in bits) + "}"


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(4)
    p0 = torch.randn(N, generator=g)
    grads = [torch.randn(N, generator=g) * s for s in (1.0, 0.3, 0.0, 2.0)]
    print("// Written by tests/reference/ch04_vectors.py with torch %s; do not edit." % torch.__version__)
    print("// float32 bit patterns: the parameter, the gradient of each step, and the")
    print("// parameter after each step of each case (chapter 4's tests).")
    print("#define VEC_N %d" % N)
    print("#define VEC_STEPS %d" % STEPS)
    print("static const uint32_t VEC_PARAM[VEC_N] = %s;" % c_array(p0))
    print("static const uint32_t VEC_GRADS[VEC_STEPS][VEC_N] = {%s};" % ", ".join(c_array(x) for x in grads))
    print("typedef struct VecCase { const char *name; OptimKind kind; OptimOptions options; "
          "uint32_t after[VEC_STEPS][VEC_N]; } VecCase;")
    print("static VecCase vec_case(int i);")
    print("enum { VEC_CASES = %d };" % len(CASES))
    print("static VecCase vec_case(int i) {")
    print("    VecCase c = {0};")
    print("    switch (i) {")
    for i, (name, cls, kw) in enumerate(CASES):
        p = p0.clone().requires_grad_(True)
        opt = getattr(torch.optim, cls)([p], **kw)
        after = []
        for gr in grads:
            p.grad = gr.clone()
            opt.step()
            after.append(p.detach().clone())
        kind = {"SGD": "OPTIM_SGD", "Adam": "OPTIM_ADAM", "AdamW": "OPTIM_ADAMW",
                "Adagrad": "OPTIM_ADAGRAD", "RMSprop": "OPTIM_RMSPROP"}[cls]
        sets = []
        for k, v in kw.items():
            if k == "betas":
                sets += ["c.options.beta1 = %r;" % v[0], "c.options.beta2 = %r;" % v[1]]
            elif isinstance(v, bool):
                sets.append("c.options.%s = %s;" % (k, "true" if v else "false"))
            else:
                sets.append("c.options.%s = %r;" % (k, float(v)))
        print("    case %d: {  // %s(%s)" % (i, cls, ", ".join("%s=%r" % kv for kv in kw.items())))
        print('        c.name = "%s";' % name)
        print("        c.kind = %s;" % kind)
        print("        c.options = optim_defaults(%s);" % kind)
        for st in sets:
            print("        " + st)
        print("        static const uint32_t after[VEC_STEPS][VEC_N] = {%s};" % ", ".join(c_array(a) for a in after))
        print("        memcpy(c.after, after, sizeof after);")
        print("        break;")
        print("    }")
    print("    }")
    print("    return c;")
    print("}")
    print_amsgrad_nan_vectors()


AMS_SHAPES = [(15, 0), (16, 0), (33, 0), (67, 0), (3, 7), (5, 16)]  # (rows, cols); cols 0: 1-D
AMS_OPTIMIZERS = [("Adam", dict(lr=0.01, amsgrad=True)),
                  ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.1))]
AMS_STEPS = 3


def ams_positions(n, k):
    """A few positions of a parameter of n values: the ends of torch.maximum's
    vector body and of its tail, and one more that depends on k."""
    body = n - n % 16
    return sorted({0, n - 1, max(body - 1, 0), min(body, n - 1), (5 * k + 2) % n})


def amsgrad_nan_vectors():
    g = torch.Generator().manual_seed(5)
    nan = float("nan")
    cases = []
    for rows, cols in AMS_SHAPES:
        shape = (rows, cols) if cols else (rows,)
        n = rows * max(cols, 1)
        for cls, kw in AMS_OPTIMIZERS:
            p0 = torch.randn(shape, generator=g)
            grads = [torch.randn(shape, generator=g) for _ in range(AMS_STEPS)]
            grads[0].view(-1)[ams_positions(n, 0)[::2]] = nan   # NaN gradients at step 1
            grads[1].view(-1)[ams_positions(n, 1)[1::2]] = -nan  # and -NaN at step 2
            p = p0.clone().requires_grad_(True)
            opt = getattr(torch.optim, cls)([p], foreach=False, **kw)
            after, max_after, poisoned = [], [], None
            for s, gr in enumerate(grads):
                p.grad = gr.clone()
                opt.step()
                vmax = opt.state[p]["max_exp_avg_sq"]
                after.append(p.detach().clone())
                max_after.append(vmax.clone())
                if s == 0:  # a NaN put into max_exp_avg_sq by hand stays, whatever v is
                    vmax.view(-1)[ams_positions(n, 2)] = nan
                    poisoned = vmax.clone()
            cases.append((cls, kw, rows, cols, p0, grads, poisoned, after, max_after))
    return cases


def print_amsgrad_nan_vectors():
    cases = amsgrad_nan_vectors()
    print("// AMSGrad with NaNs: each case is one parameter of rows x cols values (cols 0:")
    print("// 1-D); max_exp_avg_sq is replaced by poisoned after step 1.")
    print("#define AMS_STEPS %d" % AMS_STEPS)
    print("typedef struct AmsCase { const char *name; OptimKind kind; OptimOptions options; "
          "int64_t rows, cols; const uint32_t *param, *grads, *poisoned, *after, *max_after; "
          "} AmsCase;")
    print("static AmsCase ams_case(int i);")
    print("enum { AMS_CASES = %d };" % len(cases))
    print("static AmsCase ams_case(int i) {")
    print("    AmsCase c = {0};")
    print("    switch (i) {")
    for i, (cls, kw, rows, cols, p0, grads, poisoned, after, max_after) in enumerate(cases):
        kind = "OPTIM_ADAM" if cls == "Adam" else "OPTIM_ADAMW"
        print("    case %d: {  // %s(%s), shape %s" % (i, cls, ", ".join("%s=%r" % kv for kv in kw.items()),
                                                     (rows, cols) if cols else (rows,)))
        print('        c.name = "%s_%dx%d";' % (cls.lower(), rows, cols))
        print("        c.kind = %s;" % kind)
        print("        c.options = optim_defaults(%s);" % kind)
        for k, v in kw.items():
            print("        c.options.%s = %s;" % (k, ("true" if v else "false") if isinstance(v, bool) else repr(float(v))))
        print("        c.rows = %d, c.cols = %d;" % (rows, cols))
        print("        static const uint32_t param[] = %s;" % c_array(p0))
        print("        static const uint32_t grads[] = %s;" % c_array(torch.stack(grads)))
        print("        static const uint32_t poisoned[] = %s;" % c_array(poisoned))
        print("        static const uint32_t after[] = %s;" % c_array(torch.stack(after)))
        print("        static const uint32_t max_after[] = %s;" % c_array(torch.stack(max_after)))
        print("        c.param = param, c.grads = grads, c.poisoned = poisoned;")
        print("        c.after = after, c.max_after = max_after;")
        print("        break;")
        print("    }")
    print("    }")
    print("    return c;")
    print("}")


if __name__ == "__main__":
    main()
