/*
 * Model answer to exercise 1.3 (notebooks/exercises/ex01-lookup.c).
 *
 * The lookup checks every index before it writes anything, so that a bad
 * index leaves out untouched (the test bad_index_is_an_error_and_writes_nothing
 * fills out with 7s and checks they survive). Checking inside the copy loop
 * would pass every other test and fail that one.
 */
#include <string.h>

#include "01-lookup-table.h"

int emb_check_indices(const Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (n < 0) return emb_fail(err, "number of indices must be >= 0, got %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= e->num_embeddings) {
            return emb_fail(err, "index out of range in self: index %lld, num_embeddings %lld",
                            (long long)idx[i], (long long)e->num_embeddings);
        }
    }
    return 0;
}

int emb_lookup(const Embedding *e, const int64_t *idx, int64_t n, float *out, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;  // all of them, before any copy
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        const float *w_ix = e->weight + idx[i] * D;  // seek to row idx[i]
        memcpy(out + i * D, w_ix, (size_t)D * sizeof(float));
    }
    return 0;
}
