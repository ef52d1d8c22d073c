/*
 * test_ch01.c - chapter 1: the lookup table.
 *
 * Every claim of the chapter, as a test: the table is PyTorch's (bits and
 * print), a lookup gathers rows and equals the one-hot product, bad input
 * gives PyTorch's message, and the program never leaves a half-written file.
 *
 * The expected prints below are PyTorch 1.13's own output, e.g.
 *   /usr/bin/python3 -c "import torch; torch.manual_seed(0);
 *                        print(torch.nn.Embedding(10, 4).weight)"
 */
#include <math.h>
#include <sys/stat.h>

#include "testutil.h"
#include "../chapters/01-lookup-table.h"
#include "../src/tensor_print.h"

// A fresh table: torch.manual_seed(seed); nn.Embedding(V, D).
static Embedding make_table(uint64_t seed, int64_t V, int64_t D) {
    TorchGenerator gen;
    Embedding e;
    EmbError err;
    rng_manual_seed(&gen, seed);
    ck_assert_msg(emb_init(&e, V, D, &gen, &err) == 0, "%s", err.msg);
    return e;
}

// Asserts that emb_print_weight prints want for the table
// torch.manual_seed(seed); nn.Embedding(V, D).
static void assert_prints(uint64_t seed, int64_t V, int64_t D, const char *want) {
    Embedding e = make_table(seed, V, D);
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    emb_print_weight(f, &e);
    fclose(f);
    ck_assert_str_eq(buf, want);
    free(buf);
    emb_free(&e);
}

// What tensor_print prints for a (rows, cols) matrix (caller frees).
static char *print_tensor(const float *x, int64_t rows, int64_t cols, const char *suffix) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    tensor_print(f, x, rows, cols, suffix);
    fclose(f);
    return buf;
}

/* ---------------------------------------------------------------- init */

// Bits from the facts sheet, section 10.8 (PyTorch 1.13, AVX2 path).
START_TEST(init_matches_pytorch_bits) {
    Embedding e = make_table(0, 10, 4);  // 40 values: two blocks and a tail
    const uint32_t first4[] = {0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d};
    const uint32_t last4[] = {0xbf04a08d, 0xbe9d0855, 0xbfca5e02, 0x3fda734a};
    for (int i = 0; i < 4; i++) {
        assert_float_bits(e.weight[i], first4[i]);
        assert_float_bits(e.weight[36 + i], last4[i]);
    }
    emb_free(&e);

    e = make_table(0, 5, 3);  // 15 values: the double Box-Muller path
    const uint32_t small[] = {0x3fc53f5c, 0xbe963c50, 0xc00b7149, 0x3f1184b6};
    for (int i = 0; i < 4; i++) assert_float_bits(e.weight[i], small[i]);
    emb_free(&e);
}
END_TEST

// Embedding(5,3) leaves a cached normal sample that Embedding(1,1) receives.
START_TEST(init_cached_sample_crosses_tables) {
    TorchGenerator gen;
    Embedding a, b;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(emb_init(&a, 5, 3, &gen, NULL), 0);
    ck_assert_int_eq(emb_init(&b, 1, 1, &gen, NULL), 0);
    ck_assert_float_eq_tol(b.weight[0], 0.1227012f, 5e-8f);
    emb_free(&a);
    emb_free(&b);
}
END_TEST

START_TEST(init_defaults_are_pytorch_defaults) {
    Embedding e = make_table(0, 3, 2);
    ck_assert_int_eq(e.num_embeddings, 3);
    ck_assert_int_eq(e.embedding_dim, 2);
    ck_assert_ptr_null(e.grad);
    ck_assert(e.requires_grad);
    ck_assert(e.owns_weight);
    ck_assert_int_eq(e.padding_idx, EMB_NO_PADDING);
    ck_assert(e.max_norm == EMB_NO_MAX_NORM);
    ck_assert(e.norm_type == 2.0);
    ck_assert(!e.scale_grad_by_freq);
    ck_assert(!e.sparse);
    emb_free(&e);
}
END_TEST

/* --------------------------------------------------------------- print */

START_TEST(print_matches_pytorch_small) {
    assert_prints(0, 10, 4,
        "Parameter containing:\n"
        "tensor([[-1.1258, -1.1524, -0.2506, -0.4339],\n"
        "        [ 0.8487,  0.6920, -0.3160, -2.1152],\n"
        "        [ 0.3223, -1.2633,  0.3500,  0.3081],\n"
        "        [ 0.1198,  1.2377,  1.1168, -0.2473],\n"
        "        [-1.3527, -1.6959,  0.5667,  0.7935],\n"
        "        [ 0.5988, -1.5551, -0.3414,  1.8530],\n"
        "        [-0.2159, -0.7425,  0.5627,  0.2596],\n"
        "        [-0.1740, -0.6787,  0.9383,  0.4889],\n"
        "        [ 1.2032,  0.0845, -1.2001, -0.0048],\n"
        "        [-0.5181, -0.3067, -1.5810,  1.7066]], requires_grad=True)\n");
}
END_TEST

// The small path's table, as the chapter quotes PyTorch printing it.
START_TEST(print_matches_pytorch_small_path) {
    assert_prints(0, 5, 3,
        "Parameter containing:\n"
        "tensor([[ 1.5410, -0.2934, -2.1788],\n"
        "        [ 0.5684, -1.0845, -1.3986],\n"
        "        [ 0.4033,  0.8380, -0.7193],\n"
        "        [-0.4033, -0.5966,  0.1820],\n"
        "        [-0.8567,  1.1006, -1.0712]], requires_grad=True)\n");
}
END_TEST

START_TEST(print_matches_pytorch_summarised) {
    assert_prints(0, 300, 4,
        "Parameter containing:\n"
        "tensor([[-1.1258, -1.1524, -0.2506, -0.4339],\n"
        "        [ 0.8487,  0.6920, -0.3160, -2.1152],\n"
        "        [ 0.3223, -1.2633,  0.3500,  0.3081],\n"
        "        ...,\n"
        "        [ 1.1469, -0.1733,  0.0637, -1.2699],\n"
        "        [-0.6212, -0.2381,  0.0892,  1.8008],\n"
        "        [-2.0627,  0.3222, -1.1390,  1.2418]], requires_grad=True)\n");

    assert_prints(2, 400, 8,  // both dimensions summarised; suffix wraps
        "Parameter containing:\n"
        "tensor([[-1.0408,  0.9166, -1.3042,  ...,  1.1676, -1.0574, -0.1188],\n"
        "        [-0.9078,  0.3452, -0.5713,  ..., -0.7529, -0.2250, -0.4327],\n"
        "        [-1.5071, -0.4586, -0.8480,  ..., -0.0498,  1.0651,  0.8860],\n"
        "        ...,\n"
        "        [ 1.6598, -0.0719,  0.7742,  ..., -0.8551,  0.1746,  0.0207],\n"
        "        [-0.9154, -1.6842,  2.1327,  ..., -0.1805, -0.5703, -1.0628],\n"
        "        [-1.7333,  0.5120, -0.4081,  ...,  0.1068,  0.2520, -0.4321]],\n"
        "       requires_grad=True)\n");
}
END_TEST

START_TEST(print_matches_pytorch_wrapped_rows) {
    assert_prints(1, 3, 12,
        "Parameter containing:\n"
        "tensor([[-1.5256, -0.7502, -0.6540, -1.6095, -0.1002, -0.6092, -0.9798, -1.6091,\n"
        "         -0.7121,  0.3037, -0.7773, -0.2515],\n"
        "        [-0.2223,  1.6871,  0.2284,  0.4676, -0.6970, -1.1608,  0.6995,  0.1991,\n"
        "          0.1991,  0.0457,  0.1530, -0.4757],\n"
        "        [-1.8821, -0.7765,  2.0242, -0.0865,  2.3571, -1.0373,  1.5748, -0.6298,\n"
        "          2.4070,  0.2786,  0.2468,  1.1843]], requires_grad=True)\n");
}
END_TEST

// Scientific notation, whole numbers, zeros and an empty tensor.
START_TEST(print_matches_pytorch_notations) {
    const float sci[] = {1e-5f, 2.0f, 3.0f, -4.0f};
    const float whole[] = {1.0f, 20.0f, -3.0f, 0.0f};
    const float zeros[6] = {0};
    const float mixed[] = {0.0f, 0.5f, 1.25f, -2.0f};
    const float big[] = {1e9f, 1.0f};
    struct { const float *x; int64_t rows, cols; const char *want; } cases[] = {
        {sci, 2, 2, "tensor([[ 1.0000e-05,  2.0000e+00],\n        [ 3.0000e+00, -4.0000e+00]])\n"},
        {whole, 2, 2, "tensor([[ 1., 20.],\n        [-3.,  0.]])\n"},
        {zeros, 2, 3, "tensor([[0., 0., 0.],\n        [0., 0., 0.]])\n"},
        {mixed, 2, 2, "tensor([[ 0.0000,  0.5000],\n        [ 1.2500, -2.0000]])\n"},
        {big, 1, 2, "tensor([[1.0000e+09, 1.0000e+00]])\n"},
        {zeros, 0, 3, "tensor([], size=(0, 3))\n"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *s = print_tensor(cases[c].x, cases[c].rows, cases[c].cols, NULL);
        ck_assert_str_eq(s, cases[c].want);
        free(s);
    }
}
END_TEST

/* -------------------------------------------------------------- lookup */

START_TEST(lookup_gathers_rows_with_duplicates) {
    Embedding e = make_table(0, 10, 4);
    const int64_t idx[] = {0, 4, 4, 9, 0};  // first and last rows, repeats
    float out[5 * 4];
    ck_assert_int_eq(emb_lookup(&e, idx, 5, out, NULL), 0);
    for (int i = 0; i < 5; i++) {
        for (int d = 0; d < 4; d++) {
            assert_same_float(out[i * 4 + d], e.weight[idx[i] * 4 + d]);
        }
    }
    // The output is a copy: changing it leaves the table alone.
    float before = e.weight[4 * 4];
    out[1 * 4] = 123.0f;
    assert_same_float(e.weight[4 * 4], before);
    emb_free(&e);
}
END_TEST

START_TEST(lookup_of_no_indices_is_empty) {
    Embedding e = make_table(0, 3, 2);
    float out[1] = {42.0f};
    ck_assert_int_eq(emb_lookup(&e, NULL, 0, out, NULL), 0);
    ck_assert_float_eq(out[0], 42.0f);  // nothing written
    emb_free(&e);
}
END_TEST

START_TEST(onehot_product_equals_lookup) {
    Embedding e = make_table(3, 50, 7);
    const int64_t idx[] = {49, 0, 17, 17, 3, 25};
    float rows[6 * 7], product[6 * 7];
    ck_assert_int_eq(emb_lookup(&e, idx, 6, rows, NULL), 0);
    ck_assert_int_eq(emb_onehot_matmul(&e, idx, 6, product, NULL), 0);
    for (int i = 0; i < 6 * 7; i++) assert_same_float(rows[i], product[i]);
    emb_free(&e);
}
END_TEST

/* -------------------------------------------------------------- errors */

// The index, the table size and PyTorch's words are all in the message,
// and nothing is written to the output.
START_TEST(bad_index_is_an_error_and_writes_nothing) {
    Embedding e = make_table(0, 10, 2);
    const int64_t too_big[] = {1, 10};
    const int64_t negative[] = {-1};
    float out[4] = {7, 7, 7, 7};
    EmbError err;
    ck_assert_int_eq(emb_lookup(&e, too_big, 2, out, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 10, num_embeddings 10");
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], 7.0f);
    ck_assert_int_eq(emb_lookup(&e, negative, 1, out, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index -1, num_embeddings 10");
    ck_assert_int_eq(emb_onehot_matmul(&e, negative, 1, out, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index -1, num_embeddings 10");
    ck_assert_int_eq(emb_lookup(&e, negative, 1, out, NULL), -1);  // err may be NULL
    emb_free(&e);
}
END_TEST

// emb_check_indices on its own: 0 for good indices (none at all included),
// the first bad index named, and a negative count refused, by the check
// and by the lookup (which then writes nothing).
START_TEST(check_indices_names_the_first_bad_index_and_refuses_negative_n) {
    Embedding e = make_table(0, 10, 2);
    const int64_t good[] = {0, 9, 3}, bad[] = {1, 12, -3};
    EmbError err;
    ck_assert_int_eq(emb_check_indices(&e, good, 3, &err), 0);
    ck_assert_int_eq(emb_check_indices(&e, NULL, 0, &err), 0);
    ck_assert_int_eq(emb_check_indices(&e, bad, 3, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 12, num_embeddings 10");
    err.msg[0] = '\0';
    ck_assert_int_eq(emb_check_indices(&e, good, -1, &err), -1);
    ck_assert_msg(strstr(err.msg, "-1") != NULL, "the message '%s' does not name n = -1", err.msg);
    float out[4] = {7, 7, 7, 7};
    ck_assert_int_eq(emb_lookup(&e, good, -2, out, &err), -1);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], 7.0f);
    ck_assert_int_eq(emb_check_indices(&e, good, -1, NULL), -1);  // err may be NULL
    emb_free(&e);
}
END_TEST

START_TEST(bad_shape_is_an_error) {
    TorchGenerator gen;
    Embedding e;
    EmbError err;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(emb_init(&e, 0, 4, &gen, &err), -1);
    ck_assert_str_eq(err.msg, "num_embeddings must be at least 1, got 0");
    ck_assert_ptr_null(e.weight);
    ck_assert_int_eq(emb_init(&e, 5, -3, &gen, &err), -1);
    ck_assert_str_eq(err.msg, "embedding_dim must be at least 1, got -3");
    ck_assert_int_eq(emb_init(&e, INT64_MAX / 2, 4, &gen, &err), -1);
    ck_assert_str_eq(err.msg, "a table of 4611686018427387903 x 4 float32 values is too large to address");
    // Addressable but far beyond any memory: the allocation fails cleanly.
    ck_assert_int_eq(emb_init(&e, (int64_t)1 << 40, (int64_t)1 << 20, &gen, &err), -1);
    ck_assert_str_eq(err.msg, "cannot allocate a 1099511627776 x 1048576 table (4611686018427387904 bytes)");
}
END_TEST

START_TEST(weight_bytes_is_checked) {
    ck_assert_int_eq(emb_weight_bytes(30522, 768), 93763584);
    ck_assert_int_eq(emb_weight_bytes(50257, 768), 154389504);
    ck_assert_int_eq(emb_weight_bytes(10000000, 64), 2560000000LL);
    ck_assert_int_eq(emb_weight_bytes(0, 3), -1);
    ck_assert_int_eq(emb_weight_bytes(3, 0), -1);
    ck_assert_int_eq(emb_weight_bytes(INT64_MAX, 2), -1);
    ck_assert_int_eq(emb_weight_bytes((int64_t)1 << 31, (int64_t)1 << 30), -1);  // 2^63 bytes
}
END_TEST

/* ------------------------------------------------------------- program */

START_TEST(program_rejects_bad_input_without_writing) {
    char *out;
    const char *dir = "build/tests/ch01-bad";
    system("rm -rf build/tests/ch01-bad");
    int rc = test_run(BIN_DIR "/ch01 --indices 1,99 --hist-vocab 4 --out build/tests/ch01-bad", &out);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(out, "ch01: index out of range in self: index 99, num_embeddings 10"));
    free(out);
    struct stat st;
    char path[256];
    snprintf(path, sizeof path, "%s/table.tsv", dir);
    ck_assert_int_ne(stat(path, &st), 0);  // no output file, not even a partial one

    const TestBadRun cases[] = {
        {"--dim 0", "--dim|0|9223372036854775807"},
        {"--vocab", "--vocab|missing"},
        {"--bogus 1", "--bogus|unknown"},
        {"--indices 1,,2", "--indices|1,,2"},
    };
    test_rejects_bad_input(BIN_DIR "/ch01", "--out build/tests/ch01-bad", cases,
                           sizeof cases / sizeof cases[0]);
}
END_TEST

START_TEST(program_prints_pytorch_table_and_writes_tsv) {
    char *out;
    system("rm -rf build/tests/ch01-run");
    int rc = test_run(BIN_DIR "/ch01 --hist-vocab 100 --hist-dim 16 --out build/tests/ch01-run", &out);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "        [-0.5181, -0.3067, -1.5810,  1.7066]], requires_grad=True)\n"));
    ck_assert_ptr_nonnull(strstr(out, "max |difference| = 0\n"));
    free(out);
    FILE *f = fopen("build/tests/ch01-run/table.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "row\tcol\tvalue\tlookups\n");
    int lines = 0;
    while (fgets(line, sizeof line, f)) lines++;
    fclose(f);
    ck_assert_int_eq(lines, 40);
}
END_TEST


/* ------------------------------------------------ facts quoted in prose */

// The chapter's prose quotes these sizes as facts, typed in; each must be
// what emb_weight_bytes computes, formatted as the prose prints it.
START_TEST(memory_facts_in_the_prose_are_right) {
    FILE *f = fopen("chapters/01-lookup-table.c", "r");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char want[4][64];
    snprintf(want[0], 64, "is %.1f MB", emb_weight_bytes(30522, 768) / 1e6);  // BERT
    snprintf(want[1], 64, "is %.1f MB", emb_weight_bytes(50257, 768) / 1e6);  // GPT-2
    snprintf(want[2], 64, "\n%.2f GB", emb_weight_bytes(10000000, 64) / 1e9);  // 10^7 items
    snprintf(want[3], 64, "$, %.0f million values)", 30522.0 * 768 / 1e6);  // histogram
    ck_assert_int_eq(emb_weight_bytes(50257, 768), 154389504);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(strstr(text, want[i]) != NULL, "the prose does not say '%s'", want[i]);
    }
}
END_TEST

static Suite *chapter1_suite(void) {
    Suite *s = suite_create("chapter1");
    TCase *init = tcase_create("init");
    tcase_add_test(init, init_matches_pytorch_bits);
    tcase_add_test(init, init_cached_sample_crosses_tables);
    tcase_add_test(init, init_defaults_are_pytorch_defaults);
    suite_add_tcase(s, init);
    TCase *print = tcase_create("print");
    tcase_add_test(print, print_matches_pytorch_small);
    tcase_add_test(print, print_matches_pytorch_small_path);
    tcase_add_test(print, print_matches_pytorch_summarised);
    tcase_add_test(print, print_matches_pytorch_wrapped_rows);
    tcase_add_test(print, print_matches_pytorch_notations);
    suite_add_tcase(s, print);
    TCase *lookup = tcase_create("lookup");
    tcase_add_test(lookup, lookup_gathers_rows_with_duplicates);
    tcase_add_test(lookup, lookup_of_no_indices_is_empty);
    tcase_add_test(lookup, onehot_product_equals_lookup);
    suite_add_tcase(s, lookup);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, bad_index_is_an_error_and_writes_nothing);
    tcase_add_test(errors, check_indices_names_the_first_bad_index_and_refuses_negative_n);
    tcase_add_test(errors, bad_shape_is_an_error);
    tcase_add_test(errors, weight_bytes_is_checked);
    tcase_add_test(errors, memory_facts_in_the_prose_are_right);
    suite_add_tcase(s, errors);
    TCase *program = tcase_create("program");
    tcase_set_timeout(program, 30);
    tcase_add_test(program, program_rejects_bad_input_without_writing);
    tcase_add_test(program, program_prints_pytorch_table_and_writes_tsv);
    suite_add_tcase(s, program);
    return s;
}

int main(void) { return test_main(chapter1_suite()); }
