// Wrong: every position is visited, so a row looked up twice is measured
// (and possibly rescaled) twice, and counted twice.
#include "03-padding-and-options.h"

int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    int64_t D = e->embedding_dim, rescaled = 0;
    for (int64_t i = 0; i < n; i++) {
        float *w_k = e->weight + idx[i] * D;
        double norm = emb_row_norm(w_k, D, e->norm_type);
        if (norm > e->max_norm) {
            float scale = (float)(e->max_norm / (norm + 1e-7));
            for (int64_t d = 0; d < D; d++) w_k[d] *= scale;
            rescaled++;
        }
    }
    return rescaled;
}
