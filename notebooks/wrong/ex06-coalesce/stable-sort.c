// Wrong: the entries are sorted with qsort by (row, position), a stable
// order, so a row's repeats are added in the order they came. torch sorts
// with std::sort, which moves equal keys past each other once there are
// more than 16 entries, and a row that repeats 3 or more times gets other
// bits.
#include <stdlib.h>
#include <string.h>

#include "06-sparse-efficiency.h"

typedef struct Entry {
    int64_t row, pos;
} Entry;

static int by_row_then_position(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    Entry *e = malloc((size_t)(n > 0 ? n : 1) * sizeof *e);  // (n,)
    if (!e) return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    sparse_grad_zero(out);
    for (int64_t k = 0; k < n; k++) e[k] = (Entry){g->indices[k], k};
    qsort(e, (size_t)n, sizeof *e, by_row_then_position);
    for (int64_t j = 0; j < n; j++) {
        int64_t k = e[j].pos;
        const float *v_k = g->values + k * D;
        if (out->nnz > 0 && out->indices[out->nnz - 1] == g->indices[k]) {
            float *o = out->values + (out->nnz - 1) * D;
            for (int64_t d = 0; d < D; d++) o[d] += v_k[d];
        } else if (sparse_grad_append(out, g->indices[k], v_k, err) != 0) {
            free(e);
            return -1;
        }
    }
    out->coalesced = true;
    free(e);
    return 0;
}
