/*
 * emb_error.c - formatting error messages and checked size arithmetic.
 */
#include "emb_error.h"

#include <stdarg.h>
#include <stdio.h>

int emb_fail(EmbError *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int emb_mul_size(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > INT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}
