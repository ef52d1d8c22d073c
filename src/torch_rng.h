/*
 * torch_rng.h - PyTorch's CPU random number generator, bit for bit.
 *
 * torch.manual_seed(s) followed by nn.Embedding(V, D) fills the weight with
 * N(0, 1) samples from PyTorch's default CPU generator. This module
 * reproduces those float32 bits exactly (torch 1.13 on an x86-64 CPU with
 * AVX2; see shared facts, section 10):
 *
 *   - the engine is MT19937 (32-bit), seeded with the seed's low 32 bits;
 *   - a float uniform uses the low 24 bits of one draw, a double uniform
 *     53 bits of two draws;
 *   - normal_ on fewer than 16 values uses double Box-Muller and caches the
 *     second sample in the generator, where it survives across calls until
 *     the next seed;
 *   - normal_ on 16 or more float32 values uses a blocked transform with
 *     float32 log and sin/cos polynomials and a tail rule.
 *
 * Invariant: a TorchGenerator is only ever changed by these functions; two
 * generators given the same seed and the same calls produce the same bits.
 */
#ifndef TORCH_RNG_H
#define TORCH_RNG_H

#include <stdbool.h>
#include <stdint.h>

#define RNG_MT_N 624

typedef struct TorchGenerator {
    uint32_t state[RNG_MT_N];  // MT19937 words
    int left;                  // draws left before the next twist, plus one
    int next;                  // index of the next word to temper
    bool has_cached_normal;    // Box-Muller's second sample is waiting
    double cached_normal;      // ... and this is it
} TorchGenerator;

// Which transform normal_ uses for 16 or more float32 values.
typedef enum RngNormalPath {
    RNG_PATH_AVX2,    // PyTorch on any x86-64 CPU with AVX2 (the default)
    RNG_PATH_SCALAR,  // PyTorch with ATEN_CPU_CAPABILITY=default, or no AVX2
} RngNormalPath;

// How normal_ computes its blocks of 16. Both give the same bits.
typedef enum RngKernel {
    RNG_KERNEL_FAST,       // chunked, and eight lanes at a time on AVX2 + FMA CPUs
    RNG_KERNEL_REFERENCE,  // PyTorch's order, one value at a time (for tests)
} RngKernel;

// torch.manual_seed(seed): only the low 32 bits are used.
void rng_manual_seed(TorchGenerator *gen, uint64_t seed);

// One tempered 32-bit MT19937 draw.
uint32_t rng_random(TorchGenerator *gen);

// (first draw << 32) | second draw.
uint64_t rng_random64(TorchGenerator *gen);

// Uniform in [0, 1): float from the low 24 bits of one draw.
float rng_uniform_float(TorchGenerator *gen);

// Uniform in [0, 1): double from 53 bits of two draws.
double rng_uniform_double(TorchGenerator *gen);

// tensor.normal_(mean, std) on a contiguous float32 tensor of n values,
// taking the same path PyTorch takes on an AVX2 CPU. x is (n,).
void rng_normal_(TorchGenerator *gen, float *x, int64_t n, float mean, float std);

// The same, choosing the transform used for n >= 16 explicitly.
void rng_normal_path_(TorchGenerator *gen, float *x, int64_t n, float mean,
                      float std, RngNormalPath path);

// The same, choosing the kernel too.
void rng_normal_kernel_(TorchGenerator *gen, float *x, int64_t n, float mean, float std,
                        RngNormalPath path, RngKernel kernel);

// True when this CPU runs the AVX2 path eight lanes at a time (it has AVX2
// and FMA); otherwise RNG_KERNEL_FAST computes it one lane at a time.
bool rng_has_vector_kernel(void);

#endif
