// Wrong: the moments are updated as dense Adam writes them,
// m = beta1 * m + (1 - beta1) * g and v = beta2 * v + (1 - beta2) * g^2.
// That is the same formula, but SparseAdam computes the change
// (g - m) * (1 - beta1) and adds it, and the two round differently.
#include <math.h>

#include "06-sparse-efficiency.h"

void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o) {
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float one_minus_b1 = (float)(1.0 - o->beta1), one_minus_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps, neg_step = (float)-step_size;
    for (int64_t j = 0; j < D; j++) {
        m[j] = b1 * m[j] + one_minus_b1 * g[j];
        v[j] = b2 * v[j] + one_minus_b2 * (g[j] * g[j]);
        float denom = sqrtf(v[j]) + eps;
        w[j] = w[j] + (m[j] / denom) * neg_step;
    }
}
