/*
 * test_ch06.c - chapter 6: sparse gradients, sparse optimizers, memory,
 * skew and the memory-bound techniques.
 *
 * The conformance file sparse.ref checks the same functions against torch
 * 1.13 through whole training runs, weights bit for bit; the vectors below
 * (coalesce's order and sums) were written by torch 1.13, and so were those
 * in ch06_vectors.h (tests/reference/ch06_vectors.py). Every claim of the
 * chapter's prose is one test below.
 */
#include <math.h>
#include <sys/stat.h>

#include "testutil.h"
#include "../chapters/06-sparse-efficiency.h"
#include "ch06_vectors.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// A table of V x D zeros plus k (row-major index) / 16, no options.
static Embedding table(float *w, int64_t V, int64_t D) {
    for (int64_t k = 0; k < V * D; k++) w[k] = (float)k / 16.0f;
    return (Embedding){.num_embeddings = V, .embedding_dim = D, .weight = w,
                       .requires_grad = true, .padding_idx = EMB_NO_PADDING,
                       .norm_type = 2.0};
}

/* ------------------------------------------------------------ the gradient */

START_TEST(backward_keeps_entries_in_order_and_drops_padding) {
    float w[5 * 2], G[6 * 2];
    for (int k = 0; k < 12; k++) G[k] = (float)(k + 1);
    Embedding e = table(w, 5, 2);
    e.padding_idx = 2;
    SparseGrad g;
    ck_assert_int_eq(sparse_grad_init(&g, 5, 2, NULL), 0);
    const int64_t idx[6] = {1, 2, 2, 0, 4, 1};
    ck_assert_int_eq(emb_backward_sparse(&e, &g, idx, 6, G, NULL), 0);
    const int64_t want[4] = {1, 0, 4, 1};  // padding positions 1 and 2 dropped
    ck_assert_int_eq(g.nnz, 4);
    ck_assert(!g.coalesced);  // uncoalesced, repeats kept
    for (int k = 0; k < 4; k++) ck_assert_int_eq(g.indices[k], want[k]);
    const int pos[4] = {0, 3, 4, 5};
    for (int k = 0; k < 4; k++)
        for (int d = 0; d < 2; d++)
            ck_assert_float_eq(g.values[k * 2 + d], G[pos[k] * 2 + d]);
    sparse_grad_zero(&g);  // an all-padding batch: no entries
    const int64_t pads[3] = {2, 2, 2};
    ck_assert_int_eq(emb_backward_sparse(&e, &g, pads, 3, G, NULL), 0);
    ck_assert_int_eq(g.nnz, 0);
    ck_assert(g.coalesced);
    sparse_grad_zero(&g);  // one entry left: torch 1.13 marks it coalesced
    const int64_t one[3] = {2, 3, 2};
    ck_assert_int_eq(emb_backward_sparse(&e, &g, one, 3, G, NULL), 0);
    ck_assert_int_eq(g.nnz, 1);
    ck_assert(g.coalesced);
    sparse_grad_free(&g);
}
END_TEST

START_TEST(backward_refuses_what_pytorch_refuses) {
    float w[4 * 2], G[2 * 2] = {1, 2, 3, 4};
    Embedding e = table(w, 4, 2);
    SparseGrad g;
    EmbError err;
    sparse_grad_init(&g, 4, 2, NULL);
    e.scale_grad_by_freq = true;
    const int64_t idx[2] = {0, 1}, bad[2] = {0, 4};
    ck_assert_int_eq(emb_backward_sparse(&e, &g, idx, 2, G, &err), -1);
    ck_assert_str_eq(
        err.msg,
        "embedding_backward: scale_grad_by_freq not supported with sparse gradients");
    e.scale_grad_by_freq = false;
    ck_assert_int_eq(emb_backward_sparse(&e, &g, bad, 2, G, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 4, num_embeddings 4");
    e.requires_grad = false;  // frozen: no gradient
    ck_assert_int_eq(emb_backward_sparse(&e, &g, idx, 2, G, NULL), 0);
    ck_assert_int_eq(g.nnz, 0);
    ck_assert_int_eq(sparse_grad_init(&g, 0, 2, &err), -1);
    sparse_grad_free(&g);
}
END_TEST

START_TEST(backward_passes_accumulate_as_pytorchs_sparse_add) {
    float w[4 * 1], G1[2] = {1, 2}, G2[2] = {10, 20};
    Embedding e = table(w, 4, 1);
    SparseGrad g;
    sparse_grad_init(&g, 4, 1, NULL);
    const int64_t a[2] = {1, 2}, b[2] = {0, 3};
    emb_backward_sparse(&e, &g, a, 2, G1, NULL);
    emb_backward_sparse(&e, &g, b, 2, G2, NULL);
    // the merge: 0 < 1 first, then 1, 2, then 3
    const int64_t want[4] = {0, 1, 2, 3};
    const float vals[4] = {10, 1, 2, 20};
    ck_assert_int_eq(g.nnz, 4);
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(g.indices[k], want[k]);
        ck_assert_float_eq(g.values[k], vals[k]);
    }
    sparse_grad_zero(&g);  // equal rows met at the same moment are added into one entry
    const int64_t c[1] = {2}, d[2] = {2, 0};
    emb_backward_sparse(&e, &g, c, 1, G1, NULL);
    emb_backward_sparse(&e, &g, d, 2, G2, NULL);
    ck_assert_int_eq(g.nnz, 2);
    ck_assert_int_eq(g.indices[0], 2);
    ck_assert_float_eq(g.values[0], 11);
    ck_assert_int_eq(g.indices[1], 0);
    ck_assert_float_eq(g.values[1], 20);
    sparse_grad_free(&g);
}
END_TEST

START_TEST(sparse_and_dense_gradients_are_the_same_linear_map) {
    enum { V = 7, D = 3, N = 30 };
    float w[V * D], G[N * D], dense[V * D] = {0}, from_sparse[V * D] = {0};
    int64_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = (i * 5 + i / 3) % V;
    for (int k = 0; k < N * D; k++) G[k] = (float)((k * 7) % 11) - 5.0f;  // exact sums
    Embedding e = table(w, V, D);
    e.grad = dense;
    SparseGrad g;
    sparse_grad_init(&g, V, D, NULL);
    ck_assert_int_eq(emb_backward(&e, idx, N, G, NULL), 0);
    ck_assert_int_eq(emb_backward_sparse(&e, &g, idx, N, G, NULL), 0);
    sparse_add_to_dense(&g, from_sparse);
    for (int k = 0; k < V * D; k++) ck_assert_float_eq(from_sparse[k], dense[k]);
    ck_assert_int_eq(sparse_grad_bytes(N, D), N * (8 + 4 * D));
    ck_assert_int_eq(sparse_grad_bytes(INT64_MAX / 8, 64), -1);
    sparse_grad_free(&g);
}
END_TEST

/* ------------------------------------------------------------ coalescing */

// torch 1.13: keys.sort() and sparse_coo_tensor(keys, vals).coalesce(), seed 6.
static const int64_t SORT_KEYS[40] = {2, 3, 3, 2, 4, 3, 5, 0, 4, 0, 5, 1, 1, 5,
                                      1, 2, 3, 5, 4, 4, 0, 3, 2, 2, 4, 4, 5, 3,
                                      2, 3, 3, 4, 1, 3, 2, 2, 5, 5, 5, 5};
static const int64_t SORT_PERM[40] = {20, 7, 9, 14, 32, 12, 11, 0, 22, 23, 15, 28, 34, 3,
                                      35, 29, 30, 33, 27, 21, 1, 2, 5, 16, 18, 4, 31, 8,
                                      25, 24, 19, 13, 10, 26, 6, 17, 36, 37, 38, 39};
static const uint32_t SORT_VALS[120] = {
    0xc0160e44, 0xbe767e81, 0xc0290ca6, 0xbfe93a23, 0x3f667cb5, 0xbe4b4dd2, 0x3f29f957,
    0x3f7bb48f, 0xbf110333, 0x3f93e5d7, 0x3eac44f8, 0x3f2be7dc, 0xbe85f59f, 0xbf8262c1,
    0x3f81bfaa, 0x3fc7fab6, 0xbf2c653a, 0xbf9a625e, 0x3f43bc91, 0xbf448ce9, 0xbf49d5eb,
    0xbf859a0d, 0xbf494dca, 0x3d80c551, 0x3e8f9528, 0xbfa083d4, 0xbf7ba50e, 0x3f06b376,
    0x3f9378a1, 0x3fc4a57c, 0xbf6a49d8, 0x3fc5b4d3, 0x3fffe8eb, 0xbfa2b951, 0xbe6fbc30,
    0x3dadaa41, 0x400fe11b, 0x3df11cb9, 0xbd4ed61b, 0xbfe801aa, 0x3fcb0844, 0x3f910dfc,
    0x3e8d2046, 0x3f646c48, 0xbf05fd86, 0xbf5f39fa, 0x3e820404, 0x3ea2785a, 0x3f62f249,
    0xbc5bc1c3, 0xbf5ed103, 0x3e89db26, 0x3e78a276, 0xbcafebb7, 0xbe72dc94, 0xbfe4d6ea,
    0xbdbd47dd, 0x3f78a2f1, 0x3fa2c4f1, 0x3f857035, 0xbfbab71a, 0xbf860f4f, 0xbed67576,
    0x402a193d, 0xbf8433a0, 0xbf21dee0, 0x3de866b5, 0xbffa00aa, 0x3f90b928, 0xbe142c29,
    0xbed46643, 0xbf85e3af, 0x3f24806a, 0x3fe06a70, 0xbfb673e8, 0x3fec629e, 0x3f8c3414,
    0x3f04ddaf, 0x3e157833, 0x3fbb7fd2, 0xbf0aee7c, 0xbf717dcc, 0x40258b8c, 0xbf7032bf,
    0xbf3ca66e, 0x3d22c2a3, 0x3f3b7fbb, 0xbf5c2bb7, 0x3fa5f5ad, 0xbe0357c1, 0xc0140c08,
    0x3f9a14b4, 0x3e2d2553, 0x3f3504fa, 0xbec76393, 0xbfcb4dc3, 0x3f7e5f17, 0xbeb32906,
    0xbf74f1b4, 0x3fdae7e2, 0xbcd172ae, 0x3eabc77d, 0xbf1d840b, 0xbdcf7acf, 0xbecae473,
    0xbdf1d3be, 0xbf6db4de, 0x3eac400f, 0x3f849620, 0x3f66a8e1, 0x3f92402c, 0x3eb3db1e,
    0x3f741932, 0x3e4a352b, 0x3f771096, 0x3f9a7b6d, 0xbe7e8d30, 0xbe421a25, 0x400c03c4,
    0x3f5d2c0c};
static const uint32_t SORT_SUMS[18] = {
    0xbffcf76d, 0xbf2e7b26, 0x3f971474, 0x400fc042, 0x3eda18a0, 0xbfb913aa,
    0xc06402a0, 0xc04089e8, 0xbf653616, 0x3fc563ed, 0x40a735a5, 0xc08124dc,
    0x407cc18c, 0xbea8cbbc, 0xbfc1c9f9, 0x3f1d5ee0, 0x41151dd8, 0x406f101b};

START_TEST(sort_order_is_std_sorts) {
    int64_t perm[40];
    ck_assert_int_eq(sparse_sort_order(SORT_KEYS, 40, perm, NULL), 0);
    for (int k = 0; k < 40; k++) ck_assert_int_eq(perm[k], SORT_PERM[k]);
    // 16 entries or fewer: an insertion sort, so equal keys keep their order
    const int64_t small[6] = {3, 1, 3, 0, 1, 3};
    const int64_t want[6] = {3, 1, 4, 0, 2, 5};
    ck_assert_int_eq(sparse_sort_order(small, 6, perm, NULL), 0);
    for (int k = 0; k < 6; k++) ck_assert_int_eq(perm[k], want[k]);
    // many equal keys, and a sorted, a reversed and a sawtooth input of 1000
    int64_t keys[1000], p[1000];
    for (int pattern = 0; pattern < 4; pattern++) {
        for (int k = 0; k < 1000; k++)
            keys[k] = pattern == 0   ? 7
                      : pattern == 1 ? k
                      : pattern == 2 ? 1000 - k
                                     : k % 17;
        ck_assert_int_eq(sparse_sort_order(keys, 1000, p, NULL), 0);
        bool *used = calloc(1000, 1);
        for (int k = 0; k < 1000; k++) {
            ck_assert(!used[p[k]]);
            used[p[k]] = true;
            if (k) ck_assert(keys[p[k - 1]] <= keys[p[k]]);
        }
        free(used);
    }
}
END_TEST

// xorshift64: the tests' own stream of pseudo-random numbers.
static uint64_t next_random(uint64_t *state) {
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return *state;
}

// Asserts that sparse_sort_order and the plain emulation give the same permutation.
static void assert_same_order(const int64_t *keys, int64_t n, const char *what) {
    int64_t *fast = malloc((size_t)(n + 1) * sizeof *fast);
    int64_t *plain = malloc((size_t)(n + 1) * sizeof *plain);
    ck_assert_int_eq(sparse_sort_order(keys, n, fast, NULL), 0);
    ck_assert_int_eq(sparse_sort_order_plain(keys, n, plain, NULL), 0);
    for (int64_t k = 0; k < n; k++)
        ck_assert_msg(fast[k] == plain[k], "%s, n %lld: entry %lld is %lld, plainly %lld",
                      what, (long long)n, (long long)k, (long long)fast[k],
                      (long long)plain[k]);
    free(fast), free(plain);
}

// Keys of one shape: pattern 0 random in [low, low + range), 1 sorted, 2 reversed,
// 3 organ pipe, 4 sawtooth of period range, 5 sorted with a few random swaps.
static void shaped_keys(int64_t *keys, int64_t n, int pattern, int64_t low, int64_t range,
                        uint64_t *state) {
    for (int64_t k = 0; k < n; k++) {
        int64_t r = (int64_t)(next_random(state) % (uint64_t)range);
        keys[k] = low + (pattern == 0   ? r
                         : pattern == 1 ? k
                         : pattern == 2 ? n - k
                         : pattern == 3 ? (k < n / 2 ? k : n - k)
                         : pattern == 4 ? k % range
                                        : k);
    }
    for (int64_t k = 0; pattern == 5 && k < n / 20 + 1; k++) {
        int64_t a = (int64_t)(next_random(state) % (uint64_t)n);
        int64_t b = (int64_t)(next_random(state) % (uint64_t)n), t = keys[a];
        keys[a] = keys[b], keys[b] = t;
    }
}

START_TEST(fast_sort_order_is_the_plain_one) {
    const int64_t sizes[] = {2,   3,   15,  16,  17,  18,   31,   32,   33,  63,  64, 65,
                             127, 128, 129, 130, 191, 256, 257, 1000, 4095, 4096, 5000};
    const int64_t ranges[] = {1, 2, 3, 10, 1000, 1000000, (int64_t)1 << 40};
    const int64_t lows[] = {0, -500, INT64_MIN / 4, INT64_MAX / 4};
    uint64_t state = 6;
    int64_t *keys = calloc(5000, sizeof *keys);
    assert_same_order(keys, 0, "no keys");
    keys[0] = 3;
    assert_same_order(keys, 1, "one key");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int pattern = 0; pattern < 6; pattern++)
            for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
                if (pattern != 0 && pattern != 4 && r > 0) break;  // the range is unused
                if (sizes[i] > 1000 && r % 2) continue;            // fewer big sorts
                int64_t low = lows[(i + r) % 4];
                shaped_keys(keys, sizes[i], pattern, low, ranges[r], &state);
                assert_same_order(keys, sizes[i], "shaped keys");
            }
    for (int round = 0; round < 300; round++) {  // random sizes, ranges and shapes
        int64_t n = (int64_t)(next_random(&state) % (round < 250 ? 300 : 5000));
        int64_t range = 1 + (int64_t)(next_random(&state) % (round % 2 ? 8 : 100000));
        shaped_keys(keys, n, round % 6, round % 3 ? 0 : -range / 2, range, &state);
        assert_same_order(keys, n, "random keys");
    }
    // keys too far apart to share a word with 7 bits of position, and near enough
    const int64_t top[3] = {((int64_t)1 << 57) - 1, (int64_t)1 << 57, INT64_MAX};
    for (int t = 0; t < 3; t++) {
        for (int64_t k = 0; k < 100; k++)
            keys[k] = k % 3 ? top[t] - k % 2 : (t == 2 ? INT64_MIN : 0) + k % 5;
        assert_same_order(keys, 100, "keys far apart");
    }
    free(keys);
}
END_TEST

// Keys that defeat median-of-three: every partition splits off at most two
// entries, so introsort runs out of depth and heapsorts the rest. The loop moves
// positions as libstdc++'s introsort does and gives keys only to the three
// samples of each partition, the largest and the median values left; the other
// entries stay below every key given (-1) and get small random keys at the end.
static void median_of_three_killer(int64_t *keys, int64_t n, uint64_t *state) {
    int64_t *at = malloc((size_t)n * sizeof *at);  // at[i]: the entry at position i
    for (int64_t i = 0; i < n; i++) at[i] = i, keys[i] = -1;
    int64_t next = 1000 + 2 * n, first = 0, last = n, t;
    while (last - first > 16) {
        int64_t mid = first + (last - first) / 2;
        keys[at[first + 1]] = next--, keys[at[mid]] = next--;  // last - 1 stays low
        t = at[first], at[first] = at[mid], at[mid] = t;        // the median to first
        int64_t f = first + 1, l = last, pivot = keys[at[first]];
        for (;;) {  // __unguarded_partition
            while (keys[at[f]] < pivot) f++;
            l--;
            while (pivot < keys[at[l]]) l--;
            if (!(f < l)) break;
            t = at[f], at[f] = at[l], at[l] = t;
            f++;
        }
        ck_assert_int_le(last - f, 2);  // the right part is left to its insertion sort
        last = f;
    }
    for (int64_t i = 0; i < n; i++)
        if (keys[i] < 0) keys[i] = (int64_t)(next_random(state) % 8);
    free(at);
}

START_TEST(fast_sort_order_heapsorts_as_std_sort_does) {
    uint64_t state = 7;
    int64_t keys[3000];
    for (int64_t n = 40; n <= 3000; n = n * 3 / 2) {
        median_of_three_killer(keys, n, &state);
        int64_t before = sparse_sort_heapsorts();
        assert_same_order(keys, n, "median-of-three killer");
        // both the fast and the plain sort took the heapsort path, once
        ck_assert_int_eq(sparse_sort_heapsorts(), before + 2);
    }
}
END_TEST

START_TEST(coalesce_sums_repeats_in_pytorchs_order) {
    SparseGrad g, c;
    sparse_grad_init(&g, 6, 3, NULL);
    sparse_grad_init(&c, 6, 3, NULL);
    for (int k = 0; k < 40; k++) {
        float v[3] = {from_bits(SORT_VALS[3 * k]), from_bits(SORT_VALS[3 * k + 1]),
                      from_bits(SORT_VALS[3 * k + 2])};
        ck_assert_int_eq(sparse_grad_append(&g, SORT_KEYS[k], v, NULL), 0);
    }
    ck_assert(!g.coalesced);
    ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);
    ck_assert_int_eq(c.nnz, 6);
    ck_assert(c.coalesced);
    for (int r = 0; r < 6; r++) {
        ck_assert_int_eq(c.indices[r], r);
        for (int d = 0; d < 3; d++)
            ck_assert_msg(test_bits(c.values[r * 3 + d]) == SORT_SUMS[r * 3 + d],
                          "row %d value %d: got %08x, want %08x", r, d,
                          test_bits(c.values[r * 3 + d]), SORT_SUMS[r * 3 + d]);
    }
    // a stable order gives other bits: the order is the trap
    float stable[18] = {0};
    for (int k = 0; k < 40; k++)
        for (int d = 0; d < 3; d++)
            stable[SORT_KEYS[k] * 3 + d] += from_bits(SORT_VALS[3 * k + d]);
    int differ = 0;
    for (int k = 0; k < 18; k++) differ += test_bits(stable[k]) != SORT_SUMS[k];
    ck_assert_int_ge(differ, 3);
    sparse_grad_free(&g);
    sparse_grad_free(&c);
}
END_TEST

// torch 1.13: Embedding.from_pretrained(W, freeze=False, sparse=True),
// SparseAdam(lr=0.05), batches [0, 2, 0] and [2, 1, 1, 1] with upstream
// gradients G0, G1.
static const uint32_t SA_W[15] = {0x3fea1ae3, 0xbe610bfd, 0x3eaf54e8, 0xbfe703b7,
                                  0x3deed7ec, 0x3f915f42, 0x3bce8f44, 0x3d9adec8,
                                  0xbe0a62a2, 0x3e9c23e9, 0xc0387747, 0xbf2c0e5e,
                                  0xbefcc093, 0xbee14539, 0xbf5d6555};
static const uint32_t SA_G[35] = {
    0xbea1e633, 0xbeb4f74e, 0xbe796cda, 0xbf9b93e3, 0xbeab4782, 0x3ed7efb8, 0xbf9bcef9,
    0xbff663c6, 0xbe28a571, 0x3fd4d7b9, 0xbfa255a0, 0xbf28e9de, 0xbe45407e, 0xbe5cb867,
    0xbdafdbd9, 0x3fbe4ec6, 0xbe0b5a24, 0xbf632c65, 0xbf53573d, 0x3f56d66e, 0xbe7fea92,
    0xbe16e74c, 0xbf9572d3, 0x3fe97959, 0xbf4ba3b7, 0xbfea1de5, 0x3eaabbb8, 0x3c439847,
    0x3e65cc3c, 0x3e78888d, 0xc00b2665, 0xbf08fb51, 0xbea61056, 0xbe4bd1cd, 0xbecf428f};
static const uint32_t SA_AFTER[2][15] = {
    {0x3ff08149, 0xbe2dd8cc, 0x3ec8ee80, 0xbfe09d51, 0x3e2a9f26, 0x3f915f42, 0x3bce8f44,
     0x3d9adec8, 0xbe0a62a2, 0x3e9c23e9, 0xc03baa7a, 0xbf1f4192, 0xbee326fa, 0xbec7aba3,
     0xbf6a3222},
    {0x3ff08149, 0xbe2dd8cc, 0x3ec8ee80, 0xbfe09d51, 0x3e2a9f26, 0x3f962274, 0x3d323812,
     0x3de711e0, 0xbe307c2e, 0x3eaf30af, 0xc03e8aaf, 0xbf15ac7b, 0xbecb98db, 0xbeb1a250,
     0xbf76252a}};

START_TEST(sparse_adam_steps_match_torch_bit_for_bit) {
    float w[15], G[35];
    for (int k = 0; k < 15; k++) w[k] = from_bits(SA_W[k]);
    for (int k = 0; k < 35; k++) G[k] = from_bits(SA_G[k]);
    Embedding e = table(w, 3, 5);
    for (int k = 0; k < 15; k++) w[k] = from_bits(SA_W[k]);
    SparseGrad g;
    ParamList params;
    SparseOptimizer o;
    OptimOptions op = optim_defaults(OPTIM_ADAM);
    op.lr = 0.05;
    sparse_grad_init(&g, 3, 5, NULL);
    emb_sparse_parameters(&e, &g, &params, NULL);
    ck_assert_int_eq(sparse_adam_init(&o, &op, &params, NULL), 0);
    const int64_t b0[3] = {0, 2, 0}, b1[4] = {2, 1, 1, 1};
    for (int s = 0; s < 2; s++) {
        sparse_grad_zero(&g);
        ck_assert_int_eq(
            emb_backward_sparse(&e, &g, s ? b1 : b0, s ? 4 : 3, G + 15 * s, NULL), 0);
        ck_assert_int_eq(sparse_optim_step(&o, &params, NULL), 0);
        for (int k = 0; k < 15; k++)
            ck_assert_msg(test_bits(w[k]) == SA_AFTER[s][k],
                          "step %d value %d: got %08x, "
                          "want %08x",
                          s + 1, k, test_bits(w[k]), SA_AFTER[s][k]);
    }
    sparse_optim_free(&o);
    sparse_grad_free(&g);
}
END_TEST

// SparseAdam's step_size at step t, as torch computes it in Python (in double).
static double sav_step_size(int64_t t) {
    return SAV_LR * sqrt(1 - pow(0.999, (double)t)) / (1 - pow(0.9, (double)t));
}

// Asserts that n floats have torch's bits (want).
static void assert_bits(const float *got, const uint32_t *want, int64_t n, const char *what,
                        int step) {
    for (int64_t k = 0; k < n; k++)
        ck_assert_msg(test_bits(got[k]) == want[k], "step %d %s %lld: got %08x, want %08x",
                      step, what, (long long)k, test_bits(got[k]), want[k]);
}

START_TEST(sparse_adam_row_matches_torch_from_stale_moments) {
    // ch06_vectors.h: each step starts from torch's weight and moments before
    // it, so from step 2 on m and v are not zero, and every operation of the
    // row's formula decides bits (67 values: PyTorch's vector body and tail).
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    o.lr = SAV_LR;
    float w[SAV_N], g[SAV_N], m[SAV_N] = {0}, v[SAV_N] = {0};
    for (int k = 0; k < SAV_N; k++) w[k] = from_bits(SAV_W0[k]);
    for (int s = 0; s < SAV_STEPS; s++) {
        for (int k = 0; s > 0 && k < SAV_N; k++) {
            w[k] = from_bits(SAV_W[s - 1][k]);
            m[k] = from_bits(SAV_M[s - 1][k]), v[k] = from_bits(SAV_V[s - 1][k]);
        }
        for (int k = 0; k < SAV_N; k++) g[k] = from_bits(SAV_GRAD[s][k]);
        sparse_adam_row(w, g, m, v, SAV_N, sav_step_size(s + 1), &o);
        assert_bits(m, SAV_M[s], SAV_N, "exp_avg", s + 1);
        assert_bits(v, SAV_V[s], SAV_N, "exp_avg_sq", s + 1);
        assert_bits(w, SAV_W[s], SAV_N, "weight", s + 1);
    }
}
END_TEST

START_TEST(coalesce_keeps_a_row_whose_sum_is_zero) {
    // The same four steps from the upstream rows: backward, coalesce and
    // SparseAdam. Step 3 looks the row up twice with opposite rows: coalesce()
    // keeps the row, its values all zero, and SparseAdam still moves it.
    float w[SAV_N], up[3 * SAV_N];
    Embedding e = table(w, 1, SAV_N);
    for (int k = 0; k < SAV_N; k++) w[k] = from_bits(SAV_W0[k]);
    SparseGrad g, c;
    ParamList params;
    SparseOptimizer o;
    OptimOptions op = optim_defaults(OPTIM_ADAM);
    op.lr = SAV_LR;
    sparse_grad_init(&g, 1, SAV_N, NULL);
    sparse_grad_init(&c, 1, SAV_N, NULL);
    emb_sparse_parameters(&e, &g, &params, NULL);
    ck_assert_int_eq(sparse_adam_init(&o, &op, &params, NULL), 0);
    const int64_t rows[3] = {0, 0, 0};
    for (int s = 0; s < SAV_STEPS; s++) {
        for (int p = 0; p < SAV_LOOKUPS[s]; p++)
            for (int k = 0; k < SAV_N; k++) up[p * SAV_N + k] = from_bits(SAV_UP[s][p][k]);
        sparse_grad_zero(&g);
        ck_assert_int_eq(emb_backward_sparse(&e, &g, rows, SAV_LOOKUPS[s], up, NULL), 0);
        ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);  // what SparseAdam steps with
        ck_assert_int_eq(c.nnz, 1);
        ck_assert_int_eq(c.indices[0], 0);
        assert_bits(c.values, SAV_GRAD[s], SAV_N, "gradient", s + 1);
        ck_assert_int_eq(sparse_optim_step(&o, &params, NULL), 0);
        assert_bits(w, SAV_W[s], SAV_N, "weight", s + 1);
    }
    sparse_optim_free(&o);
    sparse_grad_free(&g);
    sparse_grad_free(&c);
}
END_TEST

START_TEST(coalesce_keeps_a_coalesced_gradient_as_it_is) {
    SparseGrad g, c;
    sparse_grad_init(&g, 9, 2, NULL);
    sparse_grad_init(&c, 9, 2, NULL);
    const float a[2] = {-0.0f, 1}, b[2] = {2, -0.0f}, d[2] = {3, 4};
    sparse_grad_append(&g, 1, a, NULL);
    sparse_grad_append(&g, 4, b, NULL);
    sparse_grad_append(&g, 8, d, NULL);
    ck_assert(g.coalesced);
    ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);
    ck_assert_int_eq(c.num_rows, 9);
    ck_assert_int_eq(c.row_dim, 2);
    ck_assert_int_eq(c.nnz, 3);
    ck_assert(c.coalesced);
    for (int k = 0; k < 3; k++) ck_assert_int_eq(c.indices[k], g.indices[k]);
    ck_assert_mem_eq(c.values, g.values, 6 * sizeof(float));  // -0.0 kept
    sparse_grad_free(&g);
    sparse_grad_free(&c);
}
END_TEST

START_TEST(coalesce_edge_cases) {
    SparseGrad g, c;
    sparse_grad_init(&g, 5, 2, NULL);
    sparse_grad_init(&c, 5, 2, NULL);
    ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);  // no entries
    ck_assert_int_eq(c.nnz, 0);
    ck_assert(c.coalesced);
    const float a[2] = {1, -0.0f}, b[2] = {2, 3};
    sparse_grad_append(&g, 3, a, NULL);  // one entry: as it is, -0.0 kept
    ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);
    ck_assert_int_eq(c.nnz, 1);
    ck_assert_int_eq(c.indices[0], 3);
    ck_assert_uint_eq(test_bits(c.values[1]), test_bits(-0.0f));
    sparse_grad_append(&g, 1, b, NULL);
    sparse_grad_append(&g, 3, b, NULL);
    ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);
    ck_assert_int_eq(c.nnz, 2);
    ck_assert_int_eq(c.indices[0], 1);
    ck_assert_int_eq(c.indices[1], 3);
    ck_assert_float_eq(c.values[2], 3);
    ck_assert_float_eq(c.values[3], 3);
    EmbError err;
    ck_assert_int_eq(sparse_grad_append(&g, 5, b, &err), -1);
    ck_assert_str_eq(err.msg, "index 5 is out of bounds for a sparse gradient of 5 rows");
    sparse_grad_free(&g);
    sparse_grad_free(&c);
}
END_TEST

/* ------------------------------------------------------------ optimizers */

// A 6 x 3 table with a sparse gradient of rows 1, 4, 1 (values k + 1 / 4).
typedef struct Fixture {
    float w[18], before[18];
    Embedding e;
    SparseGrad g;
    ParamList params;
} Fixture;

static void fixture(Fixture *f, const int64_t *idx, int64_t n) {
    f->e = table(f->w, 6, 3);
    float G[3 * 16];
    for (int k = 0; k < 3 * 16; k++) G[k] = (float)(k + 1) / 4.0f - 2.0f;
    sparse_grad_init(&f->g, 6, 3, NULL);
    ck_assert_int_eq(emb_backward_sparse(&f->e, &f->g, idx, n, G, NULL), 0);
    ck_assert_int_eq(emb_sparse_parameters(&f->e, &f->g, &f->params, NULL), 0);
    memcpy(f->before, f->w, sizeof f->w);
}

// Rows of the fixture's table that changed in any bit.
static int64_t rows_changed(const Fixture *f, bool *which) {
    for (int r = 0; r < 6; r++)
        which[r] = memcmp(f->w + 3 * r, f->before + 3 * r, 12) != 0;
    return emb_rows_changed(f->before, f->w, 6, 3);
}

START_TEST(sparse_sgd_applies_entries_one_by_one) {
    Fixture f;
    const int64_t idx[3] = {1, 4, 1};
    fixture(&f, idx, 3);
    SparseOptimizer o;
    OptimOptions op = optim_defaults(OPTIM_SGD);
    op.lr = 0.1;
    ck_assert_int_eq(sparse_optim_init(&o, OPTIM_SGD, &op, &f.params, NULL), 0);
    ck_assert_int_eq(sparse_optim_step(&o, &f.params, NULL), 0);
    for (int d = 0; d < 3; d++) {  // row 1: two fused steps, in entry order
        float want =
            fmaf(f.g.values[6 + d], -0.1f, fmaf(f.g.values[d], -0.1f, f.before[3 + d]));
        ck_assert_uint_eq(test_bits(f.w[3 + d]), test_bits(want));
    }
    bool which[6];
    ck_assert_int_eq(rows_changed(&f, which), 2);  // lazy: rows 1 and 4 only
    ck_assert(which[1] && which[4]);
    sparse_optim_free(&o);
    sparse_grad_free(&f.g);
}
END_TEST

START_TEST(lazy_optimizers_leave_other_rows_bit_identical) {
    for (int kind = 0; kind < 2; kind++) {  // sparse Adagrad, SparseAdam
        Fixture f;
        const int64_t idx[4] = {2, 5, 2, 2};
        fixture(&f, idx, 4);
        SparseOptimizer o;
        OptimOptions op = optim_defaults(kind ? OPTIM_ADAM : OPTIM_ADAGRAD);
        op.lr = 0.1;
        ck_assert_int_eq(kind
                             ? sparse_adam_init(&o, &op, &f.params, NULL)
                             : sparse_optim_init(&o, OPTIM_ADAGRAD, &op, &f.params, NULL),
                         0);
        for (int s = 0; s < 3; s++)
            ck_assert_int_eq(sparse_optim_step(&o, &f.params, NULL), 0);
        bool which[6];
        ck_assert_int_eq(rows_changed(&f, which), 2);
        ck_assert(which[2] && which[5]);
        int64_t V = 6, D = 3;
        // state: Adagrad's sum from the constructor, SparseAdam's two moments: dense
        ck_assert_int_eq(sparse_optim_state_bytes(&o), (kind ? 2 : 1) * V * D * 4);
        ck_assert_int_eq(o.dense.state[0].step, 3);  // one count per parameter
        sparse_optim_free(&o);
        sparse_grad_free(&f.g);
    }
}
END_TEST

START_TEST(sparse_momentum_moves_absent_rows_and_its_buffer_grows) {
    Fixture f;
    const int64_t idx[2] = {1, 4};
    fixture(&f, idx, 2);
    SparseOptimizer o;
    OptimOptions op = optim_defaults(OPTIM_SGD);
    op.lr = 0.1, op.momentum = 0.9;
    ck_assert_int_eq(sparse_optim_init(&o, OPTIM_SGD, &op, &f.params, NULL), 0);
    ck_assert_int_eq(sparse_optim_step(&o, &f.params, NULL), 0);
    ck_assert_int_eq(o.momentum[0].nnz, 2);  // torch.clone(d_p)
    ck_assert_int_eq(sparse_optim_state_bytes(&o), 2 * (8 + 3 * 4));
    float G[3] = {1, 1, 1};
    const int64_t next[1] = {0};  // step 2 looks up row 0 only
    sparse_grad_zero(&f.g);
    emb_backward_sparse(&f.e, &f.g, next, 1, G, NULL);
    memcpy(f.before, f.w, sizeof f.w);
    ck_assert_int_eq(sparse_optim_step(&o, &f.params, NULL), 0);
    bool which[6];
    ck_assert_int_eq(rows_changed(&f, which), 3);  // rows 1 and 4 move without a gradient
    ck_assert(which[0] && which[1] && which[4]);
    ck_assert_int_eq(o.momentum[0].nnz, 3);  // the buffer only grows
    float dense_grad[18] = {0}; // a dense gradient now: PyTorch's buf.add_(dense) refuses
    f.params.items[0].sparse_grad = NULL, f.params.items[0].grad = dense_grad;
    EmbError err;
    ck_assert_int_eq(sparse_optim_step(&o, &f.params, &err), -1);
    ck_assert_str_eq(err.msg,
                     "add(sparse, dense) is not supported. Use add(dense, sparse) "
                     "instead.");
    sparse_optim_free(&o);
    sparse_grad_free(&f.g);
}
END_TEST

// The message sparse_optim_step gives for kind (SPARSE_ADAM: SparseAdam)
// with weight_decay wd and a sparse (or, for SparseAdam, dense) gradient.
static const char *refusal(int kind, double wd) {
    static EmbError err;
    Fixture f;
    const int64_t idx[2] = {1, 1};
    fixture(&f, idx, 2);
    float dense_grad[18] = {0};
    SparseOptimizer o;
    OptimOptions op = optim_defaults(kind < 0 ? OPTIM_ADAM : (OptimKind)kind);
    op.lr = 0.1, op.weight_decay = wd;
    if (kind < 0) {  // SparseAdam with a dense gradient
        f.params.items[0].sparse_grad = NULL, f.params.items[0].grad = dense_grad;
        ck_assert_int_eq(sparse_adam_init(&o, &op, &f.params, NULL), 0);
    } else {
        ck_assert_int_eq(sparse_optim_init(&o, (OptimKind)kind, &op, &f.params, NULL), 0);
    }
    err.msg[0] = '\0';
    ck_assert_int_eq(sparse_optim_step(&o, &f.params, &err), -1);
    ck_assert_mem_eq(f.w, f.before, sizeof f.w);  // nothing changed
    sparse_optim_free(&o);
    sparse_grad_free(&f.g);
    return err.msg;
}

START_TEST(refusals_use_pytorchs_messages) {
    ck_assert_str_eq(
        refusal(OPTIM_ADAM, 0),
        "Adam does not support sparse gradients, please consider SparseAdam instead");
    ck_assert_str_eq(refusal(OPTIM_ADAMW, 0), "AdamW does not support sparse gradients");
    ck_assert_str_eq(refusal(OPTIM_RMSPROP, 0),
                     "RMSprop does not support sparse gradients");
    ck_assert_str_eq(
        refusal(OPTIM_SGD, 0.1),
        "add(sparse, dense) is not supported. Use add(dense, sparse) instead.");
    ck_assert_str_eq(refusal(OPTIM_ADAGRAD, 0.1),
                     "weight_decay option is not compatible with sparse gradients");
    ck_assert_str_eq(
        refusal(-1, 0),
        "SparseAdam does not support dense gradients, please consider Adam instead");
}
END_TEST

START_TEST(sparse_adam_checks_its_options) {
    struct { double lr, eps, b1, b2; const char *want; } cases[] = {
        {0, 1e-8, 0.9, 0.999, "Invalid learning rate: 0.0"},
        {-1, 1e-8, 0.9, 0.999, "Invalid learning rate: -1.0"},
        {1e-3, 0, 0.9, 0.999, "Invalid epsilon value: 0.0"},
        {1e-3, -1e-08, 0.9, 0.999, "Invalid epsilon value: -1e-08"},
        {1e-3, 1e-8, 1.0, 0.999, "Invalid beta parameter at index 0: 1.0"},
        {1e-3, 1e-8, 0.9, -0.5, "Invalid beta parameter at index 1: -0.5"},
        {1e-3, 1e-8, NAN, 0.999, "Invalid beta parameter at index 0: nan"},
        {1e-3, 1e-8, 100, 0.999, "Invalid beta parameter at index 0: 100.0"},  // torch 1.13
        {-20, 1e-8, 0.9, 0.999, "Invalid learning rate: -20.0"},
        {1e-3, -1e15, 0.9, 0.999, "Invalid epsilon value: -1000000000000000.0"},
    };
    float w[2] = {0, 0};
    ParamList l = {0};
    param_list_add(&l, "w", w, NULL, 1, 2, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OptimOptions o = optim_defaults(OPTIM_ADAM);
        o.lr = cases[i].lr, o.eps = cases[i].eps, o.beta1 = cases[i].b1,
        o.beta2 = cases[i].b2;
        SparseOptimizer so;
        EmbError err;
        ck_assert_int_eq(sparse_adam_init(&so, &o, &l, &err), -1);
        ck_assert_str_eq(err.msg, cases[i].want);
    }
    OptimOptions ok = optim_defaults(OPTIM_ADAM);  // 1e-3, (0.9, 0.999), 1e-8
    SparseOptimizer so;
    ck_assert_int_eq(sparse_adam_init(&so, &ok, &l, NULL), 0);
    ck_assert_int_eq(sparse_optim_state_bytes(&so), 0);  // state at the first step
    sparse_optim_free(&so);
}
END_TEST

START_TEST(sparse_adam_row_is_pytorchs_formula) {
    // One row, step 1, lr 0.1: m = 0.1 g, v = 0.001 g^2, step = lr*sqrt(0.001)/0.1
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    o.lr = 0.1;
    float w[3] = {1, -1, 0.5f}, g[3] = {0.5f, -2, 0}, m[3] = {0}, v[3] = {0};
    double ss = 0.1 * sqrt(1 - 0.999) / (1 - 0.9);
    sparse_adam_row(w, g, m, v, 3, ss, &o);
    for (int d = 0; d < 3; d++) {
        float dm = g[d] * (float)(1 - 0.9), dv = (g[d] * g[d]) * (float)(1 - 0.999);
        ck_assert_uint_eq(test_bits(m[d]), test_bits(0.0f + dm));
        ck_assert_uint_eq(test_bits(v[d]), test_bits(0.0f + dv));
        float want = (float[]){1, -1, 0.5f}[d] +
                     ((dm + 0.0f) / (sqrtf(dv + 0.0f) + (float)1e-8)) * (float)-ss;
        ck_assert_uint_eq(test_bits(w[d]), test_bits(want));
    }
    ck_assert_float_eq(w[2], 0.5f);  // a zero gradient: no move on the first step
    // a stale row: m and v move toward g from where they were, not from 0
    float w2[1] = {0}, g2[1] = {1}, m2[1] = {0.5f}, v2[1] = {0.25f};
    sparse_adam_row(w2, g2, m2, v2, 1, 0.01, &o);
    ck_assert_uint_eq(test_bits(m2[0]), test_bits(0.5f + (1 - 0.5f) * (float)(1 - 0.9)));
    ck_assert_uint_eq(test_bits(v2[0]),
                      test_bits(0.25f + (1 - 0.25f) * (float)(1 - 0.999)));
}
END_TEST

START_TEST(late_rows_take_long_first_steps) {
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    double move;
    ck_assert_int_eq(sparse_adam_late_row(&o, false, 1, &move, NULL), 0);
    ck_assert_double_eq_tol(move, 1.0, 1e-4);
    for (int64_t t = 10; t <= 1000; t *= 10) {
        double b1 = 1 - pow(0.9, (double)t), b2 = sqrt(1 - pow(0.999, (double)t));
        double want = b2 / b1 * 0.1 / (sqrt(0.001) + 1e-8 / fabs(1.0));
        ck_assert_int_eq(sparse_adam_late_row(&o, false, t, &move, NULL), 0);
        ck_assert_double_eq_tol(move, want, 2e-3 * want);
        ck_assert_int_eq(sparse_adam_late_row(&o, true, t, &move, NULL), 0);
        ck_assert_double_eq_tol(move, 1.0, 1e-4);  // a count per row: a fresh first step
    }
    ck_assert_int_eq(sparse_adam_late_row(&o, false, 1000, &move, NULL), 0);
    ck_assert(move > 2.4 && move < 2.6);  // several learning rates
    EmbError err;
    ck_assert_int_eq(sparse_adam_late_row(&o, false, 0, &move, &err), -1);
}
END_TEST

START_TEST(lazy_and_global_decay) {
    for (int global = 0; global < 2; global++) {
        Fixture f;
        const int64_t idx[1] = {2};
        fixture(&f, idx, 1);
        SparseOptimizer o;
        OptimOptions op = optim_defaults(OPTIM_ADAM);
        op.lr = 0.1;
        SparseExtras x = {false, 0.5, global ? SPARSE_DECAY_GLOBAL : SPARSE_DECAY_LAZY};
        ck_assert_int_eq(sparse_adam_init_extras(&o, &op, &x, &f.params, NULL), 0);
        ck_assert_int_eq(sparse_optim_step(&o, &f.params, NULL), 0);
        bool which[6];
        ck_assert_int_eq(rows_changed(&f, which), global ? 6 : 1);
        ck_assert_float_eq(f.w[5 * 3 + 1], global ? f.before[16] * (float)(1 - 0.05)
                                                  : f.before[16]);
        sparse_optim_free(&o);
        sparse_grad_free(&f.g);
    }
}
END_TEST

/* ------------------------------------------------------------ memory, tying */

START_TEST(memory_from_the_state_accounting) {
    const int64_t V = 1000000, D = 64, N = 4096, table_bytes = V * D * 4;
    const int64_t entries = N * (8 + 4 * D);
    OptimOptions sgd = optim_defaults(OPTIM_SGD), adam = optim_defaults(OPTIM_ADAM);
    OptimOptions adagrad = optim_defaults(OPTIM_ADAGRAD), mom = sgd;
    mom.momentum = 0.9;
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_ADAM, &adam, V, D, N, false),
        4 * table_bytes);
    ck_assert_int_eq(sparse_training_bytes(SPARSE_ADAM, OPTIM_ADAM, &adam, V, D, N, true),
                     3 * table_bytes + entries);  // saves one table minus the entries
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_SGD, &sgd, V, D, N, true),
        table_bytes + entries);
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_SGD, &mom, V, D, N, true),
        table_bytes + 2 * entries);
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_ADAGRAD, &adagrad, V, D, N, true),
        2 * table_bytes + entries);
    // refused combinations and overflow
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_ADAM, &adam, V, D, N, true), -1);
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_ADAM, OPTIM_ADAM, &adam, V, D, N, false), -1);
    sgd.weight_decay = 0.1;
    ck_assert_int_eq(
        sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_SGD, &sgd, V, D, N, true), -1);
    ck_assert_int_eq(sparse_training_bytes(SPARSE_WRAP_DENSE, OPTIM_ADAM, &adam,
                                           INT64_MAX / 4, 64, N, false),
                     -1);
}
END_TEST

START_TEST(tied_tables_are_dense) {
    const int64_t in[8] = {3, 7, 3, 0, 11, 7, 3, 5}, tgt[8] = {7, 3, 0, 11, 7, 3, 5, 1};
    int64_t rows[3];
    double diff;
    EmbError refusal;
    ck_assert_int_eq(lm_tied_sparse_run(12, 4, in, tgt, 8, rows, &diff, &refusal, NULL),
                     0);
    ck_assert_int_eq(rows[0], 5);   // the lookup's rows
    ck_assert_int_eq(rows[1], 12);  // the projection reaches every row
    ck_assert_int_eq(rows[2], 12);
    ck_assert(diff < 1e-6);  // projection path + sparse entries = the one gradient
    ck_assert_str_eq(
        refusal.msg,
        "SparseAdam does not support dense gradients, please consider Adam instead");
}
END_TEST

/* ------------------------------------------------------------ skew */

START_TEST(zipf_draws_and_distinct_rows) {
    Zipf z;
    EmbError err;
    ck_assert_int_eq(zipf_init(&z, 1000, 1.1, NULL), 0);
    ck_assert_double_eq_tol(zipf_prob(&z, 0) / zipf_prob(&z, 1), pow(2, 1.1), 1e-9);
    double total = 0;
    for (int64_t r = 0; r < 1000; r++) total += zipf_prob(&z, r);
    ck_assert_double_eq_tol(total, 1.0, 1e-12);
    ck_assert_int_eq(zipf_draw(&z, 0.0), 0);
    ck_assert_int_eq(zipf_draw(&z, 0.999999999), 999);
    ck_assert_int_eq(zipf_draw(&z, z.cdf[4]), 5);  // the first row whose cdf exceeds u
    bool seen[1000] = {false};
    const int64_t idx[6] = {4, 9, 4, 0, 9, 999};
    ck_assert_int_eq(sparse_distinct(idx, 6, seen), 4);
    for (int k = 0; k < 1000; k++) ck_assert(!seen[k]);  // scratch left clean
    zipf_free(&z);
    ck_assert_int_eq(zipf_init(&z, 0, 1.1, &err), -1);
}
END_TEST

/* ------------------------------------------------------------ fast, same bits */

// A 5000 x 8 table, 3000 indices with repeats, and an upstream gradient.
typedef struct Big {
    Embedding e;
    int64_t idx[3000];
    float G[3000 * 8];
} Big;

static void big(Big *b, float *w) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 6);
    rng_normal_(&gen, w, 5000 * 8, 0.0f, 1.0f);
    rng_normal_(&gen, b->G, 3000 * 8, 0.0f, 1.0f);
    for (int i = 0; i < 3000; i++)
        b->idx[i] = (int64_t)(rng_uniform_double(&gen) * 700) * 7;
    b->e = (Embedding){.num_embeddings = 5000, .embedding_dim = 8, .weight = w,
                       .requires_grad = true, .padding_idx = EMB_NO_PADDING};
}

START_TEST(huge_pages_prefetch_and_sorting_keep_the_bits) {
    bool huge;
    float *w = emb_alloc_huge(5000 * 8 * 4, &huge);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq((uintptr_t)w % (2u << 20), 0);
    Big *b = malloc(sizeof *b);
    big(b, w);
    float *plain = malloc(3000 * 8 * 4), *fast = malloc(3000 * 8 * 4);
    int64_t *perm = malloc(3000 * 8);
    ck_assert_int_eq(emb_lookup(&b->e, b->idx, 3000, plain, NULL), 0);
    for (int64_t dist = 0; dist <= 16; dist += 4) {
        ck_assert_int_eq(emb_lookup_prefetch(&b->e, b->idx, 3000, fast, dist, NULL), 0);
        ck_assert_mem_eq(fast, plain, 3000 * 8 * 4);
    }
    memset(fast, 0, 3000 * 8 * 4);
    ck_assert_int_eq(emb_lookup_sorted(&b->e, b->idx, 3000, fast, perm, NULL), 0);
    ck_assert_mem_eq(fast, plain, 3000 * 8 * 4);
    b->idx[17] = 5000;
    EmbError err;
    ck_assert_int_eq(emb_lookup_prefetch(&b->e, b->idx, 3000, fast, 8, &err), -1);
    ck_assert_str_eq(err.msg,
                     "index out of range in self: index 5000, num_embeddings 5000");
    ck_assert_int_eq(emb_lookup_sorted(&b->e, b->idx, 3000, fast, perm, NULL), -1);
    free(plain), free(fast), free(perm), free(b), free(w);
}
END_TEST

START_TEST(fused_sparse_adam_keeps_the_bits) {
    float *w = malloc(5000 * 8 * 4), *w2 = malloc(5000 * 8 * 4);
    float *m = calloc(5000 * 8, 4), *v = calloc(5000 * 8, 4);
    float *m2 = calloc(5000 * 8, 4), *v2 = calloc(5000 * 8, 4);
    int64_t *perm = malloc(3000 * 8);
    Big *b = malloc(sizeof *b);
    big(b, w);
    memcpy(w2, w, 5000 * 8 * 4);
    SparseGrad g, c;
    sparse_grad_init(&g, 5000, 8, NULL), sparse_grad_init(&c, 5000, 8, NULL);
    for (int s = 1; s <= 3; s++) {  // padding row 7 on; maximize at step 3
        OptimOptions o = optim_defaults(OPTIM_ADAM);
        o.lr = 0.05, o.maximize = s == 3;
        b->e.padding_idx = 7;
        b->e.weight = w;  // the three calls, as sparse_optim_step makes them
        sparse_grad_zero(&g);
        ck_assert_int_eq(emb_backward_sparse(&b->e, &g, b->idx, 3000, b->G, NULL), 0);
        for (int64_t k = 0; o.maximize && k < g.nnz * 8; k++) g.values[k] = -g.values[k];
        ck_assert_int_eq(sparse_coalesce(&g, &c, NULL), 0);
        sparse_adam_update(w, &c, m, v, s, &o);
        b->e.weight = w2;  // fused
        ck_assert_int_eq(
            emb_sparse_adam_fused(&b->e, b->idx, 3000, b->G, m2, v2, s, &o, perm, NULL),
            0);
        ck_assert_mem_eq(w2, w, 5000 * 8 * 4);
        ck_assert_mem_eq(m2, m, 5000 * 8 * 4);
        ck_assert_mem_eq(v2, v, 5000 * 8 * 4);
    }
    sparse_grad_free(&g), sparse_grad_free(&c);
    free(w), free(w2), free(m), free(v), free(m2), free(v2), free(perm), free(b);
}
END_TEST

START_TEST(threads_owning_rows_keep_the_bits) {
    float *w = malloc(5000 * 8 * 4), *w1 = malloc(5000 * 8 * 4),
          *w2 = malloc(5000 * 8 * 4);
    Big *b = malloc(sizeof *b);
    big(b, w);
    SparseGrad g;
    sparse_grad_init(&g, 5000, 8, NULL);
    ck_assert_int_eq(emb_backward_sparse(&b->e, &g, b->idx, 3000, b->G, NULL), 0);
    memcpy(w1, w, 5000 * 8 * 4);
    sparse_sgd_update(w1, &g, 0.1, false);
    for (int threads = 1; threads <= 7; threads += 2) {
        memcpy(w2, w, 5000 * 8 * 4);
        ck_assert_int_eq(sparse_sgd_update_parallel(w2, &g, 0.1, threads, NULL), 0);
        ck_assert_mem_eq(w2, w1, 5000 * 8 * 4);
    }
    for (int threads = 1; threads <= 4; threads++) {  // a pool, several steps in a row
        SparsePool *pool = sparse_pool_new(threads, NULL);
        ck_assert_ptr_nonnull(pool);
        float *ref = malloc(5000 * 8 * 4);
        memcpy(w2, w, 5000 * 8 * 4), memcpy(ref, w, 5000 * 8 * 4);
        for (int step = 0; step < 3; step++) {
            sparse_sgd_update(ref, &g, 0.1, false);
            sparse_sgd_update_pool(pool, w2, &g, 0.1);
        }
        ck_assert_mem_eq(w2, ref, 5000 * 8 * 4);
        sparse_pool_free(pool);
        free(ref);
    }
    ck_assert_ptr_null(sparse_pool_new(0, NULL));
    memcpy(w2, w, 5000 * 8 * 4);  // backward and update fused: the same bits
    b->e.weight = w2;
    ck_assert_int_eq(emb_sparse_sgd_fused(&b->e, b->idx, 3000, b->G, 0.1, NULL), 0);
    ck_assert_mem_eq(w2, w1, 5000 * 8 * 4);
    b->e.weight = w;
    b->e.grad = w1;  // the dense scatter-add, one thread and several
    memset(w1, 0, 5000 * 8 * 4);
    memset(w2, 0, 5000 * 8 * 4);
    ck_assert_int_eq(emb_backward(&b->e, b->idx, 3000, b->G, NULL), 0);
    ck_assert_int_eq(emb_scatter_add_parallel(w2, 5000, 8, b->idx, 3000, b->G, 3, NULL),
                     0);
    ck_assert_mem_eq(w2, w1, 5000 * 8 * 4);
    EmbError err;
    ck_assert_int_eq(sparse_sgd_update_parallel(w2, &g, 0.1, 0, &err), -1);
    ck_assert_str_eq(err.msg, "threads 0 is out of range [1, 64]");
    sparse_grad_free(&g);
    free(w), free(w1), free(w2), free(b);
}
END_TEST

/* ------------------------------------------------------------ the program */

START_TEST(program_runs_the_experiments) {
    char *out;
    ck_assert_int_eq(
        test_run(BIN_DIR
                 "/ch06 --out build/tests/ch06-run --steps 400 --skew-max-v 100000",
                 &out),
        0);
    free(out);
    FILE *f = fopen("build/tests/ch06-run/values.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char *v = calloc(1 << 17, 1);
    v[0] = '\n';
    fread(v + 1, 1, (1 << 17) - 2, f);
    fclose(f);
    ck_assert(test_value_of(v, "grad.max_diff") == 0);  // the same linear map
    ck_assert(test_value_of(v, "grad.nnz") == 8);
    double looked = test_value_of(v, "train.looked");  // lazy: moved = looked up
    ck_assert_double_eq_tol(test_value_of(v, "train.sgd.moved"), looked, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "train.adagrad.moved"), looked, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "train.sparseadam.moved"), looked, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "train.sparseadam_lazy_decay.moved"), looked,
                            1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "train.dense_adam.moved"), 28, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "train.sgd_momentum.moved"), 28, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "train.sparseadam_global_decay.moved"), 29, 1e-9);
    ck_assert(test_value_of(v, "train.buffer_last") > 100 * test_value_of(v, "train.buffer_first"));
    ck_assert(test_value_of(v, "train.sgd_dense_sparse_diff") < 1e-4);
    ck_assert(test_value_of(v, "train.sparseadam_row_steps.rare_norm") <
              test_value_of(v, "train.sparseadam.rare_norm"));
    ck_assert(test_value_of(v, "train.sparseadam_global_decay.rare_norm") <
              test_value_of(v, "train.sparseadam_lazy_decay.rare_norm"));
    ck_assert_double_eq_tol(test_value_of(v, "late.t1"), 1.0, 1e-9);
    ck_assert(test_value_of(v, "late.t10") < 0.6 && test_value_of(v, "late.t1000") > 2.4);
    ck_assert_double_eq_tol(test_value_of(v, "late.per_row"), 1.0, 1e-9);
    ck_assert(test_value_of(v, "tied.rows_sum") == 12);
    ck_assert_double_eq_tol(test_value_of(v, "memory.v1e6.adam_gb"), 1.02, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "memory.v1e6.sparse_adam_gb"), 0.77, 1e-9);
    ck_assert_double_eq_tol(test_value_of(v, "memory.rec.sparse_sgd_gb"), 2.56, 1e-9);
    ck_assert(test_value_of(v, "skew.v100000.zipf") <
              0.5 * test_value_of(v, "skew.v100000.uniform"));
    free(v);
    const char *files[] = {"grad-dense.tsv", "touched.tsv", "late.tsv", "memory.tsv",
                           "skew.tsv", "crossover.tsv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "build/tests/ch06-run/%s", files[i]);
        FILE *t = fopen(path, "r");
        ck_assert_msg(t != NULL, "%s", path);
        fclose(t);
    }
}
END_TEST

START_TEST(program_rejects_bad_input) {
    struct { const char *args, *want;
    } cases[] = {
        {"--steps 0",
         "ch06: --steps: expected a whole number in [1, 1000000], got '0'\n"},
        {"--skew-max-v 10",
         "ch06: --skew-max-v: expected a whole number in [1000, 100000000], "
         "got '10'\n"},
        {"--bogus 1", "ch06: unknown option '--bogus' (see --help)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, BIN_DIR "/ch06 --out build/tests/ch06-bad %s",
                 cases[i].args);
        ck_assert_int_eq(test_run(cmd, &out), 1);
        ck_assert_str_eq(out, cases[i].want);
        free(out);
    }
    char *out;
    ck_assert_int_eq(test_run(BIN_DIR "/ch06 --help", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--skew-max-v"));
    free(out);
    // stdout is checked (src/cli.h): a lost --help or run is an error, and a
    // run whose output was lost leaves no folder.
    system("rm -rf build/tests/ch06-full");
    const char *full[] = {
        "{ " BIN_DIR "/ch06 --help > /dev/full; }",
        "{ " BIN_DIR "/ch06 --steps 10 --skew-max-v 1000 --out build/tests/ch06-full "
        "> /dev/full; }",
    };
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        ck_assert_int_eq(test_run(full[i], &out), 1);
        ck_assert_str_eq(out, "ch06: cannot write the output: No space left on device\n");
        free(out);
    }
    struct stat st;
    ck_assert_int_ne(stat("build/tests/ch06-full", &st), 0);
}
END_TEST

static Suite *chapter6_suite(void) {
    Suite *s = suite_create("chapter6");
    TCase *grad = tcase_create("gradient");
    tcase_add_test(grad, backward_keeps_entries_in_order_and_drops_padding);
    tcase_add_test(grad, backward_refuses_what_pytorch_refuses);
    tcase_add_test(grad, backward_passes_accumulate_as_pytorchs_sparse_add);
    tcase_add_test(grad, sparse_and_dense_gradients_are_the_same_linear_map);
    tcase_add_test(grad, sort_order_is_std_sorts);
    tcase_add_test(grad, fast_sort_order_is_the_plain_one);
    tcase_add_test(grad, fast_sort_order_heapsorts_as_std_sort_does);
    tcase_add_test(grad, coalesce_sums_repeats_in_pytorchs_order);
    tcase_add_test(grad, coalesce_edge_cases);
    tcase_add_test(grad, coalesce_keeps_a_coalesced_gradient_as_it_is);
    tcase_add_test(grad, coalesce_keeps_a_row_whose_sum_is_zero);
    suite_add_tcase(s, grad);
    TCase *opt = tcase_create("optimizers");
    tcase_add_test(opt, sparse_sgd_applies_entries_one_by_one);
    tcase_add_test(opt, lazy_optimizers_leave_other_rows_bit_identical);
    tcase_add_test(opt, sparse_momentum_moves_absent_rows_and_its_buffer_grows);
    tcase_add_test(opt, refusals_use_pytorchs_messages);
    tcase_add_test(opt, sparse_adam_checks_its_options);
    tcase_add_test(opt, sparse_adam_row_is_pytorchs_formula);
    tcase_add_test(opt, sparse_adam_steps_match_torch_bit_for_bit);
    tcase_add_test(opt, sparse_adam_row_matches_torch_from_stale_moments);
    tcase_add_test(opt, late_rows_take_long_first_steps);
    tcase_add_test(opt, lazy_and_global_decay);
    suite_add_tcase(s, opt);
    TCase *mem = tcase_create("memory_tying_skew");
    tcase_add_test(mem, memory_from_the_state_accounting);
    tcase_add_test(mem, tied_tables_are_dense);
    tcase_add_test(mem, zipf_draws_and_distinct_rows);
    suite_add_tcase(s, mem);
    TCase *fast = tcase_create("same_bits_faster");
    tcase_add_test(fast, huge_pages_prefetch_and_sorting_keep_the_bits);
    tcase_add_test(fast, threads_owning_rows_keep_the_bits);
    tcase_add_test(fast, fused_sparse_adam_keeps_the_bits);
    suite_add_tcase(s, fast);
    TCase *prog = tcase_create("program");
    tcase_set_timeout(prog, 30);
    tcase_add_test(prog, program_runs_the_experiments);
    tcase_add_test(prog, program_rejects_bad_input);
    suite_add_tcase(s, prog);
    return s;
}

int main(void) { return test_main(chapter6_suite()); }
