// Wrong: adds the projection path into the gradient, then the embedding
// path, instead of adding their sum: once the gradient is not zero the
// rounding differs from PyTorch's autograd.
#include <string.h>

#include "05-weight-tying.h"

int lm_backward(LangModel *m, const int64_t *inputs, int64_t B, EmbError *err) {
    int64_t n = m->emb.num_embeddings * m->emb.embedding_dim;
    if (B < 1 || B > m->max_batch)
        return emb_fail(err, "batch of %lld positions: the model takes 1 to %lld",
                        (long long)B, (long long)m->max_batch);
    memset(m->grad_proj_path, 0, (size_t)n * sizeof(float));
    Linear proj = m->proj;                 // a view: the projection path alone
    proj.weight_grad = m->grad_proj_path;  // (the bias gradient is the real one)
    if (m->hidden) {
        int64_t nb = B * m->emb.embedding_dim;
        linear_backward(&proj, m->a, m->dlogits, B, m->da);
        for (int64_t k = 0; k < nb; k++) m->da[k] *= 1.0f - m->a[k] * m->a[k];  // tanh'
        linear_backward(&m->hid, m->x, m->da, B, m->dx);
    } else {
        linear_backward(&proj, m->x, m->dlogits, B, m->dx);
    }
    memset(m->grad_emb_path, 0, (size_t)n * sizeof(float));
    Embedding table = m->emb;  // a view: the embedding path alone
    table.grad = m->grad_emb_path;
    if (emb_backward_opts(&table, inputs, B, m->dx, err) != 0) return -1;
    float *g = m->emb.grad;  // (V, D)
    if (m->tied) {
        for (int64_t k = 0; k < n; k++)
            g[k] = (g[k] + m->grad_proj_path[k]) + m->grad_emb_path[k];
    } else {
        float *gp = m->proj.weight_grad;  // (V, D)
        for (int64_t k = 0; k < n; k++) g[k] += m->grad_emb_path[k];
        for (int64_t k = 0; k < n; k++) gp[k] += m->grad_proj_path[k];
    }
    return 0;
}
