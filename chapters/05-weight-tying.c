/**
# Chapter 5: Weight tying

Chapter 2's model has two tables of the same shape. The embedding $W$
($V \times D$) turns a token into a vector; the output projection $P$
($V \times D$ as well, `nn.Linear(D, V)`) turns a vector back into a
score for every token. One reads rows, the other writes scores, and each
row of both belongs to one word. *Weight tying* makes them the same
matrix: $P = W$. GPT-2, llm.c and PyTorch's word-language-model example
all do it, and the reason usually given is that it halves the parameters
of the two largest matrices of a small language model and, on
WikiText-2, improves the model (Press and Wolf, 2017).

In PyTorch the tie is one assignment:

```python
emb = nn.Embedding(V, D)
proj = nn.Linear(D, V, bias=False)
proj.weight = emb.weight          # one Parameter, used twice
```

This chapter builds it on chapter 4's parameters and optimizers and
measures what changes. Tying is *sharing storage*: the projection's
weight and its gradient are the table's buffers. The gradient becomes the
*sum of two paths*, and the projection's path reaches every row at every
step, so the sparse gradient of chapters 2 to 4 becomes dense. The
optimizer must see *one* parameter with *one* state. The padding row
moves. And on real English text we test whether the published
improvement shows up in a model small enough to train in seconds.
*/

#include "05-weight-tying.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/**
## The model, tied or untied

`LangModel` is chapter 2's next-token model with chapter 3's table
options and three switches: `tied`, `bias`, and `hidden`, an optional
layer $a = \tanh(H x + c)$ ($D \times D$) between the lookup and the
projection, the stand-in for the recurrent layer of PyTorch's
word-language-model example (why it matters for tying, we will see in the
experiment). The untied model is the
baseline every comparison in this chapter uses, so both are built by the
same function from the same draws: `torch.manual_seed(seed)`, then
`nn.Embedding(V, D)`, then `nn.Linear(D, V, bias=bias)`. PyTorch draws
the Linear's weight even when it is about to be replaced by the tie, so we
draw it too. The table is therefore identical tied and untied, and so are
the bias and every later draw; only the projection's own weight, which the
tied model throws away, differs.

Besides the usual scratch buffers the model keeps two $V \times D$
buffers, one per gradient path, so that the two parts can be shown and
checked separately. PyTorch materialises both as well: the embedding's
backward returns a dense $V \times D$ tensor and so does the projection's.
*/

LmOptions lm_default_options(void) {
    return (LmOptions){.emb = emb_default_options(), .tied = false, .bias = true};
}

// A zeroed (rows, cols) float buffer, or NULL (size overflow, no memory).
static float *zeroed(int64_t rows, int64_t cols) {
    int64_t bytes = emb_weight_bytes(rows, cols);
    float *b = bytes < 0 ? NULL : emb_alloc(bytes);
    if (b) memset(b, 0, (size_t)bytes);
    return b;
}

// The scratch buffers and the two path buffers of a model of V x D.
static int alloc_buffers(LangModel *m, int64_t V, int64_t D, EmbError *err) {
    int64_t B = m->max_batch;
    m->x = zeroed(B, D), m->dx = zeroed(B, D), m->a = zeroed(B, D), m->da = zeroed(B, D);
    m->logits = zeroed(B, V), m->dlogits = zeroed(B, V);
    m->grad_emb_path = zeroed(V, D), m->grad_proj_path = zeroed(V, D);
    if (!m->x || !m->dx || !m->a || !m->da || !m->logits || !m->dlogits ||
        !m->grad_emb_path || !m->grad_proj_path)
        return emb_fail(err, "cannot allocate a model of %lld x %lld for batches of %lld",
                        (long long)V, (long long)D, (long long)B);
    return 0;
}

// extends: ntm_init
int lm_init(LangModel *m, int64_t V, int64_t D, const LmOptions *o, int64_t max_batch,
            TorchGenerator *gen, EmbError *err) {
    memset(m, 0, sizeof *m);
    if (max_batch < 1)
        return emb_fail(err, "max_batch %lld: must be at least 1", (long long)max_batch);
    if (emb_init_with_options(&m->emb, V, D, &o->emb, gen, err) != 0) return -1;
    m->hidden = o->hidden;
    if ((o->hidden && linear_init(&m->hid, D, D, gen, err) != 0) ||
        linear_init_bias(&m->proj, D, V, o->bias, gen, err) != 0) {
        linear_free(&m->hid);
        emb_free(&m->emb);
        return -1;
    }
    m->max_batch = max_batch;
    if (alloc_buffers(m, V, D, err) != 0 || emb_alloc_grad(&m->emb, err) != 0 ||
        (o->tied && lm_tie(m, err) != 0)) {
        lm_free(m);
        return -1;
    }
    return 0;
}

// extends: ntm_free
void lm_free(LangModel *m) {
    linear_free(&m->proj);  // leaves a tied weight alone: the table owns it
    linear_free(&m->hid);
    emb_free(&m->emb);
    free(m->x), free(m->dx), free(m->a), free(m->da), free(m->logits), free(m->dlogits);
    free(m->grad_emb_path), free(m->grad_proj_path);
    memset(m, 0, sizeof *m);
}

/**
PyTorch's default initialization suits an untied table, and a tied one
badly, as the experiment below shows. PyTorch's word-language-model
example, the source of the published numbers, initializes both matrices
uniformly in $[-0.1, 0.1]$ and the bias to zero. `lm_init_uniform` does
the same with PyTorch's `uniform_` draws (chapter 2's), the table first,
so the tied and untied tables are again identical; the tied model simply
has no second matrix to draw. (The example itself ties first and then
draws the projection, so its tied table gets the second draw; the
distribution is the same.)
*/

void lm_init_uniform(LangModel *m, double range, TorchGenerator *gen) {
    int64_t n = m->emb.num_embeddings * m->emb.embedding_dim;
    float from = (float)-range, to = (float)range;
    for (int pass = 0; pass < (m->tied ? 1 : 2); pass++) {
        float *w = pass == 0 ? m->emb.weight : m->proj.weight;  // (V, D)
        for (int64_t i = 0; i < n; i++) {  // tensor.uniform_(from, to), float32
            double u = (double)(rng_random(gen) & 0xFFFFFF) / (double)(1 << 24);
            w[i] = (float)(u * ((double)to - (double)from) + (double)from);
        }
    }
    if (m->proj.bias)
        memset(m->proj.bias, 0, (size_t)m->proj.out_features * sizeof(float));
}

/**
## The tie is two pointers

`proj.weight = emb.weight` makes both modules hold the same `Parameter`,
and a `Parameter` carries its `.grad`. In C the tie is two pointer
assignments: the projection's weight and its gradient become the table's
(chapter 4's `linear_share_weight`, which frees the projection's own).

The order matters. If the table had no gradient buffer yet, the
projection would have nothing to point at; and if the table allocated a
*new* buffer later, the projection would keep writing into the old one, a
stale pointer, and half of every gradient would be lost. So the invariant
at the top of the header says: the table's gradient exists before the
tie and is never replaced after it. `lm_tie` refuses a table without one,
and chapter 2's `emb_alloc_grad` never replaces an existing buffer.
*/

int lm_tie(LangModel *m, EmbError *err) {
    const Embedding *e = &m->emb;
    if (m->proj.in_features != e->embedding_dim ||
        m->proj.out_features != e->num_embeddings)
        return emb_fail(err,
                        "cannot tie nn.Linear(%lld, %lld) to a table of %lld x %lld: "
                        "the projection must be nn.Linear(D, V)",
                        (long long)m->proj.in_features, (long long)m->proj.out_features,
                        (long long)e->num_embeddings, (long long)e->embedding_dim);
    if (!e->grad)
        return emb_fail(err,
                        "cannot tie: the table has no gradient buffer yet; allocate "
                        "it (emb_alloc_grad) before the tie, or the projection keeps "
                        "a stale gradient pointer");
    if (linear_share_weight(&m->proj, e->weight, e->grad, err) != 0) return -1;
    m->tied = true;
    return 0;
}

/**
## Forward

The forward pass is chapter 2's, with chapter 3's `emb_forward` for the
lookup so that the table's options apply. With `max_norm` set, that
lookup renormalises the looked-up rows *in place* before reading them;
in a tied model those rows are also the projection's, so the projection
then scores with the renormalised rows. We come back to this below.
*/

// extends: ntm_forward
int lm_forward(LangModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
               double *loss, EmbError *err) {
    int64_t V = m->emb.num_embeddings;
    if (B < 1 || B > m->max_batch)
        return emb_fail(err, "batch of %lld positions: the model takes 1 to %lld",
                        (long long)B, (long long)m->max_batch);
    for (int64_t i = 0; i < B; i++) {
        if (targets[i] < 0 || targets[i] >= V)
            return emb_fail(err,
                            "Target %lld is out of bounds: the classes are [0, %lld)",
                            (long long)targets[i], (long long)V);
    }
    if (emb_forward(&m->emb, inputs, B, m->x, err) != 0) return -1;  // x = emb(inputs)
    if (m->hidden) {
        int64_t n = B * m->emb.embedding_dim;
        linear_forward(&m->hid, m->x, B, m->a);                    // a = hid(x)
        for (int64_t k = 0; k < n; k++) m->a[k] = tanhf(m->a[k]);  // a = tanh(a)
    }
    linear_forward(&m->proj, m->hidden ? m->a : m->x, B, m->logits);  // logits = proj(.)
    *loss = loss_cross_entropy(m->logits, targets, B, V, m->dlogits);
    return 0;
}

/**
## Backward: two paths, one gradient

The loss reaches the tied matrix along two paths. Write $x_i = W_{t_i}$
for the looked-up rows and $z_i = W x_i$ for the logits (no bias and no
hidden layer, to keep the formula short), and $g_i = \partial L /
\partial z_i$. Then

$$
\frac{\partial L}{\partial W} =
\underbrace{\sum_i e_{t_i} \big(W^\top g_i\big)^{\!\top}}_{\text{embedding path}}
+ \underbrace{\sum_i g_i\, x_i^\top}_{\text{projection path}}.
$$

With the hidden layer, $z_i = W a_i$ with $a_i = \tanh(H x_i + c)$: the
projection path becomes $\sum_i g_i a_i^\top$ and the embedding path
carries the gradient back through the layer first; nothing else changes.

The embedding path is chapter 2's scatter-add: it touches only the rows
that were looked up. The projection path is the weight gradient of a
`Linear`, $dz^\top x$, and it is dense: every row $v$ gets
$\sum_i (p_{iv} - [v = y_i])\, x_i / B$, and a softmax probability is never
exactly zero. So a tied table has a gradient in every row at every step.

PyTorch's autograd computes each path into its own tensor, adds the two,
and then adds the sum into `.grad`. `lm_backward` does the same, in the
same order, so that the sum adds no rounding difference of its own
(adding each path into `.grad` in turn would round differently once
`.grad` is not zero): it runs chapter 2's `linear_backward` with the
weight's gradient pointed at `grad_proj_path`, chapter 3's
`emb_backward_opts` with the table's gradient pointed at `grad_emb_path`
(both views are copies of the structs, so the model itself is not
touched), and then adds. Untied, each path goes to its own parameter.
The parts themselves agree with PyTorch's to float32 rounding, not to the
bit: PyTorch's matrix products sum over the batch in another order than
chapter 2's loops. The conformance runner checks every tied case within
$10^{-6} + 10^{-5}|x|$.
*/

// extends: ntm_backward
int lm_backward(LangModel *m, const int64_t *inputs, int64_t B, EmbError *err) {
    int64_t n = m->emb.num_embeddings * m->emb.embedding_dim;
    if (B < 1 || B > m->max_batch)
        return emb_fail(err, "batch of %lld positions: the model takes 1 to %lld",
                        (long long)B, (long long)m->max_batch);
    memset(m->grad_proj_path, 0, (size_t)n * sizeof(float));
    Linear proj = m->proj;                 // a view: the projection path alone
    proj.weight_grad = m->grad_proj_path;  // (the bias gradient is the real one)
    if (m->hidden) {
        int64_t nb = B * m->emb.embedding_dim;
        linear_backward(&proj, m->a, m->dlogits, B, m->da);
        for (int64_t k = 0; k < nb; k++) m->da[k] *= 1.0f - m->a[k] * m->a[k];  // tanh'
        linear_backward(&m->hid, m->x, m->da, B, m->dx);
    } else {
        linear_backward(&proj, m->x, m->dlogits, B, m->dx);
    }
    memset(m->grad_emb_path, 0, (size_t)n * sizeof(float));
    Embedding table = m->emb;  // a view: the embedding path alone
    table.grad = m->grad_emb_path;
    if (emb_backward_opts(&table, inputs, B, m->dx, err) != 0) return -1;
    float *g = m->emb.grad;  // (V, D)
    if (m->tied) {
        for (int64_t k = 0; k < n; k++)
            g[k] += m->grad_emb_path[k] + m->grad_proj_path[k];
    } else {
        float *gp = m->proj.weight_grad;  // (V, D)
        for (int64_t k = 0; k < n; k++) g[k] += m->grad_emb_path[k];
        for (int64_t k = 0; k < n; k++) gp[k] += m->grad_proj_path[k];
    }
    return 0;
}

/**
## One parameter, one state

`model.parameters()` in PyTorch yields the tied weight once: the
generator behind it remembers the tensors it has yielded and skips a
repeat. Ours does the same by construction. `lm_parameters` lists the
table as `emb.weight`, and chapter 4's `linear_parameters` does not list
a weight the `Linear` shares, so a tied model has one $V \times D$
parameter, one gradient, and one optimizer state.

The bug this prevents is real. Collect the parameters module by module,
`list(emb.parameters()) + list(proj.parameters())`, and the tied matrix
is in the list twice. PyTorch 1.13 accepts that list with a warning
(`optimizer contains a parameter group with duplicate parameters; in
future, this will cause an error`) and then updates the matrix *twice*
per step, each time with the whole gradient; its state is keyed by the
tensor, so both updates share one state whose step count advances by
two. Build one optimizer per module, as some training scripts do, and
the matrix also gets *two* states. Our optimizer keeps state by position
in the list, so a doubled list would mean both bugs at once. Chapter 4's
`param_list_add` therefore refuses a buffer it already holds, with a
message that names both entries. `lm_double_listing_run` builds the
doubled list by hand, bypassing that check, to measure what it would do.
*/

// extends: ntm_parameters
int lm_parameters(LangModel *m, ParamList *out, EmbError *err) {
    out->n = 0;
    float *grad = m->emb.requires_grad ? m->emb.grad : NULL;  // frozen: p.grad is None
    if (param_list_add(out, "emb.weight", m->emb.weight, grad, m->emb.num_embeddings,
                       m->emb.embedding_dim, err) != 0 ||
        (m->hidden &&
         linear_parameters(&m->hid, "hid.weight", "hid.bias", out, err) != 0))
        return -1;
    return linear_parameters(&m->proj, "proj.weight", "proj.bias", out, err);
}

int lm_double_listing_run(OptimKind kind, const OptimOptions *o, float out_twice[6],
                          float out_once[6], int64_t *state_twice, int64_t *state_once,
                          EmbError *err) {
    float g[6] = {1, 1, 1, 1, 1, 1};
    Param p = {.name = "emb.weight",
               .data = out_twice,
               .grad = g,
               .ndim = 2,
               .shape = {3, 2},
               .numel = 6};
    ParamList twice = {.n = 2, .items = {p, p}}, once = {0};  // the bug, built by hand
    twice.items[1].name = "proj.weight";
    for (int k = 0; k < 6; k++) out_twice[k] = out_once[k] = 0.5f;
    Optimizer a = {0}, b = {0};
    int rc = param_list_add(&once, "emb.weight", out_once, g, 3, 2, err) ||
             optim_init(&a, kind, o, &twice, err) || optim_step(&a, &twice, err) ||
             optim_init(&b, kind, o, &once, err) || optim_step(&b, &once, err);
    *state_twice = optim_state_bytes(&a);
    *state_once = optim_state_bytes(&b);
    optim_free(&a);
    optim_free(&b);
    return rc ? -1 : 0;
}

/**
## zero_grad matters twice as much

Backward passes add into `.grad`; only `zero_grad` clears it. Untied,
forgetting it leaves old gradients in the rows that were looked up. Tied,
both paths add into the one buffer, and the projection's path adds into
every row, so a forgotten `zero_grad` corrupts the whole table's
gradient, every step. The reference case `model/tied-no-zero-grad`
checks our accumulation against PyTorch's.
*/

// extends: ntm_zero_grad
void lm_zero_grad(LangModel *m) {
    emb_zero_grad(&m->emb);
    if (m->hidden) linear_zero_grad(&m->hid);
    if (!m->proj.shares_weight)
        linear_zero_grad(&m->proj);
    else if (m->proj.bias_grad)
        memset(m->proj.bias_grad, 0, (size_t)m->proj.out_features * sizeof(float));
}

// extends: ntm_train_step
int lm_train_step(LangModel *m, Optimizer *o, const ParamList *params,
                  const int64_t *inputs, const int64_t *targets, int64_t B, double *loss,
                  EmbError *err) {
    lm_zero_grad(m);                                                   // zero_grad()
    if (lm_forward(m, inputs, targets, B, loss, err) != 0) return -1;  // loss = model(x)
    if (lm_backward(m, inputs, B, err) != 0) return -1;                // loss.backward()
    return optim_step(o, params, err);                                 // step()
}

int lm_eval_loss(LangModel *m, const int64_t *tokens, int64_t n, double *loss,
                 EmbError *err) {
    if (n < 2)
        return emb_fail(err, "a text of %lld tokens has no next token", (long long)n);
    double total = 0;
    for (int64_t i = 0; i < n - 1; i += m->max_batch) {
        int64_t B = n - 1 - i < m->max_batch ? n - 1 - i : m->max_batch;
        double batch = 0;
        if (lm_forward(m, tokens + i, tokens + i + 1, B, &batch, err) != 0) return -1;
        total += batch * (double)B;
    }
    *loss = total / (double)(n - 1);
    return 0;
}

/**
## What tying changes, counted

`grad_rows_nonzero` counts the rows of a gradient with any non-zero
value; untied, that is the number of distinct tokens in the batch, tied it
is $V$. `lm_param_count` counts parameters: $2VD$ untied, $VD$ tied, plus
$V$ for a bias. The saving is $VD$ whatever the model: for GPT-2's
$50257 \times 768$ table, 38,597,376 parameters. Adam keeps a weight, its
gradient and two moments per parameter, so `lm_adam_bytes` is sixteen
bytes per parameter.
*/

int64_t grad_rows_nonzero(const float *grad, int64_t V, int64_t D) {
    int64_t rows = 0;
    for (int64_t v = 0; v < V; v++) {
        const float *g_v = grad + v * D;  // row v
        int64_t d = 0;
        while (d < D && g_v[d] == 0.0f) d++;
        rows += d < D;
    }
    return rows;
}

int64_t lm_params_saved(int64_t V, int64_t D) {
    int64_t vd;
    if (V < 1 || D < 1 || emb_mul_size(V, D, &vd) != 0) return -1;
    return vd;
}

int64_t lm_param_count(int64_t V, int64_t D, bool tied, bool bias) {
    int64_t vd = lm_params_saved(V, D), total;
    if (vd < 0 || emb_mul_size(vd, tied ? 1 : 2, &total) != 0) return -1;
    if (bias && total > INT64_MAX - V) return -1;
    return total + (bias ? V : 0);
}

int64_t lm_adam_bytes(int64_t V, int64_t D, bool tied, bool bias) {
    int64_t params = lm_param_count(V, D, tied, bias), bytes;
    if (params < 0 || emb_mul_size(params, 4 * (int64_t)sizeof(float), &bytes) != 0)
        return -1;
    return bytes;
}

/**
## Each path alone fails the gradient check

Chapter 2's `gradcheck_run` compares a gradient with central differences
of the loss. For a tied model the loss moves when *any* value of the
table moves, through both roles at once, so only the sum of the two paths
passes. `lm_gradcheck` runs one forward and backward from zeroed
gradients and checks the part it is asked for.
*/

typedef struct CheckCtx {
    LangModel *m;
    const int64_t *inputs, *targets;
    int64_t B;
} CheckCtx;

static double check_loss(void *ctx) {
    CheckCtx *c = ctx;
    double loss = NAN;
    if (lm_forward(c->m, c->inputs, c->targets, c->B, &loss, NULL) != 0) return NAN;
    return loss;
}

int lm_gradcheck(LangModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
                 LmGradPart part, GradcheckResult *result, EmbError *err) {
    int64_t n = m->emb.num_embeddings * m->emb.embedding_dim;
    int64_t *entries = malloc((size_t)n * sizeof *entries);  // (n,): every value
    double loss;
    lm_zero_grad(m);
    int rc = !entries ? emb_fail(err, "out of memory")
                      : lm_forward(m, inputs, targets, B, &loss, err) ||
                            lm_backward(m, inputs, B, err);
    if (rc == 0) {
        const float *analytic = part == LM_GRAD_SUM        ? m->emb.grad
                                : part == LM_GRAD_EMB_PATH ? m->grad_emb_path
                                                           : m->grad_proj_path;
        for (int64_t k = 0; k < n; k++) entries[k] = k;
        CheckCtx ctx = {m, inputs, targets, B};
        *result = gradcheck_run(m->emb.weight, analytic, entries, n, check_loss, &ctx,
                                1e-3f, 1e-4, 1e-2);
    }
    free(entries);
    return rc ? -1 : 0;
}

/**
`lm_check_parts` runs the check on the chapter's example, a tied $7 \times
3$ model from seed 0 with a bias, on the batch `[1 2 1 4 0 5]` with
targets `[2 1 4 5 3 1]`, for each part in turn; `lm_paths_example` returns
that example's two parts and the gradient, so that they can be shown.
*/

static const int64_t EXAMPLE_IN[6] = {1, 2, 1, 4, 0, 5};   // inputs
static const int64_t EXAMPLE_TGT[6] = {2, 1, 4, 5, 3, 1};  // targets

// The example's model: tied 7 x 3 with a bias, from seed 0.
static int example_model(LangModel *m, EmbError *err) {
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.tied = true;
    rng_manual_seed(&gen, 0);
    return lm_init(m, 7, 3, &o, 6, &gen, err);
}

int lm_check_parts(GradcheckResult result[3], EmbError *err) {
    LangModel m;
    if (example_model(&m, err) != 0) return -1;
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++)
        rc = lm_gradcheck(&m, EXAMPLE_IN, EXAMPLE_TGT, 6, (LmGradPart)k, &result[k], err);
    lm_free(&m);
    return rc;
}

int lm_paths_example(float emb_path[21], float proj_path[21], float grad[21],
                     EmbError *err) {
    LangModel m;
    double loss;
    if (example_model(&m, err) != 0) return -1;
    int rc = lm_forward(&m, EXAMPLE_IN, EXAMPLE_TGT, 6, &loss, err) ||
             lm_backward(&m, EXAMPLE_IN, 6, err);
    memcpy(emb_path, m.grad_emb_path, 21 * sizeof(float));
    memcpy(proj_path, m.grad_proj_path, 21 * sizeof(float));
    memcpy(grad, m.emb.grad, 21 * sizeof(float));
    lm_free(&m);
    return rc ? -1 : 0;
}

/**
## Real English text

Chapters 2 to 4 trained on a grammar of 28 words, where a tied and an
untied table have nothing to tell apart. To test the published claim we
need real text with a real vocabulary. Debian's `fortunes` package ships
about 2.6 MB of English in plain files under `/usr/share/games/fortunes`:
quotations, jokes, definitions, poems, one *fortune* after another,
separated by lines holding a single `%`. The book's dependency step
installs it with the other tools.

`lm_corpus_load` reads every fortune file (the `.dat` index files and the
`.u8` links are skipped), sends every tenth fortune to a validation text
and the rest to a training text, and tokenises both with the book's
corpus reader (`src/corpus.h`: lower-cased words, everything that is not
a letter or a digit separates them). The vocabulary is the training
text's most frequent words; every other word, in either text, is `<unk>`.
Row 0 is `<unk>` and the other ids are sorted by frequency, so a row's id
is its frequency rank, which the figures below use.
*/

// A growing byte buffer.
typedef struct Text {
    char *s;
    size_t len, cap;
} Text;

static int text_add(Text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) return -1;
        t->s = p, t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// A fortune file: a regular file (not a link) whose name does not end in
// .dat or .u8 and does not start with '.'.
static bool is_fortune_file(const char *dir, const char *name) {
    size_t n = strlen(name);
    if (name[0] == '.' || (n > 4 && !strcmp(name + n - 4, ".dat")) ||
        (n > 3 && !strcmp(name + n - 3, ".u8")))
        return false;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// The sorted names of dir's fortune files (*n of them; the caller frees);
// *n < 0 when memory ran out after -*n - 1 names.
static char **fortune_files(const char *dir, int *n) {
    DIR *d = opendir(dir);
    char **names = NULL;
    *n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!is_fortune_file(dir, e->d_name)) continue;
        char **more = realloc(names, (size_t)(*n + 1) * sizeof *names);
        if (more) names = more;
        if (!more || !(names[*n] = strdup(e->d_name))) {
            *n = -*n - 1;  // out of memory: the caller frees the -*n - 1 names
            break;
        }
        (*n)++;
    }
    if (d) closedir(d);
    if (names && *n > 0) qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

// Appends the fortunes of one file to train, and every every-th to valid;
// *count numbers the fortunes across files.
static int split_file(const char *path, int64_t every, int64_t *count, Text *train,
                      Text *valid) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int rc = 0;
    bool open = false;  // a fortune has started and not ended
    while (rc == 0 && fgets(line, sizeof line, f)) {
        if (line[0] == '%' && (line[1] == '\n' || line[1] == '\0')) {
            *count += open;  // the fortune ends here
            open = false;
            continue;
        }
        open = true;
        rc = text_add(*count % every == every - 1 ? valid : train, line, strlen(line));
    }
    *count += open;
    fclose(f);
    return rc;
}

// Writes a text to a new temporary file and returns its path in path.
static int temp_file(const Text *t, char path[4096]) {
    const char *tmp = getenv("TMPDIR");
    if (snprintf(path, 4096, "%s/lm-text-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= 4096)
        return -1;
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    int ok = f && fwrite(t->s ? t->s : "", 1, t->len, f) == t->len;
    if (f ? fclose(f) != 0 : close(fd) != 0) ok = 0;
    if (!ok) unlink(path);
    return ok ? 0 : -1;
}

typedef struct WordId {
    const char *word;
    int64_t id;
} WordId;

static int by_word(const void *a, const void *b) {
    return strcmp(((const WordId *)a)->word, ((const WordId *)b)->word);
}

// Maps every token of text (its own vocabulary) to train's ids, <unk> for
// words train does not know. valid is (text->n_tokens,).
static int remap(const Corpus *train, const Corpus *text, int64_t *valid) {
    int64_t V = train->vocab_size;
    WordId *known = malloc((size_t)V * sizeof *known);  // (V,) train's words, sorted
    int64_t *id_of = malloc((size_t)text->vocab_size * sizeof *id_of);  // text id -> id
    if (!known || !id_of) return free(known), free(id_of), -1;
    for (int64_t k = 0; k < V; k++) known[k] = (WordId){train->words[k], k};
    qsort(known + 1, (size_t)(V - 1), sizeof *known, by_word);  // <unk> stays out
    for (int64_t k = 0; k < text->vocab_size; k++) {
        WordId key = {text->words[k], 0};
        const WordId *hit =
            bsearch(&key, known + 1, (size_t)(V - 1), sizeof *known, by_word);
        id_of[k] = hit ? hit->id : CORPUS_UNK;
    }
    for (int64_t i = 0; i < text->n_tokens; i++) valid[i] = id_of[text->tokens[i]];
    free(known), free(id_of);
    return 0;
}

// Tokenises the two texts: train with its vocabulary, valid into train's ids.
static int tokenise(LmCorpus *c, const Text *train, const Text *valid, int64_t max_vocab,
                    EmbError *err) {
    char tpath[4096], vpath[4096];
    Corpus v = {0};
    if (temp_file(train, tpath) != 0)
        return emb_fail(err, "cannot write a temporary file");
    int rc = corpus_from_file(&c->train, tpath, max_vocab, err);
    unlink(tpath);
    if (rc != 0) return -1;
    if (temp_file(valid, vpath) != 0)
        return emb_fail(err, "cannot write a temporary file");
    rc = corpus_from_file(&v, vpath, INT64_MAX, err);
    unlink(vpath);
    if (rc != 0) return -1;
    c->n_valid = v.n_tokens;
    c->valid = malloc((size_t)v.n_tokens * sizeof *c->valid);
    rc = !c->valid || remap(&c->train, &v, c->valid) != 0;
    corpus_free(&v);
    return rc ? emb_fail(err, "out of memory for the validation text") : 0;
}

int lm_corpus_load(LmCorpus *c, const char *dir, int64_t max_vocab, int64_t valid_every,
                   EmbError *err) {
    memset(c, 0, sizeof *c);
    if (valid_every < 2)
        return emb_fail(err, "valid_every %lld: must be at least 2",
                        (long long)valid_every);
    int n = 0;
    char **names = fortune_files(dir, &n);
    Text train = {0}, valid = {0};
    int rc = n == 0 ? emb_fail(err,
                               "no fortune files in %s: install Debian's fortunes "
                               "package (apt-get install fortunes)",
                               dir)
             : n < 0 ? emb_fail(err, "out of memory listing %s", dir)
                     : 0;
    if (n < 0) n = -n - 1;  // the names to free
    for (int i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (split_file(path, valid_every, &c->n_fortunes, &train, &valid) != 0)
            rc = emb_fail(err, "cannot read %s", path);
    }
    if (rc == 0 && valid.len == 0)
        rc = emb_fail(err, "%s: %lld fortunes, too few for a validation text", dir,
                      (long long)c->n_fortunes);
    if (rc == 0) rc = tokenise(c, &train, &valid, max_vocab, err);
    c->n_files = n;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names), free(train.s), free(valid.s);
    if (rc != 0) lm_corpus_free(c);
    return rc;
}

void lm_corpus_free(LmCorpus *c) {
    corpus_free(&c->train);
    free(c->valid);
    memset(c, 0, sizeof *c);
}

/**
## A training run

`lm_run` is the experiment's one loop: chapter 4's four calls per step on
batches drawn from the training text, and every `eval_every` steps the
mean loss over the first `eval_tokens` tokens of each split. A tied and
an untied run with the same seeds start from the same table and see the
same batches, in the same order; they differ only in the tie.
*/

int lm_run_log_init(LmRunLog *log, int64_t V, int64_t steps, int64_t eval_every,
                    EmbError *err) {
    memset(log, 0, sizeof *log);
    if (steps < 1 || eval_every < 1 || V < 1)
        return emb_fail(err, "a run needs steps >= 1 and eval_every >= 1");
    int64_t evals = steps / eval_every + 1 + (steps % eval_every != 0);
    size_t n = (size_t)steps, e = (size_t)evals;
    *log = (LmRunLog){.V = V, .steps = steps, .n_evals = (int)evals};
    log->batch_loss = calloc(n, sizeof(double));
    log->rows_with_grad = calloc(n, sizeof(int64_t));
    log->rows_looked_up = calloc(n, sizeof(int64_t));
    log->eval_step = calloc(e, sizeof(int64_t));
    log->train_loss = calloc(e, sizeof(double));
    log->valid_loss = calloc(e, sizeof(double));
    log->emb_path_norm = calloc((size_t)V, sizeof(double));
    log->proj_path_norm = calloc((size_t)V, sizeof(double));
    if (log->batch_loss && log->rows_with_grad && log->rows_looked_up && log->eval_step &&
        log->train_loss && log->valid_loss && log->emb_path_norm && log->proj_path_norm)
        return 0;
    lm_run_log_free(log);
    return emb_fail(err, "out of memory for a log of %lld steps", (long long)steps);
}

void lm_run_log_free(LmRunLog *log) {
    free(log->batch_loss), free(log->rows_with_grad), free(log->rows_looked_up);
    free(log->eval_step), free(log->train_loss), free(log->valid_loss);
    free(log->emb_path_norm), free(log->proj_path_norm);
    memset(log, 0, sizeof *log);
}

// Adds each row's norm along each path, divided by steps, to the log.
static void add_path_norms(const LangModel *m, LmRunLog *log) {
    int64_t V = m->emb.num_embeddings, D = m->emb.embedding_dim;
    for (int64_t v = 0; v < V; v++) {
        double e = 0, p = 0;
        for (int64_t d = 0; d < D; d++) {
            e += (double)m->grad_emb_path[v * D + d] * m->grad_emb_path[v * D + d];
            p += (double)m->grad_proj_path[v * D + d] * m->grad_proj_path[v * D + d];
        }
        log->emb_path_norm[v] += sqrt(e) / (double)log->steps;
        log->proj_path_norm[v] += sqrt(p) / (double)log->steps;
    }
}

// Evaluation number k, after step: the loss on each split's first tokens.
static int evaluate(LangModel *m, const LmCorpus *c, const LmRunConfig *cfg, int k,
                    int64_t step, LmRunLog *log, EmbError *err) {
    int64_t nt =
        c->train.n_tokens < cfg->eval_tokens ? c->train.n_tokens : cfg->eval_tokens;
    int64_t nv = c->n_valid < cfg->eval_tokens ? c->n_valid : cfg->eval_tokens;
    log->eval_step[k] = step;
    return lm_eval_loss(m, c->train.tokens, nt, &log->train_loss[k], err) ||
           lm_eval_loss(m, c->valid, nv, &log->valid_loss[k], err);
}

// The model and optimizer of a run.
static int run_setup(const LmCorpus *c, const LmRunConfig *cfg, LangModel *m,
                     ParamList *params, Optimizer *opt, EmbError *err) {
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.tied = cfg->tied, o.bias = cfg->bias, o.hidden = cfg->hidden;
    OptimOptions oo = optim_defaults(cfg->optimizer);
    oo.lr = cfg->lr;
    rng_manual_seed(&gen, cfg->seed);
    int64_t B = cfg->batch > 256 ? cfg->batch : 256;  // evaluation reads 256 at a time
    if (lm_init(m, c->train.vocab_size, cfg->D, &o, B, &gen, err) != 0) return -1;
    if (cfg->init_range > 0) lm_init_uniform(m, cfg->init_range, &gen);
    if (lm_parameters(m, params, err) == 0 &&
        optim_init(opt, cfg->optimizer, &oo, params, err) == 0)
        return 0;
    lm_free(m);
    return -1;
}

int lm_run(const LmCorpus *c, const LmRunConfig *cfg, LmRunLog *log, EmbError *err) {
    LangModel m;
    ParamList params;
    Optimizer opt = {0};
    TorchGenerator batches;
    int64_t B = cfg->batch, *in = malloc((size_t)B * 2 * sizeof *in), *tgt = in + B;
    if (!in || c->train.n_tokens < 2 || run_setup(c, cfg, &m, &params, &opt, err) != 0)
        return free(in), in ? -1 : emb_fail(err, "out of memory");
    rng_manual_seed(&batches, cfg->batch_seed);
    int rc = evaluate(&m, c, cfg, 0, 0, log, err), k = 1;
    for (int64_t s = 0; rc == 0 && s < cfg->steps; s++) {
        ntm_sample_batch(&batches, c->train.tokens, c->train.n_tokens, B, in, tgt);
        rc = lm_train_step(&m, &opt, &params, in, tgt, B, &log->batch_loss[s], err);
        if (rc == 0 && !isfinite(log->batch_loss[s]))
            rc = emb_fail(err, "step %lld: the loss is %g; try a smaller --lr",
                          (long long)s + 1, log->batch_loss[s]);
        log->rows_with_grad[s] =
            grad_rows_nonzero(m.emb.grad, m.emb.num_embeddings, cfg->D);
        log->rows_looked_up[s] = emb_rows_touched(&m.emb, in, B);
        add_path_norms(&m, log);
        if (rc == 0 && ((s + 1) % cfg->eval_every == 0 || s + 1 == cfg->steps))
            rc = evaluate(&m, c, cfg, k++, s + 1, log, err);
    }
    optim_free(&opt);
    lm_free(&m);
    free(in);
    return rc ? -1 : 0;
}

/**
Two small runs serve the figures and the text. `lm_train_snapshots`
trains a tied table of $D = 2$ on chapter 2's grammar corpus and keeps
snapshots for the trajectory figure. `lm_padding_demo` rebuilds the
reference case `model/tied-padding` from its seed: our initialization is
PyTorch's to the bit, so these are the same numbers PyTorch computed.
*/

int lm_train_snapshots(const Corpus *c, int64_t steps, int64_t batch, double lr,
                       uint64_t seed, Snapshots *s, EmbError *err) {
    TorchGenerator gen, batches;
    LmOptions o = lm_default_options();
    o.tied = true;
    OptimOptions oo = optim_defaults(OPTIM_SGD);
    oo.lr = lr;
    LangModel m;
    ParamList params;
    Optimizer opt = {0};
    int64_t *in = malloc((size_t)batch * 2 * sizeof *in), *tgt = in + batch;
    rng_manual_seed(&gen, seed);
    rng_manual_seed(&batches, seed + 1);
    if (!in || lm_init(&m, c->vocab_size, 2, &o, batch, &gen, err) != 0)
        return free(in), in ? -1 : emb_fail(err, "out of memory");
    int rc =
        lm_parameters(&m, &params, err) || optim_init(&opt, OPTIM_SGD, &oo, &params, err);
    for (int64_t step = 0; rc == 0 && step <= steps; step++) {
        snapshots_take(s, step, m.emb.weight);
        if (step == steps) break;
        double loss;
        ntm_sample_batch(&batches, c->tokens, c->n_tokens, batch, in, tgt);
        rc = lm_train_step(&m, &opt, &params, in, tgt, batch, &loss, err);
    }
    optim_free(&opt);
    lm_free(&m);
    free(in);
    return rc ? -1 : 0;
}

int lm_padding_demo(float emb_path[4], float proj_path[4], float after[4],
                    EmbError *err) {
    const int64_t in[4] = {0, 1, 0, 2}, tgt[4] = {1, 0, 2, 3};
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.emb.has_padding_idx = true, o.emb.padding_idx = 0;
    o.tied = true, o.bias = false;
    OptimOptions oo = optim_defaults(OPTIM_SGD);
    oo.lr = 0.5;
    LangModel m;
    ParamList params;
    Optimizer opt = {0};
    double loss;
    rng_manual_seed(&gen, 1770);
    if (lm_init(&m, 7, 4, &o, 4, &gen, err) != 0) return -1;
    int rc = lm_parameters(&m, &params, err) ||
             optim_init(&opt, OPTIM_SGD, &oo, &params, err) ||
             lm_train_step(&m, &opt, &params, in, tgt, 4, &loss, err);
    memcpy(emb_path, m.grad_emb_path, 4 * sizeof(float));  // row 0: the padding row
    memcpy(proj_path, m.grad_proj_path, 4 * sizeof(float));
    memcpy(after, m.emb.weight, 4 * sizeof(float));
    optim_free(&opt);
    lm_free(&m);
    return rc ? -1 : 0;
}

/**
`lm_initial_loss` measures what the initialization alone does: the loss
of a model that has not been trained, tied or untied, from PyTorch's
$N(0, 1)$ table (range 0) or from the uniform one.
*/

int lm_initial_loss(int64_t V, int64_t D, bool tied, double range, const int64_t *tokens,
                    int64_t n, double *loss, EmbError *err) {
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.tied = tied;
    LangModel m;
    rng_manual_seed(&gen, 0);
    if (lm_init(&m, V, D, &o, 256, &gen, err) != 0) return -1;
    if (range > 0) lm_init_uniform(&m, range, &gen);
    int rc = lm_eval_loss(&m, tokens, n, loss, err);
    lm_free(&m);
    return rc;
}

/**
## The program

The program loads the fortunes, trains the tied and the untied model for
every embedding size of `--dims` and every seed, and runs the small
demonstrations. Its defaults are the reduced run `make chapter5` makes
in a few seconds; `make experiment5` runs the full experiment with the
options in `experiments/ch05/full/ARGS` and `experiments/ch05/slice/ARGS`.
Both write
the same files.
*/

#ifndef EMB_LIBRARY

#include "../src/cli.h"

typedef struct Options {
    int64_t steps, batch, vocab, seeds, eval_every, eval_tokens, *dims, n_dims, *layers,
        n_layers, valid_every, train_tokens;
    double lr, init_range;
    const char *dims_text, *layers_text, *fortunes, *out;
    const char *dir;  // where this run writes, a folder that becomes out
} Options;

// --dims and --layers: lists of at least one value each, in range.
static int parse_lists(Options *o, EmbError *err) {
    if (cli_int64_list("--dims", o->dims_text, &o->dims, &o->n_dims, err) != 0 ||
        cli_int64_list("--layers", o->layers_text, &o->layers, &o->n_layers, err) != 0)
        return -1;
    for (int64_t i = 0; i < o->n_dims; i++)
        if (o->dims[i] < 1 || o->dims[i] > 4096)
            return emb_fail(err, "--dims: %lld is not in [1, 4096]",
                            (long long)o->dims[i]);
    for (int64_t i = 0; i < o->n_layers; i++)
        if (o->layers[i] != 0 && o->layers[i] != 1)
            return emb_fail(err, "--layers: %lld is not 0 or 1", (long long)o->layers[i]);
    if (o->n_dims < 1 || o->n_layers < 1)
        return emb_fail(err, "--dims, --layers: give at least one value");
    return 0;
}

// A model variant: size dims[v / n_layers], hidden layers layers[v % n_layers].
#define DIM(op, v)    ((op)->dims[(v) / (op)->n_layers])
#define LAYERS(op, v) ((op)->layers[(v) % (op)->n_layers])
// The log of variant v, tie t, seed s.
#define LOG(op, logs, v, t, s) (&(logs)[((v)*2 + (t)) * (op)->seeds + (s)])

static int run_all(const Options *op, const LmCorpus *c, LmRunLog *logs, EmbError *err) {
    for (int64_t v = 0; v < op->n_dims * op->n_layers; v++)
        for (int t = 0; t < 2; t++)
            for (int64_t s = 0; s < op->seeds; s++) {
                LmRunConfig cfg = {DIM(op, v),     op->steps,          op->batch,
                                   op->eval_every, op->eval_tokens,    t,
                                   true,           LAYERS(op, v) == 1, OPTIM_ADAM,
                                   op->lr,         (uint64_t)s,        (uint64_t)s + 1000,
                                   op->init_range};
                LmRunLog *log = LOG(op, logs, v, t, s);
                if (lm_run_log_init(log, c->train.vocab_size, op->steps, op->eval_every,
                                    err) != 0 ||
                    lm_run(c, &cfg, log, err) != 0)
                    return -1;
                printf("D=%lld layers=%lld %s seed %lld: validation loss %.3f\n",
                       (long long)cfg.D, (long long)LAYERS(op, v), t ? "tied" : "untied",
                       (long long)s, log->valid_loss[log->n_evals - 1]);
            }
    return 0;
}

// Mean, smallest and largest of loss k over the seeds of (d, t); exp if ppl.
static void over_seeds(const Options *op, const LmRunLog *logs, int64_t d, int t, int k,
                       bool valid, double out[3]) {
    out[0] = 0, out[1] = INFINITY, out[2] = -INFINITY;
    for (int64_t s = 0; s < op->seeds; s++) {
        const LmRunLog *l = LOG(op, logs, d, t, s);
        double x = valid ? l->valid_loss[k] : l->train_loss[k];
        out[0] += x / (double)op->seeds, out[1] = fmin(out[1], x),
                                         out[2] = fmax(out[2], x);
    }
}

// loss.tsv: per evaluation, mean/min/max over seeds of both losses, every run.
static int write_loss(const Options *op, const LmRunLog *logs, RunValues *values,
                      EmbError *err) {
    static const char *const tie[2] = {"untied", "tied"}, *const split[2] = {"train",
                                                                             "valid"};
    OutFile f;
    if (outfile_open(&f, op->dir, "loss.tsv", err) != 0) return -1;
    fprintf(f.f, "step");
    for (int64_t d = 0; d < op->n_dims * op->n_layers; d++)
        for (int t = 0; t < 2; t++)
            for (int v = 0; v < 2; v++)
                fprintf(f.f, "\tD=%lld layers=%lld %s %s\tmin\tmax",
                        (long long)DIM(op, d), (long long)LAYERS(op, d), tie[t],
                        split[v]);
    for (int k = 0; k < logs[0].n_evals; k++) {
        fprintf(f.f, "\n%lld", (long long)logs[0].eval_step[k]);
        for (int64_t d = 0; d < op->n_dims * op->n_layers; d++)
            for (int t = 0; t < 2; t++)
                for (int v = 0; v < 2; v++) {
                    double x[3];
                    over_seeds(op, logs, d, t, k, v, x);
                    fprintf(f.f, "\t%.5f\t%.5f\t%.5f", x[0], x[1], x[2]);
                    if (k + 1 < logs[0].n_evals) continue;
                    char key[64];
                    int n = snprintf(key, sizeof key, "d%lld.l%lld.%s.%s_ppl",
                                     (long long)DIM(op, d), (long long)LAYERS(op, d),
                                     tie[t], split[v]);
                    run_values_set(values, key, "%.1f", exp(x[0]));
                    snprintf(key + n, sizeof key - (size_t)n, "_min");
                    run_values_set(values, key, "%.1f", exp(x[1]));
                    snprintf(key + n, sizeof key - (size_t)n, "_max");
                    run_values_set(values, key, "%.1f", exp(x[2]));
                }
    }
    fprintf(f.f, "\n");
    return outfile_commit(&f, err);
}

// rows.tsv (rows with a gradient per step) and split.tsv (each path's mean
// row norm by frequency rank), from the first size's seed-0 runs.
static int write_rows(const Options *op, const LmCorpus *c, const LmRunLog *logs,
                      RunValues *values, EmbError *err) {
    const LmRunLog *u = LOG(op, logs, 0, 0, 0), *t = LOG(op, logs, 0, 1, 0);
    OutFile f, g;
    double looked = 0, untied = 0, tied = 0;
    if (outfile_open(&f, op->dir, "rows.tsv", err) != 0) return -1;
    fprintf(f.f, "step\tlooked up\tuntied\ttied\n");
    for (int64_t s = 0; s < op->steps; s++) {
        fprintf(f.f, "%lld\t%lld\t%lld\t%lld\n", (long long)s + 1,
                (long long)t->rows_looked_up[s], (long long)u->rows_with_grad[s],
                (long long)t->rows_with_grad[s]);
        looked += (double)t->rows_looked_up[s] / (double)op->steps;
        untied += (double)u->rows_with_grad[s] / (double)op->steps;
        tied += (double)t->rows_with_grad[s] / (double)op->steps;
    }
    run_values_set(values, "rows.looked", "%.1f", looked);
    run_values_set(values, "rows.untied", "%.1f", untied);
    run_values_set(values, "rows.tied", "%.1f", tied);
    run_values_set(values, "rows.v", "%lld", (long long)c->train.vocab_size);
    run_values_set(values, "run.d", "%lld", (long long)op->dims[0]);
    run_values_set(values, "run.seeds", "%lld", (long long)op->seeds);
    run_values_set(values, "run.steps", "%lld", (long long)op->steps);
    run_values_set(values, "run.batch", "%lld", (long long)op->batch);
    run_values_set(values, "run.epochs", "%.2f",
                   (double)(op->steps * op->batch) / (double)c->train.n_tokens);
    run_values_set(values, "corpus.train", "%lld", (long long)c->train.n_tokens);
    run_values_set(values, "corpus.valid", "%lld", (long long)c->n_valid);
    run_values_set(values, "corpus.fortunes", "%lld", (long long)c->n_fortunes);
    run_values_set(values, "corpus.files", "%d", c->n_files);
    if (outfile_commit(&f, err) != 0 || outfile_open(&g, op->dir, "split.tsv", err) != 0)
        return -1;
    fprintf(g.f, "rank\tword\tcount\tembedding path\tprojection path\n");
    for (int64_t v = 0; v < c->train.vocab_size; v++)
        fprintf(g.f, "%lld\t%s\t%lld\t%.6g\t%.6g\n", (long long)v, c->train.words[v],
                (long long)c->train.counts[v], t->emb_path_norm[v], t->proj_path_norm[v]);
    return outfile_commit(&g, err);
}

static int check_values(RunValues *values, EmbError *err);

// The padding row, the doubled parameter list and the gradient check.
static int demos(RunValues *values, EmbError *err) {
    float e[4], p[4], after[4], twice[6], once[6];
    int64_t st2, st1;
    if (lm_padding_demo(e, p, after, err) != 0) return -1;
    run_values_set(values, "pad.emb_path", "%g",
                   fabs(e[0]) + fabs(e[1]) + fabs(e[2]) + fabs(e[3]));
    run_values_set(values, "pad.proj_path", "[%.4f, %.4f, %.4f, %.4f]", p[0], p[1], p[2],
                   p[3]);
    run_values_set(values, "pad.after", "[%.4f, %.4f, %.4f, %.4f]", after[0], after[1],
                   after[2], after[3]);
    for (int k = 0; k < 2; k++) {
        OptimKind kind = k ? OPTIM_ADAM : OPTIM_SGD;
        OptimOptions o = optim_defaults(kind);
        o.lr = 0.1;
        char key[64];
        if (lm_double_listing_run(kind, &o, twice, once, &st2, &st1, err) != 0) return -1;
        snprintf(key, sizeof key, "double.%s.", k ? "adam" : "sgd");
        size_t n = strlen(key);
        run_values_set(values, strcat(key, "twice"), "%.4f", twice[0]);
        key[n] = '\0', run_values_set(values, strcat(key, "once"), "%.4f", once[0]);
        key[n] = '\0',
        run_values_set(values, strcat(key, "state_twice"), "%lld", (long long)st2);
        key[n] = '\0',
        run_values_set(values, strcat(key, "state_once"), "%lld", (long long)st1);
    }
    return check_values(values, err);
}

// The gradient check per part, and the parts of rows 1 and 3 of its example.
static int check_values(RunValues *values, EmbError *err) {
    static const char *const part[3] = {"sum", "emb_path", "proj_path"};
    GradcheckResult r[3];
    float pe[21], pp[21], g[21];
    if (lm_check_parts(r, err) != 0 || lm_paths_example(pe, pp, g, err) != 0) return -1;
    for (int row = 1; row <= 3; row += 2) {  // row 1: looked up twice; row 3: never
        char key[64];
        const float *part_of[3] = {pe, pp, g};
        static const char *const names[3] = {"emb", "proj", "sum"};
        for (int k = 0; k < 3; k++) {
            snprintf(key, sizeof key, "paths.r%d.%s", row, names[k]);
            run_values_set(values, key, "%.4f", part_of[k][row * 3]);
        }
    }
    for (int k = 0; k < 3; k++) {
        char key[64];
        snprintf(key, sizeof key, "check.%s", part[k]);
        run_values_set(values, key, "%.1e", r[k].max_abs_err);
        printf("gradient check, %-9s max abs err %.1e: %s\n", part[k], r[k].max_abs_err,
               r[k].passed ? "passed" : "FAILED");
    }
    return 0;
}

// memory.tsv: parameters and Adam's bytes, tied and untied, for real sizes.
static int write_memory(const Options *op, int64_t V, RunValues *values, EmbError *err) {
    static const struct {
        const char *name, *key;
        int64_t V, D;
    } SIZES[] = {{"word-language-model, WikiText-2", "wlm", 33278, 650},
                 {"BERT-base", "bert", 30522, 768},
                 {"GPT-2", "gpt2", 50257, 768}};
    OutFile f;
    if (outfile_open(&f, op->dir, "memory.tsv", err) != 0) return -1;
    fprintf(f.f,
            "model\tV\tD\tuntied params\ttied params\tsaved\tuntied Adam bytes\ttied "
            "Adam bytes\n");
    for (int i = -1; i < 3; i++) {
        int64_t v = i < 0 ? V : SIZES[i].V, d = i < 0 ? op->dims[0] : SIZES[i].D;
        const char *key = i < 0 ? "book" : SIZES[i].key;
        int64_t pu = lm_param_count(v, d, false, false),
                pt = lm_param_count(v, d, true, false);
        int64_t bu = lm_adam_bytes(v, d, false, false),
                bt = lm_adam_bytes(v, d, true, false);
        fprintf(f.f, "%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\n",
                i < 0 ? "this chapter" : SIZES[i].name, (long long)v, (long long)d,
                (long long)pu, (long long)pt, (long long)(pu - pt), (long long)bu,
                (long long)bt);
        char k[64];
        snprintf(k, sizeof k, "memory.%s.untied_mb", key);
        run_values_set(values, k, "%.0f", (double)bu / 1e6);
        snprintf(k, sizeof k, "memory.%s.tied_mb", key);
        run_values_set(values, k, "%.0f", (double)bt / 1e6);
    }
    return outfile_commit(&f, err);
}

// The 2-D tied table on chapter 2's corpus: trajectory.tsv, categories.tsv.
static int write_trajectory(const Options *op, RunValues *values, EmbError *err) {
    Corpus g = {0};
    Snapshots s = {0};
    int rc = corpus_builtin(&g, 0, 2000, err) ||
             snapshots_init(&s, g.vocab_size, 2, 40, 1000, err) ||
             lm_train_snapshots(&g, 1000, 32, 0.5, 0, &s, err);
    RowLabels labels = {(const char *const *)g.words, g.category, g.category_names,
                        g.n_categories};
    if (rc == 0) rc = snapshots_write(&s, op->dir, &labels, false, err);
    if (rc == 0) {
        const float *first = s.rows, *last = s.rows + (int64_t)s.n * g.vocab_size * 2;
        run_values_set(values, "unk.count", "%lld", (long long)g.counts[CORPUS_UNK]);
        run_values_set(values, "unk.moved", "%.2f",
                       hypot(last[0] - first[0], last[1] - first[1]));
    }
    snapshots_free(&s);
    corpus_free(&g);
    return rc ? -1 : 0;
}

// The validation loss before training, tied and untied, under PyTorch's
// N(0, 1) initialization and under the uniform one (bare model, seed 0).
static int init_losses(const Options *op, const LmCorpus *c, RunValues *values,
                       EmbError *err) {
    int64_t n = c->n_valid < op->eval_tokens ? c->n_valid : op->eval_tokens;
    for (int k = 0; k < 4; k++) {
        double loss;
        char key[64];
        if (lm_initial_loss(c->train.vocab_size, op->dims[0], k % 2, k < 2 ? 0 : 0.1,
                            c->valid, n, &loss, err) != 0)
            return -1;
        snprintf(key, sizeof key, "init.%s.%s", k < 2 ? "normal" : "uniform",
                 k % 2 ? "tied" : "untied");
        run_values_set(values, key, "%.1f", loss);
    }
    return 0;
}

static int run(void *options, const char *dir, RunValues *values, EmbError *err) {
    Options op = *(const Options *)options;
    LmCorpus c;
    op.dir = dir;
    if (parse_lists(&op, err) != 0 ||
        lm_corpus_load(&c, op.fortunes, op.vocab, op.valid_every, err) != 0) {
        free(op.dims), free(op.layers);
        return -1;
    }
    if (op.train_tokens > 1 && op.train_tokens < c.train.n_tokens)
        c.train.n_tokens = op.train_tokens;  // the vocabulary is still the whole text's
    printf(
        "fortunes: %d files, %lld fortunes; training text %lld words, validation %lld, "
        "vocabulary %lld\n",
        c.n_files, (long long)c.n_fortunes, (long long)c.train.n_tokens,
        (long long)c.n_valid, (long long)c.train.vocab_size);
    int64_t n = op.n_dims * op.n_layers * 2 * op.seeds;
    LmRunLog *logs = calloc((size_t)n, sizeof *logs);
    int rc = !logs ? emb_fail(err, "out of memory")
                   : run_all(&op, &c, logs, err) || write_loss(&op, logs, values, err) ||
                         write_rows(&op, &c, logs, values, err) || demos(values, err) ||
                         write_memory(&op, c.train.vocab_size, values, err) ||
                         write_trajectory(&op, values, err) ||
                         init_losses(&op, &c, values, err);
    for (int64_t i = 0; logs && i < n; i++) lm_run_log_free(&logs[i]);
    free(logs), free(op.dims), free(op.layers);
    lm_corpus_free(&c);
    return rc ? -1 : 0;
}

int main(int argc, char **argv) {
    Options o = {0};
    CliOption options[] = {
        {"dims", "D,D...", CLI_STRING, &o.dims_text, "16", .help = "embedding sizes"},
        {"layers", "L,L...", CLI_STRING, &o.layers_text, "0,1",
         .help = "hidden layers, 0 or 1"},
        {"seeds", "N", CLI_INT, &o.seeds, "3", "seeds 0..N-1 per size and tie", .lo = 1,
         .hi = 1000},
        {"steps", "N", CLI_INT, &o.steps, "100", "Adam steps per run", .lo = 1,
         .hi = 100000000},
        {"batch", "B", CLI_INT, &o.batch, "32", "positions per step", .lo = 1,
         .hi = 1000000},
        {"lr", "LR", CLI_DOUBLE, &o.lr, "0.01", "Adam's learning rate", .dlo = 1e-6,
         .dhi = 10},
        {"init-range", "R", CLI_DOUBLE, &o.init_range, "0.1",
         "uniform init in [-R, R]; 0: PyTorch's N(0, 1)", .dlo = 0, .dhi = 10},
        {"vocab", "V", CLI_INT, &o.vocab, "1000", "vocabulary with <unk>", .lo = 2,
         .hi = 10000000},
        {"eval-every", "N", CLI_INT, &o.eval_every, "50", "steps between evaluations",
         .lo = 1, .hi = 100000000},
        {"eval-tokens", "N", CLI_INT, &o.eval_tokens, "500",
         "tokens of each split evaluated", .lo = 2, .hi = 100000000},
        {"valid-every", "N", CLI_INT, &o.valid_every, "10",
         "every N-th fortune is validation text", .lo = 2, .hi = 1000000},
        {"train-tokens", "N", CLI_INT, &o.train_tokens, "0",
         "train on the first N tokens only (0: all)", .lo = 0, .hi = INT64_MAX},
        {"fortunes", "DIR", CLI_STRING, &o.fortunes, LM_FORTUNES_DIR,
         .help = "the fortune files"},
        {"out", "DIR", CLI_STRING, &o.out, "build/ch05", .help = "the run's folder"},
    };
    CliProgram prog = {
        "ch05",
        "Trains a tied and an untied next-token model on the English text of the\n"
        "fortunes package and writes TSV files and values.tsv.",
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

`make chapter5` runs the reduced experiment: a vocabulary of
{{rows.v}} words, $D = {{run.d}}$, the bare model and the one with a
hidden layer, tied and untied, {{run.seeds}} seeds each, {{run.steps}}
Adam steps of {{run.batch}} positions. The
numbers in this section come from that run, unless they are marked as
coming from the full experiment (`make experiment5`, whose results are
committed in `experiments/ch05/`).

### Every row, every step

![Rows with a non-zero gradient per step.](fig-rows.png)

A batch of {{run.batch}} positions looks up {{rows.looked}} distinct words on
average. The untied table's gradient has exactly those rows
({{rows.untied}} per step); the tied table's has all {{rows.tied}} of
its {{rows.v}} rows at every step. Every optimizer of chapter 4 then
updates every row. This is the first practical consequence of tying: a
tied table is a dense parameter, and chapter 6's sparse gradients buy
nothing for it (PyTorch, given `sparse=True` and a tie, accumulates both
paths into one dense gradient; `SparseAdam` then refuses it).

### Where the gradient comes from

![Each path's share of a tied row's gradient, by frequency rank.](fig-split.png)

The figure shows, for each row of a tied table, the mean norm of its
gradient per step along each path, rows in order of frequency, from the
full experiment's first tied run ($D = 16$, no hidden layer,
{{full:run.steps}} steps). Both fall with rank: a rare word is rarely
looked up, so its embedding path is zero in most steps, and a trained
model gives it a small probability, which is what the projection path
is made of. But the projection path is the larger of the two for all but
the most frequent words, about twice the embedding path over most of the
range, and it arrives at every step. That is the argument of Press and
Wolf for tying: in an untied model the input row of a rare word learns
only from its few occurrences, while tied it also learns from the output
side, all the time.

The same can be seen on chapter 2's grammar corpus with $D = 2$:

![A tied 2-D table during training.](fig-trajectories.png)

`<unk>` occurs {{unk.count}} times in that corpus and is never looked up,
so an untied table would leave its row where it was drawn. Tied, the
output role moves it {{unk.moved}} units: its score is pushed down at every
step, because it is never the next word.

### The gradient check

In the tied $7 \times 3$ example (inputs `[1 2 1 4 0 5]`), row 1 is
looked up twice: the first value of its gradient is {{paths.r1.sum}}, the
embedding path's {{paths.r1.emb}} plus the projection path's
{{paths.r1.proj}}. Row 3 is never looked up: {{paths.r3.emb}} from the
embedding path, {{paths.r3.proj}} from the projection path, and
{{paths.r3.sum}} in all. For this table the sum of the two
paths matches the finite differences to {{check.sum}}; the embedding path
alone is off by up to {{check.emb_path}} and the projection path alone by
{{check.proj_path}}. Each part is a real gradient, of a different
function (the loss with the other role's weight held fixed); only the
sum is the gradient of the tied model.

### The padding row moves

The reference case `model/tied-padding` (`padding_idx=0`, a zero row at
the start) rebuilt from its seed: after one step the padding row's
embedding-path gradient is {{pad.emb_path}}, as `padding_idx` promises,
but its projection-path gradient is {{pad.proj_path}}, and after one SGD
step at `lr=0.5` the padding row is {{pad.after}}, the numbers PyTorch
computes for the same case. `padding_idx` only stops the embedding
path; the padding token is still a class the model scores, and its score
is pushed down at every position. A model that ties and pads therefore
gets a non-zero vector for every padding position: it must mask those
positions (as the attention masks of transformer models do), not rely on
the row being zero.

### Two states for one matrix

Listed twice (and given two states, as our optimizer would), a tied
$3 \times 2$ table at 0.5 with a gradient of ones takes two updates per
step: one SGD step at `lr=0.1` takes it to
{{double.sgd.twice}} instead of {{double.sgd.once}}, and one Adam step to
{{double.adam.twice}} instead of {{double.adam.once}}, with
{{double.adam.state_twice}} bytes of state instead of
{{double.adam.state_once}}. For a table of GPT-2's size that is two more
copies of the table in memory and a learning rate silently doubled.

### max_norm with a tied table

`max_norm` renormalises rows in place in the forward pass. Tied, those
rows are also the projection's. In the order our model runs (look up,
then project) this is well defined: the projection scores with the
renormalised rows, and the reference case `model/tied-max-norm` checks
that our numbers are PyTorch's. PyTorch fails only when the projection has
read the weight *before* a later lookup renormalises it within the same
backward pass, for example a second lookup after the projection
(`proj(emb(x)); emb(y)`): the saved weight has changed, and backward
stops with `one of the variables needed for gradient computation has
been modified by an inplace operation` (checked on torch 1.13). Our
model makes one lookup per forward pass, before its projection, and one
backward pass per forward pass, so that order cannot arise; we reproduce
PyTorch's numbers where PyTorch has numbers and have no error to
reproduce. A model that needs several lookups per backward pass should
renormalise the table once, before the forward pass, outside the lookup.

### Parameters and memory

Tying saves $VD$ parameters: 38,597,376 for GPT-2's $50257 \times 768$
table. With Adam, a parameter costs 16 bytes (weight, gradient, two
moments), so the two matrices of GPT-2's embedding and output layer take
{{memory.gpt2.untied_mb}} MB untied and {{memory.gpt2.tied_mb}} MB tied;
BERT-base's $30522 \times 768$ {{memory.bert.untied_mb}} and
{{memory.bert.tied_mb}} MB; and the word-language-model's WikiText-2
model with 650 dimensions, $33278 \times 650$, {{memory.wlm.untied_mb}}
and {{memory.wlm.tied_mb}} MB (`memory.tsv`).

### Speed

`make bench` times one Adam step (`zero_grad`, forward, backward, step)
of the bare model with a bias, tied and untied, in C and in PyTorch 1.13
on one thread, taking turns, from the same initial weights and on the
same batches of 32 positions, and checks that the first step's loss is
the same on both sides. In the committed run, at this chapter's reduced
size ($V = 1000$, $D = 16$) a step took
{{bench:ch05.v1000.d16.untied_ms}} ms untied and
{{bench:ch05.v1000.d16.tied_ms}} ms tied in C, and
{{bench:ch05.v1000.d16.torch_untied_ms}} and
{{bench:ch05.v1000.d16.torch_tied_ms}} ms in PyTorch; at the full
experiment's size ($V = 2000$, $D = 64$)
{{bench:ch05.v2000.d64.untied_ms}} and {{bench:ch05.v2000.d64.tied_ms}}
ms in C, {{bench:ch05.v2000.d64.torch_untied_ms}} and
{{bench:ch05.v2000.d64.torch_tied_ms}} ms in PyTorch. The arithmetic
predicts little difference between tied and untied: the projection's
products, $BVD$ multiply-adds forward and twice that backward, are the
same in both; tying removes the second table's `zero_grad` and optimizer
update and adds the sum of the two paths. That run shared two cores with
other work (load average {{bench:bench.load_start}} at its start), and
at $D = 64$ our repeated runs of the same step moved by more than the
difference tying makes, so read these times as the order of magnitude,
not as a ranking of tied against untied.

### Tied against untied on real text

First, the initialization. PyTorch's default draws the table from
$N(0, 1)$. Untied, that is harmless; tied, the score of word $v$ after
word $t$ is $w_v \cdot w_t$, a sum of $D$ products of unit variance, and
the current word's own score is $\lVert w_t \rVert^2 \approx D$. Before
any training the validation loss of the bare model with $D = {{run.d}}$ is
{{init.normal.untied}} nats untied and {{init.normal.tied}} tied: the
tied model starts out confidently predicting that every word repeats.
With the word-language-model's initialization, uniform in $[-0.1, 0.1]$,
both start at {{init.uniform.untied}} and {{init.uniform.tied}} nats
($\ln V$). Every run below uses it.

![Training and validation loss, tied and untied (this run).](fig-loss.png)

In this run, after {{run.steps}} steps, the bare model's validation
perplexity is {{d16.l0.untied.valid_ppl}} untied (seeds from
{{d16.l0.untied.valid_ppl_min}} to {{d16.l0.untied.valid_ppl_max}}) and
{{d16.l0.tied.valid_ppl}} tied ({{d16.l0.tied.valid_ppl_min}} to
{{d16.l0.tied.valid_ppl_max}}): tying *hurts*, by far more than the seeds
spread. The reason is in the formula: without a layer in between, the
tied model's score of $v$ after $t$ is $w_v \cdot w_t$, which is also the
score of $t$ after $v$, and every word scores itself $\lVert w_t
\rVert^2$. A bigram model whose table must be symmetric cannot say that
"of" follows "one" but "one" does not follow "of". (The suite checks the
symmetry bit for bit.) With the hidden layer the scores are $w_v \cdot
\tanh(H w_t + c)$, no longer symmetric, and the two models are close:
{{d16.l1.untied.valid_ppl}} untied ({{d16.l1.untied.valid_ppl_min}} to
{{d16.l1.untied.valid_ppl_max}}) and {{d16.l1.tied.valid_ppl}} tied
({{d16.l1.tied.valid_ppl_min}} to {{d16.l1.tied.valid_ppl_max}}).
*/

/**
### The full experiment

`make experiment5` runs two experiments, with the options in
`experiments/ch05/full/ARGS` and `experiments/ch05/slice/ARGS`, and
commits their results (`experiments/ch05/`); every number in this
section comes from them. The first trains on the whole training text
({{full:corpus.train}} words from {{full:corpus.fortunes}} fortunes in
{{full:corpus.files}} files; {{full:corpus.valid}} validation words), with
a vocabulary of {{full:rows.v}} words, $D = 16$ and $D = 64$, with and
without the hidden layer, three seeds each, {{full:run.steps}} Adam steps
of {{full:run.batch}} positions ({{full:run.epochs}} of an epoch).

![The full experiment: training and validation loss per model, tied and
untied, with the seeds' spread.](fig-experiment.png)

Validation perplexity, the mean of three seeds (smallest to largest):

* bare, $D = 16$: untied {{full:d16.l0.untied.valid_ppl}}
  ({{full:d16.l0.untied.valid_ppl_min}} to {{full:d16.l0.untied.valid_ppl_max}}), tied
  {{full:d16.l0.tied.valid_ppl}} ({{full:d16.l0.tied.valid_ppl_min}} to
  {{full:d16.l0.tied.valid_ppl_max}}).
* bare, $D = 64$: untied {{full:d64.l0.untied.valid_ppl}}
  ({{full:d64.l0.untied.valid_ppl_min}} to {{full:d64.l0.untied.valid_ppl_max}}), tied
  {{full:d64.l0.tied.valid_ppl}} ({{full:d64.l0.tied.valid_ppl_min}} to
  {{full:d64.l0.tied.valid_ppl_max}}).
* hidden layer, $D = 16$: untied {{full:d16.l1.untied.valid_ppl}}
  ({{full:d16.l1.untied.valid_ppl_min}} to {{full:d16.l1.untied.valid_ppl_max}}), tied
  {{full:d16.l1.tied.valid_ppl}} ({{full:d16.l1.tied.valid_ppl_min}} to
  {{full:d16.l1.tied.valid_ppl_max}}).
* hidden layer, $D = 64$: untied {{full:d64.l1.untied.valid_ppl}}
  ({{full:d64.l1.untied.valid_ppl_min}} to {{full:d64.l1.untied.valid_ppl_max}}), tied
  {{full:d64.l1.tied.valid_ppl}} ({{full:d64.l1.tied.valid_ppl_min}} to
  {{full:d64.l1.tied.valid_ppl_max}}).

The training perplexities, on the first words of the training text, are
{{full:d64.l1.untied.train_ppl}} untied and {{full:d64.l1.tied.train_ppl}}
tied for the hidden layer at $D = 64$ (`values.tsv` has them all).

At every size the tied model is behind, by more than the seeds spread,
and far behind without the hidden layer. These runs see
{{full:run.epochs}} of an epoch, far from overfitting, where the
regularising effect Press and Wolf describe cannot help. The second
experiment puts the models where it could: {{slice:run.steps}} steps on a
slice of {{slice:corpus.train}} training words, {{slice:run.epochs}}
epochs, $D = 64$ with the hidden layer.

![The slice experiment: both models overfit the 40,000-word
slice.](fig-slice.png)

Both overfit: their training perplexities fall to
{{slice:d64.l1.untied.train_ppl}} untied and
{{slice:d64.l1.tied.train_ppl}} tied while the validation loss turns
upward after the first epoch. At the end, the validation perplexity is
{{slice:d64.l1.untied.valid_ppl}} untied ({{slice:d64.l1.untied.valid_ppl_min}}
to {{slice:d64.l1.untied.valid_ppl_max}}) and
{{slice:d64.l1.tied.valid_ppl}} tied ({{slice:d64.l1.tied.valid_ppl_min}} to
{{slice:d64.l1.tied.valid_ppl_max}}): the seeds' ranges overlap, and
tying neither helps nor hurts measurably.

So the published effect (WikiText-2, PyTorch's word-language-model
example: 117.61 untied against 110.44 tied validation perplexity) does
not appear here, at either size, with or without the hidden layer. We
think three differences explain it. The published model is a two-layer
LSTM of 650 units: its output vector is computed from the whole history
by a layer with far more capacity than our single $D \times D$ layer,
so the table's two roles conflict less. It was trained for 40 epochs with
dropout 0.5, where an untied model's $2VD$ parameters overfit and tying
acts as a regulariser; Press and Wolf report the gain mostly in that
regime. And its initialization and optimizer (uniform, SGD at a
learning rate of 20 with annealing) differ from our Adam. Our miniature
keeps the mechanism and loses the regime: in a model this small, trained
this briefly, the untied model's second table is worth more than the
regularisation that tying brings. What the miniature does show, at every
size, is the cost of tying without a layer in between.

## What PyTorch does

* `proj.weight = emb.weight` registers the same `Parameter` in both
  modules. `model.parameters()` and `named_parameters()` yield it once
  (under the first name, `emb.weight`); `list(emb.parameters()) +
  list(proj.parameters())` yields it twice, and an optimizer built from
  that list keeps two states for it.
* Autograd adds the two paths' gradients before accumulating into
  `.grad`, so the tied gradient is the float32 sum of the two parts; the
  conformance runner checks every tied case (`model/tied-*`: SGD, Adam
  with and without `amsgrad`, AdamW, with and without a bias, with
  padding, with `max_norm`, without `zero_grad`) against PyTorch 1.13.
* With `sparse=True` and a tie, the embedding's sparse gradient and the
  projection's dense one are accumulated into one dense `.grad`
  (chapter 6 checks `model/tied-sparse-sgd`).
* `nn.Linear(D, V)` draws its weight in the constructor even if it is
  tied right after, so tying does not change any later random draw; we
  do the same.
* Where we differ: nowhere in the numbers of a correct model. Our
  `param_list_add` refuses a buffer listed twice, where PyTorch 1.13's
  optimizers accept it with a warning, update it twice per step and keep
  one state for it.

## Summary

* Tying makes the output projection's weight *and gradient* the table's
  buffers; the table's gradient must exist before the tie and never be
  replaced.
* The tied gradient is the sum of the embedding path (a scatter-add into
  the looked-up rows) and the projection path (dense: every row, every
  step); only the sum passes the gradient check.
* A tied table has one parameter and one optimizer state; listed twice it
  gets two states and two updates per step, which the book's parameter
  list refuses.
* `zero_grad` clears both paths at once; forgetting it corrupts every
  row. `padding_idx` stops only the embedding path: a tied padding row
  moves.
* `max_norm` renormalises the shared rows before the projection reads
  them; PyTorch fails only when the projection read them first.
* Tying saves $VD$ parameters (38,597,376 for GPT-2) and, with Adam,
  $16VD$ bytes.
* With PyTorch's default $N(0, 1)$ initialization a tied model starts
  with logits of size $D$; tied models need a small initialization. With
  no layer between lookup and projection, tying forces symmetric scores
  and hurts; with a layer, see the full experiment.

## Exercises

1. Predict, then check in Lab 5: how many rows of a tied table with
   $V = 50$ get a gradient from a batch of 5 distinct words? With
   `bias=False`?
2. Write `lm_tie` with its two checks (Lab 5 grades it). Why must the
   table's gradient exist before the tie?
3. Write `lm_backward` (Lab 5 grades it). Why add the two paths first and
   then add their sum, and not each into `.grad` in turn?
4. Show that for the bare tied model the score matrix $W W^\top$ is
   symmetric and that the diagonal dominates when the rows are long.
   What does that predict for the most frequent bigram "of the"?
5. Tie a table of $V = 10^5$, $D = 256$ and train it with Adam. How many
   bytes does the optimizer state take, tied and untied? How many rows
   does each step update?
6. Run `build/bin/ch05 --init-range 0` (PyTorch's default
   initialization). What happens to the tied runs, and why?
*/
