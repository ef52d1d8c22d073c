// Wrong: each index is checked just before its row is copied, so a bad
// index after a good one leaves the good row already written to out.
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
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        if (emb_check_indices(e, idx + i, 1, err) != 0) return -1;
        memcpy(out + i * D, e->weight + idx[i] * D, (size_t)D * sizeof(float));
    }
    return 0;
}
