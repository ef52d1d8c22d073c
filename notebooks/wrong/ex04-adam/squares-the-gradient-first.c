// Wrong: exp_avg_sq's update rounds g * g first and fuses the multiply by
// 1 - beta2; PyTorch's addcmul_(grad, grad, value=1 - beta2) rounds
// (1 - beta2) * g first and fuses the multiply by g.
#include <math.h>

#include "04-optimizers.h"

void adam_update(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                 float *max_exp_avg_sq, int64_t n, int64_t step, const OptimOptions *o,
                 bool decoupled) {
    double bias_correction1 = 1.0 - pow(o->beta1, (double)step);
    double bias_correction2 = 1.0 - pow(o->beta2, (double)step);
    const float neg_step_size = (float)-(o->lr / bias_correction1);
    const float bc2_sqrt = (float)sqrt(bias_correction2), eps = (float)o->eps;
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, wd = (float)o->weight_decay;
    const float c1 = (float)(1.0 - o->beta1), c2 = (float)(1.0 - o->beta2);
    const float decay = (float)(1.0 - o->lr * o->weight_decay);
    const int64_t body = n - n % 16;  // torch.maximum's vector body: 16 floats a pass
    const union { uint32_t u; float f; } vec_nan = {0xffffffffu};  // its NaN there
    for (int64_t i = 0; i < n; i++) {
        float g = o->maximize ? -grad[i] : grad[i];
        if (decoupled) param[i] *= decay;
        else if (o->weight_decay != 0) g = fmaf(param[i], wd, g);
        exp_avg[i] = fmaf(g, c1, exp_avg[i] * b1);
        exp_avg_sq[i] = fmaf(g * g, c2, exp_avg_sq[i] * b2);
        float v = exp_avg_sq[i];
        if (max_exp_avg_sq) {
            float m = max_exp_avg_sq[i];
            if (isnan(m) || isnan(v)) v = i < body ? vec_nan.f : NAN;
            else if (m > v) v = m;
            max_exp_avg_sq[i] = v;
        }
        float denom = sqrtf(v) / bc2_sqrt + eps;
        param[i] = param[i] + (neg_step_size * exp_avg[i]) / denom;
    }
}
