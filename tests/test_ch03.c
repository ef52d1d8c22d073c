/*
 * test_ch03.c - chapter 3: padding and the other knobs.
 *
 * Every example below is from the facts sheet, checked on torch 1.13
 * (shared/reference/pytorch-embedding-facts.md, sections 1, 3 and 4); the
 * conformance files in tests/reference/options.ref check the same options
 * on random data, step by step.
 */
#include <math.h>

#include "testutil.h"
#include "../chapters/03-padding-and-options.h"
#include "ch03_vectors.h"

static EmbeddingOptions padding(int64_t p) {
    EmbeddingOptions o = emb_default_options();
    o.has_padding_idx = true;
    o.padding_idx = p;
    return o;
}

// A table over the caller's buffer (from_pretrained, not frozen).
static Embedding table_over(float *w, int64_t V, int64_t D, EmbeddingOptions o) {
    Embedding e;
    EmbError err;
    ck_assert_msg(emb_from_pretrained(&e, w, V, D, false, &o, &err) == 0, "%s", err.msg);
    return e;
}

static void assert_floats(const float *got, const float *want, int n, double tol) {
    for (int i = 0; i < n; i++) {
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= tol, "value %d: got %.9g, want %.9g", i,
                      (double)got[i], (double)want[i]);
    }
}

// Runs the backward pass with options once, on a table of V = 4 rows of
// D = 3 over w, and asserts every value of its gradient exactly.
static void assert_backward_gives(float *w, EmbeddingOptions o, const int64_t *idx, int64_t n,
                                  const float *G, const float want[12]) {
    Embedding e = table_over(w, 4, 3, o);
    ck_assert_int_eq(emb_backward_opts(&e, idx, n, G, NULL), 0);
    assert_floats(e.grad, want, 12, 0);
    emb_free(&e);
}

/* ------------------------------------------------------------- padding */

START_TEST(padding_row_is_zeroed_and_draws_unchanged) {
    TorchGenerator g1, g2;
    Embedding plain, padded;
    EmbeddingOptions o = padding(1);
    rng_manual_seed(&g1, 0);
    rng_manual_seed(&g2, 0);
    ck_assert_int_eq(emb_init(&plain, 4, 3, &g1, NULL), 0);
    ck_assert_int_eq(emb_init_with_options(&padded, 4, 3, &o, &g2, NULL), 0);
    const float want[] = {1.540996f, -0.293429f, -2.178789f, 0, 0, 0,
                          0.403347f, 0.838026f, -0.719258f, -0.403344f, -0.596635f, 0.182036f};
    assert_floats(padded.weight, want, 12, 5e-7);
    for (int i = 0; i < 12; i++) {
        if (i / 3 == 1) assert_float_bits(padded.weight[i], 0);
        else assert_same_float(padded.weight[i], plain.weight[i]);
    }
    ck_assert_int_eq(padded.padding_idx, 1);
    emb_free(&plain);
    emb_free(&padded);
}
END_TEST

START_TEST(negative_padding_idx_is_normalised) {
    float w[12] = {0};
    Embedding e = table_over(w, 4, 3, padding(-1));
    ck_assert_int_eq(e.padding_idx, 3);
    e = table_over(w, 4, 3, padding(-4));
    ck_assert_int_eq(e.padding_idx, 0);
    e = table_over(w, 4, 3, padding(0));
    ck_assert_int_eq(e.padding_idx, 0);
    e = table_over(w, 4, 3, emb_default_options());
    ck_assert_int_eq(e.padding_idx, EMB_NO_PADDING);
}
END_TEST

START_TEST(padding_idx_out_of_range_is_an_error) {
    float w[12] = {0};
    Embedding e;
    EmbError err;
    EmbeddingOptions o = padding(4);
    ck_assert_int_eq(emb_from_pretrained(&e, w, 4, 3, false, &o, &err), -1);
    ck_assert_str_eq(err.msg, "Padding_idx must be within num_embeddings: padding_idx 4, num_embeddings 4 (valid: -4 to 3)");
    o = padding(-5);
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(emb_init_with_options(&e, 4, 3, &o, &gen, &err), -1);
    ck_assert_str_eq(err.msg, "Padding_idx must be within num_embeddings: padding_idx -5, num_embeddings 4 (valid: -4 to 3)");
    TorchGenerator fresh;  // a refused table draws no random numbers
    rng_manual_seed(&fresh, 0);
    ck_assert_double_eq(rng_uniform_double(&gen), rng_uniform_double(&fresh));
}
END_TEST

// The forward pass returns whatever the padding row holds; backward gives it nothing.
START_TEST(padding_row_is_returned_but_gets_no_gradient) {
    float w[12] = {0, 0, 0, 3, 4, 5, 0, 0, 0, 0, 0, 0};
    Embedding e = table_over(w, 4, 3, padding(1));
    const int64_t idx[] = {1, 2, 1, 1};
    const float G[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    float out[12];
    ck_assert_int_eq(emb_forward(&e, idx, 4, out, NULL), 0);
    const float row1[] = {3, 4, 5};
    assert_floats(out, row1, 3, 0);
    emb_free(&e);
    const float want[] = {0, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0};
    assert_backward_gives(w, padding(1), idx, 4, G, want);
    const int64_t idx3[] = {3, 2, 3};
    assert_backward_gives(w, padding(-1), idx3, 3, G, want);  // -1 is row 3
}
END_TEST

/* ---------------------------------------------------- scale_grad_by_freq */

START_TEST(scale_grad_by_freq_averages_per_call) {
    float w[12] = {0};
    EmbeddingOptions o = emb_default_options();
    o.scale_grad_by_freq = true;
    const int64_t idx[] = {0, 2, 2, 2, 3, 0};
    float G[18];
    for (int i = 0; i < 18; i++) G[i] = (float)(i + 1);
    const float want[] = {8.5f, 9.5f, 10.5f, 0, 0, 0, 7, 8, 9, 13, 14, 15};
    assert_backward_gives(w, o, idx, 6, G, want);

    o.has_padding_idx = true;  // padding is skipped; the other rows do not change
    o.padding_idx = 2;
    const float want_pad[] = {8.5f, 9.5f, 10.5f, 0, 0, 0, 0, 0, 0, 13, 14, 15};
    assert_backward_gives(w, o, idx, 6, G, want_pad);
}
END_TEST

// Counts are per call: e([0,0]) then e([0]) gives row 0 2/2 + 1/1 = 2.
START_TEST(scale_grad_by_freq_counts_each_call) {
    float w[2] = {0};
    EmbeddingOptions o = emb_default_options();
    o.scale_grad_by_freq = true;
    Embedding e = table_over(w, 1, 2, o);
    const int64_t two[] = {0, 0}, one[] = {0};
    const float G[] = {1, 1, 1, 1};
    ck_assert_int_eq(emb_backward_opts(&e, two, 2, G, NULL), 0);
    ck_assert_int_eq(emb_backward_opts(&e, one, 1, G, NULL), 0);
    ck_assert_float_eq(e.grad[0], 2.0f);
    free(e.grad);
}
END_TEST

// Three backward calls with repeats and no zero_grad, with padding_idx and
// with scale_grad_by_freq, against torch 1.13's .grad after each: each call
// is summed from zero, then added (tests/ch03_vectors.h).
START_TEST(backward_opts_accumulates_calls_as_torch_does) {
    struct { const char *name; const uint32_t *up, (*grad)[ACC_V * ACC_D]; bool pad, freq; }
    cases[] = {{"plain", acc_plain_up, acc_plain_grad, false, false},
               {"padding", acc_padding_up, acc_padding_grad, true, false},
               {"freq", acc_freq_up, acc_freq_grad, false, true}};
    for (int k = 0; k < 3; k++) {
        float w[ACC_V * ACC_D] = {0};
        EmbeddingOptions o = cases[k].pad ? padding(ACC_PADDING_IDX) : emb_default_options();
        o.scale_grad_by_freq = cases[k].freq;
        Embedding e = table_over(w, ACC_V, ACC_D, o);
        const int64_t *idx = acc_idx;
        const uint32_t *up = cases[k].up;
        for (int c = 0; c < ACC_CALLS; c++) {
            float G[8 * ACC_D];
            memcpy(G, up, (size_t)(acc_n[c] * ACC_D) * sizeof(float));
            ck_assert_int_eq(emb_backward_opts(&e, idx, acc_n[c], G, NULL), 0);
            for (int i = 0; i < ACC_V * ACC_D; i++)
                ck_assert_msg(test_bits(e.grad[i]) == cases[k].grad[c][i],
                              "%s, call %d, value %d: bits 0x%08x, torch 0x%08x", cases[k].name,
                              c + 1, i, test_bits(e.grad[i]), cases[k].grad[c][i]);
            idx += acc_n[c], up += acc_n[c] * ACC_D;  // seek to the next call
        }
        emb_free(&e);
    }
}
END_TEST

/* ------------------------------------------------------------ max_norm */

static EmbeddingOptions max_norm(double m, double p) {
    EmbeddingOptions o = emb_default_options();
    o.has_max_norm = true;
    o.max_norm = m;
    o.norm_type = p;
    return o;
}

START_TEST(max_norm_renormalises_looked_up_rows_in_place) {
    float w[] = {3, 4, 0.3f, 0.4f, 6, 8, 1, 1};
    Embedding e = table_over(w, 4, 2, max_norm(1.0, 2.0));
    const int64_t idx[] = {0, 0, 1};
    float out[6];
    ck_assert_int_eq(emb_forward(&e, idx, 3, out, NULL), 0);
    assert_same_float(w[0], 0.6000000238f);  // the caller's buffer changed
    assert_same_float(w[1], 0.8000000119f);
    assert_same_float(w[2], 0.3f);  // norm 0.5: untouched
    ck_assert_float_eq(w[4], 6.0f);  // norm 10, but not looked up
    ck_assert_float_eq(w[5], 8.0f);
    assert_same_float(out[0], w[0]);  // the output uses the new rows
    assert_same_float(out[2], w[0]);
    assert_same_float(out[4], 0.3f);
}
END_TEST

START_TEST(max_norm_is_strict) {
    float w[] = {3, 4};
    Embedding e = table_over(w, 1, 2, max_norm(5.0, 2.0));
    const int64_t idx[] = {0};
    ck_assert_int_eq(emb_renorm_(&e, idx, 1, NULL), 0);
    ck_assert_float_eq(w[0], 3.0f);
    ck_assert_float_eq(w[1], 4.0f);
}
END_TEST

START_TEST(max_norm_norm_types) {
    struct { double p; float want[3]; double tol; } cases[] = {
        {1.0, {0.428571f, -0.571429f, 0}, 5e-7},
        {2.0, {0.6f, -0.8f, 0}, 1e-7},
        {3.0, {0.66697f, -0.88930f, 0}, 6e-6},
        {INFINITY, {0.75f, -1.0f, 0}, 0},
        {0.0, {1.4999999f, -1.9999999f, 0}, 1e-7},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float w[] = {3, -4, 0};
        Embedding e = table_over(w, 1, 3, max_norm(1.0, cases[c].p));
        const int64_t idx[] = {0};
        ck_assert_int_eq(emb_renorm_(&e, idx, 1, NULL), 1);
        assert_floats(w, cases[c].want, 3, cases[c].tol);
    }
    float w[] = {3, -4, 0};  // p = inf: the scale is exactly 0.25, so the bits are exact
    Embedding e = table_over(w, 1, 3, max_norm(1.0, INFINITY));
    const int64_t idx[] = {0};
    emb_renorm_(&e, idx, 1, NULL);
    assert_same_float(w[1], -1.0f);
}
END_TEST

// max_norm=1 with the 2-norm on rows of 1 to 70 values, against torch 1.13
// bit for bit: its norm sums eight lanes of fused multiply-adds, then the
// rest (tests/ch03_vectors.h).
START_TEST(max_norm_2_norm_matches_torch_bits) {
    int64_t at = 0;
    for (int r = 0; r < REN_ROWS; r++) {
        int64_t D = ren_d[r];
        float w[80];
        memcpy(w, ren_before + at, (size_t)D * sizeof(float));
        Embedding e = table_over(w, 1, D, max_norm(1.0, 2.0));
        const int64_t idx[] = {0};
        bool moved = memcmp(ren_before + at, ren_after + at, (size_t)D * sizeof(float)) != 0;
        ck_assert_int_eq(emb_renorm_(&e, idx, 1, NULL), moved);
        for (int64_t d = 0; d < D; d++)
            ck_assert_msg(test_bits(w[d]) == ren_after[at + d],
                          "row of %lld values, value %lld: bits 0x%08x, torch 0x%08x",
                          (long long)D, (long long)d, test_bits(w[d]), ren_after[at + d]);
        at += D;
    }
}
END_TEST

// A row looked up three times is rescaled once and counted once. This row's
// norm, once rescaled, still comes out a hair above max_norm in float32, so
// a renorm that visits every position would rescale it again.
START_TEST(max_norm_rescales_each_distinct_row_once) {
    float once[] = {0x1.2f1aap+2f, 0x1.970a3cp+0f, 1, 1}, thrice[4];
    memcpy(thrice, once, sizeof once);
    Embedding a = table_over(once, 2, 2, max_norm(1.0, 2.0));
    Embedding b = table_over(thrice, 2, 2, max_norm(1.0, 2.0));
    const int64_t one[] = {0}, three[] = {0, 0, 0};
    ck_assert_int_eq(emb_renorm_(&a, one, 1, NULL), 1);
    ck_assert(emb_row_norm(once, 2, 2.0) > 1.0);  // why the test can tell
    assert_float_bits(once[0], 0x3f72b02b);          // torch 1.13
    assert_float_bits(once[1], 0x3ea2f41f);
    ck_assert_int_eq(emb_renorm_(&b, three, 3, NULL), 1);
    for (int i = 0; i < 4; i++) assert_same_float(thrice[i], once[i]);
}
END_TEST

// Bad indices and a negative count are refused before any row changes.
START_TEST(max_norm_refuses_bad_index_and_changes_nothing) {
    float w[] = {3, 4, 6, 8};
    Embedding e = table_over(w, 2, 2, max_norm(1.0, 2.0));
    const int64_t idx[] = {0, 1, 2};
    EmbError err;
    ck_assert_int_eq(emb_renorm_(&e, idx, 3, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 2, num_embeddings 2");
    ck_assert_int_eq(emb_renorm_(&e, idx, -1, &err), -1);
    float out[4];
    ck_assert_int_eq(emb_forward(&e, idx, 3, out, &err), -1);
    const float unchanged[] = {3, 4, 6, 8};
    assert_floats(w, unchanged, 4, 0);
}
END_TEST

START_TEST(max_norm_does_not_skip_the_padding_row) {
    float w[] = {6, 8, 0, 0};
    EmbeddingOptions o = max_norm(1.0, 2.0);
    o.has_padding_idx = true;
    o.padding_idx = 0;
    Embedding e = table_over(w, 2, 2, o);
    const int64_t idx[] = {0, 1};
    float out[4];
    ck_assert_int_eq(emb_forward(&e, idx, 2, out, NULL), 0);
    const float want[] = {0.6f, 0.8f, 0, 0};
    assert_floats(w, want, 4, 1e-7);
}
END_TEST

// The gradient is the plain scatter, as if the rescaled rows had always been there.
START_TEST(max_norm_passes_no_gradient) {
    float w[] = {3, 4, 1, 0};
    Embedding e = table_over(w, 2, 2, max_norm(1.0, 2.0));
    const int64_t idx[] = {0};
    const float G[] = {1, 1};
    float out[2];
    ck_assert_int_eq(emb_forward(&e, idx, 1, out, NULL), 0);
    ck_assert_int_eq(emb_backward_opts(&e, idx, 1, G, NULL), 0);
    const float want[] = {1, 1, 0, 0};
    assert_floats(e.grad, want, 4, 0);
    free(e.grad);
}
END_TEST

START_TEST(bad_options_are_errors) {
    float w[4] = {0};
    Embedding e;
    EmbError err;
    EmbeddingOptions o = max_norm(-1.0, 2.0);
    ck_assert_int_eq(emb_from_pretrained(&e, w, 2, 2, true, &o, &err), -1);
    ck_assert_str_eq(err.msg, "max_norm must be a finite number >= 0, got -1");
    o = max_norm(1.0, -2.0);
    ck_assert_int_eq(emb_from_pretrained(&e, w, 2, 2, true, &o, &err), -1);
    ck_assert_str_eq(err.msg, "norm_type must be a number >= 0 or inf, got -2");
    o = max_norm(1.0, NAN);
    ck_assert_int_eq(emb_from_pretrained(&e, w, 2, 2, true, &o, &err), -1);
    ck_assert_str_eq(err.msg, "norm_type must be a number >= 0 or inf, got nan");
    o = emb_default_options();
    ck_assert_int_eq(emb_from_pretrained(&e, w, 0, 2, true, &o, &err), -1);
    ck_assert_str_eq(err.msg, "Embeddings parameter is expected to be 2-dimensional with positive sizes, got (0, 2)");
}
END_TEST

/* ------------------------------------------------------ from_pretrained */

START_TEST(from_pretrained_shares_storage_and_keeps_padding_row) {
    float w[] = {1, 2, 3, 4};
    EmbeddingOptions o = padding(1);
    Embedding e;
    ck_assert_int_eq(emb_from_pretrained(&e, w, 2, 2, false, &o, NULL), 0);
    ck_assert_ptr_eq(e.weight, w);
    ck_assert(!e.owns_weight);
    ck_assert_float_eq(w[2], 3.0f);  // the padding row is not zeroed
    const int64_t idx[] = {0};
    const float G[] = {1, 1};
    ck_assert_int_eq(emb_backward_opts(&e, idx, 1, G, NULL), 0);
    sgd_step(e.weight, e.grad, 4, 0.5f);  // one SGD step, lr 0.5, grad 1
    ck_assert_float_eq(w[0], 0.5f);  // the caller's tensor was trained
    ck_assert_float_eq(w[1], 1.5f);
    emb_free(&e);  // frees the gradient, not the caller's buffer
    ck_assert_float_eq(w[3], 4.0f);
}
END_TEST

// Options change what backward adds, never what it accepts: a frozen table
// and a table with every option still refuse bad indices and n < 0.
START_TEST(backward_opts_refuses_bad_input_even_when_frozen) {
    float w[6] = {0};
    EmbeddingOptions o = padding(0);
    o.scale_grad_by_freq = true;
    const int64_t bad[] = {1, 3}, idx[] = {1};
    const float G[] = {1, 1, 1, 1};
    EmbError err;
    for (int frozen = 0; frozen < 2; frozen++) {
        Embedding e;
        ck_assert_int_eq(emb_from_pretrained(&e, w, 3, 2, frozen, &o, NULL), 0);
        ck_assert_int_eq(emb_backward_opts(&e, bad, 2, G, &err), -1);
        ck_assert_str_eq(err.msg, "index out of range in self: index 3, num_embeddings 3");
        ck_assert_int_eq(emb_backward_opts(&e, idx, -1, G, &err), -1);
        ck_assert_ptr_null(e.grad);  // nothing was allocated for a refused call
        emb_free(&e);
    }
}
END_TEST

START_TEST(frozen_table_never_changes) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    float w[6 * 2];
    for (int i = 0; i < 12; i++) w[i] = (float)i / 7.0f;
    float before[12];
    memcpy(before, w, sizeof w);
    EmbeddingOptions o = padding(-1);
    Embedding table;
    ck_assert_int_eq(emb_from_pretrained(&table, w, 6, 2, true, &o, NULL), 0);
    ck_assert(!table.requires_grad);
    ContextModel m;
    ck_assert_int_eq(cm_init(&m, &table, 5, 2, 3, &gen, NULL), 0);
    const int64_t win[] = {5, 5, 1, 2, 3, 4}, len[] = {1, 3}, tgt[] = {0, 4};
    float proj_before = m.proj.weight[0];
    for (int step = 0; step < 20; step++) {
        double loss;
        cm_zero_grad(&m);
        ck_assert_int_eq(cm_forward(&m, win, len, tgt, 2, &loss, NULL), 0);
        ck_assert_int_eq(cm_backward(&m, win, len, 2, NULL), 0);
        cm_sgd_step(&m, 0.5f);
    }
    ck_assert_int_eq(memcmp(w, before, sizeof w), 0);
    ck_assert_ptr_null(m.emb.grad);  // no gradient was even allocated
    ck_assert(m.proj.weight[0] != proj_before);  // the projection did learn
    cm_free(&m);
}
END_TEST

/* ------------------------------------------------------- context model */

START_TEST(padding_row_unchanged_after_training) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 1);
    EmbeddingOptions o = padding(-1);
    Embedding table;
    ck_assert_int_eq(emb_init_with_options(&table, 8, 4, &o, &gen, NULL), 0);
    ContextModel m;
    ck_assert_int_eq(cm_init(&m, &table, 7, 4, 3, &gen, NULL), 0);
    const int64_t win[] = {7, 7, 1, 7, 1, 2, 1, 2, 3, 7, 7, 6}, len[] = {1, 2, 3, 1},
                  tgt[] = {2, 3, 4, 0};
    float row0[4];
    memcpy(row0, m.emb.weight, sizeof row0);
    for (int step = 0; step < 200; step++) {
        double loss;
        cm_zero_grad(&m);
        ck_assert_int_eq(cm_forward(&m, win, len, tgt, 4, &loss, NULL), 0);
        ck_assert_int_eq(cm_backward(&m, win, len, 4, NULL), 0);
        cm_sgd_step(&m, 0.5f);
    }
    for (int d = 0; d < 4; d++) assert_float_bits(m.emb.weight[7 * 4 + d], 0);
    ck_assert_int_eq(memcmp(row0, m.emb.weight, sizeof row0), 0);  // row 0 never looked up
    ck_assert(m.emb.weight[6 * 4] != 0.0f);
    cm_free(&m);
}
END_TEST

// The mean divides by the real length: a window [pad, pad, a] pools to row a.
START_TEST(masked_mean_divides_by_real_length) {
    float w[] = {1, 2, 3, 5, 0, 0};
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    EmbeddingOptions o = padding(2);
    Embedding table;
    ck_assert_int_eq(emb_from_pretrained(&table, w, 3, 2, true, &o, NULL), 0);
    ContextModel m;
    ck_assert_int_eq(cm_init(&m, &table, 3, 2, 3, &gen, NULL), 0);
    const int64_t win[] = {2, 2, 1, 2, 0, 1}, len[] = {1, 2}, tgt[] = {0, 0};
    double loss;
    ck_assert_int_eq(cm_forward(&m, win, len, tgt, 2, &loss, NULL), 0);
    const float want[] = {3, 5, 2, 3.5f};
    assert_floats(m.x, want, 4, 0);
    cm_free(&m);
}
END_TEST

/* ------------------------------------------------------------- program */

START_TEST(program_shows_every_knob) {
    char *out;
    system("rm -rf build/tests/ch03-run build/tests/ch03-none");  // left by an older program
    int rc = test_run(BIN_DIR "/ch03 --steps 300 --pretrain-steps 300 --out build/tests/ch03-run", &out);
    ck_assert_int_eq(rc, 0);
    const char *runs[] = {"trainable", "max_norm", "scale_grad_by_freq", "frozen-random",
                          "frozen-pretrained", "fine-tuned"};
    for (int r = 0; r < 6; r++) ck_assert_msg(strstr(out, runs[r]) != NULL, "run %s missing", runs[r]);
    ck_assert_ptr_null(strstr(out, "MOVED"));
    ck_assert_ptr_null(strstr(out, "CHANGED"));
    ck_assert_ptr_nonnull(strstr(out, "table unchanged (frozen)"));
    ck_assert_ptr_nonnull(strstr(out, "the first forward pass rescaled"));
    free(out);
    rc = test_run(BIN_DIR "/ch03 --steps 50 --pretrain-steps 10 --padding-idx none --out build/tests/ch03-none", &out);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "padding row MOVED"));  // without padding_idx it learns
    free(out);
}
END_TEST

START_TEST(program_rejects_bad_input) {
    const TestBadRun cases[] = {
        {"--padding-idx 30",
         "Padding_idx must be within num_embeddings: padding_idx 30, num_embeddings 30 (valid: -30 to 29)"},
        {"--max-norm -1",
         "--max-norm: expected a number in [0, inf), got '-1'"},
        {"--max-norm inf",
         "--max-norm: expected a finite number in [0, inf), got 'inf'"},
        {"--norm-type -2",
         "--norm-type: expected a number in [0, inf], got '-2'"},
        {"--norm-type two",
         "--norm-type: expected a number in [0, inf], got 'two'"},
        {"--norm-type nan",
         "--norm-type: expected a number in [0, inf], got 'nan'"},
        {"--context 0",
         "--context: expected a whole number in [1, 64], got '0'"},
    };
    test_rejects_bad_input(BIN_DIR "/ch03", "--out build/tests/ch03-bad", cases,
                           sizeof cases / sizeof cases[0]);
}
END_TEST


/* ------------------------------------------------- windows and measures */

// Two sentences "a b c ." and "d e .": windows of 3 never reach back past a
// ".", and are left-padded with the padding row.
START_TEST(windows_stay_in_their_sentence) {
    int64_t tokens[] = {1, 2, 3, 0, 4, 5, 0}, pad = 9;  // 0 is "."
    Windows w;
    EmbError err;
    ck_assert_int_eq(windows_make(tokens, 7, 0, 3, pad, &w, &err), 0);
    ck_assert_int_eq(w.n, 6);
    int64_t want[6][3] = {{9, 9, 1}, {9, 1, 2}, {1, 2, 3}, {2, 3, 0}, {9, 9, 4}, {9, 4, 5}};
    int64_t lengths[6] = {1, 2, 3, 3, 1, 2}, targets[6] = {2, 3, 0, 4, 5, 0};
    for (int p = 0; p < 6; p++) {
        for (int t = 0; t < 3; t++) ck_assert_int_eq(w.tokens[p * 3 + t], want[p][t]);
        ck_assert_int_eq(w.lengths[p], lengths[p]);
        ck_assert_int_eq(w.targets[p], targets[p]);
    }
    TorchGenerator gen;
    int64_t win[2 * 3], len[2], tgt[2];
    rng_manual_seed(&gen, 0);
    windows_sample(&w, &gen, 2, win, len, tgt);
    for (int b = 0; b < 2; b++) {  // each sampled window is one of the windows
        bool found = false;
        for (int p = 0; p < 6; p++) {
            found |= memcmp(win + b * 3, w.tokens + p * 3, sizeof(int64_t) * 3) == 0 &&
                     len[b] == w.lengths[p] && tgt[b] == w.targets[p];
        }
        ck_assert(found);
    }
    windows_free(&w);
    ck_assert_int_eq(windows_make(tokens, 1, 0, 3, pad, &w, &err), -1);
    ck_assert_int_eq(windows_make(tokens, 7, 0, INT64_MAX / 2, pad, &w, &err), -1);
}
END_TEST

// emb_count_renorm counts exactly the rows emb_renorm_ rescales, and
// changes nothing.
START_TEST(count_renorm_counts_without_changing) {
    float w[] = {3, 4, 0.6f, 0.8f, 0, 0, 1, 1}, copy[8];
    EmbeddingOptions o = emb_default_options();
    o.has_max_norm = true;
    o.max_norm = 1.0;
    Embedding e = table_over(w, 4, 2, o);
    int64_t idx[] = {0, 0, 1, 2, 3, 3};
    memcpy(copy, w, sizeof w);
    EmbError err;
    ck_assert_int_eq(emb_count_renorm(&e, idx, 6, &err), 2);  // rows 0 and 3
    ck_assert_int_eq(memcmp(copy, w, sizeof w), 0);
    ck_assert_int_eq(emb_renorm_(&e, idx, 6, &err), 2);
    int64_t bad[] = {4};
    ck_assert_int_eq(emb_count_renorm(&e, bad, 1, &err), -1);
    e.max_norm = EMB_NO_MAX_NORM;
    ck_assert_int_eq(emb_count_renorm(&e, idx, 6, &err), 0);
    double mean, max;
    float v[] = {3, 4, 0, 0, 6, 8};
    Embedding n = table_over(v, 3, 2, emb_default_options());
    emb_norm_stats(&n, 1, &mean, &max);  // row 1 left out
    ck_assert_double_eq_tol(mean, 7.5, 1e-6);
    ck_assert_double_eq_tol(max, 10.0, 1e-6);
}
END_TEST

// The three sources: a fresh table and a copy of the same draw hold the
// same rows; a pre-trained table holds the given rows in the caller's buffer.
START_TEST(make_table_from_each_source) {
    TorchGenerator g1, g2;
    Embedding fresh, copy, given;
    float *own1 = NULL, *own2 = NULL, rows[6] = {1, 2, 3, 4, 5, 6};
    EmbeddingOptions o = emb_default_options();
    EmbError err;
    rng_manual_seed(&g1, 3);
    rng_manual_seed(&g2, 3);
    ck_assert_int_eq(emb_make_table(&fresh, TABLE_FRESH, 3, 2, NULL, false, &o, &g1, &own1,
                                    &err), 0);
    ck_assert_ptr_null(own1);
    ck_assert_int_eq(emb_make_table(&copy, TABLE_RANDOM_COPY, 3, 2, NULL, true, &o, &g2, &own1,
                                    &err), 0);
    ck_assert_ptr_eq(copy.weight, own1);
    ck_assert(!copy.requires_grad);
    ck_assert_int_eq(memcmp(fresh.weight, copy.weight, 6 * sizeof(float)), 0);
    ck_assert_int_eq(emb_make_table(&given, TABLE_PRETRAINED, 3, 2, rows, false, &o, &g1, &own2,
                                    &err), 0);
    ck_assert_ptr_eq(given.weight, own2);
    ck_assert_int_eq(memcmp(given.weight, rows, sizeof rows), 0);
    emb_free(&fresh), emb_free(&copy), emb_free(&given);
    free(own1), free(own2);
}
END_TEST

// cm_train records every step, keeps the padding row, and stops with a
// message when the loss stops being finite.
START_TEST(cm_train_logs_and_stops_when_diverging) {
    int64_t tokens[] = {1, 2, 3, 0, 4, 5, 0, 1, 2, 0};
    Windows w;
    ck_assert_int_eq(windows_make(tokens, 10, 0, 2, 6, &w, NULL), 0);
    for (int diverge = 0; diverge < 2; diverge++) {
        TorchGenerator gen;
        Embedding table;
        ContextModel m;
        CmTrainLog log;
        EmbError err;
        NtmTrainConfig cfg = {30, 4, diverge ? 1e30 : 0.1, true, false};
        rng_manual_seed(&gen, 0);
        ck_assert_int_eq(emb_init_with_options(&table, 7, 2, &(EmbeddingOptions){
            .has_padding_idx = true, .padding_idx = 6, .norm_type = 2.0}, &gen, NULL), 0);
        ck_assert_int_eq(cm_init(&m, &table, 6, 4, 2, &gen, NULL), 0);
        ck_assert_int_eq(cm_log_init(&log, cfg.steps, NULL, NULL), 0);
        int rc = cm_train(&m, &w, &gen, &cfg, 6, &log, &err);
        if (diverge) {
            ck_assert_int_eq(rc, -1);
            ck_assert_ptr_nonnull(strstr(err.msg, "not a finite number: the steps diverged"));
        } else {
            ck_assert_msg(rc == 0, "%s", err.msg);
            ck_assert(log.pad_unchanged && !log.table_unchanged);
            ck_assert(isfinite(log.final_loss) && log.final_loss > 0);
            for (int s = 0; s <= cfg.steps; s++) ck_assert(log.mean_norm[s] > 0);
        }
        cm_log_free(&log);
        cm_free(&m);
    }
    windows_free(&w);
}
END_TEST

static Suite *chapter3_suite(void) {
    Suite *s = suite_create("chapter3");
    TCase *pad = tcase_create("padding");
    tcase_add_test(pad, padding_row_is_zeroed_and_draws_unchanged);
    tcase_add_test(pad, negative_padding_idx_is_normalised);
    tcase_add_test(pad, padding_idx_out_of_range_is_an_error);
    tcase_add_test(pad, padding_row_is_returned_but_gets_no_gradient);
    suite_add_tcase(s, pad);
    TCase *freq = tcase_create("scale_grad_by_freq");
    tcase_add_test(freq, scale_grad_by_freq_averages_per_call);
    tcase_add_test(freq, scale_grad_by_freq_counts_each_call);
    tcase_add_test(freq, backward_opts_accumulates_calls_as_torch_does);
    suite_add_tcase(s, freq);
    TCase *norm = tcase_create("max_norm");
    tcase_add_test(norm, max_norm_renormalises_looked_up_rows_in_place);
    tcase_add_test(norm, max_norm_is_strict);
    tcase_add_test(norm, max_norm_rescales_each_distinct_row_once);
    tcase_add_test(norm, max_norm_refuses_bad_index_and_changes_nothing);
    tcase_add_test(norm, max_norm_norm_types);
    tcase_add_test(norm, max_norm_2_norm_matches_torch_bits);
    tcase_add_test(norm, max_norm_does_not_skip_the_padding_row);
    tcase_add_test(norm, max_norm_passes_no_gradient);
    tcase_add_test(norm, bad_options_are_errors);
    suite_add_tcase(s, norm);
    TCase *pre = tcase_create("pretrained");
    tcase_add_test(pre, from_pretrained_shares_storage_and_keeps_padding_row);
    tcase_add_test(pre, backward_opts_refuses_bad_input_even_when_frozen);
    tcase_add_test(pre, frozen_table_never_changes);
    suite_add_tcase(s, pre);
    TCase *model = tcase_create("model");
    tcase_set_timeout(model, 60);
    tcase_add_test(model, padding_row_unchanged_after_training);
    tcase_add_test(model, masked_mean_divides_by_real_length);
    tcase_add_test(model, program_shows_every_knob);
    tcase_add_test(model, program_rejects_bad_input);
    tcase_add_test(model, windows_stay_in_their_sentence);
    tcase_add_test(model, count_renorm_counts_without_changing);
    tcase_add_test(model, make_table_from_each_source);
    tcase_add_test(model, cm_train_logs_and_stops_when_diverging);
    suite_add_tcase(s, model);
    return s;
}

int main(void) { return test_main(chapter3_suite()); }
