// Wrong: with maximize it steps uphill by flipping the sign of the whole step
// at the end, so the weight decay term is flipped too; PyTorch negates the
// gradient alone, before the decay is added.
#include <math.h>

#include "04-optimizers.h"

void sgd_update(float *param, const float *grad, float *momentum_buffer, bool first,
                int64_t n, const OptimOptions *o) {
    const float wd = (float)o->weight_decay, mom = (float)o->momentum;
    const float damp = (float)(1.0 - o->dampening);
    const float lr = o->maximize ? (float)o->lr : (float)-o->lr;
    for (int64_t i = 0; i < n; i++) {
        float d = grad[i];
        if (o->weight_decay != 0) d = fmaf(param[i], wd, d);
        if (o->momentum != 0) {
            float *buf = &momentum_buffer[i];
            *buf = first ? d : fmaf(d, damp, *buf * mom);
            d = o->nesterov ? fmaf(*buf, mom, d) : *buf;
        }
        param[i] = fmaf(d, lr, param[i]);
    }
}
