// Wrong: out is not emptied first, so the entries of the last call stay in
// front of the new ones. Coalescing into the same out at every step (as
// the optimizers do) then hands the optimizer old rows again.
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);  // (n,)
    if (!perm) return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm);
        return -1;
    }
    int64_t start = out->nnz;  // the new rows begin here
    for (int64_t j = 0; j < n; j++) {
        int64_t k = perm[j];
        const float *v_k = g->values + k * D;
        if (out->nnz > start && out->indices[out->nnz - 1] == g->indices[k]) {
            float *o = out->values + (out->nnz - 1) * D;
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
