// Wrong: 1 - beta1 and 1 - beta2 are computed in float, from the betas
// rounded to float. (float)0.9 is not 0.9, and 1 - 0.9f is not the float
// nearest 0.1, so every moment is a little off.
#include <math.h>

#include "06-sparse-efficiency.h"

void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o) {
    const float one_minus_b1 = 1.0f - (float)o->beta1, one_minus_b2 = 1.0f - (float)o->beta2;
    const float eps = (float)o->eps, neg_step = (float)-step_size;
    for (int64_t j = 0; j < D; j++) {
        float m_old = m[j], v_old = v[j];
        float dm = (g[j] - m_old) * one_minus_b1;
        float dv = (g[j] * g[j] - v_old) * one_minus_b2;
        m[j] = m_old + dm;
        v[j] = v_old + dv;
        float denom = sqrtf(dv + v_old) + eps;
        w[j] = w[j] + ((dm + m_old) / denom) * neg_step;
    }
}
