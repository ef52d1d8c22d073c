// Wrong: the step is multiplied in double, w + (float)(q * -step_size),
// with step_size as the caller passed it. PyTorch rounds -step_size to the
// tensor's float first and multiplies two floats, and the two products
// round differently.
#include <math.h>

#include "06-sparse-efficiency.h"

void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o) {
    const float one_minus_b1 = (float)(1.0 - o->beta1), one_minus_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps;
    for (int64_t j = 0; j < D; j++) {
        float m_old = m[j], v_old = v[j];
        float dm = (g[j] - m_old) * one_minus_b1;
        float dv = (g[j] * g[j] - v_old) * one_minus_b2;
        m[j] = m_old + dm;
        v[j] = v_old + dv;
        float denom = sqrtf(dv + v_old) + eps;
        w[j] = w[j] + (float)((double)((dm + m_old) / denom) * -step_size);
    }
}
