/*
 * Model answer to exercise 3.4 (notebooks/exercises/ex03-backward-opts.c).
 *
 * Chapter 2's scatter-add with three changes: a frozen table returns after
 * the index check; padding positions are skipped; with scale_grad_by_freq
 * each contribution is scaled by 1/count of its row in this call. The
 * counts are per call, so two calls e([0, 0]) and e([0]) give row 0
 * 2/2 + 1/1 = 2 (scale_grad_by_freq_counts_each_call). PyTorch's kernel
 * accumulates with a fused multiply-add, and fmaf gives its bits. As in
 * exercise 2.3, the call's gradient is built from zeros in its own buffer
 * and then added to e->grad, as autograd adds it to .grad.
 */
#include <math.h>
#include <stdlib.h>

#include "03-padding-and-options.h"

int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (!e->requires_grad) return 0;  // frozen: no gradient, not even a buffer
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t V = e->num_embeddings, D = e->embedding_dim, VD = V * D;
    int64_t *counts = NULL;  // (V,) occurrences of each row in idx
    if (e->scale_grad_by_freq) {
        counts = calloc((size_t)V, sizeof *counts);
        if (!counts) return emb_fail(err, "out of memory counting %lld rows", (long long)V);
        for (int64_t i = 0; i < n; i++) counts[idx[i]]++;
    }
    float *fresh = calloc((size_t)VD, sizeof *fresh);  // (V, D): this call's gradient
    if (!fresh) {
        free(counts);
        return emb_fail(err, "out of memory for a gradient of %lld values", (long long)VD);
    }
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] == e->padding_idx) continue;  // the padding row gets nothing
        float *f_ix = fresh + idx[i] * D;        // row idx[i] of this call's gradient
        const float *g_i = grad_out + i * D;     // row i of the upstream gradient
        float scale = counts ? (float)(1.0 / (double)counts[idx[i]]) : 1.0f;
        for (int64_t d = 0; d < D; d++) {
            f_ix[d] = counts ? fmaf(g_i[d], scale, f_ix[d]) : f_ix[d] + g_i[d];
        }
    }
    for (int64_t j = 0; j < VD; j++) e->grad[j] += fresh[j];  // .grad += it
    free(fresh), free(counts);
    return 0;
}
