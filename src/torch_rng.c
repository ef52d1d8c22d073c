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
 * The blocked route exists twice. The reference follows PyTorch's order
 * literally and computes one value at a time; it is short enough to check
 * against avx_mathfun.h line by line. The fast route, which rng_normal_
 * uses, gives the same bits faster: it tempers a run of MT words in one
 * vectorised loop, transforms each chunk of 4096 uniforms while they are
 * in cache, and on CPUs with AVX2 and FMA runs the AVX2 kernel on eight
 * lanes with the very instructions PyTorch's kernel uses. tests/test_rng.c
 * compares the two routes on every length from 16 to 300 and around every
 * chunk and lane boundary.
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
// Word i+M and word i+1 wrap around the end; the words before i are
// already new when word i is made, so the three loops below are the one
// loop `s[i] = twist(s[(i+M) % N], s[i], s[(i+1) % N])` without the modulos.
static void mt_next_state(TorchGenerator *gen) {
    uint32_t *s = gen->state;  // (RNG_MT_N,)
    int i = 0;
    for (; i < RNG_MT_N - RNG_MT_M; i++) s[i] = mt_twist_word(s[i + RNG_MT_M], s[i], s[i + 1]);
    for (; i < RNG_MT_N - 1; i++) {
        s[i] = mt_twist_word(s[i + RNG_MT_M - RNG_MT_N], s[i], s[i + 1]);
    }
    s[i] = mt_twist_word(s[RNG_MT_M - 1], s[i], s[0]);  // i = N-1: both wrap
    gen->left = RNG_MT_N;
    gen->next = 0;
}

// MT19937's output tempering of one state word.
static inline uint32_t mt_temper(uint32_t y) {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

// Next tempered word, twisting the state first when all 624 are used.
uint32_t rng_random(TorchGenerator *gen) {
    if (--gen->left == 0) mt_next_state(gen);
    return mt_temper(gen->state[gen->next++]);
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

// The float uniform made from one draw w: its low 24 bits, scaled.
static inline float uniform_from_word(uint32_t w) {
    return (float)(int32_t)(w & 0xFFFFFFu) * 0x1p-24f;  // exact: < 2^24
}

// at::uniform_real_distribution<float>(0, 1): 24 bits of one draw.
float rng_uniform_float(TorchGenerator *gen) {
    return uniform_from_word(rng_random(gen));
}

// The same n times, x (n,) in order, but a run of state words at a time:
// the words left before the next twist are tempered and scaled in one
// loop the compiler vectorises. Leaves gen where n rng_uniform_float
// calls would.
static inline void fill_uniform_fast(TorchGenerator *gen, float *x, int64_t n) {
    while (n > 0) {
        if (gen->left == 1) {
            mt_next_state(gen);
            gen->left = RNG_MT_N + 1;  // as if no draw had been taken yet
        }
        int64_t k = gen->left - 1;  // words before the next twist
        if (k > n) k = n;
        const uint32_t *s = gen->state + gen->next;  // seek to the next word
        for (int64_t i = 0; i < k; i++) x[i] = uniform_from_word(mt_temper(s[i]));
        gen->left -= (int)k;
        gen->next += (int)k;
        x += k;
        n -= k;
    }
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

// ---------------------------------------------------------------------------
// The AVX2 kernel, eight lanes at a time
// ---------------------------------------------------------------------------

// block16_avx2 with AVX2 and FMA instructions: the same operations on all
// eight pairs at once, in the order of the one-lane code above (which stays
// as the reference, and the fallback on CPUs without AVX2 and FMA). Every
// lane rounds exactly as there: _mm256_fmadd_ps where that code calls
// fmaf, and the same selects and sign flips.
#if defined(__x86_64__) && defined(__GNUC__)
#define RNG_HAVE_AVX2_KERNEL 1
#include <immintrin.h>

#define RNG_AVX2 __attribute__((target("avx2,fma")))

// A vector of eight copies of the float whose bits are b.
RNG_AVX2 static inline __m256 splat_bits(uint32_t b) {
    return _mm256_castsi256_ps(_mm256_set1_epi32((int)b));
}

// cephes_logf on eight lanes.
RNG_AVX2 static inline __m256 cephes_logf_x8(__m256 x) {
    static const uint32_t p[9] = {0x3d9021bb, 0xbdebd1b8, 0x3def251a, 0xbdfe5d4f, 0x3e11e9bf,
                                  0xbe2aae50, 0x3e4cceac, 0xbe7ffffc, 0x3eaaaaaa};
    const __m256 one = _mm256_set1_ps(1.0f);
    x = _mm256_max_ps(x, _mm256_set1_ps(FLT_MIN));  // x > FLT_MIN ? x : FLT_MIN
    __m256i b = _mm256_castps_si256(x);
    __m256i e_int = _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127));
    __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(e_int), one);
    __m256i m_bits = _mm256_or_si256(_mm256_andnot_si256(_mm256_set1_epi32(0x7F800000), b),
                                     _mm256_set1_epi32(0x3F000000));
    __m256 m = _mm256_castsi256_ps(m_bits);
    __m256 below = _mm256_cmp_ps(m, splat_bits(0x3f3504f3), _CMP_LT_OS);  // m < sqrt(1/2)
    e = _mm256_sub_ps(e, _mm256_and_ps(one, below));            // e - 1, or e - 0
    x = _mm256_add_ps(_mm256_sub_ps(m, one), _mm256_and_ps(m, below));  // (m-1) + m, or +0

    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = splat_bits(p[0]);
    for (int k = 1; k <= 8; k++) y = _mm256_fmadd_ps(y, x, splat_bits(p[k]));
    y = _mm256_mul_ps(y, x);
    y = _mm256_fmadd_ps(y, z, _mm256_mul_ps(e, splat_bits(0xb95e8083)));  // q1
    y = _mm256_sub_ps(y, _mm256_mul_ps(_mm256_set1_ps(0.5f), z));
    __m256 r = _mm256_add_ps(x, y);
    return _mm256_fmadd_ps(e, splat_bits(0x3f318000), r);  // q2
}

// cephes_sincosf on eight lanes of t >= 0.
RNG_AVX2 static inline void cephes_sincosf_x8(__m256 t, __m256 *s, __m256 *c) {
    const __m256 sign_mask = splat_bits(0x80000000u);
    const __m256i four = _mm256_set1_epi32(4), two = _mm256_set1_epi32(2);
    __m256 sign_sin = _mm256_and_ps(t, sign_mask);
    __m256 x = _mm256_andnot_ps(sign_mask, t);  // |t|
    __m256i j = _mm256_cvttps_epi32(_mm256_mul_ps(x, splat_bits(0x3fa2f983)));  // truncates
    j = _mm256_and_si256(_mm256_add_epi32(j, _mm256_set1_epi32(1)), _mm256_set1_epi32(~1));
    __m256 y = _mm256_cvtepi32_ps(j);
    __m256 swap_sin = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(j, four), 29));
    __m256i j_and_2 = _mm256_and_si256(j, two);
    __m256 poly_is_sin = _mm256_castsi256_ps(_mm256_cmpeq_epi32(j_and_2, _mm256_setzero_si256()));
    __m256i not_j2 = _mm256_andnot_si256(_mm256_sub_epi32(j, two), four);  // ~(j-2) & 4
    __m256 sign_cos = _mm256_castsi256_ps(_mm256_slli_epi32(not_j2, 29));
    sign_sin = _mm256_xor_ps(sign_sin, swap_sin);
    x = _mm256_fmadd_ps(y, splat_bits(0xbf490000), x);  // dp1
    x = _mm256_fmadd_ps(y, splat_bits(0xb97da000), x);  // dp2
    x = _mm256_fmadd_ps(y, splat_bits(0xb3222169), x);  // dp3

    __m256 z = _mm256_mul_ps(x, x);
    __m256 half_z = _mm256_mul_ps(_mm256_set1_ps(0.5f), z);
    __m256 yc = _mm256_fmadd_ps(splat_bits(0x37ccf5ce), z, splat_bits(0xbab6061a));  // c0, c1
    yc = _mm256_fmadd_ps(yc, z, splat_bits(0x3d2aaaa5));                            // c2
    yc = _mm256_mul_ps(yc, z);
    yc = _mm256_fmadd_ps(yc, z, _mm256_xor_ps(half_z, sign_mask));  // - 0.5z
    yc = _mm256_add_ps(yc, _mm256_set1_ps(1.0f));
    __m256 ys = _mm256_fmadd_ps(splat_bits(0xb94ca1f9), z, splat_bits(0x3c08839e));  // s0, s1
    ys = _mm256_fmadd_ps(ys, z, splat_bits(0xbe2aaaa3));                            // s2
    ys = _mm256_mul_ps(ys, z);
    ys = _mm256_fmadd_ps(ys, x, x);

    // select by adding a masked +0, as the one-lane code does
    __m256 ys_in = _mm256_and_ps(poly_is_sin, ys), ys_out = _mm256_andnot_ps(poly_is_sin, ys);
    __m256 yc_in = _mm256_and_ps(poly_is_sin, yc), yc_out = _mm256_andnot_ps(poly_is_sin, yc);
    __m256 sin_v = _mm256_add_ps(ys_in, yc_out);  // poly_is_sin ? ys + 0 : 0 + yc
    __m256 cos_v = _mm256_add_ps(ys_out, yc_in);  // poly_is_sin ? 0 + yc : ys + 0
    *s = _mm256_xor_ps(sin_v, sign_sin);
    *c = _mm256_xor_ps(cos_v, sign_cos);
}

// block16_avx2 on the n/16 whole blocks of x (n,), in place.
RNG_AVX2 static void blocks_avx2_x8(float *x, int64_t n, float mean, float std) {
    const __m256 one = _mm256_set1_ps(1.0f), minus_two = _mm256_set1_ps(-2.0f);
    const __m256 two_pi = splat_bits(0x40C90FDB);
    const __m256 mean_v = _mm256_set1_ps(mean), std_v = _mm256_set1_ps(std);
    for (int64_t b = 0; b + RNG_BLOCK <= n; b += RNG_BLOCK) {
        float *x_b = x + b;  // seek to block b: lanes 0..7 and 8..15
        __m256 u1 = _mm256_sub_ps(one, _mm256_loadu_ps(x_b));
        __m256 u2 = _mm256_loadu_ps(x_b + RNG_HALF);
        __m256 radius = _mm256_sqrt_ps(_mm256_mul_ps(minus_two, cephes_logf_x8(u1)));
        __m256 s, c;
        cephes_sincosf_x8(_mm256_mul_ps(two_pi, u2), &s, &c);
        __m256 cosines = _mm256_fmadd_ps(_mm256_mul_ps(radius, c), std_v, mean_v);
        _mm256_storeu_ps(x_b, cosines);
        __m256 sines = _mm256_fmadd_ps(_mm256_mul_ps(radius, s), std_v, mean_v);
        _mm256_storeu_ps(x_b + RNG_HALF, sines);
    }
}

// One chunk of normal_blocked_fast: its m uniforms (the tempering loop
// compiled for AVX2 too), then its whole blocks. x is (m,).
RNG_AVX2 static void chunk_avx2_x8(TorchGenerator *gen, float *x, int64_t m, float mean,
                                   float std) {
    fill_uniform_fast(gen, x, m);
    blocks_avx2_x8(x, m, mean, std);
}

bool rng_has_vector_kernel(void) {
    static int has = -1;  // not yet asked
    if (has < 0) has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}
#else
#define RNG_HAVE_AVX2_KERNEL 0
bool rng_has_vector_kernel(void) { return false; }
#endif

// ---------------------------------------------------------------------------
// n >= 16: uniforms, then blocks, then the tail
// ---------------------------------------------------------------------------

typedef void (*Block16Fn)(float *x, float mean, float std);

// Overwrites x (n,) with n float uniforms, in order, one draw at a time.
static void fill_uniform(TorchGenerator *gen, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform_float(gen);
}

// Runs block16 on the n/16 whole blocks of x (n,), in place.
static void blocks(Block16Fn block16, float *x, int64_t n, float mean, float std) {
    for (int64_t b = 0; b + RNG_BLOCK <= n; b += RNG_BLOCK) {
        block16(x + b, mean, std);  // seek to block b
    }
}

// normal_fill as PyTorch writes it: all n uniforms first, then the whole
// blocks, then the tail rule. x is (n,) with n >= 16. The reference.
static void normal_blocked_reference(TorchGenerator *gen, float *x, int64_t n, float mean,
                                     float std, Block16Fn block16) {
    fill_uniform(gen, x, n);
    blocks(block16, x, n, mean, std);
    if (n % RNG_BLOCK != 0) {
        // redo the last 16 slots with fresh uniforms; the n%16 uniforms
        // drawn for them above are wasted, and up to 15 outputs overwritten
        float *tail = x + n - RNG_BLOCK;
        fill_uniform(gen, tail, RNG_BLOCK);
        block16(tail, mean, std);
    }
}

// The same bits, faster: the uniforms of RNG_CHUNK values are made and
// transformed while they are in cache, chunk after chunk. A block's
// outputs depend only on its own 16 uniforms, and the uniforms are drawn
// in the same order, so the chunking changes no bit. x is (n,), n >= 16.
#define RNG_CHUNK 4096  // a multiple of RNG_BLOCK; 16 KiB, well inside L1 + L2
static void normal_blocked_fast(TorchGenerator *gen, float *x, int64_t n, float mean,
                                float std, RngNormalPath path) {
    bool vector = RNG_HAVE_AVX2_KERNEL && path == RNG_PATH_AVX2 && rng_has_vector_kernel();
    Block16Fn block16 = path == RNG_PATH_AVX2 ? block16_avx2 : block16_scalar;
    for (int64_t start = 0; start < n; start += RNG_CHUNK) {
        int64_t m = n - start < RNG_CHUNK ? n - start : RNG_CHUNK;
        float *x_c = x + start;  // seek to the chunk
#if RNG_HAVE_AVX2_KERNEL
        if (vector) {
            chunk_avx2_x8(gen, x_c, m, mean, std);
            continue;
        }
#endif
        fill_uniform_fast(gen, x_c, m);
        blocks(block16, x_c, m, mean, std);
    }
    if (n % RNG_BLOCK != 0) {  // the tail rule, as in the reference
        float *tail = x + n - RNG_BLOCK;
        fill_uniform_fast(gen, tail, RNG_BLOCK);
        block16(tail, mean, std);
    }
    (void)vector;
}

// ---------------------------------------------------------------------------
// normal_
// ---------------------------------------------------------------------------

// normal_kernel's dispatch: per-element Box-Muller below 16 values, blocks
// from 16 on. x is (n,).
void rng_normal_kernel_(TorchGenerator *gen, float *x, int64_t n, float mean, float std,
                        RngNormalPath path, RngKernel kernel) {
    if (n <= 0) return;
    if (n < RNG_BLOCK) {
        normal_small(gen, x, n, mean, std, path);
    } else if (kernel == RNG_KERNEL_REFERENCE) {
        normal_blocked_reference(gen, x, n, mean, std,
                                 path == RNG_PATH_AVX2 ? block16_avx2 : block16_scalar);
    } else {
        normal_blocked_fast(gen, x, n, mean, std, path);
    }
}

void rng_normal_path_(TorchGenerator *gen, float *x, int64_t n, float mean,
                      float std, RngNormalPath path) {
    rng_normal_kernel_(gen, x, n, mean, std, path, RNG_KERNEL_FAST);
}

// normal_ as PyTorch runs it on an AVX2 CPU. x is (n,).
void rng_normal_(TorchGenerator *gen, float *x, int64_t n, float mean, float std) {
    rng_normal_path_(gen, x, n, mean, std, RNG_PATH_AVX2);
}
