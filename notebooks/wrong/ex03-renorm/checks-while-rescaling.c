// Wrong: each index is checked when it is reached, so rows before a bad
// index have already been rescaled when the error is returned.
#include <stdlib.h>

#include "03-padding-and-options.h"

int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (n < 0) return emb_fail(err, "number of indices must be >= 0, got %lld", (long long)n);
    unsigned char *seen = calloc((size_t)e->num_embeddings, 1);
    if (!seen) return emb_fail(err, "out of memory renormalising %lld rows", (long long)n);
    int64_t D = e->embedding_dim, rescaled = 0;
    for (int64_t i = 0; i < n; i++) {
        if (emb_check_indices(e, idx + i, 1, err) != 0) {
            free(seen);
            return -1;
        }
        if (seen[idx[i]]) continue;
        seen[idx[i]] = 1;
        float *w_k = e->weight + idx[i] * D;
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
