/*
 * reffile.c - reading PyTorch reference files, trusting nothing in them.
 *
 * This is the reader: lines, tokens, numbers, tensors, the limits on all of
 * them, and the file's frame (`embref 1`, the header, `case`, `step`,
 * `end`). What the words mean is the schema's business (src/refschema.c):
 * the reader asks it for a key's type as each field is read, so `lr` is
 * always a real and `weight` always a float tensor, and hands it each case
 * at the case's `end` line, where the kind's lists of fields and its shape
 * checks apply. New kinds and fields change the schema, never this file.
 *
 * Invariants while reading:
 *   - RefReader.cur..RefReader.end is the unread part of the current line,
 *     with its comment and line ending removed; it holds only printable
 *     ASCII, spaces and tabs;
 *   - a tensor's buffers hold `cap` values, cap <= numel, and grow by
 *     doubling only when the next value has actually been read, so memory
 *     stays proportional to the text read;
 *   - a row of a tensor is one line, or several when each but the last
 *     ends with the continuation token `\`; every line is within
 *     REF_MAX_LINE whatever the row's length;
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
#define REF_CONTINUE "\\"    // the last token of a line whose row goes on to the next line

// ---------------------------------------------------------------------------
// Lines and tokens
// ---------------------------------------------------------------------------

struct RefReader {
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

int ref_fail(const RefReader *r, int line, const char *fmt, ...) {
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
static int next_line(RefReader *r) {
    if (r->pos >= r->len) return 0;
    const char *start = r->text + r->pos;
    size_t rest = r->len - r->pos;
    const char *nl = memchr(start, '\n', rest);
    size_t n = nl ? (size_t)(nl - start) : rest;
    r->pos += n + (nl ? 1 : 0);
    if (r->line == INT_MAX) return ref_fail(r, r->line, "too many lines");
    r->line++;
    if (n > REF_MAX_LINE)
        return ref_fail(r, r->line, "line is %zu bytes long; the limit is %d", n, REF_MAX_LINE);
    if (n > 0 && start[n - 1] == '\r') n--;  // a CRLF line ending
    const char *end = start + n;
    for (const char *p = start; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '#') {  // a comment runs to the end of the line and may hold anything
            end = p;
            break;
        }
        if (ch != '\t' && (ch < 0x20 || ch > 0x7e))
            return ref_fail(r, r->line, "unexpected byte 0x%02x in column %zu", ch,
                           (size_t)(p - start) + 1);
    }
    r->cur = start;
    r->end = end;
    return 1;
}

// Skips spaces and tabs; true if a token follows on the current line.
static bool more_tokens(RefReader *r) {
    while (r->cur < r->end && (*r->cur == ' ' || *r->cur == '\t')) r->cur++;
    return r->cur < r->end;
}

// Moves to the next line that holds a token: returns 1, 0 at the end, -1 on error.
static int next_content_line(RefReader *r) {
    int rc;
    while ((rc = next_line(r)) == 1)
        if (more_tokens(r)) return 1;
    return rc;
}

// Copies the current line's next token into tok: returns 1, 0 if none is left, -1 if too long.
static int next_token(RefReader *r, char tok[REF_MAX_TOKEN + 1]) {
    if (!more_tokens(r)) return 0;
    const char *start = r->cur;
    while (r->cur < r->end && *r->cur != ' ' && *r->cur != '\t') r->cur++;
    size_t n = (size_t)(r->cur - start);
    if (n > REF_MAX_TOKEN)
        return ref_fail(r, r->line, "'%.24s...' is longer than %d characters", start, REF_MAX_TOKEN);
    memcpy(tok, start, n);
    tok[n] = '\0';
    return 1;
}

// Reads the current line's next token, failing if there is none.
static int need_token(RefReader *r, char tok[REF_MAX_TOKEN + 1], const char *what) {
    int rc = next_token(r, tok);
    if (rc == 0) return ref_fail(r, r->line, "missing %s", what);
    return rc < 0 ? -1 : 0;
}

// Fails if the current line has anything left after `after`.
static int need_line_end(RefReader *r, const char *after) {
    char tok[REF_MAX_TOKEN + 1];
    int rc = next_token(r, tok);
    if (rc < 0) return -1;
    if (rc > 0) return ref_fail(r, r->line, "unexpected '%s' after %s", tok, after);
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
static int parse_int(RefReader *r, const char *tok, int64_t *out) {
    if (!is_decimal(tok, true)) return ref_fail(r, r->line, "'%s' is not an integer", tok);
    errno = 0;
    long long v = strtoll(tok, NULL, 10);
    if (errno == ERANGE) return ref_fail(r, r->line, "integer '%s' does not fit in 64 bits", tok);
    *out = (int64_t)v;
    return 0;
}

// Parses an unsigned decimal integer.
static int parse_uint(RefReader *r, const char *tok, uint64_t *out) {
    if (tok[0] == '-' && is_decimal(tok, true)) {  // torch.manual_seed(-1) is allowed
        errno = 0;
        long long v = strtoll(tok, NULL, 10);
        if (errno != ERANGE)
            return ref_fail(r, r->line, "'%s' is negative; PyTorch stores a negative seed s as "
                            "s + 2**64, so write %llu", tok, (unsigned long long)v);
    }
    if (!is_decimal(tok, false))
        return ref_fail(r, r->line, "'%s' is not an unsigned integer", tok);
    errno = 0;
    unsigned long long v = strtoull(tok, NULL, 10);
    if (errno == ERANGE) return ref_fail(r, r->line, "integer '%s' does not fit in 64 bits", tok);
    *out = (uint64_t)v;
    return 0;
}

// Parses a real number into a double: inf and -inf are allowed (norm_type inf), nan is not.
static int parse_real(RefReader *r, const char *tok, double *out) {
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || *end != '\0' || isnan(v))
        return ref_fail(r, r->line, "'%s' is not a number", tok);
    if (errno == ERANGE && isinf(v) && !strpbrk(tok, "iI"))
        return ref_fail(r, r->line, "'%s' is out of double range", tok);
    *out = v;
    return 0;
}

// Parses a float32 value (nan and inf allowed), correctly rounded from decimal.
static int parse_f32(RefReader *r, const char *tok, float *out) {
    char *end;
    errno = 0;
    float v = strtof(tok, &end);
    if (end == tok || *end != '\0') return ref_fail(r, r->line, "'%s' is not a number", tok);
    if (errno == ERANGE && isinf(v))  // underflow to a subnormal is fine; overflow is not
        return ref_fail(r, r->line, "'%s' is out of float32 range", tok);
    *out = v;
    return 0;
}

// Parses exactly 8 hex digits: a float32 bit pattern.
static int parse_bits(RefReader *r, const char *tok, uint32_t *out) {
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
    if (n != 8) return ref_fail(r, r->line, "'%s' is not 8 hex digits (float32 bits)", tok);
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

// Makes room for item number n of an array that holds *cap items of `size`
// bytes: returns the array, moved if it grew, or NULL (the old array still
// valid) past `limit` items, naming `what`, or without memory. Capacities
// double from `first` and never pass `limit`, so n, *cap <= limit <= INT_MAX.
static void *grow_array(RefReader *r, void *items, int n, int *cap, size_t size, int first,
                        int limit, const char *what, int line) {
    if (n == limit) {
        ref_fail(r, line, "more than %d %s", limit, what);
        return NULL;
    }
    if (n < *cap) return items;
    int grown = *cap ? (*cap > limit / 2 ? limit : 2 * *cap) : first;
    void *bigger = realloc(items, (size_t)grown * size);  // no overflow: limits are small
    if (!bigger) {
        ref_fail(r, line, "out of memory");
        return NULL;
    }
    *cap = grown;
    return bigger;
}

// Appends a zeroed field called key (a static string) to f; NULL past the limit.
static RefField *add_field(RefReader *r, RefFields *f, const char *key, int line) {
    RefField *items = grow_array(r, f->items, f->n, &f->cap, sizeof *items, 4, REF_MAX_FIELDS,
                                 "fields", line);
    if (!items) return NULL;
    f->items = items;
    RefField *fld = &f->items[f->n++];
    memset(fld, 0, sizeof *fld);
    fld->key = key;
    fld->line = line;
    return fld;
}

// Sets a scalar field from its text, checked against its key's type.
static int parse_scalar(RefReader *r, const RefKeyDef *k, const char *tok, RefField *f) {
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
        else return ref_fail(r, r->line, "'%s' must be true or false, not '%s'", k->key, tok);
        return 0;
    case REF_WORD:
        for (const char *const *w = k->words; *w; w++) {
            if (strcmp(*w, tok) == 0) {
                f->word = *w;
                return 0;
            }
        }
        return ref_fail(r, r->line, "'%s' is not a valid %s", tok, k->key);
    default: return ref_fail(r, r->line, "'%s' is not a scalar", k->key);
    }
}

// Makes room for value number i of a tensor whose buffers hold *cap values.
static int grow_tensor(RefReader *r, RefField *f, int64_t i, int64_t *cap) {
    if (i < *cap) return 0;
    int64_t n = *cap ? 2 * *cap : REF_FIRST_CAP;
    if (n > f->numel) n = f->numel;
    if (f->type == REF_I64) {
        int64_t *p = realloc(f->i64, (size_t)n * sizeof *p);
        if (!p) return ref_fail(r, r->line, "out of memory");
        f->i64 = p;
    } else {
        float *p = realloc(f->f32, (size_t)n * sizeof *p);
        if (!p) return ref_fail(r, r->line, "out of memory");
        f->f32 = p;
        if (f->type == REF_BITS32) {
            uint32_t *b = realloc(f->bits, (size_t)n * sizeof *b);
            if (!b) return ref_fail(r, r->line, "out of memory");
            f->bits = b;
        }
    }
    *cap = n;
    return 0;
}

// Parses one tensor value into slot i.
static int parse_value(RefReader *r, RefField *f, const char *tok, int64_t i) {
    if (f->type == REF_I64) return parse_int(r, tok, &f->i64[i]);
    if (f->type == REF_F32) return parse_f32(r, tok, &f->f32[i]);
    if (parse_bits(r, tok, &f->bits[i]) < 0) return -1;
    memcpy(&f->f32[i], &f->bits[i], sizeof(float));
    return 0;
}

// Reads a row's next value into tok, following a `\` at the end of a line
// to the next line: returns 1, 0 if the row's last line has no value left, -1 on error.
static int next_row_token(RefReader *r, char tok[REF_MAX_TOKEN + 1]) {
    for (;;) {
        int rc = next_token(r, tok);
        if (rc <= 0 || strcmp(tok, REF_CONTINUE) != 0) return rc;
        if (more_tokens(r))
            return ref_fail(r, r->line,
                            "'\\' may only end a line (it continues the row on the next line)");
        int at = r->line;
        rc = next_content_line(r);
        if (rc < 0) return -1;
        if (rc == 0)
            return ref_fail(r, at, "the file ends after '\\': the row's next line is missing");
    }
}

// Reads the rows of a tensor whose header is on line `header`.
static int read_rows_at(RefReader *r, RefField *f, int header) {
    int64_t cols = f->dims[f->ndim - 1];
    int64_t rows = f->numel / cols;
    int64_t cap = 0, i = 0;
    char tok[REF_MAX_TOKEN + 1];
    for (int64_t row = 0; row < rows; row++) {
        int rc = next_content_line(r);
        if (rc < 0) return -1;
        if (rc == 0)
            return ref_fail(r, r->line,
                            "file ends inside '%s' (line %d): %lld of %lld rows read",
                            f->key, header, (long long)row, (long long)rows);
        r->row = row;
        r->tensor = f;  // from here on, messages say which row of which tensor
        for (int64_t col = 0; col < cols; col++, i++) {
            rc = next_row_token(r, tok);
            if (rc < 0) return -1;
            if (rc == 0)
                return ref_fail(r, r->line,
                                "the row has %lld values; expected %lld (a line that ends "
                                "in '\\' continues the row)",
                                (long long)col, (long long)cols);
            if (grow_tensor(r, f, i, &cap) < 0 || parse_value(r, f, tok, i) < 0) return -1;
        }
        if (more_tokens(r)) {
            bool cont = r->cur[0] == '\\' &&
                        (r->cur + 1 == r->end || r->cur[1] == ' ' || r->cur[1] == '\t');
            if (cont)
                return ref_fail(r, r->line, "the row already has its %lld values; no '\\' "
                                "may follow them", (long long)cols);
            return ref_fail(r, r->line, "the row has more than %lld values", (long long)cols);
        }
        r->tensor = NULL;
    }
    return 0;
}

// Reads a tensor's rows: one line per row of its last dimension.
static int read_rows(RefReader *r, RefField *f) {
    if (f->numel == 0) return 0;
    r->header = r->line;
    int rc = read_rows_at(r, f, r->line);
    r->tensor = NULL;
    return rc;
}

// Parses a tensor header's type and dims, then its rows.
static int parse_tensor(RefReader *r, const RefKeyDef *k, RefField *f) {
    char tok[REF_MAX_TOKEN + 1];
    if (need_token(r, tok, "tensor type (f32, bits32 or i64)") < 0) return -1;
    if (strcmp(tok, "f32") == 0) f->type = REF_F32;
    else if (strcmp(tok, "bits32") == 0) f->type = REF_BITS32;
    else if (strcmp(tok, "i64") == 0) f->type = REF_I64;
    else return ref_fail(r, r->line, "'%s' is not a tensor type (f32, bits32 or i64)", tok);
    bool is_float = f->type != REF_I64;
    if (is_float != (k->type == REF_F32))
        return ref_fail(r, r->line, "'%s' must be %s, not %s", k->key,
                       k->type == REF_F32 ? "f32 or bits32" : "i64", tok);
    f->numel = 1;
    int rc;
    while ((rc = next_token(r, tok)) == 1) {
        if (f->ndim == REF_MAX_DIMS)
            return ref_fail(r, r->line, "'%s' has more than %d dimensions", k->key, REF_MAX_DIMS);
        int64_t d;
        if (parse_int(r, tok, &d) < 0) return -1;
        if (d < 0 || d > REF_MAX_SIZE)
            return ref_fail(r, r->line, "dimension %lld of '%s' is outside [0, %ld]",
                           (long long)d, k->key, REF_MAX_SIZE);
        f->dims[f->ndim++] = d;
        f->numel *= d;  // no overflow: numel <= REF_MAX_NUMEL and d <= REF_MAX_SIZE
        if (f->numel > REF_MAX_NUMEL)
            return ref_fail(r, r->line, "'%s' has more than %ld values", k->key, REF_MAX_NUMEL);
    }
    if (rc < 0) return -1;
    if (f->ndim == 0) return ref_fail(r, r->line, "'%s' has no dimensions", k->key);
    return read_rows(r, f);
}

// Parses a field line (its key already read) into scope.
static int parse_field(RefReader *r, RefFields *scope, const char *key) {
    const RefKeyDef *k = refschema_key(key);
    if (!k) return ref_fail(r, r->line, "unknown field '%s'", key);
    RefField *prev = find_field(scope, key);
    if (prev) return ref_fail(r, r->line, "'%s' given twice (first on line %d)", key, prev->line);
    RefField *f = add_field(r, scope, k->key, r->line);
    if (!f) return -1;
    if (k->tensor) return parse_tensor(r, k, f);
    char tok[REF_MAX_TOKEN + 1];
    if (need_token(r, tok, "value") < 0 || parse_scalar(r, k, tok, f) < 0) return -1;
    return need_line_end(r, "the value");
}

// ---------------------------------------------------------------------------
// Applying the schema's lists of fields to a scope
// ---------------------------------------------------------------------------

// True if one of the n lists allows key.
static bool spec_allows(const RefSpec *const *specs, int n, const char *key) {
    for (int i = 0; i < n; i++)
        for (const RefSpec *sp = specs[i]; sp && sp->key; sp++)
            if (strcmp(sp->key, key) == 0) return true;
    return false;
}

int ref_apply_specs(RefReader *r, RefFields *scope, const RefSpec *const *specs, int n_specs,
                    int line, const char *where) {
    for (int i = 0; i < scope->n; i++) {
        const RefField *f = &scope->items[i];
        if (!spec_allows(specs, n_specs, f->key))
            return ref_fail(r, f->line, "'%s' is not allowed in %s", f->key, where);
    }
    for (int i = 0; i < n_specs; i++) {
        for (const RefSpec *sp = specs[i]; sp && sp->key; sp++) {
            if (find_field(scope, sp->key)) continue;
            if (sp->dflt == REF_REQUIRED) return ref_fail(r, line, "%s has no '%s'", where, sp->key);
            if (sp->dflt[0] == '\0') continue;  // REF_OPTIONAL
            const RefKeyDef *k = refschema_key(sp->key);
            if (!k)  // a mistake in src/refschema.c, reported rather than followed
                return ref_fail(r, line, "the schema lists '%s', which is not a key", sp->key);
            RefField *f = add_field(r, scope, k->key, 0);
            if (!f || parse_scalar(r, k, sp->dflt, f) < 0) return -1;
        }
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

// Writes the kinds as "init, lookup, train, model or bag" into buf.
static void kind_list(char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < REF_NUM_KINDS && n < size; k++) {
        const char *sep = k == 0 ? "" : k == REF_NUM_KINDS - 1 ? " or " : ", ";
        n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, ref_kind_name((RefKind)k));
    }
}

// Starts a case from its `case NAME KIND` line.
static RefCase *begin_case(RefReader *r, RefFile *out) {
    char name[REF_MAX_TOKEN + 1], kind[REF_MAX_TOKEN + 1];
    if (!out->torch[0]) {
        ref_fail(r, r->line, "expected a 'torch VERSION' line before the first case");
        return NULL;
    }
    if (need_token(r, name, "case name") < 0 || need_token(r, kind, "case kind") < 0 ||
        need_line_end(r, "the case kind") < 0)
        return NULL;
    if (!valid_name(name)) {
        ref_fail(r, r->line, "case name '%s' may only hold letters, digits and _ . / + -", name);
        return NULL;
    }
    int k = refschema_kind(kind);
    if (k < 0) {
        char kinds[256];
        kind_list(kinds, sizeof kinds);
        ref_fail(r, r->line, "unknown kind '%s' (%s)", kind, kinds);
        return NULL;
    }
    RefCase *cases = grow_array(r, out->cases, out->n_cases, &out->cap_cases, sizeof *cases, 16,
                                REF_MAX_CASES, "cases", r->line);
    if (!cases) return NULL;
    out->cases = cases;
    RefCase *c = &out->cases[out->n_cases++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->kind = (RefKind)k;
    c->line = r->line;
    return c;
}

// Starts step N of case c from its `step N` line.
static RefStep *begin_step(RefReader *r, RefCase *c) {
    char tok[REF_MAX_TOKEN + 1];
    int64_t n;
    if (!refschema_has_steps(c->kind)) {
        ref_fail(r, r->line, "a %s case has no steps", ref_kind_name(c->kind));
        return NULL;
    }
    if (need_token(r, tok, "step number") < 0 || parse_int(r, tok, &n) < 0 ||
        need_line_end(r, "the step number") < 0)
        return NULL;
    if (n != c->n_steps + 1) {
        ref_fail(r, r->line, "step %lld follows step %d; steps are numbered 1, 2, 3, ...",
                (long long)n, c->n_steps);
        return NULL;
    }
    RefStep *steps = grow_array(r, c->steps, c->n_steps, &c->cap_steps, sizeof *steps, 4,
                                REF_MAX_STEPS, "steps", r->line);
    if (!steps) return NULL;
    c->steps = steps;
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
static int check_unique_names(RefReader *r, const RefFile *out) {
    const RefCase **sorted = malloc((size_t)out->n_cases * sizeof *sorted);
    if (!sorted) return ref_fail(r, r->line, "out of memory");
    for (int i = 0; i < out->n_cases; i++) sorted[i] = &out->cases[i];
    qsort(sorted, (size_t)out->n_cases, sizeof *sorted, by_name_then_line);
    int rc = 0;
    for (int i = 1; i < out->n_cases && rc == 0; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            rc = ref_fail(r, sorted[i]->line, "case '%s' given twice (first on line %d)",
                         sorted[i]->name, sorted[i - 1]->line);
    free(sorted);
    return rc;
}

// Reads a header line's single value (torch or generator) into dst.
static int header_value(RefReader *r, RefFile *out, const char *key, char *dst, size_t size) {
    if (out->n_cases > 0) return ref_fail(r, r->line, "'%s' belongs before the first case", key);
    if (dst[0]) return ref_fail(r, r->line, "'%s' given twice", key);
    char tok[REF_MAX_TOKEN + 1];
    if (need_token(r, tok, "value") < 0 || need_line_end(r, "the value") < 0) return -1;
    snprintf(dst, size, "%s", tok);
    return 0;
}

// Reads the first line, which must be `embref 1`.
static int read_magic(RefReader *r) {
    int rc = next_content_line(r);
    if (rc < 0) return -1;
    char tok[REF_MAX_TOKEN + 1];
    if (rc == 0) return ref_fail(r, r->line > 0 ? r->line : 1, "file is empty; expected 'embref 1'");
    if (next_token(r, tok) < 0) return -1;
    if (strcmp(tok, "embref") != 0)
        return ref_fail(r, r->line, "not a reference file: expected 'embref 1', got '%s'", tok);
    if (need_token(r, tok, "format version") < 0) return -1;
    if (strcmp(tok, "1") != 0)
        return ref_fail(r, r->line, "format version %s is not supported (this reader reads 1)", tok);
    return need_line_end(r, "the version");
}

// Reads every line after the magic one into out.
static int read_body(RefReader *r, RefFile *out) {
    RefCase *c = NULL;        // the open case, if any
    RefFields *scope = NULL;  // where its next field goes: the case or its last step
    char key[REF_MAX_TOKEN + 1];
    int rc;
    while ((rc = next_content_line(r)) == 1) {
        if (next_token(r, key) < 0) return -1;
        if (strcmp(key, "case") == 0) {
            if (c) return ref_fail(r, r->line, "case '%s' (line %d) has no 'end'", c->name, c->line);
            if (!(c = begin_case(r, out))) return -1;
            scope = &c->fields;
        } else if (strcmp(key, "step") == 0) {
            if (!c) return ref_fail(r, r->line, "'step' outside a case");
            RefStep *st = begin_step(r, c);
            if (!st) return -1;
            scope = &st->fields;
        } else if (strcmp(key, "end") == 0) {
            if (!c) return ref_fail(r, r->line, "'end' outside a case");
            if (need_line_end(r, "'end'") < 0 || refschema_check_case(r, c, r->line) < 0) return -1;
            c = NULL;
            scope = NULL;
        } else if (strcmp(key, "torch") == 0 && !c) {
            if (header_value(r, out, key, out->torch, sizeof out->torch) < 0) return -1;
        } else if (strcmp(key, "generator") == 0 && !c) {
            if (header_value(r, out, key, out->generator, sizeof out->generator) < 0) return -1;
        } else if (!c) {
            return ref_fail(r, r->line, "'%s' outside a case (expected 'case NAME KIND')", key);
        } else if (parse_field(r, scope, key) < 0) {
            return -1;
        }
    }
    if (rc < 0) return -1;
    if (c)
        return ref_fail(r, r->line, "file ends inside case '%s' (line %d): no 'end'", c->name,
                       c->line);
    if (out->n_cases == 0) return ref_fail(r, r->line, "file has no cases");
    return check_unique_names(r, out);
}

int ref_parse(const char *text, size_t len, const char *name, RefFile *out, EmbError *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    RefReader r = {.text = text, .len = len, .name = out->path, .err = err};
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
