/*
 * test_ch05.c - chapter 5's claims: the tie and its invariants, the two
 * gradient paths and their sum, the gradient check per path, one parameter
 * with one state (the doubled list refused, and measured), zero_grad, the
 * padding row, max_norm on a tied table, parameter counts, the fortunes
 * loader, training runs and the program.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../chapters/05-weight-tying.h"
#include "../src/reffile.h"
#include "testutil.h"

enum { V = 7, D = 3, B = 6 };
static const int64_t IN[B] = {1, 2, 1, 4, 0, 5}, TGT[B] = {2, 1, 4, 5, 3, 1};

// A model of V x D from seed 0: tied or not, with a bias or not.
static void make(LangModel *m, bool tied, bool bias, bool hidden) {
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.tied = tied, o.bias = bias, o.hidden = hidden;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(lm_init(m, V, D, &o, B, &gen, NULL), 0);
}

// One forward and backward of the test batch from zeroed gradients.
static void step(LangModel *m) {
    double loss;
    lm_zero_grad(m);
    ck_assert_int_eq(lm_forward(m, IN, TGT, B, &loss, NULL), 0);
    ck_assert_int_eq(lm_backward(m, IN, B, NULL), 0);
}

/* ------------------------------------------------------------ the tie */

START_TEST(tie_shares_weight_and_gradient) {
    LangModel m;
    make(&m, true, false, false);
    ck_assert(m.tied && m.proj.shares_weight);
    ck_assert_ptr_eq(m.proj.weight, m.emb.weight);
    ck_assert_ptr_eq(m.proj.weight_grad, m.emb.grad);
    ck_assert_ptr_null(m.proj.bias);
    step(&m);
    ck_assert_ptr_eq(m.proj.weight_grad, m.emb.grad);   // still, after a backward pass
    ck_assert_int_eq(emb_alloc_grad(&m.emb, NULL), 0);  // never replaces the buffer
    ck_assert_ptr_eq(m.proj.weight_grad, m.emb.grad);
    lm_free(&m);  // frees the shared buffers once (ASan would see a double free)
}
END_TEST

START_TEST(tie_needs_the_gradient_first) {
    LangModel m;
    EmbError err;
    make(&m, false, true, false);
    float *own = m.proj.weight;
    free(m.emb.grad);
    m.emb.grad = NULL;  // a table whose gradient does not exist yet
    ck_assert_int_eq(lm_tie(&m, &err), -1);
    ck_assert_str_eq(err.msg,
                     "cannot tie: the table has no gradient buffer yet; allocate it "
                     "(emb_alloc_grad) before the tie, or the projection keeps a "
                     "stale gradient pointer");
    ck_assert(!m.tied && !m.proj.shares_weight && m.proj.weight == own);  // untouched
    ck_assert_int_eq(emb_alloc_grad(&m.emb, NULL), 0);
    ck_assert_int_eq(lm_tie(&m, &err), 0);
    ck_assert(m.tied && m.proj.weight == m.emb.weight &&
              m.proj.weight_grad == m.emb.grad);
    ck_assert_ptr_nonnull(m.proj.bias);  // the bias stays the projection's
    lm_free(&m);
}
END_TEST

START_TEST(tie_needs_matching_shapes) {
    LangModel m;
    EmbError err;
    make(&m, false, false, false);
    Linear own = m.proj, wrong;
    TorchGenerator gen;
    rng_manual_seed(&gen, 1);
    ck_assert_int_eq(linear_init(&wrong, D, V + 1, &gen, NULL), 0);
    m.proj = wrong;
    ck_assert_int_eq(lm_tie(&m, &err), -1);
    ck_assert_str_eq(err.msg,
                     "cannot tie nn.Linear(3, 8) to a table of 7 x 3: the "
                     "projection must be nn.Linear(D, V)");
    ck_assert(!m.tied && !m.proj.shares_weight);
    linear_free(&m.proj);
    m.proj = own;
    lm_free(&m);
}
END_TEST

START_TEST(tied_and_untied_start_from_the_same_draws) {
    LangModel t, u;
    make(&t, true, true, false);
    make(&u, false, true, false);
    ck_assert_mem_eq(t.emb.weight, u.emb.weight, V * D * sizeof(float));
    ck_assert_mem_eq(t.proj.bias, u.proj.bias,
                     V * sizeof(float));  // drawn after the weight
    ck_assert(memcmp(u.proj.weight, u.emb.weight, V * D * sizeof(float)) != 0);
    TorchGenerator a, b;
    rng_manual_seed(&a, 2), rng_manual_seed(&b, 2);
    lm_init_uniform(&t, 0.1, &a);
    lm_init_uniform(&u, 0.1, &b);
    ck_assert_mem_eq(t.emb.weight, u.emb.weight, V * D * sizeof(float));
    for (int k = 0; k < V * D; k++) ck_assert(fabsf(u.proj.weight[k]) <= 0.1f);
    for (int k = 0; k < V; k++)
        ck_assert(t.proj.bias[k] == 0.0f && u.proj.bias[k] == 0.0f);
    lm_free(&t);
    lm_free(&u);
}
END_TEST

/* ------------------------------------------------ two paths, one gradient */

START_TEST(tied_gradient_is_the_sum_of_the_paths) {
    LangModel m;
    make(&m, true, false, false);
    step(&m);
    for (int k = 0; k < V * D; k++)  // bit for bit, as PyTorch's autograd adds them
        ck_assert(m.emb.grad[k] == m.grad_emb_path[k] + m.grad_proj_path[k]);
    // The embedding path reaches only looked-up rows (row 3 and 6 never are);
    // the projection path every row.
    ck_assert_int_eq(grad_rows_nonzero(m.grad_emb_path, V, D), 5);
    for (int k = 0; k < D; k++) ck_assert(m.grad_emb_path[3 * D + k] == 0.0f);
    ck_assert_int_eq(grad_rows_nonzero(m.grad_proj_path, V, D), V);
    ck_assert_int_eq(grad_rows_nonzero(m.emb.grad, V, D), V);
    lm_free(&m);
}
END_TEST

START_TEST(untied_paths_go_to_their_own_parameters) {
    LangModel m;
    make(&m, false, true, true);  // with the hidden layer too
    step(&m);
    ck_assert_mem_eq(m.emb.grad, m.grad_emb_path, V * D * sizeof(float));
    ck_assert_mem_eq(m.proj.weight_grad, m.grad_proj_path, V * D * sizeof(float));
    ck_assert_int_eq(grad_rows_nonzero(m.emb.grad, V, D),
                     emb_rows_touched(&m.emb, IN, B));
    lm_free(&m);
}
END_TEST

START_TEST(each_path_alone_fails_the_gradient_check) {
    for (int hidden = 0; hidden < 2; hidden++) {
        LangModel m;
        GradcheckResult r;
        make(&m, true, true, hidden);
        ck_assert_int_eq(lm_gradcheck(&m, IN, TGT, B, LM_GRAD_SUM, &r, NULL), 0);
        ck_assert_msg(r.passed, "sum: max abs err %g", r.max_abs_err);
        ck_assert_int_eq(r.checked, V * D);
        ck_assert_int_eq(lm_gradcheck(&m, IN, TGT, B, LM_GRAD_EMB_PATH, &r, NULL), 0);
        ck_assert(!r.passed && r.max_abs_err > 0.01);
        ck_assert_int_eq(lm_gradcheck(&m, IN, TGT, B, LM_GRAD_PROJ_PATH, &r, NULL), 0);
        ck_assert(!r.passed && r.max_abs_err > 0.01);
        lm_free(&m);
    }
}
END_TEST

START_TEST(zero_grad_clears_both_paths) {
    LangModel m;
    make(&m, true, true, false);
    step(&m);
    float once[V * D];
    memcpy(once, m.emb.grad, sizeof once);
    double loss;
    ck_assert_int_eq(lm_forward(&m, IN, TGT, B, &loss, NULL), 0);  // no zero_grad
    ck_assert_int_eq(lm_backward(&m, IN, B, NULL), 0);
    for (int k = 0; k < V * D; k++) ck_assert(m.emb.grad[k] == once[k] + once[k]);
    lm_zero_grad(&m);
    ck_assert_int_eq(grad_rows_nonzero(m.emb.grad, V, D), 0);
    for (int k = 0; k < V; k++) ck_assert(m.proj.bias_grad[k] == 0.0f);
    lm_free(&m);
}
END_TEST

START_TEST(bare_tied_scores_are_symmetric) {
    LangModel m;
    make(&m, true, false, false);
    const int64_t in[2] = {2, 5}, tgt[2] = {5, 2};
    double loss;
    ck_assert_int_eq(lm_forward(&m, in, tgt, 2, &loss, NULL), 0);
    ck_assert(m.logits[0 * V + 5] ==
              m.logits[1 * V + 2]);  // score(5 after 2) = (2 after 5)
    float self = 0;                  // the current word scores its own squared norm
    for (int k = 0; k < D; k++) self += m.emb.weight[2 * D + k] * m.emb.weight[2 * D + k];
    ck_assert(m.logits[0 * V + 2] == self && self > 0);
    lm_free(&m);
}
END_TEST

/* ---------------------------------------------- one parameter, one state */

START_TEST(tied_weight_is_listed_once) {
    LangModel m;
    ParamList l;
    EmbError err;
    make(&m, true, true, false);
    ck_assert_int_eq(lm_parameters(&m, &l, NULL), 0);
    ck_assert_int_eq(l.n, 2);
    ck_assert_str_eq(l.items[0].name, "emb.weight");
    ck_assert_str_eq(l.items[1].name, "proj.bias");
    ck_assert_int_eq(
        param_list_add(&l, "proj.weight", m.proj.weight, m.proj.weight_grad, V, D, &err),
        -1);
    ck_assert_str_eq(err.msg,
                     "parameter proj.weight: its buffer is already in the list as "
                     "emb.weight; a shared (tied) weight is one parameter, list it "
                     "once");
    ck_assert_int_eq(l.n, 2);
    lm_free(&m);
    make(&m, false, true, true);
    ck_assert_int_eq(lm_parameters(&m, &l, NULL), 0);
    const char *names[] = {"emb.weight", "hid.weight", "hid.bias", "proj.weight",
                           "proj.bias"};
    ck_assert_int_eq(l.n, 5);
    for (int i = 0; i < 5; i++) ck_assert_str_eq(l.items[i].name, names[i]);
    lm_free(&m);
}
END_TEST

START_TEST(double_listing_doubles_state_and_step) {
    float twice[6], once[6];
    int64_t st2, st1;
    OptimOptions o = optim_defaults(OPTIM_SGD);
    o.lr = 0.1;
    ck_assert_int_eq(lm_double_listing_run(OPTIM_SGD, &o, twice, once, &st2, &st1, NULL),
                     0);
    for (int k = 0; k < 6; k++) {
        ck_assert_float_eq_tol(once[k], 0.4f, 1e-7);
        ck_assert_float_eq_tol(twice[k], 0.3f, 1e-7);  // two updates of lr * g
    }
    o = optim_defaults(OPTIM_ADAM);
    o.lr = 0.1;
    ck_assert_int_eq(lm_double_listing_run(OPTIM_ADAM, &o, twice, once, &st2, &st1, NULL),
                     0);
    ck_assert_int_eq(st1, 2 * 6 * 4);  // exp_avg, exp_avg_sq
    ck_assert_int_eq(st2, 2 * st1);    // two states for one matrix
    ck_assert_float_eq_tol(once[0], 0.4f, 1e-6);
    ck_assert_float_eq_tol(twice[0], 0.3f, 1e-6);
}
END_TEST

START_TEST(one_adam_state_for_a_tied_model) {
    LangModel m;
    ParamList l;
    Optimizer opt;
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    double loss;
    make(&m, true, false, false);
    ck_assert_int_eq(lm_parameters(&m, &l, NULL), 0);
    ck_assert_int_eq(optim_init(&opt, OPTIM_ADAM, &o, &l, NULL), 0);
    ck_assert_int_eq(lm_train_step(&m, &opt, &l, IN, TGT, B, &loss, NULL), 0);
    ck_assert_int_eq(optim_state_bytes(&opt), 2 * V * D * 4);
    optim_free(&opt);
    lm_free(&m);
}
END_TEST

/* ------------------------------------------- padding, max_norm, counts */

// The tied-padding reference case's weight after its first step, row 0.
static void reference_padding_row(float want[4]) {
    RefFile f;
    EmbError err;
    ck_assert_msg(ref_read_file("tests/reference/model.ref", &f, &err) == 0, "%s",
                  err.msg);
    bool found = false;
    for (int i = 0; i < f.n_cases; i++) {
        if (strcmp(f.cases[i].name, "model/tied-padding") != 0) continue;
        memcpy(want, ref_get(&f.cases[i].steps[0].fields, "weight")->f32,
               4 * sizeof(float));
        found = true;
    }
    ref_free(&f);
    ck_assert(found);
}

START_TEST(padding_row_moves_when_tied) {
    float e[4], p[4], after[4], want[4];
    ck_assert_int_eq(lm_padding_demo(e, p, after, NULL), 0);
    for (int k = 0; k < 4; k++) {
        ck_assert(e[k] == 0.0f);  // the embedding path: nothing for the padding row
        ck_assert(p[k] != 0.0f);  // the projection path: a gradient all the same
        ck_assert(after[k] != 0.0f);
    }
    reference_padding_row(want);  // PyTorch's numbers for the same case
    for (int k = 0; k < 4; k++) ck_assert_float_eq_tol(after[k], want[k], 1e-6);
}
END_TEST

START_TEST(max_norm_renormalises_the_tied_rows_before_the_projection) {
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.tied = true, o.bias = false;
    o.emb.has_max_norm = true, o.emb.max_norm = 0.8;
    LangModel m;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(lm_init(&m, V, D, &o, B, &gen, NULL), 0);
    double loss;
    ck_assert_int_eq(lm_forward(&m, IN, TGT, B, &loss, NULL), 0);
    for (int i = 0; i < B; i++) {
        ck_assert(emb_row_norm(m.emb.weight + IN[i] * D, D, 2) <= 0.8 + 1e-6);
        for (int64_t v = 0; v < V; v++) {  // scores read the renormalised rows
            float acc = 0;
            for (int k = 0; k < D; k++)
                acc += m.emb.weight[v * D + k] * m.emb.weight[IN[i] * D + k];
            ck_assert(m.logits[i * V + v] == acc);
        }
    }
    LangModel plain;  // the same draws without max_norm: rows not looked up are untouched
    make(&plain, true, false, false);
    ck_assert_mem_eq(m.emb.weight + 3 * D, plain.emb.weight + 3 * D, D * sizeof(float));
    ck_assert_mem_eq(m.emb.weight + 6 * D, plain.emb.weight + 6 * D, D * sizeof(float));
    lm_free(&plain);
    ck_assert_int_eq(lm_backward(&m, IN, B, NULL), 0);
    lm_free(&m);
}
END_TEST

START_TEST(normal_init_hurts_a_tied_model) {
    int64_t tokens[200];
    for (int i = 0; i < 200; i++) tokens[i] = (i * 7) % 50;
    double un, tn, uu, tu;
    ck_assert_int_eq(lm_initial_loss(50, 16, false, 0, tokens, 200, &un, NULL), 0);
    ck_assert_int_eq(lm_initial_loss(50, 16, true, 0, tokens, 200, &tn, NULL), 0);
    ck_assert_int_eq(lm_initial_loss(50, 16, false, 0.1, tokens, 200, &uu, NULL), 0);
    ck_assert_int_eq(lm_initial_loss(50, 16, true, 0.1, tokens, 200, &tu, NULL), 0);
    ck_assert_msg(tn > un + 5, "tied %g, untied %g", tn, un);  // logits of size D
    ck_assert_double_eq_tol(uu, log(50), 0.05);                  // uniform: about ln V
    ck_assert_double_eq_tol(tu, log(50), 0.05);
    GradcheckResult r[3];
    ck_assert_int_eq(lm_check_parts(r, NULL), 0);
    ck_assert(r[0].passed && !r[1].passed && !r[2].passed);
    float pe[21], pp[21], g[21];
    ck_assert_int_eq(lm_paths_example(pe, pp, g, NULL), 0);
    for (int k = 0; k < 21; k++) ck_assert(g[k] == pe[k] + pp[k]);
    ck_assert(pe[3 * 3] == 0.0f && pp[3 * 3] != 0.0f);  // row 3: never looked up
}
END_TEST

START_TEST(parameter_counts) {
    ck_assert_int_eq(lm_params_saved(50257, 768), 38597376);  // GPT-2
    ck_assert_int_eq(lm_param_count(50257, 768, false, false), 2 * 38597376LL);
    ck_assert_int_eq(lm_param_count(50257, 768, true, false), 38597376);
    ck_assert_int_eq(lm_param_count(10, 4, true, true), 50);
    ck_assert_int_eq(lm_adam_bytes(10, 4, true, true), 50 * 16);
    ck_assert_int_eq(lm_param_count(INT64_MAX / 2, 2, false, false), -1);
    ck_assert_int_eq(lm_params_saved(0, 4), -1);
    ck_assert_int_eq(lm_adam_bytes(INT64_MAX / 8, 1, true, false), -1);
}
END_TEST

START_TEST(forward_refuses_bad_batches) {
    LangModel m;
    EmbError err;
    double loss;
    make(&m, true, false, false);
    const int64_t bad_tgt[1] = {7}, bad_in[1] = {9}, ok[1] = {1};
    ck_assert_int_eq(lm_forward(&m, ok, bad_tgt, 1, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "Target 7 is out of bounds: the classes are [0, 7)");
    ck_assert_int_eq(lm_forward(&m, bad_in, ok, 1, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "index out of range in self: index 9, num_embeddings 7");
    ck_assert_int_eq(lm_forward(&m, IN, TGT, B + 1, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "batch of 7 positions: the model takes 1 to 6");
    ck_assert_int_eq(lm_backward(&m, IN, 0, &err), -1);
    ck_assert_str_eq(err.msg, "batch of 0 positions: the model takes 1 to 6");
    ck_assert_int_eq(lm_backward(&m, IN, B + 1, &err), -1);
    ck_assert_str_eq(err.msg, "batch of 7 positions: the model takes 1 to 6");
    ck_assert_int_eq(lm_eval_loss(&m, IN, 1, &loss, &err), -1);
    ck_assert_str_eq(err.msg, "a text of 1 tokens has no next token");
    lm_free(&m);
}
END_TEST

/* ------------------------------------------------------- the fortunes */

START_TEST(corpus_loader_splits_fortunes) {
    LmCorpus c;
    ck_assert_int_eq(lm_corpus_load(&c, "tests/data/fortunes", 100, 2, NULL), 0);
    ck_assert_int_eq(c.n_files, 2);  // not animals.dat, animals.u8 (a link), .hidden
    ck_assert_int_eq(c.n_fortunes, 7);
    ck_assert_int_eq(c.train.n_tokens, 23);
    ck_assert_int_eq(c.n_valid, 17);
    ck_assert_int_eq(c.train.vocab_size, 13);
    ck_assert_str_eq(c.train.words[1], "the");
    ck_assert_int_eq(c.train.counts[1], 8);
    int64_t unk = 0;
    for (int64_t i = 0; i < c.n_valid; i++) {
        ck_assert(c.valid[i] >= 0 && c.valid[i] < c.train.vocab_size);
        unk += c.valid[i] == CORPUS_UNK;
    }
    ck_assert_int_eq(unk, 6);  // five "a" and one "zebra": not in the training text
    ck_assert_str_eq(c.train.words[c.valid[1]], "dog");
    lm_corpus_free(&c);
    ck_assert_int_eq(lm_corpus_load(&c, "tests/data/fortunes", 4, 2, NULL), 0);
    ck_assert_int_eq(c.train.vocab_size, 4);  // <unk>, the, cat, log
    ck_assert_str_eq(c.train.words[3], "log");
    lm_corpus_free(&c);
}
END_TEST

START_TEST(corpus_loader_refuses_a_missing_package) {
    LmCorpus c;
    EmbError err;
    ck_assert_int_eq(lm_corpus_load(&c, "tests/data/no-such-folder", 100, 10, &err), -1);
    ck_assert_str_eq(err.msg,
                     "no fortune files in tests/data/no-such-folder: install "
                     "Debian's fortunes package (apt-get install fortunes)");
    ck_assert_int_eq(lm_corpus_load(&c, "tests/data/fortunes", 100, 1, &err), -1);
    ck_assert_str_eq(err.msg, "valid_every 1: must be at least 2");
    ck_assert_int_eq(lm_corpus_load(&c, "tests/data/fortunes", 100, 8, &err), -1);
    ck_assert_str_eq(err.msg,
                     "tests/data/fortunes: 7 fortunes, too few for a validation text");
}
END_TEST

/* ------------------------------------------------------- training runs */

START_TEST(runs_see_the_same_batches_and_tied_grads_are_dense) {
    LmCorpus c;
    ck_assert_int_eq(lm_corpus_load(&c, "tests/data/fortunes", 100, 2, NULL), 0);
    LmRunLog t, u;
    LmRunConfig cfg = {.D = 4,
                       .steps = 20,
                       .batch = 4,
                       .eval_every = 10,
                       .eval_tokens = 100,
                       .tied = true,
                       .bias = true,
                       .optimizer = OPTIM_ADAM,
                       .lr = 0.05,
                       .seed = 0,
                       .batch_seed = 1,
                       .init_range = 0.1};
    ck_assert_int_eq(lm_run_log_init(&t, 13, 20, 10, NULL), 0);
    ck_assert_int_eq(lm_run_log_init(&u, 13, 20, 10, NULL), 0);
    ck_assert_int_eq(lm_run(&c, &cfg, &t, NULL), 0);
    cfg.tied = false;
    ck_assert_int_eq(lm_run(&c, &cfg, &u, NULL), 0);
    ck_assert_int_eq(t.n_evals, 3);
    for (int64_t s = 0; s < 20; s++) {
        ck_assert_int_eq(t.rows_looked_up[s], u.rows_looked_up[s]);  // the same batches
        ck_assert_int_eq(u.rows_with_grad[s], u.rows_looked_up[s]);
        ck_assert_int_eq(t.rows_with_grad[s], 13);  // every row
    }
    ck_assert(t.train_loss[2] < t.train_loss[0] && u.train_loss[2] < u.train_loss[0]);
    ck_assert(t.proj_path_norm[7] > 0 && u.emb_path_norm[0] == 0);  // <unk>: no input
    lm_run_log_free(&t);
    lm_run_log_free(&u);
    lm_corpus_free(&c);
}
END_TEST

/* ------------------------------------------------------------ the program */

START_TEST(program_runs) {
    char *out;
    ck_assert_int_eq(test_run(BIN_DIR "/ch05 --out build/tests/ch05-run --fortunes "
                                      "tests/data/fortunes --steps 10 --eval-every 5 "
                                      "--batch 4 --eval-tokens 50 --seeds 2 --dims 4 "
                                      "--valid-every 2",
                              &out),
                     0);
    free(out);
    FILE *f = fopen("build/tests/ch05-run/values.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char *values = calloc(1 << 16, 1);
    values[0] = '\n';
    fread(values + 1, 1, (1 << 16) - 2, f);
    fclose(f);
    ck_assert_double_eq_tol(test_value_of(values, "rows.tied"), test_value_of(values, "rows.v"),
                            1e-9);
    ck_assert(test_value_of(values, "rows.untied") <= 4);
    ck_assert_double_eq_tol(test_value_of(values, "double.sgd.twice"), 0.3, 1e-9);
    ck_assert_double_eq_tol(test_value_of(values, "double.adam.state_twice"), 96, 1e-9);
    ck_assert_double_eq_tol(test_value_of(values, "pad.emb_path"), 0, 1e-12);
    ck_assert(test_value_of(values, "check.emb_path") > 0.01);
    ck_assert(test_value_of(values, "check.sum") < 1e-3);
    ck_assert(test_value_of(values, "unk.moved") > 0 && test_value_of(values, "unk.count") == 0);
    ck_assert(test_value_of(values, "d4.l1.tied.valid_ppl_min") <=
              test_value_of(values, "d4.l1.tied.valid_ppl"));
    ck_assert_double_eq_tol(test_value_of(values, "memory.gpt2.tied_mb"), 618, 1e-9);
    free(values);
}
END_TEST

START_TEST(program_rejects_bad_input) {
    // Each message names the option, the bad value and what is valid.
    struct { const char *args, *words[3]; } cases[] = {
        {"--steps 0", {"--steps", "'0'", "[1, 100000000]"}},
        {"--layers 2", {"--layers", "2", "0 or 1"}},
        {"--dims 0", {"--dims", "0", "[1, 4096]"}},
        {"--bogus 1", {"unknown option", "--bogus", ""}},
        {"--fortunes tests/data/none", {"tests/data/none", "apt-get install fortunes", ""}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, BIN_DIR "/ch05 --out build/tests/ch05-bad %s", cases[i].args);
        ck_assert_int_eq(test_run(cmd, &out), 1);
        ck_assert_msg(strncmp(out, "ch05: ", 6) == 0, "%s: got '%s'", cases[i].args, out);
        for (int w = 0; w < 3; w++)
            ck_assert_msg(strstr(out, cases[i].words[w]), "%s: no '%s' in '%s'", cases[i].args,
                          cases[i].words[w], out);
        free(out);
    }
    char *out;
    ck_assert_int_eq(test_run(BIN_DIR "/ch05 --help", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--fortunes"));
    ck_assert_ptr_nonnull(strstr(out, "--train-tokens"));
    free(out);
}
END_TEST

static Suite *chapter5_suite(void) {
    Suite *s = suite_create("chapter5");
    struct {
        const char *name;
        const TTest *tests[8];
    } cases[] = {
        {"tie",
         {tie_shares_weight_and_gradient, tie_needs_the_gradient_first,
          tie_needs_matching_shapes, tied_and_untied_start_from_the_same_draws}},
        {"paths",
         {tied_gradient_is_the_sum_of_the_paths, untied_paths_go_to_their_own_parameters,
          each_path_alone_fails_the_gradient_check, zero_grad_clears_both_paths,
          bare_tied_scores_are_symmetric}},
        {"state",
         {tied_weight_is_listed_once, double_listing_doubles_state_and_step,
          one_adam_state_for_a_tied_model}},
        {"options",
         {padding_row_moves_when_tied,
          max_norm_renormalises_the_tied_rows_before_the_projection, parameter_counts,
          forward_refuses_bad_batches, normal_init_hurts_a_tied_model}},
        {"corpus",
         {corpus_loader_splits_fortunes, corpus_loader_refuses_a_missing_package,
          runs_see_the_same_batches_and_tied_grads_are_dense}},
        {"program", {program_runs, program_rejects_bad_input}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 60);
        for (int k = 0; k < 8 && cases[i].tests[k]; k++)
            _tcase_add_test(tc, cases[i].tests[k], 0, 0, 0, 1);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) {
    return test_main(chapter5_suite());
}
