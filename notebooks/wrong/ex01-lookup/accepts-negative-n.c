// Wrong: n < 0 is not an error; the lookup then copies nothing and returns 0.
#include <string.h>

#include "01-lookup-table.h"

int emb_check_indices(const Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= e->num_embeddings) {
            return emb_fail(err, "index out of range in self: index %lld, num_embeddings %lld",
                            (long long)idx[i], (long long)e->num_embeddings);
        }
    }
    return 0;
}

int emb_lookup(const Embedding *e, const int64_t *idx, int64_t n, float *out, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) memcpy(out + i * D, e->weight + idx[i] * D, (size_t)D * sizeof(float));
    return 0;
}
