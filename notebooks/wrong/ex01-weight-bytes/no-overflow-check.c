// Wrong: the product is computed without checking it first (signed
// overflow is undefined behaviour, and the result is garbage).
#include "01-lookup-table.h"

int64_t emb_weight_bytes(int64_t V, int64_t D) {
    if (V < 1 || D < 1) return -1;
    return V * D * (int64_t)sizeof(float);
}
