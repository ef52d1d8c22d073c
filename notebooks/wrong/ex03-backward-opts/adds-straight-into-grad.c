// Wrong: each upstream row is added (or fused) straight into e->grad.
// PyTorch builds the call's gradient from zeros first and adds it once, so
// repeated rows on top of an old gradient round differently.
#include <math.h>
#include <stdlib.h>

#include "03-padding-and-options.h"

int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (!e->requires_grad) return 0;  // frozen: no gradient, not even a buffer
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t V = e->num_embeddings, D = e->embedding_dim;
    int64_t *counts = NULL;  // (V,) occurrences of each row in idx
    if (e->scale_grad_by_freq) {
        counts = calloc((size_t)V, sizeof *counts);
        if (!counts) return emb_fail(err, "out of memory counting %lld rows", (long long)V);
        for (int64_t i = 0; i < n; i++) counts[idx[i]]++;
    }
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] == e->padding_idx) continue;  // the padding row gets nothing
        float *g_ix = e->grad + idx[i] * D;      // row idx[i] of the gradient
        const float *g_i = grad_out + i * D;     // row i of the upstream gradient
        float scale = counts ? (float)(1.0 / (double)counts[idx[i]]) : 1.0f;
        for (int64_t d = 0; d < D; d++) {
            g_ix[d] = counts ? fmaf(g_i[d], scale, g_ix[d]) : g_ix[d] + g_i[d];
        }
    }
    free(counts);
    return 0;
}
