/*
 * Exercise 6.3 - coalescing a sparse gradient (chapter 6, "Coalescing, and
 * the order of a sum").
 *
 * Write sparse_coalesce, PyTorch 1.13's grad.coalesce() on the CPU. Sparse
 * Adagrad and SparseAdam call it at every step, so chapter 6's tests, the
 * program and its training runs all call yours. The tests compare your sums
 * with torch's bit for bit.
 *
 *     make exercise6                                   # grades this file (and ex06-*.c)
 *     make exercise6 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/06-sparse-efficiency.h):
 *   - out is initialised with g's shape (sparse_grad_init(out, V, D)) and
 *     is not g; its old entries, if any, are dropped;
 *   - out gets each row of g once, in increasing order, with the sum of
 *     that row's entries; out->coalesced is true;
 *   - the order of the sum: visit the entries in the order
 *     sparse_sort_order(g->indices, g->nnz, perm, err) gives (torch's
 *     std::sort, not a stable sort); the first entry of a row is copied,
 *     each later one added to it (a plain float addition);
 *   - if g is already coalesced, or has fewer than 2 entries, out is a copy
 *     of g, value for value (-0.0 stays -0.0);
 *   - returns 0, or -1 with a message in err when memory runs out.
 * Useful: sparse_grad_zero, sparse_grad_append (it grows the buffers).
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    // TODO: sort the entries as torch does, then sum each row's values.
    (void)g;
    (void)out;
    return emb_fail(err, "TODO: sparse_coalesce is not written yet (exercise 6.3)");
}
