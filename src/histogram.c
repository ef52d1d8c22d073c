/*
 * histogram.c - a table's values against N(0, 1).
 */
#include "histogram.h"

#include <math.h>
#include <stdio.h>

#include "cli.h"

enum { HIST_BINS = 100 };
#define HIST_LO (-5.0)
#define HIST_WIDTH 0.1

int hist_write_normal(const float *x, int64_t n, const char *dir, const char *name,
                      NormalSummary *s, EmbError *err) {
    int64_t counts[HIST_BINS] = {0};
    double sum = 0.0, sum_sq = 0.0, within1 = 0.0, within2 = 0.0;
    if (n < 1) return emb_fail(err, "a histogram needs at least 1 value, got %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        sum += v;
        sum_sq += v * v;
        within1 += fabs(v) < 1.0;
        within2 += fabs(v) < 2.0;
        int64_t bin = (int64_t)floor((v - HIST_LO) / HIST_WIDTH);
        if (bin >= 0 && bin < HIST_BINS) counts[bin]++;
    }
    double mean = sum / (double)n;
    *s = (NormalSummary){n, mean, sqrt(sum_sq / (double)n - mean * mean),
                         100.0 * within1 / (double)n, 100.0 * within2 / (double)n};
    OutFile of;
    if (outfile_open(&of, dir, name, err) != 0) return -1;
    fprintf(of.f, "center\tcount\tdensity\tnormal_pdf\n");
    for (int b = 0; b < HIST_BINS; b++) {
        double center = HIST_LO + (b + 0.5) * HIST_WIDTH;
        double density = (double)counts[b] / ((double)n * HIST_WIDTH);
        double pdf = exp(-0.5 * center * center) / sqrt(2.0 * 3.14159265358979323846);
        fprintf(of.f, "%.2f\t%lld\t%.6f\t%.6f\n", center, (long long)counts[b], density, pdf);
    }
    return outfile_commit(&of, err);
}
