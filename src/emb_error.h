/*
 * emb_error.h - the book's error convention.
 *
 * Library code never exits or aborts on bad input. A function that can fail
 * takes an `EmbError *err` as its last argument and returns 0 on success or
 * -1 on failure, after writing a message into err->msg that names the bad
 * value and the valid range, in PyTorch's words where PyTorch has them.
 * err may be NULL when the caller does not want the message.
 *
 * Programs print err.msg on stderr and exit non-zero.
 */
#ifndef EMB_ERROR_H
#define EMB_ERROR_H

#include <stdint.h>

typedef struct EmbError {
    char msg[512];
} EmbError;

// Formats a message into err (if not NULL) and returns -1, so a failing
// function can end with `return emb_fail(err, "...", ...);`.
int emb_fail(EmbError *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Sets *out = a*b for two sizes and returns 0; returns -1 (leaving *out
// alone) if either is negative or the product does not fit in int64_t.
int emb_mul_size(int64_t a, int64_t b, int64_t *out);

#endif
