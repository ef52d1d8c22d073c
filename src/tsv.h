/*
 * tsv.h - the run files the figures are drawn from: a header row, then one
 * row per step, one column per series (tab-separated, as chapters/style.gp
 * reads them).
 */
#ifndef TSV_H
#define TSV_H

#include <stdint.h>

#include "emb_error.h"

// How a column prints its numbers.
typedef enum TsvFormat {
    TSV_FIXED6,  // "%.6f"
    TSV_G,       // "%g"
    TSV_WHOLE,   // "%lld"
} TsvFormat;

// One column: values (n,), or counts (n,), or the same constant on every row.
typedef struct TsvColumn {
    const char *name;       // its header
    TsvFormat format;
    const double *values;   // (n,) or NULL
    const int64_t *counts;  // (n,) or NULL
    double constant;        // when values and counts are NULL
} TsvColumn;

// Writes dir/file (atomically): a header "index_name<TAB>name...", then n
// rows whose first column is first_index + r.
int tsv_write_columns(const char *dir, const char *file, const char *index_name,
                      int64_t first_index, int64_t n, const TsvColumn *cols, int n_cols,
                      EmbError *err);

// Writes a (rows, cols) matrix w in long form to dir/file, one line per
// value: row, col, value (%.9g, so float32 values round-trip) and lookups,
// how many of the n ids in idx name the row (chapter 1's heat map).
int tsv_write_lookups(const char *dir, const char *file, const float *w, int64_t rows,
                      int64_t cols, const int64_t *idx, int64_t n, EmbError *err);

// Writes dir/file: a "step" column from 1 to n, then one column per series,
// series[c] (n,) smoothed by tsv_moving_average over window steps. names
// are the columns' headers.
int tsv_write_smoothed(const char *dir, const char *file, const char *const *names,
                       const double *const *series, int n_series, int64_t n, int64_t window,
                       EmbError *err);

// out[s] = the mean of x[s - window + 1 .. s] (fewer at the start), kept as a
// running sum, for n values. x and out are (n,); window >= 1.
void tsv_moving_average(const double *x, int64_t n, int64_t window, double *out);

#endif
