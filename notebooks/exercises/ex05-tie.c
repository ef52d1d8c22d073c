/*
 * Exercise 5.1 - the tie (chapter 5, "The tie is two pointers").
 *
 * Write lm_tie: nn.Linear's weight becomes the embedding's, as
 * `proj.weight = emb.weight` does in PyTorch. lm_init calls it for every
 * tied model, so chapter 5's tests, its training runs and its program all
 * use yours.
 *
 *     make exercise5                                   # grades this file (and ex05-*.c)
 *     make exercise5 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/05-weight-tying.h), checked in this order:
 *   - the projection must be nn.Linear(D, V): m->proj.in_features ==
 *     m->emb.embedding_dim and m->proj.out_features == m->emb.num_embeddings;
 *     otherwise fail with exactly
 *       "cannot tie nn.Linear(IN, OUT) to a table of V x D: the projection
 *        must be nn.Linear(D, V)"   (one line; IN, OUT, V, D the numbers);
 *   - the table must already have its gradient buffer (m->emb.grad not
 *     NULL); otherwise fail with exactly
 *       "cannot tie: the table has no gradient buffer yet; allocate it
 *        (emb_alloc_grad) before the tie, or the projection keeps a stale
 *        gradient pointer"   (one line);
 *   - on either failure, change nothing;
 *   - then the projection's weight and weight_grad become the table's
 *     weight and grad, its own two buffers are freed, it is marked
 *     shares_weight (chapter 4's linear_share_weight does these three), and
 *     m->tied becomes true. The bias stays the projection's.
 * Fail with `return emb_fail(err, "...", ...);` (src/emb_error.h).
 *
 * The traps: tying before the gradient exists (the projection would keep a
 * NULL or stale gradient pointer, and half of every gradient would be
 * lost); leaking the projection's own weight; copying the table instead of
 * sharing it (the two would drift apart after the first step).
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include "05-weight-tying.h"

int lm_tie(LangModel *m, EmbError *err) {
    // TODO: the checks and the tie. Until then the model stays untied.
    (void)m;
    (void)err;
    return 0;
}
