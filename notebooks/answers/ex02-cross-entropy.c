/*
 * Model answer to exercise 2.4 (notebooks/exercises/ex02-cross-entropy.c).
 *
 * log softmax(z)[y] = z[y] - m - log(sum_j exp(z[j] - m)) for any m; taking
 * m = max_j z[j] makes every exponent <= 0, so nothing overflows and at
 * least one term of the sum is 1, so nothing underflows to log(0). The
 * gradient reuses the same shifted exponentials.
 */
#include <math.h>

#include "02-gradient-flow.h"

double loss_cross_entropy(const float *logits, const int64_t *targets, int64_t B, int64_t V,
                          float *dlogits) {
    double total = 0.0;
    for (int64_t i = 0; i < B; i++) {
        const float *z_i = logits + i * V;  // row i of the logits
        float *g_i = dlogits + i * V;       // row i of the gradient
        double m = z_i[0];
        for (int64_t j = 1; j < V; j++) m = fmax(m, z_i[j]);
        double sum = 0.0;
        for (int64_t j = 0; j < V; j++) sum += exp((double)z_i[j] - m);
        double log_sum = log(sum);
        total += m + log_sum - z_i[targets[i]];
        for (int64_t j = 0; j < V; j++) {
            double p = exp((double)z_i[j] - m) / sum;
            g_i[j] = (float)((p - (j == targets[i] ? 1.0 : 0.0)) / (double)B);
        }
    }
    return total / (double)B;
}
