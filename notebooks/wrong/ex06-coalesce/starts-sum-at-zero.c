// Wrong: each row's sum starts at 0 and every entry is added to it, the
// first one too, instead of copying the first entry. 0 + -0.0 is +0.0, so a
// -0.0 that torch keeps (an already coalesced gradient, or a row that
// appears once) comes out as +0.0.
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);  // (n,)
    float *zeros = calloc((size_t)(D > 0 ? D : 1), sizeof *zeros);    // (D,)
    if (!perm || !zeros) {
        free(perm), free(zeros);
        return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    }
    sparse_grad_zero(out);
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm), free(zeros);
        return -1;
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t k = perm[j];
        const float *v_k = g->values + k * D;
        if (out->nnz == 0 || out->indices[out->nnz - 1] != g->indices[k]) {
            if (sparse_grad_append(out, g->indices[k], zeros, err) != 0) {  // a new row: 0
                free(perm), free(zeros);
                return -1;
            }
        }
        float *o = out->values + (out->nnz - 1) * D;
        for (int64_t d = 0; d < D; d++) o[d] += v_k[d];
    }
    out->coalesced = true;
    free(perm), free(zeros);
    return 0;
}
