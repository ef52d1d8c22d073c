/*
 * snapshots.h - a table's rows at evenly spaced steps of a training run,
 * and the TSV files the trajectory figures are drawn from
 * (chapters/trajectories.gp, chapter 2's animation).
 *
 * Invariants: rows holds n + 1 copies of a (V, D) table; snapshot s is
 * taken at step s * total_steps / n, so the first is the table before
 * training and the last the table after it; taken counts the copies made.
 */
#ifndef SNAPSHOTS_H
#define SNAPSHOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "emb_error.h"

typedef struct Snapshots {
    int64_t V, D;         // the table's shape
    int n;                // snapshots after the first
    int taken;            // copies made so far
    int64_t total_steps;  // the run's length
    float *rows;          // (n + 1, V, D)
    int64_t *steps;       // (n + 1,) the step of each copy
} Snapshots;

// Room for n + 1 copies of a (V, D) table over a run of total_steps steps.
int snapshots_init(Snapshots *s, int64_t V, int64_t D, int n, int64_t total_steps, EmbError *err);

// Frees the copies and zeroes the struct.
void snapshots_free(Snapshots *s);

// Copies weight (V, D) once for every snapshot due at this step (several
// are due at once when the run has fewer steps than snapshots).
void snapshots_take(Snapshots *s, int64_t step, const float *weight);

// What to call each row in the files: words and category are (V,), the
// category of a row indexes category_names (n_categories of them), or is
// -1 for none.
typedef struct RowLabels {
    const char *const *words;
    const int *category;
    const char *const *category_names;
    int n_categories;
} RowLabels;

// Writes dir/trajectory.tsv (word, category, step, x, y: one block per row,
// a blank line between), dir/categories.tsv and, if frames, dir/frames.tsv
// (the same columns, one block per snapshot, two blank lines between).
// x and y are the first two columns of each row (y = 0 when D = 1).
int snapshots_write(const Snapshots *s, const char *dir, const RowLabels *labels, bool frames,
                    EmbError *err);

// The same files for a table whose rows are the V - 1 words of `words`
// and then a <pad> row; row pad (the filler, perhaps a word) is put in a
// category "padding" of its own. No frames.
int snapshots_write_padded(const Snapshots *s, const char *dir, const RowLabels *words,
                           int64_t pad, EmbError *err);

#endif
