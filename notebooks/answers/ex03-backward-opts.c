/*
 * Model answer to exercise 3.4 (notebooks/exercises/ex03-backward-opts.c).
 *
 * Chapter 2's scatter-add with three changes: a frozen table returns after
 * the index check; padding positions are skipped; with scale_grad_by_freq
 * each contribution is scaled by 1/count of its row in this call. The
 * counts are per call, so two calls e([0, 0]) and e([0]) give row 0
 * 2/2 + 1/1 = 2 (scale_grad_by_freq_counts_each_call). PyTorch's kernel
 * accumulates with a fused multiply-add, and fmaf gives its bits.
 */
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
