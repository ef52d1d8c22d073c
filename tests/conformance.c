/*
 * conformance.c - checks the book's numbers against PyTorch reference files.
 *
 *     build/conformance FILE...
 *
 * Every case of every file (tests/reference/FORMAT.md) is run through the
 * book's own functions and judged against what PyTorch computed. One line
 * per case:
 *
 *     NAME  PASS  max abs err A, max rel err R (tolerance T)
 *     NAME  FAIL  max abs err A, max rel err R (tolerance T); what went wrong
 *     NAME  not implemented yet (chapter N)
 *
 * and a last line, alone: `P passed, F failed, S skipped`. A skipped case is
 * one whose chapter the book has not reached; it never counts as passed. A
 * file that cannot be read counts as one failure (its message, naming the
 * file and line, goes to stderr). The exit status is 0 only if nothing
 * failed and something passed; 2 means bad usage.
 *
 * How values are judged, for every expected tensor of a case:
 *   - bits32 tensors: the float32 bit patterns must be equal;
 *   - f32 tensors:    |got - want| <= atol + rtol * |want| for every value,
 *                     with the case's atol and rtol; NaN matches only NaN,
 *                     and an infinity only itself.
 * The "max abs err" is the largest |got - want|; the "max rel err" the
 * largest |got - want| / |want| over values whose want is not 0.
 *
 * Adding a kind, or a chapter's part of one: write its handler
 * `run_KIND(case, verdict, err)`, which runs the book's code and calls
 * compare() on every expected tensor, and put it in HANDLERS with the last
 * chapter it covers. A case whose `needs` chapter is beyond that is skipped.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../chapters/01-lookup-table.h"
#include "../chapters/02-gradient-flow.h"
#include "../chapters/03-padding-and-options.h"
#include "../chapters/04-optimizers.h"
#include "../chapters/05-weight-tying.h"
#include "../chapters/06-sparse-efficiency.h"
#include "../src/emb_error.h"
#include "../src/reffile.h"
#include "../src/torch_rng.h"

#define NAME_WIDTH 44  // column width of case names in the report

// What running one case found.
typedef struct Verdict {
    double atol, rtol;        // the case's tolerance for f32 tensors
    bool any_bits, any_tol;   // some bits32 / some f32 tensor was compared
    double max_abs, max_rel;  // the largest errors seen
    int64_t compared, bad;    // values compared; values outside their tolerance
    char first[320];          // where the first bad value was, if any
    char note[200];           // anything else worth printing (an expected error)
} Verdict;

// Running totals over all files.
typedef struct Tally {
    int passed, failed, skipped;
} Tally;

// ---------------------------------------------------------------------------
// Comparing tensors
// ---------------------------------------------------------------------------

// |got - want|, where NaN matches NaN and an infinity matches only itself.
static double abs_error(double got, double want) {
    if (isnan(want) || isnan(got)) return (isnan(want) && isnan(got)) ? 0.0 : INFINITY;
    if (got == want) return 0.0;  // also equal infinities
    return fabs(got - want);
}

// Writes value number i of a tensor of this shape as "key[1,2]".
static void format_position(char *buf, size_t size, const char *label, const RefField *t,
                            int64_t i) {
    int64_t index[REF_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        index[d] = t->dims[d] ? i % t->dims[d] : 0;
        i = t->dims[d] ? i / t->dims[d] : 0;
    }
    size_t n = (size_t)snprintf(buf, size, "%s[", label);
    for (int d = 0; d < t->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, d ? "," : "", index[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

// Compares got, laid out like want, with the expected tensor want.
static void compare(Verdict *v, const char *label, const float *got, const RefField *want) {
    bool exact = want->type == REF_BITS32;
    if (exact) v->any_bits = true;
    else v->any_tol = true;
    for (int64_t i = 0; i < want->numel; i++) {
        double g = got[i], w = want->f32[i];
        double err = abs_error(g, w);
        bool ok;
        if (exact) {
            uint32_t bits;
            memcpy(&bits, &got[i], sizeof bits);
            ok = bits == want->bits[i];
        } else {
            ok = err <= v->atol + v->rtol * fabs(w);
        }
        v->compared++;
        if (err > v->max_abs || isnan(err)) v->max_abs = err;
        if (w != 0 && isfinite(w) && err / fabs(w) > v->max_rel) v->max_rel = err / fabs(w);
        if (ok) continue;
        if (v->bad++ == 0) {
            char pos[128];
            format_position(pos, sizeof pos, label, want, i);
            if (exact) {
                uint32_t bits;
                memcpy(&bits, &got[i], sizeof bits);
                snprintf(v->first, sizeof v->first, "%s: got %08" PRIx32 " (%.9g), want %08" PRIx32
                         " (%.9g)", pos, bits, g, want->bits[i], w);
            } else {
                snprintf(v->first, sizeof v->first, "%s: got %.9g, want %.9g", pos, g, w);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers for handlers
// ---------------------------------------------------------------------------

// A table with the given (V, D) weight and PyTorch's default options.
static int table_from_weight(Embedding *e, int64_t V, int64_t D, const float *weight,
                             EmbError *err) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);  // emb_init's draws are overwritten below
    if (emb_init(e, V, D, &gen, err) != 0) return -1;
    memcpy(e->weight, weight, (size_t)(V * D) * sizeof(float));  // weight is (V, D)
    return 0;
}

// The largest number of values an index tensor called key holds in any step (at least 1).
static int64_t max_step_numel(const RefCase *c, const char *key) {
    int64_t n = 1;
    for (int s = 0; s < c->n_steps; s++) {
        const RefField *t = ref_get(&c->steps[s].fields, key);
        if (t && t->numel > n) n = t->numel;
    }
    return n;
}

// Compares got with the step's tensor called key, labelled "step N key"; skips an absent one.
static void compare_step(Verdict *v, int step, const RefFields *sf, const char *key,
                         const float *got) {
    const RefField *want = ref_get(sf, key);
    if (!want) return;
    char label[96];
    snprintf(label, sizeof label, "step %d %s", step, key);
    compare(v, label, got, want);
}

// True if a case sets an option that chapter 3 teaches.
static bool uses_options(const RefFields *f) {
    return !ref_is_none(f, "padding_idx") || !ref_is_none(f, "max_norm") ||
           ref_bool(f, "scale_grad_by_freq");
}

// A case's options (padding_idx as the case gives it, before normalisation).
static EmbeddingOptions case_options(const RefFields *f) {
    EmbeddingOptions opt = emb_default_options();
    opt.has_padding_idx = !ref_is_none(f, "padding_idx");
    if (opt.has_padding_idx) opt.padding_idx = ref_int(f, "padding_idx");
    opt.has_max_norm = !ref_is_none(f, "max_norm");
    if (opt.has_max_norm) opt.max_norm = ref_real(f, "max_norm");
    if (ref_get(f, "norm_type")) opt.norm_type = ref_real(f, "norm_type");  // init has none
    opt.scale_grad_by_freq = ref_bool(f, "scale_grad_by_freq");
    return opt;
}

// True if a case's optimizer is one of chapter 4's: anything but none and plain SGD.
static bool uses_optimizer(const RefFields *f) {
    const char *opt = ref_word(f, "optimizer");
    bool plain_sgd = strcmp(opt, "sgd") == 0 && ref_real(f, "momentum") == 0 &&
                     ref_real(f, "weight_decay") == 0 && !ref_bool(f, "nesterov") &&
                     !ref_bool(f, "maximize");
    return strcmp(opt, "none") != 0 && !plain_sgd;
}

// Chapter 4's optimizer for a case: its kind, and every hyperparameter the
// file gives (the reader fills in PyTorch's defaults for those it omits).
static int case_optimizer(const RefFields *f, const ParamList *params, Optimizer *o,
                          EmbError *err) {
    OptimKind kind;
    if (optim_kind_from_name(ref_word(f, "optimizer"), &kind, err) != 0) return -1;
    OptimOptions op = optim_defaults(kind);
#define TAKE_REAL(key) if (ref_get(f, #key)) op.key = ref_real(f, #key)
#define TAKE_BOOL(key) if (ref_get(f, #key)) op.key = ref_bool(f, #key)
    TAKE_REAL(lr); TAKE_REAL(momentum); TAKE_REAL(dampening); TAKE_REAL(beta1);
    TAKE_REAL(beta2); TAKE_REAL(eps); TAKE_REAL(weight_decay); TAKE_REAL(lr_decay);
    TAKE_REAL(initial_accumulator_value); TAKE_REAL(alpha);
    TAKE_BOOL(nesterov); TAKE_BOOL(amsgrad); TAKE_BOOL(centered); TAKE_BOOL(maximize);
#undef TAKE_REAL
#undef TAKE_BOOL
    return optim_init(o, kind, &op, params, err);
}

// Compares the step's index tensor called key with got (n,), exactly; skips an absent one.
static void compare_indices(Verdict *v, int step, const RefFields *sf, const char *key,
                            const int64_t *got, int64_t n) {
    const RefField *want = ref_get(sf, key);
    if (!want) return;
    v->compared += want->numel > n ? want->numel : n;
    if (want->numel != n) {
        v->bad++;
        if (!v->first[0])
            snprintf(v->first, sizeof v->first, "step %d %s: %lld entries, want %lld", step,
                     key, (long long)n, (long long)want->numel);
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        if (got[k] == want->i64[k]) continue;
        v->bad++;
        if (!v->first[0])
            snprintf(v->first, sizeof v->first, "step %d %s[%lld]: got %lld, want %lld", step,
                     key, (long long)k, (long long)got[k], (long long)want->i64[k]);
    }
}

// Chapter 6's optimizer for a case: SparseAdam, or chapter 4's kinds with a
// sparse path, with every hyperparameter the file gives.
static int case_sparse_optimizer(const RefFields *f, const ParamList *params,
                                 SparseOptimizer *o, EmbError *err) {
    bool sparse_adam = strcmp(ref_word(f, "optimizer"), "sparse_adam") == 0;
    OptimKind kind = OPTIM_ADAM;
    if (!sparse_adam && optim_kind_from_name(ref_word(f, "optimizer"), &kind, err) != 0)
        return -1;
    OptimOptions op = optim_defaults(kind);
#define TAKE_REAL(key) if (ref_get(f, #key)) op.key = ref_real(f, #key)
#define TAKE_BOOL(key) if (ref_get(f, #key)) op.key = ref_bool(f, #key)
    TAKE_REAL(lr); TAKE_REAL(momentum); TAKE_REAL(dampening); TAKE_REAL(beta1);
    TAKE_REAL(beta2); TAKE_REAL(eps); TAKE_REAL(weight_decay); TAKE_REAL(lr_decay);
    TAKE_REAL(initial_accumulator_value); TAKE_BOOL(nesterov); TAKE_BOOL(maximize);
#undef TAKE_REAL
#undef TAKE_BOOL
    return sparse_adam ? sparse_adam_init(o, &op, params, err)
                       : sparse_optim_init(o, kind, &op, params, err);
}

// nn.Embedding.from_pretrained(weight, freeze=False, **options) on a copy of
// the case's (V, D) weight, which keeps a nonzero padding row as PyTorch does.
// The table shares *weight (owns_weight false): free it after emb_free(e).
static int table_with_options(Embedding *e, const RefFields *f, float **weight, EmbError *err) {
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    EmbeddingOptions opt = case_options(f);
    memset(e, 0, sizeof *e);  // so that emb_free(e) is safe on every path
    *weight = malloc((size_t)(V * D) * sizeof(float));  // (V, D); the reader bounds V*D
    if (!*weight) return emb_fail(err, "out of memory for a %lld x %lld table", (long long)V,
                                  (long long)D);
    memcpy(*weight, ref_get(f, "weight")->f32, (size_t)(V * D) * sizeof(float));
    return emb_from_pretrained(e, *weight, V, D, false, &opt, err);
}

// ---------------------------------------------------------------------------
// Handlers, one per kind
// ---------------------------------------------------------------------------

// Replaces every row of e but the padding row with the draws of the scalar
// normal_ path from seed, as PyTorch without AVX2 draws the whole table.
static int redraw_scalar(Embedding *e, uint64_t seed, EmbError *err) {
    int64_t V = e->num_embeddings, D = e->embedding_dim;
    float *draws = malloc((size_t)(V * D) * sizeof(float));  // (V, D)
    if (!draws) return emb_fail(err, "out of memory for a %lld x %lld table", (long long)V,
                                (long long)D);
    TorchGenerator gen;
    rng_manual_seed(&gen, seed);
    rng_normal_path_(&gen, draws, V * D, 0.0f, 1.0f, RNG_PATH_SCALAR);
    for (int64_t k = 0; k < V; k++) {
        if (k == e->padding_idx) continue;  // zeroed after the draws: keep it
        memcpy(e->weight + k * D, draws + k * D, (size_t)D * sizeof(float));  // row k
    }
    free(draws);
    return 0;
}

// init: torch.manual_seed(seed); nn.Embedding(V, D, padding_idx) must match bit for bit.
//
// Without padding the table is chapter 1's emb_init; with padding it is
// chapter 3's emb_init_with_options, which draws the same table and then
// zeroes the padding row, as PyTorch's reset_parameters does (normal_ on the
// whole table, then fill_(0) on the row): this checks chapter 1's claim that
// padding does not change the draws. Both draw with the avx2 path. The
// scalar path (PyTorch without AVX2) is not something the book chooses, so
// torch_rng's rng_normal_path_ redraws the table from the same seed, exactly
// as emb_init draws with the other path, and replaces every row but the
// padding row.
static int run_init(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    EmbeddingOptions opt = case_options(f);
    TorchGenerator gen;
    rng_manual_seed(&gen, ref_uint(f, "seed"));
    Embedding e;
    int rc = opt.has_padding_idx ? emb_init_with_options(&e, V, D, &opt, &gen, err)
                                 : emb_init(&e, V, D, &gen, err);
    if (rc != 0) return -1;
    if (strcmp(ref_word(f, "path"), "scalar") == 0)
        rc = redraw_scalar(&e, ref_uint(f, "seed"), err);
    if (rc == 0) compare(v, "weight", e.weight, ref_get(f, "weight"));
    emb_free(&e);
    return rc;
}

// lookup: F.embedding(indices, weight), or the error PyTorch raises for a bad index.
static int run_lookup(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    const RefField *idx = ref_get(f, "indices");
    Embedding e;
    if (table_from_weight(&e, V, D, ref_get(f, "weight")->f32, err) != 0) return -1;
    // out is (N, D), plus one so that N = 0 allocates something; the reader bounds N*D
    float *out = malloc((size_t)(idx->numel * D + 1) * sizeof(float));
    if (!out) {
        emb_free(&e);
        return emb_fail(err, "out of memory");
    }
    int rc = 0;
    EmbError lookup_err = {{0}};
    int got = emb_lookup(&e, idx->i64, idx->numel, out, &lookup_err);
    const RefField *want_error = ref_get(f, "error");
    if (want_error) {
        // PyTorch: IndexError: index out of range in self
        const char *prefix = "index out of range in self";
        v->compared++;
        if (got == 0) {
            v->bad++;
            snprintf(v->first, sizeof v->first, "expected an error (%s), got none",
                     want_error->word);
        } else if (strncmp(lookup_err.msg, prefix, strlen(prefix)) != 0) {
            v->bad++;
            snprintf(v->first, sizeof v->first, "expected '%s...', got '%.200s'", prefix,
                     lookup_err.msg);
        } else {
            snprintf(v->note, sizeof v->note, "error as expected: %.160s", lookup_err.msg);
        }
    } else if (got != 0) {
        rc = emb_fail(err, "%s", lookup_err.msg);
    } else {
        compare(v, "output", out, ref_get(f, "output"));
    }
    free(out);
    emb_free(&e);
    return rc;
}

// train: a trajectory of lookups, backward passes of sum(output * G), and
// optimizer steps.
//
// A case without options runs chapter 2's functions on chapter 1's table:
// emb_lookup and the scatter-add emb_backward. A case with options runs
// chapter 3's module: a table from emb_from_pretrained (freeze false; the
// case's weight may have a nonzero padding row, which from_pretrained
// keeps), emb_forward (renormalise, then look up) and emb_backward_opts.
// Plain SGD is chapter 2's sgd_step; every other optimizer is chapter 4's,
// given the table's parameter list, and its steps are compared bit for bit.
static int run_sparse_train(const RefCase *c, Verdict *v, EmbError *err);

static int run_train(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    if (ref_bool(f, "sparse") || strcmp(ref_word(f, "optimizer"), "sparse_adam") == 0)
        return run_sparse_train(c, v, err);
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    bool sgd = strcmp(ref_word(f, "optimizer"), "sgd") == 0, options = uses_options(f);
    bool chapter4 = uses_optimizer(f);
    float lr = (float)ref_real(f, "lr");
    Embedding e;
    Optimizer opt = {0};
    ParamList params = {0};
    float *weight = NULL;  // with options: the (V, D) buffer the table shares
    int rc = options ? table_with_options(&e, f, &weight, err)
                     : table_from_weight(&e, V, D, ref_get(f, "weight")->f32, err);
    // out is (N, D) for the largest step; the reader bounds N*D
    float *out = malloc((size_t)(max_step_numel(c, "indices") * D) * sizeof(float));
    if (rc == 0) rc = out ? emb_alloc_grad(&e, err) : emb_fail(err, "out of memory");
    if (rc == 0 && chapter4) {
        rc = emb_parameters(&e, &params, err);
        if (rc == 0) rc = case_optimizer(f, &params, &opt, err);
    }
    for (int s = 0; s < c->n_steps && rc == 0; s++) {
        const RefFields *sf = &c->steps[s].fields;
        const RefField *idx = ref_get(sf, "indices");
        const float *G = ref_get(sf, "G")->f32;  // (N, D)
        if (ref_bool(f, "zero_grad")) emb_zero_grad(&e);
        rc = options ? emb_forward(&e, idx->i64, idx->numel, out, err)
                     : emb_lookup(&e, idx->i64, idx->numel, out, err);
        if (rc != 0) break;
        compare_step(v, s + 1, sf, "output", out);
        rc = options ? emb_backward_opts(&e, idx->i64, idx->numel, G, err)
                     : emb_backward(&e, idx->i64, idx->numel, G, err);
        if (rc != 0) break;
        compare_step(v, s + 1, sf, "grad", e.grad);
        if (chapter4) rc = optim_step(&opt, &params, err);
        else if (sgd) sgd_step(e.weight, e.grad, V * D, lr);
        compare_step(v, s + 1, sf, "weight", e.weight);
    }
    optim_free(&opt);
    free(out);
    emb_free(&e);
    free(weight);
    return rc;
}

// train with sparse true: chapter 6. The backward pass appends the
// step's entries to a SparseGrad (emb_backward_sparse), which is compared
// entry by entry with PyTorch's uncoalesced indices and values, and, as a
// dense (V, D) matrix, with its coalesced sum; the step is chapter 6's
// sparse_optim_step, compared bit for bit.
static int run_sparse_train(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    bool step = strcmp(ref_word(f, "optimizer"), "none") != 0;
    Embedding e;
    SparseGrad g = {0}, sum = {0};
    SparseOptimizer opt = {0};
    ParamList params = {0};
    float *weight = NULL;  // the (V, D) buffer the table shares
    float *dense = malloc((size_t)(V * D) * sizeof(float));  // (V, D)
    float *out = malloc((size_t)(max_step_numel(c, "indices") * D) * sizeof(float));
    int rc = table_with_options(&e, f, &weight, err);
    if (rc == 0 && (!dense || !out)) rc = emb_fail(err, "out of memory");
    if (rc == 0) rc = sparse_grad_init(&g, V, D, err) || sparse_grad_init(&sum, V, D, err);
    if (rc == 0) rc = emb_sparse_parameters(&e, &g, &params, err);
    if (rc == 0 && step) rc = case_sparse_optimizer(f, &params, &opt, err);
    for (int s = 0; s < c->n_steps && rc == 0; s++) {
        const RefFields *sf = &c->steps[s].fields;
        const RefField *idx = ref_get(sf, "indices");
        if (ref_bool(f, "zero_grad")) sparse_grad_zero(&g);
        rc = emb_forward(&e, idx->i64, idx->numel, out, err);
        if (rc == 0) compare_step(v, s + 1, sf, "output", out);
        if (rc == 0) rc = emb_backward_sparse(&e, &g, idx->i64, idx->numel,
                                              ref_get(sf, "G")->f32, err);
        if (rc == 0) rc = sparse_coalesce(&g, &sum, err);
        if (rc != 0) break;
        memset(dense, 0, (size_t)(V * D) * sizeof(float));
        sparse_add_to_dense(&sum, dense);
        compare_step(v, s + 1, sf, "grad", dense);
        compare_indices(v, s + 1, sf, "grad_indices", g.indices, g.nnz);
        compare_step(v, s + 1, sf, "grad_values", g.values);
        if (step) rc = sparse_optim_step(&opt, &params, err);
        compare_step(v, s + 1, sf, "weight", e.weight);
    }
    sparse_optim_free(&opt);
    sparse_grad_free(&g);
    sparse_grad_free(&sum);
    free(out), free(dense);
    emb_free(&e);
    free(weight);
    return rc ? -1 : 0;
}

// Copies a case's projection into chapter 2's Linear (D -> V). A case
// without a bias (bias false) gets nn.Linear(bias=False): chapter 4's
// linear_drop_bias, after which forward, backward and every step skip it.
static void proj_load(Linear *proj, const RefFields *f, int64_t V, int64_t D) {
    memcpy(proj->weight, ref_get(f, "proj_weight")->f32, (size_t)(V * D) * sizeof(float));
    const RefField *bias = ref_get(f, "proj_bias");
    if (bias) memcpy(proj->bias, bias->f32, (size_t)V * sizeof(float));
    else linear_drop_bias(proj);
}

// A model's optimizer step: chapter 2's SGD for plain SGD, chapter 4's
// optimizer (built at the first step, from the model's parameter list) for
// anything else.
typedef struct ModelStepper {
    bool chapter4, sgd;
    float lr;
    Optimizer opt;
} ModelStepper;

static ModelStepper stepper_for(const RefFields *f) {
    return (ModelStepper){.chapter4 = uses_optimizer(f),
                          .sgd = strcmp(ref_word(f, "optimizer"), "sgd") == 0,
                          .lr = (float)ref_real(f, "lr")};
}

// Compares one model step with the step's fields. It runs after the optimizer
// step, which changes only the parameters: the logits, the loss and the
// gradients are still those of the step's forward and backward passes.
static void compare_model_step(Verdict *v, int step, const RefFields *sf, const float *logits,
                               double loss, const Embedding *emb, const Linear *proj) {
    float loss_f32 = (float)loss;  // PyTorch's loss is a float32 scalar
    compare_step(v, step, sf, "logits", logits);
    compare_step(v, step, sf, "loss", &loss_f32);
    compare_step(v, step, sf, "grad_weight", emb->grad);
    compare_step(v, step, sf, "grad_proj_weight", proj->weight_grad);
    compare_step(v, step, sf, "grad_proj_bias", proj->bias_grad);  // only if bias
    compare_step(v, step, sf, "weight", emb->weight);
    compare_step(v, step, sf, "proj_weight", proj->weight);
    compare_step(v, step, sf, "proj_bias", proj->bias);
}

// model without options, chapter 2: the untied NextTokenModel.
static int run_next_token_model(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    ModelStepper st = stepper_for(f);
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);  // ntm_init's draws are overwritten below
    NextTokenModel m;
    if (ntm_init(&m, V, D, max_step_numel(c, "inputs"), &gen, err) != 0) return -1;
    memcpy(m.emb.weight, ref_get(f, "weight")->f32, (size_t)(V * D) * sizeof(float));
    proj_load(&m.proj, f, V, D);
    ParamList params;
    int rc = ntm_parameters(&m, &params, err);
    if (rc == 0 && st.chapter4) rc = case_optimizer(f, &params, &st.opt, err);
    for (int s = 0; s < c->n_steps && rc == 0; s++) {
        const RefFields *sf = &c->steps[s].fields;
        const RefField *in = ref_get(sf, "inputs");
        double loss;
        if (ref_bool(f, "zero_grad")) ntm_zero_grad(&m);
        rc = ntm_forward(&m, in->i64, ref_get(sf, "targets")->i64, in->numel, &loss, err);
        if (rc != 0 || (rc = ntm_backward(&m, in->i64, in->numel, err)) != 0) break;
        if (st.chapter4) rc = optim_step(&st.opt, &params, err);
        else if (st.sgd) ntm_sgd_step(&m, st.lr);
        compare_model_step(v, s + 1, sf, m.logits, loss, &m.emb, &m.proj);
    }
    optim_free(&st.opt);
    ntm_free(&m);
    return rc;
}

// model with options, chapter 3: the ContextModel with windows of one token.
//
// Its pooled row is the mean of a window's rows, and the mean of one row is
// the row itself (0 + r, divided by 1, in float32), so with T = 1 the
// ContextModel is the next-token model, with the table's options: its
// forward pass is emb_forward and its backward pass emb_backward_opts.
static int run_context_model(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    ModelStepper st = stepper_for(f);
    int64_t B = max_step_numel(c, "inputs");
    int64_t *lengths = malloc((size_t)B * sizeof *lengths);  // (B,): every window holds 1 token
    Embedding table;
    float *weight = NULL;  // the (V, D) buffer the table shares
    ContextModel m = {0};
    int rc = table_with_options(&table, f, &weight, err);
    if (rc == 0 && !lengths) rc = emb_fail(err, "out of memory");
    if (rc == 0) {
        TorchGenerator gen;
        rng_manual_seed(&gen, 0);  // the projection's draws are overwritten below
        rc = cm_init(&m, &table, V, B, 1, &gen, err);  // takes the table over
    }
    ParamList params;
    if (rc == 0) {
        proj_load(&m.proj, f, V, D);
        for (int64_t b = 0; b < B; b++) lengths[b] = 1;
        rc = emb_alloc_grad(&m.emb, err);
    }
    if (rc == 0) rc = cm_parameters(&m, &params, err);
    if (rc == 0 && st.chapter4) rc = case_optimizer(f, &params, &st.opt, err);
    for (int s = 0; s < c->n_steps && rc == 0; s++) {
        const RefFields *sf = &c->steps[s].fields;
        const RefField *in = ref_get(sf, "inputs");
        double loss;
        if (ref_bool(f, "zero_grad")) cm_zero_grad(&m);
        rc = cm_forward(&m, in->i64, lengths, ref_get(sf, "targets")->i64, in->numel, &loss,
                         err);
        if (rc != 0 || (rc = cm_backward(&m, in->i64, lengths, in->numel, err)) != 0) break;
        if (st.chapter4) rc = optim_step(&st.opt, &params, err);
        else if (st.sgd) cm_sgd_step(&m, st.lr);
        compare_model_step(v, s + 1, sf, m.logits, loss, &m.emb, &m.proj);
    }
    optim_free(&st.opt);
    cm_free(&m);
    emb_free(&table);  // zeroed if the model took it over
    free(weight);
    free(lengths);
    return rc;
}

// model, chapter 5: the LangModel, tied or untied, bias or bias=False, with
// the table's options; every step through chapter 4's optimizer. With
// sparse true (chapter 6) an untied table's gradient is the sparse one,
// built from the same upstream rows (m.dx), and the step is chapter 6's;
// a tied table's gradient is dense whatever `sparse` says (the projection
// path reaches every row), so a tied case runs exactly as without it.
static int run_lang_model(const RefCase *c, Verdict *v, EmbError *err) {
    const RefFields *f = &c->fields;
    int64_t V = ref_int(f, "V"), D = ref_int(f, "D");
    LmOptions o = lm_default_options();
    o.emb = case_options(f);
    o.tied = ref_bool(f, "tied");
    o.bias = ref_bool(f, "bias");
    bool sparse = ref_bool(f, "sparse") && !o.tied;
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);  // lm_init's draws are overwritten below
    LangModel m;
    if (lm_init(&m, V, D, &o, max_step_numel(c, "inputs"), &gen, err) != 0) return -1;
    memcpy(m.emb.weight, ref_get(f, "weight")->f32, (size_t)(V * D) * sizeof(float));
    if (!o.tied) memcpy(m.proj.weight, ref_get(f, "proj_weight")->f32,
                        (size_t)(V * D) * sizeof(float));
    if (o.bias) memcpy(m.proj.bias, ref_get(f, "proj_bias")->f32, (size_t)V * sizeof(float));
    ParamList params;
    SparseOptimizer opt = {0};
    SparseGrad g = {0};
    bool step = strcmp(ref_word(f, "optimizer"), "none") != 0;
    int rc = lm_parameters(&m, &params, err) || sparse_grad_init(&g, V, D, err);
    if (rc == 0 && sparse) params.items[0].grad = NULL, params.items[0].sparse_grad = &g;
    if (rc == 0 && step) rc = case_sparse_optimizer(f, &params, &opt, err);
    for (int s = 0; s < c->n_steps && rc == 0; s++) {
        const RefFields *sf = &c->steps[s].fields;
        const RefField *in = ref_get(sf, "inputs");
        double loss;
        if (ref_bool(f, "zero_grad")) lm_zero_grad(&m), sparse_grad_zero(&g);
        rc = lm_forward(&m, in->i64, ref_get(sf, "targets")->i64, in->numel, &loss, err);
        if (rc != 0 || (rc = lm_backward(&m, in->i64, in->numel, err)) != 0) break;
        if (sparse) rc = emb_backward_sparse(&m.emb, &g, in->i64, in->numel, m.dx, err);
        if (rc == 0 && step) rc = sparse_optim_step(&opt, &params, err);
        compare_model_step(v, s + 1, sf, m.logits, loss, &m.emb, &m.proj);
    }
    sparse_optim_free(&opt);
    sparse_grad_free(&g);
    lm_free(&m);
    return rc ? -1 : 0;
}

// model: an untied dense case is run by chapter 2's (or, with options,
// chapter 3's) model and by chapter 5's, both judged; a tied or sparse one
// by chapter 5's (with chapter 6's sparse gradient when untied).
static int run_model(const RefCase *c, Verdict *v, EmbError *err) {
    if (!ref_bool(&c->fields, "tied") && !ref_bool(&c->fields, "sparse")) {
        int rc = uses_options(&c->fields) ? run_context_model(c, v, err)
                                          : run_next_token_model(c, v, err);
        if (rc != 0) return rc;
    }
    return run_lang_model(c, v, err);
}

// ---------------------------------------------------------------------------
// Which chapter a case needs
// ---------------------------------------------------------------------------

// Chapter 1 has the table, its initialization and the lookup.
static int needs_chapter1(const RefCase *c) {
    (void)c;
    return 1;
}

// An init case: chapter 1's table; chapter 3 zeroes a padding row.
static int needs_init(const RefCase *c) {
    return ref_is_none(&c->fields, "padding_idx") ? 1 : 3;
}

// The chapter that teaches a train case's options and optimizer.
static int needs_options(const RefCase *c) {
    const RefFields *f = &c->fields;
    int chapter = 2;  // dense backward, plain SGD, gradient accumulation
    if (uses_options(f)) chapter = 3;
    const char *opt = ref_word(f, "optimizer");
    bool plain_sgd = strcmp(opt, "sgd") == 0 && ref_real(f, "momentum") == 0 &&
                     ref_real(f, "weight_decay") == 0 && !ref_bool(f, "nesterov") &&
                     !ref_bool(f, "maximize");
    if (strcmp(opt, "none") != 0 && !plain_sgd && chapter < 4) chapter = 4;
    if (ref_bool(f, "sparse") || strcmp(opt, "sparse_adam") == 0) chapter = 6;
    return chapter;
}

// A model case: chapter 2's untied model, chapter 5 for weight tying.
static int needs_model(const RefCase *c) {
    int chapter = needs_options(c);
    if (ref_bool(&c->fields, "tied") && chapter < 5) chapter = 5;
    return chapter;
}

// EmbeddingBag comes after the six chapters on nn.Embedding.
static int needs_bag(const RefCase *c) {
    (void)c;
    return 8;
}

// ---------------------------------------------------------------------------
// The table of handlers
// ---------------------------------------------------------------------------

typedef struct Handler {
    RefKind kind;
    int (*needs)(const RefCase *c);                          // the chapter a case needs
    int (*run)(const RefCase *c, Verdict *v, EmbError *err); // NULL: not written yet
    int covers;  // run handles cases that need chapters up to this one
} Handler;

static const Handler HANDLERS[REF_NUM_KINDS] = {
    [REF_INIT] = {REF_INIT, needs_init, run_init, 3},
    [REF_LOOKUP] = {REF_LOOKUP, needs_chapter1, run_lookup, 1},
    [REF_TRAIN] = {REF_TRAIN, needs_options, run_train, 6},
    [REF_MODEL] = {REF_MODEL, needs_model, run_model, 6},
    [REF_BAG] = {REF_BAG, needs_bag, NULL, 0},
};

// ---------------------------------------------------------------------------
// Running cases and files
// ---------------------------------------------------------------------------

// Writes the tolerance a verdict was judged by.
static void format_tolerance(char *buf, size_t size, const Verdict *v) {
    if (v->any_tol && v->any_bits)
        snprintf(buf, size, "%g + %g*|want|, bits32 exact", v->atol, v->rtol);
    else if (v->any_tol)
        snprintf(buf, size, "%g + %g*|want|", v->atol, v->rtol);
    else
        snprintf(buf, size, "exact bits");
}

// Runs one case and prints its line.
static void run_case(const RefCase *c, FILE *out, Tally *t) {
    const Handler *h = &HANDLERS[c->kind];
    int chapter = h->needs(c);
    if (!h->run || chapter > h->covers) {
        fprintf(out, "%-*s not implemented yet (chapter %d)\n", NAME_WIDTH, c->name, chapter);
        t->skipped++;
        return;
    }
    Verdict v = {0};
    if (c->kind != REF_INIT) {
        v.atol = ref_real(&c->fields, "atol");
        v.rtol = ref_real(&c->fields, "rtol");
    }
    EmbError err = {{0}};
    int rc = h->run(c, &v, &err);
    bool pass = rc == 0 && v.bad == 0;
    fprintf(out, "%-*s %s ", NAME_WIDTH, c->name, pass ? "PASS" : "FAIL");
    const char *sep = "";
    if (v.any_tol || v.any_bits) {
        char tol[96];
        format_tolerance(tol, sizeof tol, &v);
        fprintf(out, " max abs err %.3g, max rel err %.3g (tolerance %s)", v.max_abs, v.max_rel,
                tol);
        sep = ";";
    }
    if (rc != 0)
        fprintf(out, "%s error: %s", sep, err.msg);
    else if (v.bad)
        fprintf(out, "%s %" PRId64 " of %" PRId64 " checks wrong, first %s", sep, v.bad,
                v.compared, v.first);
    else if (v.note[0])
        fprintf(out, "%s %s", sep, v.note);
    fputc('\n', out);
    if (pass) t->passed++;
    else t->failed++;
}

// Runs every case of a file that has been read.
static void run_file(const RefFile *f, FILE *out, Tally *t) {
    for (int i = 0; i < f->n_cases; i++) run_case(&f->cases[i], out, t);
}

#ifndef CONFORMANCE_NO_MAIN

// Reads a file and runs it; a file that cannot be read is one failure.
static void run_path(const char *path, FILE *out, Tally *t) {
    RefFile f;
    EmbError err = {{0}};
    if (ref_read_file(path, &f, &err) != 0) {
        fflush(out);
        fprintf(stderr, "conformance: %s\n", err.msg);
        fprintf(out, "%-*s FAIL  cannot read the file (see the message above)\n", NAME_WIDTH,
                path);
        t->failed++;
        return;
    }
    run_file(&f, out, t);
    ref_free(&f);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: %s FILE...\n"
                "Checks the book's code against PyTorch reference files "
                "(tests/reference/FORMAT.md).\n"
                "Prints one line per case and a final 'N passed, N failed, N skipped'.\n",
                argv[0]);
        return argc < 2 ? 2 : 0;
    }
    Tally t = {0};
    for (int i = 1; i < argc; i++) run_path(argv[i], stdout, &t);
    printf("%d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
    if (t.failed == 0 && t.passed == 0)
        fprintf(stderr, "conformance: no case passed, so nothing was checked\n");
    return (t.failed == 0 && t.passed > 0) ? 0 : 1;
}

#endif  // CONFORMANCE_NO_MAIN
