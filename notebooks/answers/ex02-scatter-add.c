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
 *
 * This answer does what PyTorch does, plainly: this call's gradient goes
 * into a fresh zeroed (V, D) buffer, which is then added to e->grad. Adding
 * straight into e->grad rounds differently when a row repeats on top of an
 * old gradient (backward_sums_a_call_before_adding_it). The chapter's own
 * version sums only the touched rows, which gives the same bits.
 */
#include <stdlib.h>

#include "02-gradient-flow.h"

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (emb_alloc_grad(e, err) != 0) return -1;
    int64_t VD = e->num_embeddings * e->embedding_dim, D = e->embedding_dim;
    float *fresh = calloc((size_t)VD, sizeof *fresh);  // (V, D): this call's gradient
    if (!fresh) return emb_fail(err, "out of memory for a gradient of %lld values", (long long)VD);
    for (int64_t i = 0; i < n; i++) {
        float *f_ix = fresh + idx[i] * D;     // row idx[i] of this call's gradient
        const float *g_i = grad_out + i * D;  // row i of the upstream gradient
        for (int64_t d = 0; d < D; d++) f_ix[d] += g_i[d];
    }
    for (int64_t j = 0; j < VD; j++) e->grad[j] += fresh[j];  // .grad += it
    free(fresh);
    return 0;
}
