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

#include "../src/snapshots.h"

/**
## The options

PyTorch takes the options as keyword arguments with `None` for "off". C
has no `None`, so `EmbeddingOptions` pairs each optional value with a
flag, and `emb_default_options` gives PyTorch's defaults.
*/

EmbeddingOptions emb_default_options(void) {
    return (EmbeddingOptions){.has_padding_idx = false,
                              .padding_idx = 0,
                              .has_max_norm = false,
                              .max_norm = 0.0,
                              .norm_type = 2.0,
                              .scale_grad_by_freq = false};
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
            return emb_fail(err, "Padding_idx must be within num_embeddings: padding_idx "
                            "%lld, num_embeddings %lld (valid: %lld to %lld)",
                            (long long)opt->padding_idx, (long long)V, (long long)-V,
                            (long long)V - 1);
        }
        padding_idx = opt->padding_idx < 0 ? V + opt->padding_idx : opt->padding_idx;
    }
    if (opt->has_max_norm && !(opt->max_norm >= 0.0 && isfinite(opt->max_norm))) {
        return emb_fail(err, "max_norm must be a finite number >= 0, got %g",
                        opt->max_norm);
    }
    if (!(opt->norm_type >= 0.0)) {  // also false for NaN
        return emb_fail(err, "norm_type must be a number >= 0 or inf, got %g",
                        opt->norm_type);
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
    if (V >= 1 && emb_set_options(&probe, opt, err) != 0) return -1;  // before drawing
    if (emb_init(e, V, D, gen, err) != 0) return -1;
    emb_set_options(e, opt, NULL);
    if (e->padding_idx != EMB_NO_PADDING) {
        memset(e->weight + e->padding_idx * D, 0,
               (size_t)D * sizeof(float));  // row padding_idx
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
        return emb_fail(err, "Embeddings parameter is expected to be 2-dimensional with "
                        "positive sizes, got (%lld, %lld)", (long long)V, (long long)D);
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

For $p = 2$, the usual case, the order of the sum matters to the last
bit, and PyTorch's is not a plain loop. Its CPU kernel keeps eight
running sums, one per lane of a 256-bit vector, each updated with a
fused multiply-add; it adds the eight lanes left to right; then it adds
the elements left over, four at a time as rounded squares and the last
one to three with fused multiply-adds. `row_sumsq_2` does the same sums
in the same order, so the norm, and with it every rescaled row, matches
PyTorch's bits on any machine.
*/

// The sum of squares as torch 1.13's 2-norm kernel forms it (AVX2).
static float row_sumsq_2(const float *row, int64_t D) {
    float lane[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= D; j += 8)  // one vector: acc = fma(x, x, acc) per lane
        for (int k = 0; k < 8; k++) lane[k] = fmaf(row[j + k], row[j + k], lane[k]);
    float acc = lane[0];
    for (int k = 1; k < 8; k++) acc += lane[k];  // the lanes, left to right
    for (; j + 4 <= D; j += 4)                   // the rest, four at a time
        for (int k = 0; k < 4; k++) acc += row[j + k] * row[j + k];
    for (; j < D; j++) acc = fmaf(row[j], row[j], acc);  // the last one to three
    return acc;
}

double emb_row_norm(const float *row, int64_t D, double p) {
    float acc = 0.0f;
    if (p == 0.0) {
        for (int64_t j = 0; j < D; j++) acc += (row[j] != 0.0f);
    } else if (isinf(p)) {
        for (int64_t j = 0; j < D; j++) acc = fmaxf(acc, fabsf(row[j]));
    } else if (p == 1.0) {
        for (int64_t j = 0; j < D; j++) acc += fabsf(row[j]);
    } else if (p == 2.0) {
        acc = sqrtf(row_sumsq_2(row, D));
    } else {
        for (int64_t j = 0; j < D; j++) acc += powf(fabsf(row[j]), (float)p);
        acc = powf(acc, (float)(1.0 / p));
    }
    return (double)acc;
}

int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    unsigned char *seen = calloc((size_t)e->num_embeddings, 1);
    if (!seen) {
        return emb_fail(err, "out of memory renormalising %lld rows", (long long)n);
    }
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
  where `acc` is the row's sum in this call's own gradient, and so do we.

As in chapter 2, each call sums its rows from zero (`GradSums`): in
place in a row that is still cleared, apart and then added in a row that
holds an old gradient. A frozen table needs no gradient at all.
*/

// extends: emb_backward
int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err) {
    if (!e->requires_grad) return emb_check_indices(e, idx, n, err);
    if (emb_check_indices(e, idx, n, err) != 0 || emb_alloc_grad(e, err) != 0) return -1;
    int64_t V = e->num_embeddings, D = e->embedding_dim;
    int64_t *counts = NULL;  // (V,): how often each row occurs in this call
    if (e->scale_grad_by_freq) {
        counts = calloc((size_t)V + 1, sizeof *counts);
        if (!counts)
            return emb_fail(err, "out of memory counting %lld rows", (long long)V);
        for (int64_t i = 0; i < n; i++) counts[idx[i]]++;
    }
    GradSums s;
    if (emb_grad_sums_begin(e, n, &s, err) != 0) return free(counts), -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx[i];
        if (k == e->padding_idx) continue;         // the padding row learns nothing
        float *s_k = emb_grad_sums_row(e, &s, k);  // where row k's sum grows
        if (!s_k) {
            free(counts);
            emb_grad_sums_end(e, &s, idx, i, -1);
            return emb_fail(err, "out of memory for a backward pass of %lld rows",
                            (long long)n);
        }
        const float *g_i = grad_out + i * D;  // row i of the upstream gradient
        if (counts) {
            float scale = (float)(1.0 / (double)counts[k]);
            for (int64_t d = 0; d < D; d++) s_k[d] = fmaf(g_i[d], scale, s_k[d]);
        } else {
            for (int64_t d = 0; d < D; d++) s_k[d] += g_i[d];
        }
    }
    free(counts);
    return emb_grad_sums_end(e, &s, idx, n, 0);
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

// extends: ntm_init
int cm_init(ContextModel *m, Embedding *table, int64_t n_classes, int64_t max_batch,
             int64_t context, TorchGenerator *gen, EmbError *err) {
    memset(m, 0, sizeof *m);
    int64_t D = table->embedding_dim, bt, btd, bd, bc;
    if (max_batch < 1 || context < 1 || emb_mul_size(max_batch, context, &bt) != 0 ||
        emb_mul_size(bt, D, &btd) != 0 || emb_mul_size(max_batch, D, &bd) != 0 ||
        emb_mul_size(max_batch, n_classes, &bc) != 0 || emb_weight_bytes(btd, 1) < 0 ||
        emb_weight_bytes(bc, 1) < 0) {
        return emb_fail(err, "batch %lld x context %lld: sizes must be positive and "
                        "addressable", (long long)max_batch, (long long)context);
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
        return emb_fail(err, "cannot allocate scratch space for a batch of %lld",
                        (long long)max_batch);
    }
    return 0;
}

// extends: ntm_free
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

// extends: ntm_forward
int cm_forward(ContextModel *m, const int64_t *windows, const int64_t *lengths,
                const int64_t *targets, int64_t B, double *loss, EmbError *err) {
    int64_t T = m->context, D = m->emb.embedding_dim, C = m->proj.out_features;
    if (B < 1 || B > m->max_batch) {
        return emb_fail(err, "batch of %lld: expected 1 to %lld windows", (long long)B,
                        (long long)m->max_batch);
    }
    for (int64_t b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T) {
            return emb_fail(err, "window %lld has length %lld: expected 1 to %lld",
                            (long long)b, (long long)lengths[b], (long long)T);
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

// extends: ntm_backward
int cm_backward(ContextModel *m, const int64_t *windows, const int64_t *lengths,
                int64_t B, EmbError *err) {
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

// extends: ntm_zero_grad
void cm_zero_grad(ContextModel *m) {
    emb_zero_grad(&m->emb);
    linear_zero_grad(&m->proj);
}

// extends: ntm_sgd_step
void cm_sgd_step(ContextModel *m, float lr) {
    if (m->emb.requires_grad && m->emb.grad) {
        sgd_step(m->emb.weight, m->emb.grad, m->emb.num_embeddings * m->emb.embedding_dim,
                 lr);
    }
    linear_sgd_step(&m->proj, lr);
}

/**
## Padded windows

The model reads windows of $T$ tokens. `windows_make` builds one window
per position of the corpus: the tokens up to and including that position,
but never reaching back past the start of the sentence (the token after
the last `end`, "."), left-padded with the padding row to $T$ tokens. The
target of each window is the token that comes next.
*/

int windows_make(const int64_t *tokens, int64_t n_tokens, int64_t end, int64_t T,
                 int64_t pad, Windows *w, EmbError *err) {
    int64_t n = n_tokens - 1, nT;  // every position with a next token
    memset(w, 0, sizeof *w);
    if (n < 1 || T < 1 || emb_mul_size(n, T, &nT) != 0 || emb_weight_bytes(nT, 2) < 0) {
        return emb_fail(err, "cannot make windows of %lld over %lld tokens", (long long)T,
                        (long long)n_tokens);
    }
    *w = (Windows){.n = n, .T = T, .tokens = malloc((size_t)nT * sizeof(int64_t)),
                   .lengths = malloc((size_t)n * sizeof(int64_t)),
                   .targets = malloc((size_t)n * sizeof(int64_t))};
    if (!w->tokens || !w->lengths || !w->targets) {
        windows_free(w);
        return emb_fail(err, "out of memory for %lld windows", (long long)n);
    }
    int64_t start = 0;  // where the current sentence started
    for (int64_t p = 0; p < n; p++) {
        if (p > 0 && tokens[p - 1] == end) start = p;
        int64_t len = p - start + 1 < T ? p - start + 1 : T;
        int64_t *win = w->tokens + p * T;  // seek to window p
        for (int64_t t = 0; t < T - len; t++) win[t] = pad;
        for (int64_t t = 0; t < len; t++) win[T - len + t] = tokens[p - len + 1 + t];
        w->lengths[p] = len;
        w->targets[p] = tokens[p + 1];
    }
    return 0;
}

// extends: ntm_sample_batch
void windows_sample(const Windows *w, TorchGenerator *gen, int64_t B, int64_t *windows,
                    int64_t *lengths, int64_t *targets) {
    for (int64_t b = 0; b < B; b++) {  // B windows drawn uniformly
        int64_t p = (int64_t)(rng_uniform_double(gen) * (double)w->n);
        memcpy(windows + b * w->T, w->tokens + p * w->T, (size_t)w->T * sizeof *windows);
        lengths[b] = w->lengths[p];
        targets[b] = w->targets[p];
    }
}

void windows_free(Windows *w) {
    free(w->tokens);
    free(w->lengths);
    free(w->targets);
    memset(w, 0, sizeof *w);
}

/**
`cm_eval_loss` is chapter 2's `ntm_eval_loss` for windows.
*/

// The mean loss over every window, in batches of the model's max_batch.
// extends: ntm_eval_loss
int cm_eval_loss(ContextModel *m, const Windows *w, double *out, EmbError *err) {
    double total = 0.0;
    for (int64_t s = 0; s < w->n; s += m->max_batch) {
        int64_t B = w->n - s < m->max_batch ? w->n - s : m->max_batch;
        double loss = 0.0;
        if (cm_forward(m, w->tokens + s * w->T, w->lengths + s, w->targets + s, B, &loss,
                       err) != 0) return -1;
        total += loss * (double)B;
    }
    *out = total / (double)w->n;
    return 0;
}

/**
Two measurements for the program. `emb_count_renorm` counts the rows a
forward pass *would* rescale, by the same test as `emb_renorm_`, without
changing any of them. `emb_norm_stats` gives the mean and the largest
2-norm of the table's rows, leaving one row (the padding row) out.
*/

int64_t emb_count_renorm(const Embedding *e, const int64_t *idx, int64_t n,
                         EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (e->max_norm == EMB_NO_MAX_NORM) return 0;
    unsigned char *seen = calloc((size_t)e->num_embeddings, 1);
    if (!seen) return emb_fail(err, "out of memory counting %lld rows", (long long)n);
    int64_t D = e->embedding_dim, too_long = 0;
    for (int64_t i = 0; i < n; i++) {
        if (seen[idx[i]]) continue;  // each distinct row once
        seen[idx[i]] = 1;
        too_long += emb_row_norm(e->weight + idx[i] * D, D, e->norm_type) > e->max_norm;
    }
    free(seen);
    return too_long;
}

void emb_norm_stats(const Embedding *e, int64_t skip, double *mean, double *max) {
    double sum = 0.0, mx = 0.0;
    int64_t rows = 0, D = e->embedding_dim;
    for (int64_t k = 0; k < e->num_embeddings; k++) {
        if (k == skip) continue;
        double nk = emb_row_norm(e->weight + k * D, D, 2.0);  // row k's 2-norm
        sum += nk;
        mx = fmax(mx, nk);
        rows++;
    }
    *mean = rows ? sum / (double)rows : 0.0;
    *max = mx;
}

/**
## The training loop

`cm_train` is chapter 2's loop for the context model: sample windows, zero
the gradients, forward, backward, step. It records the loss at every step,
the mean and largest norm of the rows before and after every step, and
optionally snapshots of the table; it counts the rows the first forward
pass rescales, checks at the end whether the padding row (and the whole
table) are bit for bit what they were, and measures the final loss over
every window.
*/

// Fills the norms of step s and the snapshot due at s.
static void cm_record(const ContextModel *m, int64_t pad, int64_t s, CmTrainLog *log) {
    if (log->snaps) snapshots_take(log->snaps, s, m->emb.weight);
    emb_norm_stats(&m->emb, pad, &log->mean_norm[s], &log->max_norm[s]);
}

// extends: ntm_train
int cm_train(ContextModel *m, const Windows *w, TorchGenerator *gen,
             const NtmTrainConfig *cfg, int64_t pad, CmTrainLog *log, EmbError *err) {
    int64_t B = cfg->batch, T = w->T, D = m->emb.embedding_dim,
            VD = m->emb.num_embeddings * D;
    int64_t *win = malloc((size_t)(B * T) * sizeof *win),
            *len = malloc((size_t)B * sizeof *len),
            *tgt = malloc((size_t)B * sizeof *tgt);  // (B, T), (B,), (B,)
    float *before = malloc((size_t)VD * sizeof(float));  // the table before training
    int rc = -1;
    if (!win || !len || !tgt || !before) {
        emb_fail(err, "out of memory for a batch");
        goto done;
    }
    memcpy(before, m->emb.weight, (size_t)VD * sizeof(float));
    for (int64_t step = 0; step < cfg->steps; step++) {
        if (step == 0) cm_record(m, pad, 0, log);
        windows_sample(w, gen, B, win, len, tgt);
        if (step == 0) log->renormed_first = emb_count_renorm(&m->emb, win, B * T, NULL);
        cm_zero_grad(m);
        if (cm_forward(m, win, len, tgt, B, &log->loss[step], err) != 0 ||
            loss_check_finite(step + 1, log->loss[step], cfg->lr, err) != 0 ||
            cm_backward(m, win, len, B, err) != 0) goto done;
        cm_sgd_step(m, (float)cfg->lr);
        cm_record(m, pad, step + 1, log);
    }
    log->pad_unchanged = memcmp(before + pad * D, m->emb.weight + pad * D,
                                (size_t)D * sizeof(float)) == 0;
    log->table_unchanged = memcmp(before, m->emb.weight, (size_t)VD * sizeof(float)) == 0;
    rc = cm_eval_loss(m, w, &log->final_loss, err);
done:
    free(win), free(len), free(tgt), free(before);
    return rc;
}

int cm_log_init(CmTrainLog *log, int64_t steps, struct Snapshots *snaps, EmbError *err) {
    *log = (CmTrainLog){.snaps = snaps, .loss = calloc((size_t)steps, sizeof(double)),
                        .mean_norm = calloc((size_t)steps + 1, sizeof(double)),
                        .max_norm = calloc((size_t)steps + 1, sizeof(double))};
    if (log->loss && log->mean_norm && log->max_norm) return 0;
    cm_log_free(log);
    return emb_fail(err, "out of memory for a log of %lld steps", (long long)steps);
}

void cm_log_free(CmTrainLog *log) {
    free(log->loss);
    free(log->mean_norm);
    free(log->max_norm);
    memset(log, 0, sizeof *log);
}

/**
## Where a table comes from

The program starts its tables in three ways: drawn by `nn.Embedding`; the
same random draw copied into a buffer of the caller's and handed to
`from_pretrained` (so it can be frozen); or given rows, such as a table
trained elsewhere, handed to `from_pretrained`. `emb_make_table` builds
each; a `from_pretrained` table uses the buffer `*own`, which the caller
frees after the table.
*/

int emb_make_table(Embedding *e, TableSource source, int64_t V, int64_t D,
                   const float *rows, bool freeze, const EmbeddingOptions *opt,
                   TorchGenerator *gen, float **own, EmbError *err) {
    *own = NULL;
    if (source == TABLE_FRESH) return emb_init_with_options(e, V, D, opt, gen, err);
    int64_t bytes = emb_weight_bytes(V, D);
    if (bytes < 0 ||
        !(*own = malloc((size_t)bytes))) {  // from_pretrained shares this buffer
        return emb_fail(err, "cannot allocate a %lld x %lld table", (long long)V,
                        (long long)D);
    }
    if (source == TABLE_RANDOM_COPY) {  // a random table, as nn.Embedding would draw it
        Embedding tmp;
        if (emb_init_with_options(&tmp, V, D, opt, gen, err) != 0) return -1;
        memcpy(*own, tmp.weight, (size_t)bytes);
        emb_free(&tmp);
    } else {
        memcpy(*own, rows, (size_t)bytes);
    }
    return emb_from_pretrained(e, *own, V, D, freeze, opt, err);
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
| `scale_grad_by_freq` | as above, gradients averaged per row | frequent rows step less |
| `frozen-random` | random, `freeze=True` | only the projection learns |
| `frozen-pretrained` | chapter 2's trained table, `freeze=True` | static embeddings |
| `fine-tuned` | chapter 2's trained table, `freeze=False` | fine-tuning |

The pre-trained table comes from chapter 2's code: the program first
trains chapter 2's next-token model on the same corpus, with the same $D$,
and copies its table, adding a zero row for padding.
*/

#ifndef EMB_LIBRARY

#include <stdio.h>

#include "../src/cli.h"
#include "../src/corpus.h"
#include "../src/snapshots.h"
#include "../src/tsv.h"

typedef struct Options {
    int64_t dim, context, steps, batch, sentences, vocab, pretrain_steps;
    double lr;
    uint64_t seed;
    EmbeddingOptions emb;         // padding_idx, norm_type; max_norm for the max_norm run
    const char *corpus, *out,
        *dir;  // dir: where this run writes, a folder that becomes out
} Options;

/**
The six runs, as data. Every table starts from the same generator state,
so the first three start from the same rows, and `frozen-random` from the
same rows frozen.
*/

static const struct RunSpec {
    const char *name;
    TableSource source;  // nn.Embedding, or from_pretrained(random or chapter 2's rows)
    bool freeze;              // from_pretrained(..., freeze=True)
    bool max_norm;            // use --max-norm
    bool scale_grad_by_freq;
} RUNS[] = {
    {"trainable", TABLE_FRESH, false, false, false},
    {"max_norm", TABLE_FRESH, false, true, false},
    {"scale_grad_by_freq", TABLE_FRESH, false, false, true},
    {"frozen-random", TABLE_RANDOM_COPY, true, false, false},
    {"frozen-pretrained", TABLE_PRETRAINED, true, false, false},
    {"fine-tuned", TABLE_PRETRAINED, false, false, false},
};
enum { TRAINABLE, MAX_NORM, N_RUNS = sizeof RUNS / sizeof *RUNS, N_SNAPSHOTS = 40 };

/**
Each run is one `cm_train`, its batches drawn from a generator seeded the
same way. The pre-trained table is chapter 2's model after `ntm_train` on
the same corpus, copied into a $(V+1) \times D$ buffer whose last row, the
padding row, we set to zero ourselves, since `from_pretrained` will not.
*/

static float *pretrain(const Options *opt, const Corpus *c, EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    int64_t V = c->vocab_size, D = opt->dim;
    NtmTrainConfig cfg = {opt->pretrain_steps, opt->batch, opt->lr, true, false};
    NtmTrainLog log = {0};
    float *table = NULL;  // (V + 1, D), row V stays 0
    rng_manual_seed(&gen, opt->seed);  // the model, then the batches
    if (ntm_init(&m, V, D, opt->batch, &gen, err) != 0) return NULL;
    if (ntm_train(&m, c->tokens, c->n_tokens, &gen, &cfg, &log, err) == 0 &&
        !(table = calloc((size_t)((V + 1) * D), sizeof(float))))
        emb_fail(err, "out of memory");
    if (table) memcpy(table, m.emb.weight, (size_t)(V * D) * sizeof(float));
    ntm_free(&m);
    return table;
}

/**
The files: `loss.tsv` (each run's loss, a moving average over 100 steps),
`norms.tsv` (the row norms of `trainable` and `max_norm`) and, for the
`trainable` table, chapter 2's `trajectory.tsv` and `categories.tsv`.
*/

static int write_curves(const Options *opt, const CmTrainLog *runs, EmbError *err) {
    const char *names[N_RUNS];
    const double *loss[N_RUNS];
    for (int r = 0; r < N_RUNS; r++) names[r] = RUNS[r].name, loss[r] = runs[r].loss;
    const CmTrainLog *t = &runs[TRAINABLE], *m = &runs[MAX_NORM];
    TsvColumn norms[] = {{"mean_norm", TSV_FIXED6, .values = t->mean_norm},
                         {"max_norm", TSV_FIXED6, .values = t->max_norm},
                         {"mean_norm_with_max_norm", TSV_FIXED6, .values = m->mean_norm},
                         {"max_norm_with_max_norm", TSV_FIXED6, .values = m->max_norm},
                         {"limit", TSV_G, .constant = opt->emb.max_norm}};
    int64_t n = opt->steps;
    const char *dir = opt->dir;
    if (tsv_write_smoothed(dir, "loss.tsv", names, loss, N_RUNS, n, 100, err)) return -1;
    return tsv_write_columns(dir, "norms.tsv", "step", 0, n + 1, norms, 5, err);
}

/**
`run_one` makes one run's table and model, trains it and prints its line
of the table of results; `run_all` does all six and records the numbers
the prose quotes.
*/

static int run_one(const Options *opt, int r, const Corpus *c, const Windows *w,
                   int64_t pad, const float *pretrained, Snapshots *snaps, float **own,
                   CmTrainLog *log, EmbError *err) {
    Embedding table;
    ContextModel m;
    TorchGenerator gen, batches;
    NtmTrainConfig cfg = {opt->steps, opt->batch, opt->lr, true, false};
    EmbeddingOptions eo = opt->emb;
    eo.has_max_norm = RUNS[r].max_norm;
    eo.scale_grad_by_freq = RUNS[r].scale_grad_by_freq;
    rng_manual_seed(&gen, opt->seed);  // the table
    if (cm_log_init(log, cfg.steps, r == TRAINABLE ? snaps : NULL, err) != 0 ||
        emb_make_table(&table, RUNS[r].source, c->vocab_size + 1, opt->dim, pretrained,
                       RUNS[r].freeze, &eo, &gen, own, err) != 0) return -1;
    rng_manual_seed(&gen, opt->seed + 2);  // the projection: the same in every run
    if (cm_init(&m, &table, c->vocab_size, opt->batch, opt->context, &gen, err) != 0) {
        emb_free(&table);
        return -1;
    }
    rng_manual_seed(&batches, opt->seed + 1);  // the batches: the same in every run
    int rc = cm_train(&m, w, &batches, &cfg, pad, log, err);
    cm_free(&m);
    if (rc != 0) return -1;
    printf("%-20s %12.4f  padding row %s", RUNS[r].name, log->final_loss,
           log->pad_unchanged ? "unchanged" : "MOVED");
    if (RUNS[r].max_norm) printf("; the first forward pass rescaled %lld rows",
                                 (long long)log->renormed_first);
    if (RUNS[r].freeze) printf("; table %s", log->table_unchanged ? "unchanged (frozen)"
                                                                   : "CHANGED");
    printf("\n");
    return 0;
}

// Records the final losses and what the norms figure shows.
static void record_values(const Options *opt, const CmTrainLog *runs, RunValues *values) {
    char key[64];
    for (int r = 0; r < N_RUNS; r++) {  // loss.trainable ... loss.fine_tuned
        snprintf(key, sizeof key, "loss.%s", RUNS[r].name);
        for (char *k = key; *k; k++) *k = *k == '-' ? '_' : *k;
        run_values_set(values, key, "%.2f", runs[r].final_loss);
    }
    const CmTrainLog *t = &runs[TRAINABLE], *m = &runs[MAX_NORM];
    double lo = INFINITY, hi = 0.0;  // the mean norm with max_norm, after step 1
    int64_t at = opt->steps < 200 ? opt->steps : 200, end = opt->steps;
    for (int64_t s = 1; s <= end; s++) lo = fmin(lo, m->mean_norm[s]);
    for (int64_t s = 1; s <= end; s++) hi = fmax(hi, m->mean_norm[s]);
    run_values_set(values, "max_norm.rescaled", "%lld", (long long)m->renormed_first);
    run_values_set(values, "norms.mean_growth", "%.1f",
                   t->mean_norm[end] / t->mean_norm[0]);
    run_values_set(values, "norms.max_end", "%.1f", t->max_norm[end]);
    run_values_set(values, "norms.clipped.mean_min", "%.2f", lo);
    run_values_set(values, "norms.clipped.mean_max", "%.2f", hi);
    run_values_set(values, "norms.clipped.max_start", "%.1f", m->max_norm[0]);
    run_values_set(values, "norms.clipped.max_at_200", "%.1f", m->max_norm[at]);
}

// Builds the windows and the pre-trained table, then does the six runs.
static int run_all(const Options *opt, const Corpus *c, int64_t pad, bool pad_trained,
                   RunValues *values, EmbError *err) {
    Windows w = {0};
    CmTrainLog runs[N_RUNS] = {{0}};
    float *pretrained = NULL, *own[N_RUNS] = {0};
    Snapshots snaps = {0};
    int rc = -1;
    int64_t end = -1, V = c->vocab_size + 1;  // end: the id of "." (a text file has none)
    for (int64_t k = 0; k < c->vocab_size; k++) end = strcmp(c->words[k], ".") ? end : k;
    if (windows_make(c->tokens, c->n_tokens, end, opt->context, pad, &w, err)) goto done;
    printf("corpus: %lld tokens, %lld words + <pad> = %lld rows; windows of %lld, "
           "padding row %lld%s\n", (long long)c->n_tokens, (long long)c->vocab_size,
           (long long)V, (long long)opt->context, (long long)pad,
           pad_trained ? " (padding_idx=None: it is trained)" : "");
    printf("unigram entropy (baseline): %.4f nats\n", corpus_unigram_entropy(c));
    run_values_set(values, "baseline", "%.2f", corpus_unigram_entropy(c));
    if (!(pretrained = pretrain(opt, c, err))) goto done;
    printf("pre-trained table: chapter 2's model, %lld steps\n\n",
           (long long)opt->pretrain_steps);
    printf("%-20s %12s  %s\n", "run", "final loss", "notes");
    if (snapshots_init(&snaps, V, opt->dim, N_SNAPSHOTS, opt->steps, err) != 0) goto done;
    for (int r = 0; r < N_RUNS; r++) {
        if (run_one(opt, r, c, &w, pad, pretrained, &snaps, &own[r], &runs[r], err)) {
            goto done;
        }
    }
    printf("\n");
    record_values(opt, runs, values);
    RowLabels words = {(const char *const *)c->words, c->category, c->category_names,
                       c->n_categories};
    if (write_curves(opt, runs, err) != 0 ||
        snapshots_write_padded(&snaps, opt->dir, &words, pad, err) != 0) goto done;
    printf("wrote %s/loss.tsv, norms.tsv, trajectory.tsv, categories.tsv\n", opt->out);
    rc = 0;
done:
    for (int r = 0; r < N_RUNS; r++) cm_log_free(&runs[r]), free(own[r]);
    snapshots_free(&snaps);
    free(pretrained);
    windows_free(&w);
    return rc;
}

static int run(void *options, const char *dir, RunValues *values, EmbError *err) {
    Options opt = *(const Options *)options;
    Corpus c = {0};
    opt.dir = dir;
    if (opt.corpus ? corpus_from_file(&c, opt.corpus, opt.vocab, err)
                   : corpus_builtin(&c, opt.seed, opt.sentences, err)) return -1;
    int64_t V = c.vocab_size + 1;  // the words, then <pad>
    Embedding probe = {.num_embeddings = V, .embedding_dim = opt.dim};
    int rc = emb_set_options(&probe, &opt.emb, err);
    bool none = probe.padding_idx == EMB_NO_PADDING;
    int64_t pad = none ? V - 1 : probe.padding_idx;  // the filler row
    if (rc == 0 && opt.batch > c.n_tokens - 1) {
        rc = emb_fail(err, "--batch %lld is larger than the corpus, which has %lld "
                      "windows", (long long)opt.batch, (long long)(c.n_tokens - 1));
    }
    if (rc == 0) rc = run_all(&opt, &c, pad, none, values, err);
    corpus_free(&c);
    return rc;
}

int main(int argc, char **argv) {
    Options o = {.emb = emb_default_options(), .corpus = NULL};
    CliOption options[] = {
        {"dim", "D", CLI_INT, &o.dim, "2", "embedding_dim", .lo = 1, .hi = 4096},
        {"context", "T", CLI_INT, &o.context, "3", "words per window", .lo = 1, .hi = 64},
        {"steps", "N", CLI_INT, &o.steps, "2000", "steps per run", .lo = 1, .hi = 1e8},
        {"lr", "LR", CLI_DOUBLE, &o.lr, "0.5", "learning rate", .dlo = 0, .dhi = 1e6},
        {"batch", "B", CLI_INT, &o.batch, "32", "batch size", .lo = 1, .hi = 1000000},
        {"seed", "S", CLI_SEED, &o.seed, "0", .help = "torch.manual_seed"},
        {"padding-idx", "P", CLI_INT, &o.emb.padding_idx, "-1",
         "the filler row in [-V, V), or none; -1: the <pad> row added last\n"
         "(another row makes that word the filler; none: <pad> is a word)",
         .lo = INT64_MIN, .hi = INT64_MAX,
         .word = "none", .is_value = &o.emb.has_padding_idx},
        {"max-norm", "M", CLI_DOUBLE, &o.emb.max_norm, "1", "max_norm of that run",
         .dlo = 0, .dhi = INFINITY},
        {"norm-type", "P", CLI_DOUBLE, &o.emb.norm_type, "2", "a number >= 0, or inf",
         .dlo = 0, .dhi = INFINITY, .inf_ok = true},
        {"pretrain-steps", "N", CLI_INT, &o.pretrain_steps, "3000",
         "chapter 2 training for the pre-trained table", .lo = 0, .hi = 100000000},
        {"corpus", "FILE", CLI_STRING, &o.corpus, NULL, .help = "text to train on"},
        {"vocab", "V", CLI_INT, &o.vocab, "1000", "--corpus's V-1 most frequent words",
         .lo = 2, .hi = 10000000, .needs = "corpus"},
        {"sentences", "N", CLI_INT, &o.sentences, "2000", "size of the built-in corpus",
         .lo = 1, .hi = 10000000},
        {"out", "DIR", CLI_STRING, &o.out, "build/ch03", .help = "the run's folder"},
    };
    CliProgram prog = {"ch03",
        "Trains a model that predicts the next word from the mean of the last T words'\n"
        "rows (padded at sentence starts) six ways: trainable, with max_norm, with\n"
        "scale_grad_by_freq, frozen random, frozen pre-trained, fine-tuned.",
        options, CLI_COUNT(options), &o.out, run, &o};
    o.emb.has_max_norm = true;
    return cli_main(&prog, argc, argv);
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter3` runs the six trainings with $D = 2$, windows of 3 words,
2000 steps each, and prints a table like this one (final loss over every
window of the corpus, in nats; the unigram baseline is {{baseline}}):

| run | final loss | notes |
|---|---|---|
| `trainable` | {{loss.trainable}} | padding row unchanged |
| `max_norm` | {{loss.max_norm}} | {{max_norm.rescaled}} rows rescaled by the first step |
| `scale_grad_by_freq` | {{loss.scale_grad_by_freq}} | |
| `frozen-random` | {{loss.frozen_random}} | table unchanged |
| `frozen-pretrained` | {{loss.frozen_pretrained}} | table unchanged |
| `fine-tuned` | {{loss.fine_tuned}} | |

![The `trainable` run's table: every row moves except the padding row,
which stays at the origin.](fig-trajectories.png)

In the trajectories, every word moves into its category's group as in
chapter 2, while `<pad>` sits at the origin from the first step to the
last: `padding_idx` gave it a zero gradient at every step, and the tests
check that it ends bit for bit zero. Run `build/bin/ch03 --padding-idx
none` to see the other case: the filler is then an ordinary random row
(nothing zeroes it) that also learns, so every short window's mean is
wrong from the first step. The program reports `padding row MOVED`.

![Row norms during training, without and with `max_norm`.](fig-norms.png)

Without `max_norm` the rows keep growing: the mean norm grows
{{norms.mean_growth}} times and the largest reaches {{norms.max_end}},
because the loss keeps rewarding more confident predictions. With
`max_norm=1` the mean stays close to 1 (between {{norms.clipped.mean_min}}
and {{norms.clipped.mean_max}} after the first step). The largest norm
falls from {{norms.clipped.max_start}} to {{norms.clipped.max_at_200}}
within 200 steps and stays there, above the limit, and that is not a
bug: it is the
`<unk>` row, which the corpus never uses, so no forward pass ever looks
it up and renormalises it (and it pulls the mean slightly above 1). The
price of the constraint is a higher loss ({{loss.max_norm}} against
{{loss.trainable}}): short rows make for less confident predictions. The
very first forward pass rescales {{max_norm.rescaled}} rows before any training has
happened, because $\mathcal{N}(0, I_2)$ rows have a norm above 1 more than
half of the time.

![Loss of the six runs (moving average of 100 steps).](fig-loss.png)

The loss curves compare the ways to start a table. A frozen *random*
table leaves only the projection to learn, and it barely beats the
baseline: random rows separate the words but cannot group them. A frozen
*pre-trained* table, trained by chapter 2 to predict the next word from a
single word, starts much better and learns fast, but it stops at
{{loss.frozen_pretrained}}: the
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
4. Change `pretrain` so that the pre-trained table's padding row is
   taken from chapter 2's table (`<unk>`'s row) instead of zeros. What
   does `padding_idx` then guarantee in the `fine-tuned` run, and what
   does it not?
5. Write `emb_renorm_` yourself from the formula (the lab notebook for
   this chapter grades it with this chapter's tests).
6. With `scale_grad_by_freq`, a word that occurs 10 times in a batch gets
   one tenth of the summed gradient. Work out what that means for the
   effective learning rate of frequent and rare words, and relate it to
   Adagrad, which chapter 4 builds: it divides each value's step by the
   root of the sum of its squared gradients so far.
*/
