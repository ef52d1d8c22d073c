// Wrong: everything in float; the sum of many exponentials loses digits.
#include <math.h>

#include "02-gradient-flow.h"

double loss_cross_entropy(const float *logits, const int64_t *targets, int64_t B, int64_t V,
                          float *dlogits) {
    float total = 0.0f;
    for (int64_t i = 0; i < B; i++) {
        const float *z_i = logits + i * V;
        float m = z_i[0];
        for (int64_t j = 1; j < V; j++) m = fmaxf(m, z_i[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < V; j++) sum += expf(z_i[j] - m);
        total += m + logf(sum) - z_i[targets[i]];
        for (int64_t j = 0; j < V; j++) {
            float p = expf(z_i[j] - m) / sum;
            dlogits[i * V + j] = (p - (j == targets[i] ? 1.0f : 0.0f)) / (float)B;
        }
    }
    return total / (float)B;
}
