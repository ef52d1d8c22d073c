/**
# Chapter 4: Optimizers

Chapters 2 and 3 trained with the simplest optimizer there is, plain SGD:
$w \leftarrow w - \eta\, g$. Under it a row that was not looked up has a
zero gradient and does not move. Real models are trained with
`torch.optim.Adam`, `AdamW`, SGD with momentum, Adagrad or RMSprop, and
every one of them keeps *state*: a running average of past gradients, of
their squares, or their sum. State remembers. A row that was looked up
once keeps moving long after its gradient has gone back to zero, and with
weight decay a row moves without ever having been looked up. We call
these moves **ghost updates**, and this chapter measures them.

The chapter also settles one design for the whole book. From here on every
training loop hands its parameters to one optimizer interface, the one in
`chapters/04-optimizers.h`, and each optimizer reproduces PyTorch 1.13's
update **bit for bit**, not just to rounding. Bit-exactness is not vanity:
it is the only claim a test can check without a tolerance that hides
mistakes, and it turns out to depend on a detail PyTorch's documentation
never mentions, which multiply-adds its kernels fuse.

In PyTorch the whole interface is two calls:

```python
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
...
optimizer.zero_grad(); loss.backward(); optimizer.step()
```

We build the three things these calls hide: the list of parameters, the
options, and the state.
*/

#include "04-optimizers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/**
## The parameter list

`model.parameters()` yields the model's tensors in a fixed order, each
once. The optimizer keeps that list and, at every `step()`, reads each
parameter's `.grad` *as it is then*. Two consequences matter here:

* A parameter whose `.grad` is `None` is skipped: a frozen table
  (chapter 3), or any parameter no backward pass has reached yet. Its
  state, step count included, does not change.
* A tensor that appears twice (a weight shared by two modules, chapter 5's
  weight tying) is one parameter, updated once, with one state.

Our `Param` is a *view*: a name, pointers to the data and the gradient,
and a shape. It owns nothing and is built from the module whenever it is
needed, so the gradient pointer is read at step time just as PyTorch reads
`p.grad`. A model's parameter function lists a shared buffer once by
construction, under its owner's name, as `named_parameters()` does: a
`Linear` whose weight is another module's does not list it. Listed a
second time by hand, the buffer is refused: `param_list_add` names both
entries, because two entries would mean two states and two updates per
step for one matrix (chapter 5 measures that bug).
*/

int param_list_add(ParamList *l, const char *name, float *data, float *grad, int64_t rows,
                   int64_t cols, EmbError *err) {
    int64_t numel = cols == 0 ? rows : 0;
    if (!data || rows < 1 || cols < 0 ||
        (cols > 0 && emb_mul_size(rows, cols, &numel) != 0)) {
        return emb_fail(err, "parameter %s: bad buffer or shape (%lld, %lld)", name,
                        (long long)rows, (long long)cols);
    }
    for (int i = 0; i < l->n; i++) {  // one buffer, one parameter, one state
        const Param *p = &l->items[i];
        if (data < p->data + p->numel && p->data < data + numel) {
            return emb_fail(err,
                            "parameter %s: its buffer is already in the list as %s; a "
                            "shared (tied) weight is one parameter, list it once",
                            name, p->name);
        }
    }
    if (l->n == OPTIM_MAX_PARAMS) {
        return emb_fail(err, "parameter %s: a list holds at most %d parameters", name,
                        OPTIM_MAX_PARAMS);
    }
    l->items[l->n++] = (Param){.name = name,
                               .data = data,
                               .grad = grad,
                               .ndim = cols == 0 ? 1 : 2,
                               .shape = {rows, cols == 0 ? 1 : cols},
                               .numel = numel};
    return 0;
}

int emb_parameters(Embedding *e, ParamList *out, EmbError *err) {
    float *grad = e->requires_grad ? e->grad : NULL;  // frozen: p.grad is None
    return param_list_add(out, "weight", e->weight, grad, e->num_embeddings,
                          e->embedding_dim, err);
}

int linear_parameters(Linear *l, const char *weight_name, const char *bias_name,
                      ParamList *out, EmbError *err) {
    if (!l->shares_weight &&  // a tied weight is its owner's parameter
        param_list_add(out, weight_name, l->weight, l->weight_grad, l->out_features,
                       l->in_features, err) != 0)
        return -1;
    if (!l->bias) return 0;  // bias=False
    return param_list_add(out, bias_name, l->bias, l->bias_grad, l->out_features, 0, err);
}

int ntm_parameters(NextTokenModel *m, ParamList *out, EmbError *err) {
    out->n = 0;
    if (param_list_add(out, "emb.weight", m->emb.weight, m->emb.grad,
                       m->emb.num_embeddings, m->emb.embedding_dim, err) != 0)
        return -1;
    return linear_parameters(&m->proj, "proj.weight", "proj.bias", out, err);
}

int cm_parameters(ContextModel *m, ParamList *out, EmbError *err) {
    out->n = 0;
    float *grad = m->emb.requires_grad ? m->emb.grad : NULL;  // frozen: p.grad is None
    if (param_list_add(out, "emb.weight", m->emb.weight, grad, m->emb.num_embeddings,
                       m->emb.embedding_dim, err) != 0)
        return -1;
    return linear_parameters(&m->proj, "proj.weight", "proj.bias", out, err);
}

void param_list_zero_grad(const ParamList *l) {
    for (int i = 0; i < l->n; i++) {
        const Param *p = &l->items[i];
        if (p->grad) memset(p->grad, 0, (size_t)p->numel * sizeof(float));
    }
}

/**
## Two places for chapter 5

Chapter 5 ties the output projection to the table, and tied models are
usually built with `nn.Linear(D, V, bias=False)`. Chapter 2's `Linear`
left two places for that, both off when zeroed, and its functions skip a
`NULL` bias. `nn.Linear(bias=False)` draws the weight exactly as before
and no bias, so the generator advances by the weight's draws only; we
draw on a copy of the generator and advance the real one by as many
draws (one per value, as chapter 2 explains).
*/

int linear_init_bias(Linear *l, int64_t in_features, int64_t out_features, bool bias,
                     TorchGenerator *gen, EmbError *err) {
    if (bias) return linear_init(l, in_features, out_features, gen, err);
    TorchGenerator copy = *gen;
    if (linear_init(l, in_features, out_features, &copy, err) != 0) return -1;
    for (int64_t k = 0; k < in_features * out_features; k++) (void)rng_random(gen);
    linear_drop_bias(l);
    return 0;
}

void linear_drop_bias(Linear *l) {
    free(l->bias);
    free(l->bias_grad);
    l->bias = NULL;
    l->bias_grad = NULL;
}

int linear_share_weight(Linear *l, float *weight, float *weight_grad, EmbError *err) {
    if (!weight || !weight_grad) {
        return emb_fail(err, "a tied weight needs its buffer and its gradient");
    }
    if (!l->shares_weight) {
        free(l->weight);
        free(l->weight_grad);
    }
    l->weight = weight;
    l->weight_grad = weight_grad;
    l->shares_weight = true;
    return 0;
}

/**
## Options, with PyTorch's defaults and PyTorch's messages

Each optimizer takes keyword arguments with defaults of its own. We keep
them in one struct with PyTorch's names, so that a reader can copy a line
of Python into C, and start it from `optim_defaults`:

* `SGD`: `lr` required, `momentum=0`, `dampening=0`, `weight_decay=0`,
  `nesterov=False`;
* `Adam`: `lr=1e-3`, `betas=(0.9, 0.999)`, `eps=1e-8`, `weight_decay=0`,
  `amsgrad=False`;
* `AdamW`: as `Adam`, but `weight_decay=1e-2`;
* `Adagrad`: `lr=1e-2`, `lr_decay=0`, `weight_decay=0`,
  `initial_accumulator_value=0`, `eps=1e-10`;
* `RMSprop`: `lr=1e-2`, `alpha=0.99`, `eps=1e-8`, `weight_decay=0`,
  `momentum=0`, `centered=False`;

and `maximize=False` for all five. AdamW's default decay is the one to
remember: `AdamW(params)` decays every weight, `Adam(params)` none.

SGD's `lr` has no default. PyTorch's is a unique object, `required`,
and its constructor refuses it: `parameter group didn't specify a value
of required optimization parameter lr`. Our `lr` is a double, and every
number is an `lr` a caller might pass and PyTorch would check, `-inf`
included (`Invalid learning rate: -inf`). So `optim_defaults` marks
SGD's `lr` unset with a NaN that has bits of its own, which nothing else
makes, and `optim_lr_is_required` looks for exactly those bits. A caller
never sees it: `o.lr = 0.1` replaces it.
*/

// SGD's unset lr: a quiet NaN whose payload is 1. Arithmetic makes NaNs with a
// zero payload, or passes on one it was given; float32 NaNs widen to payloads
// that end in 29 zero bits.
#define LR_REQUIRED_BITS UINT64_C(0x7ff8000000000001)
#define LR_REQUIRED (lr_from_bits(LR_REQUIRED_BITS))

static double lr_from_bits(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

bool optim_lr_is_required(double lr) {
    uint64_t u;
    memcpy(&u, &lr, sizeof u);
    return u == LR_REQUIRED_BITS;
}

OptimOptions optim_defaults(OptimKind kind) {
    OptimOptions o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    switch (kind) {
    case OPTIM_SGD: o.lr = LR_REQUIRED; break;
    case OPTIM_ADAM: break;
    case OPTIM_ADAMW: o.weight_decay = 1e-2; break;
    case OPTIM_ADAGRAD:
        o.lr = 1e-2;
        o.eps = 1e-10;
        break;
    case OPTIM_RMSPROP:
        o.lr = 1e-2;
        o.alpha = 0.99;
        break;
    default: break;
    }
    return o;
}

static const char *const OPTIM_NAMES[OPTIM_NUM_KINDS] = {"SGD", "Adam", "AdamW",
                                                         "Adagrad", "RMSprop"};

const char *optim_name(OptimKind kind) {
    return kind >= 0 && kind < OPTIM_NUM_KINDS ? OPTIM_NAMES[kind] : "?";
}

int optim_kind_from_name(const char *name, OptimKind *kind, EmbError *err) {
    for (int k = 0; k < OPTIM_NUM_KINDS; k++) {
        const char *a = name, *b = OPTIM_NAMES[k];
        while (*a && *b && (*a | 0x20) == (*b | 0x20)) a++, b++;  // ASCII, any case
        if (*a == '\0' && *b == '\0') {
            *kind = (OptimKind)k;
            return 0;
        }
    }
    return emb_fail(
        err, "unknown optimizer '%s': expected sgd, adam, adamw, adagrad or rmsprop",
        name);
}

/**
The checks are the constructors' own, and so are the messages. Python
prints a float with the fewest digits that read back as the same number,
and always with a point or an exponent (`-1.0`, `1e-08`); `optim_py_float` does
the same, so our message for `lr=-1` is PyTorch's, character for
character. Adam, AdamW, Adagrad and RMSprop write their checks as
`not 0.0 <= x` (for a beta, `not 0.0 <= x < 1.0`), which a NaN fails, so
they refuse a NaN in every option they check, with the message a bad
number gets (`Invalid epsilon value: nan`), and so do we.
*/

const char *optim_py_float(char *buf, size_t size, double x) {
    if (buf == NULL || size == 0) return buf;
    if (isnan(x) || isinf(x)) {
        snprintf(buf, size, isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return buf;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    snprintf(buf, size, "%.*e", digits - 1, x);
    int exp10 = atoi(strchr(buf, 'e') + 1);
    if (exp10 >= -4 && exp10 < 16) {
        snprintf(buf, size, "%.*f", digits - 1 - exp10 > 0 ? digits - 1 - exp10 : 0, x);
        if (!strchr(buf, '.')) strncat(buf, ".0", size - strlen(buf) - 1);
    }
    return buf;
}

// "0 <= x", or x is NaN: PyTorch's `if not 0.0 <= x: raise ValueError(...)`.
static int check_nonneg(double x, const char *what, EmbError *err) {
    char num[40];
    if (x >= 0.0) return 0;
    return emb_fail(err, "Invalid %s: %s", what, optim_py_float(num, sizeof num, x));
}

static int check_beta(double beta, int index, EmbError *err) {
    char num[40];
    if (beta >= 0.0 && beta < 1.0) return 0;
    return emb_fail(err, "Invalid beta parameter at index %d: %s", index,
                    optim_py_float(num, sizeof num, beta));
}

int optim_check_options(OptimKind kind, const OptimOptions *o, EmbError *err) {
    if (kind < 0 || kind >= OPTIM_NUM_KINDS)
        return emb_fail(err, "unknown optimizer %d", kind);
    if (kind == OPTIM_SGD && optim_lr_is_required(o->lr)) {
        return emb_fail(err, "parameter group didn't specify a value of required "
                             "optimization parameter lr");
    }
    if (check_nonneg(o->lr, "learning rate", err) != 0) return -1;
    switch (kind) {
    case OPTIM_SGD:
        if (check_nonneg(o->momentum, "momentum value", err) != 0 ||
            check_nonneg(o->weight_decay, "weight_decay value", err) != 0)
            return -1;
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
            return emb_fail(err,
                            "Nesterov momentum requires a momentum and zero dampening");
        }
        return 0;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        if (check_nonneg(o->eps, "epsilon value", err) != 0 ||
            check_beta(o->beta1, 0, err) || check_beta(o->beta2, 1, err))
            return -1;
        return check_nonneg(o->weight_decay, "weight_decay value", err);
    case OPTIM_ADAGRAD:
        if (check_nonneg(o->lr_decay, "lr_decay value", err) != 0 ||
            check_nonneg(o->weight_decay, "weight_decay value", err) != 0 ||
            check_nonneg(o->initial_accumulator_value, "initial_accumulator_value value",
                         err) != 0)
            return -1;
        return check_nonneg(o->eps, "epsilon value", err);
    default:  // RMSprop
        if (check_nonneg(o->eps, "epsilon value", err) != 0 ||
            check_nonneg(o->momentum, "momentum value", err) != 0 ||
            check_nonneg(o->weight_decay, "weight_decay value", err) != 0)
            return -1;
        return check_nonneg(o->alpha, "alpha value", err);
    }
}

/**
PyTorch checks less than one might think, and we check no more, so that
the same options are accepted on both sides: SGD takes any `dampening`,
even a negative one or one above 1; RMSprop takes `alpha` above 1; Adam
takes `lr=0`. Only NaN differs, and only in SGD. Its checks are
`lr < 0.0`, `momentum < 0.0` and `weight_decay < 0.0`, which a NaN
passes, so `SGD(params, lr=nan)` is built and its first step makes the
weights NaN. We refuse a NaN `lr`, `momentum` or `weight_decay` with the
message a negative one gets (`Invalid momentum value: nan`): bad input
gets a clear error. `dampening` is checked by neither side, NaN included.

## How bit-exactness is won or lost

Every optimizer's step is, in PyTorch, a handful of tensor operations in
Python, for example Adam's

```python
exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
param.addcdiv_(exp_avg, denom, value=-step_size)
```

Each operation is one pass over the tensor, and each element's arithmetic
is independent of every other element's. So one loop that does all of an
element's operations in order gives exactly the same bits as the
operations one after the other, and reads and writes each buffer once
instead of once per operation. Three details decide the bits:

1. **The scalars.** `1 - beta1`, `-step_size`, `eps` are Python floats
   (doubles). Each operation converts its scalar to float32 once, before
   the loop. The bias corrections `1 - beta1 ** step` are computed in
   double with the step as a float, and only the result is rounded.
2. **Division is division.** `a / s` by a scalar is not `a * (1/s)`;
   most values differ between the two.
3. **Fused multiply-adds.** PyTorch's CPU kernels are C++ compiled once
   per instruction set; the AVX2 build, the one any recent x86-64 CPU
   runs, is compiled with `-mfma`, and GCC then *contracts* a multiply
   followed by an add into one fused multiply-add, rounded once. Whether
   it does depends on how each kernel's expression is written, so we
   measured it. `tests/reference/fma_sites.py` runs each operation an
   optimizer uses in torch 1.13, on a tensor of 1,013 values (the kernel's
   vector body and its scalar tail) and on 3,000 tensors of 15 (the tail
   alone), and compares the bits with an emulation of every candidate.
   `add(x, alpha=a)` is `fma(x, a, self)`: the fused candidate matches
   every value, the unfused one misses thousands in the tail alone.
   `addcmul(t1, t2, value=c)` is `fma(c * t1, t2, self)`, the product
   `c * t1` rounded first. `addcdiv`, `mul`, division, `sqrt` and
   `maximum` round each operation.

So each line of our loops calls `fmaf` exactly where PyTorch's kernel
fuses (`add` with `alpha`, `addcmul`) and rounds everywhere else. The
book is compiled with `-ffp-contract=off`, so the compiler never fuses
anything on its own. As in chapter 2, the update functions are compiled
twice, with and without the FMA instruction, and the program picks one
at start; both round once per `fmaf`, so both give the same bits.
*/


// The float whose bits are u.
static inline float float_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// torch.maximum's kernel (cpu_kernel_vec) takes 16 floats a pass, two AVX2
// vectors of 8; the last n % 16 values of a parameter go through its scalar tail.
enum { TORCH_VEC_FLOATS = 16 };

// torch.maximum(a, b) on the CPU: the larger value, or a NaN if either is
// one. Which NaN (and which zero of a +0, -0 tie) depends on the kernel's
// loop the value falls in, vec_body or the scalar tail (see adam_update).
static inline float maximum(float a, float b, bool vec_body) {
    if (isnan(a) || isnan(b))  // vector: max_ps | unordered mask; tail: quiet_NaN()
        return float_from_bits(vec_body ? 0xffffffffu : 0x7fc00000u);
    return vec_body ? (a > b ? a : b) : (a < b ? b : a);  // max_ps, std::max
}

/**
## SGD: momentum, dampening, Nesterov, weight decay, maximize

With every option, `torch.optim.SGD` computes, for gradient $g$ and
weight $w$ at step $t$, with $\lambda$ = `weight_decay`, $\mu$ =
`momentum`, $\tau$ = `dampening` and learning rate $\eta$:

$$
\begin{aligned}
d &= \pm g + \lambda w \qquad (\text{minus with maximize})\\
b_t &= d \ \text{ if } t = 1, \qquad
  b_t = \mu b_{t-1} + (1 - \tau)\, d \ \text{ if } t > 1\\
d &\leftarrow d + \mu b_t \ \text{ (Nesterov)}, \qquad
  d \leftarrow b_t \ \text{ (otherwise)}\\
w &\leftarrow w - \eta\, d
\end{aligned}
$$

The trap is the first step: the buffer starts as the gradient itself,
*undamped*. With `dampening=0.5` the first step is a full step, and only
later gradients are halved. Without momentum the buffer is never made
(PyTorch stores `momentum_buffer = None`), and SGD is chapter 2's step.
*/

// SGD's scalars, each converted to float once per step, as PyTorch does.
typedef struct SgdScalars {
    float wd, mom, one_minus_damp, neg_lr;
    bool maximize, l2, nesterov;
} SgdScalars;

// One value of _single_tensor_sgd: returns the new parameter; buf is NULL
// without momentum, and set to the gradient (undamped) on the first step.
static inline float sgd_value(float p, float grad, float *buf, bool first,
                              const SgdScalars *k) {
    float d = k->maximize ? -grad : grad;                   // d_p = -d_p if maximize
    d = k->l2 ? fmaf(p, k->wd, d) : d;                      // d_p.add(param, alpha=wd)
    if (buf) {
        *buf = first ? d : fmaf(d, k->one_minus_damp, *buf * k->mom);  // clone(d_p), or
        d = k->nesterov ? fmaf(*buf, k->mom, d) : *buf;  // buf.mul_(m).add_(d_p, 1-damp)
    }                                                       // nesterov: d_p.add(buf, m)
    return fmaf(d, k->neg_lr, p);                           // param.add_(d_p, alpha=-lr)
}

// extends: sgd_step
EMB_FMA_CLONES void sgd_update(float *restrict param, const float *restrict grad,
                                 float *restrict momentum_buffer, bool first, int64_t n,
                                 const OptimOptions *o) {
    const SgdScalars k = {
        .wd = (float)o->weight_decay, .mom = (float)o->momentum,
        .one_minus_damp = (float)(1.0 - o->dampening), .neg_lr = (float)-o->lr,
        .maximize = o->maximize, .l2 = o->weight_decay != 0, .nesterov = o->nesterov};
    if (o->momentum == 0 || !momentum_buffer) {
        for (int64_t i = 0; i < n; i++)
            param[i] = sgd_value(param[i], grad[i], NULL, false, &k);
    } else if (first) {
        for (int64_t i = 0; i < n; i++)
            param[i] = sgd_value(param[i], grad[i], &momentum_buffer[i], true, &k);
    } else {
        for (int64_t i = 0; i < n; i++)
            param[i] = sgd_value(param[i], grad[i], &momentum_buffer[i], false, &k);
    }
}

/**
## Adam and AdamW

Adam keeps two moving averages per value, of the gradient ($m$,
`exp_avg`) and of its square ($v$, `exp_avg_sq`), and divides one by the
square root of the other:

$$
\begin{aligned}
m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g, \qquad
v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g^2,\\
w &\leftarrow w - \frac{\eta}{1 - \beta_1^t}\cdot
  \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}.
\end{aligned}
$$

Both averages start at zero, so early on they are too small; dividing by
$1 - \beta^t$ (the *bias correction*) undoes that exactly for a constant
gradient. Note where $\epsilon$ goes: after the correction of
$\sqrt{v}$. With `amsgrad`, the denominator uses the largest $v$ seen so
far (`max_exp_avg_sq`), so the denominator can only grow.

The first step is $\eta \cdot g / (|g| + \epsilon) \approx \eta$ in every
coordinate whose gradient is well above $\epsilon$, however small it is
otherwise: Adam's steps are measured in learning rates, not in gradients.

**Weight decay is where Adam and AdamW part.** `Adam(weight_decay=λ)`
adds $\lambda w$ to the gradient (an L2 penalty) *before* the averages, so
the decay is normalised with everything else: a weight whose gradient is
zero gets $g = \lambda w$, and its step is again about $\eta$, whatever
$\lambda$ is. `AdamW` decays the weight itself, $w \leftarrow w (1 -
\eta\lambda)$, before the Adam step and outside it (*decoupled* weight
decay). `adam_update` does both, chosen by `decoupled`.
*/

// Adam's scalars, each converted to float once per step, as PyTorch does.
typedef struct AdamScalars {
    float b1, b2, one_minus_b1, one_minus_b2, wd, decay, neg_step_size, bc2_sqrt, eps;
    bool maximize, l2, decoupled;
} AdamScalars;

static AdamScalars adam_scalars(const OptimOptions *o, int64_t step, bool decoupled) {
    double bias_correction1 = 1.0 - pow(o->beta1, (double)step);  // in double, as Python
    double bias_correction2 = 1.0 - pow(o->beta2, (double)step);
    return (AdamScalars){
        .b1 = (float)o->beta1, .b2 = (float)o->beta2,
        .one_minus_b1 = (float)(1.0 - o->beta1), .one_minus_b2 = (float)(1.0 - o->beta2),
        .wd = (float)o->weight_decay, .decay = (float)(1.0 - o->lr * o->weight_decay),
        .neg_step_size = (float)-(o->lr / bias_correction1),
        .bc2_sqrt = (float)sqrt(bias_correction2), .eps = (float)o->eps,
        .maximize = o->maximize, .l2 = !decoupled && o->weight_decay != 0,
        .decoupled = decoupled};
}

// One value of _single_tensor_adam(w): returns the new parameter and
// updates its moments; vmax is NULL unless amsgrad.
static inline float adam_value(float p, float grad, float *m, float *v, float *vmax,
                               bool vec_body, const AdamScalars *k) {
    float g = k->maximize ? -grad : grad;           // grad = -grad if maximize
    g = k->l2 ? fmaf(p, k->wd, g) : g;              // grad.add(param, alpha=weight_decay)
    p = k->decoupled ? p * k->decay : p;            // AdamW: param.mul_(1 - lr*wd)
    *m = fmaf(g, k->one_minus_b1, *m * k->b1);      // m.mul_(b1).add_(g, alpha=1-b1)
    *v = fmaf(k->one_minus_b2 * g, g, *v * k->b2);  // v.mul_(b2).addcmul_(g, g, 1-b2)
    float s = *v;
    if (vmax) s = *vmax = maximum(*vmax, s, vec_body);  // torch.maximum(vmax, v, ...)
    float denom = sqrtf(s) / k->bc2_sqrt + k->eps;  // (s.sqrt() / bc2_sqrt).add_(eps)
    return p + (k->neg_step_size * *m) / denom;     // param.addcdiv_(m, denom, -ss)
}

/**
The loop is written twice, with and without `amsgrad`, so that each copy
has no branch inside: the compiler then turns it into vector instructions,
8 values at a time, which matters when a step runs over a whole table
(`make bench`). The flags `maximize`, `l2` and `decoupled` are selects
between two values, which vector code handles without branching.

With `amsgrad` the loop is cut once more, at `n - n % 16`, for the sake of
a NaN. `torch.maximum` returns a NaN when either side is one (C's `fmaxf`
returns the other side), but not the NaN it was given. Its CPU kernel
runs a vector body, 16 floats a pass, over the first `n - n % 16` values
of the parameter, and a scalar tail over the rest. The body's NaN is an
all-ones compare mask, bits `0xffffffff`; the tail's is C++'s
`quiet_NaN()`, bits `0x7fc00000`. Which one a value gets depends on its
place in the whole parameter, and `adam_update` is always given the
whole parameter, so it knows. The NaN then travels: the square root, the
division, `+ eps` and `addcdiv` pass it on, so a NaN in
`max_exp_avg_sq` reaches the weight with the kernel's bits. After a NaN
gradient, `exp_avg` is NaN too, and the weight gets `exp_avg`'s NaN
instead. The tests check both cases against torch, bit for bit, on
parameters of several shapes.
*/

EMB_FMA_CLONES
void adam_update(float *restrict param, const float *restrict grad,
                 float *restrict exp_avg, float *restrict exp_avg_sq,
                 float *restrict max_exp_avg_sq, int64_t n, int64_t step,
                 const OptimOptions *o, bool decoupled) {
    const AdamScalars k = adam_scalars(o, step, decoupled);
    if (max_exp_avg_sq) {
        int64_t body = n - n % TORCH_VEC_FLOATS;  // torch.maximum's vector body
        for (int64_t i = 0; i < body; i++)
            param[i] = adam_value(param[i], grad[i], &exp_avg[i], &exp_avg_sq[i],
                                  &max_exp_avg_sq[i], true, &k);
        for (int64_t i = body; i < n; i++)
            param[i] = adam_value(param[i], grad[i], &exp_avg[i], &exp_avg_sq[i],
                                  &max_exp_avg_sq[i], false, &k);
    } else {
        for (int64_t i = 0; i < n; i++)
            param[i] = adam_value(param[i], grad[i], &exp_avg[i], &exp_avg_sq[i], NULL,
                                  false, &k);
    }
}

/**
## Adagrad

Adagrad divides each value's step by the root of the *sum* of all its
squared gradients so far:

$$s \leftarrow s + g^2, \qquad
w \leftarrow w - \frac{\eta}{1 + (t-1)\,\delta} \cdot \frac{g}{\sqrt{s} + \epsilon},$$

where $\delta$ is `lr_decay` (a learning rate that shrinks as $1/t$) and
$s$ (`sum`) starts at `initial_accumulator_value`. A word seen often
accumulates a large $s$ and takes small steps; a rare word keeps taking
large ones, which is what made Adagrad popular for embeddings. Unlike
the others, Adagrad creates its state in its constructor, for every
parameter, even one that will never have a gradient.
*/

EMB_FMA_CLONES
void adagrad_update(float *restrict param, const float *restrict grad,
                    float *restrict sum, int64_t n, int64_t step, const OptimOptions *o) {
    double clr = o->lr / (1.0 + (double)(step - 1) * o->lr_decay);
    const float neg_clr = (float)-clr, eps = (float)o->eps, wd = (float)o->weight_decay;
    const bool maximize = o->maximize, l2 = o->weight_decay != 0;
    for (int64_t i = 0; i < n; i++) {
        float g = maximize ? -grad[i] : grad[i];    // -grad if maximize
        g = l2 ? fmaf(param[i], wd, g) : g;         // grad.add(param, alpha=wd)
        sum[i] = fmaf(g, g, sum[i]);                // sum.addcmul_(g, g, value=1)
        float std = sqrtf(sum[i]) + eps;            // sum.sqrt().add_(eps)
        param[i] = param[i] + (neg_clr * g) / std;  // addcdiv_(g, std, value=-clr)
    }
}

/**
## RMSprop

RMSprop replaces Adagrad's sum by a moving average, so old gradients are
forgotten, with no bias correction:

$$a \leftarrow \alpha a + (1-\alpha) g^2, \qquad
w \leftarrow w - \eta\, \frac{g}{\sqrt{a - \bar g^2} + \epsilon},$$

where the $\bar g^2$ term, the square of a moving average of the gradient
itself (`grad_avg`), is there only when `centered`: the denominator is
then an estimate of the gradient's standard deviation instead of its root
mean square. With `momentum`, the fraction $g / (\ldots)$ goes into a
buffer $b \leftarrow \mu b + g/(\ldots)$ and the step is $\eta b$.
*/

// RMSprop's scalars, each converted to float once per step.
typedef struct RmspropScalars {
    float alpha, one_minus_alpha, eps, wd, mom, neg_lr;
    bool maximize, l2;
} RmspropScalars;

// One value of _single_tensor_rmsprop: returns the new parameter; ga is
// NULL unless centered, buf NULL unless momentum > 0.
static inline float rmsprop_value(float p, float grad, float *sq, float *ga, float *buf,
                                  const RmspropScalars *k) {
    float g = k->maximize ? -grad : grad;                   // -grad if maximize
    g = k->l2 ? fmaf(p, k->wd, g) : g;                      // grad.add(param, alpha=wd)
    *sq = fmaf(k->one_minus_alpha * g, g, *sq * k->alpha);  // .mul_(a).addcmul_(g,g,1-a)
    float avg = *sq;
    if (ga) {
        *ga = fmaf(g, k->one_minus_alpha, *ga * k->alpha);  // ga.mul_(a).add_(g, 1-a)
        avg = fmaf(-*ga, *ga, avg);                         // sq.addcmul(ga, ga, -1)
    }
    avg = sqrtf(avg) + k->eps;                              // .sqrt_(), avg.add_(eps)
    if (!buf) return p + (k->neg_lr * g) / avg;             // addcdiv_(g, avg, value=-lr)
    *buf = *buf * k->mom + g / avg;                         // buf.mul_(m).addcdiv_(g,avg)
    return fmaf(*buf, k->neg_lr, p);                        // param.add_(buf, alpha=-lr)
}

EMB_FMA_CLONES
void rmsprop_update(float *restrict param, const float *restrict grad,
                    float *restrict square_avg, float *restrict grad_avg,
                    float *restrict momentum_buffer, int64_t n, const OptimOptions *o) {
    const RmspropScalars k = {
        .alpha = (float)o->alpha, .one_minus_alpha = (float)(1.0 - o->alpha),
        .eps = (float)o->eps, .wd = (float)o->weight_decay, .mom = (float)o->momentum,
        .neg_lr = (float)-o->lr, .maximize = o->maximize, .l2 = o->weight_decay != 0};
    float *sq = square_avg, *ga = grad_avg, *buf = momentum_buffer;
    if (ga && buf) {  // one loop per combination of buffers: no branch inside
        for (int64_t i = 0; i < n; i++)
            param[i] = rmsprop_value(param[i], grad[i], &sq[i], &ga[i], &buf[i], &k);
    } else if (ga) {
        for (int64_t i = 0; i < n; i++)
            param[i] = rmsprop_value(param[i], grad[i], &sq[i], &ga[i], NULL, &k);
    } else if (buf) {
        for (int64_t i = 0; i < n; i++)
            param[i] = rmsprop_value(param[i], grad[i], &sq[i], NULL, &buf[i], &k);
    } else {
        for (int64_t i = 0; i < n; i++)
            param[i] = rmsprop_value(param[i], grad[i], &sq[i], NULL, NULL, &k);
    }
}

/**
## State, created when PyTorch creates it

`optimizer.state[p]` is a dictionary per parameter. Its entries appear at
fixed moments, and a test can watch them appear:

* `SGD`: `momentum_buffer`, only if `momentum != 0`, at the first step
  with a gradient, as a copy of it.
* `Adam`, `AdamW`: `step`, `exp_avg`, `exp_avg_sq` and, with `amsgrad`,
  `max_exp_avg_sq`, at the first step with a gradient, zeros.
* `Adagrad`: `step` and `sum`, in the constructor, `sum` filled with
  `initial_accumulator_value`.
* `RMSprop`: `step`, `square_avg`, `momentum_buffer` (if `momentum > 0`)
  and `grad_avg` (if `centered`), at the first step with a gradient, zeros.

A state buffer has its parameter's size. That is the memory cost of an
optimizer, and for an embedding table it is large: Adam keeps two more
tables beside the weight and its gradient.
*/

// A zeroed (or filled) float buffer of n values, or NULL on failure.
static float *state_buffer(int64_t n, float fill) {
    int64_t bytes = emb_weight_bytes(n, 1);
    float *b = bytes < 0 ? NULL : emb_alloc(bytes);
    if (b)
        for (int64_t i = 0; i < n; i++) b[i] = fill;
    return b;
}

// Creates the state of parameter i (numel values) for o's kind and options.
static int create_state(Optimizer *o, int i, int64_t numel, EmbError *err) {
    ParamState *s = &o->state[i];
    const OptimOptions *op = &o->options;
    bool ok = true;
    switch (o->kind) {
    case OPTIM_SGD:
        if (op->momentum != 0)
            ok = (s->momentum_buffer = state_buffer(numel, 0.0f)) != NULL;
        break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        ok = (s->exp_avg = state_buffer(numel, 0.0f)) &&
             (s->exp_avg_sq = state_buffer(numel, 0.0f));
        if (ok && op->amsgrad)
            ok = (s->max_exp_avg_sq = state_buffer(numel, 0.0f)) != NULL;
        break;
    case OPTIM_ADAGRAD:
        ok = (s->sum = state_buffer(numel, (float)op->initial_accumulator_value)) != NULL;
        break;
    default:  // RMSprop
        ok = (s->square_avg = state_buffer(numel, 0.0f)) != NULL;
        if (ok && op->momentum > 0)
            ok = (s->momentum_buffer = state_buffer(numel, 0.0f)) != NULL;
        if (ok && op->centered) ok = (s->grad_avg = state_buffer(numel, 0.0f)) != NULL;
        break;
    }
    if (!ok)
        return emb_fail(err, "cannot allocate %s's state for %lld values",
                        optim_name(o->kind), (long long)numel);
    s->created = true;
    s->step = 0;
    return 0;
}

/**
## The optimizer

`optim_init` is the constructor: it checks the options, remembers the
parameters (their data and size, PyTorch's `param_groups`), and creates
Adagrad's state. `optim_step` is `step()`: for each parameter with a
gradient, in order, it creates the state if this is the first step,
counts the step, and calls the parameter's update. A parameter whose
gradient is `NULL` is skipped before anything happens to its state.
*/

int optim_init(Optimizer *o, OptimKind kind, const OptimOptions *options,
               const ParamList *params, EmbError *err) {
    memset(o, 0, sizeof *o);
    if (optim_check_options(kind, options, err) != 0) return -1;
    if (params->n < 1) return emb_fail(err, "optimizer got an empty parameter list");
    o->kind = kind;
    o->options = *options;
    o->n_params = params->n;
    for (int i = 0; i < params->n; i++) {
        o->param_data[i] = params->items[i].data;
        o->param_numel[i] = params->items[i].numel;
        if (kind == OPTIM_ADAGRAD &&
            create_state(o, i, params->items[i].numel, err) != 0) {
            optim_free(o);
            return -1;
        }
    }
    return 0;
}

// The message PyTorch 1.13 gives when this optimizer meets a sparse gradient.
static const char *sparse_message(OptimKind kind) {
    switch (kind) {
    case OPTIM_ADAM:
        return "Adam does not support sparse gradients, please consider "
               "SparseAdam instead";
    case OPTIM_ADAMW: return "AdamW does not support sparse gradients";
    case OPTIM_RMSPROP: return "RMSprop does not support sparse gradients";
    default: return "sparse gradients need chapter 6's sparse updates";
    }
}

// Updates parameter i, whose state exists, with its gradient.
static void update_one(Optimizer *o, int i, const Param *p) {
    ParamState *s = &o->state[i];
    const OptimOptions *op = &o->options;
    switch (o->kind) {
    case OPTIM_SGD:
        sgd_update(p->data, p->grad, s->momentum_buffer, s->step == 0, p->numel, op);
        s->step = 1;  // SGD has no step count: this marks the buffer as made
        break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        adam_update(p->data, p->grad, s->exp_avg, s->exp_avg_sq, s->max_exp_avg_sq,
                    p->numel, ++s->step, op, o->kind == OPTIM_ADAMW);
        break;
    case OPTIM_ADAGRAD:
        adagrad_update(p->data, p->grad, s->sum, p->numel, ++s->step, op);
        break;
    default:
        s->step++;
        rmsprop_update(p->data, p->grad, s->square_avg, s->grad_avg, s->momentum_buffer,
                       p->numel, op);
        break;
    }
}

int optim_step(Optimizer *o, const ParamList *params, EmbError *err) {
    if (params->n != o->n_params) {
        return emb_fail(err, "optimizer was given %d parameters, step got %d",
                        o->n_params, params->n);
    }
    for (int i = 0; i < params->n; i++) {  // PyTorch checks every gradient first
        const Param *p = &params->items[i];
        if (p->data != o->param_data[i] || p->numel != o->param_numel[i]) {
            return emb_fail(err,
                            "parameter %d (%s) is not the one given to the optimizer", i,
                            p->name);
        }
        if (p->sparse_grad) return emb_fail(err, "%s", sparse_message(o->kind));
    }
    for (int i = 0; i < params->n; i++) {
        const Param *p = &params->items[i];
        if (!p->grad) continue;  // p.grad is None: skipped, state untouched
        if (!o->state[i].created && create_state(o, i, p->numel, err) != 0) return -1;
        update_one(o, i, p);
    }
    return 0;
}

/**
SGD has no `step` in PyTorch; we keep `step` for it too, as a count of
updates, because the first update is the one that creates the buffer.
The state's size is what chapter 6's memory table adds up: one copy of
the parameter per buffer.
*/

int64_t optim_state_bytes(const Optimizer *o) {
    int64_t total = 0;
    for (int i = 0; i < o->n_params; i++) {
        const ParamState *s = &o->state[i];
        const float *bufs[] = {s->momentum_buffer, s->exp_avg, s->exp_avg_sq,
                               s->max_exp_avg_sq,  s->sum,     s->square_avg,
                               s->grad_avg};
        for (size_t b = 0; b < sizeof bufs / sizeof bufs[0]; b++) {
            if (bufs[b]) total += o->param_numel[i] * (int64_t)sizeof(float);
        }
    }
    return total;
}

int64_t optim_state_bytes_for(OptimKind kind, const OptimOptions *options,
                              int64_t numel) {
    int copies = 0;
    switch (kind) {
    case OPTIM_SGD: copies = options->momentum != 0; break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: copies = 2 + options->amsgrad; break;
    case OPTIM_ADAGRAD: copies = 1; break;
    default: copies = 1 + (options->momentum > 0) + options->centered; break;
    }
    int64_t per_copy = emb_weight_bytes(numel, 1), total;
    if (per_copy < 0 || emb_mul_size(per_copy, copies, &total) != 0) return -1;
    return total;
}

void optim_free(Optimizer *o) {
    for (int i = 0; i < o->n_params; i++) {
        ParamState *s = &o->state[i];
        free(s->momentum_buffer);
        free(s->exp_avg);
        free(s->exp_avg_sq);
        free(s->max_exp_avg_sq);
        free(s->sum);
        free(s->square_avg);
        free(s->grad_avg);
    }
    memset(o, 0, sizeof *o);
}

/**
## A training step, and what it moves

From this chapter on, a training step is four calls, in PyTorch's order:
`zero_grad`, forward, backward, `step`. `ntm_train_step` is that loop body
for chapter 2's model; later chapters write the same four lines for
theirs.
*/

int ntm_train_step(NextTokenModel *m, Optimizer *o, const ParamList *params,
                   const int64_t *inputs, const int64_t *targets, int64_t B, double *loss,
                   EmbError *err) {
    param_list_zero_grad(params);  // optimizer.zero_grad()
    if (ntm_forward(m, inputs, targets, B, loss, err) != 0) return -1;  // loss = model(x)
    if (ntm_backward(m, inputs, B, err) != 0) return -1;                // loss.backward()
    return optim_step(o, params, err);  // optimizer.step()
}

/**
To see what an optimizer does to a table we measure two things after each
step: which rows changed at all (any bit of any value), and how well the
table separates the word categories of chapter 2's corpus, with chapter
2's `emb_category_spread` (the mean distance between two words of the same
category divided by the mean distance between words of different
categories: about 1 for a random table, 0 for perfect groups).
*/

int64_t emb_rows_changed(const float *before, const float *after, int64_t V, int64_t D) {
    int64_t n = 0;
    for (int64_t k = 0; k < V; k++) {
        n += memcmp(before + k * D, after + k * D, (size_t)D * sizeof(float)) !=
             0;  // row k
    }
    return n;
}

/**
### Ghost updates, measured

The ghost-update experiment needs no model: a table of 4 rows of 3
values, all 0.5, whose gradient we set by hand. Row 1 has a gradient of
1 at every step, row 0 at step 1 only, row 3 never. `optim_ghost_run`
records how far rows 0 and 3 are from where they started, after each
step, in units of the learning rate (the mean over the row's values of
$|w_t - w_0| / \eta$).
*/

enum { GHOST_V = 4, GHOST_D = 3 };

// The mean of |w_k - 0.5| / lr over row k of the ghost table.
static double ghost_distance(const float *w, int64_t k, double lr) {
    double sum = 0;
    for (int d = 0; d < GHOST_D; d++) sum += fabs((double)w[k * GHOST_D + d] - 0.5);
    return sum / GHOST_D / lr;
}

int optim_ghost_run(OptimKind kind, const OptimOptions *options, int64_t steps,
                    double *dist, EmbError *err) {
    float w[GHOST_V * GHOST_D], g[GHOST_V * GHOST_D];
    ParamList params = {0};
    Optimizer opt = {0};
    for (int k = 0; k < GHOST_V * GHOST_D; k++) w[k] = 0.5f;
    int rc = param_list_add(&params, "weight", w, g, GHOST_V, GHOST_D, err) != 0 ||
             optim_init(&opt, kind, options, &params, err) != 0;
    for (int64_t s = 0; rc == 0 && s <= steps; s++) {
        dist[s * 2] = ghost_distance(w, 0, options->lr);  // row 0: a gradient at step 1
        dist[s * 2 + 1] = ghost_distance(w, 3, options->lr);  // row 3: never
        if (s == steps) break;
        memset(g, 0, sizeof g);
        for (int d = 0; d < GHOST_D; d++) {
            g[1 * GHOST_D + d] = 1.0f;              // row 1: every step
            if (s == 0) g[0 * GHOST_D + d] = 1.0f;  // row 0: step 1 only
        }
        rc = optim_step(&opt, &params, err);
    }
    optim_free(&opt);
    return rc ? -1 : 0;
}

/**
### The padding row, measured

`optim_padding_run` builds a 4 x 2 table with `from_pretrained` and
`padding_idx=3`, whose padding row is the caller's, looks up `[3, 0, 3,
1]` with an upstream gradient of ones through chapter 3's forward and
backward passes (so the padding row's gradient is always zero), and
steps. It returns the padding row after `steps` steps.
*/

int optim_padding_run(OptimKind kind, const OptimOptions *options, const float pad[2],
                      int64_t steps, float out_pad[2], EmbError *err) {
    float w[8] = {1.0f, -1.0f, 0.5f, 0.5f, 2.0f, 0.0f, pad[0], pad[1]}, out[8], G[8];
    const int64_t idx[4] = {3, 0, 3, 1};
    EmbeddingOptions eo = emb_default_options();
    eo.has_padding_idx = true;
    eo.padding_idx = 3;
    Embedding e = {0};
    ParamList params = {0};
    Optimizer opt = {0};
    for (int k = 0; k < 8; k++) G[k] = 1.0f;
    int rc = emb_from_pretrained(&e, w, 4, 2, false, &eo, err) ||
             emb_alloc_grad(&e, err) || emb_parameters(&e, &params, err) ||
             optim_init(&opt, kind, options, &params, err);
    for (int64_t s = 0; rc == 0 && s < steps; s++) {
        emb_zero_grad(&e);
        rc = emb_forward(&e, idx, 4, out, err) || emb_backward_opts(&e, idx, 4, G, err) ||
             optim_step(&opt, &params, err);
    }
    out_pad[0] = w[6];
    out_pad[1] = w[7];
    optim_free(&opt);
    emb_free(&e);
    return rc ? -1 : 0;
}

/**
## The program

The program runs four experiments, writes a TSV file for each and the
numbers the text quotes to `values.tsv`: every optimizer on chapter 2's
model ($D = 2$, the same initial table and batches for all); the ghost
updates; the padding row; and the memory table. Each experiment is a list
of optimizer specifications. The learning rates of the training runs are
the ones that worked best, of a handful we tried, for each optimizer on
this model: SGD keeps chapter 2's 0.5; momentum 0.9 makes steps up to 10
times larger, so it gets a tenth; Adam's and RMSprop's steps are about
`lr` per value whatever the gradient, so they need small ones. The ghost
runs all use `lr=0.01`; the padding runs `lr=0.1`, with
`weight_decay=0.1` where the name says `-wd`.
*/

#ifndef EMB_LIBRARY

#include <ctype.h>

#include "../src/cli.h"
#include "../src/corpus.h"
#include "../src/snapshots.h"
#include "../src/tsv.h"

typedef struct Options {
    int64_t steps, batch, sentences, ghost_steps;
    uint64_t seed;
    const char *out;  // the run's folder, as the user named it
    const char *dir;  // where this run writes: a fresh folder that becomes out
} Options;

// Records a value under "prefix.<name>.field", the name lower-cased with
// '-' written '_' (run_values.h wants keys in [a-z0-9_.]).
static void value(RunValues *v, const char *prefix, const char *name, const char *field,
                  int decimals, double x) {
    char key[96];
    int n = snprintf(key, sizeof key, "%s.%s.%s", prefix, name, field);
    for (int i = 0; i < n && i < (int)sizeof key - 1; i++)
        key[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
    run_values_set(v, key, "%.*f", decimals, x);
}

// An optimizer with the options a run changes from PyTorch's defaults.
typedef struct Spec {
    const char *name;                   // a column name in the TSV files
    OptimKind kind;
    double lr, momentum, weight_decay;  // weight_decay < 0: the optimizer's default
} Spec;

static OptimOptions spec_options(const Spec *s) {
    OptimOptions o = optim_defaults(s->kind);
    o.lr = s->lr;
    o.momentum = s->momentum;
    if (s->weight_decay >= 0) o.weight_decay = s->weight_decay;
    return o;
}

static const Spec RUNS[] = {
    {"SGD", OPTIM_SGD, 0.5, 0, -1},         {"SGD-momentum", OPTIM_SGD, 0.05, 0.9, -1},
    {"Adam", OPTIM_ADAM, 0.05, 0, -1},      {"AdamW", OPTIM_ADAMW, 0.05, 0, -1},
    {"Adagrad", OPTIM_ADAGRAD, 0.5, 0, -1}, {"RMSprop", OPTIM_RMSPROP, 0.01, 0, -1},
};
static const Spec GHOSTS[] = {
    {"SGD", OPTIM_SGD, 0.01, 0, 0},         {"SGD-momentum", OPTIM_SGD, 0.01, 0.9, 0},
    {"SGD-wd", OPTIM_SGD, 0.01, 0, 0.01},   {"Adam", OPTIM_ADAM, 0.01, 0, 0},
    {"Adam-wd", OPTIM_ADAM, 0.01, 0, 0.01}, {"AdamW", OPTIM_ADAMW, 0.01, 0, 0.01},
    {"Adagrad", OPTIM_ADAGRAD, 0.01, 0, 0}, {"RMSprop", OPTIM_RMSPROP, 0.01, 0, 0},
    {"RMSprop-momentum", OPTIM_RMSPROP, 0.01, 0.9, 0}};
static const Spec PADS[] = {
    {"SGD", OPTIM_SGD, 0.1, 0, 0},         {"SGD-wd", OPTIM_SGD, 0.1, 0, 0.1},
    {"Adam", OPTIM_ADAM, 0.1, 0, 0},       {"SGD-momentum-wd", OPTIM_SGD, 0.1, 0.9, 0.1},
    {"Adam-wd", OPTIM_ADAM, 0.1, 0, 0.1},  {"AdamW", OPTIM_ADAMW, 0.1, 0, 0.1},
    {"Adagrad-wd", OPTIM_ADAGRAD, 0.1, 0, 0.1},
    {"RMSprop-wd", OPTIM_RMSPROP, 0.1, 0, 0.1}};
static const Spec MEMORY[] = {
    {"SGD", OPTIM_SGD, 0.1, 0, -1},   {"SGD-momentum", OPTIM_SGD, 0.1, 0.9, -1},
    {"Adam", OPTIM_ADAM, 0.1, 0, -1}, {"Adagrad", OPTIM_ADAGRAD, 0.1, 0, -1},
    {"RMSprop", OPTIM_RMSPROP, 0.1, 0, -1}};
static const struct { const char *name, *key; int64_t V, D; } TABLES[] = {
    {"BERT-base", "bert", 30522, 768}, {"GPT-2", "gpt2", 50257, 768},
    {"10^7 rows", "big", 10000000, 64}};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
enum { N_RUNS = COUNT(RUNS), N_SNAPSHOTS = 40, SMOOTH = 50, PAD_STEPS = 10 };

// A training run: per step, the batch loss, rows looked up and moved, the
// category spread; snapshots of the table.
typedef struct Run {
    double *loss, *spread;    // (steps,) batch loss; category spread after the step
    int64_t *looked, *moved;  // (steps,) rows looked up; rows that changed
    Snapshots snaps;
} Run;

// One training run: the same initial model and batches for every optimizer.
static int train(const Options *op, const Corpus *c, const Spec *spec, Run *run,
                 EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    ParamList params;
    Optimizer opt = {0};
    OptimOptions oo = spec_options(spec);
    int64_t V = c->vocab_size, D = 2, B = op->batch;
    int64_t *in = malloc((size_t)B * 16), *tgt = in + B;      // (B,) each
    float *before = malloc((size_t)(V * D) * sizeof(float));  // (V, D)
    rng_manual_seed(&gen, op->seed);
    int rc = !in || !before || ntm_init(&m, V, D, B, &gen, err) != 0;
    if (rc) free(in), free(before);
    if (rc) return emb_fail(err, "cannot build the model");
    rc = ntm_parameters(&m, &params, err) ||
         optim_init(&opt, spec->kind, &oo, &params, err);
    for (int64_t s = 0; rc == 0 && s <= op->steps; s++) {
        snapshots_take(&run->snaps, s, m.emb.weight);
        if (s == op->steps) break;
        ntm_sample_batch(&gen, c->tokens, c->n_tokens, B, in, tgt);
        memcpy(before, m.emb.weight, (size_t)(V * D) * sizeof(float));
        rc = ntm_train_step(&m, &opt, &params, in, tgt, B, &run->loss[s], err) ||
             cli_check_loss(s + 1, run->loss[s], spec->lr, err);
        run->looked[s] = emb_rows_touched(&m.emb, in, B);
        run->moved[s] = emb_rows_changed(before, m.emb.weight, V, D);
        run->spread[s] = emb_category_spread(m.emb.weight, V, D, c->category);
    }
    optim_free(&opt);
    ntm_free(&m);
    free(in), free(before);
    return rc ? -1 : 0;
}

// Prints run r's line of the table and records its values.
static void summarise(const Options *op, int r, const Run *run, RunValues *values) {
    int64_t first = -1, half = op->steps / 2, n = op->steps;
    double loss = 0, moved = 0, looked = 0;
    for (int64_t s = n - 1; s >= 0; s--)
        if (run->spread[s] < 0.2) first = s + 1;
    for (int64_t s = n > SMOOTH ? n - SMOOTH : 0; s < n; s++)
        loss += run->loss[s] / (double)(n > SMOOTH ? SMOOTH : n);
    for (int64_t s = half; s < n; s++) {
        moved += (double)run->moved[s] / (double)(n - half);
        looked += (double)run->looked[s] / (double)(n - half);
    }
    printf("%-14s %8.3f %14lld %10.1f %10.1f\n", RUNS[r].name, loss, (long long)first,
           looked, moved);
    value(values, "train", RUNS[r].name, "loss", 2, loss);
    value(values, "train", RUNS[r].name, "spread_step", 0, (double)first);
    value(values, "train", RUNS[r].name, "moved", 1, moved);
    if (r == 0) run_values_set(values, "train.looked", "%.1f", looked);
}

/**
The output files: `loss.tsv` (a moving average of 50 steps of each run's
batch loss, and the unigram baseline), `spread.tsv`, `touched.tsv` (rows
looked up, and rows each run moved), `ghost.tsv` and `ghost-never.tsv`
(rows 0 and 3), `padding.tsv`, `memory.tsv` (bytes), and one folder per
run with its table's trajectories in chapter 2's format.
*/

// Writes loss.tsv, spread.tsv, touched.tsv and every run's trajectories.
static int write_training(const Options *op, const Corpus *c, const Run *runs,
                          double *smooth, EmbError *err) {
    int64_t n = op->steps;
    TsvColumn loss[N_RUNS + 1], spread[N_RUNS], moved[N_RUNS + 1];
    moved[0] = (TsvColumn){"looked_up", TSV_WHOLE, .counts = runs[0].looked};
    for (int r = 0; r < N_RUNS; r++) {
        tsv_moving_average(runs[r].loss, n, SMOOTH, smooth + r * n);
        loss[r] = (TsvColumn){RUNS[r].name, TSV_FIXED6, .values = smooth + r * n};
        spread[r] = (TsvColumn){RUNS[r].name, TSV_FIXED6, .values = runs[r].spread};
        moved[r + 1] = (TsvColumn){RUNS[r].name, TSV_WHOLE, .counts = runs[r].moved};
    }
    loss[N_RUNS] =
        (TsvColumn){"baseline", TSV_FIXED6, .constant = corpus_unigram_entropy(c)};
    if (tsv_write_columns(op->dir, "loss.tsv", "step", 1, n, loss, N_RUNS + 1, err) ||
        tsv_write_columns(op->dir, "spread.tsv", "step", 1, n, spread, N_RUNS, err) ||
        tsv_write_columns(op->dir, "touched.tsv", "step", 1, n, moved, N_RUNS + 1, err))
        return -1;
    RowLabels labels = {(const char *const *)c->words, c->category, c->category_names,
                        c->n_categories};
    for (int r = 0; r < N_RUNS; r++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/%s", op->dir, RUNS[r].name);
        if (cli_make_dir(dir, err) != 0 ||
            snapshots_write(&runs[r].snaps, dir, &labels, false, err) != 0)
            return -1;
    }
    return 0;
}

// Every optimizer on chapter 2's model.
static int experiment_training(const Options *op, const Corpus *c, RunValues *values,
                               EmbError *err) {
    Run runs[N_RUNS] = {{0}};
    size_t n = (size_t)op->steps;
    double *smooth = calloc(n * N_RUNS, sizeof(double));  // (N_RUNS, steps)
    int rc = smooth ? 0 : emb_fail(err, "out of memory for %lld steps", (long long)n);
    printf("%-14s %8s %14s %10s %10s\n", "optimizer", "loss", "spread < 0.2", "looked up",
           "moved");
    for (int r = 0; r < N_RUNS && rc == 0; r++) {
        Run *run = &runs[r];
        run->loss = calloc(n, 8), run->spread = calloc(n, 8);
        run->looked = calloc(n, 8), run->moved = calloc(n, 8);
        rc = !run->loss || !run->spread || !run->looked || !run->moved
                 ? emb_fail(err, "out of memory for %lld steps", (long long)op->steps)
                 : snapshots_init(&run->snaps, c->vocab_size, 2, N_SNAPSHOTS, op->steps,
                                  err);
        if (rc == 0) rc = train(op, c, &RUNS[r], run, err);
        if (rc == 0) summarise(op, r, run, values);
    }
    if (rc == 0) rc = write_training(op, c, runs, smooth, err);
    for (int r = 0; r < N_RUNS; r++) {
        free(runs[r].loss), free(runs[r].spread), free(runs[r].looked),
            free(runs[r].moved);
        snapshots_free(&runs[r].snaps);
    }
    free(smooth);
    return rc ? -1 : 0;
}

// Records the values of ghost run r: d0 and d3 are rows 0 and 3, (steps + 1,).
static void ghost_values(RunValues *values, int r, const double *d0, const double *d3,
                         int64_t steps) {
    int later = 0;  // steps after the first in which row 0 moved
    for (int64_t s = 2; s <= steps; s++) later += d0[s] != d0[s - 1];
    double x[] = {later, d0[steps], d3[steps], d0[1], d0[2] - d0[1], d0[3] - d0[2]};
    const char *field[] = {"later_moves", "total", "never", "move1", "move2", "move3"};
    for (int k = 0; k < 6; k++)
        value(values, "ghost", GHOSTS[r].name, field[k], k ? 2 : 0, x[k]);
}

// The ghost-update runs: ghost.tsv (row 0) and ghost-never.tsv (row 3).
static int experiment_ghost(const Options *op, RunValues *values, EmbError *err) {
    int64_t steps = op->ghost_steps, n = COUNT(GHOSTS), len = steps + 1;
    double *d = malloc((size_t)(4 * n * len) * sizeof(double));  // (n, len, 2), then rows
    int rc = d ? 0 : emb_fail(err, "out of memory for %lld steps", (long long)steps);
    double *row0 = d + 2 * n * len, *row3 = row0 + n * len;  // (n, len) each
    TsvColumn c0[COUNT(GHOSTS)], c3[COUNT(GHOSTS)];
    for (int r = 0; r < n && rc == 0; r++) {
        OptimOptions o = spec_options(&GHOSTS[r]);
        rc = optim_ghost_run(GHOSTS[r].kind, &o, steps, d + r * len * 2, err);
        for (int64_t s = 0; s < len; s++) {  // split rows 0 and 3 into columns
            row0[r * len + s] = d[(r * len + s) * 2];
            row3[r * len + s] = d[(r * len + s) * 2 + 1];
        }
        if (rc == 0) ghost_values(values, r, row0 + r * len, row3 + r * len, steps);
        c0[r] = (TsvColumn){GHOSTS[r].name, TSV_G, .values = row0 + r * len};
        c3[r] = (TsvColumn){GHOSTS[r].name, TSV_G, .values = row3 + r * len};
    }
    if (rc == 0)
        rc = tsv_write_columns(op->dir, "ghost.tsv", "step", 0, len, c0, n, err) ||
             tsv_write_columns(op->dir, "ghost-never.tsv", "step", 0, len, c3, n, err);
    free(d);
    return rc ? -1 : 0;
}

// The padding runs: a zero and a non-zero padding row under each optimizer.
static int experiment_padding(const Options *op, RunValues *values, EmbError *err) {
    OutFile f;
    if (outfile_open(&f, op->dir, "padding.tsv", err) != 0) return -1;
    fprintf(f.f, "optimizer\tzero_row_0\tzero_row_1\tnonzero_row_0\tnonzero_row_1\n");
    printf("\npadding rows [0, 0] and [0.3, -0.6] after %d steps:\n", PAD_STEPS);
    for (int r = 0; r < COUNT(PADS); r++) {
        const float zero_row[2] = {0.0f, 0.0f}, row[2] = {0.3f, -0.6f};
        float zero[2], pad[2];
        OptimOptions o = spec_options(&PADS[r]);
        if (optim_padding_run(PADS[r].kind, &o, zero_row, PAD_STEPS, zero, err) != 0 ||
            optim_padding_run(PADS[r].kind, &o, row, PAD_STEPS, pad, err) != 0) {
            outfile_abort(&f);
            return -1;
        }
        fprintf(f.f, "%s\t%g\t%g\t%.6f\t%.6f\n", PADS[r].name, zero[0], zero[1], pad[0],
                pad[1]);
        printf("  %-16s [%g, %g]  [%.4f, %.4f]\n", PADS[r].name, zero[0], zero[1], pad[0],
               pad[1]);
        value(values, "pad", PADS[r].name, "x", 4, pad[0]);
        value(values, "pad", PADS[r].name, "y", 4, pad[1]);
    }
    return outfile_commit(&f, err);
}

// memory.tsv: bytes of each table, of its gradient, and of each optimizer's state.
static int experiment_memory(const Options *op, int64_t V, RunValues *values,
                             EmbError *err) {
    OutFile f;
    if (outfile_open(&f, op->dir, "memory.tsv", err) != 0) return -1;
    fprintf(f.f, "table\tV\tD\tweight\tgrad");
    for (int r = 0; r < COUNT(MEMORY); r++) fprintf(f.f, "\t%s", MEMORY[r].name);
    for (int t = -1; t < COUNT(TABLES); t++) {  // -1: this chapter's table
        int64_t rows = t < 0 ? V : TABLES[t].V, D = t < 0 ? 2 : TABLES[t].D;
        int64_t table = emb_weight_bytes(rows, D);
        fprintf(f.f, "\n%s\t%lld\t%lld\t%lld\t%lld",
                t < 0 ? "this chapter's" : TABLES[t].name, (long long)rows, (long long)D,
                (long long)table, (long long)table);
        for (int r = 0; r < COUNT(MEMORY); r++) {
            OptimOptions o = spec_options(&MEMORY[r]);
            int64_t state = optim_state_bytes_for(MEMORY[r].kind, &o, rows * D);
            fprintf(f.f, "\t%lld", (long long)state);
            if (MEMORY[r].kind == OPTIM_ADAM)
                value(values, "memory", t < 0 ? "book" : TABLES[t].key, "adam_total_gb",
                      2, (double)(2 * table + state) / 1e9);
        }
    }
    fprintf(f.f, "\n");
    return outfile_commit(&f, err);
}

static int run(void *options, const char *dir, RunValues *values, EmbError *err) {
    Options op = *(const Options *)options;
    Corpus c = {0};
    op.dir = dir;
    if (corpus_builtin(&c, op.seed, op.sentences, err) != 0) return -1;
    int rc =
        op.batch > c.n_tokens - 1
            ? emb_fail(err, "--batch %lld is larger than the corpus (%lld positions)",
                       (long long)op.batch, (long long)(c.n_tokens - 1))
            : 0;
    if (rc == 0) {
        printf("chapter 2's model, D=2, vocabulary %lld, %lld steps, batch %lld, seed "
               "%llu\n\n",
               (long long)c.vocab_size, (long long)op.steps, (long long)op.batch,
               (unsigned long long)op.seed);
        run_values_set(values, "train.steps", "%lld", (long long)op.steps);
        run_values_set(values, "ghost.steps", "%lld", (long long)op.ghost_steps);
        run_values_set(values, "train.vocab", "%lld", (long long)c.vocab_size);
        run_values_set(values, "train.batch", "%lld", (long long)op.batch);
        rc = experiment_training(&op, &c, values, err) ||
             experiment_ghost(&op, values, err) || experiment_padding(&op, values, err) ||
             experiment_memory(&op, c.vocab_size, values, err);
    }
    corpus_free(&c);
    return rc ? -1 : 0;
}

int main(int argc, char **argv) {
    Options o = {0};
    CliOption options[] = {
        {"steps", "N", CLI_INT, &o.steps, "1000", "training steps per optimizer", .lo = 1,
         .hi = 1000000},
        {"batch", "B", CLI_INT, &o.batch, "32", "positions per step", .lo = 1,
         .hi = 100000},
        {"sentences", "N", CLI_INT, &o.sentences, "2000", "size of the built-in corpus",
         .lo = 1, .hi = 1000000},
        {"ghost-steps", "N", CLI_INT, &o.ghost_steps, "60",
         "steps of the ghost-update experiment", .lo = 2, .hi = 100000},
        {"seed", "S", CLI_SEED, &o.seed, "0", .help = "torch.manual_seed"},
        {"out", "DIR", CLI_STRING, &o.out, "build/ch04", .help = "the run's folder"},
    };
    CliProgram prog = {
        "ch04",
        "Trains chapter 2's model with every optimizer, measures ghost updates, the\n"
        "padding row and optimizer memory, and writes TSV files.",
        options,
        CLI_COUNT(options),
        &o.out,
        run,
        &o};
    return cli_main(&prog, argc, argv);
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter4` trains chapter 2's model six times, {{train.steps}} steps
each, and runs the three small experiments; it takes a fraction of a
second. The conformance runner checks the optimizers themselves: every
case of
`tests/reference/sgd.ref`, `optimizers.ref` and `options.ref` that uses a
chapter-4 optimizer, including runs on an 11 x 7 table (77 values: 64 in
the vector body of PyTorch's kernels, 13 in their scalar tail), matches
PyTorch's weights after every step **bit for bit**. Replace the `fmaf` of
the `exp_avg` line by a multiply and an add, and several Adam and AdamW
cases fail, most of them on the 11 x 7 tables: that is how narrow the
margin is.

### Ghost updates

![Rows without a gradient still move. Left: row 0, looked up at step 1
only. Right: row 3, never looked up.](fig-ghost.png)

Row 0 had a gradient once. Under plain SGD and under Adagrad it moved at
step 1 and never again: its later moves are exactly zero
({{ghost.sgd.later_moves}} and {{ghost.adagrad.later_moves}} steps with a
move after the first). RMSprop without momentum also stops after step 1
({{ghost.rmsprop.later_moves}} later moves), but its first step is
{{ghost.rmsprop.move1}} learning rates, not one: its average of squares
starts at zero and has no bias correction, so the first denominator is
$\sqrt{1-\alpha} = 0.1$ times the gradient. Adam moves the row
{{ghost.adam.move1}}, {{ghost.adam.move2}} and {{ghost.adam.move3}}
learning rates in its first three steps, although the gradient was zero
from step 2 on: $m$ decays by $\beta_1$ per step, $\sqrt{v}$ only by
$\sqrt{\beta_2}$, and the bias corrections fade. The row keeps
drifting, to {{ghost.adam.total}} learning rates after {{ghost.steps}}
steps. SGD with momentum 0.9 repeats the first step with weights $0.9,
0.81, \ldots$, which add up to 10: the row drifts to
{{ghost.sgd_momentum.total}} learning rates.

Row 3 never had a gradient. It moves only under weight decay, and how
much depends on the optimizer: SGD's decay and AdamW's decoupled decay
move it by $\eta\lambda w$ per step ({{ghost.sgd_wd.never}} and
{{ghost.adamw.never}} learning rates after {{ghost.steps}} steps), while
Adam's L2 decay, normalised like any gradient, moves it almost a full
learning rate per step: {{ghost.adam_wd.never}} learning rates after
{{ghost.steps}} steps, for a row no input ever used.

### Rows looked up, rows moved

![Rows looked up by each batch, and rows each optimizer moved.](fig-touched.png)

In training, a batch of {{train.batch}} positions looks up {{train.looked}} of the
{{train.vocab}} rows on average. SGD, Adagrad and RMSprop move exactly those
({{train.sgd.moved}}, {{train.adagrad.moved}}, {{train.rmsprop.moved}}
per step); SGD with momentum and Adam move every row that was ever looked
up ({{train.sgd_momentum.moved}} and {{train.adam.moved}}: all but
`<unk>`, which the corpus never uses), and AdamW's weight decay moves
`<unk>` too ({{train.adamw.moved}}). With a vocabulary of $10^5$ words
and batches that touch a few thousand, that is the difference between a
step that changes a few thousand rows and one that changes all of them.

### The padding row

A padding row that is zero stays exactly zero under every optimizer, with
and without weight decay: its gradient is always zero, its state stays
zero, and weight decay of zero is zero. A non-zero padding row, as
`from_pretrained` leaves it, is another matter. After ten steps at
`lr=0.1`, `weight_decay=0.1`, the row `[0.3, -0.6]` became:

| optimizer | padding row |
|---|---|
| SGD, no decay | [{{pad.sgd.x}}, {{pad.sgd.y}}] |
| Adam, no decay | [{{pad.adam.x}}, {{pad.adam.y}}] |
| SGD, `weight_decay=0.1` | [{{pad.sgd_wd.x}}, {{pad.sgd_wd.y}}] |
| AdamW, `weight_decay=0.1` | [{{pad.adamw.x}}, {{pad.adamw.y}}] |
| Adam, `weight_decay=0.1` (L2) | [{{pad.adam_wd.x}}, {{pad.adam_wd.y}}] |
| Adagrad, `weight_decay=0.1` | [{{pad.adagrad_wd.x}}, {{pad.adagrad_wd.y}}] |
| RMSprop, `weight_decay=0.1` | [{{pad.rmsprop_wd.x}}, {{pad.rmsprop_wd.y}}] |

SGD's and AdamW's decay shrink it by 1% per step; Adam's L2 decay walks
it a learning rate per step straight through zero and out the other side;
Adagrad and RMSprop, which also normalise the decay term, nearly erase it.
`padding_idx` promises a zero gradient, not a fixed row.

### Every optimizer on one model

![The loss of each run (moving average of 50 steps).](fig-loss.png)

![How well each table separates the categories.](fig-spread.png)

![The tables, one panel per optimizer.](fig-trajectories.png)

All six runs end near the same loss (between {{train.adagrad.loss}} and
{{train.adamw.loss}} nats), so on this small problem the choice barely
matters for the loss. It matters for how fast the table organises itself.
The spread falls below 0.2 after {{train.adagrad.spread_step}} steps with
Adagrad, {{train.adamw.spread_step}} with AdamW,
{{train.adam.spread_step}} with Adam, {{train.rmsprop.spread_step}} with
RMSprop and {{train.sgd.spread_step}} with SGD. The adaptive optimizers
give every row steps of about one learning rate, however small its
gradient, so rare words move as fast as common ones; SGD's steps are
proportional to the gradient, and the rare words' gradients are small.
Adagrad is fastest here because its learning rate is the largest (0.5)
and its sums are still small early on. This is one model, one seed, and
learning rates chosen from a handful of tries; it says which optimizer
organises *this* table fastest, not which is best. SGD with momentum 0.9
at a tenth of the learning rate follows SGD almost exactly (compare the
two panels): for a slowly changing gradient momentum is a larger
learning rate.

### Memory

Every state buffer is a copy of its parameter's size. For an embedding
table, dense Adam therefore holds four tables: the weight, its gradient,
`exp_avg` and `exp_avg_sq`. For BERT-base's table of 30522 x 768 that is
{{memory.bert.adam_total_gb}} GB, for GPT-2's 50257 x 768
{{memory.gpt2.adam_total_gb}} GB, for a table of $10^7$ rows of 64
{{memory.big.adam_total_gb}} GB, of which the weight is a quarter. SGD
without momentum keeps nothing; SGD with momentum, Adagrad and RMSprop
one copy; `amsgrad` and RMSprop's `centered` and `momentum` one more each
(`memory.tsv`).

## Performance

A dense Adam step costs more than a dense SGD step, because it moves more
memory. `make bench` times one full step, `zero_grad`, lookup, backward
and `optim_step`, for $N = 4096$ indices and $D = 64$ as $V$ grows from
$10^3$ to $10^7$, on one thread, beside PyTorch's `nn.Embedding` with
`torch.optim.Adam` doing the same step on the same table and batches,
and beside the floor of the step: the bytes it must move, streamed by a
plain C loop on the same buffers in the same run. Adam reads the weight,
the gradient and both moments and writes the weight and both moments,
$28VD$ bytes; `zero_grad` writes the gradient, $4VD$; the rows of the
batch add $20ND$. A first step at each $V$ is taken by both sides from
the same table, and their weights agree bit for bit.

* $V = 10^3$, {{bench:ch04.adam.1000.bytes}} to move: floor
  {{bench:ch04.adam.1000.floor_ms}} ms, C step {{bench:ch04.adam.1000.c_ms}} ms
  ({{bench:ch04.adam.1000.c_over_floor}} times the floor), PyTorch
  {{bench:ch04.adam.1000.torch_ms}} ms ({{bench:ch04.adam.1000.torch_over_c}} times C).
* $V = 10^4$, {{bench:ch04.adam.10000.bytes}} to move: floor
  {{bench:ch04.adam.10000.floor_ms}} ms, C step {{bench:ch04.adam.10000.c_ms}} ms
  ({{bench:ch04.adam.10000.c_over_floor}} times the floor), PyTorch
  {{bench:ch04.adam.10000.torch_ms}} ms ({{bench:ch04.adam.10000.torch_over_c}} times C).
* $V = 10^5$, {{bench:ch04.adam.100000.bytes}} to move: floor
  {{bench:ch04.adam.100000.floor_ms}} ms, C step {{bench:ch04.adam.100000.c_ms}} ms
  ({{bench:ch04.adam.100000.c_over_floor}} times the floor), PyTorch
  {{bench:ch04.adam.100000.torch_ms}} ms ({{bench:ch04.adam.100000.torch_over_c}}
  times C).
* $V = 10^6$, {{bench:ch04.adam.1000000.bytes}} to move: floor
  {{bench:ch04.adam.1000000.floor_ms}} ms, C step {{bench:ch04.adam.1000000.c_ms}} ms
  ({{bench:ch04.adam.1000000.c_over_floor}} times the floor), PyTorch
  {{bench:ch04.adam.1000000.torch_ms}} ms ({{bench:ch04.adam.1000000.torch_over_c}}
  times C).
* $V = 10^7$, {{bench:ch04.adam.10000000.bytes}} to move: floor
  {{bench:ch04.adam.10000000.floor_ms}} ms, C step {{bench:ch04.adam.10000000.c_ms}} ms
  ({{bench:ch04.adam.10000000.c_over_floor}} times the floor), PyTorch
  {{bench:ch04.adam.10000000.torch_ms}} ms ({{bench:ch04.adam.10000000.torch_over_c}}
  times C).

In the run these numbers come from (`make bench`; a shared 2-core
machine, load average {{bench:bench.load_start}} at the start), the C
step was within 1.5 times its floor, the goal we set, at
{{bench:ch04.adam.goal_met}} sizes (missed at:
{{bench:ch04.adam.goal_missed}}).
`adam_update` is one loop that reads and writes each buffer once, and GCC
turns it into vector instructions, so at large $V$ the step runs at the
speed of memory. At $10^3$ rows the table fits in cache, and the
batch's 4096 rows (looked up with their indices checked, then scattered
back) are a large part of the step, while the floor counts them as
contiguous copies. Where the step comes out *under* its floor,
the floor's own calls met more competition from the rest of the machine
than the step's: the two take turns, but on a busy machine single
measurements move by more than that.

PyTorch computes the same bits, but its Adam alone is eight tensor
operations, each a pass over the whole table
(two of them allocate a new one), and its backward pass builds a fresh
zeroed gradient before adding it to `.grad`; at $10^7$ rows its step takes
{{bench:ch04.adam.10000000.torch_ms}} ms against our
{{bench:ch04.adam.10000000.c_ms}} ms. Both grow with $V$, not with the
batch: a dense Adam step at $10^7$ rows moves
{{bench:ch04.adam.10000000.bytes}} of memory to learn from 4096 lookups.
Chapter 6 takes $V$ out of that count.

## What PyTorch does

* In 1.13 every optimizer's default is the single-tensor path
  (`foreach=None` means `False` on the CPU): a Python loop over the
  parameters and, for each, the tensor operations shown above. The
  `foreach` path groups them; its arithmetic is the same per element, but
  we have only checked the default path.
* `optimizer.zero_grad()` fills gradients with zeros in 1.13; from 2.0 it
  sets them to `None`. Either way the next backward pass starts from zero.
* SGD, Adagrad and (with `sparse=True`, chapter 6) SparseAdam accept
  sparse gradients; Adam, AdamW and RMSprop refuse them with the messages
  `optim_step` gives.
* `state['step']` is a float32 tensor in Adam and Adagrad and a Python
  int in RMSprop; we keep an integer. The bias corrections are computed
  from it in double precision, as Python computes `beta1 ** step`.
* AMSGrad's NaN bits are those of torch's AVX2 kernel on one thread, the
  setting the book's references are made in. On several threads each
  thread's share of the parameter has a scalar tail of its own; the
  AVX-512 kernel (`ATEN_CPU_CAPABILITY=avx512`) takes 32 floats a pass;
  the plain kernel (`ATEN_CPU_CAPABILITY=default`) gives `0x7fc00000`
  everywhere.
* Where we differ: we refuse SGD's `lr`, `momentum` or `weight_decay`
  when it is NaN, which SGD's checks let through.

## Summary

* An optimizer is given a list of parameters, each a view of its module's
  data and gradient; a parameter whose gradient is `None` is skipped and
  its state does not change; a shared buffer is one parameter.
* SGD's momentum buffer starts as the undamped gradient; Adam's two
  moments are bias-corrected, with $\epsilon$ added after the correction;
  AdamW decays the weight outside the Adam step, Adam's `weight_decay`
  folds L2 into the gradient first; Adagrad divides by the root of a
  growing sum; RMSprop by the root of a moving average, optionally
  centred.
* Bit-exactness with PyTorch needs its scalar conversions, its operation
  order, and a fused multiply-add exactly where its kernels fuse one
  (`add` with `alpha`, `addcmul`).
* With dense gradients, momentum and Adam's moments move rows that were
  not looked up (ghost updates), and weight decay moves rows that were
  never looked up, Adam's L2 decay by almost a learning rate per step.
* A zero padding row stays zero under every optimizer; a non-zero one
  decays under weight decay, and very differently under Adam and AdamW.
* Dense Adam keeps four copies of an embedding table in memory.

## Exercises

1. Predict, then check with `build/bin/ch04`: which rows does one step of
   each optimizer move, starting from fresh state, if the batch looks up
   rows 1 and 2 of a 5-row table? (Lab 4 runs this.)
2. Work out Adam's moves for a row whose gradient is $g$ at step 1 and
   zero after, for steps 1 to 3, in units of the learning rate; compare
   with `ghost.tsv`.
3. Write `sgd_update` with momentum, dampening and Nesterov (the lab
   grades it with this chapter's tests). Why must the first step ignore
   `dampening`?
4. Write `adam_update`, with `amsgrad` and both kinds of weight decay.
5. Run `build/bin/ch04 --seed 1` and `--seed 2`. Does the order of the
   optimizers in the spread table stay the same?
6. Chapter 3's `scale_grad_by_freq` divides a row's gradient by its
   count in the batch. Under Adam, what difference does that make to the
   row's step? (Hint: scale $g$ by a constant and look at $m / \sqrt{v}$.)
*/
