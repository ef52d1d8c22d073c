/*
 * test_ch02.c - chapter 2: gradient flow.
 *
 * The claims of the chapter: backward is a scatter-add (repeats add up,
 * other rows get exactly 0), gradients accumulate until zero_grad, an SGD
 * step leaves unlooked-up rows bit for bit alone, the gradient check
 * passes on the model and catches a planted bug, the model and its
 * gradients are PyTorch's, and training beats the unigram baseline by a
 * margin that a table without gradients cannot reach.
 *
 * PyTorch values come from /usr/bin/python3 (torch 1.13):
 *   torch.manual_seed(0); e = nn.Embedding(5, 3); l = nn.Linear(3, 5)
 *   loss = F.cross_entropy(l(e(torch.tensor([1,4,4,0]))), torch.tensor([2,2,3,1]))
 *   loss.backward()
 */
#include <math.h>
#include <sys/stat.h>

#include "testutil.h"
#include "../chapters/02-gradient-flow.h"
#include "../src/corpus.h"
#include "ch03_vectors.h"

static Embedding table_from(const float *w, int64_t V, int64_t D) {
    TorchGenerator gen;
    Embedding e;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(emb_init(&e, V, D, &gen, NULL), 0);
    memcpy(e.weight, w, (size_t)(V * D) * sizeof(float));
    return e;
}

/* ------------------------------------------------------------ backward */

// The facts sheet's example: idx [[1,2],[1,1]] and G rows 1..12.
START_TEST(backward_sums_repeats_and_zeroes_the_rest) {
    const float w[12] = {0};
    Embedding e = table_from(w, 4, 3);
    const int64_t idx[] = {1, 2, 1, 1};
    const float G[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ck_assert_ptr_null(e.grad);
    ck_assert_int_eq(emb_backward(&e, idx, 4, G, NULL), 0);
    ck_assert_ptr_nonnull(e.grad);  // (V, D), allocated by the first backward
    const float want[] = {0, 0, 0, 18, 21, 24, 4, 5, 6, 0, 0, 0};
    for (int i = 0; i < 12; i++) assert_same_float(e.grad[i], want[i]);
    emb_free(&e);
}
END_TEST

START_TEST(backward_accumulates_until_zero_grad) {
    const float w[6] = {0};
    Embedding e = table_from(w, 3, 2);
    const int64_t idx[] = {2};
    const float G[] = {1.5f, -2.0f};
    ck_assert_int_eq(emb_backward(&e, idx, 1, G, NULL), 0);
    ck_assert_int_eq(emb_backward(&e, idx, 1, G, NULL), 0);
    ck_assert_float_eq(e.grad[4], 3.0f);
    ck_assert_float_eq(e.grad[5], -4.0f);
    emb_zero_grad(&e);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(e.grad[i], 0.0f);
    emb_free(&e);
}
END_TEST

// Autograd sums a call's repeats from zero, then adds them to .grad: with
// 1 already there, 2^-24 + 2^-24 = 2^-23 survives (1 + 2^-23 is a float),
// where adding 2^-24 twice to 1 rounds back to 1 each time.
START_TEST(backward_sums_a_call_before_adding_it) {
    const float w[1] = {0};
    Embedding e = table_from(w, 1, 1);
    const int64_t one[] = {0}, two[] = {0, 0};
    const float G1[] = {1.0f}, G2[] = {0x1p-24f, 0x1p-24f};
    ck_assert_int_eq(emb_backward(&e, one, 1, G1, NULL), 0);
    ck_assert_int_eq(emb_backward(&e, two, 2, G2, NULL), 0);
    assert_float_bits(e.grad[0], 0x3f800001);  // torch 1.13
    emb_free(&e);
}
END_TEST

// Three backward calls with repeats and no zero_grad, against torch 1.13's
// .grad after each (tests/ch03_vectors.h).
START_TEST(backward_accumulates_calls_as_torch_does) {
    const float w[ACC_V * ACC_D] = {0};
    Embedding e = table_from(w, ACC_V, ACC_D);
    const int64_t *idx = acc_idx;
    const uint32_t *up = acc_plain_up;
    for (int c = 0; c < ACC_CALLS; c++) {
        float G[8 * ACC_D];
        memcpy(G, up, (size_t)(acc_n[c] * ACC_D) * sizeof(float));
        ck_assert_int_eq(emb_backward(&e, idx, acc_n[c], G, NULL), 0);
        for (int i = 0; i < ACC_V * ACC_D; i++) assert_float_bits(e.grad[i], acc_plain_grad[c][i]);
        idx += acc_n[c], up += acc_n[c] * ACC_D;  // seek to the next call
    }
    emb_free(&e);
}
END_TEST

START_TEST(backward_rejects_bad_index_and_leaves_grad) {
    const float w[6] = {0};
    Embedding e = table_from(w, 3, 2);
    const int64_t idx[] = {0, 3};
    const float G[] = {1, 1, 1, 1};
    EmbError err;
    ck_assert_int_eq(emb_backward(&e, idx, 1, G, NULL), 0);
    ck_assert_int_eq(emb_backward(&e, idx, 2, G, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 3, num_embeddings 3");
    ck_assert_float_eq(e.grad[0], 1.0f);  // the valid first index was not added again
    emb_free(&e);
}
END_TEST

// A refused call changes nothing: a table without a gradient still has none.
START_TEST(backward_refuses_negative_n_and_bad_index_without_allocating) {
    const float w[6] = {0};
    Embedding e = table_from(w, 3, 2);
    const int64_t idx[] = {0, 1}, bad[] = {2, -1};
    const float G[] = {1, 1, 1, 1};
    EmbError err;
    ck_assert_int_eq(emb_backward(&e, idx, -1, G, &err), -1);
    ck_assert_msg(strstr(err.msg, "-1") != NULL, "the message '%s' does not name n = -1", err.msg);
    ck_assert_int_eq(emb_backward(&e, bad, 2, G, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index -1, num_embeddings 3");
    ck_assert_ptr_null(e.grad);
    emb_free(&e);
}
END_TEST

START_TEST(rows_touched_counts_distinct_rows) {
    const float w[20] = {0};
    Embedding e = table_from(w, 10, 2);
    const int64_t idx[] = {3, 3, 9, 0, 3, 9};
    ck_assert_int_eq(emb_rows_touched(&e, idx, 6), 3);
    ck_assert_int_eq(emb_rows_touched(&e, idx, 0), 0);
    emb_free(&e);
}
END_TEST

/* ------------------------------------------------------- cross-entropy */

// Logits of +-1000: exp(1000) overflows, so the loss must subtract each row's
// largest logit first. Values from F.cross_entropy(z, [1, 0]) in torch 1.13.
START_TEST(cross_entropy_does_not_overflow_for_large_logits) {
    const float z[] = {1000, 1001, 999, -1000, -1001, -999};
    const int64_t targets[] = {1, 0};
    float g[6];
    double loss = loss_cross_entropy(z, targets, 2, 3, g);
    ck_assert_msg(isfinite(loss), "loss is %g for logits of 1000", loss);
    ck_assert_double_eq_tol(loss, 0.9076058864593506, 1e-6);
    const double want[] = {0.12236424535512924, -0.1673794984817505, 0.04501529037952423,
                           -0.37763574719429016, 0.04501529037952423, 0.3326205015182495};
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(fabs(g[i] - want[i]) <= 1e-6 + 1e-5 * fabs(want[i]),
                      "dlogits[%d] is %.9g, expected %.9g", i, (double)g[i], want[i]);
    }
}
END_TEST

// One row of 2^20 logits: a sum of that many exponentials kept in float is
// off in the fourth digit; in double it is exact to far below the tolerance.
START_TEST(cross_entropy_accumulates_in_double) {
    enum { V = 1 << 20 };
    float *z = malloc(V * sizeof *z), *g = malloc(V * sizeof *g);
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_nonnull(g);
    long double sum = 0;
    for (int j = 0; j < V; j++) {
        z[j] = -0.5f * (float)(j % 7);
        sum += expl((long double)z[j]);  // the largest logit is 0
    }
    const int64_t target[] = {3};
    double want = (double)(logl(sum) - (long double)z[3]);
    double loss = loss_cross_entropy(z, target, 1, V, g);
    ck_assert_msg(fabs(loss - want) <= 1e-9, "loss is %.12f, expected %.12f", loss, want);
    free(z);
    free(g);
}
END_TEST

/* ----------------------------------------------------------------- SGD */

// torch.optim.SGD([p], lr=0.1), three steps with prescribed gradients: same bits.
START_TEST(sgd_matches_pytorch_bits) {
    float p[] = {0.5f, -1.0f, 2.0f, 0.25f};
    const float g[3][4] = {{.1f, -.2f, 0, .3f}, {-.4f, .05f, .2f, 0}, {.3f, .3f, -.1f, .6f}};
    for (int s = 0; s < 3; s++) sgd_step(p, g[s], 4, 0.1f);
    const uint32_t want[] = {0x3f000000, 0xbf81eb85, 0x3ffeb852, 0x3e23d70a};
    for (int i = 0; i < 4; i++) assert_float_bits(p[i], want[i]);
}
END_TEST

START_TEST(sgd_leaves_rows_not_looked_up_bit_for_bit) {
    TorchGenerator gen;
    NextTokenModel m;
    rng_manual_seed(&gen, 7);
    ck_assert_int_eq(ntm_init(&m, 50, 8, 4, &gen, NULL), 0);
    float *before = malloc(50 * 8 * sizeof(float));
    memcpy(before, m.emb.weight, 50 * 8 * sizeof(float));
    const int64_t inputs[] = {3, 17, 3, 42}, targets[] = {1, 2, 3, 4};
    double loss;
    for (int step = 0; step < 5; step++) {
        ntm_zero_grad(&m);
        ck_assert_int_eq(ntm_forward(&m, inputs, targets, 4, &loss, NULL), 0);
        ck_assert_int_eq(ntm_backward(&m, inputs, 4, NULL), 0);
        ntm_sgd_step(&m, 0.5f);
    }
    for (int64_t k = 0; k < 50; k++) {
        bool looked_up = k == 3 || k == 17 || k == 42;
        bool same = memcmp(before + k * 8, m.emb.weight + k * 8, 8 * sizeof(float)) == 0;
        ck_assert_msg(same != looked_up, "row %lld: looked up %d, unchanged %d", (long long)k, looked_up, same);
    }
    free(before);
    ntm_free(&m);
}
END_TEST

/* --------------------------------------------------------------- model */

START_TEST(model_init_is_pytorch_bits) {
    TorchGenerator gen;
    NextTokenModel m;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(ntm_init(&m, 5, 3, 4, &gen, NULL), 0);
    const uint32_t w[] = {0xbebf9aa4, 0xbe881370, 0xbece853c, 0xbf0a6cdf, 0xbeac8e3e,
                          0x3efe199d, 0x3e83e755, 0x3e8f4554, 0x3cf8bd67, 0xbe978d0b,
                          0x3dc80bd5, 0xbf0a006b, 0xbed597ce, 0xbe986473, 0x3eba81e2};
    const uint32_t b[] = {0x3ead518a, 0xbe83193f, 0xbcaaa83d, 0x3ebd0e68, 0x3f12ef3d};
    for (int i = 0; i < 15; i++) assert_float_bits(m.proj.weight[i], w[i]);
    for (int i = 0; i < 5; i++) assert_float_bits(m.proj.bias[i], b[i]);
    ntm_free(&m);
}
END_TEST

START_TEST(model_loss_and_gradients_match_pytorch) {
    TorchGenerator gen;
    NextTokenModel m;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(ntm_init(&m, 5, 3, 4, &gen, NULL), 0);
    const int64_t inputs[] = {1, 4, 4, 0}, targets[] = {2, 2, 3, 1};
    double loss;
    ck_assert_int_eq(ntm_forward(&m, inputs, targets, 4, &loss, NULL), 0);
    ck_assert_int_eq(ntm_backward(&m, inputs, 4, NULL), 0);
    ck_assert_double_eq_tol(loss, 2.29658413, 2e-6);
    const double emb_grad[] = {0.07771337777376175, 0.08087223023176193, -0.2020307034254074,
                               -0.13857567310333252, -0.09498818218708038, -0.06462857872247696,
                               0, 0, 0, 0, 0, 0,
                               -0.13111498951911926, -0.12179509550333023, 0.002927131950855255};
    const double proj_grad[] = {0.058366984128952026, 0.020680062472820282, -0.4279997646808624,
                                -0.39477255940437317, 0.08850418031215668, 0.4843918979167938,
                                0.10793846845626831, 0.018372012302279472, 0.41470685601234436,
                                0.24089506268501282, -0.15821221470832825, -0.3026717007160187,
                                -0.012427961453795433, 0.030655985698103905, -0.16842734813690186};
    const double bias_grad[] = {0.293734610080719, -0.20275524258613586, -0.36695361137390137,
                                0.14835339784622192, 0.1276208609342575};
    for (int i = 0; i < 15; i++) {
        ck_assert_double_eq_tol(m.emb.grad[i], emb_grad[i], 1e-6 + 1e-5 * fabs(emb_grad[i]));
        ck_assert_double_eq_tol(m.proj.weight_grad[i], proj_grad[i], 1e-6 + 1e-5 * fabs(proj_grad[i]));
    }
    for (int i = 0; i < 5; i++) ck_assert_double_eq_tol(m.proj.bias_grad[i], bias_grad[i], 1e-6 + 1e-5 * fabs(bias_grad[i]));
    // Rows 2 and 3 were not looked up: exactly zero, not merely small.
    for (int i = 6; i < 12; i++) assert_float_bits(m.emb.grad[i], 0);
    ntm_free(&m);
}
END_TEST

START_TEST(model_rejects_bad_targets_and_batches) {
    TorchGenerator gen;
    NextTokenModel m;
    EmbError err;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(ntm_init(&m, 5, 3, 4, &gen, NULL), 0);
    const int64_t inputs[] = {1, 2, 3, 4, 0}, targets[] = {0, 5, 0, 0, 0}, bad_inputs[] = {1, 7};
    double loss;
    ck_assert_int_eq(ntm_forward(&m, inputs, targets, 2, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "Target 5 is out of bounds.");
    ck_assert_int_eq(ntm_forward(&m, inputs, targets, 5, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "batch of 5: expected 1 to 4 rows");
    ck_assert_int_eq(ntm_forward(&m, bad_inputs, targets + 2, 2, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 7, num_embeddings 5");
    ntm_free(&m);
    ck_assert_int_eq(ntm_init(&m, 5, 3, 0, &gen, &err), -1);
    ck_assert_str_eq(err.msg, "batch size must be at least 1, got 0");
}
END_TEST

/* ----------------------------------------------------- gradient check */

// Forward + backward of the model, with the table's scatter done by `scatter`.
static void grads(NextTokenModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
                  bool planted_bug) {
    double loss;
    ntm_zero_grad(m);
    ck_assert_int_eq(ntm_forward(m, inputs, targets, B, &loss, NULL), 0);
    linear_backward(&m->proj, m->x, m->dlogits, B, m->dx);
    if (!planted_bug) {
        ck_assert_int_eq(emb_backward(&m->emb, inputs, B, m->dx, NULL), 0);
        return;
    }
    int64_t D = m->emb.embedding_dim;  // the bug: '=' where backward needs '+='
    for (int64_t i = 0; i < B; i++) memcpy(m->emb.grad + inputs[i] * D, m->dx + i * D, (size_t)D * sizeof(float));
}

START_TEST(gradcheck_passes_on_model_and_catches_planted_bug) {
    TorchGenerator gen;
    NextTokenModel m;
    rng_manual_seed(&gen, 3);
    ck_assert_int_eq(ntm_init(&m, 12, 4, 8, &gen, NULL), 0);
    const int64_t inputs[] = {5, 1, 5, 11, 0, 5, 7, 1}, targets[] = {1, 2, 3, 4, 5, 6, 7, 8};
    NtmBatch batch = {&m, inputs, targets, 8};  // the library's loss function's input
    int64_t all_w[12 * 4], all_p[12 * 4], all_b[12];
    for (int i = 0; i < 48; i++) all_w[i] = all_p[i] = i;
    for (int i = 0; i < 12; i++) all_b[i] = i;

    grads(&m, inputs, targets, 8, false);
    GradcheckResult r = gradcheck_run(m.emb.weight, m.emb.grad, all_w, 48, ntm_batch_loss, &batch, 1e-2f, 1e-4, 1e-2);
    ck_assert_msg(r.passed, "W: max abs err %g", r.max_abs_err);
    ck_assert_int_eq(r.checked, 48);
    r = gradcheck_run(m.proj.weight, m.proj.weight_grad, all_p, 48, ntm_batch_loss, &batch, 1e-2f, 1e-4, 1e-2);
    ck_assert_msg(r.passed, "P: max abs err %g", r.max_abs_err);
    r = gradcheck_run(m.proj.bias, m.proj.bias_grad, all_b, 12, ntm_batch_loss, &batch, 1e-2f, 1e-4, 1e-2);
    ck_assert_msg(r.passed, "b: max abs err %g", r.max_abs_err);

    grads(&m, inputs, targets, 8, true);
    r = gradcheck_run(m.emb.weight, m.emb.grad, all_w, 48, ntm_batch_loss, &batch, 1e-2f, 1e-4, 1e-2);
    ck_assert(!r.passed);
    ck_assert_msg(r.worst / 4 == 5 || r.worst / 4 == 1, "worst entry %lld is not a repeated row", (long long)r.worst);
    ntm_free(&m);
}
END_TEST

/* ------------------------------------------------------------ training */

// Trains on the built-in corpus; with train_table false the table never moves.
// *spread gets category_spread of the final table.
static double train_loss(bool train_table, uint64_t seed, double *spread) {
    Corpus c;
    TorchGenerator gen;
    NextTokenModel m;
    ck_assert_int_eq(corpus_builtin(&c, 0, 2000, NULL), 0);
    rng_manual_seed(&gen, seed);
    enum { B = 32 };
    ck_assert_int_eq(ntm_init(&m, c.vocab_size, 2, B, &gen, NULL), 0);
    int64_t inputs[B], targets[B];
    double loss;
    for (int step = 0; step < 3000; step++) {
        ntm_sample_batch(&gen, c.tokens, c.n_tokens, B, inputs, targets);
        ntm_zero_grad(&m);
        ck_assert_int_eq(ntm_forward(&m, inputs, targets, B, &loss, NULL), 0);
        ck_assert_int_eq(ntm_backward(&m, inputs, B, NULL), 0);
        if (!train_table) emb_zero_grad(&m.emb);  // a table that gets no gradient
        ntm_sgd_step(&m, 0.5f);
    }
    double total = 0.0;
    int64_t n = c.n_tokens - 1;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_int_eq(ntm_forward(&m, c.tokens + i, c.tokens + i + 1, 1, &loss, NULL), 0);
        total += loss;
    }
    *spread = emb_category_spread(m.emb.weight, c.vocab_size, 2, c.category);
    ntm_free(&m);
    corpus_free(&c);
    return total / (double)n;
}

START_TEST(training_beats_baseline_only_with_a_learning_table) {
    Corpus c;
    ck_assert_int_eq(corpus_builtin(&c, 0, 2000, NULL), 0);
    double baseline = corpus_unigram_entropy(&c);
    corpus_free(&c);
    double spread_trained, spread_frozen, spread_again;
    double trained = train_loss(true, 0, &spread_trained), frozen = train_loss(false, 0, &spread_frozen);
    printf("trained %.4f, frozen table %.4f, baseline %.4f\n", trained, frozen, baseline);
    ck_assert_msg(trained < baseline - 0.5, "trained %.4f, baseline %.4f", trained, baseline);
    ck_assert_msg(frozen > baseline - 0.5, "frozen table %.4f also passes (baseline %.4f)", frozen, baseline);
    ck_assert_double_eq(train_loss(true, 0, &spread_again), trained);  // deterministic for a seed
}
END_TEST

// The chapter's figure: words of one category end up close together. The
// random table has no such structure; the trained one does, strongly.
START_TEST(training_groups_words_by_category) {
    double spread_trained, spread_random;
    train_loss(true, 0, &spread_trained);
    train_loss(false, 0, &spread_random);
    printf("same-category / other-category distance: trained %.3f, random %.3f\n", spread_trained,
           spread_random);
    ck_assert_msg(spread_random > 0.8, "random table spread %.3f", spread_random);
    ck_assert_msg(spread_trained < 0.3, "trained table spread %.3f", spread_trained);
}
END_TEST

/* ------------------------------------------------------------- program */

START_TEST(program_is_deterministic_and_writes_its_files) {
    char *a, *b;
    system("rm -rf build/tests/ch02-a build/tests/ch02-b");
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --steps 300 --out build/tests/ch02-a", &a), 0);
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --steps 300 --out build/tests/ch02-b", &b), 0);
    char *wrote_a = strstr(a, "wrote "), *wrote_b = strstr(b, "wrote ");
    ck_assert_msg(wrote_a && wrote_b, "no 'wrote' line in the output:\n%s", a);
    *wrote_a = *wrote_b = '\0';  // the last line names the output folder
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(strstr(a, "gradient check, scatter-add backward"));
    ck_assert_ptr_nonnull(strstr(a, "PASS"));
    ck_assert_ptr_nonnull(strstr(a, "overwriting (planted bug)"));
    ck_assert_ptr_nonnull(strstr(a, "FAIL"));
    free(a);
    free(b);
    ck_assert_int_eq(system("cmp -s build/tests/ch02-a/loss.tsv build/tests/ch02-b/loss.tsv"), 0);
    const char *files[] = {"loss.tsv", "touched.tsv", "trajectory.tsv", "frames.tsv", "categories.tsv"};
    for (int i = 0; i < 5; i++) {
        char path[256];
        struct stat st;
        snprintf(path, sizeof path, "build/tests/ch02-a/%s", files[i]);
        ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "%s missing", path);
    }
}
END_TEST

START_TEST(program_rejects_bad_input) {
    const TestBadRun cases[] = {
        {"--dim 0", "--dim|0|4096"},
        {"--lr -0.1", "--lr|-0.1|1e+06"},
        {"--corpus build/tests/no-such-file.txt", "build/tests/no-such-file.txt|No such file"},
        {"--corpus build/tests/ch02-empty.txt", "build/tests/ch02-empty.txt|no words"},
        {"--sentences 1 --batch 500", "--batch|500|corpus"},
        {"--steps", "--steps|missing"},
    };
    FILE *f = fopen("build/tests/ch02-empty.txt", "w");
    ck_assert_ptr_nonnull(f);
    fputs(" \n\t ,.;\n", f);
    fclose(f);
    test_rejects_bad_input(BIN_DIR "/ch02", "--out build/tests/ch02-bad", cases,
                           sizeof cases / sizeof cases[0]);
}
END_TEST


/* ------------------------------------------------------ the training loop */

// ntm_train is the loop of train_loss above: the same seed gives the same
// table, and it records every step's loss and rows touched.
START_TEST(ntm_train_is_the_training_loop) {
    int64_t tokens[] = {1, 2, 3, 1, 2, 4, 1, 2, 3, 0, 4, 1}, inputs[4], targets[4];
    TorchGenerator g1, g2;
    NextTokenModel a, b;
    double loss[25], by_hand;
    int64_t touched[25];
    NtmTrainConfig cfg = {25, 4, 0.5, true, false};
    NtmTrainLog log = {.loss = loss, .touched = touched};
    EmbError err;
    rng_manual_seed(&g1, 1);
    rng_manual_seed(&g2, 1);
    ck_assert_int_eq(ntm_init(&a, 5, 2, 4, &g1, NULL), 0);
    ck_assert_int_eq(ntm_init(&b, 5, 2, 4, &g2, NULL), 0);
    ck_assert_int_eq(ntm_train(&a, tokens, 12, &g1, &cfg, &log, &err), 0);
    for (int step = 0; step < 25; step++) {  // the same steps, by hand
        ntm_sample_batch(&g2, tokens, 12, 4, inputs, targets);
        ntm_zero_grad(&b);
        ck_assert_int_eq(ntm_forward(&b, inputs, targets, 4, &by_hand, NULL), 0);
        ck_assert_double_eq(loss[step], by_hand);
        ck_assert_int_eq(touched[step], emb_rows_touched(&b.emb, inputs, 4));
        ck_assert_int_eq(ntm_backward(&b, inputs, 4, NULL), 0);
        ntm_sgd_step(&b, 0.5f);
    }
    ck_assert_int_eq(memcmp(a.emb.weight, b.emb.weight, 10 * sizeof(float)), 0);
    double mean = 0.0, eval;  // ntm_eval_loss: the mean over all 11 positions
    for (int i = 0; i < 11; i++) {
        ck_assert_int_eq(ntm_forward(&b, tokens + i, tokens + i + 1, 1, &by_hand, NULL), 0);
        mean += by_hand / 11.0;
    }
    ck_assert_int_eq(ntm_eval_loss(&a, tokens, 12, &eval, NULL), 0);
    ck_assert_double_eq_tol(eval, mean, 1e-6);
    NtmBatch batch = {&b, tokens, tokens + 1, 4};
    ck_assert_int_eq(ntm_forward(&b, tokens, tokens + 1, 4, &by_hand, NULL), 0);
    ck_assert_double_eq(ntm_batch_loss(&batch), by_hand);
    ntm_free(&a);
    ntm_free(&b);
}
END_TEST

// With zero_grad a diverging run stops with a message; without, it runs on
// (chapter 2's lesson) and records the NaN.
START_TEST(ntm_train_stops_when_the_loss_is_not_finite) {
    int64_t tokens[] = {1, 2, 3, 1, 2, 4, 1, 2, 3, 0, 4, 1};
    double loss[40];
    EmbError err;
    for (int zero_grad = 1; zero_grad >= 0; zero_grad--) {
        TorchGenerator gen;
        NextTokenModel m;
        NtmTrainConfig cfg = {40, 4, 1e30, zero_grad, false};
        NtmTrainLog log = {.loss = loss};
        rng_manual_seed(&gen, 0);
        ck_assert_int_eq(ntm_init(&m, 5, 2, 4, &gen, NULL), 0);
        int rc = ntm_train(&m, tokens, 12, &gen, &cfg, &log, &err);
        if (zero_grad) {
            ck_assert_int_eq(rc, -1);
            ck_assert_ptr_nonnull(strstr(err.msg, "the loss is "));
            ck_assert_ptr_nonnull(strstr(err.msg, "try a smaller learning rate (--lr; this run "
                                                  "used 1e+30)"));
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert(!isfinite(loss[39]));
        }
        ntm_free(&m);
    }
    ck_assert_int_eq(loss_check_finite(3, 2.5, 0.1, &err), 0);
    ck_assert_int_eq(loss_check_finite(3, NAN, 0.1, &err), -1);
    ck_assert_str_eq(err.msg, "step 3: the loss is NaN, not a finite number: the steps "
                              "diverged; try a smaller learning rate (--lr; this run used 0.1)");
    ck_assert_int_eq(loss_check_finite(7, INFINITY, 2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "step 7: the loss is inf,"));
}
END_TEST

static Suite *chapter2_suite(void) {
    Suite *s = suite_create("chapter2");
    TCase *backward = tcase_create("backward");
    tcase_add_test(backward, backward_sums_repeats_and_zeroes_the_rest);
    tcase_add_test(backward, backward_accumulates_until_zero_grad);
    tcase_add_test(backward, backward_sums_a_call_before_adding_it);
    tcase_add_test(backward, backward_accumulates_calls_as_torch_does);
    tcase_add_test(backward, backward_rejects_bad_index_and_leaves_grad);
    tcase_add_test(backward, backward_refuses_negative_n_and_bad_index_without_allocating);
    tcase_add_test(backward, rows_touched_counts_distinct_rows);
    suite_add_tcase(s, backward);
    TCase *loss = tcase_create("cross_entropy");
    tcase_add_test(loss, cross_entropy_does_not_overflow_for_large_logits);
    tcase_add_test(loss, cross_entropy_accumulates_in_double);
    suite_add_tcase(s, loss);
    TCase *sgd = tcase_create("sgd");
    tcase_add_test(sgd, sgd_matches_pytorch_bits);
    tcase_add_test(sgd, sgd_leaves_rows_not_looked_up_bit_for_bit);
    suite_add_tcase(s, sgd);
    TCase *model = tcase_create("model");
    tcase_add_test(model, model_init_is_pytorch_bits);
    tcase_add_test(model, model_loss_and_gradients_match_pytorch);
    tcase_add_test(model, model_rejects_bad_targets_and_batches);
    tcase_add_test(model, gradcheck_passes_on_model_and_catches_planted_bug);
    suite_add_tcase(s, model);
    TCase *training = tcase_create("training");
    tcase_set_timeout(training, 120);
    tcase_add_test(training, training_beats_baseline_only_with_a_learning_table);
    tcase_add_test(training, training_groups_words_by_category);
    tcase_add_test(training, program_is_deterministic_and_writes_its_files);
    tcase_add_test(training, program_rejects_bad_input);
    tcase_add_test(training, ntm_train_is_the_training_loop);
    tcase_add_test(training, ntm_train_stops_when_the_loss_is_not_finite);
    suite_add_tcase(s, training);
    return s;
}

int main(void) { return test_main(chapter2_suite()); }
