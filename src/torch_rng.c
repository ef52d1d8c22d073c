/*
 * torch_rng.c - PyTorch's CPU generator and normal_, bit for bit (torch 1.13).
 *
 * Three layers, each built on the one above it:
 *
 *   1. the MT19937 engine (at::mt19937): 624 words of state, twisted in
 *      one go every 624 draws, each draw tempered on the way out;
 *   2. uniforms in [0, 1): a float from the low 24 bits of one draw, a
 *      double from 53 bits of two draws;
 *   3. normal_ on a float32 buffer, which takes one of two routes:
 *        n < 16   double Box-Muller, one element at a time; the unused
 *                 sine of each pair is cached in the generator and is the
 *                 next element produced, even by a later call;
 *        n >= 16  all n uniforms first, then Box-Muller on blocks of 16
 *                 in place (lanes j and j+8 form a pair); a ragged end is
 *                 redone with 16 fresh uniforms over the last 16 slots.
 *                 The block transform is either the AVX2 kernel (Cephes
 *                 float polynomials, with the fused multiply-adds that GCC
 *                 put in) or the scalar kernel (glibc logf/cosf/sinf).
 *
 * Invariants of a TorchGenerator between calls:
 *   - 1 <= left <= RNG_MT_N; the next draw twists first when left == 1;
 *   - next + left == RNG_MT_N + 1 once anything has been drawn (right after
 *     a seed, left == 1 and next == 0, so the first draw twists);
 *   - has_cached_normal is false right after rng_manual_seed, and only the
 *     n < 16 route reads or writes the cache.
 *
 * Bit-exactness depends on the floating-point sites being exactly as
 * written: build with -ffp-contract=off, so that the only fused
 * multiply-adds are the explicit fmaf()/fma() calls below. (GCC already
 * defaults to off under -std=c11, but not under its default -std=gnu17,
 * where -march=native contracts a*b+c and the scalar path drifts.)
 */
#include "torch_rng.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define RNG_MT_M 397
#define RNG_MT_MATRIX_A 0x9908B0DFu
#define RNG_MT_UPPER_MASK 0x80000000u
#define RNG_MT_LOWER_MASK 0x7FFFFFFFu

#define RNG_PI 3.14159265358979323846  // c10::pi<double>; M_PI is not C11

#define RNG_BLOCK 16  // values per Box-Muller block (8 pairs)
#define RNG_HALF 8    // lanes j and j + RNG_HALF form one pair

// ---------------------------------------------------------------------------
// The MT19937 engine
// ---------------------------------------------------------------------------

// torch.manual_seed: init_genrand on the low 32 bits; forgets any cached normal.
void rng_manual_seed(TorchGenerator *gen, uint64_t seed) {
    gen->state[0] = (uint32_t)(seed & 0xFFFFFFFFu);  // only the low 32 bits
    for (uint32_t j = 1; j < RNG_MT_N; j++) {
        uint32_t prev = gen->state[j - 1];
        gen->state[j] = 1812433253u * (prev ^ (prev >> 30)) + j;
    }
    gen->left = 1;
    gen->next = 0;
    gen->has_cached_normal = false;
    gen->cached_normal = 0.0;
}

// Combines the top bit of u with the low 31 bits of v, as the twist does.
static uint32_t mt_mix_bits(uint32_t u, uint32_t v) {
    return (u & RNG_MT_UPPER_MASK) | (v & RNG_MT_LOWER_MASK);
}

// One twist step: the new word from words (u, v) and the word M ahead.
static uint32_t mt_twist_word(uint32_t m_ahead, uint32_t u, uint32_t v) {
    uint32_t y = mt_mix_bits(u, v);
    return m_ahead ^ (y >> 1) ^ ((v & 1u) ? RNG_MT_MATRIX_A : 0u);
}

// Regenerates all 624 state words in place and rewinds to word 0.
static void mt_next_state(TorchGenerator *gen) {
    uint32_t *s = gen->state;  // (RNG_MT_N,)
    for (int i = 0; i < RNG_MT_N; i++) {
        // word i+M and word i+1 wrap around; words before i are already new
        uint32_t m_ahead = s[(i + RNG_MT_M) % RNG_MT_N];
        s[i] = mt_twist_word(m_ahead, s[i], s[(i + 1) % RNG_MT_N]);
    }
    gen->left = RNG_MT_N;
    gen->next = 0;
}

// Next tempered word, twisting the state first when all 624 are used.
uint32_t rng_random(TorchGenerator *gen) {
    if (--gen->left == 0) mt_next_state(gen);
    uint32_t y = gen->state[gen->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

// Two draws glued together, the first in the high half.
uint64_t rng_random64(TorchGenerator *gen) {
    uint64_t hi = rng_random(gen);
    uint64_t lo = rng_random(gen);
    return (hi << 32) | lo;
}

// ---------------------------------------------------------------------------
// Uniforms
// ---------------------------------------------------------------------------

// at::uniform_real_distribution<float>(0, 1): 24 bits of one draw.
float rng_uniform_float(TorchGenerator *gen) {
    uint32_t w = rng_random(gen);
    return (float)(w & 0xFFFFFFu) * 0x1p-24f;  // low 24 bits
}

// at::uniform_real_distribution<double>(0, 1): the low 53 bits of random64.
double rng_uniform_double(TorchGenerator *gen) {
    uint64_t w = rng_random64(gen);
    return (double)(w & ((UINT64_C(1) << 53) - 1)) * 0x1p-53;
}

// ---------------------------------------------------------------------------
// n < 16: double Box-Muller with a cached second sample
// ---------------------------------------------------------------------------

// Scales a standard normal to val*std + mean, fused or not as PyTorch's
// kernel for that CPU capability was compiled: GCC fused it in the AVX2
// build (-mfma) and could not in the default one. This is the only place
// the path matters below 16 values, and it only changes the double result.
static double scale_double(double val, double std, double mean, RngNormalPath path) {
    if (path == RNG_PATH_AVX2) return fma(val, std, mean);
    return val * std + mean;
}

// One sample of at::normal_distribution<double>: the cached sine if there
// is one, else a fresh pair (cosine returned, sine cached).
static double box_muller_double(TorchGenerator *gen, double mean, double std,
                                RngNormalPath path) {
    if (gen->has_cached_normal) {
        gen->has_cached_normal = false;
        return scale_double(gen->cached_normal, std, mean, path);
    }
    double u1 = rng_uniform_double(gen);
    double u2 = rng_uniform_double(gen);
    double r = sqrt(-2.0 * log(1.0 - u2));  // 1.13 spells it log(1-u2)
    double theta = 2.0 * RNG_PI * u1;
    gen->cached_normal = r * sin(theta);
    gen->has_cached_normal = true;
    return scale_double(r * cos(theta), std, mean, path);
}

// Fills x (n,) one element at a time, in memory order.
static void normal_small(TorchGenerator *gen, float *x, int64_t n, float mean,
                         float std, RngNormalPath path) {
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)box_muller_double(gen, mean, std, path);
    }
}

// ---------------------------------------------------------------------------
// Cephes float32 log and sincos, as in avx_mathfun.h (one lane of eight)
// ---------------------------------------------------------------------------

// The float whose bits are b.
static float float_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

// The bits of the float f.
static uint32_t bits_from_float(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

// Natural log of x in (0, 1], as log256_ps computes it with GCC's fusions.
static float cephes_logf(float x) {
    const float sqrthf = float_from_bits(0x3f3504f3);
    const float p[9] = {
        float_from_bits(0x3d9021bb), float_from_bits(0xbdebd1b8),
        float_from_bits(0x3def251a), float_from_bits(0xbdfe5d4f),
        float_from_bits(0x3e11e9bf), float_from_bits(0xbe2aae50),
        float_from_bits(0x3e4cceac), float_from_bits(0xbe7ffffc),
        float_from_bits(0x3eaaaaaa),
    };
    const float q1 = float_from_bits(0xb95e8083);
    const float q2 = float_from_bits(0x3f318000);

    // split x = m * 2^e with m in [0.5, 1)
    x = fmaxf(x, FLT_MIN);  // cut off denormals
    uint32_t b = bits_from_float(x);
    float e = (float)((int32_t)(b >> 23) - 127) + 1.0f;
    float m = float_from_bits((b & ~0x7F800000u) | 0x3F000000u);
    if (m < sqrthf) {
        e = e - 1.0f;
        x = (m - 1.0f) + m;
    } else {
        x = m - 1.0f;
    }

    float z = x * x;
    float y = p[0];
    for (int k = 1; k <= 8; k++) y = fmaf(y, x, p[k]);
    y = y * x;
    y = fmaf(y, z, e * q1);  // y*z fused, e*q1 rounded on its own
    y = y - 0.5f * z;
    float r = x + y;
    return fmaf(e, q2, r);
}

// Sine and cosine of t >= 0, as sincos256_ps computes them with GCC's fusions.
static void cephes_sincosf(float t, float *s, float *c) {
    const float fopi = float_from_bits(0x3fa2f983);
    const float dp1 = float_from_bits(0xbf490000);
    const float dp2 = float_from_bits(0xb97da000);
    const float dp3 = float_from_bits(0xb3222169);
    const float s0 = float_from_bits(0xb94ca1f9);
    const float s1 = float_from_bits(0x3c08839e);
    const float s2 = float_from_bits(0xbe2aaaa3);
    const float c0 = float_from_bits(0x37ccf5ce);
    const float c1 = float_from_bits(0xbab6061a);
    const float c2 = float_from_bits(0x3d2aaaa5);

    // reduce to x in [-pi/4, pi/4] and octant j (even)
    bool sign_sin = signbit(t);
    float x = fabsf(t);
    int32_t j = (int32_t)(x * fopi);  // truncates, like cvttps
    j = (j + 1) & ~1;
    float y = (float)j;
    bool swap_sin = (j & 4) != 0;
    bool poly_is_sin = (j & 2) == 0;
    bool sign_cos = ((~(uint32_t)(j - 2)) & 4u) != 0;
    sign_sin ^= swap_sin;
    x = fmaf(y, dp1, x);
    x = fmaf(y, dp2, x);
    x = fmaf(y, dp3, x);

    float z = x * x;
    float yc = fmaf(fmaf(c0, z, c1), z, c2);
    yc = yc * z;
    yc = fmaf(yc, z, -(0.5f * z));
    yc = yc + 1.0f;
    float ys = fmaf(fmaf(s0, z, s1), z, s2);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    // the kernel selects by adding a masked +0, which turns -0 into +0
    float sin_v = poly_is_sin ? 0.0f + ys : yc + 0.0f;
    float cos_v = poly_is_sin ? yc + 0.0f : 0.0f + ys;
    *s = sign_sin ? -sin_v : sin_v;
    *c = sign_cos ? -cos_v : cos_v;
}

// ---------------------------------------------------------------------------
// n >= 16: Box-Muller on blocks of 16 uniforms
// ---------------------------------------------------------------------------

// normal_fill_16_AVX2 on one block, in place. x is (16,): uniforms in,
// normals out; cosines go to lanes 0..7 and sines to lanes 8..15.
static void block16_avx2(float *x, float mean, float std) {
    const float two_pi = float_from_bits(0x40C90FDB);
    for (int j = 0; j < RNG_HALF; j++) {
        float u1 = 1.0f - x[j];  // (0, 1] for the log
        float u2 = x[j + RNG_HALF];
        float radius = sqrtf(-2.0f * cephes_logf(u1));
        float theta = two_pi * u2;
        float s, c;
        cephes_sincosf(theta, &s, &c);
        x[j] = fmaf(radius * c, std, mean);
        x[j + RNG_HALF] = fmaf(radius * s, std, mean);
    }
}

// normal_fill_16 (the scalar kernel) on one block, in place. x is (16,).
static void block16_scalar(float *x, float mean, float std) {
    for (int j = 0; j < RNG_HALF; j++) {
        float u1 = 1.0f - x[j];
        float u2 = x[j + RNG_HALF];
        float radius = sqrtf(-2.0f * logf(u1));
        float theta = (float)(2.0 * RNG_PI * (double)u2);  // double product
        x[j] = radius * cosf(theta) * std + mean;
        x[j + RNG_HALF] = radius * sinf(theta) * std + mean;
    }
}

// Overwrites x (n,) with n float uniforms, in order.
static void fill_uniform(TorchGenerator *gen, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform_float(gen);
}

// normal_fill: uniforms first, then whole blocks, then the tail rule.
// x is (n,) with n >= 16.
static void normal_blocked(TorchGenerator *gen, float *x, int64_t n, float mean,
                           float std, RngNormalPath path) {
    void (*block16)(float *, float, float) =
        path == RNG_PATH_AVX2 ? block16_avx2 : block16_scalar;
    fill_uniform(gen, x, n);
    for (int64_t b = 0; b + RNG_BLOCK <= n; b += RNG_BLOCK) {
        block16(x + b, mean, std);  // seek to block b
    }
    if (n % RNG_BLOCK != 0) {
        // redo the last 16 slots with fresh uniforms; the n%16 uniforms
        // drawn for them above are wasted, and up to 15 outputs overwritten
        float *tail = x + n - RNG_BLOCK;
        fill_uniform(gen, tail, RNG_BLOCK);
        block16(tail, mean, std);
    }
}

// ---------------------------------------------------------------------------
// normal_
// ---------------------------------------------------------------------------

// normal_kernel's dispatch: per-element Box-Muller below 16 values, blocks
// from 16 on. x is (n,).
void rng_normal_path_(TorchGenerator *gen, float *x, int64_t n, float mean,
                      float std, RngNormalPath path) {
    if (n <= 0) return;
    if (n < RNG_BLOCK) {
        normal_small(gen, x, n, mean, std, path);
    } else {
        normal_blocked(gen, x, n, mean, std, path);
    }
}

// normal_ as PyTorch runs it on an AVX2 CPU. x is (n,).
void rng_normal_(TorchGenerator *gen, float *x, int64_t n, float mean, float std) {
    rng_normal_path_(gen, x, n, mean, std, RNG_PATH_AVX2);
}
