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

$$\frac{\partial L}{\partial W_k} = \sum_{i \,:\, t_i = k} \frac{\partial L}{\partial x_i}.$$

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

/**
## The gradient buffer

The table's gradient lives beside its weight, in `Embedding.grad`, the
place chapter 1 left for it. It is allocated once, zeroed, and from then
on every backward pass adds into it, exactly like PyTorch's `.grad`.
*/

int emb_alloc_grad(Embedding *e, EmbError *err) {
    if (e->grad) return 0;
    int64_t bytes = emb_weight_bytes(e->num_embeddings, e->embedding_dim);
    if (bytes < 0) return emb_fail(err, "table of %lld x %lld is too large for a gradient",
                                   (long long)e->num_embeddings, (long long)e->embedding_dim);
    e->grad = emb_alloc(bytes);  // aligned like the weight
    if (!e->grad) return emb_fail(err, "cannot allocate a gradient of %lld bytes", (long long)bytes);
    memset(e->grad, 0, (size_t)bytes);
    return 0;
}

void emb_zero_grad(Embedding *e) {
    if (e->grad) memset(e->grad, 0, (size_t)(e->num_embeddings * e->embedding_dim) * sizeof(float));
}

/**
## The backward pass of the lookup: a scatter-add

Forward gathered rows; backward scatters gradients back into them. The
loop is the mirror image of `emb_lookup`: where the lookup copied row
`idx[i]` of the weight into row `i` of the output, the backward adds row
`i` of the upstream gradient into row `idx[i]` of the table's gradient.
The `+=` is the important part: with `idx = [1, 4, 4, 9]`, row 4 receives
the sum of the second and third upstream rows.
*/

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        float *g_ix = e->grad + idx[i] * D;     // seek to row idx[i] of the gradient
        const float *g_i = grad_out + i * D;    // row i of the upstream gradient
        for (int64_t d = 0; d < D; d++) g_ix[d] += g_i[d];
    }
    return 0;
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

// The FMA clone of sgd_step: where glibc's loader can choose between clones.
// (GCC only: clang 14 names the dispatcher sgd_step.ifunc, which other files
// cannot link against.)
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__FMA__) && !defined(__clang__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define SGD_FMA_CLONES __attribute__((target_clones("fma", "default")))
#endif
#endif
#ifndef SGD_FMA_CLONES
#define SGD_FMA_CLONES
#endif

SGD_FMA_CLONES
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
    if (in_features < 1 || out_features < 1 || emb_mul_size(in_features, out_features, &n) != 0 ||
        emb_weight_bytes(in_features, out_features) < 0) {
        return emb_fail(err, "nn.Linear(%lld, %lld): sizes must be positive and addressable",
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
        return emb_fail(err, "cannot allocate nn.Linear(%lld, %lld)", (long long)in_features,
                        (long long)out_features);
    }
    double bound = 1.0 / sqrt((double)in_features);
    uniform_fill(gen, l->weight, n, bound);
    uniform_fill(gen, l->bias, out_features, bound);
    return 0;
}

void linear_free(Linear *l) {
    free(l->weight);
    free(l->bias);
    free(l->weight_grad);
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
            float acc = l->bias[j];
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
            l->bias_grad[j] += dy_i[j];
            for (int64_t k = 0; k < in; k++) {
                dw_j[k] += dy_i[j] * x_i[k];
                dx_i[k] += dy_i[j] * w_j[k];
            }
        }
    }
}

void linear_zero_grad(Linear *l) {
    memset(l->weight_grad, 0, (size_t)(l->in_features * l->out_features) * sizeof(float));
    memset(l->bias_grad, 0, (size_t)l->out_features * sizeof(float));
}

void linear_sgd_step(Linear *l, float lr) {
    sgd_step(l->weight, l->weight_grad, l->in_features * l->out_features, lr);
    sgd_step(l->bias, l->bias_grad, l->out_features, lr);
}

/**
## Softmax cross-entropy

The loss subtracts the largest logit before exponentiating, so that
$e^{z}$ cannot overflow, and accumulates in double precision. Its gradient
is the softmax minus the one-hot target, divided by the batch size.
*/

double loss_cross_entropy(const float *logits, const int64_t *targets, int64_t B, int64_t V,
                     float *dlogits) {
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

int ntm_init(NextTokenModel *m, int64_t V, int64_t D, int64_t max_batch, TorchGenerator *gen,
             EmbError *err) {
    memset(m, 0, sizeof *m);
    if (max_batch < 1) return emb_fail(err, "batch size must be at least 1, got %lld", (long long)max_batch);
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
        return emb_fail(err, "cannot allocate scratch space for a batch of %lld", (long long)max_batch);
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

int ntm_forward(NextTokenModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
                double *loss, EmbError *err) {
    int64_t V = m->emb.num_embeddings;
    if (B < 1 || B > m->max_batch) {
        return emb_fail(err, "batch of %lld: expected 1 to %lld rows", (long long)B, (long long)m->max_batch);
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

void ntm_sample_batch(TorchGenerator *gen, const int64_t *tokens, int64_t n_tokens, int64_t B,
                      int64_t *inputs, int64_t *targets) {
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
    sgd_step(m->emb.weight, m->emb.grad, m->emb.num_embeddings * m->emb.embedding_dim, lr);
    linear_sgd_step(&m->proj, lr);
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
                    int64_t n_entries, GradcheckLossFn loss, void *ctx, float eps, double atol,
                    double rtol) {
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

typedef struct Options {
    int64_t dim, steps, batch, sentences, vocab;
    double lr;
    uint64_t seed;
    const char *corpus;  // NULL: the built-in corpus
    const char *out;
} Options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ch02 [options]\n"
            "\n"
            "Trains a next-token model (embedding -> linear -> softmax cross-entropy) with\n"
            "plain SGD and writes TSV files for the chapter's figures.\n"
            "\n"
            "  --dim D          embedding_dim, default 2 (so the table can be drawn)\n"
            "  --steps N        SGD steps, default 3000\n"
            "  --lr LR          learning rate, default 0.5\n"
            "  --batch B        positions per step, default 32\n"
            "  --seed S         torch.manual_seed for the model and the batches, default 0\n"
            "  --corpus FILE    train on a plain-text file instead of the built-in corpus\n"
            "  --vocab V        with --corpus: keep the V-1 most frequent words, default 1000\n"
            "  --sentences N    size of the built-in corpus, default 2000\n"
            "  --out DIR        folder for the TSV files, default build/ch02\n"
            "  --help           this text\n");
}

static int parse_options(int argc, char **argv, Options *opt, EmbError *err) {
    *opt = (Options){.dim = 2, .steps = 3000, .batch = 32, .sentences = 2000, .vocab = 1000,
                     .lr = 0.5, .seed = 0, .corpus = NULL, .out = "build/ch02"};
    for (int a = 1; a < argc; a++) {
        const char *name = argv[a];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) return 1;
        if (a + 1 >= argc) return emb_fail(err, "%s: missing value (see --help)", name);
        const char *val = argv[++a];
        int rc = 0;
        if (strcmp(name, "--dim") == 0) rc = cli_int64(name, val, 1, 4096, &opt->dim, err);
        else if (strcmp(name, "--steps") == 0) rc = cli_int64(name, val, 1, 100000000, &opt->steps, err);
        else if (strcmp(name, "--batch") == 0) rc = cli_int64(name, val, 1, 1000000, &opt->batch, err);
        else if (strcmp(name, "--sentences") == 0) rc = cli_int64(name, val, 1, 10000000, &opt->sentences, err);
        else if (strcmp(name, "--vocab") == 0) rc = cli_int64(name, val, 2, 10000000, &opt->vocab, err);
        else if (strcmp(name, "--lr") == 0) rc = cli_double(name, val, 0.0, 1e6, &opt->lr, err);
        else if (strcmp(name, "--seed") == 0) rc = cli_seed(val, &opt->seed, err);
        else if (strcmp(name, "--corpus") == 0) opt->corpus = val;
        else if (strcmp(name, "--out") == 0) opt->out = val;
        else return emb_fail(err, "unknown option '%s' (see --help)", name);
        if (rc != 0) return -1;
    }
    return 0;
}

/**
A training run keeps its loss curve and, for the figures, snapshots of the
table. `train` is the loop every later chapter will vary: sample, zero the
gradients, forward, backward, step. With `zero_grad` off it shows what
happens when gradients pile up.
*/

enum { N_SNAPSHOTS = 60 };

typedef struct Run {
    double *loss;         // (steps,) batch loss at each step
    int64_t *touched;     // (steps,) distinct rows looked up at each step
    Snapshots *snaps;     // the table at evenly spaced steps, or NULL
    double final_loss;    // mean loss over the whole corpus after training
} Run;

// The model's mean loss over every position of the corpus.
static int corpus_loss(NextTokenModel *m, const Corpus *c, double *out, EmbError *err) {
    double total = 0.0;
    int64_t n = c->n_tokens - 1;
    for (int64_t start = 0; start < n; start += m->max_batch) {
        int64_t B = n - start < m->max_batch ? n - start : m->max_batch;
        double loss;
        if (ntm_forward(m, c->tokens + start, c->tokens + start + 1, B, &loss, err) != 0) return -1;
        total += loss * (double)B;
    }
    *out = total / (double)n;
    return 0;
}

static int train(const Options *opt, const Corpus *c, bool zero_grad, Run *run, EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    int64_t V = c->vocab_size, D = opt->dim, B = opt->batch;
    int64_t *inputs = malloc((size_t)B * sizeof *inputs), *targets = malloc((size_t)B * sizeof *targets);
    int rc = -1;
    rng_manual_seed(&gen, opt->seed);
    if (!inputs || !targets) { emb_fail(err, "out of memory for a batch of %lld", (long long)B); goto done; }
    if (ntm_init(&m, V, D, B, &gen, err) != 0) goto done;
    bool tty = isatty(STDERR_FILENO);
    for (int64_t step = 0; step <= opt->steps; step++) {
        if (run->snaps) snapshots_take(run->snaps, step, m.emb.weight);
        if (step == opt->steps) break;
        ntm_sample_batch(&gen, c->tokens, c->n_tokens, B, inputs, targets);
        if (zero_grad) ntm_zero_grad(&m);
        if (ntm_forward(&m, inputs, targets, B, &run->loss[step], err) != 0 ||
            ntm_backward(&m, inputs, B, err) != 0) goto free_model;
        ntm_sgd_step(&m, (float)opt->lr);
        run->touched[step] = emb_rows_touched(&m.emb, inputs, B);
        if (tty && (step % 100 == 99 || step + 1 == opt->steps)) {
            fprintf(stderr, "\rstep %lld/%lld  loss %.4f  ", (long long)step + 1,
                    (long long)opt->steps, run->loss[step]);
        }
    }
    if (tty) fprintf(stderr, "\n");
    rc = corpus_loss(&m, c, &run->final_loss, err);
free_model:
    ntm_free(&m);
done:
    free(inputs);
    free(targets);
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

typedef struct CheckCtx {
    NextTokenModel *m;
    const int64_t *inputs, *targets;
    int64_t B;
} CheckCtx;

static double check_loss(void *ctx) {
    CheckCtx *c = ctx;
    double loss = NAN;
    ntm_forward(c->m, c->inputs, c->targets, c->B, &loss, NULL);
    return loss;
}

// The planted bug: a scatter that overwrites instead of accumulating.
static void backward_overwrite(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out) {
    for (int64_t i = 0; i < n; i++) {
        memcpy(e->grad + idx[i] * e->embedding_dim, grad_out + i * e->embedding_dim,
               (size_t)e->embedding_dim * sizeof(float));
    }
}

static int check_gradients(const Options *opt, const Corpus *c, EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    enum { B = 16 };
    int64_t inputs[B], targets[B];
    rng_manual_seed(&gen, opt->seed);
    if (ntm_init(&m, c->vocab_size, opt->dim, B, &gen, err) != 0) return -1;
    for (int64_t i = 0; i < B; i++) {  // a batch with repeats: positions 0..15 of the corpus
        inputs[i] = c->tokens[i % (c->n_tokens - 1)];
        targets[i] = c->tokens[i % (c->n_tokens - 1) + 1];
    }
    double loss;
    CheckCtx ctx = {&m, inputs, targets, B};
    int64_t D = opt->dim, entries[B * 64];
    int64_t n = 0;
    for (int64_t i = 0; i < B && n + D <= B * 64; i++) {
        for (int64_t d = 0; d < D; d++) entries[n++] = inputs[i] * D + d;  // rows looked up
    }
    for (int pass = 0; pass < 2; pass++) {
        ntm_zero_grad(&m);
        if (ntm_forward(&m, inputs, targets, B, &loss, err) != 0) { ntm_free(&m); return -1; }
        linear_backward(&m.proj, m.x, m.dlogits, B, m.dx);
        if (pass == 0) emb_backward(&m.emb, inputs, B, m.dx, NULL);
        else backward_overwrite(&m.emb, inputs, B, m.dx);
        GradcheckResult r = gradcheck_run(m.emb.weight, m.emb.grad, entries, n, check_loss, &ctx,
                                1e-2f, 1e-4, 1e-2);
        printf("gradient check, %s backward: %lld entries of W, max abs error %.2e: %s\n",
               pass == 0 ? "scatter-add" : "overwriting (planted bug)", (long long)r.checked,
               r.max_abs_err, r.passed ? "PASS" : "FAIL");
        if (!r.passed) {
            printf("    worst: W[%lld][%lld] analytic %.6f, numeric %.6f\n", (long long)(r.worst / D),
                   (long long)(r.worst % D), r.worst_analytic, r.worst_numeric);
        }
        if (pass == 0 && !r.passed) {
            ntm_free(&m);
            return emb_fail(err, "the gradient check failed on the real backward pass");
        }
    }
    ntm_free(&m);
    return 0;
}

/**
The output files: the loss at every step (with the unigram baseline and
the run without `zero_grad`) and the rows touched per step. The
snapshots of the table go to `trajectory.tsv` (every word's path through
the plane) and `frames.tsv` (one block per snapshot, for the animation),
written by `src/snapshots.c`, which chapter 3 uses too.
*/

static int write_loss(const Options *opt, const Run *run, const Run *no_zero, double baseline,
                      int64_t V, EmbError *err) {
    OutFile of;
    if (outfile_open(&of, opt->out, "loss.tsv", err) != 0) return -1;
    fprintf(of.f, "step\tloss\tloss_without_zero_grad\tunigram_baseline\n");
    for (int64_t s = 0; s < opt->steps; s++) {
        fprintf(of.f, "%lld\t%.6f\t%.6f\t%.6f\n", (long long)s + 1, run->loss[s],
                no_zero->loss[s], baseline);
    }
    if (outfile_commit(&of, err) != 0) return -1;
    if (outfile_open(&of, opt->out, "touched.tsv", err) != 0) return -1;
    fprintf(of.f, "step\trows_touched\tbatch\tvocab\n");
    for (int64_t s = 0; s < opt->steps; s++) {
        fprintf(of.f, "%lld\t%lld\t%lld\t%lld\n", (long long)s + 1, (long long)run->touched[s],
                (long long)opt->batch, (long long)V);
    }
    return outfile_commit(&of, err);
}

static int run_chapter(const Options *opt, EmbError *err) {
    Corpus c = {0};
    Run run = {0}, no_zero = {0};
    Snapshots snaps = {0};
    int rc = -1;
    if (opt->corpus ? corpus_from_file(&c, opt->corpus, opt->vocab, err)
                    : corpus_builtin(&c, opt->seed, opt->sentences, err)) goto done;
    if (opt->batch > c.n_tokens - 1) {
        emb_fail(err, "--batch %lld is larger than the corpus, which has %lld positions with a next token",
                 (long long)opt->batch, (long long)(c.n_tokens - 1));
        goto done;
    }
    double baseline = corpus_unigram_entropy(&c);
    printf("corpus: %lld tokens, vocabulary %lld (%s)\n", (long long)c.n_tokens,
           (long long)c.vocab_size, opt->corpus ? opt->corpus : "built-in grammar");
    printf("unigram entropy (loss of a model that ignores its input): %.4f nats\n", baseline);
    if (check_gradients(opt, &c, err) != 0) goto done;

    int64_t V = c.vocab_size, D = opt->dim;
    run.loss = calloc((size_t)opt->steps, sizeof(double));
    run.touched = calloc((size_t)opt->steps, sizeof(int64_t));
    if (snapshots_init(&snaps, V, D, N_SNAPSHOTS, opt->steps, err) != 0) goto done;
    run.snaps = &snaps;
    no_zero.loss = calloc((size_t)opt->steps, sizeof(double));
    no_zero.touched = calloc((size_t)opt->steps, sizeof(int64_t));
    if (!run.loss || !run.touched || !no_zero.loss || !no_zero.touched) {
        emb_fail(err, "out of memory for %lld steps", (long long)opt->steps);
        goto done;
    }
    printf("training: D=%lld, %lld steps of SGD, lr %g, batch %lld, seed %llu\n", (long long)D,
           (long long)opt->steps, opt->lr, (long long)opt->batch, (unsigned long long)opt->seed);
    if (train(opt, &c, true, &run, err) != 0 || train(opt, &c, false, &no_zero, err) != 0) goto done;
    double mean_touched = 0.0;
    for (int64_t s = 0; s < opt->steps; s++) mean_touched += (double)run.touched[s] / (double)opt->steps;
    printf("loss over the whole corpus after training: %.4f nats (baseline %.4f)\n", run.final_loss, baseline);
    int64_t blowup = -1, nan_step = -1;  // where the run without zero_grad goes wrong
    for (int64_t s = opt->steps - 1; s >= 0; s--) {
        if (no_zero.loss[s] > 2.0 * baseline) blowup = s + 1;
        if (isnan(no_zero.loss[s])) nan_step = s + 1;
    }
    if (isnan(no_zero.final_loss)) printf("the same run without zero_grad: loss NaN");
    else printf("the same run without zero_grad: loss %.4f nats", no_zero.final_loss);
    if (blowup > 0) printf("; above twice the baseline from step %lld", (long long)blowup);
    if (nan_step > 0) printf("; NaN from step %lld", (long long)nan_step);
    printf("\n");
    printf("rows touched per step: %.1f of %lld on average (batch %lld)\n", mean_touched,
           (long long)V, (long long)opt->batch);
    RowLabels labels = {(const char *const *)c.words, c.category, c.category_names, c.n_categories};
    if (write_loss(opt, &run, &no_zero, baseline, V, err) != 0 ||
        snapshots_write(&snaps, opt->out, &labels, true, err) != 0) goto done;
    printf("wrote %s/loss.tsv, touched.tsv, trajectory.tsv, frames.tsv, categories.tsv\n", opt->out);
    rc = 0;
done:
    free(run.loss); free(run.touched);
    free(no_zero.loss); free(no_zero.touched);
    snapshots_free(&snaps);
    corpus_free(&c);
    return rc;
}

int main(int argc, char **argv) {
    Options opt;
    EmbError err;
    int parsed = parse_options(argc, argv, &opt, &err);
    if (parsed == 1) {
        usage(stdout);
        return 0;
    }
    if (parsed != 0 || cli_make_dir(opt.out, &err) != 0 || run_chapter(&opt, &err) != 0) {
        fprintf(stderr, "ch02: %s\n", err.msg);
        return 1;
    }
    return 0;
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter2` trains for 3000 steps with $D = 2$, a batch of 32 and a
learning rate of 0.5, which takes a fraction of a second. The gradient
check comes first: on a batch of 16 positions, the 32 entries of the
looked-up rows of $W$ agree with the central differences to about
$3 \cdot 10^{-7}$, far inside the tolerance. The planted bug fails by
$4 \cdot 10^{-2}$, and the worst entry is a row that the batch looks up
more than once: overwriting keeps only the last of its contributions.

The corpus of 2000 sentences has about 14,000 tokens, and its unigram
entropy is 3.00 nats. After training, the mean loss over the whole corpus
is about 1.56 nats, far below that baseline. The chapter's tests also
train the same model with the table's gradient thrown away before every
step: the projection alone then only gets the loss to about 2.84, just
under the baseline, because random rows can tell words apart but cannot
put words that predict the same things together.

![Every word's row during training (circle: start, dot: end), coloured by category.](fig-trajectories.png)

The figure above is the table itself, drawn as it learns. The rows start
as PyTorch's random normal points and move into tight groups, one per
category: the animals together, the foods together, the places together,
the two kinds of verbs apart from each other. Nothing told the model what
the categories are; it found that words used in the same contexts can
share a row, because they need the same prediction. The tests measure
it: in the trained table the mean distance between two words of the same
category is 3% of the mean distance between words of different
categories; in the random table it is 109%. The grey point that
never moves is `<unk>`, row 0: the corpus never uses it, so it never gets
a gradient and stays exactly where PyTorch put it. The animation shows the
same run frame by frame.

![The table during training (animated).](fig-training.gif)

![Loss per step with and without zero_grad, against the unigram baseline.](fig-loss.png)

The loss curve shows the batch loss falling below the baseline after
about a hundred steps. The red curve is the same run without `zero_grad`: each
step adds the new gradient to all the old ones, so the step taken is the
sum of every gradient seen so far. The loss goes above twice the
baseline by step 64 (the program prints the step), runs away, and ends
in NaN.

![How many rows each of the first 200 steps touches.](fig-touched.png)

The last figure counts the distinct rows each batch looked up, for the
first 200 steps; the rest of the run draws its batches the same way and
looks the same. A batch of
32 positions touches about 16 of the 29 rows, because common words repeat
within a batch; only those rows have a nonzero gradient, and only those
rows move under SGD. With a real vocabulary the fraction is tiny: try
`build/bin/ch02 --corpus FILE --vocab 20000` on any long text file.

## What PyTorch does

* The forward pass is `F.embedding`, whose backward is
  `embedding_dense_backward`; on the CPU it allocates a zero $(V, D)$
  tensor and adds `grad[i]` into row `idx[i]` for every $i$, in order,
  with threads splitting the rows, as described above. Autograd then adds
  that tensor into `weight.grad` (or makes it the `.grad` if there was
  none). We add into `grad` directly; the sums are the same, though when
  `.grad` already holds something the float rounding can differ in the
  last bit, because PyTorch adds up the new gradient first.
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
zeros, but the step cannot know which. So a step must move about $16VD$
bytes. The benchmark measures the machine's floor for those bytes in the
same run, on the same buffers (a `memset` and one streaming loop), and
puts PyTorch's dense step (`nn.Embedding` and `torch.optim.SGD`, one
thread) beside ours:

| V | bytes to move | floor | C step | C / floor | PyTorch | PyTorch / C |
|---|---|---|---|---|---|---|
| $10^3$ | 6 MB | 0.036 ms | 0.042 ms | 1.16 | 0.16 ms | 3.7 |
| $10^5$ | 108 MB | 1.0 ms | 1.3 ms | 1.28 | 4.0 ms | 3.1 |
| $10^6$ | 1.0 GB | 15.3 ms | 15.6 ms | 1.02 | 125 ms | 8.0 |
| $10^7$ | 10.2 GB | 151 ms | 154 ms | 1.02 | 1.81 s | 11.7 |

For a small table the step costs what its batch costs. From $10^5$ rows
on, the dense gradient takes over and the time grows with $V$, not with
the batch: at $10^7$ rows a step moves 10 GB of memory to update at most
4096 rows. The C step is within 2% of the floor there: it is as fast as a
dense step can be, and it is still slow. PyTorch computes the same bits
but moves more memory: `zero_grad()` zeroes `.grad` in place, then
backward builds a *second*, freshly allocated zero gradient, scatters into
it and adds it into `.grad`; at $10^7$ rows that fresh 2.56 GB costs over
600,000 page faults per step. Neither can beat the floor, and the floor
grows with $V$. Chapter 6 removes $V$ from it: a sparse gradient touches
only the rows in the batch.

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
