/*
 * Model answer to exercise 6.3: sparse_coalesce. See
 * notebooks/exercises/ex06-coalesce.c for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);  // (n,)
    if (!perm) return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    sparse_grad_zero(out);  // same shape as g: keep its buffers
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;  // as it is
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm);
        return -1;
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t k = perm[j];
        const float *v_k = g->values + k * D;  // entry k's values
        if (out->nnz > 0 && out->indices[out->nnz - 1] == g->indices[k]) {
            float *o = out->values + (out->nnz - 1) * D;  // the row's sum so far
            for (int64_t d = 0; d < D; d++) o[d] += v_k[d];
        } else if (sparse_grad_append(out, g->indices[k], v_k, err) != 0) {
            free(perm);
            return -1;
        }
    }
    out->coalesced = true;
    free(perm);
    return 0;
}
