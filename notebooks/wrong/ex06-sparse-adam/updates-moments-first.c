// Wrong: m and v are overwritten before the step reads them, so the
// numerator and the denominator add the change to the new moments instead
// of the old ones: the change is counted twice.
#include <math.h>

#include "06-sparse-efficiency.h"

void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o) {
    const float one_minus_b1 = (float)(1.0 - o->beta1), one_minus_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps, neg_step = (float)-step_size;
    for (int64_t j = 0; j < D; j++) {
        float dm = (g[j] - m[j]) * one_minus_b1;
        float dv = (g[j] * g[j] - v[j]) * one_minus_b2;
        m[j] = m[j] + dm;
        v[j] = v[j] + dv;
        float denom = sqrtf(dv + v[j]) + eps;
        w[j] = w[j] + ((dm + m[j]) / denom) * neg_step;
    }
}
