// Wrong: copies the table into the projection instead of sharing it, so the
// two drift apart after the first step and each has its own gradient.
#include <string.h>

#include "05-weight-tying.h"

int lm_tie(LangModel *m, EmbError *err) {
    const Embedding *e = &m->emb;
    if (m->proj.in_features != e->embedding_dim || m->proj.out_features != e->num_embeddings)
        return emb_fail(err,
                        "cannot tie nn.Linear(%lld, %lld) to a table of %lld x %lld: the "
                        "projection must be nn.Linear(D, V)",
                        (long long)m->proj.in_features, (long long)m->proj.out_features,
                        (long long)e->num_embeddings, (long long)e->embedding_dim);
    if (!e->grad)
        return emb_fail(err, "cannot tie: the table has no gradient buffer yet; allocate it "
                             "(emb_alloc_grad) before the tie, or the projection keeps a "
                             "stale gradient pointer");
    memcpy(m->proj.weight, e->weight,
           (size_t)(e->num_embeddings * e->embedding_dim) * sizeof(float));
    m->tied = true;
    return 0;
}
