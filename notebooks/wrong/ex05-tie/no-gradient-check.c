// Wrong: ties without checking that the table's gradient exists, so the
// projection may keep a NULL (or, later, a stale) gradient pointer.
#include "05-weight-tying.h"

int lm_tie(LangModel *m, EmbError *err) {
    const Embedding *e = &m->emb;
    if (m->proj.in_features != e->embedding_dim || m->proj.out_features != e->num_embeddings)
        return emb_fail(err,
                        "cannot tie nn.Linear(%lld, %lld) to a table of %lld x %lld: the "
                        "projection must be nn.Linear(D, V)",
                        (long long)m->proj.in_features, (long long)m->proj.out_features,
                        (long long)e->num_embeddings, (long long)e->embedding_dim);
    if (linear_share_weight(&m->proj, e->weight, e->grad, err) != 0) return -1;
    m->tied = true;
    return 0;
}
