// Wrong: each row's sum is kept in double and rounded to float once at the
// end, which is more accurate but not what torch does: it adds the entries
// to a float sum one at a time, and a row that repeats 3 or more times can
// get other bits.
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);  // (n,)
    double *acc = malloc((size_t)(D > 0 ? D : 1) * sizeof *acc);     // (D,): the row's sum
    if (!perm || !acc) {
        free(perm), free(acc);
        return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    }
    sparse_grad_zero(out);
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm), free(acc);
        return -1;
    }
    for (int64_t j = 0; j < n;) {
        int64_t row = g->indices[perm[j]];
        const float *first = g->values + perm[j] * D;
        for (int64_t d = 0; d < D; d++) acc[d] = first[d];
        for (j++; j < n && g->indices[perm[j]] == row; j++)
            for (int64_t d = 0; d < D; d++) acc[d] += g->values[perm[j] * D + d];
        if (sparse_grad_append(out, row, first, err) != 0) {  // then the sum over the copy
            free(perm), free(acc);
            return -1;
        }
        float *o = out->values + (out->nnz - 1) * D;
        for (int64_t d = 0; d < D; d++) o[d] = (float)acc[d];
    }
    out->coalesced = true;
    free(perm), free(acc);
    return 0;
}
