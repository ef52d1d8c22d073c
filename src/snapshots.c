/*
 * snapshots.c - copies of a table during training, written as TSV.
 */
#include "snapshots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int snapshots_init(Snapshots *s, int64_t V, int64_t D, int n, int64_t total_steps, EmbError *err) {
    memset(s, 0, sizeof *s);
    int64_t per, all;
    if (V < 1 || D < 1 || n < 1 || total_steps < 0 || emb_mul_size(V, D, &per) != 0 ||
        emb_mul_size(per, (int64_t)n + 1, &all) != 0 || all > INT64_MAX / (int64_t)sizeof(float)) {
        return emb_fail(err, "cannot keep %d snapshots of a %lld x %lld table", n + 1,
                        (long long)V, (long long)D);
    }
    *s = (Snapshots){.V = V, .D = D, .n = n, .total_steps = total_steps,
                     .rows = malloc((size_t)all * sizeof(float)),
                     .steps = calloc((size_t)n + 1, sizeof(int64_t))};
    if (!s->rows || !s->steps) {
        snapshots_free(s);
        return emb_fail(err, "out of memory for %d snapshots of a %lld x %lld table", n + 1,
                        (long long)V, (long long)D);
    }
    return 0;
}

void snapshots_free(Snapshots *s) {
    free(s->rows);
    free(s->steps);
    memset(s, 0, sizeof *s);
}

void snapshots_take(Snapshots *s, int64_t step, const float *weight) {
    while (s->taken <= s->n && step == s->taken * s->total_steps / s->n) {
        memcpy(s->rows + s->taken * s->V * s->D, weight, (size_t)(s->V * s->D) * sizeof(float));
        s->steps[s->taken++] = step;
    }
}

// One line: row k of snapshot t.
static void write_row(FILE *f, const Snapshots *s, const RowLabels *l, int t, int64_t k) {
    const float *w_k = s->rows + ((int64_t)t * s->V + k) * s->D;  // seek to row k of snapshot t
    fprintf(f, "%s\t%d\t%lld\t%.6f\t%.6f\n", l->words[k], l->category[k], (long long)s->steps[t],
            w_k[0], s->D > 1 ? w_k[1] : 0.0f);
}

int snapshots_write(const Snapshots *s, const char *dir, const RowLabels *labels, bool frames,
                    EmbError *err) {
    OutFile of;
    if (outfile_open(&of, dir, "trajectory.tsv", err) != 0) return -1;
    fprintf(of.f, "word\tcategory\tstep\tx\ty\n");
    for (int64_t k = 0; k < s->V; k++) {  // one block per row
        for (int t = 0; t < s->taken; t++) write_row(of.f, s, labels, t, k);
        fprintf(of.f, "\n");
    }
    if (outfile_commit(&of, err) != 0) return -1;
    if (frames) {
        if (outfile_open(&of, dir, "frames.tsv", err) != 0) return -1;
        for (int t = 0; t < s->taken; t++) {  // one block per snapshot
            fprintf(of.f, "word\tcategory\tstep\tx\ty\n");
            for (int64_t k = 0; k < s->V; k++) write_row(of.f, s, labels, t, k);
            if (t + 1 < s->taken) fprintf(of.f, "\n\n");
        }
        if (outfile_commit(&of, err) != 0) return -1;
    }
    if (outfile_open(&of, dir, "categories.tsv", err) != 0) return -1;
    fprintf(of.f, "index\tcategory\n");
    for (int g = 0; g < labels->n_categories; g++) fprintf(of.f, "%d\t%s\n", g, labels->category_names[g]);
    return outfile_commit(&of, err);
}

int snapshots_write_padded(const Snapshots *s, const char *dir, const RowLabels *words,
                           int64_t pad, EmbError *err) {
    int64_t V = s->V, n_words = V - 1;
    const char **names = malloc(((size_t)words->n_categories + 1) * sizeof *names);
    const char **row_words = malloc((size_t)V * sizeof *row_words);
    int *category = malloc((size_t)V * sizeof *category), rc = -1;
    if (!row_words || !names || !category) {
        emb_fail(err, "out of memory for %lld labels", (long long)V);
    } else {
        for (int64_t k = 0; k < V; k++) {
            row_words[k] = k == n_words ? "<pad>" : words->words[k];
            category[k] = k == pad ? words->n_categories
                                   : (k < n_words ? words->category[k] : -1);
        }
        for (int g = 0; g < words->n_categories; g++) names[g] = words->category_names[g];
        names[words->n_categories] = "padding";
        RowLabels labels = {row_words, category, names, words->n_categories + 1};
        rc = snapshots_write(s, dir, &labels, false, err);
    }
    free(row_words);
    free(names);
    free(category);
    return rc;
}
