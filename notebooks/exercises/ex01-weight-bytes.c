/*
 * Exercise 1.4 - the size of a table, without overflow (chapter 1, "The table").
 *
 * Write emb_weight_bytes: the number of bytes of a (V, D) float32 table,
 * V*D*4, or -1 when there is no such table. emb_init calls it before every
 * allocation, so a wrong answer here breaks nearly every test of chapter 1.
 *
 *     make exercise1                                   # grades this file (and ex01-*.c)
 *     make exercise1 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/01-lookup-table.h):
 *   - V < 1 or D < 1: return -1;
 *   - V*D*sizeof(float) does not fit in int64_t, or not in size_t: return -1;
 *   - otherwise return V*D*4.
 * Signed overflow is undefined behaviour in C: find out whether the product
 * would overflow BEFORE you compute it. src/emb_error.h has a helper for
 * exactly this; try it first without, then compare.
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <stddef.h>

#include "01-lookup-table.h"

int64_t emb_weight_bytes(int64_t V, int64_t D) {
    // TODO: reject non-positive sizes, check V*D*4 for overflow, return the bytes.
    (void)V;
    (void)D;
    return -1;
}
