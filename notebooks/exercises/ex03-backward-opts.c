/*
 * Exercise 3.4 - the backward pass with options (chapter 3, "The backward
 * pass with options").
 *
 * Write emb_backward_opts: chapter 2's scatter-add, changed for padding_idx,
 * scale_grad_by_freq and frozen tables. The context model's backward pass
 * (cm_backward) calls it, so chapter 3's tests and training runs grade it.
 *
 *     make exercise3                                   # grades this file (and ex03-*.c)
 *     make exercise3 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/03-padding-and-options.h and the chapter's prose):
 *   - idx is (n,), grad_out is (n, D), e->grad is (V, D);
 *   - a frozen table (e->requires_grad false) gets no gradient at all (do not
 *     even allocate one), but bad indices are still an error;
 *   - check every index first; then allocate the gradient if needed
 *     (emb_alloc_grad);
 *   - skip every position whose index is e->padding_idx: the padding row's
 *     gradient stays exactly 0 (EMB_NO_PADDING is -1, which no index equals);
 *   - without scale_grad_by_freq: g[idx[i]] += grad_out[i], as in chapter 2;
 *   - with it: count c_k, how often row k occurs among THIS call's indices,
 *     and add grad_out[i] * (1/c_k) with one fused multiply-add per value,
 *     g = fmaf(grad_out[i][d], scale, g), scale = (float)(1.0 / c_k), as
 *     PyTorch does (the tests compare the bits);
 *   - as in exercise 2.3, g here is the row of THIS call's gradient, built
 *     from zeros; add that gradient to e->grad once it is complete.
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <math.h>
#include <stdlib.h>

#include "03-padding-and-options.h"

int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err) {
    // TODO: frozen tables, the index check, padding, and scale_grad_by_freq.
    (void)e;
    (void)idx;
    (void)n;
    (void)grad_out;
    return emb_fail(err, "TODO: emb_backward_opts is not written yet (notebooks/exercises/ex03-backward-opts.c)");
}
