// Wrong: Nesterov looks ahead with the momentum buffer of the step before,
// d + momentum * buf, computed before the buffer is updated; PyTorch adds the
// updated buffer.
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
            float ahead = o->nesterov && !first ? fmaf(*buf, mom, d) : d;
            *buf = first ? d : fmaf(d, damp, *buf * mom);
            d = o->nesterov ? ahead : *buf;
        }
        param[i] = fmaf(d, neg_lr, param[i]);
    }
}
