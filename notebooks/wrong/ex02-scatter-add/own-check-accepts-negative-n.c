// Wrong: its own index check forgets that n < 0 is an error.
#include "02-gradient-flow.h"

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= e->num_embeddings) {
            return emb_fail(err, "index out of range in self: index %lld, num_embeddings %lld",
                            (long long)idx[i], (long long)e->num_embeddings);
        }
    }
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t d = 0; d < D; d++) e->grad[idx[i] * D + d] += grad_out[i * D + d];
    }
    return 0;
}
