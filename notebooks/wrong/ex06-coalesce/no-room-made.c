// Wrong: the rows are written straight into out's buffers, as if out had
// room for them; out has only the capacity it was last given (none, when
// it is new), so the writes go past the end of its buffers.
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
    int64_t r = -1;  // the output entry being summed
    for (int64_t j = 0; j < n; j++) {
        int64_t k = perm[j];
        const float *v_k = g->values + k * D;
        if (r >= 0 && out->indices[r] == g->indices[k]) {
            for (int64_t d = 0; d < D; d++) out->values[r * D + d] += v_k[d];
        } else {
            r++;
            out->indices[r] = g->indices[k];
            memcpy(out->values + r * D, v_k, (size_t)D * sizeof(float));
        }
    }
    out->nnz = r + 1;
    out->coalesced = true;
    free(perm);
    return 0;
}
