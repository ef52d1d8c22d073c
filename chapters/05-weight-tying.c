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
options and two switches, `tied` and `bias`. The untied model is the
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
    m->x = zeroed(B, D), m->dx = zeroed(B, D);
    m->logits = zeroed(B, V), m->dlogits = zeroed(B, V);
    m->grad_emb_path = zeroed(V, D), m->grad_proj_path = zeroed(V, D);
    if (!m->x || !m->dx || !m->logits || !m->dlogits || !m->grad_emb_path ||
        !m->grad_proj_path)
        return emb_fail(err, "cannot allocate a model of %lld x %lld for batches of %lld",
                        (long long)V, (long long)D, (long long)B);
    return 0;
}

int lm_init(LangModel *m, int64_t V, int64_t D, const LmOptions *o, int64_t max_batch,
            TorchGenerator *gen, EmbError *err) {
    memset(m, 0, sizeof *m);
    if (max_batch < 1)
        return emb_fail(err, "max_batch %lld: must be at least 1", (long long)max_batch);
    if (emb_init_with_options(&m->emb, V, D, &o->emb, gen, err) != 0) return -1;
    if (linear_init_bias(&m->proj, D, V, o->bias, gen, err) != 0) {
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

void lm_free(LangModel *m) {
    linear_free(&m->proj);  // leaves a tied weight alone: the table owns it
    emb_free(&m->emb);
    free(m->x), free(m->dx), free(m->logits), free(m->dlogits);
    free(m->grad_emb_path), free(m->grad_proj_path);
    memset(m, 0, sizeof *m);
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
    if (m->proj.in_features != e->embedding_dim || m->proj.out_features != e->num_embeddings)
        return emb_fail(err,
                        "cannot tie nn.Linear(%lld, %lld) to a table of %lld x %lld: "
                        "the projection must be nn.Linear(D, V)",
                        (long long)m->proj.in_features, (long long)m->proj.out_features,
                        (long long)e->num_embeddings, (long long)e->embedding_dim);
    if (!e->grad)
        return emb_fail(err, "cannot tie: the table has no gradient buffer yet; allocate "
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

int lm_forward(LangModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
               double *loss, EmbError *err) {
    int64_t V = m->emb.num_embeddings;
    if (B < 1 || B > m->max_batch)
        return emb_fail(err, "batch of %lld positions: the model takes 1 to %lld",
                        (long long)B, (long long)m->max_batch);
    for (int64_t i = 0; i < B; i++) {
        if (targets[i] < 0 || targets[i] >= V)
            return emb_fail(err, "Target %lld is out of bounds: the classes are [0, %lld)",
                            (long long)targets[i], (long long)V);
    }
    if (emb_forward(&m->emb, inputs, B, m->x, err) != 0) return -1;  // x = emb(inputs)
    linear_forward(&m->proj, m->x, B, m->logits);                     // logits = proj(x)
    *loss = loss_cross_entropy(m->logits, targets, B, V, m->dlogits);
    return 0;
}

/**
## Backward: two paths, one gradient

The loss reaches the tied matrix along two paths. Write $x_i = W_{t_i}$
for the looked-up rows and $z_i = W x_i$ for the logits (no bias, to keep
the formula short). Then

$$
\frac{\partial L}{\partial W} =
\underbrace{\sum_i e_{t_i} \Big(\frac{\partial L}{\partial x_i}\Big)^{\!\top}}_{\text{embedding path}}
+ \underbrace{\sum_i \frac{\partial L}{\partial z_i}\, x_i^\top}_{\text{projection path}},
\qquad
\frac{\partial L}{\partial x_i} = W^\top \frac{\partial L}{\partial z_i}.
$$

The embedding path is chapter 2's scatter-add: it touches only the rows
that were looked up. The projection path is the weight gradient of a
`Linear`, $dz^\top x$, and it is dense: every row $v$ gets
$\sum_i (p_{iv} - [v = y_i])\, x_i / B$, and a softmax probability is never
exactly zero. So a tied table has a gradient in every row at every step.

PyTorch's autograd computes each path into its own tensor, adds the two,
and then adds the sum into `.grad`. `lm_backward` does the same, in the
same order, which is what makes our gradient equal PyTorch's to the bit
and not just to rounding: it runs chapter 2's `linear_backward` with the
weight's gradient pointed at `grad_proj_path`, chapter 3's
`emb_backward_opts` with the table's gradient pointed at `grad_emb_path`
(both views are copies of the structs, so the model itself is not
touched), and then adds. Untied, each path goes to its own parameter.
*/

int lm_backward(LangModel *m, const int64_t *inputs, int64_t B, EmbError *err) {
    int64_t n = m->emb.num_embeddings * m->emb.embedding_dim;
    if (B < 1 || B > m->max_batch)
        return emb_fail(err, "batch of %lld positions: the model takes 1 to %lld",
                        (long long)B, (long long)m->max_batch);
    memset(m->grad_proj_path, 0, (size_t)n * sizeof(float));
    Linear proj = m->proj;                   // a view: the projection path alone
    proj.weight_grad = m->grad_proj_path;    // (the bias gradient is the real one)
    linear_backward(&proj, m->x, m->dlogits, B, m->dx);
    memset(m->grad_emb_path, 0, (size_t)n * sizeof(float));
    Embedding table = m->emb;                // a view: the embedding path alone
    table.grad = m->grad_emb_path;
    if (emb_backward_opts(&table, inputs, B, m->dx, err) != 0) return -1;
    float *g = m->emb.grad;  // (V, D)
    if (m->tied) {
        for (int64_t k = 0; k < n; k++) g[k] += m->grad_emb_path[k] + m->grad_proj_path[k];
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
is in the list twice. Older PyTorch accepted such a list with a warning;
an optimizer given it keeps *two* states for one matrix and updates it
*twice* per step, each time with the whole gradient. Chapter 4's
`param_list_add` now refuses a buffer it already holds, with a message
that names both entries. `lm_double_listing_run` builds the doubled list
by hand, bypassing that check, to measure what it would do.
*/

int lm_parameters(LangModel *m, ParamList *out, EmbError *err) {
    out->n = 0;
    float *grad = m->emb.requires_grad ? m->emb.grad : NULL;  // frozen: p.grad is None
    if (param_list_add(out, "emb.weight", m->emb.weight, grad, m->emb.num_embeddings,
                       m->emb.embedding_dim, err) != 0)
        return -1;
    return linear_parameters(&m->proj, "proj.weight", "proj.bias", out, err);
}

int lm_double_listing_run(OptimKind kind, const OptimOptions *o, float out_twice[6],
                          float out_once[6], int64_t *state_twice, int64_t *state_once,
                          EmbError *err) {
    float g[6] = {1, 1, 1, 1, 1, 1};
    Param p = {.name = "emb.weight", .data = out_twice, .grad = g, .ndim = 2,
               .shape = {3, 2}, .numel = 6};
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

void lm_zero_grad(LangModel *m) {
    emb_zero_grad(&m->emb);
    if (!m->proj.shares_weight) linear_zero_grad(&m->proj);
    else if (m->proj.bias_grad)
        memset(m->proj.bias_grad, 0, (size_t)m->proj.out_features * sizeof(float));
}

int lm_train_step(LangModel *m, Optimizer *o, const ParamList *params, const int64_t *inputs,
                  const int64_t *targets, int64_t B, double *loss, EmbError *err) {
    lm_zero_grad(m);                                                    // zero_grad()
    if (lm_forward(m, inputs, targets, B, loss, err) != 0) return -1;  // loss = model(x)
    if (lm_backward(m, inputs, B, err) != 0) return -1;                // loss.backward()
    return optim_step(o, params, err);                                  // step()
}

int lm_eval_loss(LangModel *m, const int64_t *tokens, int64_t n, double *loss,
                 EmbError *err) {
    if (n < 2) return emb_fail(err, "a text of %lld tokens has no next token", (long long)n);
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
        *result = gradcheck_run(m->emb.weight, analytic, entries, n, check_loss, &ctx, 1e-3f,
                                1e-4, 1e-2);
    }
    free(entries);
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

// The sorted names of dir's fortune files (*n of them; the caller frees).
static char **fortune_files(const char *dir, int *n) {
    DIR *d = opendir(dir);
    char **names = NULL;
    *n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!is_fortune_file(dir, e->d_name)) continue;
        char **more = realloc(names, (size_t)(*n + 1) * sizeof *names);
        if (!more || !(more[*n] = strdup(e->d_name))) {
            names = more ? more : names;
            break;
        }
        names = more, (*n)++;
    }
    if (d) closedir(d);
    if (names) qsort(names, (size_t)*n, sizeof *names, by_name);
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
static int temp_file(const Text *t, char path[64]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, 64, "%.40s/lm-text-XXXXXX", tmp && *tmp ? tmp : "/tmp");
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
        const WordId *hit = bsearch(&key, known + 1, (size_t)(V - 1), sizeof *known, by_word);
        id_of[k] = hit ? hit->id : CORPUS_UNK;
    }
    for (int64_t i = 0; i < text->n_tokens; i++) valid[i] = id_of[text->tokens[i]];
    free(known), free(id_of);
    return 0;
}

// Tokenises the two texts: train with its vocabulary, valid into train's ids.
static int tokenise(LmCorpus *c, const Text *train, const Text *valid, int64_t max_vocab,
                    EmbError *err) {
    char tpath[64], vpath[64];
    Corpus v = {0};
    if (temp_file(train, tpath) != 0) return emb_fail(err, "cannot write a temporary file");
    int rc = corpus_from_file(&c->train, tpath, max_vocab, err);
    unlink(tpath);
    if (rc != 0) return -1;
    if (temp_file(valid, vpath) != 0) return emb_fail(err, "cannot write a temporary file");
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
        return emb_fail(err, "valid_every %lld: must be at least 2", (long long)valid_every);
    int n = 0;
    char **names = fortune_files(dir, &n);
    Text train = {0}, valid = {0};
    int rc = n == 0 ? emb_fail(err,
                               "no fortune files in %s: install Debian's fortunes "
                               "package (apt-get install fortunes)",
                               dir)
                    : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (split_file(path, valid_every, &c->n_fortunes, &train, &valid) != 0)
            rc = emb_fail(err, "cannot read %s", path);
    }
    if (rc == 0 && valid.len == 0)
        rc = emb_fail(err, "%s: %lld fortunes, too few for a validation text",
                      dir, (long long)c->n_fortunes);
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
    int64_t nt = c->train.n_tokens < cfg->eval_tokens ? c->train.n_tokens : cfg->eval_tokens;
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
    o.tied = cfg->tied, o.bias = cfg->bias;
    OptimOptions oo = optim_defaults(cfg->optimizer);
    oo.lr = cfg->lr;
    rng_manual_seed(&gen, cfg->seed);
    int64_t B = cfg->batch > 256 ? cfg->batch : 256;  // evaluation reads 256 at a time
    if (lm_init(m, c->train.vocab_size, cfg->D, &o, B, &gen, err) != 0) return -1;
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
        log->rows_with_grad[s] = grad_rows_nonzero(m.emb.grad, m.emb.num_embeddings, cfg->D);
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
