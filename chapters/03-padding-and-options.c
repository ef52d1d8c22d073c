/**
# Chapter 3: Padding and the other knobs

Real inputs are sequences, and sequences have different lengths. A batch
is a rectangle, so the short sequences are filled up with a special
token, and that filler must not take part in training. `nn.Embedding`'s
`padding_idx` is how PyTorch keeps it out. This chapter builds that option
and the other three that change what the table sees or how it is updated:
`max_norm` with `norm_type`, which rescales rows *during the forward
pass*; `scale_grad_by_freq`, which averages a row's gradient instead of
summing it; and `from_pretrained` with `freeze`, which starts from a table
someone else trained and may keep it fixed.

To see padding in real batches, the chapter's model reads a *window* of
the last $T$ words instead of one word, and predicts the next word from
the mean of their rows. At the start of a sentence there are fewer than
$T$ words, and the window is padded on the left:

```
sentence:   a  dog  eats  fish  .          T = 3
window for "a":      [<pad> <pad>  a   ]   length 1  -> predicts "dog"
window for "dog":    [<pad>  a     dog ]   length 2  -> predicts "eats"
window for "eats":   [ a     dog   eats]   length 3  -> predicts "fish"
```

$$x_b = \frac{1}{\ell_b} \sum_{t=1}^{T} W_{w_{b,t}}, \qquad
z_b = P x_b + c,$$

where $w_{b,t}$ is the $t$-th token of window $b$, $\ell_b$ is the number
of real (non-padding) words in it, and $P$ and $c$ are chapter 2's
projection and bias (renamed, since $b$ now numbers the windows). The sum
runs over all $T$ positions, padding included, exactly as
`emb(windows).sum(1) / lengths[:, None]` does in PyTorch. That is the
correct mean only if the padding row is zero and stays zero, which
`padding_idx` ensures: the padding row starts at zero and its gradient is
always zero, so no optimizer moves it. (What does move it is weight tying,
in chapter 5, where the same table is also the model's output layer.)
*/

#include "03-padding-and-options.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/**
## The options

PyTorch takes the options as keyword arguments with `None` for "off". C
has no `None`, so `EmbeddingOptions` pairs each optional value with a
flag, and `emb_default_options` gives PyTorch's defaults.
*/

EmbeddingOptions emb_default_options(void) {
    return (EmbeddingOptions){.has_padding_idx = false, .padding_idx = 0, .has_max_norm = false,
                              .max_norm = 0.0, .norm_type = 2.0, .scale_grad_by_freq = false};
}

/**
`padding_idx` may be negative, as in Python: $-1$ means the last row
(the second of the three meanings of $-1$ that [chapter
1](01-lookup-table.html#looking-rows-up) lists).
PyTorch normalises it to $V + \text{padding\_idx}$ (in the module's
constructor, and again in `F.embedding`), and rejects anything outside
$[-V, V)$ with an `AssertionError` whose message we keep. PyTorch accepts
a negative `max_norm`, and then flips the sign of every row it looks up
and rescales it to norm $|\text{max\_norm}|$ (we checked: `[0.3, 0.4]`
with `max_norm=-1` becomes `[-0.6, -0.8]`); we refuse it, and any
`norm_type` that is not a number $\ge 0$ or infinity.
*/

int emb_set_options(Embedding *e, const EmbeddingOptions *opt, EmbError *err) {
    int64_t V = e->num_embeddings, padding_idx = EMB_NO_PADDING;
    if (opt->has_padding_idx) {
        if (opt->padding_idx >= V || opt->padding_idx < -V) {
            return emb_fail(err,
                            "Padding_idx must be within num_embeddings: padding_idx %lld, "
                            "num_embeddings %lld (valid: %lld to %lld)",
                            (long long)opt->padding_idx, (long long)V, (long long)-V, (long long)V - 1);
        }
        padding_idx = opt->padding_idx < 0 ? V + opt->padding_idx : opt->padding_idx;
    }
    if (opt->has_max_norm && !(opt->max_norm >= 0.0 && isfinite(opt->max_norm))) {
        return emb_fail(err, "max_norm must be a finite number >= 0, got %g", opt->max_norm);
    }
    if (!(opt->norm_type >= 0.0)) {  // also false for NaN
        return emb_fail(err, "norm_type must be a number >= 0 or inf, got %g", opt->norm_type);
    }
    e->padding_idx = padding_idx;
    e->max_norm = opt->has_max_norm ? opt->max_norm : EMB_NO_MAX_NORM;
    e->norm_type = opt->norm_type;
    e->scale_grad_by_freq = opt->scale_grad_by_freq;
    return 0;
}

/**
## Padding at initialization

`nn.Embedding(V, D, padding_idx=p)` draws the whole table exactly as in
chapter 1 and *then* fills row $p$ with zeros. The random draws are not
changed: every other row is bit for bit the row you would get without
padding, and the padding row's draws are simply thrown away.
*/

int emb_init_with_options(Embedding *e, int64_t V, int64_t D, const EmbeddingOptions *opt,
                          TorchGenerator *gen, EmbError *err) {
    Embedding probe = {.num_embeddings = V, .embedding_dim = D};
    if (V >= 1 && emb_set_options(&probe, opt, err) != 0) return -1;  // check before drawing
    if (emb_init(e, V, D, gen, err) != 0) return -1;
    emb_set_options(e, opt, NULL);
    if (e->padding_idx != EMB_NO_PADDING) {
        memset(e->weight + e->padding_idx * D, 0, (size_t)D * sizeof(float));  // row padding_idx
    }
    return 0;
}

/**
## Pre-trained tables

`nn.Embedding.from_pretrained(weight, freeze=True)` is how a model starts
from vectors trained elsewhere (word2vec, GloVe, another model's table).
Three of its behaviours surprise people; ours has all three:

* It does **not** copy the tensor: the module's weight *is* the tensor you
  passed, so training the module changes your tensor too.
* It does **not** zero the padding row: the constructor that zeroes it is
  skipped, and no random numbers are drawn.
* `freeze=True` is the default. A frozen table gets no gradient and no
  update: its vectors are *static* embeddings, and only the rest of the
  model learns. With `freeze=False` they are *fine-tuned*.
*/

int emb_from_pretrained(Embedding *e, float *weight, int64_t V, int64_t D, bool freeze,
                        const EmbeddingOptions *opt, EmbError *err) {
    memset(e, 0, sizeof *e);
    if (V < 1 || D < 1 || emb_weight_bytes(V, D) < 0) {
        return emb_fail(err, "Embeddings parameter is expected to be 2-dimensional with positive "
                             "sizes, got (%lld, %lld)", (long long)V, (long long)D);
    }
    Embedding table = {.num_embeddings = V, .embedding_dim = D, .weight = weight,
                       .requires_grad = !freeze, .owns_weight = false};
    if (emb_set_options(&table, opt, err) != 0) return -1;
    *e = table;
    return 0;
}

/**
## max_norm: a forward pass that changes the weights

With `max_norm` set, every lookup first makes sure that the rows it is
about to return have a norm of at most `max_norm`. It does this by
rescaling the rows **in the weight itself**, before the lookup:

$$\text{if } \lVert W_k \rVert_p > \text{max\_norm}: \qquad
W_k \leftarrow W_k \cdot \frac{\text{max\_norm}}{\lVert W_k \rVert_p + 10^{-7}}.$$

So a forward pass, even one in evaluation mode, modifies the table. The
$10^{-7}$ guards against division by zero; the comparison is strict, so a
row whose norm equals `max_norm` is left alone. Only the distinct rows
that are looked up are visited; the others may keep any norm. PyTorch
sorts the indices and skips repeats; we mark the rows we have seen, which
visits the same rows.

The norm is the usual $p$-norm $\lVert x \rVert_p = (\sum_j |x_j|^p)^{1/p}$,
with the two limits PyTorch allows: $p = \infty$ takes the largest
$|x_j|$, and $p = 0$ counts the nonzero values. PyTorch accumulates it in
float32 and converts the result to double; so do we.
*/

double emb_row_norm(const float *row, int64_t D, double p) {
    float acc = 0.0f;
    if (p == 0.0) {
        for (int64_t j = 0; j < D; j++) acc += (row[j] != 0.0f);
    } else if (isinf(p)) {
        for (int64_t j = 0; j < D; j++) acc = fmaxf(acc, fabsf(row[j]));
    } else if (p == 1.0) {
        for (int64_t j = 0; j < D; j++) acc += fabsf(row[j]);
    } else if (p == 2.0) {
        for (int64_t j = 0; j < D; j++) acc += row[j] * row[j];
        acc = sqrtf(acc);
    } else {
        for (int64_t j = 0; j < D; j++) acc += powf(fabsf(row[j]), (float)p);
        acc = powf(acc, (float)(1.0 / p));
    }
    return (double)acc;
}

int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    unsigned char *seen = calloc((size_t)e->num_embeddings, 1);
    if (!seen) return emb_fail(err, "out of memory renormalising %lld rows", (long long)n);
    int64_t D = e->embedding_dim, rescaled = 0;
    for (int64_t i = 0; i < n; i++) {
        if (seen[idx[i]]) continue;  // each distinct row once
        seen[idx[i]] = 1;
        float *w_k = e->weight + idx[i] * D;  // seek to row idx[i]
        double norm = emb_row_norm(w_k, D, e->norm_type);
        if (norm > e->max_norm) {
            float scale = (float)(e->max_norm / (norm + 1e-7));
            for (int64_t d = 0; d < D; d++) w_k[d] *= scale;
            rescaled++;
        }
    }
    free(seen);
    return rescaled;
}

/**
The module's forward pass is then two calls: renormalise, then chapter
1's lookup. No gradient flows through the rescaling; backward treats the
rescaled rows as if they had always been the weights. Note that the
padding row is *not* skipped: if it is not zero (after `from_pretrained`)
and too long, it is rescaled like any other row.
*/

int emb_forward(Embedding *e, const int64_t *idx, int64_t n, float *out, EmbError *err) {
    if (e->max_norm != EMB_NO_MAX_NORM && emb_renorm_(e, idx, n, err) < 0) return -1;
    return emb_lookup(e, idx, n, out, err);
}

/**
## The backward pass with options

Chapter 2's scatter-add needs two changes, and both are small:

* positions that hold `padding_idx` are skipped, so the padding row's
  gradient stays exactly zero however often it is looked up;
* with `scale_grad_by_freq`, each contribution is multiplied by $1/c_k$,
  where $c_k$ counts how often row $k$ appears among *this call's*
  indices, so the row gets the mean of its upstream gradients instead of
  the sum. Frequent words then stop taking larger steps than rare ones.
  PyTorch multiplies with a fused multiply-add, `acc = fma(g, 1/c, acc)`,
  and so do we.

A frozen table needs no gradient at all.
*/

int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err) {
    if (!e->requires_grad) return emb_check_indices(e, idx, n, err);
    if (emb_check_indices(e, idx, n, err) != 0 || emb_alloc_grad(e, err) != 0) return -1;
    int64_t V = e->num_embeddings, D = e->embedding_dim;
    int64_t *counts = NULL;
    if (e->scale_grad_by_freq) {
        counts = calloc((size_t)V, sizeof *counts);
        if (!counts) return emb_fail(err, "out of memory counting %lld rows", (long long)V);
        for (int64_t i = 0; i < n; i++) counts[idx[i]]++;
    }
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] == e->padding_idx) continue;  // the padding row learns nothing
        float *g_ix = e->grad + idx[i] * D;      // seek to row idx[i] of the gradient
        const float *g_i = grad_out + i * D;     // row i of the upstream gradient
        if (counts) {
            float scale = (float)(1.0 / (double)counts[idx[i]]);
            for (int64_t d = 0; d < D; d++) g_ix[d] = fmaf(g_i[d], scale, g_ix[d]);
        } else {
            for (int64_t d = 0; d < D; d++) g_ix[d] += g_i[d];
        }
    }
    free(counts);
    return 0;
}

/**
`scale_grad_by_freq` cannot be combined with sparse gradients in PyTorch
(the gradients that hold only the looked-up rows, which chapter 6 builds);
with dense gradients it works as above.

## The context model

The model of this chapter wraps a table with chapter 2's projection. Its
forward pass looks up all $B \cdot T$ positions with `emb_forward` (so
`max_norm` applies), sums each window's rows and divides by the window's
real length. Its backward pass is the mirror image: the gradient of the
pooled row, divided by the length, is handed to every position of the
window, padding included, and `emb_backward_opts` drops the padding
positions.
*/

int cm_init(ContextModel *m, Embedding *table, int64_t n_classes, int64_t max_batch,
             int64_t context, TorchGenerator *gen, EmbError *err) {
    memset(m, 0, sizeof *m);
    int64_t D = table->embedding_dim, bt, btd, bd, bc;
    if (max_batch < 1 || context < 1 || emb_mul_size(max_batch, context, &bt) != 0 ||
        emb_mul_size(bt, D, &btd) != 0 || emb_mul_size(max_batch, D, &bd) != 0 ||
        emb_mul_size(max_batch, n_classes, &bc) != 0 || emb_weight_bytes(btd, 1) < 0 ||
        emb_weight_bytes(bc, 1) < 0) {
        return emb_fail(err, "batch %lld x context %lld: sizes must be positive and addressable",
                        (long long)max_batch, (long long)context);
    }
    if (linear_init(&m->proj, D, n_classes, gen, err) != 0) return -1;
    m->emb = *table;
    memset(table, 0, sizeof *table);  // the model owns the table now
    m->max_batch = max_batch;
    m->context = context;
    if (!(m->rows = malloc((size_t)btd * sizeof(float))) ||
        !(m->drows = malloc((size_t)btd * sizeof(float))) ||
        !(m->x = malloc((size_t)bd * sizeof(float))) ||
        !(m->dx = malloc((size_t)bd * sizeof(float))) ||
        !(m->logits = malloc((size_t)bc * sizeof(float))) ||
        !(m->dlogits = malloc((size_t)bc * sizeof(float)))) {
        cm_free(m);
        return emb_fail(err, "cannot allocate scratch space for a batch of %lld", (long long)max_batch);
    }
    return 0;
}

void cm_free(ContextModel *m) {
    emb_free(&m->emb);
    linear_free(&m->proj);
    free(m->rows);
    free(m->drows);
    free(m->x);
    free(m->dx);
    free(m->logits);
    free(m->dlogits);
    memset(m, 0, sizeof *m);
}

int cm_forward(ContextModel *m, const int64_t *windows, const int64_t *lengths,
                const int64_t *targets, int64_t B, double *loss, EmbError *err) {
    int64_t T = m->context, D = m->emb.embedding_dim, C = m->proj.out_features;
    if (B < 1 || B > m->max_batch) {
        return emb_fail(err, "batch of %lld: expected 1 to %lld windows", (long long)B, (long long)m->max_batch);
    }
    for (int64_t b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T) {
            return emb_fail(err, "window %lld has length %lld: expected 1 to %lld", (long long)b,
                            (long long)lengths[b], (long long)T);
        }
        if (targets[b] < 0 || targets[b] >= C) {
            return emb_fail(err, "Target %lld is out of bounds.", (long long)targets[b]);
        }
    }
    if (emb_forward(&m->emb, windows, B * T, m->rows, err) != 0) return -1;  // (B*T, D)
    for (int64_t b = 0; b < B; b++) {
        float *x_b = m->x + b * D;  // the pooled row of window b
        for (int64_t d = 0; d < D; d++) x_b[d] = 0.0f;
        for (int64_t t = 0; t < T; t++) {
            const float *r = m->rows + (b * T + t) * D;  // position t of window b
            for (int64_t d = 0; d < D; d++) x_b[d] += r[d];
        }
        for (int64_t d = 0; d < D; d++) x_b[d] /= (float)lengths[b];
    }
    linear_forward(&m->proj, m->x, B, m->logits);
    *loss = loss_cross_entropy(m->logits, targets, B, C, m->dlogits);
    return 0;
}

int cm_backward(ContextModel *m, const int64_t *windows, const int64_t *lengths, int64_t B,
                 EmbError *err) {
    int64_t T = m->context, D = m->emb.embedding_dim;
    linear_backward(&m->proj, m->x, m->dlogits, B, m->dx);  // dP, dc, and dx
    for (int64_t b = 0; b < B; b++) {
        const float *dx_b = m->dx + b * D;  // gradient of window b's pooled row
        for (int64_t t = 0; t < T; t++) {
            float *dr = m->drows + (b * T + t) * D;  // every position gets dx_b / length
            for (int64_t d = 0; d < D; d++) dr[d] = dx_b[d] / (float)lengths[b];
        }
    }
    return emb_backward_opts(&m->emb, windows, B * T, m->drows, err);
}

void cm_zero_grad(ContextModel *m) {
    emb_zero_grad(&m->emb);
    linear_zero_grad(&m->proj);
}

void cm_sgd_step(ContextModel *m, float lr) {
    if (m->emb.requires_grad && m->emb.grad) {
        sgd_step(m->emb.weight, m->emb.grad, m->emb.num_embeddings * m->emb.embedding_dim, lr);
    }
    linear_sgd_step(&m->proj, lr);
}

/**
Because the padding row's gradient is exactly zero, plain SGD moves it by
exactly zero: it stays at the origin for the whole run, and the sums in the
forward pass stay correct. The other optimizers keep it there too. In
chapter 4's SGD with momentum, Adam, AdamW, Adagrad and RMSprop, a row
whose gradient is always zero keeps a zero momentum and zero moments, and
weight decay shrinks a zero row to zero, so a padding row that starts at
zero ends at zero. Weight decay does move a padding row that is *not*
zero, such as one that `from_pretrained` loaded: decay pulls every
value toward zero whatever its gradient (chapter 4 builds it). What moves
even a zero padding row is weight tying (chapter 5): when the table is
also the output layer, the output layer's gradient reaches every row, the
padding row included, and `padding_idx` blocks only the lookup's
gradient.

## The program

The program trains the context model six times on the same corpus and
batches, changing one thing each time:

| run | table | what it shows |
|---|---|---|
| `trainable` | random, `padding_idx=-1` | padding row stays at the origin |
| `max_norm` | as above, with `max_norm` | rows kept short by the forward pass |
| `scale_grad_by_freq` | as above, gradients averaged per row | frequent rows take smaller steps |
| `frozen-random` | random, `freeze=True` | only the projection learns |
| `frozen-pretrained` | chapter 2's trained table, `freeze=True` | static embeddings |
| `fine-tuned` | chapter 2's trained table, `freeze=False` | fine-tuning |

The pre-trained table comes from chapter 2's code: the program first
trains chapter 2's next-token model on the same corpus, with the same $D$,
and copies its table, adding a zero row for padding.
*/

#ifndef EMB_LIBRARY

#include <stdio.h>
#include <unistd.h>

#include "../src/cli.h"
#include "../src/corpus.h"
#include "../src/snapshots.h"

typedef struct Options {
    int64_t dim, context, steps, batch, sentences, vocab, pretrain_steps;
    double lr;
    uint64_t seed;
    EmbeddingOptions emb;  // padding_idx, norm_type; max_norm for the max_norm run
    const char *corpus, *out;
} Options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ch03 [options]\n"
            "\n"
            "Trains a model that predicts the next word from the mean of the last T words'\n"
            "rows (padded at sentence starts) six ways: trainable, with max_norm, with\n"
            "scale_grad_by_freq, frozen random, frozen pre-trained, fine-tuned.\n"
            "\n"
            "  --dim D             embedding_dim, default 2\n"
            "  --context T         words per window, default 3\n"
            "  --steps N           SGD steps per run, default 2000\n"
            "  --lr LR             learning rate, default 0.5\n"
            "  --batch B           windows per step, default 32\n"
            "  --seed S            torch.manual_seed, default 0\n"
            "  --padding-idx P     the filler row, in [-V, V), or none; default -1, the <pad>\n"
            "                      row the program adds last (V counts it); another row\n"
            "                      makes that word the filler; none: <pad> is not padding_idx\n"
            "  --max-norm M        max_norm of the max_norm run, default 1\n"
            "  --norm-type P       norm_type (a number >= 0, or inf), default 2\n"
            "  --pretrain-steps N  chapter 2 training for the pre-trained table, default 3000\n"
            "  --corpus FILE       train on a text file instead of the built-in corpus\n"
            "  --vocab V           with --corpus: most frequent V-1 words, default 1000\n"
            "  --sentences N       size of the built-in corpus, default 2000\n"
            "  --out DIR           folder for the TSV files, default build/ch03\n"
            "  --help              this text\n");
}

static int parse_options(int argc, char **argv, Options *opt, EmbError *err) {
    *opt = (Options){.dim = 2, .context = 3, .steps = 2000, .batch = 32, .sentences = 2000,
                     .vocab = 1000, .pretrain_steps = 3000, .lr = 0.5, .seed = 0,
                     .emb = emb_default_options(), .corpus = NULL, .out = "build/ch03"};
    opt->emb.has_padding_idx = true;
    opt->emb.padding_idx = -1;
    opt->emb.has_max_norm = true;
    opt->emb.max_norm = 1.0;
    for (int a = 1; a < argc; a++) {
        const char *name = argv[a];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) return 1;
        if (a + 1 >= argc) return emb_fail(err, "%s: missing value (see --help)", name);
        const char *val = argv[++a];
        int rc = 0;
        if (strcmp(name, "--dim") == 0) rc = cli_int64(name, val, 1, 4096, &opt->dim, err);
        else if (strcmp(name, "--context") == 0) rc = cli_int64(name, val, 1, 64, &opt->context, err);
        else if (strcmp(name, "--steps") == 0) rc = cli_int64(name, val, 1, 100000000, &opt->steps, err);
        else if (strcmp(name, "--batch") == 0) rc = cli_int64(name, val, 1, 1000000, &opt->batch, err);
        else if (strcmp(name, "--sentences") == 0) rc = cli_int64(name, val, 1, 10000000, &opt->sentences, err);
        else if (strcmp(name, "--vocab") == 0) rc = cli_int64(name, val, 2, 10000000, &opt->vocab, err);
        else if (strcmp(name, "--pretrain-steps") == 0) rc = cli_int64(name, val, 0, 100000000, &opt->pretrain_steps, err);
        else if (strcmp(name, "--lr") == 0) rc = cli_double(name, val, 0.0, 1e6, &opt->lr, err);
        else if (strcmp(name, "--seed") == 0) rc = cli_seed(val, &opt->seed, err);
        else if (strcmp(name, "--padding-idx") == 0) {
            opt->emb.has_padding_idx = strcmp(val, "none") != 0;
            if (opt->emb.has_padding_idx) rc = cli_int64(name, val, INT64_MIN, INT64_MAX, &opt->emb.padding_idx, err);
        } else if (strcmp(name, "--max-norm") == 0) {
            rc = cli_double(name, val, -INFINITY, INFINITY, &opt->emb.max_norm, err);
        } else if (strcmp(name, "--norm-type") == 0) {
            if (strcmp(val, "inf") == 0) opt->emb.norm_type = INFINITY;
            else rc = cli_double(name, val, -INFINITY, INFINITY, &opt->emb.norm_type, err);
        } else if (strcmp(name, "--corpus") == 0) opt->corpus = val;
        else if (strcmp(name, "--out") == 0) opt->out = val;
        else return emb_fail(err, "unknown option '%s' (see --help)", name);
        if (rc != 0) return -1;
    }
    return 0;
}

/**
The batches are windows over the corpus. `make_windows` finds, for every
position, where its sentence started (the token after the last "."), so
that a window never reaches back into the previous sentence; the rest of
the window is padding.
*/

typedef struct Windows {
    int64_t n, T;       // n windows of T tokens
    int64_t *tokens;    // (n, T), left-padded
    int64_t *lengths;   // (n,)
    int64_t *targets;   // (n,) the token after each window
} Windows;

static int make_windows(const Corpus *c, int64_t T, int64_t pad, Windows *w, EmbError *err) {
    int64_t end = -1;  // the id of "." (none in a text file: one long sentence)
    for (int64_t k = 0; k < c->vocab_size; k++) if (strcmp(c->words[k], ".") == 0) end = k;
    int64_t n = c->n_tokens - 1;
    *w = (Windows){.n = n, .T = T, .tokens = malloc((size_t)(n * T) * sizeof(int64_t)),
                   .lengths = malloc((size_t)n * sizeof(int64_t)),
                   .targets = malloc((size_t)n * sizeof(int64_t))};
    if (!w->tokens || !w->lengths || !w->targets) return emb_fail(err, "out of memory for %lld windows", (long long)n);
    int64_t start = 0;  // where the current sentence started
    for (int64_t p = 0; p < n; p++) {
        if (p > 0 && c->tokens[p - 1] == end) start = p;
        int64_t len = p - start + 1 < T ? p - start + 1 : T;
        int64_t *win = w->tokens + p * T;  // window p
        for (int64_t t = 0; t < T - len; t++) win[t] = pad;
        for (int64_t t = 0; t < len; t++) win[T - len + t] = c->tokens[p - len + 1 + t];
        w->lengths[p] = len;
        w->targets[p] = c->tokens[p + 1];
    }
    return 0;
}

static void windows_free(Windows *w) {
    free(w->tokens);
    free(w->lengths);
    free(w->targets);
}

/**
The six runs, as data: where each table comes from and which options it
has.
*/

typedef enum TableSource { FRESH, RANDOM_COPY, PRETRAINED } TableSource;

static const struct RunSpec {
    const char *name;
    TableSource source;       // nn.Embedding, from_pretrained(random rows), from_pretrained(ch. 2)
    bool freeze;              // from_pretrained(..., freeze=True)
    bool max_norm;            // use --max-norm
    bool scale_grad_by_freq;
} RUNS[] = {
    {"trainable", FRESH, false, false, false},
    {"max_norm", FRESH, false, true, false},
    {"scale_grad_by_freq", FRESH, false, false, true},
    {"frozen-random", RANDOM_COPY, true, false, false},
    {"frozen-pretrained", PRETRAINED, true, false, false},
    {"fine-tuned", PRETRAINED, false, false, false},
};
enum { N_RUNS = sizeof RUNS / sizeof RUNS[0], TRAINABLE = 0, MAX_NORM = 1 };

/**
One training run records its loss at every step, the norms of the rows,
and (for the first run) snapshots of the table for the trajectory figure.
Every run draws its batches from a generator seeded the same way, so all
six see the same windows in the same order.
*/

enum { N_SNAPSHOTS = 40 };

typedef struct Run {
    const char *name;
    double *loss;        // (steps,)
    double *mean_norm;   // (steps + 1,) mean 2-norm of the word rows
    double *max_norm;    // (steps + 1,) largest 2-norm of the word rows
    Snapshots *snaps;    // the table at evenly spaced steps, or NULL
    double final_loss;   // mean loss over every window of the corpus
    bool pad_unchanged;  // the padding row ended bit for bit as it started
    bool table_unchanged;  // ... and the whole table
    int64_t renormed_first;  // rows the first forward pass rescaled
} Run;

static void record_norms(const Embedding *e, int64_t pad, Run *run, int64_t step) {
    double sum = 0.0, mx = 0.0;
    int64_t rows = 0;
    for (int64_t k = 0; k < e->num_embeddings; k++) {
        if (k == pad) continue;
        double nk = emb_row_norm(e->weight + k * e->embedding_dim, e->embedding_dim, 2.0);
        sum += nk;
        mx = fmax(mx, nk);
        rows++;
    }
    run->mean_norm[step] = sum / (double)rows;
    run->max_norm[step] = mx;
}

static int eval_loss(ContextModel *m, const Windows *w, double *out, EmbError *err) {
    double total = 0.0;
    for (int64_t s = 0; s < w->n; s += m->max_batch) {
        int64_t B = w->n - s < m->max_batch ? w->n - s : m->max_batch;
        double loss;
        if (cm_forward(m, w->tokens + s * w->T, w->lengths + s, w->targets + s, B, &loss, err) != 0) return -1;
        total += loss * (double)B;
    }
    *out = total / (double)w->n;
    return 0;
}

// Trains m (which owns its table) and fills run. pad is the filler row.
static int train(const Options *opt, const Windows *w, int64_t pad, ContextModel *m, Run *run,
                 EmbError *err) {
    TorchGenerator batches;
    int64_t B = opt->batch, T = opt->context, V = m->emb.num_embeddings, D = m->emb.embedding_dim;
    int64_t *win = malloc((size_t)(B * T) * sizeof *win), *len = malloc((size_t)B * sizeof *len),
            *tgt = malloc((size_t)B * sizeof *tgt);
    float *before = malloc((size_t)(V * D) * sizeof(float));
    int rc = -1;
    if (!win || !len || !tgt || !before) { emb_fail(err, "out of memory for a batch"); goto done; }
    memcpy(before, m->emb.weight, (size_t)(V * D) * sizeof(float));
    rng_manual_seed(&batches, opt->seed + 1);
    record_norms(&m->emb, pad, run, 0);
    for (int64_t step = 0; step <= opt->steps; step++) {
        if (run->snaps) snapshots_take(run->snaps, step, m->emb.weight);
        if (step == opt->steps) break;
        for (int64_t b = 0; b < B; b++) {  // B random windows
            int64_t p = (int64_t)(rng_uniform_double(&batches) * (double)w->n);
            memcpy(win + b * T, w->tokens + p * T, (size_t)T * sizeof *win);
            len[b] = w->lengths[p];
            tgt[b] = w->targets[p];
        }
        if (step == 0 && m->emb.max_norm != EMB_NO_MAX_NORM) {
            // Count what the first forward pass will rescale: renormalise the
            // real table, then put it back from a copy.
            float *copy = malloc((size_t)(V * D) * sizeof(float));
            if (!copy) { emb_fail(err, "out of memory"); goto done; }
            memcpy(copy, m->emb.weight, (size_t)(V * D) * sizeof(float));
            run->renormed_first = emb_renorm_(&m->emb, win, B * T, NULL);
            memcpy(m->emb.weight, copy, (size_t)(V * D) * sizeof(float));
            free(copy);
        }
        cm_zero_grad(m);
        if (cm_forward(m, win, len, tgt, B, &run->loss[step], err) != 0 ||
            cm_backward(m, win, len, B, err) != 0) goto done;
        cm_sgd_step(m, (float)opt->lr);
        record_norms(&m->emb, pad, run, step + 1);
    }
    run->pad_unchanged = memcmp(before + pad * D, m->emb.weight + pad * D, (size_t)D * sizeof(float)) == 0;
    run->table_unchanged = memcmp(before, m->emb.weight, (size_t)(V * D) * sizeof(float)) == 0;
    rc = eval_loss(m, w, &run->final_loss, err);
done:
    free(win); free(len); free(tgt); free(before);
    return rc;
}

/**
The pre-trained table: chapter 2's model, trained with chapter 2's loop
(sample, zero, forward, backward, step) on the same corpus. Its $V$ rows
are copied into a $(V+1) \times D$ buffer whose last row, the padding row,
we set to zero ourselves, since `from_pretrained` will not.
*/

static float *pretrain(const Options *opt, const Corpus *c, EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    int64_t V = c->vocab_size, D = opt->dim, B = opt->batch;
    rng_manual_seed(&gen, opt->seed);
    if (ntm_init(&m, V, D, B, &gen, err) != 0) return NULL;
    int64_t *in = malloc((size_t)B * sizeof *in), *tgt = malloc((size_t)B * sizeof *tgt);
    float *table = calloc((size_t)((V + 1) * D), sizeof(float));  // (V + 1, D), row V stays 0
    bool ok = in && tgt && table;
    if (!ok) emb_fail(err, "out of memory pre-training");
    for (int64_t step = 0; ok && step < opt->pretrain_steps; step++) {
        double loss;
        ntm_sample_batch(&gen, c->tokens, c->n_tokens, B, in, tgt);
        ntm_zero_grad(&m);
        ok = ntm_forward(&m, in, tgt, B, &loss, err) == 0 && ntm_backward(&m, in, B, err) == 0;
        ntm_sgd_step(&m, (float)opt->lr);
    }
    if (ok) memcpy(table, m.emb.weight, (size_t)(V * D) * sizeof(float));
    free(in);
    free(tgt);
    ntm_free(&m);
    if (!ok) {
        free(table);
        return NULL;
    }
    return table;
}

/**
The output files: `loss.tsv` (a moving average over 100 steps of each
run's batch loss), `norms.tsv` (mean and largest row norm of the
`trainable` and `max_norm` runs), and `trajectory.tsv` with
`categories.tsv` for the `trainable` run's table, in chapter 2's format.
*/

enum { SMOOTH = 100 };

static int write_outputs(const Options *opt, const Corpus *c, const Run *runs, int n_runs,
                         int64_t pad, EmbError *err) {
    OutFile of;
    if (outfile_open(&of, opt->out, "loss.tsv", err) != 0) return -1;
    fprintf(of.f, "step");
    for (int r = 0; r < n_runs; r++) fprintf(of.f, "\t%s", runs[r].name);
    fprintf(of.f, "\n");
    double sums[16] = {0};  // n_runs <= 16
    for (int64_t s = 0; s < opt->steps; s++) {
        fprintf(of.f, "%lld", (long long)s + 1);
        for (int r = 0; r < n_runs; r++) {
            sums[r] += runs[r].loss[s] - (s >= SMOOTH ? runs[r].loss[s - SMOOTH] : 0.0);
            fprintf(of.f, "\t%.6f", sums[r] / (double)(s + 1 < SMOOTH ? s + 1 : SMOOTH));
        }
        fprintf(of.f, "\n");
    }
    if (outfile_commit(&of, err) != 0) return -1;
    if (outfile_open(&of, opt->out, "norms.tsv", err) != 0) return -1;
    fprintf(of.f, "step\tmean_norm\tmax_norm\tmean_norm_with_max_norm\tmax_norm_with_max_norm\tlimit\n");
    for (int64_t s = 0; s <= opt->steps; s++) {
        fprintf(of.f, "%lld\t%.6f\t%.6f\t%.6f\t%.6f\t%g\n", (long long)s, runs[TRAINABLE].mean_norm[s],
                runs[TRAINABLE].max_norm[s], runs[MAX_NORM].mean_norm[s], runs[MAX_NORM].max_norm[s],
                opt->emb.max_norm);
    }
    if (outfile_commit(&of, err) != 0) return -1;
    // The rows are the words and then <pad>; the padding row is a category of its own.
    int64_t V = c->vocab_size + 1;
    const char **words = malloc((size_t)V * sizeof *words);
    const char **names = malloc(((size_t)c->n_categories + 1) * sizeof *names);
    int *category = malloc((size_t)V * sizeof *category);
    int rc = -1;
    if (!words || !names || !category) {
        emb_fail(err, "out of memory for %lld labels", (long long)V);
    } else {
        for (int64_t k = 0; k < V; k++) {
            words[k] = k == c->vocab_size ? "<pad>" : c->words[k];
            category[k] = k == pad ? c->n_categories : (k < c->vocab_size ? c->category[k] : -1);
        }
        for (int g = 0; g < c->n_categories; g++) names[g] = c->category_names[g];
        names[c->n_categories] = "padding";
        RowLabels labels = {words, category, names, c->n_categories + 1};
        rc = snapshots_write(runs[TRAINABLE].snaps, opt->out, &labels, false, err);
    }
    free(words);
    free(names);
    free(category);
    return rc;
}

/**
`make_table` builds each run's table from its specification. Every table
starts from the same generator state, so the first three runs start from
the same rows, and `frozen-random` from the same rows frozen.
*/

// Builds run spec's table in e; a from_pretrained table uses *own as its weight.
static int make_table(const Options *opt, const struct RunSpec *spec, int64_t V,
                      const float *pretrained, float **own, Embedding *e, EmbError *err) {
    TorchGenerator gen;
    EmbeddingOptions eo = opt->emb;
    eo.has_max_norm = spec->max_norm;
    eo.scale_grad_by_freq = spec->scale_grad_by_freq;
    rng_manual_seed(&gen, opt->seed);
    if (spec->source == FRESH) return emb_init_with_options(e, V, opt->dim, &eo, &gen, err);
    int64_t n = V * opt->dim;
    *own = malloc((size_t)n * sizeof(float));  // from_pretrained shares this buffer
    if (!*own) return emb_fail(err, "out of memory for a %lld x %lld table", (long long)V, (long long)opt->dim);
    if (spec->source == RANDOM_COPY) {  // a random table, as nn.Embedding would draw it
        Embedding tmp;
        if (emb_init_with_options(&tmp, V, opt->dim, &eo, &gen, err) != 0) return -1;
        memcpy(*own, tmp.weight, (size_t)n * sizeof(float));
        emb_free(&tmp);
    } else {
        memcpy(*own, pretrained, (size_t)n * sizeof(float));
    }
    return emb_from_pretrained(e, *own, V, opt->dim, spec->freeze, &eo, err);
}

static int run_chapter(const Options *opt, EmbError *err) {
    Corpus c = {0};
    Windows w = {0};
    Run runs[N_RUNS] = {{0}};
    float *pretrained = NULL, *own[N_RUNS] = {0};
    Snapshots snaps = {0};
    int rc = -1;
    if (opt->corpus ? corpus_from_file(&c, opt->corpus, opt->vocab, err)
                    : corpus_builtin(&c, opt->seed, opt->sentences, err)) goto done;
    int64_t V = c.vocab_size + 1, D = opt->dim;  // the words, then <pad>
    Embedding probe = {.num_embeddings = V, .embedding_dim = D};
    if (emb_set_options(&probe, &opt->emb, err) != 0) goto done;
    int64_t pad = probe.padding_idx == EMB_NO_PADDING ? V - 1 : probe.padding_idx;
    if (opt->batch > c.n_tokens - 1) {
        emb_fail(err, "--batch %lld is larger than the corpus, which has %lld windows",
                 (long long)opt->batch, (long long)(c.n_tokens - 1));
        goto done;
    }
    if (make_windows(&c, opt->context, pad, &w, err) != 0) goto done;
    printf("corpus: %lld tokens, %lld words + <pad> = %lld rows; windows of %lld, padding row %lld%s\n",
           (long long)c.n_tokens, (long long)c.vocab_size, (long long)V, (long long)opt->context,
           (long long)pad, probe.padding_idx == EMB_NO_PADDING ? " (padding_idx=None: it is trained)" : "");
    printf("unigram entropy (baseline): %.4f nats\n", corpus_unigram_entropy(&c));
    if (!(pretrained = pretrain(opt, &c, err))) goto done;
    printf("pre-trained table: chapter 2's model, %lld steps\n\n", (long long)opt->pretrain_steps);

    printf("%-20s %12s  %s\n", "run", "final loss", "notes");
    for (int r = 0; r < N_RUNS; r++) {
        Embedding table;
        ContextModel m;
        TorchGenerator gen;
        Run *run = &runs[r];
        run->name = RUNS[r].name;
        run->loss = calloc((size_t)opt->steps, sizeof(double));
        run->mean_norm = calloc((size_t)opt->steps + 1, sizeof(double));
        run->max_norm = calloc((size_t)opt->steps + 1, sizeof(double));
        if (r == TRAINABLE) {
            if (snapshots_init(&snaps, V, D, N_SNAPSHOTS, opt->steps, err) != 0) goto done;
            run->snaps = &snaps;
        }
        if (!run->loss || !run->mean_norm || !run->max_norm) {
            emb_fail(err, "out of memory for %lld steps", (long long)opt->steps);
            goto done;
        }
        if (make_table(opt, &RUNS[r], V, pretrained, &own[r], &table, err) != 0) goto done;
        rng_manual_seed(&gen, opt->seed + 2);  // the projection: the same in every run
        if (cm_init(&m, &table, c.vocab_size, opt->batch, opt->context, &gen, err) != 0) {
            emb_free(&table);
            goto done;
        }
        int trained = train(opt, &w, pad, &m, run, err);
        cm_free(&m);
        if (trained != 0) goto done;
        printf("%-20s %12.4f  padding row %s", run->name, run->final_loss,
               run->pad_unchanged ? "unchanged" : "MOVED");
        if (RUNS[r].max_norm) printf("; the first forward pass rescaled %lld rows", (long long)run->renormed_first);
        if (RUNS[r].freeze) printf("; table %s", run->table_unchanged ? "unchanged (frozen)" : "CHANGED");
        printf("\n");
    }
    printf("\n");
    if (write_outputs(opt, &c, runs, N_RUNS, pad, err) != 0) goto done;
    printf("wrote %s/loss.tsv, norms.tsv, trajectory.tsv, categories.tsv\n", opt->out);
    rc = 0;
done:
    for (int r = 0; r < N_RUNS; r++) {
        free(runs[r].loss); free(runs[r].mean_norm); free(runs[r].max_norm);
        free(own[r]);
    }
    snapshots_free(&snaps);
    free(pretrained);
    windows_free(&w);
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
        fprintf(stderr, "ch03: %s\n", err.msg);
        return 1;
    }
    return 0;
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter3` runs the six trainings with $D = 2$, windows of 3 words,
2000 steps each, and prints a table like this one (final loss over every
window of the corpus, in nats; the unigram baseline is 3.00):

| run | final loss | notes |
|---|---|---|
| `trainable` | 1.58 | padding row unchanged |
| `max_norm` | 1.88 | the first forward pass rescaled 13 rows |
| `scale_grad_by_freq` | 1.73 | |
| `frozen-random` | 2.91 | table unchanged |
| `frozen-pretrained` | 2.09 | table unchanged |
| `fine-tuned` | 1.54 | |

![The `trainable` run's table: every row moves except the padding row, which stays at the origin.](fig-trajectories.png)

In the trajectories, every word moves into its category's group as in
chapter 2, while `<pad>` sits at the origin from the first step to the
last: `padding_idx` gave it a zero gradient at every step, and the tests
check that it ends bit for bit zero. Run `build/bin/ch03 --padding-idx
none` to see the other case: the filler is then an ordinary random row
(nothing zeroes it) that also learns, so every short window's mean is
wrong from the first step. The program reports `padding row MOVED`.

![Row norms during training, without and with `max_norm`.](fig-norms.png)

Without `max_norm` the rows keep growing: the mean norm nearly triples
and the largest passes 8, because the loss keeps rewarding more confident
predictions. With `max_norm=1` the mean stays close to 1 (between 0.8
and 1.01). The largest norm falls from 2.2 to about 1.6 within 200 steps
and stays there, above the limit, and that is not a bug: it is the
`<unk>` row, which the corpus never uses, so no forward pass ever looks
it up and renormalises it (and it pulls the mean slightly above 1). The price of the constraint is a higher
loss (1.88 against 1.58): short rows make for less confident predictions.
The very first forward pass rescales 13 rows before any training has
happened, because $\mathcal{N}(0, I_2)$ rows have a norm above 1 more than
half of the time.

![Loss of the six runs (moving average of 100 steps).](fig-loss.png)

The loss curves compare the ways to start a table. A frozen *random*
table leaves only the projection to learn, and it barely beats the
baseline: random rows separate the words but cannot group them. A frozen
*pre-trained* table, trained by chapter 2 to predict the next word from a
single word, starts much better and learns fast, but it stops at 2.09: the
geometry that was right for chapter 2's task is not quite right for
averaging three words. Fine-tuning it gets the best of both: the fastest
start and the lowest loss. `scale_grad_by_freq` learns more slowly here,
because it shrinks the steps of the frequent words ("the", "a", ".") that
carry most of the loss.

## What PyTorch does, and where the traps are

* `padding_idx` only blocks the lookup's gradient. The forward pass returns
  whatever the row holds, and anything else that changes the row still
  changes it: `max_norm` (for a row that is not zero), weight decay on a
  padding row that is not zero (chapter 4), and the output layer's
  gradient when the table is tied to the output layer (chapter 5). A zero
  padding row of an untied table stays zero under every optimizer.
* `from_pretrained` shares your tensor, freezes by default, and does not
  zero the padding row: pass a tensor whose padding row is already zero.
* `max_norm` mutates the weight during the forward pass, even under
  `torch.no_grad()` and in `eval()` mode, and only for the distinct rows
  looked up (the padding row included). If you use the weight
  differentiably *before* such a forward pass (with weight tying,
  chapter 5, that is easy to do), PyTorch's autograd notices the in-place
  change at backward time and raises `one of the variables needed for
  gradient computation has been modified by an inplace operation`; its
  documentation suggests `weight.clone()` for the other use.
* `scale_grad_by_freq` counts over the whole index tensor of *one*
  forward call (all sequences of the batch together), not over the
  corpus, and it cannot be used with `sparse=True`.
* PyTorch's module and `F.embedding` normalise a negative
  `padding_idx`, but the raw `torch.embedding` op uses $-1$ to mean "no
  padding". Our tables store the normalised index and `EMB_NO_PADDING`
  separately, so that ambiguity cannot arise.
* Where we differ: we reject a negative `max_norm` and a negative or NaN
  `norm_type`, which PyTorch accepts (a negative `max_norm` flips the sign
  of every row it looks up, as above).

## Summary

* Variable-length sequences are padded to a rectangle with a filler
  token; `padding_idx` makes its row start at zero and get no gradient, so
  that the plain sum over all $T$ positions divided by the real length is
  the correct mean.
  Negative values count from the end; out-of-range values are an error.
* `max_norm` rescales, in place and before the lookup, every distinct
  looked-up row whose `norm_type`-norm exceeds it, by
  $\text{max\_norm} / (\lVert W_k \rVert + 10^{-7})$; no gradient flows
  through the rescaling.
* `scale_grad_by_freq` divides each row's gradient by how often the row
  occurs in that call's indices.
* `from_pretrained` uses the given tensor as the weight (no copy, no
  padding zeroing); `freeze=True` makes the embeddings static.
* A frozen random table barely learns anything; a frozen pre-trained one
  starts well but stops early; fine-tuning does best here.

## Exercises

1. Predict, then check with `emb_renorm_`: which rows of
   $[[3, 4], [0.6, 0.8], [0, 0]]$ does `max_norm=1` change, and to what?
   What if `norm_type` is `inf`?
2. Run `build/bin/ch03 --padding-idx none` and compare the final losses
   with the default run. Why is the damage small here, and when would it
   be large? (Hint: how many windows contain padding?)
3. Set `--max-norm 0.5` and `--max-norm 3`. How do the loss and the norms
   figure change?
4. Change `make_table` so that the `fine-tuned` run's padding row is
   taken from chapter 2's table (`<unk>`'s row) instead of zeros. What
   does `padding_idx` then guarantee, and what does it not?
5. Write `emb_renorm_` yourself from the formula (the lab notebook for
   this chapter grades it with this chapter's tests).
6. With `scale_grad_by_freq`, a word that occurs 10 times in a batch gets
   one tenth of the summed gradient. Work out what that means for the
   effective learning rate of frequent and rare words, and relate it to
   Adagrad, which chapter 4 builds: it divides each value's step by the
   root of the sum of its squared gradients so far.
*/
