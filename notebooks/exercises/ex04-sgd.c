/*
 * Exercise 4.3 - SGD with momentum, dampening, Nesterov, weight decay and
 * maximize (chapter 4, "SGD: momentum, dampening, Nesterov, weight decay,
 * maximize").
 *
 * Write sgd_update, PyTorch 1.13's _single_tensor_sgd for one parameter.
 * optim_step calls it for every SGD step, so chapter 4's tests, its
 * training runs and its program all call yours. The tests compare your
 * weights with PyTorch's bit for bit.
 *
 *     make exercise4                                   # grades this file (and ex04-*.c)
 *     make exercise4 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The last line it prints is your score: "exercise4 FILE: P/T tests passed".
 *
 * The contract (chapters/04-optimizers.h), for each of the n values, in
 * this order, with the scalars converted to float once, before the loop:
 *   - d = -grad[i] if o->maximize, else grad[i];
 *   - if o->weight_decay != 0:  d = fmaf(param[i], (float)weight_decay, d)
 *     (PyTorch's d_p.add(param, alpha=weight_decay) fuses the multiply-add);
 *   - if o->momentum != 0 (momentum_buffer is then not NULL):
 *       first step:  buf = d  (a copy: the first step is NOT damped);
 *       later steps: buf = fmaf(d, (float)(1 - dampening), buf * (float)momentum);
 *       d = o->nesterov ? fmaf(buf, (float)momentum, d) : buf;
 *   - param[i] = fmaf(d, (float)(-lr), param[i]).
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <math.h>

#include "04-optimizers.h"

void sgd_update(float *param, const float *grad, float *momentum_buffer, bool first,
                int64_t n, const OptimOptions *o) {
    // TODO: the loop above. Until then, this leaves every parameter where it is.
    (void)param;
    (void)grad;
    (void)momentum_buffer;
    (void)first;
    (void)n;
    (void)o;
}
