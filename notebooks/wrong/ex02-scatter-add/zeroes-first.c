// Wrong: the gradient is cleared at every call, so gradients do not
// accumulate until zero_grad as PyTorch's do.
#include <string.h>

#include "02-gradient-flow.h"

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    memset(e->grad, 0, (size_t)(e->num_embeddings * D) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        for (int64_t d = 0; d < D; d++) e->grad[idx[i] * D + d] += grad_out[i * D + d];
    }
    return 0;
}
