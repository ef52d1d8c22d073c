// Wrong: each upstream row is added straight into e->grad. PyTorch sums the
// call's rows from zero first and adds the sum once, so a row repeated on
// top of an old gradient rounds differently.
#include "02-gradient-flow.h"

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        float *g_ix = e->grad + idx[i] * D;
        const float *g_i = grad_out + i * D;
        for (int64_t d = 0; d < D; d++) g_ix[d] += g_i[d];
    }
    return 0;
}
