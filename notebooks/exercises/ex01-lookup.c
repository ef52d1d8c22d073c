/*
 * Exercise 1.3 - the lookup (chapter 1, "Looking rows up").
 *
 * Write the two functions below so that they do what chapter 1's do. The
 * chapter's own tests grade them, exactly as they check the book:
 *
 *     make exercise1                                   # grades this file (and ex01-*.c)
 *     make exercise1 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The last line it prints is your score: "exercise1 FILE: P/T tests passed".
 * It lists every test that failed, with the line in tests/test_ch01.c.
 *
 * The contract (chapters/01-lookup-table.h and the chapter's prose):
 *   - emb_check_indices: every idx[i] must be in [0, V); -1 is an error, not
 *     the last row. On the first bad index, return
 *         emb_fail(err, "index out of range in self: index %lld, num_embeddings %lld", ...)
 *     (the tests compare the message character for character). n < 0 is an
 *     error too. err may be NULL: emb_fail allows that.
 *   - emb_lookup: out is (n, D); row i of out is a copy of row idx[i] of the
 *     weight (row ix starts at e->weight + ix*D). Check ALL the indices
 *     before you copy anything: on a bad index, out must be left untouched.
 *
 * Rules: keep the signatures; any helper you add must be static. Warnings
 * are errors (the book's CFLAGS), so cast unused parameters to (void).
 */
#include <string.h>

#include "01-lookup-table.h"

int emb_check_indices(const Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    // TODO: return -1 (with the message above) for the first index outside [0, V); else 0.
    (void)e;
    (void)idx;
    (void)n;
    return emb_fail(err, "TODO: emb_check_indices is not written yet (notebooks/exercises/ex01-lookup.c)");
}

int emb_lookup(const Embedding *e, const int64_t *idx, int64_t n, float *out, EmbError *err) {
    // TODO: check every index first, then copy row idx[i] of the weight into row i of out.
    (void)e;
    (void)idx;
    (void)n;
    (void)out;
    return emb_fail(err, "TODO: emb_lookup is not written yet (notebooks/exercises/ex01-lookup.c)");
}
