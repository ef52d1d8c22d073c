/*
 * Exercise 4.4 - Adam and AdamW (chapter 4, "Adam and AdamW").
 *
 * Write adam_update, PyTorch 1.13's _single_tensor_adam (decoupled false)
 * and _single_tensor_adamw (decoupled true) for one parameter. optim_step
 * calls it for every Adam and AdamW step, so chapter 4's tests, its
 * training runs and its program all call yours. The tests compare your
 * weights with PyTorch's bit for bit.
 *
 *     make exercise4                                   # grades this file (and ex04-*.c)
 *     make exercise4 EXERCISE=path/to/your-copy.c      # grades your copy
 *
 * The contract (chapters/04-optimizers.h). Before the loop, in double:
 *     bias_correction1 = 1 - beta1^step,  bias_correction2 = 1 - beta2^step
 *     step_size = lr / bias_correction1
 * and then as floats: -step_size, sqrt(bias_correction2), eps, beta1,
 * beta2, 1 - beta1, 1 - beta2, weight_decay and (AdamW) 1 - lr*weight_decay.
 * For each of the n values, in this order:
 *   - g = -grad[i] if o->maximize, else grad[i];
 *   - Adam with weight_decay != 0 (L2): g = fmaf(param[i], weight_decay, g);
 *     AdamW (decoupled): param[i] *= (1 - lr*weight_decay), and no L2;
 *   - exp_avg[i]    = fmaf(g, 1 - beta1, exp_avg[i] * beta1);
 *   - exp_avg_sq[i] = fmaf((1 - beta2) * g, g, exp_avg_sq[i] * beta2);
 *   - with amsgrad (max_exp_avg_sq not NULL): max_exp_avg_sq[i] becomes the
 *     larger of itself and exp_avg_sq[i], and is used instead of
 *     exp_avg_sq[i] below. If either is NaN it becomes torch.maximum's NaN,
 *     whose bits depend on i: 0xffffffff for i < n - n % 16 (the kernel's
 *     vector body, 16 floats a pass), 0x7fc00000 (NAN) after (its tail);
 *   - denom = sqrtf(v) / sqrt(bias_correction2) + eps   (eps AFTER the correction);
 *   - param[i] = param[i] + (-step_size * exp_avg[i]) / denom   (no fma here).
 *
 * Rules: keep the signature; any helper you add must be static.
 */
#include <math.h>

#include "04-optimizers.h"

void adam_update(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                 float *max_exp_avg_sq, int64_t n, int64_t step, const OptimOptions *o,
                 bool decoupled) {
    // TODO: the bias corrections, then the loop above. Until then, nothing moves.
    (void)param;
    (void)grad;
    (void)exp_avg;
    (void)exp_avg_sq;
    (void)max_exp_avg_sq;
    (void)n;
    (void)step;
    (void)o;
    (void)decoupled;
}
