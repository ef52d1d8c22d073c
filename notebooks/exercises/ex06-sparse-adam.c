/*
 * Exercise 6.4 - SparseAdam's row update (chapter 6, "SparseAdam: lazy Adam").
 *
 * Write sparse_adam_row: torch.optim.SparseAdam's update of one row that is
 * present in the (coalesced) gradient. sparse_adam_update calls it for
 * every row of every SparseAdam step, so chapter 6's tests, its program and
 * its training runs all call yours; the tests compare with torch bit for bit.
 *
 *     make exercise6                                   # grades this file (and ex06-*.c)
 *     make exercise6 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/06-sparse-efficiency.h). w, g, m, v are the row's
 * D values of the weight, the gradient, exp_avg and exp_avg_sq. step_size
 * is lr * sqrt(1 - beta2^t) / (1 - beta1^t), already computed by the caller
 * (in double). Before the loop, as floats: 1 - beta1, 1 - beta2, eps and
 * -step_size. For each of the D values, in this order, each operation
 * rounded to float (no fmaf anywhere):
 *   - dm = (g - m) * (1 - beta1);       dv = (g * g - v) * (1 - beta2);
 *   - m = m + dm;                       v = v + dv;
 *   - denom = sqrtf(dv + v_old) + eps   (eps on the UNcorrected sqrt(v));
 *   - w = w + ((dm + m_old) / denom) * (-step_size).
 * m_old and v_old are the values before this update.
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <math.h>

#include "06-sparse-efficiency.h"

void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o) {
    // TODO: the loop above. Until then, nothing moves.
    (void)w;
    (void)g;
    (void)m;
    (void)v;
    (void)D;
    (void)step_size;
    (void)o;
}
