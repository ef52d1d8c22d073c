// Wrong: V*D is checked, but not V*D*4.
#include "01-lookup-table.h"

int64_t emb_weight_bytes(int64_t V, int64_t D) {
    if (V < 1 || D < 1) return -1;
    if (V > INT64_MAX / D) return -1;
    int64_t values = V * D;
    return (int64_t)((uint64_t)values * sizeof(float));
}
