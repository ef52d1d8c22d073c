/**
# Chapter 2: Gradient flow

Chapter 1 built a table of random vectors. Nothing in it means anything
yet: row 7 is as far from row 8 as from row 8000. An embedding table is
never trained on its own. Its rows move because they took part in a
computation that ended in a loss, and the gradient of that loss flows back
through the computation into exactly the rows that were looked up.

This chapter follows that flow end to end. We put the table inside the
smallest model that can learn something (predict the next word from the
current one), write its forward and backward passes by hand, check the
gradients against finite differences, and train it with plain SGD on a tiny
corpus. With $D = 2$ the table can be drawn as it is, and we can watch
words that are used alike move together.

## The model

Given the current token $t$, the model predicts a distribution over the
next token:

$$x = W_t, \qquad z = P x + b, \qquad p = \mathrm{softmax}(z), \qquad
L = -\log p_{y},$$

where $W$ is the $V \times D$ embedding table, $P$ is a $V \times D$
output matrix and $b$ a bias of length $V$ (PyTorch's `nn.Linear(D, V)`),
and $y$ is the token that really came next. A batch of $B$ pairs
$(t_i, y_i)$ has loss $L = \frac{1}{B}\sum_i L_i$, the mean, as PyTorch's
`F.cross_entropy` computes by default.

In PyTorch this is three lines:

```python
x = emb(inputs)                    # (B, D)   nn.Embedding(V, D)
logits = proj(x)                   # (B, V)   nn.Linear(D, V)
loss = F.cross_entropy(logits, targets)
```

## Backward, one piece at a time

The chain rule runs the same three steps in reverse. Each step gets the
gradient of the loss with respect to its output and returns the gradient
with respect to its input (and adds the gradients of its parameters).

**Cross-entropy.** For one row, $\partial L_i / \partial z_j = p_j -
[j = y_i]$: the predicted probability minus the one-hot target. With the
mean over the batch, every row's gradient is divided by $B$:

$$\frac{\partial L}{\partial z_i} = \frac{1}{B}\left(p_i - e_{y_i}\right).$$

**The projection.** With $z_i = P x_i + b$ and $g_i = \partial L /
\partial z_i$:

$$\frac{\partial L}{\partial P} = \sum_i g_i\, x_i^{\top}, \qquad
\frac{\partial L}{\partial b} = \sum_i g_i, \qquad
\frac{\partial L}{\partial x_i} = P^{\top} g_i.$$

**The lookup.** $x_i$ is a copy of row $t_i$ of $W$. Chapter 1 showed
that the lookup is the product $X W$ with one-hot rows $X_i = e_{t_i}$, so
its gradient is $X^{\top}\, \partial L / \partial x$, which sends
$\partial L / \partial x_i$ back to row $t_i$ and nowhere else:

$$\frac{\partial L}{\partial W_k} =
  \sum_{i \,:\, t_i = k} \frac{\partial L}{\partial x_i}.$$

This one formula is the whole story of how an embedding table learns, and
it has three consequences that the rest of the book keeps coming back to:

1. A row that was not looked up gets a gradient of exactly zero.
2. A row looked up several times gets the **sum** of its upstream
   gradients: the backward pass must *add*, not assign.
3. The gradient has the shape of the whole table, $V \times D$, even when
   only a handful of rows are non-zero. That is what PyTorch does by
   default (`sparse=False`); chapter 6 replaces it with a sparse gradient
   that holds only the rows looked up.

The code starts from chapter 1's table.
*/

#include "02-gradient-flow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/snapshots.h"

/**
## The gradient buffer

The table's gradient lives beside its weight, in `Embedding.grad`, the
place chapter 1 left for it. It is allocated once, zeroed, and from then
on every backward pass adds into it, exactly like PyTorch's `.grad`.
*/

int emb_alloc_grad(Embedding *e, EmbError *err) {
    if (e->grad) return 0;
    int64_t bytes = emb_weight_bytes(e->num_embeddings, e->embedding_dim);
    if (bytes < 0) {
        return emb_fail(err, "table of %lld x %lld is too large for a gradient",
                        (long long)e->num_embeddings, (long long)e->embedding_dim);
    }
    e->grad = emb_alloc(bytes);  // aligned like the weight
    if (!e->grad) {
        return emb_fail(err, "cannot allocate a gradient of %lld bytes",
                        (long long)bytes);
    }
    memset(e->grad, 0, (size_t)bytes);
    return 0;
}

void emb_zero_grad(Embedding *e) {
    if (e->grad) {
        memset(e->grad, 0,
               (size_t)(e->num_embeddings * e->embedding_dim) * sizeof(float));
    }
}

/**
## The backward pass of the lookup: a scatter-add

Forward gathered rows; backward scatters gradients back into them. The
loop is the mirror image of `emb_lookup`: where the lookup copied row
`idx[i]` of the weight into row `i` of the output, the backward adds row
`i` of the upstream gradient into row `idx[i]` of the table's gradient.
The `+=` is the important part: with `idx = [1, 4, 4, 9]`, row 4 receives
the sum of the second and third upstream rows.

One detail decides the last bit when a gradient is already there.
PyTorch's autograd does not add into `.grad` directly: each backward pass
builds its own gradient from zeros, and only then adds it to `.grad`
(autograd's `AccumulateGrad`). On top of an old gradient,
`old + (g1 + g2)` and `(old + g1) + g2` can differ in the last bit.

After `zero_grad`, the usual case, a row the call touches holds zeros,
and summing into it in place *is* summing from zeros: the plain `+=`
gives PyTorch's bits. Only a row that already holds a gradient must have
its sum kept apart, in order, and added once at the end. So the first
time the loop meets row k in a call, it looks at the row: `seen[k]` is
then `IN_PLACE` or `APART`. The rows kept apart, and their sums, live in
buffers made only when the first such row turns up (`GradSums`):
`rows[j]` is the j-th of them, `sums` row j its sum, and `slot[k] = j`.
Should those buffers be out of reach, the rows summed in place so far
are cleared again, so that a refused call changes nothing. Chapter 3's
backward pass uses the same three steps.
*/

bool emb_grad_row_is_zero(const float *row, int64_t D) {
    uint32_t bits = 0;  // +0.0f is the one float whose bits are all 0
    for (int64_t d = 0; d < D; d++) {
        uint32_t u;
        memcpy(&u, row + d, sizeof u);
        bits |= u;
    }
    return bits == 0;
}

enum { UNSEEN, IN_PLACE, APART };  // what a backward pass does with a row

int emb_grad_sums_begin(const Embedding *e, int64_t n, GradSums *s, EmbError *err) {
    int64_t V = e->num_embeddings;
    *s = (GradSums){.n = n, .seen = calloc((size_t)V + 1, 1)};  // + 1: V may be 0
    if (!s->seen) return emb_fail(err, "out of memory marking %lld rows", (long long)V);
    return 0;
}

// Makes the buffers of the rows kept apart if s has none; 0, or -1.
static int grad_sums_make_apart(const Embedding *e, GradSums *s) {
    if (s->sums) return 0;
    int64_t nd;
    if (emb_mul_size(s->n, e->embedding_dim, &nd) != 0) return -1;
    s->slot = malloc((size_t)e->num_embeddings * sizeof *s->slot);
    s->rows = malloc((size_t)s->n * sizeof *s->rows);
    s->sums = malloc((size_t)nd * sizeof *s->sums);
    return s->slot && s->rows && s->sums ? 0 : -1;
}

float *emb_grad_sums_row(Embedding *e, GradSums *s, int64_t k) {
    int64_t D = e->embedding_dim;
    float *g_k = e->grad + k * D;  // seek to row k of the gradient
    if (s->seen[k] == UNSEEN) {    // the first meeting decides
        if (emb_grad_row_is_zero(g_k, D)) {
            s->seen[k] = IN_PLACE;
        } else {
            if (grad_sums_make_apart(e, s) != 0) return NULL;
            s->rows[s->used] = k;
            s->slot[k] = s->used++;
            memset(s->sums + s->slot[k] * D, 0, (size_t)D * sizeof *s->sums);
            s->seen[k] = APART;
        }
    }
    return s->seen[k] == IN_PLACE ? g_k : s->sums + s->slot[k] * D;
}

int emb_grad_sums_end(Embedding *e, GradSums *s, const int64_t *idx, int64_t done,
                      int rc) {
    int64_t D = e->embedding_dim;
    for (int64_t j = 0; rc == 0 && j < s->used; j++) {  // .grad += the sums kept apart
        float *g_k = e->grad + s->rows[j] * D;
        const float *s_k = s->sums + j * D;
        for (int64_t d = 0; d < D; d++) g_k[d] += s_k[d];
    }
    for (int64_t i = 0; rc != 0 && i < done; i++)  // refused: the rows back to zeros
        if (s->seen[idx[i]] == IN_PLACE)
            memset(e->grad + idx[i] * D, 0, (size_t)D * sizeof(float));
    free(s->seen), free(s->slot), free(s->rows), free(s->sums);
    *s = (GradSums){0};
    return rc;
}

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    GradSums s;
    if (emb_grad_sums_begin(e, n, &s, err) != 0) return -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx[i];  // where row k's sum grows; in place is the usual case
        float *s_k = s.seen[k] == IN_PLACE ? e->grad + k * D
                                           : emb_grad_sums_row(e, &s, k);
        if (!s_k) {
            emb_grad_sums_end(e, &s, idx, i, -1);
            return emb_fail(err, "out of memory for a backward pass of %lld rows",
                            (long long)n);
        }
        const float *g_i = grad_out + i * D;  // row i of the upstream gradient
        for (int64_t d = 0; d < D; d++) s_k[d] += g_i[d];
    }
    return emb_grad_sums_end(e, &s, idx, n, 0);
}

/**
Written this way the loop is also a warning about parallelism. Split the
$N$ upstream rows among threads, and two threads that meet the same index
both read row `idx[i]`, both add, and both write back: one of the two
additions is lost. PyTorch's CPU code (`embedding_dense_backward_cpu`)
avoids the race by splitting the *rows of the table* among threads
instead: each thread scans all the indices and adds only those that fall
in its own range of rows, so no two threads ever write the same row.

How many rows does a step touch? As many as there are distinct indices in
the batch, which for a large vocabulary is a tiny fraction of $V$:
*/

int64_t emb_rows_touched(const Embedding *e, const int64_t *idx, int64_t n) {
    unsigned char *seen = calloc((size_t)e->num_embeddings, 1);
    if (!seen) return -1;
    int64_t touched = 0;
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= e->num_embeddings || seen[idx[i]]) continue;
        seen[idx[i]] = 1;
        touched++;
    }
    free(seen);
    return touched;
}

/**
## Plain SGD

With the gradient in hand, stochastic gradient descent moves every
parameter a small step against it: $w \leftarrow w - \eta\, g$, with
learning rate $\eta$ (`lr`). This is `torch.optim.SGD(params, lr)` with no
options. PyTorch computes the step as `param.add_(grad, alpha=-lr)`, whose
vectorised CPU kernel is one fused multiply-add per value; `fmaf` does the
same, so our steps match PyTorch's to the bit, not just to rounding.

One catch. The book is compiled for any x86-64 CPU. The oldest have no
fused multiply-add instruction, so the compiler turns each `fmaf` into a
call into the C library, several times slower than the instruction, and a
dense step pays it on all $V \times D$ values. `target_clones("fma",
"default")` compiles `sgd_step` twice, and the program picks the copy that
suits the CPU when it starts. The `fma` copy uses the instruction; the
`default` copy keeps the library call. Both round once, as `fmaf` must, so
they give the same bits. Where clones are unavailable or unneeded (ARM,
where `fmaf` is one instruction; a C library other than glibc; clang,
whose version 14 gets the dispatcher's name wrong; a build with `-mfma`),
the macro is empty. `restrict` promises that `param` and
`grad` do not overlap (true of every caller), so the compiler (at `-O3`,
the book's setting) turns the loop into vector instructions, 8 values at a
time.
*/


EMB_FMA_CLONES
void sgd_step(float *restrict param, const float *restrict grad, int64_t n, float lr) {
    for (int64_t i = 0; i < n; i++) param[i] = fmaf(grad[i], -lr, param[i]);
}

/**
Two things follow from the formula. A row whose gradient is zero does not
move at all: after a step, every row that was not looked up is bit for bit
what it was. And the gradient must be zeroed between steps
(`optimizer.zero_grad()`), because backward *adds*: skip the zeroing and
step $s$ uses the sum of all gradients so far, which makes old batches
pull on the weights forever. The program below shows what that does.

## The output projection

The projection is an ordinary linear layer. PyTorch's `nn.Linear(D, V)`
initialises its weight and bias uniformly in $[-1/\sqrt{D}, 1/\sqrt{D}]$;
the weight's bound comes out of `kaiming_uniform_(a=sqrt(5))`, which
simplifies to the same number. Each value is one 24-bit uniform draw from
the same generator, scaled in double precision. Drawing them in PyTorch's
order after the embedding means `ntm_init` reproduces
`torch.manual_seed(s); nn.Embedding(V, D); nn.Linear(D, V)` exactly.
*/

// tensor.uniform_(-bound, bound) on a float32 tensor of n values.
static void uniform_fill(TorchGenerator *gen, float *x, int64_t n, double bound) {
    float from = (float)-bound, to = (float)bound;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(rng_random(gen) & 0xFFFFFF) / (double)(1 << 24);
        x[i] = (float)(u * ((double)to - (double)from) + (double)from);
    }
}

int linear_init(Linear *l, int64_t in_features, int64_t out_features, TorchGenerator *gen,
                EmbError *err) {
    memset(l, 0, sizeof *l);
    int64_t n;
    if (in_features < 1 || out_features < 1 ||
        emb_mul_size(in_features, out_features, &n) != 0 ||
        emb_weight_bytes(in_features, out_features) < 0) {
        return emb_fail(err,
                        "nn.Linear(%lld, %lld): sizes must be positive and addressable",
                        (long long)in_features, (long long)out_features);
    }
    l->in_features = in_features;
    l->out_features = out_features;
    l->weight = malloc((size_t)n * sizeof(float));
    l->bias = malloc((size_t)out_features * sizeof(float));
    l->weight_grad = calloc((size_t)n, sizeof(float));
    l->bias_grad = calloc((size_t)out_features, sizeof(float));
    if (!l->weight || !l->bias || !l->weight_grad || !l->bias_grad) {
        linear_free(l);
        return emb_fail(err, "cannot allocate nn.Linear(%lld, %lld)",
                        (long long)in_features, (long long)out_features);
    }
    double bound = 1.0 / sqrt((double)in_features);
    uniform_fill(gen, l->weight, n, bound);
    uniform_fill(gen, l->bias, out_features, bound);
    return 0;
}

void linear_free(Linear *l) {
    if (!l->shares_weight) {  // a tied weight is freed by its owner
        free(l->weight);
        free(l->weight_grad);
    }
    free(l->bias);
    free(l->bias_grad);
    memset(l, 0, sizeof *l);
}

/**
Forward and backward are mirror images. Forward computes each output as
a dot product of a weight row with the input; backward sends each output's
gradient back along the same weights to the input, and adds the outer
product $g_i x_i^\top$ into the weight's gradient.
*/

void linear_forward(const Linear *l, const float *x, int64_t B, float *y) {
    int64_t in = l->in_features, out = l->out_features;
    for (int64_t i = 0; i < B; i++) {
        const float *x_i = x + i * in;  // row i of the input
        float *y_i = y + i * out;       // row i of the output
        for (int64_t j = 0; j < out; j++) {
            const float *w_j = l->weight + j * in;  // row j of the weight
            float acc = l->bias ? l->bias[j] : 0.0f;  // bias=False: no bias
            for (int64_t k = 0; k < in; k++) acc += w_j[k] * x_i[k];
            y_i[j] = acc;
        }
    }
}

void linear_backward(Linear *l, const float *x, const float *dy, int64_t B, float *dx) {
    int64_t in = l->in_features, out = l->out_features;
    for (int64_t i = 0; i < B; i++) {
        const float *x_i = x + i * in;     // row i of the input
        const float *dy_i = dy + i * out;  // row i of the output's gradient
        float *dx_i = dx + i * in;         // row i of the input's gradient
        for (int64_t k = 0; k < in; k++) dx_i[k] = 0.0f;
        for (int64_t j = 0; j < out; j++) {
            const float *w_j = l->weight + j * in;       // row j of the weight
            float *dw_j = l->weight_grad + j * in;       // ... and of its gradient
            if (l->bias_grad) l->bias_grad[j] += dy_i[j];
            for (int64_t k = 0; k < in; k++) {
                dw_j[k] += dy_i[j] * x_i[k];
                dx_i[k] += dy_i[j] * w_j[k];
            }
        }
    }
}

void linear_zero_grad(Linear *l) {
    memset(l->weight_grad, 0, (size_t)(l->in_features * l->out_features) * sizeof(float));
    if (l->bias_grad) memset(l->bias_grad, 0, (size_t)l->out_features * sizeof(float));
}

void linear_sgd_step(Linear *l, float lr) {
    sgd_step(l->weight, l->weight_grad, l->in_features * l->out_features, lr);
    if (l->bias) sgd_step(l->bias, l->bias_grad, l->out_features, lr);
}

/**
## Softmax cross-entropy

The loss subtracts the largest logit before exponentiating, so that
$e^{z}$ cannot overflow, and accumulates in double precision. Its gradient
is the softmax minus the one-hot target, divided by the batch size.
*/

double loss_cross_entropy(const float *logits, const int64_t *targets, int64_t B,
                          int64_t V, float *dlogits) {
    double total = 0.0;
    for (int64_t i = 0; i < B; i++) {
        const float *z_i = logits + i * V;  // row i of the logits
        float *g_i = dlogits + i * V;
        double zmax = z_i[0], sum = 0.0;
        for (int64_t j = 1; j < V; j++) zmax = fmax(zmax, z_i[j]);
        for (int64_t j = 0; j < V; j++) sum += exp((double)z_i[j] - zmax);
        double log_sum = log(sum);
        total += log_sum + zmax - z_i[targets[i]];  // -log softmax(z)[target]
        for (int64_t j = 0; j < V; j++) {
            double p = exp((double)z_i[j] - zmax - log_sum);
            g_i[j] = (float)((p - (j == targets[i])) / (double)B);
        }
    }
    return total / (double)B;
}

/**
## The whole model

`NextTokenModel` holds the table, the projection, and scratch space for
one batch: the looked-up rows $x$, the logits, and their gradients. The
forward pass keeps $x$ because backward needs it for $\partial L /
\partial P$.
*/

int ntm_init(NextTokenModel *m, int64_t V, int64_t D, int64_t max_batch,
             TorchGenerator *gen, EmbError *err) {
    memset(m, 0, sizeof *m);
    if (max_batch < 1) {
        return emb_fail(err, "batch size must be at least 1, got %lld",
                        (long long)max_batch);
    }
    if (emb_init(&m->emb, V, D, gen, err) != 0) return -1;
    if (linear_init(&m->proj, D, V, gen, err) != 0 || emb_alloc_grad(&m->emb, err) != 0) {
        ntm_free(m);
        return -1;
    }
    int64_t bd, bv;
    m->max_batch = max_batch;
    if (emb_mul_size(max_batch, D, &bd) != 0 || emb_mul_size(max_batch, V, &bv) != 0 ||
        emb_weight_bytes(bv, 1) < 0 || emb_weight_bytes(bd, 1) < 0 ||
        !(m->x = malloc((size_t)bd * sizeof(float))) ||
        !(m->dx = malloc((size_t)bd * sizeof(float))) ||
        !(m->logits = malloc((size_t)bv * sizeof(float))) ||
        !(m->dlogits = malloc((size_t)bv * sizeof(float)))) {
        ntm_free(m);
        return emb_fail(err, "cannot allocate scratch space for a batch of %lld",
                        (long long)max_batch);
    }
    return 0;
}

void ntm_free(NextTokenModel *m) {
    emb_free(&m->emb);
    linear_free(&m->proj);
    free(m->x);
    free(m->dx);
    free(m->logits);
    free(m->dlogits);
    memset(m, 0, sizeof *m);
}

int ntm_forward(NextTokenModel *m, const int64_t *inputs, const int64_t *targets,
                int64_t B, double *loss, EmbError *err) {
    int64_t V = m->emb.num_embeddings;
    if (B < 1 || B > m->max_batch) {
        return emb_fail(err, "batch of %lld: expected 1 to %lld rows", (long long)B,
                        (long long)m->max_batch);
    }
    for (int64_t i = 0; i < B; i++) {
        if (targets[i] < 0 || targets[i] >= V) {
            return emb_fail(err, "Target %lld is out of bounds.", (long long)targets[i]);
        }
    }
    if (emb_lookup(&m->emb, inputs, B, m->x, err) != 0) return -1;   // x = W[inputs]
    linear_forward(&m->proj, m->x, B, m->logits);                     // z = x P^T + b
    *loss = loss_cross_entropy(m->logits, targets, B, V, m->dlogits);      // L, and dL/dz
    return 0;
}

int ntm_backward(NextTokenModel *m, const int64_t *inputs, int64_t B, EmbError *err) {
    linear_backward(&m->proj, m->x, m->dlogits, B, m->dx);  // dP, db, and dx = dz P
    return emb_backward(&m->emb, inputs, B, m->dx, err);    // dW[inputs] += dx
}

void ntm_sample_batch(TorchGenerator *gen, const int64_t *tokens, int64_t n_tokens,
                      int64_t B, int64_t *inputs, int64_t *targets) {
    for (int64_t i = 0; i < B; i++) {  // B random positions, each with a next token
        int64_t pos = (int64_t)(rng_uniform_double(gen) * (double)(n_tokens - 1));
        inputs[i] = tokens[pos];
        targets[i] = tokens[pos + 1];
    }
}

void ntm_zero_grad(NextTokenModel *m) {
    emb_zero_grad(&m->emb);
    linear_zero_grad(&m->proj);
}

void ntm_sgd_step(NextTokenModel *m, float lr) {
    sgd_step(m->emb.weight, m->emb.grad, m->emb.num_embeddings * m->emb.embedding_dim,
             lr);
    linear_sgd_step(&m->proj, lr);
}

int ntm_eval_loss(NextTokenModel *m, const int64_t *tokens, int64_t n_tokens, double *out,
                  EmbError *err) {
    double total = 0.0;
    int64_t n = n_tokens - 1;  // positions with a next token
    for (int64_t start = 0; start < n; start += m->max_batch) {
        int64_t B = n - start < m->max_batch ? n - start : m->max_batch;
        double loss = 0.0;
        if (ntm_forward(m, tokens + start, tokens + start + 1, B, &loss, err) != 0) {
            return -1;
        }
        total += loss * (double)B;
    }
    *out = total / (double)n;
    return 0;
}

/**
The error for a bad target is PyTorch's (`Target 12 is out of bounds.`);
a bad input index gets chapter 1's `index out of range in self`.

## Checking gradients with finite differences

A hand-written backward pass is easy to get subtly wrong, and a wrong
gradient often still trains, just worse. The standard check compares each
analytic gradient with a numerical one. Nudge one parameter by $\pm
\varepsilon$, recompute the loss, and take the central difference

$$\frac{\partial L}{\partial \theta} \approx
\frac{L(\theta + \varepsilon) - L(\theta - \varepsilon)}{2\varepsilon},$$

which is accurate to $O(\varepsilon^2)$. In float32 the loss itself is
only accurate to about $10^{-7}$ relative, so $\varepsilon$ cannot be tiny
(the difference would be all rounding); $10^{-2}$ is a good compromise for
this model, with a tolerance of about $10^{-4}$ absolute plus 1%
relative. That is loose next to the conformance tests, which compare with
PyTorch to float32 rounding, but it needs no reference at all, and it is
far tighter than the mistakes it exists to catch.

`gradcheck_run` takes a pointer to any parameter array, the analytic gradient
computed for it, the entries to check, and a function that recomputes the
loss. Later chapters reuse it for every new backward pass.
*/

GradcheckResult gradcheck_run(float *param, const float *analytic, const int64_t *entries,
                              int64_t n_entries, GradcheckLossFn loss, void *ctx,
                              float eps, double atol, double rtol) {
    GradcheckResult r = {.passed = true, .worst = -1};
    double worst_excess = -INFINITY;
    for (int64_t e = 0; e < n_entries; e++) {
        int64_t k = entries[e];
        float saved = param[k];
        param[k] = saved + eps;
        double up = loss(ctx);
        param[k] = saved - eps;
        double down = loss(ctx);
        param[k] = saved;
        // Divide by the step really taken: saved + eps is rounded to float.
        double numeric = (up - down) / ((double)(saved + eps) - (double)(saved - eps));
        double abs_err = fabs((double)analytic[k] - numeric);
        double excess = abs_err - (atol + rtol * fabs(numeric));
        r.max_abs_err = fmax(r.max_abs_err, abs_err);
        r.max_rel_err = fmax(r.max_rel_err, abs_err / fmax(fabs(numeric), 1e-8));
        if (excess > 0) r.passed = false;
        if (excess > worst_excess) {
            worst_excess = excess;
            r.worst = k;
            r.worst_analytic = analytic[k];
            r.worst_numeric = numeric;
        }
        r.checked++;
    }
    return r;
}

/**
For the model, the function that recomputes the loss runs the forward
pass on a fixed batch; `ntm_batch_loss` is that function.
*/

double ntm_batch_loss(void *batch) {
    NtmBatch *b = batch;
    double loss = NAN;  // stays NaN if the batch is invalid
    ntm_forward(b->m, b->inputs, b->targets, b->B, &loss, NULL);
    return loss;
}

/**
## The corpus

To learn anything the model needs text in which some words are used
alike. `src/corpus.c` generates one from a tiny grammar of 28 words in 8
categories:

| category | words |
|---|---|
| animal | cat dog fox cow horse bird |
| food | bread fish rice cheese apples |
| place | park house farm river garden |
| eat-verb | eats likes wants |
| move-verb | runs walks swims |
| preposition | in near to |
| determiner | the a |
| end | . |

Sentences look like "a dog likes cheese near the farm ." and "in a
garden the cat swims to the river .". The grammar is built so that every
word of a category is followed by the same distribution of next words
(an animal by one of the six verbs, a food by ".", "in" or "near", ...),
and every category by a different one; `src/corpus.c` lists them. A model
that predicts the next word from the current one therefore has every
reason to give the words of one category similar rows, and no reason to
confuse two categories. The corpus is drawn with the book's
PyTorch-compatible generator, so a seed fixes it completely; row 0 is
`<unk>`, which the grammar never produces.

`--corpus FILE` reads any plain-text file instead: it is lowercased and
split on everything that is not a letter or a digit, and the vocabulary
is the most frequent words (`--vocab`) plus `<unk>` for the rest.

How good is "good"? A model that ignores its input can do no better than
always predicting the corpus's word frequencies. Its loss is the entropy
of the unigram distribution, $H = -\sum_k p_k \log p_k$; anything below it
means the model uses the current word. That is the baseline drawn in the
loss figure.

Did the table learn the categories? `emb_category_spread` measures it: the
mean distance between the rows of two words of the same category, divided
by the mean distance between the rows of two words of different
categories. Near 1 the rows ignore the categories; near 0 each category
has collapsed to a point.
*/

double emb_category_spread(const float *weight, int64_t V, int64_t D,
                           const int *category) {
    double same = 0.0, other = 0.0;
    int64_t n_same = 0, n_other = 0;
    for (int64_t a = 0; a < V; a++) {
        for (int64_t b = a + 1; b < V; b++) {
            if (category[a] < 0 || category[b] < 0) continue;  // no category: left out
            const float *w_a = weight + a * D, *w_b = weight + b * D;  // rows a, b
            double d2 = 0.0;
            for (int64_t d = 0; d < D; d++) d2 += (w_a[d] - w_b[d]) * (w_a[d] - w_b[d]);
            if (category[a] == category[b]) same += sqrt(d2), n_same++;
            else other += sqrt(d2), n_other++;
        }
    }
    return n_same && n_other ? (same / (double)n_same) / (other / (double)n_other) : NAN;
}

/**

## The training loop

`ntm_train` is the loop every later chapter will vary: sample a batch,
zero the gradients, forward, backward, step. It records what the figures
need: the loss and the rows touched at every step, and snapshots of the
table. With `zero_grad` off it shows what happens when gradients pile up;
with it on, a loss that stops being finite ends the run with an error that
names the step (`loss_check_finite`), since every later step would be
NaN too.
*/

int loss_check_finite(int64_t step, double loss, double lr, EmbError *err) {
    if (isfinite(loss)) return 0;
    return emb_fail(err,
                    "step %lld: the loss is %s, not a finite number: the steps diverged; "
                    "try a smaller learning rate (--lr; this run used %g)",
                    (long long)step,
                    isnan(loss) ? "NaN"
                    : loss > 0  ? "inf"
                                : "-inf",
                    lr);
}

int ntm_train(NextTokenModel *m, const int64_t *tokens, int64_t n_tokens,
              TorchGenerator *gen, const NtmTrainConfig *cfg, NtmTrainLog *log,
              EmbError *err) {
    int64_t B = cfg->batch, *inputs = malloc((size_t)B * sizeof *inputs),
            *targets = malloc((size_t)B * sizeof *targets);  // both (B,)
    int rc = -1;
    if (!inputs || !targets) {
        emb_fail(err, "out of memory for a batch of %lld", (long long)B);
    }
    for (int64_t step = 0; inputs && targets && step <= cfg->steps; step++) {
        if (log->snaps) snapshots_take(log->snaps, step, m->emb.weight);
        if (step == cfg->steps) { rc = 0; break; }
        ntm_sample_batch(gen, tokens, n_tokens, B, inputs, targets);
        if (cfg->zero_grad) ntm_zero_grad(m);
        double loss;
        if (ntm_forward(m, inputs, targets, B, &loss, err) != 0 ||
            (cfg->zero_grad && !cfg->keep_going &&
             loss_check_finite(step + 1, loss, cfg->lr, err) != 0) ||
            ntm_backward(m, inputs, B, err) != 0) break;
        ntm_sgd_step(m, (float)cfg->lr);
        if (log->loss) log->loss[step] = loss;
        if (log->touched) log->touched[step] = emb_rows_touched(&m->emb, inputs, B);
        if (log->on_step) log->on_step(step + 1, cfg->steps, loss);
    }
    free(inputs);
    free(targets);
    return rc;
}

/**
## The program

The program trains the model with $D = 2$ by default, so each row is a
point in the plane. Each step samples a batch of positions in the corpus
uniformly at random, looks up the token at each position, predicts the
token after it, and takes one SGD step. It prints the loss as it goes and
writes what the figures need.
*/

#ifndef EMB_LIBRARY

#include <stdio.h>
#include <unistd.h>

#include "../src/cli.h"
#include "../src/corpus.h"
#include "../src/snapshots.h"
#include "../src/tsv.h"

typedef struct Options {
    int64_t dim, steps, batch, sentences, vocab;
    double lr;
    uint64_t seed;
    bool keep_going;     // train on when the loss stops being finite
    const char *corpus;  // NULL: the built-in corpus
    const char *out;     // the run's folder, as the user named it
    const char *dir;     // where this run writes: a fresh folder that becomes out
} Options;

enum { N_SNAPSHOTS = 60 };

typedef struct Run {
    NtmTrainLog log;    // loss and rows touched per step; snapshots of the table
    double final_loss;  // mean loss over the whole corpus after training
} Run;

// One run of ntm_train, with zero_grad or without, and its final loss over
// the whole corpus.
static int train(const Options *opt, const Corpus *c, bool zero_grad, Run *run,
                 EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    NtmTrainConfig cfg = {opt->steps, opt->batch, opt->lr, zero_grad, opt->keep_going};
    rng_manual_seed(&gen, opt->seed);  // the model, then the batches
    if (ntm_init(&m, c->vocab_size, opt->dim, opt->batch, &gen, err) != 0) return -1;
    int rc = ntm_train(&m, c->tokens, c->n_tokens, &gen, &cfg, &run->log, err);
    if (rc == 0) rc = ntm_eval_loss(&m, c->tokens, c->n_tokens, &run->final_loss, err);
    ntm_free(&m);
    return rc;
}

/**
Before training, the program checks the gradient of $W$ on one batch,
entry by entry, for every row the batch looks up (the chapter's tests
also check $P$ and $b$). It then plants a
classic bug, a backward that *assigns* (`=`) instead of adding (`+=`), and
shows that the check catches it: with a repeated index in the batch, the
buggy gradient of that row holds only the last contribution.
*/

// The planted bug: a scatter that overwrites instead of accumulating.
static void backward_overwrite(Embedding *e, const int64_t *idx, int64_t n,
                               const float *grad_out) {
    for (int64_t i = 0; i < n; i++) {
        memcpy(e->grad + idx[i] * e->embedding_dim, grad_out + i * e->embedding_dim,
               (size_t)e->embedding_dim * sizeof(float));
    }
}

// One gradient check of W: with the real backward, or with the planted bug.
static GradcheckResult check_pass(NtmBatch *b, const int64_t *entries, int64_t n,
                                  bool bug) {
    NextTokenModel *m = b->m;
    double loss;
    ntm_zero_grad(m);
    ntm_forward(m, b->inputs, b->targets, b->B, &loss, NULL);
    linear_backward(&m->proj, m->x, m->dlogits, b->B, m->dx);
    if (bug) backward_overwrite(&m->emb, b->inputs, b->B, m->dx);
    else emb_backward(&m->emb, b->inputs, b->B, m->dx, NULL);
    GradcheckResult r = gradcheck_run(m->emb.weight, m->emb.grad, entries, n,
                                      ntm_batch_loss, b, 1e-2f, 1e-4, 1e-2);
    printf("gradient check, %s backward: %lld entries of W, max abs error %.2e: %s\n",
           bug ? "overwriting (planted bug)" : "scatter-add", (long long)r.checked,
           r.max_abs_err, r.passed ? "PASS" : "FAIL");
    int64_t D = m->emb.embedding_dim;
    if (!r.passed) {
        printf("    worst: W[%lld][%lld] analytic %.6f, numeric %.6f\n",
               (long long)(r.worst / D), (long long)(r.worst % D), r.worst_analytic,
               r.worst_numeric);
    }
    return r;
}

static int check_gradients(const Options *opt, const Corpus *c, RunValues *values,
                           EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    enum { B = 16 };  // positions 0..15 of the corpus: a batch with repeats
    int64_t inputs[B], targets[B], D = opt->dim, n = B * D;  // n entries
    int64_t *entries = malloc((size_t)n * sizeof *entries);  // the rows looked up, (B, D)
    rng_manual_seed(&gen, opt->seed);
    if (!entries) return emb_fail(err, "out of memory for %lld entries", (long long)n);
    if (ntm_init(&m, c->vocab_size, D, B, &gen, err) != 0) { free(entries); return -1; }
    for (int64_t i = 0; i < B; i++) {
        inputs[i] = c->tokens[i % (c->n_tokens - 1)];
        targets[i] = c->tokens[i % (c->n_tokens - 1) + 1];
        for (int64_t d = 0; d < D; d++) entries[i * D + d] = inputs[i] * D + d;
    }
    NtmBatch b = {&m, inputs, targets, B};
    GradcheckResult real = check_pass(&b, entries, n, false);
    GradcheckResult bug = real.passed ? check_pass(&b, entries, n, true) : real;
    ntm_free(&m);
    free(entries);
    if (!real.passed) {
        return emb_fail(err, "the gradient check failed on the real backward pass");
    }
    run_values_set(values, "gradcheck.entries", "%lld", (long long)real.checked);
    run_values_set_sci(values, "gradcheck.max_err", real.max_abs_err);
    run_values_set_sci(values, "gradcheck.bug_err", bug.max_abs_err);
    return 0;
}

/**
The output files: the loss at every step (with the unigram baseline and
the run without `zero_grad`) and the rows touched per step, written by
`src/tsv.c`. The snapshots of the table go to `trajectory.tsv` (every
word's path through the plane) and `frames.tsv` (one block per snapshot,
for the animation), written by `src/snapshots.c`, which chapter 3 uses too.
*/

static int write_files(const Options *opt, const Corpus *c, const Run *run,
                       const Run *no_zero, double baseline, EmbError *err) {
    TsvColumn loss[] = {
        {"loss", TSV_FIXED6, .values = run->log.loss},
        {"loss_without_zero_grad", TSV_FIXED6, .values = no_zero->log.loss},
        {"unigram_baseline", TSV_FIXED6, .constant = baseline}};
    TsvColumn touched[] = {{"rows_touched", TSV_WHOLE, .counts = run->log.touched},
                           {"batch", TSV_WHOLE, .constant = (double)opt->batch},
                           {"vocab", TSV_WHOLE, .constant = (double)c->vocab_size}};
    RowLabels labels = {(const char *const *)c->words, c->category, c->category_names,
                        c->n_categories};
    int64_t n = opt->steps;
    if (tsv_write_columns(opt->dir, "loss.tsv", "step", 1, n, loss, 3, err) ||
        tsv_write_columns(opt->dir, "touched.tsv", "step", 1, n, touched, 3, err) ||
        snapshots_write(run->log.snaps, opt->dir, &labels, true, err)) return -1;
    printf("wrote %s/loss.tsv, touched.tsv, trajectory.tsv, frames.tsv, categories.tsv\n",
           opt->out);
    return 0;
}

/**
`run` ties it together: the corpus, the gradient check, the two runs, the
report and the files. `report` prints what the run without `zero_grad`
did, which is the divergence the chapter sets out to show.
*/

// Prints the runs' results and records the numbers the prose quotes.
static void report(const Options *opt, const Corpus *c, const Run *run,
                   const Run *no_zero, double baseline, RunValues *values) {
    double mean_touched = 0.0;
    int64_t above = -1, nan_step = -1, below = -1, below_from = 1;
    for (int64_t s = opt->steps - 1; s >= 0; s--) {
        mean_touched += (double)run->log.touched[opt->steps - 1 - s] / (double)opt->steps;
        if (no_zero->log.loss[s] > 2.0 * baseline) above = s + 1;
        if (isnan(no_zero->log.loss[s])) nan_step = s + 1;
        if (run->log.loss[s] < baseline) below = s + 1;
        if (run->log.loss[s] >= baseline && below_from == 1) below_from = s + 2;
    }
    printf("loss over the whole corpus after training: %.4f nats (baseline %.4f)\n",
           run->final_loss, baseline);
    if (isnan(no_zero->final_loss)) printf("the same run without zero_grad: loss NaN");
    else printf("the same run without zero_grad: loss %.4f nats", no_zero->final_loss);
    if (above > 0) printf("; above twice the baseline from step %lld", (long long)above);
    if (nan_step > 0) printf("; NaN from step %lld", (long long)nan_step);
    printf("\n");
    if (above > 0 || nan_step > 0) {
        printf("    (on purpose: this divergence is the lesson; old gradients keep "
               "pulling)\n");
    }
    printf("rows touched per step: %.1f of %lld on average (batch %lld)\n", mean_touched,
           (long long)c->vocab_size, (long long)opt->batch);
    run_values_set(values, "final_loss", "%.2f", run->final_loss);
    run_values_set(values, "loss.first_below", "%lld", (long long)below);
    run_values_set(values, "loss.below_from", "%lld", (long long)below_from);
    run_values_set(values, "no_zero_grad.blowup_step", "%lld", (long long)above);
    run_values_set(values, "no_zero_grad.nan_step", "%lld", (long long)nan_step);
    run_values_set(values, "touched.mean", "%.0f", mean_touched);
    const Snapshots *sn = run->log.snaps;  // the first is the table before training
    const float *last = sn->rows + (int64_t)(sn->taken - 1) * sn->V * sn->D;
    double random = emb_category_spread(sn->rows, sn->V, sn->D, c->category);
    run_values_set(values, "spread.random_pct", "%.0f", 100.0 * random);
    run_values_set(values, "spread.trained_pct", "%.0f",
                   100.0 * emb_category_spread(last, sn->V, sn->D, c->category));
}

static int run_chapter(const Options *opt, const Corpus *c, RunValues *values,
                       EmbError *err) {
    Run run = {0}, no_zero = {0};
    Snapshots snaps = {0};
    int rc = -1;
    double baseline = corpus_unigram_entropy(c);
    printf("corpus: %lld tokens, vocabulary %lld (%s)\n", (long long)c->n_tokens,
           (long long)c->vocab_size, opt->corpus ? opt->corpus : "built-in grammar");
    printf("unigram entropy (loss of a model that ignores its input): %.4f nats\n",
           baseline);
    run_values_set_count(values, "corpus.tokens", c->n_tokens);
    run_values_set(values, "corpus.vocab", "%lld", (long long)c->vocab_size);
    run_values_set(values, "baseline", "%.2f", baseline);
    if (check_gradients(opt, c, values, err) != 0) return -1;
    run.log.loss = calloc((size_t)opt->steps, sizeof(double));
    run.log.touched = calloc((size_t)opt->steps, sizeof(int64_t));
    no_zero.log.loss = calloc((size_t)opt->steps, sizeof(double));
    no_zero.log.touched = calloc((size_t)opt->steps, sizeof(int64_t));
    run.log.snaps = &snaps;
    run.log.on_step = cli_progress;
    if (!run.log.loss || !run.log.touched || !no_zero.log.loss || !no_zero.log.touched) {
        emb_fail(err, "out of memory for %lld steps", (long long)opt->steps);
    } else if (snapshots_init(&snaps, c->vocab_size, opt->dim, N_SNAPSHOTS, opt->steps,
                              err) == 0) {
        printf("training: D=%lld, %lld steps of SGD, lr %g, batch %lld, seed %llu\n",
               (long long)opt->dim, (long long)opt->steps, opt->lr, (long long)opt->batch,
               (unsigned long long)opt->seed);
        if (train(opt, c, true, &run, err) == 0 &&
            train(opt, c, false, &no_zero, err) == 0) {
            report(opt, c, &run, &no_zero, baseline, values);
            rc = write_files(opt, c, &run, &no_zero, baseline, err);
        }
    }
    free(run.log.loss), free(run.log.touched), free(no_zero.log.loss),
        free(no_zero.log.touched);
    snapshots_free(&snaps);
    return rc;
}

static int run(void *options, const char *dir, RunValues *values, EmbError *err) {
    Options opt = *(const Options *)options;
    Corpus c = {0};
    opt.dir = dir;
    int rc = -1;
    if (opt.corpus ? corpus_from_file(&c, opt.corpus, opt.vocab, err)
                   : corpus_builtin(&c, opt.seed, opt.sentences, err)) return -1;
    if (opt.batch > c.n_tokens - 1) {
        emb_fail(err, "--batch %lld is larger than the corpus, which has %lld positions "
                 "with a next token", (long long)opt.batch, (long long)(c.n_tokens - 1));
    } else {
        rc = run_chapter(&opt, &c, values, err);
    }
    corpus_free(&c);
    return rc;
}

int main(int argc, char **argv) {
    Options o = {.corpus = NULL};
    CliOption options[] = {
        {"dim", "D", CLI_INT, &o.dim, "2", "embedding_dim (2: the table can be drawn)",
         .lo = 1, .hi = 4096},
        {"steps", "N", CLI_INT, &o.steps, "3000", "SGD steps", .lo = 1, .hi = 100000000},
        {"lr", "LR", CLI_DOUBLE, &o.lr, "0.5", "learning rate", .dlo = 0, .dhi = 1e6},
        {"batch", "B", CLI_INT, &o.batch, "32", "batch size", .lo = 1, .hi = 1000000},
        {"seed", "S", CLI_SEED, &o.seed, "0", .help = "torch.manual_seed"},
        {"corpus", "FILE", CLI_STRING, &o.corpus, NULL, .help = "text to train on"},
        {"keep-going", "", CLI_FLAG, &o.keep_going, NULL,
         .help = "train on when the loss is no longer finite"},
        {"vocab", "V", CLI_INT, &o.vocab, "1000", "--corpus's V-1 most frequent words",
         .lo = 2, .hi = 10000000, .needs = "corpus"},
        {"sentences", "N", CLI_INT, &o.sentences, "2000", "size of the built-in corpus",
         .lo = 1, .hi = 10000000},
        {"out", "DIR", CLI_STRING, &o.out, "build/ch02", .help = "the run's folder"},
    };
    CliProgram prog = {"ch02",
        "Trains a next-token model (embedding -> linear -> softmax cross-entropy) with\n"
        "plain SGD and writes TSV files for the chapter's figures.",
        options, CLI_COUNT(options), &o.out, run, &o};
    return cli_main(&prog, argc, argv);
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter2` trains for 3000 steps with $D = 2$, a batch of 32 and a
learning rate of 0.5, which takes a fraction of a second. The gradient
check comes first: on a batch of 16 positions, the {{gradcheck.entries}}
entries of the looked-up rows of $W$ agree with the central differences to about
${{gradcheck.max_err}}$, far inside the tolerance. The planted bug fails by
${{gradcheck.bug_err}}$, and the worst entry is a row that the batch looks up
more than once: overwriting keeps only the last of its contributions.

The corpus of 2000 sentences has {{corpus.tokens}} tokens, and its unigram
entropy is {{baseline}} nats. After training, the mean loss over the whole
corpus is {{final_loss}} nats, far below that baseline. The chapter's tests
also train the same model with the table's gradient thrown away before
every step: the projection alone then stays within half a nat of the
baseline, because random rows can tell words apart but cannot put words
that predict the same things together.

![Every word's row during training (circle: start, dot: end), coloured by
category.](fig-trajectories.png)

The figure above is the table itself, drawn as it learns. The rows start
as PyTorch's random normal points and move into tight groups, one per
category: the animals together, the foods together, the places together,
the two kinds of verbs apart from each other. Nothing told the model what
the categories are; it found that words used in the same contexts can
share a row, because they need the same prediction. The program measures
it with `emb_category_spread`: in the trained table the mean distance
between two words of the same category is {{spread.trained_pct}}% of the
mean distance between words of different categories; in the random table
it is {{spread.random_pct}}%. The grey point that
never moves is `<unk>`, row 0: the corpus never uses it, so it never gets
a gradient and stays exactly where PyTorch put it. The animation shows the
same run frame by frame.

![The table during training (animated).](fig-training.gif)

![Loss per step with and without zero_grad, against the unigram baseline.](fig-loss.png)

The batch loss is noisy: it first dips below the baseline at step
{{loss.first_below}} and stays below it from step {{loss.below_from}} on. The
red curve is the same run without `zero_grad`: each step adds the new
gradient to all the old ones, so the step taken is the sum of every
gradient seen so far. The loss goes above twice the baseline by step
{{no_zero_grad.blowup_step}} (the program prints the step), runs away, and
is NaN from step {{no_zero_grad.nan_step}}.

![How many rows each of the first 200 steps touches.](fig-touched.png)

The last figure counts the distinct rows each batch looked up, for the
first 200 steps; the rest of the run draws its batches the same way and
looks the same. A batch of 32 positions touches about {{touched.mean}} of
the {{corpus.vocab}} rows, because common words repeat
within a batch; only those rows have a nonzero gradient, and only those
rows move under SGD. With a real vocabulary the fraction is tiny: try
`build/bin/ch02 --corpus FILE --vocab 20000` on any long text file.

## What PyTorch does

* The forward pass is `F.embedding`, whose backward is
  `embedding_dense_backward`; on the CPU it allocates a zero $(V, D)$
  tensor and adds `grad[i]` into row `idx[i]` for every $i$, in order,
  with threads splitting the rows, as described above. Autograd then adds
  that tensor into `weight.grad` (or makes it the `.grad` if there was
  none). We sum only the touched rows, from zero, and add those sums to
  `grad`: the same bits, without a second $(V, D)$ buffer.
* `nn.Linear` and `F.cross_entropy` compute the same quantities as
  `linear_forward` and `loss_cross_entropy`, in a different summation order
  (PyTorch calls a BLAS matrix product), so losses and gradients agree to
  float32 rounding, not to the bit. The chapter's tests compare them with
  PyTorch's at a tolerance of $10^{-6}$ absolute plus $10^{-5}$ relative.
* `torch.optim.SGD` with no options computes `param.add_(grad,
  alpha=-lr)`, a fused multiply-add per value, as `sgd_step` does: the same
  bits. In 1.13, `optimizer.zero_grad()` fills the gradients with zeros,
  as `ntm_zero_grad` does; from PyTorch 2.0 the default is
  `set_to_none=True`, which drops them instead and has the same effect on
  the next step.
* `ntm_init` draws the embedding and then `nn.Linear(D, V)`'s weight and
  bias from the same generator in PyTorch's order, and the tests check the
  projection's bits against PyTorch's.

## Performance

A dense training step costs more than its batch. `make bench` times one
full step, `zero_grad`, lookup, backward and SGD, for $N = 4096$ indices
and $D = 64$ as $V$ grows from $10^3$ to $10^7$. The lookup and the
scatter-add touch only $N$ rows, but `zero_grad` writes the whole
$V \times D$ gradient, and SGD reads the whole gradient and reads and
writes the whole weight, because the gradient is dense: most of it is
zeros, but the step cannot know which. So a step must move $16VD$ bytes
for the table (zeroing writes $4VD$; SGD reads $8VD$ and writes $4VD$) and
$20ND$ for the batch's rows (the lookup reads $N$ rows and writes them out,
backward reads the upstream rows and reads and writes $N$ rows of the
gradient): at $V = 10^3$ the batch's rows dominate, from $V = 10^5$ on the
table does. The benchmark measures the machine's floor for those bytes in
the same run, on the same buffers (a `memset` and one streaming loop), and
puts PyTorch's dense step (`nn.Embedding` and `torch.optim.SGD`, one
thread) beside ours, the two taking turns as in chapter 1. Best of the
rounds, in milliseconds per step:

* $V = 10^3$, {{bench:ch02.dense.1e3.bytes}} to move: floor
  {{bench:ch02.dense.1e3.floor_ms}} ms, C step {{bench:ch02.dense.1e3.c_ms}}
  ms ({{bench:ch02.dense.1e3.c_over_floor}} times the floor), PyTorch
  {{bench:ch02.dense.1e3.torch_ms}} ms
  ({{bench:ch02.dense.1e3.torch_over_c}} times C;
  {{bench:ch02.dense.1e3.torch_over_c_min}} to
  {{bench:ch02.dense.1e3.torch_over_c_max}} over the rounds).
* $V = 10^5$, {{bench:ch02.dense.1e5.bytes}} to move: floor
  {{bench:ch02.dense.1e5.floor_ms}} ms, C step {{bench:ch02.dense.1e5.c_ms}}
  ms ({{bench:ch02.dense.1e5.c_over_floor}} times the floor), PyTorch
  {{bench:ch02.dense.1e5.torch_ms}} ms
  ({{bench:ch02.dense.1e5.torch_over_c}} times C;
  {{bench:ch02.dense.1e5.torch_over_c_min}} to
  {{bench:ch02.dense.1e5.torch_over_c_max}} over the rounds).
* $V = 10^6$, {{bench:ch02.dense.1e6.bytes}} to move: floor
  {{bench:ch02.dense.1e6.floor_ms}} ms, C step {{bench:ch02.dense.1e6.c_ms}}
  ms ({{bench:ch02.dense.1e6.c_over_floor}} times the floor), PyTorch
  {{bench:ch02.dense.1e6.torch_ms}} ms
  ({{bench:ch02.dense.1e6.torch_over_c}} times C;
  {{bench:ch02.dense.1e6.torch_over_c_min}} to
  {{bench:ch02.dense.1e6.torch_over_c_max}} over the rounds).
* $V = 10^7$, {{bench:ch02.dense.1e7.bytes}} to move: floor
  {{bench:ch02.dense.1e7.floor_ms}} ms, C step {{bench:ch02.dense.1e7.c_ms}}
  ms ({{bench:ch02.dense.1e7.c_over_floor}} times the floor), PyTorch
  {{bench:ch02.dense.1e7.torch_ms}} ms
  ({{bench:ch02.dense.1e7.torch_over_c}} times C;
  {{bench:ch02.dense.1e7.torch_over_c_min}} to
  {{bench:ch02.dense.1e7.torch_over_c_max}} over the rounds).

For a small table the step costs what its batch costs. From $10^5$ rows
on, the dense gradient takes over and the time grows with $V$, not with
the batch: at $10^7$ rows a step moves 10 GB of memory to update at most
4096 rows. The C step took {{bench:ch02.dense.1e7.c_over_floor}} times
its floor there ({{bench:ch02.dense.1e7.c_over_floor_min}} to
{{bench:ch02.dense.1e7.c_over_floor_max}} over the rounds; on a busy
machine a floor timed in separate calls can even come out slower than
the step): about as fast as a dense step can be, and still slow. At
$10^5$ rows the ratio moved from {{bench:ch02.dense.1e5.c_over_floor_min}}
to {{bench:ch02.dense.1e5.c_over_floor_max}} over the rounds. There the
weight and its gradient together, 51 MB, just outgrow the
{{bench:bench.largest_cache}} cache, so each part of the floor, timed
alone, can find more of its data in cache than the whole step does, and
how much depends on what else the machine is running. Whenever a step
misses its goal of 1.5 times the floor, `make bench` prints the step's
phases, each timed alone, beside the floor's parts, and says whether the
excess lies in one phase or in running them together.

PyTorch computes the same bits but moves more memory: `zero_grad()`
zeroes `.grad` in place, then backward builds a *second*, freshly
allocated zero gradient, scatters into it and adds it into `.grad`; at
$10^7$ rows that fresh 2.56 GB costs over 600,000 page faults per step.
How much slower that makes PyTorch depends on how fast the machine hands
out fresh memory. Neither can move fewer bytes than the floor, and the
floor grows with $V$. Chapter 6 removes $V$ from it: a sparse gradient touches only the
rows in the batch.

## Summary

* The table learns only through a loss downstream. The gradient of a
  lookup is a scatter-add: row $k$ receives the sum of the upstream
  gradients of every position that looked it up, and every other row
  receives exactly zero.
* The backward pass of the model is the chain rule in reverse:
  $\partial L / \partial z = (p - e_y)/B$ for softmax cross-entropy;
  $\partial L / \partial P = \sum_i g_i x_i^\top$ and
  $\partial L / \partial x_i = P^\top g_i$ for the projection; then the
  scatter into the table.
* Backward *adds*, so repeated indices accumulate, and the gradients must
  be zeroed before each step; without `zero_grad` training diverges.
* Plain SGD leaves every row that was not looked up bit for bit
  unchanged.
* A finite-difference gradient check needs no reference and catches real
  mistakes, such as a scatter that assigns instead of adding.
* Words used in the same contexts end up with nearby rows: the table
  learns the categories of the grammar without being told them.

## Exercises

1. Before running it: with `--batch 1`, how many rows does each step
   touch? With `--batch 1000`? Check with `touched.tsv`.
2. Train with `--lr 5` and `--lr 0.05`. Which converges, which does not,
   and why does the 2-D picture look the way it does in each case?
3. Give the model more room with `--dim 8`. Does the final loss go down?
   (The figures draw the first two dimensions only.)
4. Write the scatter-add `emb_backward` with the loop over the indices
   split into two halves run by two POSIX threads, and construct an input
   for which it gives a wrong gradient. Then fix it the way PyTorch does,
   by giving each thread a range of rows.
5. Add a gradient check for the bias $b$ to the program, and plant a bug
   in `linear_backward` (forget to add `dy_i[j]` into `bias_grad`). Does
   the check catch it?
6. The `<unk>` row never moves. Which rows would move under SGD with
   momentum, where each step also adds a fraction of the previous step?
   (Chapter 4 answers this: it builds momentum and shows the rows that
   move without a gradient.)
*/
