/*
 * run_values.c - the numbers a chapter's prose quotes, as values.tsv.
 */
#include "run_values.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int valid_key(const char *key) {
    if (!key[0]) return 0;
    for (const char *p = key; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) {
            return 0;
        }
    }
    return 1;
}

// The start of key's line in v->text, or NULL.
static const char *find_line(const RunValues *v, const char *key) {
    size_t klen = strlen(key);
    for (const char *line = v->text; line && line < v->text + v->len;
         line = strchr(line, '\n') + 1) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '\t') return line;
    }
    return NULL;
}

// Marks v failed with the message (the first failure is kept) and returns -1.
static int set_failed(RunValues *v, const char *key, const char *why) {
    if (!v->failed) emb_fail(&v->err, "values.tsv: key '%s': %s", key, why);
    v->failed = 1;
    return -1;
}

int run_values_set(RunValues *v, const char *key, const char *fmt, ...) {
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (!valid_key(key)) return set_failed(v, key, "keys are lower case [a-z0-9_.]+");
    if (find_line(v, key)) return set_failed(v, key, "set twice");
    if (len < 0 || (size_t)len >= sizeof value) return set_failed(v, key, "value too long");
    if (strpbrk(value, "\t\r\n")) return set_failed(v, key, "value holds a tab or line end");
    size_t need = v->len + strlen(key) + 1 + (size_t)len + 2;
    if (need > v->cap) {
        size_t cap = need * 2 > 1024 ? need * 2 : 1024;
        char *text = realloc(v->text, cap);
        if (!text) return set_failed(v, key, "out of memory");
        v->text = text;
        v->cap = cap;
    }
    v->len += (size_t)sprintf(v->text + v->len, "%s\t%s\n", key, value);
    v->n++;
    return 0;
}

int run_values_set_sci(RunValues *v, const char *key, double x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.0e", x);  // "3e-07"
    char *e = strchr(buf, 'e');
    if (!e) return run_values_set(v, key, "%s", buf);  // inf or nan
    *e = '\0';
    return run_values_set(v, key, "%s \\cdot 10^{%d}", buf, atoi(e + 1));
}

int run_values_set_count(RunValues *v, const char *key, int64_t n) {
    char digits[32], out[48];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n)), o = 0;
    if (n < 0) out[o++] = '-';
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return run_values_set(v, key, "%s", out);
}

const char *run_values_get(const RunValues *v, const char *key, char *buf, size_t size) {
    const char *line = find_line(v, key);
    if (!line || size == 0) return NULL;
    const char *value = line + strlen(key) + 1;
    size_t n = (size_t)(strchr(value, '\n') - value);
    if (n >= size) n = size - 1;
    memcpy(buf, value, n);
    buf[n] = '\0';
    return buf;
}

int run_values_write(const RunValues *v, const char *dir, EmbError *err) {
    if (v->failed) return emb_fail(err, "%s", v->err.msg);
    OutFile of;
    if (outfile_open(&of, dir, "values.tsv", err) != 0) return -1;
    if (v->len) fwrite(v->text, 1, v->len, of.f);
    return outfile_commit(&of, err);
}

void run_values_free(RunValues *v) {
    free(v->text);
    memset(v, 0, sizeof *v);
}
