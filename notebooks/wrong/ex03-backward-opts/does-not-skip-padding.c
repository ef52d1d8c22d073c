// Wrong: the padding row is not skipped; its gradient is scaled instead.
#include <math.h>
#include <stdlib.h>

#include "03-padding-and-options.h"

int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (!e->requires_grad) return 0;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t V = e->num_embeddings, D = e->embedding_dim;
    int64_t *counts = calloc((size_t)V, sizeof *counts);
    if (!counts) return emb_fail(err, "out of memory counting %lld rows", (long long)V);
    for (int64_t i = 0; i < n; i++) counts[idx[i]]++;
    for (int64_t i = 0; i < n; i++) {
        float scale = e->scale_grad_by_freq ? (float)(1.0 / (double)counts[idx[i]]) : 1.0f;
        for (int64_t d = 0; d < D; d++) {
            float *g = &e->grad[idx[i] * D + d];
            *g = fmaf(grad_out[i * D + d], scale, *g);
        }
    }
    free(counts);
    return 0;
}
