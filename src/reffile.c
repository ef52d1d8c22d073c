/*
 * reffile.c - reading PyTorch reference files, trusting nothing in them.
 *
 * The reader works in two passes over each case. The first pass is purely
 * syntactic: lines, tokens, numbers, tensor rows. It knows every key's type
 * from one table (KEYS), so `lr` is always a real and `weight` always a
 * float tensor. The second pass runs at a case's `end` line: the kind's
 * schema (KINDS) says which keys a case and its steps may hold, fills in
 * defaults, and a per-kind check compares the tensors' shapes.
 *
 * Invariants while reading:
 *   - Reader.cur..Reader.end is the unread part of the current line, with
 *     its comment and line ending removed; it holds only printable ASCII,
 *     spaces and tabs;
 *   - a tensor's buffers hold `cap` values, cap <= numel, and grow by
 *     doubling only when the next value has actually been read, so memory
 *     stays proportional to the text read;
 *   - on any error everything allocated so far is reachable from the
 *     RefFile, and ref_free() releases it.
 */
#include "reffile.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_FIRST_CAP 1024  // values allocated for a tensor before it grows

// ---------------------------------------------------------------------------
// Keys: every key that may appear, with the type of its value
// ---------------------------------------------------------------------------

static const char *const PATH_WORDS[] = {"avx2", "scalar", NULL};
static const char *const OPTIMIZER_WORDS[] = {"none",    "sgd",     "adam",        "adamw",
                                              "adagrad", "rmsprop", "sparse_adam", NULL};
static const char *const MODE_WORDS[] = {"sum", "mean", "max", NULL};
static const char *const ERROR_WORDS[] = {"index_out_of_range", NULL};

typedef struct KeyDef {
    const char *key;
    RefType type;              // scalars: their type; tensors: REF_F32 (f32 or bits32) or REF_I64
    bool tensor;
    bool none_ok;              // the scalar may be written `none`
    const char *const *words;  // REF_WORD: the allowed words
} KeyDef;

static const KeyDef KEYS[] = {
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

// The definition of key, or NULL if no such key exists.
static const KeyDef *find_key(const char *key) {
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (strcmp(KEYS[i].key, key) == 0) return &KEYS[i];
    return NULL;
}

// ---------------------------------------------------------------------------
// Schemas: which keys each kind allows, and their defaults
// ---------------------------------------------------------------------------

#define REQUIRED NULL  // Spec.dflt of a field that must be written
#define OPTIONAL ""    // Spec.dflt of a field that may be left out, with no default

typedef struct Spec {
    const char *key;
    const char *dflt;  // the default value's text, REQUIRED or OPTIONAL
} Spec;

static const Spec INIT_CASE[] = {
    {"seed", REQUIRED}, {"V", REQUIRED},    {"D", REQUIRED},
    {"padding_idx", "none"}, {"path", "avx2"}, {"weight", REQUIRED}, {NULL, NULL},
};
static const Spec LOOKUP_CASE[] = {
    {"V", REQUIRED},      {"D", REQUIRED},      {"weight", REQUIRED}, {"indices", REQUIRED},
    {"output", OPTIONAL}, {"error", OPTIONAL},  {"atol", "1e-6"},     {"rtol", "1e-5"},
    {NULL, NULL},
};
// Embedding options, the optimizer and tolerances: shared by train, model and bag.
static const Spec OPTIONS[] = {
    {"padding_idx", "none"}, {"max_norm", "none"},  {"norm_type", "2"},
    {"scale_grad_by_freq", "false"}, {"sparse", "false"}, {"zero_grad", "true"},
    {"optimizer", "none"},   {"atol", "1e-6"},      {"rtol", "1e-5"},
    {NULL, NULL},
};
static const Spec TRAIN_CASE[] = {
    {"V", REQUIRED}, {"D", REQUIRED}, {"weight", REQUIRED}, {NULL, NULL},
};
static const Spec TRAIN_STEP[] = {
    {"indices", REQUIRED}, {"G", REQUIRED},      {"output", REQUIRED},
    {"grad", REQUIRED},    {"weight", REQUIRED}, {"grad_indices", OPTIONAL},
    {"grad_values", OPTIONAL}, {NULL, NULL},
};
static const Spec MODEL_CASE[] = {
    {"V", REQUIRED},      {"D", REQUIRED},           {"tied", "false"},       {"bias", "true"},
    {"weight", REQUIRED}, {"proj_weight", OPTIONAL}, {"proj_bias", OPTIONAL}, {NULL, NULL},
};
static const Spec MODEL_STEP[] = {
    {"inputs", REQUIRED},         {"targets", REQUIRED},           {"loss", REQUIRED},
    {"logits", OPTIONAL},         {"grad_weight", REQUIRED},       {"grad_proj_weight", OPTIONAL},
    {"grad_proj_bias", OPTIONAL}, {"weight", REQUIRED},            {"proj_weight", OPTIONAL},
    {"proj_bias", OPTIONAL},      {NULL, NULL},
};
static const Spec BAG_CASE[] = {
    {"V", REQUIRED},  {"D", REQUIRED}, {"weight", REQUIRED},
    {"mode", "mean"}, {"include_last_offset", "false"}, {NULL, NULL},
};
static const Spec BAG_STEP[] = {
    {"input", REQUIRED},  {"offsets", OPTIONAL}, {"per_sample_weights", OPTIONAL},
    {"G", REQUIRED},      {"output", REQUIRED},  {"grad", REQUIRED},
    {"grad_per_sample_weights", OPTIONAL},       {"weight", REQUIRED},
    {NULL, NULL},
};

// Optimizer hyperparameters with PyTorch 1.13's defaults (betas split in two).
static const Spec OPT_NONE[] = {{NULL, NULL}};
static const Spec OPT_SGD[] = {
    {"lr", REQUIRED},      {"momentum", "0"},     {"dampening", "0"},
    {"weight_decay", "0"}, {"nesterov", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const Spec OPT_ADAM[] = {
    {"lr", "0.001"},       {"beta1", "0.9"},     {"beta2", "0.999"},    {"eps", "1e-8"},
    {"weight_decay", "0"}, {"amsgrad", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const Spec OPT_ADAMW[] = {
    {"lr", "0.001"},          {"beta1", "0.9"},     {"beta2", "0.999"},    {"eps", "1e-8"},
    {"weight_decay", "0.01"}, {"amsgrad", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const Spec OPT_ADAGRAD[] = {
    {"lr", "0.01"},   {"lr_decay", "0"},      {"weight_decay", "0"},
    {"initial_accumulator_value", "0"},       {"eps", "1e-10"},      {"maximize", "false"},
    {NULL, NULL},
};
static const Spec OPT_RMSPROP[] = {
    {"lr", "0.01"},     {"alpha", "0.99"},     {"eps", "1e-8"},       {"weight_decay", "0"},
    {"momentum", "0"},  {"centered", "false"}, {"maximize", "false"}, {NULL, NULL},
};
static const Spec OPT_SPARSE_ADAM[] = {
    {"lr", "0.001"}, {"beta1", "0.9"}, {"beta2", "0.999"}, {"eps", "1e-8"},
    {"maximize", "false"}, {NULL, NULL},
};

typedef struct OptimizerDef {
    const char *name;
    const Spec *spec;
} OptimizerDef;

static const OptimizerDef OPTIMIZERS[] = {
    {"none", OPT_NONE},       {"sgd", OPT_SGD},         {"adam", OPT_ADAM},
    {"adamw", OPT_ADAMW},     {"adagrad", OPT_ADAGRAD}, {"rmsprop", OPT_RMSPROP},
    {"sparse_adam", OPT_SPARSE_ADAM},
};

typedef struct Reader Reader;

typedef struct KindDef {
    const char *name;
    const Spec *case_spec;
    const Spec *step_spec;  // NULL: the kind has no steps
    bool trains;            // takes OPTIONS and an optimizer
    int (*check)(Reader *r, const RefCase *c);
} KindDef;

static int check_init(Reader *r, const RefCase *c);
static int check_lookup(Reader *r, const RefCase *c);
static int check_train(Reader *r, const RefCase *c);
static int check_model(Reader *r, const RefCase *c);
static int check_bag(Reader *r, const RefCase *c);

static const KindDef KINDS[REF_NUM_KINDS] = {
    [REF_INIT] = {"init", INIT_CASE, NULL, false, check_init},
    [REF_LOOKUP] = {"lookup", LOOKUP_CASE, NULL, false, check_lookup},
    [REF_TRAIN] = {"train", TRAIN_CASE, TRAIN_STEP, true, check_train},
    [REF_MODEL] = {"model", MODEL_CASE, MODEL_STEP, true, check_model},
    [REF_BAG] = {"bag", BAG_CASE, BAG_STEP, true, check_bag},
};

// The spec for key in spec, or NULL.
static const Spec *find_spec(const Spec *spec, const char *key) {
    for (; spec && spec->key; spec++)
        if (strcmp(spec->key, key) == 0) return spec;
    return NULL;
}

// The hyperparameter spec of the optimizer called name (a checked word).
static const Spec *optimizer_spec(const char *name) {
    for (size_t i = 0; i < sizeof OPTIMIZERS / sizeof OPTIMIZERS[0]; i++)
        if (strcmp(OPTIMIZERS[i].name, name) == 0) return OPTIMIZERS[i].spec;
    return OPT_NONE;
}

// ---------------------------------------------------------------------------
// Lines and tokens
// ---------------------------------------------------------------------------

struct Reader {
    const char *text;  // the whole file, len bytes
    size_t len;
    size_t pos;        // start of the next unread line
    const char *name;  // the file's name, for messages
    int line;          // number of the current line, 1-based
    const char *cur;   // unread part of the current line ...
    const char *end;   // ... up to here
    EmbError *err;
    const RefField *tensor;  // the tensor whose rows are being read, or NULL
    int64_t row;             // ... and the row
    int header;              // ... and the line of its header
};

// Writes "NAME:LINE: message" into the reader's error and returns -1.
__attribute__((format(printf, 3, 4)))
static int fail_at(const Reader *r, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->tensor)  // say where in which tensor
        return emb_fail(r->err, "%s:%d: %s (row %lld of '%s', declared on line %d)",
                        r->name, line, msg, (long long)r->row, r->tensor->key, r->header);
    return emb_fail(r->err, "%s:%d: %s", r->name, line, msg);
}

// Moves to the next line: returns 1, 0 at the end of the text, -1 on a bad line.
static int next_line(Reader *r) {
    if (r->pos >= r->len) return 0;
    const char *start = r->text + r->pos;
    size_t rest = r->len - r->pos;
    const char *nl = memchr(start, '\n', rest);
    size_t n = nl ? (size_t)(nl - start) : rest;
    r->pos += n + (nl ? 1 : 0);
    if (r->line == INT_MAX) return fail_at(r, r->line, "too many lines");
    r->line++;
    if (n > REF_MAX_LINE)
        return fail_at(r, r->line, "line is %zu bytes long; the limit is %d", n, REF_MAX_LINE);
    if (n > 0 && start[n - 1] == '\r') n--;  // a CRLF line ending
    const char *end = start + n;
    for (const char *p = start; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '#') {  // a comment runs to the end of the line and may hold anything
            end = p;
            break;
        }
        if (ch != '\t' && (ch < 0x20 || ch > 0x7e))
            return fail_at(r, r->line, "unexpected byte 0x%02x in column %zu", ch,
                           (size_t)(p - start) + 1);
    }
    r->cur = start;
    r->end = end;
    return 1;
}

// Skips spaces and tabs; true if a token follows on the current line.
static bool more_tokens(Reader *r) {
    while (r->cur < r->end && (*r->cur == ' ' || *r->cur == '\t')) r->cur++;
    return r->cur < r->end;
}

// Moves to the next line that holds a token: returns 1, 0 at the end, -1 on error.
static int next_content_line(Reader *r) {
    int rc;
    while ((rc = next_line(r)) == 1)
        if (more_tokens(r)) return 1;
    return rc;
}

// Copies the current line's next token into tok: returns 1, 0 if none is left, -1 if too long.
static int next_token(Reader *r, char tok[REF_MAX_TOKEN + 1]) {
    if (!more_tokens(r)) return 0;
    const char *start = r->cur;
    while (r->cur < r->end && *r->cur != ' ' && *r->cur != '\t') r->cur++;
    size_t n = (size_t)(r->cur - start);
    if (n > REF_MAX_TOKEN)
        return fail_at(r, r->line, "'%.24s...' is longer than %d characters", start, REF_MAX_TOKEN);
    memcpy(tok, start, n);
    tok[n] = '\0';
    return 1;
}

// Reads the current line's next token, failing if there is none.
static int need_token(Reader *r, char tok[REF_MAX_TOKEN + 1], const char *what) {
    int rc = next_token(r, tok);
    if (rc == 0) return fail_at(r, r->line, "missing %s", what);
    return rc < 0 ? -1 : 0;
}

// Fails if the current line has anything left after `after`.
static int need_line_end(Reader *r, const char *after) {
    char tok[REF_MAX_TOKEN + 1];
    int rc = next_token(r, tok);
    if (rc < 0) return -1;
    if (rc > 0) return fail_at(r, r->line, "unexpected '%s' after %s", tok, after);
    return 0;
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

// True if s is one or more decimal digits, after an optional sign if sign_ok.
static bool is_decimal(const char *s, bool sign_ok) {
    if (sign_ok && (*s == '+' || *s == '-')) s++;
    if (*s == '\0') return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

// Parses a signed decimal integer.
static int parse_int(Reader *r, const char *tok, int64_t *out) {
    if (!is_decimal(tok, true)) return fail_at(r, r->line, "'%s' is not an integer", tok);
    errno = 0;
    long long v = strtoll(tok, NULL, 10);
    if (errno == ERANGE) return fail_at(r, r->line, "integer '%s' does not fit in 64 bits", tok);
    *out = (int64_t)v;
    return 0;
}

// Parses an unsigned decimal integer.
static int parse_uint(Reader *r, const char *tok, uint64_t *out) {
    if (!is_decimal(tok, false))
        return fail_at(r, r->line, "'%s' is not an unsigned integer", tok);
    errno = 0;
    unsigned long long v = strtoull(tok, NULL, 10);
    if (errno == ERANGE) return fail_at(r, r->line, "integer '%s' does not fit in 64 bits", tok);
    *out = (uint64_t)v;
    return 0;
}

// Parses a real number into a double: inf and -inf are allowed (norm_type inf), nan is not.
static int parse_real(Reader *r, const char *tok, double *out) {
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || *end != '\0' || isnan(v))
        return fail_at(r, r->line, "'%s' is not a number", tok);
    if (errno == ERANGE && isinf(v) && !strpbrk(tok, "iI"))
        return fail_at(r, r->line, "'%s' is out of double range", tok);
    *out = v;
    return 0;
}

// Parses a float32 value (nan and inf allowed), correctly rounded from decimal.
static int parse_f32(Reader *r, const char *tok, float *out) {
    char *end;
    errno = 0;
    float v = strtof(tok, &end);
    if (end == tok || *end != '\0') return fail_at(r, r->line, "'%s' is not a number", tok);
    if (errno == ERANGE && isinf(v))  // underflow to a subnormal is fine; overflow is not
        return fail_at(r, r->line, "'%s' is out of float32 range", tok);
    *out = v;
    return 0;
}

// Parses exactly 8 hex digits: a float32 bit pattern.
static int parse_bits(Reader *r, const char *tok, uint32_t *out) {
    uint32_t v = 0;
    size_t n = strlen(tok);
    for (size_t i = 0; i < n; i++) {
        char ch = tok[i];
        int d = (ch >= '0' && ch <= '9')   ? ch - '0'
                : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                           : -1;
        if (d < 0) n = 0;  // not hex: reported below
        v = (v << 4) | (uint32_t)(d < 0 ? 0 : d);
    }
    if (n != 8) return fail_at(r, r->line, "'%s' is not 8 hex digits (float32 bits)", tok);
    *out = v;
    return 0;
}

// ---------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------

// The field called key in f, or NULL (mutable).
static RefField *find_field(RefFields *f, const char *key) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->items[i].key, key) == 0) return &f->items[i];
    return NULL;
}

// Appends a zeroed field called key (a static string) to f; NULL past the limit.
static RefField *add_field(Reader *r, RefFields *f, const char *key, int line) {
    if (f->n == REF_MAX_FIELDS) {
        fail_at(r, line, "more than %d fields", REF_MAX_FIELDS);
        return NULL;
    }
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 4;
        if (cap > REF_MAX_FIELDS) cap = REF_MAX_FIELDS;
        RefField *items = realloc(f->items, (size_t)cap * sizeof *items);
        if (!items) {
            fail_at(r, line, "out of memory");
            return NULL;
        }
        f->items = items;
        f->cap = cap;
    }
    RefField *fld = &f->items[f->n++];
    memset(fld, 0, sizeof *fld);
    fld->key = key;
    fld->line = line;
    return fld;
}

// Sets a scalar field from its text, checked against its key's type.
static int parse_scalar(Reader *r, const KeyDef *k, const char *tok, RefField *f) {
    f->type = k->type;
    if (k->none_ok && strcmp(tok, "none") == 0) {
        f->is_none = true;
        return 0;
    }
    switch (k->type) {
    case REF_INT: return parse_int(r, tok, &f->i);
    case REF_UINT: return parse_uint(r, tok, &f->u);
    case REF_REAL: return parse_real(r, tok, &f->r);
    case REF_BOOL:
        if (strcmp(tok, "true") == 0) f->i = 1;
        else if (strcmp(tok, "false") == 0) f->i = 0;
        else return fail_at(r, r->line, "'%s' must be true or false, not '%s'", k->key, tok);
        return 0;
    case REF_WORD:
        for (const char *const *w = k->words; *w; w++) {
            if (strcmp(*w, tok) == 0) {
                f->word = *w;
                return 0;
            }
        }
        return fail_at(r, r->line, "'%s' is not a valid %s", tok, k->key);
    default: return fail_at(r, r->line, "'%s' is not a scalar", k->key);
    }
}

// Makes room for value number i of a tensor whose buffers hold *cap values.
static int grow_tensor(Reader *r, RefField *f, int64_t i, int64_t *cap) {
    if (i < *cap) return 0;
    int64_t n = *cap ? 2 * *cap : REF_FIRST_CAP;
    if (n > f->numel) n = f->numel;
    if (f->type == REF_I64) {
        int64_t *p = realloc(f->i64, (size_t)n * sizeof *p);
        if (!p) return fail_at(r, r->line, "out of memory");
        f->i64 = p;
    } else {
        float *p = realloc(f->f32, (size_t)n * sizeof *p);
        if (!p) return fail_at(r, r->line, "out of memory");
        f->f32 = p;
        if (f->type == REF_BITS32) {
            uint32_t *b = realloc(f->bits, (size_t)n * sizeof *b);
            if (!b) return fail_at(r, r->line, "out of memory");
            f->bits = b;
        }
    }
    *cap = n;
    return 0;
}

// Parses one tensor value into slot i.
static int parse_value(Reader *r, RefField *f, const char *tok, int64_t i) {
    if (f->type == REF_I64) return parse_int(r, tok, &f->i64[i]);
    if (f->type == REF_F32) return parse_f32(r, tok, &f->f32[i]);
    if (parse_bits(r, tok, &f->bits[i]) < 0) return -1;
    memcpy(&f->f32[i], &f->bits[i], sizeof(float));
    return 0;
}

// Reads the rows of a tensor whose header is on line `header`.
static int read_rows_at(Reader *r, RefField *f, int header) {
    int64_t cols = f->dims[f->ndim - 1];
    int64_t rows = f->numel / cols;
    int64_t cap = 0, i = 0;
    char tok[REF_MAX_TOKEN + 1];
    for (int64_t row = 0; row < rows; row++) {
        int rc = next_content_line(r);
        if (rc < 0) return -1;
        if (rc == 0)
            return fail_at(r, r->line,
                           "file ends inside '%s' (line %d): %lld of %lld rows read",
                           f->key, header, (long long)row, (long long)rows);
        r->row = row;
        r->tensor = f;  // from here on, messages say which row of which tensor
        for (int64_t col = 0; col < cols; col++, i++) {
            rc = next_token(r, tok);
            if (rc < 0) return -1;
            if (rc == 0)
                return fail_at(r, r->line, "the row has %lld values; expected %lld",
                               (long long)col, (long long)cols);
            if (grow_tensor(r, f, i, &cap) < 0 || parse_value(r, f, tok, i) < 0) return -1;
        }
        if (more_tokens(r))
            return fail_at(r, r->line, "the row has more than %lld values", (long long)cols);
        r->tensor = NULL;
    }
    return 0;
}

// Reads a tensor's rows: one line per row of its last dimension.
static int read_rows(Reader *r, RefField *f) {
    if (f->numel == 0) return 0;
    r->header = r->line;
    int rc = read_rows_at(r, f, r->line);
    r->tensor = NULL;
    return rc;
}

// Parses a tensor header's type and dims, then its rows.
static int parse_tensor(Reader *r, const KeyDef *k, RefField *f) {
    char tok[REF_MAX_TOKEN + 1];
    if (need_token(r, tok, "tensor type (f32, bits32 or i64)") < 0) return -1;
    if (strcmp(tok, "f32") == 0) f->type = REF_F32;
    else if (strcmp(tok, "bits32") == 0) f->type = REF_BITS32;
    else if (strcmp(tok, "i64") == 0) f->type = REF_I64;
    else return fail_at(r, r->line, "'%s' is not a tensor type (f32, bits32 or i64)", tok);
    bool is_float = f->type != REF_I64;
    if (is_float != (k->type == REF_F32))
        return fail_at(r, r->line, "'%s' must be %s, not %s", k->key,
                       k->type == REF_F32 ? "f32 or bits32" : "i64", tok);
    f->numel = 1;
    int rc;
    while ((rc = next_token(r, tok)) == 1) {
        if (f->ndim == REF_MAX_DIMS)
            return fail_at(r, r->line, "'%s' has more than %d dimensions", k->key, REF_MAX_DIMS);
        int64_t d;
        if (parse_int(r, tok, &d) < 0) return -1;
        if (d < 0 || d > REF_MAX_SIZE)
            return fail_at(r, r->line, "dimension %lld of '%s' is outside [0, %ld]",
                           (long long)d, k->key, REF_MAX_SIZE);
        f->dims[f->ndim++] = d;
        f->numel *= d;  // no overflow: numel <= REF_MAX_NUMEL and d <= REF_MAX_SIZE
        if (f->numel > REF_MAX_NUMEL)
            return fail_at(r, r->line, "'%s' has more than %ld values", k->key, REF_MAX_NUMEL);
    }
    if (rc < 0) return -1;
    if (f->ndim == 0) return fail_at(r, r->line, "'%s' has no dimensions", k->key);
    return read_rows(r, f);
}

// Parses a field line (its key already read) into scope.
static int parse_field(Reader *r, RefFields *scope, const char *key) {
    const KeyDef *k = find_key(key);
    if (!k) return fail_at(r, r->line, "unknown field '%s'", key);
    RefField *prev = find_field(scope, key);
    if (prev) return fail_at(r, r->line, "'%s' given twice (first on line %d)", key, prev->line);
    RefField *f = add_field(r, scope, k->key, r->line);
    if (!f) return -1;
    if (k->tensor) return parse_tensor(r, k, f);
    char tok[REF_MAX_TOKEN + 1];
    if (need_token(r, tok, "value") < 0 || parse_scalar(r, k, tok, f) < 0) return -1;
    return need_line_end(r, "the value");
}

// ---------------------------------------------------------------------------
// Checking a finished case against its kind's schema
// ---------------------------------------------------------------------------

// Fails for a field of scope that none of the given specs allows.
static int check_allowed(Reader *r, const RefFields *scope, const Spec *a, const Spec *b,
                         const Spec *c, const char *where) {
    for (int i = 0; i < scope->n; i++) {
        const RefField *f = &scope->items[i];
        if (!find_spec(a, f->key) && !find_spec(b, f->key) && !find_spec(c, f->key))
            return fail_at(r, f->line, "'%s' is not allowed in %s", f->key, where);
    }
    return 0;
}

// Fails for a missing required field; adds defaults for missing optional scalars.
static int fill_defaults(Reader *r, RefFields *scope, const Spec *spec, int line,
                         const char *where) {
    for (; spec && spec->key; spec++) {
        if (find_field(scope, spec->key)) continue;
        if (spec->dflt == REQUIRED)
            return fail_at(r, line, "%s has no '%s'", where, spec->key);
        if (spec->dflt[0] == '\0') continue;
        RefField *f = add_field(r, scope, spec->key, 0);
        if (!f || parse_scalar(r, find_key(spec->key), spec->dflt, f) < 0) return -1;
    }
    return 0;
}

// Checks a case's fields and steps against its kind, then its shapes.
static int check_case(Reader *r, RefCase *c, int end_line) {
    const KindDef *kd = &KINDS[c->kind];
    char where[2 * REF_MAX_TOKEN + 64];
    snprintf(where, sizeof where, "case '%s' (%s)", c->name, kd->name);
    const Spec *opts = kd->trains ? OPTIONS : NULL;
    const Spec *opt = NULL;
    if (kd->trains) {
        const RefField *o = find_field(&c->fields, "optimizer");
        opt = optimizer_spec(o ? o->word : "none");
        snprintf(where, sizeof where, "case '%s' (%s, optimizer %s)", c->name, kd->name,
                 o ? o->word : "none");
    }
    if (check_allowed(r, &c->fields, kd->case_spec, opts, opt, where) < 0) return -1;
    if (fill_defaults(r, &c->fields, kd->case_spec, c->line, where) < 0 ||
        fill_defaults(r, &c->fields, opts, c->line, where) < 0 ||
        fill_defaults(r, &c->fields, opt, c->line, where) < 0)
        return -1;
    if (kd->step_spec && c->n_steps == 0) return fail_at(r, end_line, "%s has no steps", where);
    for (int s = 0; s < c->n_steps; s++) {
        RefStep *st = &c->steps[s];
        char swhere[sizeof where + 32];
        snprintf(swhere, sizeof swhere, "step %d of %s", s + 1, where);
        if (check_allowed(r, &st->fields, kd->step_spec, NULL, NULL, swhere) < 0 ||
            fill_defaults(r, &st->fields, kd->step_spec, st->line, swhere) < 0)
            return -1;
    }
    return kd->check(r, c);
}

// Writes a shape as "(2, 3)" into buf.
static void format_dims(char *buf, size_t size, int ndim, const int64_t *dims) {
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (n < size) snprintf(buf + n, size - n, ")");
}

// Fails unless field f has exactly the shape dims[0..ndim-1].
static int need_shape(Reader *r, const RefField *f, int ndim, const int64_t *dims,
                      const char *meaning) {
    bool same = f->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = f->dims[i] == dims[i];
    if (same) return 0;
    char got[96], want[96];
    format_dims(got, sizeof got, f->ndim, f->dims);
    format_dims(want, sizeof want, ndim, dims);
    return fail_at(r, f->line, "'%s' has shape %s; expected %s (%s)", f->key, got, want, meaning);
}

// Fails unless the tensor called key in scope is (a) or (a, b).
static int need_shape2(Reader *r, const RefFields *scope, const char *key, int ndim, int64_t a,
                       int64_t b, const char *meaning) {
    const RefField *f = ref_get(scope, key);
    if (!f) return 0;
    int64_t dims[2] = {a, b};
    return need_shape(r, f, ndim, dims, meaning);
}

// Fails unless field f's shape is `prefix`'s shape followed by one more dimension, last.
static int need_shape_after(Reader *r, const RefField *f, const RefField *prefix, int64_t last,
                            const char *meaning) {
    if (!f) return 0;
    int64_t dims[REF_MAX_DIMS + 1];
    memcpy(dims, prefix->dims, (size_t)prefix->ndim * sizeof dims[0]);
    dims[prefix->ndim] = last;
    return need_shape(r, f, prefix->ndim + 1, dims, meaning);
}

// Fails if n indices, each looked up as a row of `width` values, make too large an output.
static int need_output_size(Reader *r, const RefField *idx, int64_t width, const char *what) {
    if (idx->numel * width > REF_MAX_NUMEL)  // no overflow: both factors are <= 2^22
        return fail_at(r, idx->line, "%lld indices give a %s of more than %ld values",
                       (long long)idx->numel, what, REF_MAX_NUMEL);
    return 0;
}

// Fails unless index tensor f has between 1 and max_ndim dimensions.
static int need_ndim(Reader *r, const RefField *f, int max_ndim) {
    if (f->ndim > max_ndim)
        return fail_at(r, f->line, "'%s' has %d dimensions; at most %d are allowed", f->key,
                       f->ndim, max_ndim);
    return 0;
}

// Fails unless the field called key is present exactly when `want` holds.
static int need_iff(Reader *r, const RefFields *scope, const char *key, bool want, int line,
                    const char *why) {
    const RefField *f = ref_get(scope, key);
    if (want && !f) return fail_at(r, line, "'%s' is required %s", key, why);
    if (!want && f)
        return fail_at(r, f->line, "'%s' is not allowed: it is only given %s", key, why);
    return 0;
}

// Checks V and D and their product against the limits.
static int check_sizes(Reader *r, const RefCase *c, int64_t *V, int64_t *D) {
    const RefField *v = ref_get(&c->fields, "V"), *d = ref_get(&c->fields, "D");
    if (v->i < 1 || v->i > REF_MAX_SIZE)
        return fail_at(r, v->line, "V = %lld is outside [1, %ld]", (long long)v->i, REF_MAX_SIZE);
    if (d->i < 1 || d->i > REF_MAX_SIZE)
        return fail_at(r, d->line, "D = %lld is outside [1, %ld]", (long long)d->i, REF_MAX_SIZE);
    if (v->i * d->i > REF_MAX_NUMEL)
        return fail_at(r, d->line, "V*D = %lld is more than %ld values", (long long)(v->i * d->i),
                       REF_MAX_NUMEL);
    *V = v->i;
    *D = d->i;
    return need_shape2(r, &c->fields, "weight", 2, *V, *D, "V, D");
}

// Checks padding_idx against V and the tolerances against their limits.
static int check_options(Reader *r, const RefCase *c, int64_t V) {
    const RefField *p = ref_get(&c->fields, "padding_idx");
    if (p && !p->is_none && (p->i < -V || p->i >= V))
        return fail_at(r, p->line,
                       "padding_idx = %lld: Padding_idx must be within num_embeddings (%lld)",
                       (long long)p->i, (long long)V);
    const RefField *atol = ref_get(&c->fields, "atol"), *rtol = ref_get(&c->fields, "rtol");
    if (atol && (atol->r < 0 || atol->r > REF_MAX_ATOL))
        return fail_at(r, atol->line, "atol = %g is outside [0, %g]", atol->r, REF_MAX_ATOL);
    if (rtol && (rtol->r < 0 || rtol->r > REF_MAX_RTOL))
        return fail_at(r, rtol->line, "rtol = %g is outside [0, %g]", rtol->r, REF_MAX_RTOL);
    return 0;
}

// An init case: the weight is bits32 and (V, D).
static int check_init(Reader *r, const RefCase *c) {
    int64_t V, D;
    if (check_sizes(r, c, &V, &D) < 0 || check_options(r, c, V) < 0) return -1;
    const RefField *w = ref_get(&c->fields, "weight");
    if (w->type != REF_BITS32)
        return fail_at(r, w->line,
                       "an init case's weight must be bits32: it is checked bit for bit");
    return 0;
}

// A lookup case: output is indices' shape followed by D, or an expected error.
static int check_lookup(Reader *r, const RefCase *c) {
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
static int check_train(Reader *r, const RefCase *c) {
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
        if (gi && !sparse) return fail_at(r, gi->line, "'grad_indices' needs 'sparse true'");
        if (need_iff(r, sf, "grad_values", gi != NULL, c->steps[s].line,
                     "together with 'grad_indices'") < 0)
            return -1;
        if (gi && (need_ndim(r, gi, 1) < 0 ||
                   need_shape2(r, sf, "grad_values", 2, gi->dims[0], D, "nnz, D") < 0))
            return -1;
    }
    return 0;
}

// A model case: the projection exists unless tied, the bias if asked for.
static int check_model(Reader *r, const RefCase *c) {
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
        if (need_ndim(r, in, 2) < 0 || need_output_size(r, in, D, "lookup") < 0 ||
            need_output_size(r, in, V, "logits tensor") < 0 ||
            need_shape(r, ref_get(sf, "targets"), in->ndim, in->dims, "the shape of inputs") < 0 ||
            need_shape2(r, sf, "loss", 1, 1, 0, "one value") < 0 ||
            need_shape_after(r, ref_get(sf, "logits"), in, V, "inputs' shape, then V") < 0 ||
            need_shape2(r, sf, "grad_weight", 2, V, D, "V, D") < 0 ||
            need_shape2(r, sf, "weight", 2, V, D, "V, D") < 0 ||
            need_iff(r, sf, "grad_proj_weight", untied, line, "when 'tied' is false") < 0 ||
            need_iff(r, sf, "proj_weight", untied, line, "when 'tied' is false") < 0 ||
            need_iff(r, sf, "grad_proj_bias", bias, line, "when 'bias' is true") < 0 ||
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
static int check_bag(Reader *r, const RefCase *c) {
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
                return fail_at(r, off->line, "include_last_offset needs at least one offset");
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
// The file: header, cases, steps
// ---------------------------------------------------------------------------

// True if name is a valid case name: letters, digits and _ . / + -.
static bool valid_name(const char *name) {
    for (const char *p = name; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || strchr("_./+-", ch) != NULL;
        if (!ok) return false;
    }
    return true;
}

// Frees the tensors of a list of fields.
static void free_fields(RefFields *f) {
    for (int i = 0; i < f->n; i++) {
        free(f->items[i].f32);
        free(f->items[i].bits);
        free(f->items[i].i64);
    }
    free(f->items);
    memset(f, 0, sizeof *f);
}

// Starts a case from its `case NAME KIND` line.
static RefCase *begin_case(Reader *r, RefFile *out) {
    char name[REF_MAX_TOKEN + 1], kind[REF_MAX_TOKEN + 1];
    if (!out->torch[0]) {
        fail_at(r, r->line, "expected a 'torch VERSION' line before the first case");
        return NULL;
    }
    if (need_token(r, name, "case name") < 0 || need_token(r, kind, "case kind") < 0 ||
        need_line_end(r, "the case kind") < 0)
        return NULL;
    if (!valid_name(name)) {
        fail_at(r, r->line, "case name '%s' may only hold letters, digits and _ . / + -", name);
        return NULL;
    }
    int k = 0;
    while (k < REF_NUM_KINDS && strcmp(KINDS[k].name, kind) != 0) k++;
    if (k == REF_NUM_KINDS) {
        fail_at(r, r->line, "unknown kind '%s' (init, lookup, train, model or bag)", kind);
        return NULL;
    }
    if (out->n_cases == REF_MAX_CASES) {
        fail_at(r, r->line, "more than %d cases", REF_MAX_CASES);
        return NULL;
    }
    if (out->n_cases == out->cap_cases) {
        int cap = out->cap_cases ? 2 * out->cap_cases : 16;
        RefCase *cases = realloc(out->cases, (size_t)cap * sizeof *cases);
        if (!cases) {
            fail_at(r, r->line, "out of memory");
            return NULL;
        }
        out->cases = cases;
        out->cap_cases = cap;
    }
    RefCase *c = &out->cases[out->n_cases++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->kind = (RefKind)k;
    c->line = r->line;
    return c;
}

// Starts step N of case c from its `step N` line.
static RefStep *begin_step(Reader *r, RefCase *c) {
    char tok[REF_MAX_TOKEN + 1];
    int64_t n;
    if (!KINDS[c->kind].step_spec) {
        fail_at(r, r->line, "a %s case has no steps", KINDS[c->kind].name);
        return NULL;
    }
    if (need_token(r, tok, "step number") < 0 || parse_int(r, tok, &n) < 0 ||
        need_line_end(r, "the step number") < 0)
        return NULL;
    if (n != c->n_steps + 1) {
        fail_at(r, r->line, "step %lld follows step %d; steps are numbered 1, 2, 3, ...",
                (long long)n, c->n_steps);
        return NULL;
    }
    if (c->n_steps == REF_MAX_STEPS) {
        fail_at(r, r->line, "more than %d steps", REF_MAX_STEPS);
        return NULL;
    }
    if (c->n_steps == c->cap_steps) {
        int cap = c->cap_steps ? 2 * c->cap_steps : 4;
        RefStep *steps = realloc(c->steps, (size_t)cap * sizeof *steps);
        if (!steps) {
            fail_at(r, r->line, "out of memory");
            return NULL;
        }
        c->steps = steps;
        c->cap_steps = cap;
    }
    RefStep *st = &c->steps[c->n_steps++];
    memset(st, 0, sizeof *st);
    st->line = r->line;
    return st;
}

// Orders cases by name, then by line (qsort comparator).
static int by_name_then_line(const void *a, const void *b) {
    const RefCase *x = *(const RefCase *const *)a, *y = *(const RefCase *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

// Fails if two cases share a name, naming the later one; sorting keeps it O(n log n).
static int check_unique_names(Reader *r, const RefFile *out) {
    const RefCase **sorted = malloc((size_t)out->n_cases * sizeof *sorted);
    if (!sorted) return fail_at(r, r->line, "out of memory");
    for (int i = 0; i < out->n_cases; i++) sorted[i] = &out->cases[i];
    qsort(sorted, (size_t)out->n_cases, sizeof *sorted, by_name_then_line);
    int rc = 0;
    for (int i = 1; i < out->n_cases && rc == 0; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            rc = fail_at(r, sorted[i]->line, "case '%s' given twice (first on line %d)",
                         sorted[i]->name, sorted[i - 1]->line);
    free(sorted);
    return rc;
}

// Reads a header line's single value (torch or generator) into dst.
static int header_value(Reader *r, RefFile *out, const char *key, char *dst, size_t size) {
    if (out->n_cases > 0) return fail_at(r, r->line, "'%s' belongs before the first case", key);
    if (dst[0]) return fail_at(r, r->line, "'%s' given twice", key);
    char tok[REF_MAX_TOKEN + 1];
    if (need_token(r, tok, "value") < 0 || need_line_end(r, "the value") < 0) return -1;
    snprintf(dst, size, "%s", tok);
    return 0;
}

// Reads the first line, which must be `embref 1`.
static int read_magic(Reader *r) {
    int rc = next_content_line(r);
    if (rc < 0) return -1;
    char tok[REF_MAX_TOKEN + 1];
    if (rc == 0) return fail_at(r, r->line > 0 ? r->line : 1, "file is empty; expected 'embref 1'");
    if (next_token(r, tok) < 0) return -1;
    if (strcmp(tok, "embref") != 0)
        return fail_at(r, r->line, "not a reference file: expected 'embref 1', got '%s'", tok);
    if (need_token(r, tok, "format version") < 0) return -1;
    if (strcmp(tok, "1") != 0)
        return fail_at(r, r->line, "format version %s is not supported (this reader reads 1)", tok);
    return need_line_end(r, "the version");
}

// Reads every line after the magic one into out.
static int read_body(Reader *r, RefFile *out) {
    RefCase *c = NULL;        // the open case, if any
    RefFields *scope = NULL;  // where its next field goes: the case or its last step
    char key[REF_MAX_TOKEN + 1];
    int rc;
    while ((rc = next_content_line(r)) == 1) {
        if (next_token(r, key) < 0) return -1;
        if (strcmp(key, "case") == 0) {
            if (c) return fail_at(r, r->line, "case '%s' (line %d) has no 'end'", c->name, c->line);
            if (!(c = begin_case(r, out))) return -1;
            scope = &c->fields;
        } else if (strcmp(key, "step") == 0) {
            if (!c) return fail_at(r, r->line, "'step' outside a case");
            RefStep *st = begin_step(r, c);
            if (!st) return -1;
            scope = &st->fields;
        } else if (strcmp(key, "end") == 0) {
            if (!c) return fail_at(r, r->line, "'end' outside a case");
            if (need_line_end(r, "'end'") < 0 || check_case(r, c, r->line) < 0) return -1;
            c = NULL;
            scope = NULL;
        } else if (strcmp(key, "torch") == 0 && !c) {
            if (header_value(r, out, key, out->torch, sizeof out->torch) < 0) return -1;
        } else if (strcmp(key, "generator") == 0 && !c) {
            if (header_value(r, out, key, out->generator, sizeof out->generator) < 0) return -1;
        } else if (!c) {
            return fail_at(r, r->line, "'%s' outside a case (expected 'case NAME KIND')", key);
        } else if (parse_field(r, scope, key) < 0) {
            return -1;
        }
    }
    if (rc < 0) return -1;
    if (c)
        return fail_at(r, r->line, "file ends inside case '%s' (line %d): no 'end'", c->name,
                       c->line);
    if (out->n_cases == 0) return fail_at(r, r->line, "file has no cases");
    return check_unique_names(r, out);
}

int ref_parse(const char *text, size_t len, const char *name, RefFile *out, EmbError *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    Reader r = {.text = text, .len = len, .name = out->path, .err = err};
    if (read_magic(&r) < 0 || read_body(&r, out) < 0) {
        ref_free(out);
        return -1;
    }
    return 0;
}

int ref_read_file(const char *path, RefFile *out, EmbError *err) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return emb_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    int rc = -1;
    if (!text) {
        emb_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (len == cap) {
            if (cap > (size_t)REF_MAX_FILE_BYTES) {
                emb_fail(err, "%s: file is larger than the %ld-byte limit", path,
                         REF_MAX_FILE_BYTES);
                goto done;
            }
            char *bigger = realloc(text, 2 * cap);
            if (!bigger) {
                emb_fail(err, "%s: out of memory", path);
                goto done;
            }
            text = bigger;
            cap *= 2;
        }
        size_t n = fread(text + len, 1, cap - len, fp);
        len += n;
        if (n == 0) break;
    }
    if (ferror(fp)) {
        emb_fail(err, "%s: read error", path);
        goto done;
    }
    if (len > (size_t)REF_MAX_FILE_BYTES) {
        emb_fail(err, "%s: file is larger than the %ld-byte limit", path, REF_MAX_FILE_BYTES);
        goto done;
    }
    rc = ref_parse(text, len, path, out, err);
done:
    free(text);
    fclose(fp);
    return rc;
}

// ---------------------------------------------------------------------------
// Freeing and getters
// ---------------------------------------------------------------------------

void ref_free(RefFile *f) {
    for (int i = 0; i < f->n_cases; i++) {
        RefCase *c = &f->cases[i];
        free_fields(&c->fields);
        for (int s = 0; s < c->n_steps; s++) free_fields(&c->steps[s].fields);
        free(c->steps);
    }
    free(f->cases);
    memset(f, 0, sizeof *f);
}

const char *ref_kind_name(RefKind kind) {
    return (kind >= 0 && kind < REF_NUM_KINDS) ? KINDS[kind].name : "?";
}

const RefField *ref_get(const RefFields *f, const char *key) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->items[i].key, key) == 0) return &f->items[i];
    return NULL;
}

int64_t ref_int(const RefFields *f, const char *key) {
    const RefField *x = ref_get(f, key);
    return (x && !x->is_none) ? x->i : 0;
}

uint64_t ref_uint(const RefFields *f, const char *key) {
    const RefField *x = ref_get(f, key);
    return (x && !x->is_none) ? x->u : 0;
}

double ref_real(const RefFields *f, const char *key) {
    const RefField *x = ref_get(f, key);
    return (x && !x->is_none) ? x->r : 0.0;
}

bool ref_bool(const RefFields *f, const char *key) {
    const RefField *x = ref_get(f, key);
    return x && !x->is_none && x->i != 0;
}

const char *ref_word(const RefFields *f, const char *key) {
    const RefField *x = ref_get(f, key);
    return (x && !x->is_none && x->word) ? x->word : "";
}

bool ref_is_none(const RefFields *f, const char *key) {
    const RefField *x = ref_get(f, key);
    return !x || x->is_none;
}
