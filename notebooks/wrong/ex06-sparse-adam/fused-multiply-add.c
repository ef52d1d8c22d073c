// Wrong: the last line is one fused multiply-add, fmaf(q, -step_size, w),
// rounded once. PyTorch multiplies (rounding) and then adds (rounding
// again), so some weights end one bit away.
#include <math.h>

#include "06-sparse-efficiency.h"

void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o) {
    const float one_minus_b1 = (float)(1.0 - o->beta1), one_minus_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps, neg_step = (float)-step_size;
    for (int64_t j = 0; j < D; j++) {
        float m_old = m[j], v_old = v[j];
        float dm = (g[j] - m_old) * one_minus_b1;
        float dv = (g[j] * g[j] - v_old) * one_minus_b2;
        m[j] = m_old + dm;
        v[j] = v_old + dv;
        float denom = sqrtf(dv + v_old) + eps;
        w[j] = fmaf((dm + m_old) / denom, neg_step, w[j]);
    }
}
