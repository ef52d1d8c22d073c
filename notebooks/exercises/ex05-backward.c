/*
 * Exercise 5.2 - two paths, one gradient (chapter 5, "Backward: two
 * paths, one gradient").
 *
 * Write lm_backward, the backward pass of the last lm_forward. Every
 * training step of chapter 5 calls it, and the tests compare its results
 * with PyTorch's bit for bit.
 *
 *     make exercise5                                   # grades this file (and ex05-*.c)
 *     make exercise5 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/05-weight-tying.h). V, D from m->emb; n = V * D.
 *   - B must be in [1, m->max_batch]; otherwise fail with exactly
 *       "batch of B positions: the model takes 1 to MAX"  and change nothing.
 *   - The projection path, into m->grad_proj_path (zero it first): chapter
 *     2's linear_backward on a *copy* of m->proj whose weight_grad points at
 *     m->grad_proj_path (the copy still adds the bias gradient into the
 *     real m->proj.bias_grad). Its input is m->a with the hidden layer
 *     (m->hidden), else m->x; its upstream gradient m->dlogits; its dx is
 *     m->da with the hidden layer, else m->dx.
 *   - With the hidden layer: m->da[k] *= 1 - m->a[k] * m->a[k] for the B*D
 *     values (the derivative of tanh), then linear_backward(&m->hid, m->x,
 *     m->da, B, m->dx) (the hidden layer's own gradients go into m->hid).
 *   - The embedding path, into m->grad_emb_path (zero it first): chapter
 *     3's emb_backward_opts on a copy of m->emb whose grad points at
 *     m->grad_emb_path, with upstream gradient m->dx.
 *   - Then, for k in [0, n): tied, m->emb.grad[k] += emb_path[k] +
 *     proj_path[k] (the two parts added first, as PyTorch's autograd does);
 *     untied, m->emb.grad[k] += emb_path[k] and m->proj.weight_grad[k] +=
 *     proj_path[k].
 *
 * The traps: `=` instead of `+=` (backward passes accumulate; only zero_grad
 * clears); adding the two paths into the gradient one after the other
 * (different rounding once the gradient is not zero); chapter 2's
 * emb_backward instead of emb_backward_opts (the padding row would get the
 * embedding path's gradient); the projection's real weight_grad instead of
 * the path buffer (tied, that is the table's gradient itself).
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include "05-weight-tying.h"

int lm_backward(LangModel *m, const int64_t *inputs, int64_t B, EmbError *err) {
    // TODO: both paths and their sum. Until then no gradient arrives.
    (void)m;
    (void)inputs;
    (void)B;
    (void)err;
    return 0;
}
