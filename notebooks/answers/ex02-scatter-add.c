/*
 * Model answer to exercise 2.3 (notebooks/exercises/ex02-scatter-add.c).
 *
 * The mirror image of emb_lookup: where the lookup copied row idx[i] of the
 * weight into row i of the output, the backward pass adds row i of the
 * upstream gradient into row idx[i] of the gradient. Checking the indices
 * first means a bad index changes nothing (the test
 * backward_rejects_bad_index_and_leaves_grad gives [0, 3] for V = 3 and
 * checks that row 0 was not added again). Writing `=` instead of `+=`
 * fails backward_sums_repeats_and_zeroes_the_rest and the gradient check.
 */
#include "02-gradient-flow.h"

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        float *g_ix = e->grad + idx[i] * D;   // row idx[i] of the gradient
        const float *g_i = grad_out + i * D;  // row i of the upstream gradient
        for (int64_t d = 0; d < D; d++) g_ix[d] += g_i[d];
    }
    return 0;
}
