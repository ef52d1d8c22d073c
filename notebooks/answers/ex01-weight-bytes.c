/*
 * Model answer to exercise 1.4 (notebooks/exercises/ex01-weight-bytes.c).
 *
 * The overflow test comes before the multiplication: a > INT64_MAX / b is
 * exact in integer arithmetic for positive a and b, and says whether a*b
 * would overflow, without computing it. (emb_mul_size in src/emb_error.c
 * does the same; the chapter calls it.) The last test matters on machines
 * whose size_t is 32 bits: a table that int64_t can count but malloc
 * cannot be asked for.
 */
#include <stddef.h>

#include "01-lookup-table.h"

int64_t emb_weight_bytes(int64_t V, int64_t D) {
    if (V < 1 || D < 1) return -1;
    if (V > INT64_MAX / D) return -1;               // V*D would overflow
    int64_t values = V * D;
    if (values > INT64_MAX / (int64_t)sizeof(float)) return -1;  // ... or values*4
    int64_t bytes = values * (int64_t)sizeof(float);
    if ((uint64_t)bytes > (uint64_t)SIZE_MAX) return -1;
    return bytes;
}
