/*
 * run_values.h - the numbers a chapter's prose quotes from its run.
 *
 * A chapter program records each number its prose quotes, formatted as the
 * prose prints it, under a key; cli_main writes them as values.tsv in the
 * run's folder, with the rest of the run (so the file is never from another
 * run). The book's weave replaces {{key}} in the prose with the value
 * (docs/WEAVE.md). Keys are lower case [a-z0-9_.]+ and unique; values are
 * one line without tabs.
 *
 * Invariant: text holds n lines "key\tvalue\n", in the order they were set.
 */
#ifndef RUN_VALUES_H
#define RUN_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "emb_error.h"

typedef struct RunValues {
    char *text;          // the lines of values.tsv
    size_t len, cap;     // bytes used and allocated
    int n;               // lines
    EmbError err;        // the first error of run_values_set, if failed
    int failed;          // a set failed; run_values_write reports it
} RunValues;

// Records key = the formatted value. A bad key, a repeated key, a value
// with a tab or a line end, or no memory marks the set failed (the first
// message is kept) and returns -1; run_values_write then fails with it.
int run_values_set(RunValues *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Records x in the prose's scientific notation, with one significant digit,
// as LaTeX for $...$: 3.13e-07 gives "3 \cdot 10^{-7}".
int run_values_set_sci(RunValues *v, const char *key, double x);

// Records a count with thousands separators: 14192 gives "14,192".
int run_values_set_count(RunValues *v, const char *key, int64_t n);

// The value recorded for key, or NULL.
const char *run_values_get(const RunValues *v, const char *key, char *buf, size_t size);

// Writes dir/values.tsv (atomically), or fails with the first error of a set.
int run_values_write(const RunValues *v, const char *dir, EmbError *err);

// Frees the recorded lines and zeroes the struct.
void run_values_free(RunValues *v);

#endif
