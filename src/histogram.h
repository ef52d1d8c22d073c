/*
 * histogram.h - how close a table's values are to N(0, 1): a summary and a
 * TSV histogram beside the standard normal density (chapter 1's figure).
 */
#ifndef HISTOGRAM_H
#define HISTOGRAM_H

#include <stdint.h>

#include "emb_error.h"

typedef struct NormalSummary {
    int64_t n;              // values
    double mean, std;       // of the values
    double within1_pct;     // % of values with |x| < 1 (N(0, 1): 68.27 %)
    double within2_pct;     // % of values with |x| < 2 (N(0, 1): 95.45 %)
} NormalSummary;

// Summarises the n values of x (n >= 1) and writes dir/name: bins of width
// 0.1 from -5 to 5, columns center, count, density (count / (n * width)) and
// normal_pdf (the N(0, 1) density at the centre).
int hist_write_normal(const float *x, int64_t n, const char *dir, const char *name,
                      NormalSummary *s, EmbError *err);

#endif
