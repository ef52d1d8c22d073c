/*
 * tsv.c - run files of one row per step.
 */
#include "tsv.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int tsv_write_columns(const char *dir, const char *file, const char *index_name,
                      int64_t first_index, int64_t n, const TsvColumn *cols, int n_cols,
                      EmbError *err) {
    OutFile of;
    if (outfile_open(&of, dir, file, err) != 0) return -1;
    fprintf(of.f, "%s", index_name);
    for (int c = 0; c < n_cols; c++) fprintf(of.f, "\t%s", cols[c].name);
    fprintf(of.f, "\n");
    for (int64_t r = 0; r < n; r++) {
        fprintf(of.f, "%lld", (long long)(first_index + r));
        for (int c = 0; c < n_cols; c++) {
            const TsvColumn *col = &cols[c];
            double v = col->values ? col->values[r] : col->counts ? 0.0 : col->constant;
            if (col->counts) fprintf(of.f, "\t%lld", (long long)col->counts[r]);
            else if (col->format == TSV_WHOLE) fprintf(of.f, "\t%lld", (long long)v);
            else if (col->format == TSV_G) fprintf(of.f, "\t%g", v);
            else fprintf(of.f, "\t%.6f", v);
        }
        fprintf(of.f, "\n");
    }
    return outfile_commit(&of, err);
}

int tsv_write_lookups(const char *dir, const char *file, const float *w, int64_t rows,
                      int64_t cols, const int64_t *idx, int64_t n, EmbError *err) {
    OutFile of;
    if (outfile_open(&of, dir, file, err) != 0) return -1;
    fprintf(of.f, "row\tcol\tvalue\tlookups\n");
    for (int64_t r = 0; r < rows; r++) {
        int64_t lookups = 0;
        for (int64_t i = 0; i < n; i++) lookups += (idx[i] == r);
        for (int64_t c = 0; c < cols; c++) {
            fprintf(of.f, "%lld\t%lld\t%.9g\t%lld\n", (long long)r, (long long)c,
                    w[r * cols + c], (long long)lookups);
        }
    }
    return outfile_commit(&of, err);
}

int tsv_write_smoothed(const char *dir, const char *file, const char *const *names,
                       const double *const *series, int n_series, int64_t n, int64_t window,
                       EmbError *err) {
    int64_t values;
    TsvColumn *cols = calloc((size_t)n_series, sizeof *cols);
    double *smooth = NULL;  // (n_series, n)
    if (emb_mul_size(n_series, n, &values) == 0 && emb_mul_size(values, 8, &values) == 0) {
        smooth = malloc((size_t)values);
    }
    int rc = emb_fail(err, "out of memory for %d series of %lld steps", n_series, (long long)n);
    if (cols && smooth) {
        for (int c = 0; c < n_series; c++) {
            tsv_moving_average(series[c], n, window, smooth + c * n);
            cols[c] = (TsvColumn){names[c], TSV_FIXED6, .values = smooth + c * n};
        }
        rc = tsv_write_columns(dir, file, "step", 1, n, cols, n_series, err);
    }
    free(cols);
    free(smooth);
    return rc;
}

void tsv_moving_average(const double *x, int64_t n, int64_t window, double *out) {
    double sum = 0.0;
    for (int64_t s = 0; s < n; s++) {
        sum += x[s] - (s >= window ? x[s - window] : 0.0);
        out[s] = sum / (double)(s + 1 < window ? s + 1 : window);
    }
}
