// Wrong: exp(z) without subtracting the row's largest logit first; it
// overflows to inf for logits near 1000 (and the loss becomes NaN).
#include <math.h>

#include "02-gradient-flow.h"

double loss_cross_entropy(const float *logits, const int64_t *targets, int64_t B, int64_t V,
                          float *dlogits) {
    double total = 0.0;
    for (int64_t i = 0; i < B; i++) {
        const float *z_i = logits + i * V;
        double sum = 0.0;
        for (int64_t j = 0; j < V; j++) sum += exp((double)z_i[j]);
        total += log(sum) - z_i[targets[i]];
        for (int64_t j = 0; j < V; j++) {
            double p = exp((double)z_i[j]) / sum;
            dlogits[i * V + j] = (float)((p - (j == targets[i] ? 1.0 : 0.0)) / (double)B);
        }
    }
    return total / (double)B;
}
