/*
 * Model answer to exercise 3.3 (notebooks/exercises/ex03-renorm.c).
 *
 * PyTorch sorts the indices and skips repeats; a table of "seen" flags
 * visits the same rows without sorting. The comparison is strict, so a row
 * whose norm is exactly max_norm is left alone (max_norm_is_strict), and
 * the scale is computed in double and rounded to float once, as PyTorch's
 * kernel does, so the results match its bits.
 */
#include <stdlib.h>

#include "03-padding-and-options.h"

int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    unsigned char *seen = calloc((size_t)e->num_embeddings, 1);  // (V,) rows visited
    if (!seen) return emb_fail(err, "out of memory renormalising %lld rows", (long long)n);
    int64_t D = e->embedding_dim, rescaled = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx[i];
        if (seen[k]) continue;
        seen[k] = 1;
        float *w_k = e->weight + k * D;  // seek to row k
        double norm = emb_row_norm(w_k, D, e->norm_type);
        if (norm > e->max_norm) {
            float scale = (float)(e->max_norm / (norm + 1e-7));
            for (int64_t d = 0; d < D; d++) w_k[d] *= scale;
            rescaled++;
        }
    }
    free(seen);
    return rescaled;
}
