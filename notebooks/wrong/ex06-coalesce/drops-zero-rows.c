// Wrong: a row whose sum is all zeros is left out, as if it had no
// gradient. torch's coalesce() keeps every row that has an entry, whatever
// its values, and SparseAdam still moves such a row: its moments decay and
// its old m still pushes it.
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);  // (n,)
    if (!perm) return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    sparse_grad_zero(out);
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm);
        return -1;
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t k = perm[j];
        const float *v_k = g->values + k * D;
        if (out->nnz > 0 && out->indices[out->nnz - 1] == g->indices[k]) {
            float *o = out->values + (out->nnz - 1) * D;
            for (int64_t d = 0; d < D; d++) o[d] += v_k[d];
        } else {
            if (out->nnz > 0) {  // the row before is complete: drop it if it is all zeros
                const float *o = out->values + (out->nnz - 1) * D;
                bool zero = true;
                for (int64_t d = 0; d < D; d++) zero = zero && o[d] == 0.0f;
                if (zero) out->nnz--;
            }
            if (sparse_grad_append(out, g->indices[k], v_k, err) != 0) {
                free(perm);
                return -1;
            }
        }
    }
    if (out->nnz > 0) {  // and the last row
        const float *o = out->values + (out->nnz - 1) * D;
        bool zero = true;
        for (int64_t d = 0; d < D; d++) zero = zero && o[d] == 0.0f;
        if (zero) out->nnz--;
    }
    out->coalesced = true;
    free(perm);
    return 0;
}
