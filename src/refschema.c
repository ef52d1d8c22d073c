/*
 * refschema.c - the schema of reference files: keys, kinds, fields, shapes.
 *
 * Three tables say what a file may hold (tests/reference/FORMAT.md is their
 * prose): KEYS gives every key its type, so `lr` is always a real and
 * `weight` always a float tensor, wherever it appears; each kind's RefSpec
 * lists say which keys its cases and steps allow, require or default; and
 * KINDS ties a kind's name to those lists and to its check, which runs at
 * the case's `end` line and compares the tensors' shapes.
 *
 * Invariant: every key in a RefSpec list is in KEYS, and every default is
 * text the key's type reads (the reader parses it as if it were written).
 *
 * To add a kind: its name in RefKind (refschema.h), any new keys in KEYS,
 * its case and step lists, a check_KIND that enforces what its runner
 * relies on, and a line in KINDS.
 */
#include "reffile.h"

#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Keys: every key that may appear, with the type of its value
// ---------------------------------------------------------------------------

static const char *const PATH_WORDS[] = {"avx2", "scalar", NULL};
static const char *const OPTIMIZER_WORDS[] = {"none",    "sgd",     "adam",        "adamw",
                                              "adagrad", "rmsprop", "sparse_adam", NULL};
static const char *const MODE_WORDS[] = {"sum", "mean", "max", NULL};
static const char *const ERROR_WORDS[] = {"index_out_of_range", NULL};

static const RefKeyDef KEYS[] = {
    // scalars
    {"seed", REF_UINT, false, false, NULL},
    {"V", REF_INT, false, false, NULL},
    {"D", REF_INT, false, false, NULL},
    {"padding_idx", REF_INT, false, true, NULL},
    {"path", REF_WORD, false, false, PATH_WORDS},
    {"atol", REF_REAL, false, false, NULL},
    {"rtol", REF_REAL, false, false, NULL},
    {"max_norm", REF_REAL, false, true, NULL},
    {"norm_type", REF_REAL, false, false, NULL},
    {"scale_grad_by_freq", REF_BOOL, false, false, NULL},
    {"sparse", REF_BOOL, false, false, NULL},
    {"zero_grad", REF_BOOL, false, false, NULL},
    {"optimizer", REF_WORD, false, false, OPTIMIZER_WORDS},
    {"lr", REF_REAL, false, false, NULL},
    {"momentum", REF_REAL, false, false, NULL},
    {"dampening", REF_REAL, false, false, NULL},
    {"weight_decay", REF_REAL, false, false, NULL},
    {"nesterov", REF_BOOL, false, false, NULL},
    {"maximize", REF_BOOL, false, false, NULL},
    {"beta1", REF_REAL, false, false, NULL},
    {"beta2", REF_REAL, false, false, NULL},
    {"eps", REF_REAL, false, false, NULL},
    {"amsgrad", REF_BOOL, false, false, NULL},
    {"lr_decay", REF_REAL, false, false, NULL},
    {"initial_accumulator_value", REF_REAL, false, false, NULL},
    {"alpha", REF_REAL, false, false, NULL},
    {"centered", REF_BOOL, false, false, NULL},
    {"tied", REF_BOOL, false, false, NULL},
    {"bias", REF_BOOL, false, false, NULL},
    {"mode", REF_WORD, false, false, MODE_WORDS},
    {"include_last_offset", REF_BOOL, false, false, NULL},
    {"error", REF_WORD, false, false, ERROR_WORDS},
    // float tensors
    {"weight", REF_F32, true, false, NULL},
    {"output", REF_F32, true, false, NULL},
    {"G", REF_F32, true, false, NULL},
    {"grad", REF_F32, true, false, NULL},
    {"grad_values", REF_F32, true, false, NULL},
    {"proj_weight", REF_F32, true, false, NULL},
    {"proj_bias", REF_F32, true, false, NULL},
    {"loss", REF_F32, true, false, NULL},
    {"logits", REF_F32, true, false, NULL},
    {"grad_weight", REF_F32, true, false, NULL},
    {"grad_proj_weight", REF_F32, true, false, NULL},
    {"grad_proj_bias", REF_F32, true, false, NULL},
    {"per_sample_weights", REF_F32, true, false, NULL},
    {"grad_per_sample_weights", REF_F32, true, false, NULL},
    // index tensors
    {"indices", REF_I64, true, false, NULL},
    {"grad_indices", REF_I64, true, false, NULL},
    {"inputs", REF_I64, true, false, NULL},
    {"targets", REF_I64, true, false, NULL},
    {"input", REF_I64, true, false, NULL},
    {"offsets", REF_I64, true, false, NULL},
};

const RefKeyDef *refschema_key(const char *key) {
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (strcmp(KEYS[i].key, key) == 0) return &KEYS[i];
    return NULL;
}

// ---------------------------------------------------------------------------
// Schemas: which keys each kind allows, and their defaults
// ---------------------------------------------------------------------------

#define REQUIRED REF_REQUIRED
#define OPTIONAL REF_OPTIONAL

static const RefSpec INIT_CASE[] = {
    {"seed", REQUIRED}, {"V", REQUIRED},    {"D", REQUIRED},
    {"padding_idx", "none"}, {"path", "avx2"}, {"weight", REQUIRED}, {NULL, NULL},
};
static const RefSpec LOOKUP_CASE[] = {
    {"V", REQUIRED},      {"D", REQUIRED},      {"weight", REQUIRED}, {"indices", REQUIRED},
    {"output", OPTIONAL}, {"error", OPTIONAL},  {"atol", "1e-6"},     {"rtol", "1e-5"},
    {NULL, NULL},
};
// Embedding options, the optimizer and tolerances: shared by train, model and bag.
static const RefSpec OPTIONS[] = {
    {"padding_idx", "none"}, {"max_norm", "none"},  {"norm_type", "2"},
    {"scale_grad_by_freq", "false"}, {"sparse", "false"}, {"zero_grad", "true"},
    {"optimizer", "none"},   {"atol", "1e-6"},      {"rtol", "1e-5"},
    {NULL, NULL},
};
static const RefSpec TRAIN_CASE[] = {
    {"V", REQUIRED}, {"D", REQUIRED}, {"weight", REQUIRED}, {NULL, NULL},
};
static const RefSpec TRAIN_STEP[] = {
    {"indices", REQUIRED}, {"G", REQUIRED},      {"output", REQUIRED},
    {"grad", REQUIRED},    {"weight", REQUIRED}, {"grad_indices", OPTIONAL},
    {"grad_values", OPTIONAL}, {NULL, NULL},
};
static const RefSpec MODEL_CASE[] = {
    {"V", REQUIRED},      {"D", REQUIRED},           {"tied", "false"},       {"bias", "true"},
    {"weight", REQUIRED}, {"proj_weight", OPTIONAL}, {"proj_bias", OPTIONAL}, {NULL, NULL},
};
static const RefSpec MODEL_STEP[] = {
    {"inputs", REQUIRED},         {"targets", REQUIRED},           {"loss", OPTIONAL},
    {"logits", OPTIONAL},         {"grad_weight", OPTIONAL},       {"grad_proj_weight", OPTIONAL},
    {"grad_proj_bias", OPTIONAL}, {"weight", REQUIRED},            {"proj_weight", OPTIONAL},
    {"proj_bias", OPTIONAL},      {NULL, NULL},
};
static const RefSpec BAG_CASE[] = {
    {"V", REQUIRED},  {"D", REQUIRED}, {"weight", REQUIRED},
    {"mode", "mean"}, {"include_last_offset", "false"}, {NULL, NULL},
};
static const RefSpec BAG_STEP[] = {
    {"input", REQUIRED},  {"offsets", OPTIONAL}, {"per_sample_weights", OPTIONAL},
    {"G", REQUIRED},      {"output", REQUIRED},  {"grad", REQUIRED},
    {"grad_per_sample_weights", OPTIONAL},       {"weight", REQUIRED},
    {NULL, NULL},
};

// Optimizer hyperparameters with PyTorch 1.13's defaults (betas split in two).
static const RefSpec OPT_NONE[] = {{NULL, NULL}};
static const RefSpec OPT_SGD[] = {
    {"lr", REQUIRED},      {"momentum", "0"},     {"dampening", "0"},
    {"weight_decay", "0"}, {"nesterov", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const RefSpec OPT_ADAM[] = {
    {"lr", "0.001"},       {"beta1", "0.9"},     {"beta2", "0.999"},    {"eps", "1e-8"},
    {"weight_decay", "0"}, {"amsgrad", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const RefSpec OPT_ADAMW[] = {
    {"lr", "0.001"},          {"beta1", "0.9"},     {"beta2", "0.999"},    {"eps", "1e-8"},
    {"weight_decay", "0.01"}, {"amsgrad", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const RefSpec OPT_ADAGRAD[] = {
    {"lr", "0.01"},   {"lr_decay", "0"},      {"weight_decay", "0"},
    {"initial_accumulator_value", "0"},       {"eps", "1e-10"},      {"maximize", "false"},
    {NULL, NULL},
};
static const RefSpec OPT_RMSPROP[] = {
    {"lr", "0.01"},     {"alpha", "0.99"},     {"eps", "1e-8"},       {"weight_decay", "0"},
    {"momentum", "0"},  {"centered", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const RefSpec OPT_SPARSE_ADAM[] = {
    {"lr", "0.001"}, {"beta1", "0.9"}, {"beta2", "0.999"}, {"eps", "1e-8"},
    {"maximize", "false"}, {NULL, NULL},
};

typedef struct OptimizerDef {
    const char *name;
    const RefSpec *spec;
} OptimizerDef;

static const OptimizerDef OPTIMIZERS[] = {
    {"none", OPT_NONE},       {"sgd", OPT_SGD},         {"adam", OPT_ADAM},
    {"adamw", OPT_ADAMW},     {"adagrad", OPT_ADAGRAD}, {"rmsprop", OPT_RMSPROP},
    {"sparse_adam", OPT_SPARSE_ADAM},
};

typedef struct KindDef {
    const char *name;
    const RefSpec *case_spec;
    const RefSpec *step_spec;  // NULL: the kind has no steps
    bool trains;            // takes OPTIONS and an optimizer
    int (*check)(RefReader *r, const RefCase *c);
} KindDef;

static int check_init(RefReader *r, const RefCase *c);
static int check_lookup(RefReader *r, const RefCase *c);
static int check_train(RefReader *r, const RefCase *c);
static int check_model(RefReader *r, const RefCase *c);
static int check_bag(RefReader *r, const RefCase *c);

static const KindDef KINDS[REF_NUM_KINDS] = {
    [REF_INIT] = {"init", INIT_CASE, NULL, false, check_init},
    [REF_LOOKUP] = {"lookup", LOOKUP_CASE, NULL, false, check_lookup},
    [REF_TRAIN] = {"train", TRAIN_CASE, TRAIN_STEP, true, check_train},
    [REF_MODEL] = {"model", MODEL_CASE, MODEL_STEP, true, check_model},
    [REF_BAG] = {"bag", BAG_CASE, BAG_STEP, true, check_bag},
};

// The hyperparameter spec of the optimizer called name (a checked word).
static const RefSpec *optimizer_spec(const char *name) {
    for (size_t i = 0; i < sizeof OPTIMIZERS / sizeof OPTIMIZERS[0]; i++)
        if (strcmp(OPTIMIZERS[i].name, name) == 0) return OPTIMIZERS[i].spec;
    return OPT_NONE;
}

// ---------------------------------------------------------------------------
// Shape checks, one per kind
// ---------------------------------------------------------------------------

// Writes a shape as "(2, 3)" into buf.
static void format_dims(char *buf, size_t size, int ndim, const int64_t *dims) {
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (n < size) snprintf(buf + n, size - n, ")");
}

// Fails unless field f has exactly the shape dims[0..ndim-1].
static int need_shape(RefReader *r, const RefField *f, int ndim, const int64_t *dims,
                      const char *meaning) {
    bool same = f->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = f->dims[i] == dims[i];
    if (same) return 0;
    char got[96], want[96];
    format_dims(got, sizeof got, f->ndim, f->dims);
    format_dims(want, sizeof want, ndim, dims);
    return ref_fail(r, f->line, "'%s' has shape %s; expected %s (%s)", f->key, got, want, meaning);
}

// Fails unless the tensor called key in scope is (a) or (a, b).
static int need_shape2(RefReader *r, const RefFields *scope, const char *key, int ndim, int64_t a,
                       int64_t b, const char *meaning) {
    const RefField *f = ref_get(scope, key);
    if (!f) return 0;
    int64_t dims[2] = {a, b};
    return need_shape(r, f, ndim, dims, meaning);
}

// Fails unless field f's shape is `prefix`'s shape followed by one more dimension, last.
static int need_shape_after(RefReader *r, const RefField *f, const RefField *prefix, int64_t last,
                            const char *meaning) {
    if (!f) return 0;
    int64_t dims[REF_MAX_DIMS + 1];
    memcpy(dims, prefix->dims, (size_t)prefix->ndim * sizeof dims[0]);
    dims[prefix->ndim] = last;
    return need_shape(r, f, prefix->ndim + 1, dims, meaning);
}

// Fails if n indices, each looked up as a row of `width` values, make too large an output.
static int need_output_size(RefReader *r, const RefField *idx, int64_t width, const char *what) {
    if (idx->numel * width > REF_MAX_NUMEL)  // no overflow: both factors are <= 2^22
        return ref_fail(r, idx->line, "%lld indices give a %s of more than %ld values",
                       (long long)idx->numel, what, REF_MAX_NUMEL);
    return 0;
}

// Fails unless index tensor f has between 1 and max_ndim dimensions.
static int need_ndim(RefReader *r, const RefField *f, int max_ndim) {
    if (f->ndim > max_ndim)
        return ref_fail(r, f->line, "'%s' has %d dimensions; at most %d are allowed", f->key,
                       f->ndim, max_ndim);
    return 0;
}

// Fails unless the field called key is present exactly when `want` holds.
static int need_iff(RefReader *r, const RefFields *scope, const char *key, bool want, int line,
                    const char *why) {
    const RefField *f = ref_get(scope, key);
    if (want && !f) return ref_fail(r, line, "'%s' is required %s", key, why);
    if (!want && f)
        return ref_fail(r, f->line, "'%s' is not allowed: it is only given %s", key, why);
    return 0;
}

// Checks V and D and their product against the limits.
static int check_sizes(RefReader *r, const RefCase *c, int64_t *V, int64_t *D) {
    const RefField *v = ref_get(&c->fields, "V"), *d = ref_get(&c->fields, "D");
    *V = *D = 0;
    if (v->i < 1 || v->i > REF_MAX_SIZE)
        return ref_fail(r, v->line, "V = %lld is outside [1, %ld]", (long long)v->i, REF_MAX_SIZE);
    if (d->i < 1 || d->i > REF_MAX_SIZE)
        return ref_fail(r, d->line, "D = %lld is outside [1, %ld]", (long long)d->i, REF_MAX_SIZE);
    if (v->i * d->i > REF_MAX_NUMEL)
        return ref_fail(r, d->line, "V*D = %lld is more than %ld values", (long long)(v->i * d->i),
                       REF_MAX_NUMEL);
    *V = v->i;
    *D = d->i;
    return need_shape2(r, &c->fields, "weight", 2, *V, *D, "V, D");
}

// Checks padding_idx against V and the tolerances against their limits.
static int check_options(RefReader *r, const RefCase *c, int64_t V) {
    const RefField *p = ref_get(&c->fields, "padding_idx");
    if (p && !p->is_none && (p->i < -V || p->i >= V))
        return ref_fail(r, p->line,
                       "padding_idx = %lld: Padding_idx must be within num_embeddings (%lld)",
                       (long long)p->i, (long long)V);
    const RefField *atol = ref_get(&c->fields, "atol"), *rtol = ref_get(&c->fields, "rtol");
    if (atol && (atol->r < 0 || atol->r > REF_MAX_ATOL))
        return ref_fail(r, atol->line, "atol = %g is outside [0, %g]", atol->r, REF_MAX_ATOL);
    if (rtol && (rtol->r < 0 || rtol->r > REF_MAX_RTOL))
        return ref_fail(r, rtol->line, "rtol = %g is outside [0, %g]", rtol->r, REF_MAX_RTOL);
    return 0;
}

// An init case: the weight is bits32 and (V, D).
static int check_init(RefReader *r, const RefCase *c) {
    int64_t V, D;
    if (check_sizes(r, c, &V, &D) < 0 || check_options(r, c, V) < 0) return -1;
    const RefField *w = ref_get(&c->fields, "weight");
    if (w->type != REF_BITS32)
        return ref_fail(r, w->line,
                       "an init case's weight must be bits32: it is checked bit for bit");
    return 0;
}

// A lookup case: output is indices' shape followed by D, or an expected error.
static int check_lookup(RefReader *r, const RefCase *c) {
    int64_t V, D;
    if (check_sizes(r, c, &V, &D) < 0 || check_options(r, c, V) < 0) return -1;
    const RefFields *cf = &c->fields;
    const RefField *idx = ref_get(cf, "indices");
    if (need_ndim(r, idx, REF_MAX_DIMS - 1) < 0 || need_output_size(r, idx, D, "lookup") < 0)
        return -1;
    bool error = ref_get(cf, "error") != NULL;
    if (need_iff(r, cf, "output", !error, c->line, "when no 'error' is expected") < 0) return -1;
    return need_shape_after(r, ref_get(cf, "output"), idx, D, "indices' shape, then D");
}

// A train case: per step, G and output follow indices; grad and weight are (V, D).
static int check_train(RefReader *r, const RefCase *c) {
    int64_t V, D;
    if (check_sizes(r, c, &V, &D) < 0 || check_options(r, c, V) < 0) return -1;
    bool sparse = ref_bool(&c->fields, "sparse");
    for (int s = 0; s < c->n_steps; s++) {
        const RefFields *sf = &c->steps[s].fields;
        const RefField *idx = ref_get(sf, "indices");
        const RefField *gi = ref_get(sf, "grad_indices");
        if (need_ndim(r, idx, REF_MAX_DIMS - 1) < 0 ||
            need_shape_after(r, ref_get(sf, "G"), idx, D, "indices' shape, then D") < 0 ||
            need_shape_after(r, ref_get(sf, "output"), idx, D, "indices' shape, then D") < 0 ||
            need_shape2(r, sf, "grad", 2, V, D, "V, D") < 0 ||
            need_shape2(r, sf, "weight", 2, V, D, "V, D") < 0)
            return -1;
        if (gi && !sparse) return ref_fail(r, gi->line, "'grad_indices' needs 'sparse true'");
        if (need_iff(r, sf, "grad_values", gi != NULL, c->steps[s].line,
                     "together with 'grad_indices'") < 0)
            return -1;
        if (gi && (need_ndim(r, gi, 1) < 0 ||
                   need_shape2(r, sf, "grad_values", 2, gi->dims[0], D, "nnz, D") < 0))
            return -1;
    }
    return 0;
}

// A model case: the projection exists unless tied, the bias if asked for. A
// step gives all its gradients (grad_weight, and those of the projection and
// bias that exist) or none, and may leave out its logits and loss: a
// training script may know only the weights after each step.
static int check_model(RefReader *r, const RefCase *c) {
    int64_t V, D;
    if (check_sizes(r, c, &V, &D) < 0 || check_options(r, c, V) < 0) return -1;
    const RefFields *cf = &c->fields;
    bool untied = !ref_bool(cf, "tied"), bias = ref_bool(cf, "bias");
    if (need_iff(r, cf, "proj_weight", untied, c->line, "when 'tied' is false") < 0 ||
        need_iff(r, cf, "proj_bias", bias, c->line, "when 'bias' is true") < 0 ||
        need_shape2(r, cf, "proj_weight", 2, V, D, "V, D") < 0 ||
        need_shape2(r, cf, "proj_bias", 1, V, 0, "V") < 0)
        return -1;
    for (int s = 0; s < c->n_steps; s++) {
        const RefFields *sf = &c->steps[s].fields;
        int line = c->steps[s].line;
        const RefField *in = ref_get(sf, "inputs");
        bool grads = ref_get(sf, "grad_weight") != NULL;
        if (need_ndim(r, in, 2) < 0 || need_output_size(r, in, D, "lookup") < 0 ||
            need_output_size(r, in, V, "logits tensor") < 0 ||
            need_shape(r, ref_get(sf, "targets"), in->ndim, in->dims, "the shape of inputs") < 0 ||
            need_shape2(r, sf, "loss", 1, 1, 0, "one value") < 0 ||
            need_shape_after(r, ref_get(sf, "logits"), in, V, "inputs' shape, then V") < 0 ||
            need_shape2(r, sf, "grad_weight", 2, V, D, "V, D") < 0 ||
            need_shape2(r, sf, "weight", 2, V, D, "V, D") < 0 ||
            need_iff(r, sf, "grad_proj_weight", untied && grads, line,
                     "with 'grad_weight' when 'tied' is false") < 0 ||
            need_iff(r, sf, "proj_weight", untied, line, "when 'tied' is false") < 0 ||
            need_iff(r, sf, "grad_proj_bias", bias && grads, line,
                     "with 'grad_weight' when 'bias' is true") < 0 ||
            need_iff(r, sf, "proj_bias", bias, line, "when 'bias' is true") < 0 ||
            need_shape2(r, sf, "grad_proj_weight", 2, V, D, "V, D") < 0 ||
            need_shape2(r, sf, "proj_weight", 2, V, D, "V, D") < 0 ||
            need_shape2(r, sf, "grad_proj_bias", 1, V, 0, "V") < 0 ||
            need_shape2(r, sf, "proj_bias", 1, V, 0, "V") < 0)
            return -1;
    }
    return 0;
}

// A bag case: offsets go with 1-D input; G and output are (bags, D).
static int check_bag(RefReader *r, const RefCase *c) {
    int64_t V, D;
    if (check_sizes(r, c, &V, &D) < 0 || check_options(r, c, V) < 0) return -1;
    bool last = ref_bool(&c->fields, "include_last_offset");
    for (int s = 0; s < c->n_steps; s++) {
        const RefFields *sf = &c->steps[s].fields;
        int line = c->steps[s].line;
        const RefField *in = ref_get(sf, "input");
        const RefField *off = ref_get(sf, "offsets");
        const RefField *psw = ref_get(sf, "per_sample_weights");
        if (need_ndim(r, in, 2) < 0 || need_output_size(r, in, D, "lookup") < 0 ||
            need_iff(r, sf, "offsets", in->ndim == 1, line, "when 'input' is 1-D") < 0)
            return -1;
        int64_t bags = in->dims[0];
        if (off) {
            if (need_ndim(r, off, 1) < 0) return -1;
            if (last && off->numel == 0)
                return ref_fail(r, off->line, "include_last_offset needs at least one offset");
            bags = off->numel - (last ? 1 : 0);
        }
        if ((psw && need_shape(r, psw, in->ndim, in->dims, "the shape of input") < 0) ||
            need_iff(r, sf, "grad_per_sample_weights", psw != NULL, line,
                     "with 'per_sample_weights'") < 0 ||
            need_shape2(r, sf, "G", 2, bags, D, "bags, D") < 0 ||
            need_shape2(r, sf, "output", 2, bags, D, "bags, D") < 0 ||
            need_shape2(r, sf, "grad", 2, V, D, "V, D") < 0 ||
            need_shape2(r, sf, "weight", 2, V, D, "V, D") < 0)
            return -1;
        const RefField *gpsw = ref_get(sf, "grad_per_sample_weights");
        if (gpsw && need_shape(r, gpsw, in->ndim, in->dims, "the shape of input") < 0) return -1;
    }
    return 0;
}
// ---------------------------------------------------------------------------
// What the reader calls
// ---------------------------------------------------------------------------

const char *ref_kind_name(RefKind kind) {
    return (kind >= 0 && kind < REF_NUM_KINDS) ? KINDS[kind].name : "?";
}

int refschema_kind(const char *name) {
    for (int k = 0; k < REF_NUM_KINDS; k++)
        if (strcmp(KINDS[k].name, name) == 0) return k;
    return -1;
}

bool refschema_has_steps(RefKind kind) {
    return kind >= 0 && kind < REF_NUM_KINDS && KINDS[kind].step_spec != NULL;
}

int refschema_check_case(RefReader *r, RefCase *c, int end_line) {
    const KindDef *kd = &KINDS[c->kind];
    char where[2 * REF_MAX_TOKEN + 64];
    const RefSpec *specs[3] = {kd->case_spec, NULL, NULL};
    snprintf(where, sizeof where, "case '%s' (%s)", c->name, kd->name);
    if (kd->trains) {  // the options, and the chosen optimizer's hyperparameters
        const RefField *o = ref_get(&c->fields, "optimizer");
        const char *name = o ? o->word : "none";
        specs[1] = OPTIONS;
        specs[2] = optimizer_spec(name);
        snprintf(where, sizeof where, "case '%s' (%s, optimizer %s)", c->name, kd->name, name);
    }
    if (ref_apply_specs(r, &c->fields, specs, 3, c->line, where) < 0) return -1;
    if (kd->step_spec && c->n_steps == 0) return ref_fail(r, end_line, "%s has no steps", where);
    for (int s = 0; s < c->n_steps; s++) {
        RefStep *st = &c->steps[s];
        char swhere[sizeof where + 32];
        snprintf(swhere, sizeof swhere, "step %d of %s", s + 1, where);
        if (ref_apply_specs(r, &st->fields, &kd->step_spec, 1, st->line, swhere) < 0) return -1;
    }
    return kd->check(r, c);
}
