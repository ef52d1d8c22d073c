/*
 * Exercise 2.3 - the scatter-add (chapter 2, "The backward pass of the lookup").
 *
 * Write emb_backward, the backward pass of F.embedding. Chapter 2's own tests
 * grade it, the same tests that check the book; the model's backward pass
 * (ntm_backward), the gradient check and the training run all call yours.
 *
 *     make exercise2                                   # grades this file (and ex02-*.c)
 *     make exercise2 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The last line it prints is your score: "exercise2 FILE: P/T tests passed".
 *
 * The contract (chapters/02-gradient-flow.h):
 *   - idx is (n,), grad_out is (n, D), e->grad is (V, D) like the weight;
 *   - first check every index (chapter 1's emb_check_indices): on a bad one
 *     return -1 and change nothing;
 *   - give the table a zeroed gradient if it has none (emb_alloc_grad);
 *   - for each i, in order, ADD row i of grad_out into row idx[i] of e->grad:
 *     a row looked up twice receives the sum, rows never looked up stay 0,
 *     and whatever e->grad held before is kept (gradients accumulate until
 *     zero_grad);
 *   - as PyTorch's autograd does, build THIS call's gradient from zeros
 *     first (each row's upstream rows summed in order), then add it to
 *     e->grad: old + (g1 + g2), not (old + g1) + g2 (the tests compare bits).
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include "02-gradient-flow.h"

int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err) {
    // TODO: check the indices, allocate the gradient if needed, then scatter-add.
    (void)e;
    (void)idx;
    (void)n;
    (void)grad_out;
    return emb_fail(err, "TODO: emb_backward is not written yet (notebooks/exercises/ex02-scatter-add.c)");
}
