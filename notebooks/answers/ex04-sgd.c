/*
 * Model answer to exercise 4.3 (notebooks/exercises/ex04-sgd.c): SGD with
 * momentum, dampening, Nesterov, weight decay and maximize, bit for bit as
 * PyTorch 1.13's _single_tensor_sgd.
 */
#include <math.h>

#include "04-optimizers.h"

void sgd_update(float *param, const float *grad, float *momentum_buffer, bool first,
                int64_t n, const OptimOptions *o) {
    const float wd = (float)o->weight_decay, mom = (float)o->momentum;
    const float damp = (float)(1.0 - o->dampening), neg_lr = (float)-o->lr;
    for (int64_t i = 0; i < n; i++) {
        float d = o->maximize ? -grad[i] : grad[i];
        if (o->weight_decay != 0) d = fmaf(param[i], wd, d);
        if (o->momentum != 0) {
            float *buf = &momentum_buffer[i];
            *buf = first ? d : fmaf(d, damp, *buf * mom);  // the first step is undamped
            d = o->nesterov ? fmaf(*buf, mom, d) : *buf;
        }
        param[i] = fmaf(d, neg_lr, param[i]);
    }
}
