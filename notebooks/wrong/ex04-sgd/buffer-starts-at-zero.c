// Wrong: it ignores `first` and updates the momentum buffer the same way on
// every step, trusting it to start at zero; the first step must set the
// buffer to the gradient, whatever the buffer held.
#include <math.h>

#include "04-optimizers.h"

void sgd_update(float *param, const float *grad, float *momentum_buffer, bool first,
                int64_t n, const OptimOptions *o) {
    (void)first;
    const float wd = (float)o->weight_decay, mom = (float)o->momentum;
    const float damp = (float)(1.0 - o->dampening), neg_lr = (float)-o->lr;
    for (int64_t i = 0; i < n; i++) {
        float d = o->maximize ? -grad[i] : grad[i];
        if (o->weight_decay != 0) d = fmaf(param[i], wd, d);
        if (o->momentum != 0) {
            float *buf = &momentum_buffer[i];
            *buf = fmaf(d, damp, *buf * mom);
            d = o->nesterov ? fmaf(*buf, mom, d) : *buf;
        }
        param[i] = fmaf(d, neg_lr, param[i]);
    }
}
