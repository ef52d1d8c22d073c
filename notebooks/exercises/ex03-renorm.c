/*
 * Exercise 3.3 - max_norm's renormalisation (chapter 3, "max_norm: a forward
 * pass that changes the weights").
 *
 * Write emb_renorm_, PyTorch's torch.embedding_renorm_. The module's forward
 * pass (emb_forward) calls it before every lookup when max_norm is set, so
 * chapter 3's tests, its training runs and its program all call yours.
 *
 *     make exercise3                                   # grades this file (and ex03-*.c)
 *     make exercise3 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The last line it prints is your score: "exercise3 FILE: P/T tests passed".
 *
 * The contract (chapters/03-padding-and-options.h):
 *   - idx is (n,); check every index first (emb_check_indices): on a bad one
 *     return -1 and change nothing;
 *   - visit each DISTINCT row among idx once (a row looked up twice is
 *     rescaled once); rows not looked up are never touched, the padding row
 *     is not skipped;
 *   - the norm is emb_row_norm(row, D, e->norm_type) (chapter 3 gives it);
 *   - if norm > e->max_norm (strictly), multiply the row in place by
 *     scale = (float)(max_norm / (norm + 1e-7)), computed in double;
 *   - return the number of rows rescaled.
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <stdlib.h>

#include "03-padding-and-options.h"

int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    // TODO: check the indices; for each distinct row: its norm, and rescale it if too long.
    (void)e;
    (void)idx;
    (void)n;
    return emb_fail(err, "TODO: emb_renorm_ is not written yet (notebooks/exercises/ex03-renorm.c)");
}
