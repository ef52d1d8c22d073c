// Wrong: the permutation is read the other way round, as if perm[k] were
// where entry k goes (its rank), when it is the entry to visit k-th. The
// entries are then visited in another order: the rows come out unsorted,
// and a repeated row can be split or summed in another order.
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);   // (n,)
    int64_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);  // (n,)
    if (!perm || !order) {
        free(perm), free(order);
        return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    }
    sparse_grad_zero(out);
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm), free(order);
        return -1;
    }
    for (int64_t k = 0; k < n; k++) order[perm[k]] = k;  // "entry k goes to place perm[k]"
    for (int64_t j = 0; j < n; j++) {
        int64_t k = order[j];
        const float *v_k = g->values + k * D;
        if (out->nnz > 0 && out->indices[out->nnz - 1] == g->indices[k]) {
            float *o = out->values + (out->nnz - 1) * D;
            for (int64_t d = 0; d < D; d++) o[d] += v_k[d];
        } else if (sparse_grad_append(out, g->indices[k], v_k, err) != 0) {
            free(perm), free(order);
            return -1;
        }
    }
    out->coalesced = true;
    free(perm), free(order);
    return 0;
}
