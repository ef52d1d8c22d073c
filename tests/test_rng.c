/*
 * test_rng.c - torch_rng against bits produced by real PyTorch 1.13.
 *
 * The claim is bit-exactness, so every check compares float32 (or uint32 /
 * uint64) bit patterns for equality; there are no tolerances here. Small
 * cases embed every value; big ones embed their first and last 4 values
 * plus an FNV-1a 64 digest of all their bit patterns, so one flipped bit
 * anywhere in 64,000 values fails the test.
 *
 * Where the expected values come from: Debian's torch 1.13 (1.13.1+dfsg,
 * torch.__version__ == '1.13.0a0') on an x86-64 CPU with AVX2, run as
 *
 *     /usr/bin/python3 gen_expected.py
 *
 * which prints every array below exactly as it appears. It reruns itself
 * with ATEN_CPU_CAPABILITY=default for the SCALAR_ arrays (PyTorch's
 * non-AVX2 kernel). gen_expected.py is the indented block below, verbatim:
 *
 *     import os, subprocess, sys
 *     import numpy as np, torch
 *
 *     def emit(name, t, take=None):  # a C array of t's bit patterns (or its first/last `take`)
 *         a = t.detach().numpy().ravel()
 *         bits = a.view(np.uint64 if a.dtype.itemsize == 8 else np.uint32)
 *         if take: bits = np.concatenate([bits[:take], bits[-take:]])
 *         ty, w = ("uint64_t", 16) if bits.dtype == np.uint64 else ("uint32_t", 8)
 *         words = [f"0x{int(b):0{w}x}" for b in bits]
 *         rows = [", ".join(words[i:i + 6]) for i in range(0, len(words), 6)]
 *         body = ",\n    ".join(rows)
 *         print(f"static const {ty} {name}[{len(words)}] = {{\n    {body},\n}};")
 *
 *     def fnv1a(tensors):  # FNV-1a 64 over float32 bit patterns, one 32-bit word per step
 *         h = 0xcbf29ce484222325
 *         for t in tensors:
 *             for w in t.detach().numpy().ravel().view(np.uint32).tolist():
 *                 h = ((h ^ w) * 0x100000001b3) & (2**64 - 1)
 *         return h
 *
 *     def digests(name, *hs):
 *         print(f"static const uint64_t {name}[{len(hs)}] = {{"
 *               + ", ".join(f"0x{h:016x}" for h in hs) + "};")
 *
 *     def every_n(mean, std):  # seeds 0..9 x n = 1..40, each freshly seeded
 *         for seed in range(10):
 *             for n in range(1, 41):
 *                 torch.manual_seed(seed)
 *                 yield torch.empty(n).normal_(mean, std)
 *
 *     def table(seed, *shapes):  # manual_seed, then one nn.Embedding weight per shape
 *         torch.manual_seed(seed)
 *         return [torch.nn.Embedding(V, D).weight for V, D in shapes]
 *
 *     def cat(ts):
 *         return torch.cat([t.ravel() for t in ts])
 *
 *     if os.environ.get("ATEN_CPU_CAPABILITY") == "default":
 *         emit("SCALAR_SEED0_4X4", table(0, (4, 4))[0])
 *         emit("SCALAR_SEED0_10X4", table(0, (10, 4))[0])
 *         emit("SCALAR_SEED0_1000X64_ENDS", table(0, (1000, 64))[0], take=4)
 *         digests("SCALAR_DIGESTS", fnv1a(table(0, (1000, 64))),
 *                 fnv1a(every_n(0.0, 1.0)), fnv1a(every_n(0.5, 1.5)))
 *         sys.exit(0)
 *     torch.manual_seed(0)
 *     w = torch.randint(0, 2**32 - 1, (628,))  # random() % (2^32-1): the raw draw
 *     assert (w < 2**32 - 2).all()             # ... as none of these is 2^32-1
 *     emit("MT_SEED0", torch.cat([w[:4], w[624:]]).to(torch.int32))  # int32 keeps the bits
 *     torch.manual_seed(0)
 *     emit("RANDOM64_SEED0_LOW62", torch.randint(0, 2**62, (2,)))  # random64() % 2^62
 *     torch.manual_seed(0); emit("UNIFORM_FLOAT_SEED0", torch.rand(4))
 *     torch.manual_seed(0); emit("UNIFORM_DOUBLE_SEED0", torch.rand(4, dtype=torch.float64))
 *     emit("SEED0_3X1", table(0, (3, 1))[0])
 *     emit("SEED0_5X3", table(0, (5, 3))[0])
 *     emit("SEED0_5X3_THEN_1X1_THEN_2X1", cat(table(0, (5, 3), (1, 1), (2, 1))[1:]))
 *     emit("SEED0_1X1", table(0, (1, 1))[0])
 *     emit("SEED0_4X4", table(0, (4, 4))[0])
 *     emit("SEED1_2X16", table(1, (2, 16))[0])
 *     emit("SEED0_5X7", table(0, (5, 7))[0])
 *     emit("SEED0_10X4", table(0, (10, 4))[0])
 *     emit("SEED0_1000X64_ENDS", table(0, (1000, 64))[0], take=4)
 *     assert (cat(table(2**32, (5, 3), (4, 4))) == cat(table(0, (5, 3), (4, 4)))).all()
 *     nxt = []
 *     for shape in [(3, 1), (5, 3), (4, 4), (5, 7), (10, 4), (1000, 64)]:
 *         table(0, shape)
 *         nxt.append(torch.rand(1))
 *     emit("NEXT_UNIFORM_AFTER", torch.cat(nxt))
 *     torch.manual_seed(0); emit("SEED0_NORMAL_MEAN05_STD15_N3", torch.empty(3).normal_(0.5, 1.5))
 *     torch.manual_seed(0); emit("SEED0_NORMAL_MEAN05_STD15_N20", torch.empty(20).normal_(0.5, 1.5))
 *     digests("DIGESTS", fnv1a(table(0, (1000, 64))),
 *             fnv1a(every_n(0.0, 1.0)), fnv1a(every_n(0.5, 1.5)))
 *     sys.stdout.flush()
 *     env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
 *     subprocess.run([sys.executable, __file__], env=env, check=True)
 *
 * Build and run:
 *
 *     gcc -std=c11 -Wall -Wextra -Werror -O2 -ffp-contract=off \
 *         -D_POSIX_C_SOURCE=200809L tests/test_rng.c src/torch_rng.c \
 *         -o /tmp/test_rng $(pkg-config --cflags --libs check) -lm
 *     /tmp/test_rng
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/torch_rng.h"

// ---------------------------------------------------------------------------
// Expected bits, from gen_expected.py above
// ---------------------------------------------------------------------------

static const uint32_t MT_SEED0[8] = {
    0x8c7f0aac, 0x97c4aa2f, 0xb716a675, 0xd821ccc0, 0x145b8f3a, 0x4028cf81,
    0x16f03971, 0xad6adc80,
};
static const uint64_t RANDOM64_SEED0_LOW62[2] = {
    0x0c7f0aac97c4aa2f, 0x3716a675d821ccc0,
};
static const uint32_t UNIFORM_FLOAT_SEED0[4] = {
    0x3efe1558, 0x3f44aa2f, 0x3db533a8, 0x3e073300,
};
static const uint64_t UNIFORM_DOUBLE_SEED0[4] = {
    0x3fef0aac97c4aa2f, 0x3fe6a675d821ccc0, 0x3fdd6687b744a5f6, 0x3fed76c3d8e57d67,
};
static const uint32_t SEED0_3X1[3] = {
    0x3fc53f5c, 0xbe963c50, 0xc00b7149,
};
static const uint32_t SEED0_5X3[15] = {
    0x3fc53f5c, 0xbe963c50, 0xc00b7149, 0x3f1184b6, 0xbf8ad1a1, 0xbfb3052d,
    0x3ece837a, 0x3f5688e5, 0xbf382144, 0xbece830b, 0xbf18bd18, 0x3e3a67c6,
    0xbf5b4f07, 0x3f8ce099, 0xbf891cab,
};
static const uint32_t SEED0_5X3_THEN_1X1_THEN_2X1[3] = {
    0x3dfb4aca, 0xbf10fa2f, 0x3ebf08e2,
};
static const uint32_t SEED0_1X1[1] = {
    0x3fc53f5c,
};
static const uint32_t SEED0_4X4[16] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d, 0x3f594515, 0x3f312783,
    0xbea1cc6d, 0xc0075fc1, 0x3ea50138, 0xbfa1b4f4, 0x3eb330ff, 0x3e9dc3bb,
    0x3df56f77, 0x3f9e6b93, 0x3f8ef28e, 0xbe7d367c,
};
static const uint32_t SEED1_2X16[32] = {
    0xbfc346ba, 0xbf400f31, 0xbf276b4b, 0xbfce0399, 0xbdcd2473, 0xbf1bf3ce,
    0xbf7ad25b, 0xbfcdf6de, 0xbf364f1c, 0x3e9b8173, 0xbf46fe12, 0xbe80bebe,
    0xbe639ae0, 0x3fd7f355, 0x3e69e84a, 0x3eef6dec, 0xbf326cc9, 0xbf9493d5,
    0x3f331536, 0x3e4bdc0e, 0x3f5d9e04, 0x3e7a4504, 0xbf29b48f, 0x3f4eabc1,
    0x3f8d03df, 0xbe342894, 0xc00fb738, 0xbfb92589, 0x3d7a7df6, 0xbf1e2480,
    0xbf4c4e4e, 0xbe06c83c,
};
static const uint32_t SEED0_5X7[35] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d, 0x3f594515, 0x3f312783,
    0xbea1cc6d, 0xc0075fc1, 0x3ea50138, 0xbfa1b4f4, 0x3eb330ff, 0x3e9dc3bb,
    0x3df56f77, 0x3f9e6b93, 0x3f8ef28e, 0xbe7d367c, 0xbfad23c2, 0xbfd91446,
    0x3f111004, 0x3e7e6070, 0x3ee11fd0, 0x3de637d6, 0x3f240af8, 0x3ee1df3c,
    0xbe5d0b42, 0xbf3e17a3, 0x3f100e82, 0x3d571217, 0x3f05da2f, 0x40135755,
    0xbfbc04b7, 0xbfcb189e, 0x3f9a033c, 0x3dad2087, 0xbf999e2b,
};
static const uint32_t SEED0_10X4[40] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d, 0x3f594515, 0x3f312783,
    0xbea1cc6d, 0xc0075fc1, 0x3ea50138, 0xbfa1b4f4, 0x3eb330ff, 0x3e9dc3bb,
    0x3df56f77, 0x3f9e6b93, 0x3f8ef28e, 0xbe7d367c, 0xbfad23c2, 0xbfd91446,
    0x3f111004, 0x3f4b235d, 0x3f194d8b, 0xbfc70d5b, 0xbeaec6ca, 0x3fed2f4e,
    0xbe5d0b42, 0xbf3e17a3, 0x3f100e82, 0x3e84ede2, 0xbe3222d5, 0xbf2dc250,
    0x3f7031db, 0x3efa4d25, 0x3f9a033c, 0x3dad2087, 0xbf999e2b, 0xbb9cd1ae,
    0xbf04a08d, 0xbe9d0855, 0xbfca5e02, 0x3fda734a,
};
static const uint32_t SEED0_1000X64_ENDS[8] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d, 0x3f8a923f, 0x3ef9d8f4,
    0x3fb9a252, 0x400a0254,
};
static const uint32_t NEXT_UNIFORM_AFTER[6] = {
    0x3ee94812, 0x3e3421cc, 0x3f329a58, 0x3f7f3fc1, 0x3f17da1f, 0x3f3e1aa8,
};
static const uint32_t SEED0_NORMAL_MEAN05_STD15_N3[3] = {
    0x4033ef85, 0x3d752c3d, 0xc03129ee,
};
static const uint32_t SEED0_NORMAL_MEAN05_STD15_N20[20] = {
    0xbf982948, 0xbf9d40cf, 0x3dfe38fc, 0xbe1a7017, 0x3fb2fa28, 0xbfea9408,
    0xbc4545e0, 0x4051e37a, 0x3f99dfe0, 0x3e86e079, 0x402a9764, 0x3f6629b9,
    0x40256110, 0x403849c0, 0x3ff5b075, 0xbf43f8cc, 0x3ff2e924, 0x4018dd69,
    0x40607a67, 0x3f14a28d,
};
static const uint64_t DIGESTS[3] = {0xe8a545f32f0122c4, 0x80af174c233bdcc0, 0x6ce44610401f70ba};
static const uint32_t SCALAR_SEED0_4X4[16] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255e, 0x3f594515, 0x3f312784,
    0xbea1cc6d, 0xc0075fc2, 0x3ea50138, 0xbfa1b4f4, 0x3eb330ff, 0x3e9dc3ba,
    0x3df56f77, 0x3f9e6b93, 0x3f8ef28e, 0xbe7d365a,
};
static const uint32_t SCALAR_SEED0_10X4[40] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255e, 0x3f594515, 0x3f312784,
    0xbea1cc6d, 0xc0075fc2, 0x3ea50138, 0xbfa1b4f4, 0x3eb330ff, 0x3e9dc3ba,
    0x3df56f77, 0x3f9e6b93, 0x3f8ef28e, 0xbe7d365a, 0xbfad23c2, 0xbfd91447,
    0x3f111002, 0x3f4b235e, 0x3f194d8b, 0xbfc70d5b, 0xbeaec6c7, 0x3fed2f4e,
    0xbe5d0b3a, 0xbf3e17a3, 0x3f100e79, 0x3e84ede2, 0xbe3222d5, 0xbf2dc252,
    0x3f7031dd, 0x3efa4d2b, 0x3f9a033d, 0x3dad209f, 0xbf999e2c, 0xbb9cd2b7,
    0xbf04a08d, 0xbe9d0850, 0xbfca5e02, 0x3fda734a,
};
static const uint32_t SCALAR_SEED0_1000X64_ENDS[8] = {
    0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255e, 0x3f8a9240, 0x3ef9d8f4,
    0x3fb9a251, 0x400a0254,
};
static const uint64_t SCALAR_DIGESTS[3] = {0x57dcd715a6f93362, 0x6bee93e362b6dac2, 0xcb7ae3fc2828a60d};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// The bits of the float f.
static uint32_t bits_of(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

// The bits of the double d.
static uint64_t bits_of_double(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

// Asserts got (n,) has exactly the bit patterns want (n,).
static void assert_bits(const char *what, const float *got, const uint32_t *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(bits_of(got[i]) == want[i],
                      "%s[%" PRId64 "]: got 0x%08" PRIx32 " (%.9g), want 0x%08" PRIx32,
                      what, i, bits_of(got[i]), (double)got[i], want[i]);
    }
}

// Folds x (n,) into the FNV-1a 64 hash h, one float's bit pattern per step,
// as fnv1a() in gen_expected.py does.
static uint64_t fnv1a_update(uint64_t h, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        h = (h ^ bits_of(x[i])) * UINT64_C(0x100000001b3);
    }
    return h;
}

#define FNV1A_INIT UINT64_C(0xcbf29ce484222325)

// Allocates a (V, D) table; the caller frees it.
static float *new_table(int64_t V, int64_t D) {
    float *w = malloc((size_t)(V * D) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    return w;
}

// nn.Embedding(V, D).weight from gen's current position, on a chosen path.
// w is (V, D).
static void fill_table(TorchGenerator *gen, float *w, int64_t V, int64_t D, RngNormalPath path) {
    rng_normal_path_(gen, w, V * D, 0.0f, 1.0f, path);
}

// torch.manual_seed(seed); nn.Embedding(V, D).weight, compared with want.
static void check_table(const char *what, uint64_t seed, int64_t V, int64_t D,
                        RngNormalPath path, const uint32_t *want) {
    TorchGenerator gen;
    rng_manual_seed(&gen, seed);
    float *w = new_table(V, D);
    fill_table(&gen, w, V, D, path);
    assert_bits(what, w, want, V * D);
    free(w);
}

// The same for a big table: only its first 4 and last 4 values. want is (8,).
static void check_table_ends(const char *what, uint64_t seed, int64_t V, int64_t D,
                             RngNormalPath path, const uint32_t *want) {
    TorchGenerator gen;
    rng_manual_seed(&gen, seed);
    float *w = new_table(V, D);
    fill_table(&gen, w, V, D, path);
    assert_bits(what, w, want, 4);
    assert_bits(what, w + V * D - 4, want + 4, 4);  // seek to the last 4
    free(w);
}

// Hash of torch.manual_seed(0); nn.Embedding(V, D).weight on a path.
static uint64_t table_digest(int64_t V, int64_t D, RngNormalPath path) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float *w = new_table(V, D);
    fill_table(&gen, w, V, D, path);
    uint64_t h = fnv1a_update(FNV1A_INIT, w, V * D);
    free(w);
    return h;
}

// Hash of normal_(mean, std) for seeds 0..9 x n = 1..40, each freshly
// seeded: every small size, and every tail length from 0 to 15.
static uint64_t every_n_digest(float mean, float std, RngNormalPath path) {
    uint64_t h = FNV1A_INIT;
    float x[40];
    for (uint64_t seed = 0; seed < 10; seed++) {
        for (int64_t n = 1; n <= 40; n++) {
            TorchGenerator gen;
            rng_manual_seed(&gen, seed);
            rng_normal_path_(&gen, x, n, mean, std, path);
            h = fnv1a_update(h, x, n);
        }
    }
    return h;
}

// ---------------------------------------------------------------------------
// The engine and uniforms
// ---------------------------------------------------------------------------

START_TEST(test_mt19937_seed0) {
    // draws 0..3, then 624..627 (the second twist)
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    uint32_t draw[628];
    for (int i = 0; i < 628; i++) draw[i] = rng_random(&gen);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(draw[i], MT_SEED0[i]);
        ck_assert_uint_eq(draw[624 + i], MT_SEED0[4 + i]);
    }
}
END_TEST

START_TEST(test_random64_is_first_draw_then_second) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    const uint64_t low62 = (UINT64_C(1) << 62) - 1;
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(rng_random64(&gen) & low62, RANDOM64_SEED0_LOW62[i]);
    }
}
END_TEST

START_TEST(test_uniform_float_matches_torch_rand) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float u[4];
    for (int i = 0; i < 4; i++) u[i] = rng_uniform_float(&gen);
    assert_bits("torch.rand(4)", u, UNIFORM_FLOAT_SEED0, 4);
}
END_TEST

START_TEST(test_uniform_double_matches_torch_rand) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(bits_of_double(rng_uniform_double(&gen)), UNIFORM_DOUBLE_SEED0[i]);
    }
}
END_TEST

START_TEST(test_seed_uses_only_low_32_bits) {
    // torch gives seed 2^32 the same tables as seed 0 (asserted by the script)
    check_table("seed 2^32, (5,3)", UINT64_C(1) << 32, 5, 3, RNG_PATH_AVX2, SEED0_5X3);
    check_table("seed 2^32, (4,4)", UINT64_C(1) << 32, 4, 4, RNG_PATH_AVX2, SEED0_4X4);
}
END_TEST

// ---------------------------------------------------------------------------
// Fewer than 16 values: double Box-Muller with a cache
// ---------------------------------------------------------------------------

START_TEST(test_small_3x1) {
    check_table("(3,1)", 0, 3, 1, RNG_PATH_AVX2, SEED0_3X1);
}
END_TEST

START_TEST(test_small_5x3) {
    check_table("(5,3)", 0, 5, 3, RNG_PATH_AVX2, SEED0_5X3);
}
END_TEST

START_TEST(test_small_1x1) {
    check_table("(1,1)", 0, 1, 1, RNG_PATH_AVX2, SEED0_1X1);
}
END_TEST

START_TEST(test_cached_sample_survives_across_tables) {
    // (5,3) is 8 pairs; its last sine waits in the generator and becomes
    // the (1,1) table; the (2,1) after it is a fresh pair
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float w53[15], w11[1], w21[2];
    fill_table(&gen, w53, 5, 3, RNG_PATH_AVX2);
    ck_assert(gen.has_cached_normal);
    fill_table(&gen, w11, 1, 1, RNG_PATH_AVX2);
    ck_assert(!gen.has_cached_normal);
    fill_table(&gen, w21, 2, 1, RNG_PATH_AVX2);
    assert_bits("(1,1) after (5,3)", w11, SEED0_5X3_THEN_1X1_THEN_2X1, 1);
    assert_bits("(2,1) after that", w21, SEED0_5X3_THEN_1X1_THEN_2X1 + 1, 2);
    ck_assert_float_eq(w11[0], 0.1227012425661087f);
}
END_TEST

START_TEST(test_manual_seed_clears_the_cache) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float w53[15], w11[1];
    fill_table(&gen, w53, 5, 3, RNG_PATH_AVX2);
    rng_manual_seed(&gen, 0);
    ck_assert(!gen.has_cached_normal);
    fill_table(&gen, w11, 1, 1, RNG_PATH_AVX2);
    assert_bits("(1,1) after reseeding", w11, SEED0_1X1, 1);
}
END_TEST

START_TEST(test_small_mean_std) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float x[3];
    rng_normal_(&gen, x, 3, 0.5f, 1.5f);
    assert_bits("normal_(0.5, 1.5), n=3", x, SEED0_NORMAL_MEAN05_STD15_N3, 3);
}
END_TEST

// ---------------------------------------------------------------------------
// 16 or more values: blocks of 16 and the tail rule (AVX2 kernel)
// ---------------------------------------------------------------------------

START_TEST(test_exactly_16) {
    check_table("(4,4)", 0, 4, 4, RNG_PATH_AVX2, SEED0_4X4);
}
END_TEST

START_TEST(test_multiple_of_16) {
    check_table("seed 1, (2,16)", 1, 2, 16, RNG_PATH_AVX2, SEED1_2X16);
}
END_TEST

START_TEST(test_tail_35) {
    check_table("(5,7)", 0, 5, 7, RNG_PATH_AVX2, SEED0_5X7);
}
END_TEST

START_TEST(test_tail_40) {
    check_table("(10,4)", 0, 10, 4, RNG_PATH_AVX2, SEED0_10X4);
}
END_TEST

START_TEST(test_tail_overwrites_finished_values) {
    // n=35 and n=32 draw the same first 32 uniforms, so they agree on the
    // two full blocks except where n=35's tail (slots 19..34) overwrote them
    TorchGenerator gen;
    float x32[32], x35[35];
    rng_manual_seed(&gen, 0);
    rng_normal_(&gen, x32, 32, 0.0f, 1.0f);
    rng_manual_seed(&gen, 0);
    rng_normal_(&gen, x35, 35, 0.0f, 1.0f);
    ck_assert_mem_eq(x35, x32, 19 * sizeof(float));
    int overwritten = 0;
    for (int i = 19; i < 32; i++) overwritten += bits_of(x35[i]) != bits_of(x32[i]);
    ck_assert_int_eq(overwritten, 13);
    // and it consumed 35 + 16 words: the next draw is the stream's 52nd
    TorchGenerator fresh;
    rng_manual_seed(&fresh, 0);
    for (int i = 0; i < 51; i++) rng_random(&fresh);
    ck_assert_uint_eq(rng_random(&gen), rng_random(&fresh));
}
END_TEST

START_TEST(test_large_1000x64) {
    check_table_ends("(1000,64)", 0, 1000, 64, RNG_PATH_AVX2, SEED0_1000X64_ENDS);
}
END_TEST

START_TEST(test_digest_1000x64) {
    // all 64,000 values, not just the ends
    ck_assert_uint_eq(table_digest(1000, 64, RNG_PATH_AVX2), DIGESTS[0]);
}
END_TEST

START_TEST(test_digest_every_n) {
    ck_assert_uint_eq(every_n_digest(0.0f, 1.0f, RNG_PATH_AVX2), DIGESTS[1]);
    ck_assert_uint_eq(every_n_digest(0.5f, 1.5f, RNG_PATH_AVX2), DIGESTS[2]);
}
END_TEST

START_TEST(test_large_mean_std) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float x[20];
    rng_normal_(&gen, x, 20, 0.5f, 1.5f);
    assert_bits("normal_(0.5, 1.5), n=20", x, SEED0_NORMAL_MEAN05_STD15_N20, 20);
}
END_TEST

START_TEST(test_stream_position_after_init) {
    // the torch.rand(1) that follows each table: checks the words consumed
    // (n < 16: 4 per pair; n >= 16: n, plus 16 if n % 16 != 0)
    const int64_t shape[6][2] = {{3, 1}, {5, 3}, {4, 4}, {5, 7}, {10, 4}, {1000, 64}};
    for (int k = 0; k < 6; k++) {
        TorchGenerator gen;
        rng_manual_seed(&gen, 0);
        float *w = new_table(shape[k][0], shape[k][1]);
        fill_table(&gen, w, shape[k][0], shape[k][1], RNG_PATH_AVX2);
        float next = rng_uniform_float(&gen);
        assert_bits("torch.rand(1) after the table", &next, NEXT_UNIFORM_AFTER + k, 1);
        free(w);
    }
}
END_TEST

// ---------------------------------------------------------------------------
// The scalar kernel (ATEN_CPU_CAPABILITY=default)
// ---------------------------------------------------------------------------

START_TEST(test_scalar_4x4) {
    check_table("scalar (4,4)", 0, 4, 4, RNG_PATH_SCALAR, SCALAR_SEED0_4X4);
}
END_TEST

START_TEST(test_scalar_10x4) {
    check_table("scalar (10,4)", 0, 10, 4, RNG_PATH_SCALAR, SCALAR_SEED0_10X4);
}
END_TEST

START_TEST(test_scalar_1000x64) {
    check_table_ends("scalar (1000,64)", 0, 1000, 64, RNG_PATH_SCALAR,
                     SCALAR_SEED0_1000X64_ENDS);
}
END_TEST

START_TEST(test_scalar_digests) {
    ck_assert_uint_eq(table_digest(1000, 64, RNG_PATH_SCALAR), SCALAR_DIGESTS[0]);
    ck_assert_uint_eq(every_n_digest(0.0f, 1.0f, RNG_PATH_SCALAR), SCALAR_DIGESTS[1]);
    ck_assert_uint_eq(every_n_digest(0.5f, 1.5f, RNG_PATH_SCALAR), SCALAR_DIGESTS[2]);
}
END_TEST

START_TEST(test_paths_differ) {
    // same uniforms, different float math: the tables differ in a few ulps
    int differ = 0;
    for (int i = 0; i < 16; i++) differ += SEED0_4X4[i] != SCALAR_SEED0_4X4[i];
    ck_assert_int_gt(differ, 0);
    ck_assert_int_lt(differ, 16);
}
END_TEST

// ---------------------------------------------------------------------------
// Edge cases
// ---------------------------------------------------------------------------

START_TEST(test_nonpositive_n_does_nothing) {
    TorchGenerator gen, fresh;
    rng_manual_seed(&gen, 0);
    rng_manual_seed(&fresh, 0);
    float x[1] = {42.0f};
    rng_normal_(&gen, x, 0, 0.0f, 1.0f);
    rng_normal_(&gen, x, -5, 0.0f, 1.0f);
    ck_assert_float_eq(x[0], 42.0f);
    ck_assert_mem_eq(gen.state, fresh.state, sizeof gen.state);
    ck_assert_int_eq(gen.left, fresh.left);
    ck_assert_int_eq(gen.next, fresh.next);
    ck_assert(!gen.has_cached_normal);
}
END_TEST

// ---------------------------------------------------------------------------
// The fast kernel against the reference
// ---------------------------------------------------------------------------

// Fills n values from a generator that has already drawn `skip` words (so
// runs start anywhere in the 624-word state), once with each kernel, and
// asserts the same bits, the same generator state afterwards, and the same
// next draw. Returns 1 if they differ, so loops can assert once.
static int kernels_differ(uint64_t seed, int skip, int64_t n, float mean, float std,
                          RngNormalPath path, char *why, size_t why_size) {
    TorchGenerator fast, ref;
    rng_manual_seed(&fast, seed);
    for (int i = 0; i < skip; i++) rng_random(&fast);
    ref = fast;
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    ck_assert(a != NULL && b != NULL);
    rng_normal_kernel_(&fast, a, n, mean, std, path, RNG_KERNEL_FAST);
    rng_normal_kernel_(&ref, b, n, mean, std, path, RNG_KERNEL_REFERENCE);
    int64_t first = -1;
    for (int64_t i = 0; i < n && first < 0; i++) {
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) first = i;
    }
    int differ = first >= 0 || fast.left != ref.left || fast.next != ref.next ||
                 memcmp(fast.state, ref.state, sizeof fast.state) != 0 ||
                 rng_random(&fast) != rng_random(&ref);
    if (differ) {
        snprintf(why, why_size, "seed %llu, skip %d, n %lld, path %d: first differing value %lld",
                 (unsigned long long)seed, skip, (long long)n, (int)path, (long long)first);
    }
    free(a);
    free(b);
    return differ;
}

// Every n from 16 to 300 (every tail length, several chunk-free sizes),
// from several positions in the MT state, on both paths.
START_TEST(test_fast_kernel_small_sizes) {
    char why[160] = "";
    int differ = 0;
    const int skips[] = {0, 1, 7, 300, 623};
    for (int p = 0; p < 2 && !differ; p++) {
        for (int k = 0; k < 5 && !differ; k++) {
            for (int64_t n = 16; n <= 300 && !differ; n++) {
                differ = kernels_differ((uint64_t)n, skips[k], n, 0.0f, 1.0f,
                                        (RngNormalPath)p, why, sizeof why);
            }
        }
    }
    ck_assert_msg(!differ, "%s", why);
}
END_TEST

// Sizes around the kernel's chunks of 4096 and its lanes of 8 and 16,
// several twists of the MT state, a mean and a std.
START_TEST(test_fast_kernel_large_sizes) {
    const int64_t sizes[] = {4095, 4096, 4097, 4104, 4111, 8191, 8192, 8200, 12289,
                             65536 + 8, 100003, 1000 * 64, 250007};
    char why[160] = "";
    int differ = 0;
    for (int p = 0; p < 2 && !differ; p++) {
        for (int i = 0; i < (int)(sizeof sizes / sizeof sizes[0]) && !differ; i++) {
            differ = kernels_differ((uint64_t)i, i * 37 % 624, sizes[i], 0.5f, 1.5f,
                                    (RngNormalPath)p, why, sizeof why);
        }
    }
    ck_assert_msg(!differ, "%s", why);
}
END_TEST

// Calls that follow each other (small, blocked, small again) leave the
// generator and its cached sample in the same state on both kernels.
START_TEST(test_fast_kernel_sequences) {
    const int64_t ns[] = {3, 5000, 1, 17, 4096, 2, 33};
    TorchGenerator fast, ref;
    rng_manual_seed(&fast, 5);
    rng_manual_seed(&ref, 5);
    float a[5000], b[5000];
    int64_t bad = -1;
    for (int i = 0; i < 7 && bad < 0; i++) {
        rng_normal_kernel_(&fast, a, ns[i], 0.0f, 1.0f, RNG_PATH_AVX2, RNG_KERNEL_FAST);
        rng_normal_kernel_(&ref, b, ns[i], 0.0f, 1.0f, RNG_PATH_AVX2, RNG_KERNEL_REFERENCE);
        if (memcmp(a, b, (size_t)ns[i] * sizeof a[0]) != 0) bad = i;
    }
    ck_assert_msg(bad < 0, "call %lld (n = %lld) differs", (long long)bad,
                  (long long)(bad < 0 ? 0 : ns[bad]));
    ck_assert_int_eq(fast.has_cached_normal, ref.has_cached_normal);
    ck_assert_uint_eq(rng_random(&fast), rng_random(&ref));
}
END_TEST

// ---------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------

// Every test, grouped as the module is layered.
static Suite *rng_suite(void) {
    Suite *s = suite_create("torch_rng");

    TCase *engine = tcase_create("engine and uniforms");
    tcase_add_test(engine, test_mt19937_seed0);
    tcase_add_test(engine, test_random64_is_first_draw_then_second);
    tcase_add_test(engine, test_uniform_float_matches_torch_rand);
    tcase_add_test(engine, test_uniform_double_matches_torch_rand);
    tcase_add_test(engine, test_seed_uses_only_low_32_bits);
    suite_add_tcase(s, engine);

    TCase *small = tcase_create("fewer than 16 values");
    tcase_add_test(small, test_small_3x1);
    tcase_add_test(small, test_small_5x3);
    tcase_add_test(small, test_small_1x1);
    tcase_add_test(small, test_cached_sample_survives_across_tables);
    tcase_add_test(small, test_manual_seed_clears_the_cache);
    tcase_add_test(small, test_small_mean_std);
    suite_add_tcase(s, small);

    TCase *blocked = tcase_create("16 or more values, AVX2");
    tcase_add_test(blocked, test_exactly_16);
    tcase_add_test(blocked, test_multiple_of_16);
    tcase_add_test(blocked, test_tail_35);
    tcase_add_test(blocked, test_tail_40);
    tcase_add_test(blocked, test_tail_overwrites_finished_values);
    tcase_add_test(blocked, test_large_1000x64);
    tcase_add_test(blocked, test_digest_1000x64);
    tcase_add_test(blocked, test_digest_every_n);
    tcase_add_test(blocked, test_large_mean_std);
    tcase_add_test(blocked, test_stream_position_after_init);
    suite_add_tcase(s, blocked);

    TCase *scalar = tcase_create("16 or more values, scalar");
    tcase_add_test(scalar, test_scalar_4x4);
    tcase_add_test(scalar, test_scalar_10x4);
    tcase_add_test(scalar, test_scalar_1000x64);
    tcase_add_test(scalar, test_scalar_digests);
    tcase_add_test(scalar, test_paths_differ);
    suite_add_tcase(s, scalar);

    TCase *fast = tcase_create("fast kernel = reference kernel");
    tcase_set_timeout(fast, 60);
    tcase_add_test(fast, test_fast_kernel_small_sizes);
    tcase_add_test(fast, test_fast_kernel_large_sizes);
    tcase_add_test(fast, test_fast_kernel_sequences);
    suite_add_tcase(s, fast);

    TCase *edges = tcase_create("edge cases");
    tcase_add_test(edges, test_nonpositive_n_does_nothing);
    suite_add_tcase(s, edges);
    return s;
}

// Runs the suite in fork mode (Check's default; CK_FORK=no turns it off for
// a debugger) and fails if any test failed or none ran.
int main(void) {
    SRunner *sr = srunner_create(rng_suite());
    srunner_run_all(sr, CK_ENV);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return (run > 0 && failed == 0) ? EXIT_SUCCESS : EXIT_FAILURE;
}
