/*
 * test_ch04.c - chapter 4: optimizers.
 *
 * The bit patterns in ch04_vectors.h were written by torch 1.13
 * (tests/reference/ch04_vectors.py); the conformance files sgd.ref,
 * optimizers.ref and options.ref check the same optimizers through a table's
 * forward and backward passes. Every claim of the chapter's prose is one
 * test below.
 */
#include <math.h>

#include "testutil.h"
#include "../chapters/04-optimizers.h"
#include "ch04_vectors.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// Asserts that the n floats of got have exactly the bits of want.
static void assert_bits(const float *got, const uint32_t *want, int n, const char *what,
                        int step) {
    for (int i = 0; i < n; i++) {
        ck_assert_msg(test_bits(got[i]) == want[i], "%s step %d value %d: got %08x (%.9g), "
                      "want %08x (%.9g)", what, step, i, test_bits(got[i]), (double)got[i],
                      want[i], (double)from_bits(want[i]));
    }
}

/* ------------------------------------------------------------ options */

// The error optim_check_options gives, or "" if it accepts.
static const char *check_message(OptimKind kind, OptimOptions o) {
    static EmbError err;
    err.msg[0] = '\0';
    if (optim_check_options(kind, &o, &err) == 0) return "";
    return err.msg;
}

START_TEST(defaults_are_pytorchs) {
    OptimOptions sgd = optim_defaults(OPTIM_SGD), adam = optim_defaults(OPTIM_ADAM);
    OptimOptions adamw = optim_defaults(OPTIM_ADAMW), ada = optim_defaults(OPTIM_ADAGRAD);
    OptimOptions rms = optim_defaults(OPTIM_RMSPROP);
    ck_assert(optim_lr_is_required(sgd.lr) && sgd.momentum == 0 && sgd.dampening == 0);
    ck_assert(!sgd.nesterov && !sgd.maximize && sgd.weight_decay == 0);
    ck_assert(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8);
    ck_assert(adam.weight_decay == 0 && !adam.amsgrad);
    ck_assert(adamw.weight_decay == 1e-2 && adamw.lr == 1e-3);  // AdamW decays by default
    ck_assert(ada.lr == 1e-2 && ada.lr_decay == 0 && ada.initial_accumulator_value == 0);
    ck_assert(ada.eps == 1e-10 && ada.weight_decay == 0);
    ck_assert(rms.lr == 1e-2 && rms.alpha == 0.99 && rms.eps == 1e-8 && rms.momentum == 0);
    ck_assert(!rms.centered && rms.weight_decay == 0);
}
END_TEST

// Every check of every constructor, with PyTorch's message.
START_TEST(bad_options_get_pytorchs_messages) {
    struct { OptimKind kind; const char *key; double value; const char *want; } cases[] = {
        {OPTIM_SGD, "lr", -1, "Invalid learning rate: -1.0"},
        {OPTIM_SGD, "momentum", -0.5, "Invalid momentum value: -0.5"},
        {OPTIM_SGD, "weight_decay", -1e-8, "Invalid weight_decay value: -1e-08"},
        {OPTIM_ADAM, "lr", -0.001, "Invalid learning rate: -0.001"},
        {OPTIM_ADAM, "eps", -1, "Invalid epsilon value: -1.0"},
        {OPTIM_ADAM, "beta1", 1.0, "Invalid beta parameter at index 0: 1.0"},
        {OPTIM_ADAM, "beta2", -0.1, "Invalid beta parameter at index 1: -0.1"},
        {OPTIM_ADAM, "weight_decay", -100000, "Invalid weight_decay value: -100000.0"},
        {OPTIM_ADAMW, "beta2", 1.5, "Invalid beta parameter at index 1: 1.5"},
        {OPTIM_ADAMW, "lr", -1e16, "Invalid learning rate: -1e+16"},
        {OPTIM_ADAGRAD, "lr_decay", -1, "Invalid lr_decay value: -1.0"},
        {OPTIM_ADAGRAD, "initial_accumulator_value", -0.25,
         "Invalid initial_accumulator_value value: -0.25"},
        {OPTIM_ADAGRAD, "eps", -1e-10, "Invalid epsilon value: -1e-10"},
        {OPTIM_ADAGRAD, "weight_decay", -2, "Invalid weight_decay value: -2.0"},
        {OPTIM_RMSPROP, "alpha", -0.99, "Invalid alpha value: -0.99"},
        {OPTIM_RMSPROP, "momentum", -1, "Invalid momentum value: -1.0"},
        {OPTIM_RMSPROP, "eps", -1, "Invalid epsilon value: -1.0"},
        {OPTIM_RMSPROP, "weight_decay", -0.1, "Invalid weight_decay value: -0.1"},
        {OPTIM_RMSPROP, "lr", NAN, "Invalid learning rate: nan"},
        {OPTIM_SGD, "lr", -INFINITY, "Invalid learning rate: -inf"},
        {OPTIM_ADAM, "lr", -INFINITY, "Invalid learning rate: -inf"},
        // A NaN: PyTorch refuses it in every check but SGD's, with these messages.
        {OPTIM_ADAM, "lr", NAN, "Invalid learning rate: nan"},
        {OPTIM_ADAM, "eps", NAN, "Invalid epsilon value: nan"},
        {OPTIM_ADAM, "beta1", NAN, "Invalid beta parameter at index 0: nan"},
        {OPTIM_ADAM, "beta2", NAN, "Invalid beta parameter at index 1: nan"},
        {OPTIM_ADAM, "weight_decay", NAN, "Invalid weight_decay value: nan"},
        {OPTIM_ADAMW, "lr", NAN, "Invalid learning rate: nan"},
        {OPTIM_ADAMW, "eps", NAN, "Invalid epsilon value: nan"},
        {OPTIM_ADAMW, "beta1", NAN, "Invalid beta parameter at index 0: nan"},
        {OPTIM_ADAMW, "beta2", NAN, "Invalid beta parameter at index 1: nan"},
        {OPTIM_ADAMW, "weight_decay", NAN, "Invalid weight_decay value: nan"},
        {OPTIM_ADAGRAD, "lr", NAN, "Invalid learning rate: nan"},
        {OPTIM_ADAGRAD, "lr_decay", NAN, "Invalid lr_decay value: nan"},
        {OPTIM_ADAGRAD, "weight_decay", NAN, "Invalid weight_decay value: nan"},
        {OPTIM_ADAGRAD, "initial_accumulator_value", NAN,
         "Invalid initial_accumulator_value value: nan"},
        {OPTIM_ADAGRAD, "eps", NAN, "Invalid epsilon value: nan"},
        {OPTIM_RMSPROP, "alpha", NAN, "Invalid alpha value: nan"},
        {OPTIM_RMSPROP, "eps", NAN, "Invalid epsilon value: nan"},
        {OPTIM_RMSPROP, "momentum", NAN, "Invalid momentum value: nan"},
        {OPTIM_RMSPROP, "weight_decay", NAN, "Invalid weight_decay value: nan"},
        // SGD's checks are `x < 0.0`, which a NaN passes: PyTorch accepts these
        // three, the book refuses them with the message a negative value gets.
        {OPTIM_SGD, "lr", NAN, "Invalid learning rate: nan"},
        {OPTIM_SGD, "momentum", NAN, "Invalid momentum value: nan"},
        {OPTIM_SGD, "weight_decay", NAN, "Invalid weight_decay value: nan"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OptimOptions o = optim_defaults(cases[i].kind);
        if (cases[i].kind == OPTIM_SGD) o.lr = 0.1;
        double *field = !strcmp(cases[i].key, "lr") ? &o.lr
                        : !strcmp(cases[i].key, "momentum") ? &o.momentum
                        : !strcmp(cases[i].key, "weight_decay") ? &o.weight_decay
                        : !strcmp(cases[i].key, "eps") ? &o.eps
                        : !strcmp(cases[i].key, "beta1") ? &o.beta1
                        : !strcmp(cases[i].key, "beta2") ? &o.beta2
                        : !strcmp(cases[i].key, "lr_decay") ? &o.lr_decay
                        : !strcmp(cases[i].key, "alpha") ? &o.alpha
                                                         : &o.initial_accumulator_value;
        *field = cases[i].value;
        ck_assert_str_eq(check_message(cases[i].kind, o), cases[i].want);
    }
}
END_TEST

START_TEST(sgd_needs_lr_and_nesterov_needs_momentum) {
    OptimOptions o = optim_defaults(OPTIM_SGD);
    ck_assert_str_eq(check_message(OPTIM_SGD, o),
                     "parameter group didn't specify a value of required optimization "
                     "parameter lr");
    // An lr the caller sets is a number, whatever it is: -inf and NaN too.
    ck_assert(!optim_lr_is_required(-INFINITY) && !optim_lr_is_required(NAN));
    ck_assert(!optim_lr_is_required(-(double)NAN) && !optim_lr_is_required(0.0 / 0.0));
    o.lr = -INFINITY;
    ck_assert_str_eq(check_message(OPTIM_SGD, o), "Invalid learning rate: -inf");
    o.lr = INFINITY;  // 0 <= inf: accepted, as PyTorch accepts it
    ck_assert_str_eq(check_message(OPTIM_SGD, o), "");
    o.lr = 0.1;
    o.nesterov = true;
    const char *want = "Nesterov momentum requires a momentum and zero dampening";
    ck_assert_str_eq(check_message(OPTIM_SGD, o), want);
    o.momentum = 0.9;
    ck_assert_str_eq(check_message(OPTIM_SGD, o), "");
    o.dampening = 0.1;
    ck_assert_str_eq(check_message(OPTIM_SGD, o), want);
    // What PyTorch accepts, we accept: lr 0, any dampening, alpha above 1.
    OptimOptions a = optim_defaults(OPTIM_ADAM), r = optim_defaults(OPTIM_RMSPROP);
    a.lr = 0;
    r.alpha = 1.5;
    o.nesterov = false, o.dampening = -3;
    ck_assert_str_eq(check_message(OPTIM_ADAM, a), "");
    ck_assert_str_eq(check_message(OPTIM_RMSPROP, r), "");
    ck_assert_str_eq(check_message(OPTIM_SGD, o), "");
    o.dampening = NAN;  // not checked, on either side
    ck_assert_str_eq(check_message(OPTIM_SGD, o), "");
}
END_TEST

START_TEST(names_and_kinds) {
    OptimKind k;
    const char *names[] = {"sgd", "adam", "adamw", "adagrad", "rmsprop"};
    for (int i = 0; i < OPTIM_NUM_KINDS; i++) {
        ck_assert_int_eq(optim_kind_from_name(names[i], &k, NULL), 0);
        ck_assert_int_eq(k, i);
        ck_assert_int_eq(optim_kind_from_name(optim_name(k), &k, NULL), 0);
        ck_assert_int_eq(k, i);
    }
    EmbError err;
    ck_assert_int_eq(optim_kind_from_name("adamax", &k, &err), -1);
    ck_assert_str_eq(err.msg, "unknown optimizer 'adamax': expected sgd, adam, adamw, "
                              "adagrad or rmsprop");
    ck_assert_int_eq(optim_kind_from_name("adam2", &k, NULL), -1);
}
END_TEST

/* ------------------------------------------------------ bit for bit */

// Runs case i through optim_step on one parameter and checks every step.
START_TEST(optimizer_steps_match_torch_bit_for_bit) {
    VecCase c = vec_case(_i);
    float p[VEC_N], g[VEC_N];
    for (int k = 0; k < VEC_N; k++) p[k] = from_bits(VEC_PARAM[k]);
    ParamList params = {0};
    Optimizer opt;
    EmbError err;
    ck_assert_int_eq(param_list_add(&params, "p", p, g, VEC_N, 0, &err), 0);
    ck_assert_msg(optim_init(&opt, c.kind, &c.options, &params, &err) == 0, "%s", err.msg);
    for (int s = 0; s < VEC_STEPS; s++) {
        for (int k = 0; k < VEC_N; k++) g[k] = from_bits(VEC_GRADS[s][k]);
        ck_assert_msg(optim_step(&opt, &params, &err) == 0, "%s", err.msg);
        assert_bits(p, c.after[s], VEC_N, c.name, s + 1);
    }
    optim_free(&opt);
}
END_TEST

// The same cases through the update functions alone, with the state the
// caller keeps: this is the contract the lab's exercises implement.
START_TEST(update_functions_match_torch_bit_for_bit) {
    VecCase c = vec_case(_i);
    float p[VEC_N], g[VEC_N], a[VEC_N] = {0}, b[VEC_N] = {0}, m[VEC_N] = {0};
    for (int k = 0; k < VEC_N; k++) p[k] = from_bits(VEC_PARAM[k]);
    const OptimOptions *o = &c.options;
    if (c.kind == OPTIM_ADAGRAD)
        for (int k = 0; k < VEC_N; k++) a[k] = (float)o->initial_accumulator_value;
    for (int s = 0; s < VEC_STEPS; s++) {
        for (int k = 0; k < VEC_N; k++) g[k] = from_bits(VEC_GRADS[s][k]);
        if (s == 0 && c.kind == OPTIM_SGD) for (int k = 0; k < VEC_N; k++) a[k] = NAN;
        switch (c.kind) {
        case OPTIM_SGD: sgd_update(p, g, o->momentum != 0 ? a : NULL, s == 0, VEC_N, o); break;
        case OPTIM_ADAM:
        case OPTIM_ADAMW:
            adam_update(p, g, a, b, o->amsgrad ? m : NULL, VEC_N, s + 1, o,
                        c.kind == OPTIM_ADAMW);
            break;
        case OPTIM_ADAGRAD: adagrad_update(p, g, a, VEC_N, s + 1, o); break;
        default:
            rmsprop_update(p, g, a, o->centered ? b : NULL, o->momentum > 0 ? m : NULL, VEC_N, o);
        }
        assert_bits(p, c.after[s], VEC_N, c.name, s + 1);
    }
}
END_TEST

// Chapter 2's plain step is SGD without options: the same bits.
START_TEST(plain_sgd_is_chapter2s_step) {
    float p1[VEC_N], p2[VEC_N], g[VEC_N];
    OptimOptions o = optim_defaults(OPTIM_SGD);
    o.lr = 0.37;
    for (int k = 0; k < VEC_N; k++) {
        p1[k] = p2[k] = from_bits(VEC_PARAM[k]);
        g[k] = from_bits(VEC_GRADS[0][k]);
    }
    sgd_update(p1, g, NULL, true, VEC_N, &o);
    sgd_step(p2, g, VEC_N, 0.37f);
    for (int k = 0; k < VEC_N; k++) ck_assert_uint_eq(test_bits(p1[k]), test_bits(p2[k]));
}
END_TEST

// The traps the prose names, each on one value.
START_TEST(traps_first_momentum_step_is_undamped) {
    OptimOptions o = optim_defaults(OPTIM_SGD);
    o.lr = 1, o.momentum = 0.9, o.dampening = 0.5;
    float p = 0, g = 1, buf = 123;
    sgd_update(&p, &g, &buf, true, 1, &o);
    ck_assert(buf == 1.0f && p == -1.0f);  // a full step, not half of one
    sgd_update(&p, &g, &buf, false, 1, &o);
    ck_assert(buf == 1.4f && p == -2.4f);  // 0.9 * 1 + 0.5 * 1
    o.dampening = 0, o.nesterov = true;
    p = 0, buf = 0;
    sgd_update(&p, &g, &buf, true, 1, &o);
    ck_assert(p == -1.9f);  // d + momentum * buf
}
END_TEST

START_TEST(traps_adam_first_step_is_lr_whatever_the_gradient) {
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    o.lr = 0.01;
    for (int e = -4; e <= 2; e += 2) {  // |g| well above eps = 1e-8
        float p = 0, g = powf(10, (float)e), m = 0, v = 0;
        adam_update(&p, &g, &m, &v, NULL, 1, 1, &o, false);
        ck_assert_float_eq_tol(p, -0.01f, 1e-5);  // bias correction: m_hat = g, v_hat = g^2
    }
    float p = 2, g = 0, m = 0, v = 0;
    adam_update(&p, &g, &m, &v, NULL, 1, 1, &o, false);
    ck_assert(p == 2);  // a zero gradient on a fresh state: no move
}
END_TEST

// One AMSGrad NaN case (ch04_vectors.h): through adam_update, with NaN
// gradients and NaNs put into max_exp_avg_sq after step 1, then through
// optim_step on the same shape (2-D where torch's was): the parameter and
// max_exp_avg_sq, bit for bit.
static void assert_amsgrad_case(AmsCase c) {
    int64_t n = c.rows * (c.cols ? c.cols : 1);
    float *buf = calloc((size_t)(6 * n), sizeof(float));
    ck_assert_ptr_nonnull(buf);
    float *p = buf, *g = p + n, *m = g + n, *v = m + n, *vmax = v + n, *p2 = vmax + n;
    for (int64_t k = 0; k < n; k++) p[k] = p2[k] = from_bits(c.param[k]);
    for (int s = 0; s < AMS_STEPS; s++) {
        for (int64_t k = 0; k < n; k++) g[k] = from_bits(c.grads[s * n + k]);
        adam_update(p, g, m, v, vmax, n, s + 1, &c.options, c.kind == OPTIM_ADAMW);
        assert_bits(p, c.after + s * n, (int)n, c.name, s + 1);
        assert_bits(vmax, c.max_after + s * n, (int)n, "max_exp_avg_sq", s + 1);
        if (s == 0)
            for (int64_t k = 0; k < n; k++) vmax[k] = from_bits(c.poisoned[k]);
    }
    ParamList params = {0};
    Optimizer opt;
    EmbError err;
    ck_assert_int_eq(param_list_add(&params, "p", p2, g, c.rows, c.cols, &err), 0);
    ck_assert_msg(optim_init(&opt, c.kind, &c.options, &params, &err) == 0, "%s", err.msg);
    for (int s = 0; s < AMS_STEPS; s++) {
        for (int64_t k = 0; k < n; k++) g[k] = from_bits(c.grads[s * n + k]);
        ck_assert_msg(optim_step(&opt, &params, &err) == 0, "%s", err.msg);
        assert_bits(p2, c.after + s * n, (int)n, c.name, s + 1);
        if (s == 0)
            for (int64_t k = 0; k < n; k++)
                opt.state[0].max_exp_avg_sq[k] = from_bits(c.poisoned[k]);
    }
    optim_free(&opt);
    free(buf);
}

// amsgrad's maximum is torch.maximum, which returns a NaN where either side
// is one (C's fmaxf returns the other side). In torch 1.13, Adam(amsgrad=True)
// after a NaN gradient holds NaN in exp_avg, exp_avg_sq and max_exp_avg_sq, and
// a NaN put in max_exp_avg_sq stays there and makes the next step NaN. The
// NaN's bits are the kernel's: 0xffffffff in its vector body (the first
// n - n % 16 values of the parameter), 0x7fc00000 in its scalar tail, and
// they reach the parameter.
START_TEST(traps_amsgrad_max_keeps_a_nan) {
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    o.lr = 0.01, o.amsgrad = true;
    float p[2] = {1, 2}, g[2] = {0.5f, NAN}, m[2] = {0}, v[2] = {0}, vmax[2] = {0};
    adam_update(p, g, m, v, vmax, 2, 1, &o, false);
    ck_assert(isnan(m[1]) && isnan(v[1]) && isnan(p[1]));
    assert_float_bits(vmax[1], 0x7fc00000);  // two values: all in the scalar tail
    ck_assert(vmax[0] == v[0] && !isnan(p[0]));  // the other value is not touched
    vmax[0] = NAN;  // and a NaN already in max_exp_avg_sq stays
    adam_update(p, g, m, v, vmax, 1, 2, &o, false);
    assert_float_bits(vmax[0], 0x7fc00000);
    ck_assert(isnan(p[0]));
    for (int i = 0; i < AMS_CASES; i++) assert_amsgrad_case(ams_case(i));
}
END_TEST

/* ---------------------------------------------- parameters and state */

START_TEST(grad_none_is_skipped_and_its_step_does_not_advance) {
    float w1[3] = {1, 2, 3}, g1[3] = {1, 1, 1}, w2[2] = {5, 6}, g2[2] = {1, 1};
    ParamList l = {0};
    Optimizer o;
    OptimOptions oo = optim_defaults(OPTIM_ADAM);
    ck_assert_int_eq(param_list_add(&l, "a", w1, g1, 3, 0, NULL), 0);
    ck_assert_int_eq(param_list_add(&l, "b", w2, NULL, 2, 0, NULL), 0);  // p.grad is None
    ck_assert_int_eq(optim_init(&o, OPTIM_ADAM, &oo, &l, NULL), 0);
    for (int s = 0; s < 3; s++) ck_assert_int_eq(optim_step(&o, &l, NULL), 0);
    ck_assert(w2[0] == 5 && w2[1] == 6);
    ck_assert(!o.state[1].created && o.state[1].step == 0 && !o.state[1].exp_avg);
    ck_assert_int_eq(o.state[0].step, 3);
    l.items[1].grad = g2;  // a backward pass reaches it
    ck_assert_int_eq(optim_step(&o, &l, NULL), 0);
    ck_assert_int_eq(o.state[1].step, 1);  // its own count starts now
    ck_assert_int_eq(o.state[0].step, 4);
    ck_assert_float_eq_tol(w2[0], 5 - 1e-3, 1e-6);  // a first Adam step: lr
    optim_free(&o);
}
END_TEST

START_TEST(state_is_created_when_pytorch_creates_it) {
    float w[4] = {1, 2, 3, 4}, g[4] = {1, -1, 1, -1};
    ParamList l = {0};
    param_list_add(&l, "w", w, g, 2, 2, NULL);
    struct { OptimKind kind; double momentum; bool flag; int64_t at_init, after; } cases[] = {
        {OPTIM_SGD, 0, false, 0, 0},     {OPTIM_SGD, 0.9, false, 0, 16},
        {OPTIM_ADAM, 0, false, 0, 32},   {OPTIM_ADAM, 0, true, 0, 48},
        {OPTIM_ADAMW, 0, false, 0, 32},  {OPTIM_ADAGRAD, 0, false, 16, 16},
        {OPTIM_RMSPROP, 0, false, 0, 16}, {OPTIM_RMSPROP, 0.5, true, 0, 48},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        OptimOptions o = optim_defaults(cases[i].kind);
        Optimizer opt;
        o.lr = 0.1, o.momentum = cases[i].momentum;
        o.amsgrad = o.centered = cases[i].flag;
        o.initial_accumulator_value = 0.25;
        ck_assert_int_eq(optim_init(&opt, cases[i].kind, &o, &l, NULL), 0);
        ck_assert_int_eq(optim_state_bytes(&opt), cases[i].at_init);
        if (cases[i].kind == OPTIM_ADAGRAD) ck_assert(opt.state[0].sum[3] == 0.25f);
        ck_assert_int_eq(optim_step(&opt, &l, NULL), 0);
        ck_assert_int_eq(optim_state_bytes(&opt), cases[i].after);
        ck_assert_int_eq(optim_state_bytes_for(cases[i].kind, &o, 4), cases[i].after);
        optim_free(&opt);
    }
    OptimOptions a = optim_defaults(OPTIM_ADAM);
    ck_assert_int_eq(optim_state_bytes_for(OPTIM_ADAM, &a, INT64_MAX / 4), -1);
}
END_TEST

START_TEST(model_parameter_lists) {
    TorchGenerator gen;
    NextTokenModel m;
    ParamList l;
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(ntm_init(&m, 7, 3, 4, &gen, NULL), 0);
    ck_assert_int_eq(ntm_parameters(&m, &l, NULL), 0);
    ck_assert_int_eq(l.n, 3);
    const char *names[] = {"emb.weight", "proj.weight", "proj.bias"};
    int64_t numel[] = {21, 21, 7};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(l.items[i].name, names[i]);
        ck_assert_int_eq(l.items[i].numel, numel[i]);
        ck_assert_ptr_nonnull(l.items[i].grad);
    }
    ck_assert(l.items[0].data == m.emb.weight && l.items[2].ndim == 1);
    ck_assert(l.items[0].shape[0] == 7 && l.items[0].shape[1] == 3);
    // Weight tying (chapter 5): the shared buffer is listed once.
    ck_assert_int_eq(linear_share_weight(&m.proj, m.emb.weight, m.emb.grad, NULL), 0);
    ck_assert_int_eq(ntm_parameters(&m, &l, NULL), 0);
    ck_assert_int_eq(l.n, 2);
    ck_assert_str_eq(l.items[1].name, "proj.bias");
    // bias=False: no bias parameter, and the model still runs.
    linear_drop_bias(&m.proj);
    ck_assert_int_eq(ntm_parameters(&m, &l, NULL), 0);
    ck_assert_int_eq(l.n, 1);
    int64_t in[2] = {1, 2}, tgt[2] = {2, 3};
    double loss;
    ck_assert_int_eq(ntm_forward(&m, in, tgt, 2, &loss, NULL), 0);
    ck_assert_int_eq(ntm_backward(&m, in, 2, NULL), 0);
    ntm_free(&m);  // frees the table once: the projection does not own it
}
END_TEST

START_TEST(frozen_table_has_no_gradient) {
    TorchGenerator gen;
    Embedding table;
    ContextModel m;
    ParamList l;
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EmbeddingOptions eo = emb_default_options();
    rng_manual_seed(&gen, 0);
    ck_assert_int_eq(emb_from_pretrained(&table, w, 4, 2, true, &eo, NULL), 0);
    ck_assert_int_eq(cm_init(&m, &table, 4, 2, 3, &gen, NULL), 0);
    ck_assert_int_eq(cm_parameters(&m, &l, NULL), 0);
    ck_assert_int_eq(l.n, 3);
    ck_assert_ptr_null(l.items[0].grad);  // frozen: p.grad is None
    ck_assert_ptr_nonnull(l.items[1].grad);
    cm_free(&m);
}
END_TEST

START_TEST(linear_without_bias_draws_the_weight_only) {
    TorchGenerator g1, g2;
    Linear a, b;
    rng_manual_seed(&g1, 3);
    rng_manual_seed(&g2, 3);
    ck_assert_int_eq(linear_init(&a, 5, 4, &g1, NULL), 0);
    ck_assert_int_eq(linear_init_bias(&b, 5, 4, false, &g2, NULL), 0);
    ck_assert_ptr_null(b.bias);
    ck_assert_ptr_null(b.bias_grad);
    ck_assert_int_eq(memcmp(a.weight, b.weight, 20 * sizeof(float)), 0);
    for (int k = 0; k < 4; k++) (void)rng_random(&g2);  // a's bias draws
    ck_assert_uint_eq(rng_random(&g1), rng_random(&g2));
    float x[5] = {1, -1, 2, 0.5f, 3}, y[4], dy[4] = {1, 1, 1, 1}, dx[5];
    linear_forward(&b, x, 1, y);
    for (int j = 0; j < 4; j++) {
        float acc = 0;
        for (int k = 0; k < 5; k++) acc += b.weight[j * 5 + k] * x[k];
        ck_assert(y[j] == acc);  // x W^T, no bias
    }
    linear_backward(&b, x, dy, 1, dx);
    linear_zero_grad(&b);
    linear_sgd_step(&b, 0.1f);
    ParamList l = {0};
    ck_assert_int_eq(linear_parameters(&b, "w", "b", &l, NULL), 0);
    ck_assert_int_eq(l.n, 1);
    linear_free(&a);
    linear_free(&b);
}
END_TEST

START_TEST(sparse_gradients_are_refused_with_pytorchs_messages) {
    float w[2] = {1, 2}, g[2] = {0, 0};
    const char *want[] = {"sparse gradients need chapter 6's sparse updates",
                          "Adam does not support sparse gradients, please consider "
                          "SparseAdam instead",
                          "AdamW does not support sparse gradients",
                          "sparse gradients need chapter 6's sparse updates",
                          "RMSprop does not support sparse gradients"};
    for (int k = 0; k < OPTIM_NUM_KINDS; k++) {
        ParamList l = {0};
        param_list_add(&l, "w", w, g, 2, 0, NULL);
        l.items[0].sparse_grad = (const struct SparseGrad *)w;  // any non-NULL slot
        OptimOptions o = optim_defaults((OptimKind)k);
        o.lr = 0.1;
        Optimizer opt;
        EmbError err;
        ck_assert_int_eq(optim_init(&opt, (OptimKind)k, &o, &l, NULL), 0);
        ck_assert_int_eq(optim_step(&opt, &l, &err), -1);
        ck_assert_str_eq(err.msg, want[k]);
        optim_free(&opt);
    }
}
END_TEST

START_TEST(step_needs_the_same_parameters) {
    float w[2] = {1, 2}, g[2] = {1, 1}, other[2] = {0, 0};
    ParamList l = {0}, l2 = {0};
    param_list_add(&l, "w", w, g, 2, 0, NULL);
    param_list_add(&l2, "w", other, g, 2, 0, NULL);
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    Optimizer opt;
    EmbError err;
    ck_assert_int_eq(optim_init(&opt, OPTIM_ADAM, &o, &l, NULL), 0);
    ck_assert_int_eq(optim_step(&opt, &l2, &err), -1);
    ck_assert_str_eq(err.msg, "parameter 0 (w) is not the one given to the optimizer");
    ck_assert_int_eq(param_list_add(&l, "again", w, g, 2, 0, &err), -1);
    ck_assert_int_eq(l.n, 1);  // the same buffer is refused, not listed twice
    ck_assert_str_eq(err.msg, "parameter again: its buffer is already in the list as w; a "
                              "shared (tied) weight is one parameter, list it once");
    ck_assert_int_eq(param_list_add(&l, "part", w + 1, g, 1, 0, NULL), -1);  // overlaps
    ck_assert_int_eq(param_list_add(&l, "bad", other, g, 0, 0, &err), -1);
    optim_free(&opt);
}
END_TEST

/* --------------------------------------------------- ghost updates */

// Row 0 has a gradient of 1 at step 1 only; returns its move at each of
// `steps` steps, in learning rates (moves is (steps,)).
static void ghost_moves(OptimKind kind, double momentum, int steps, double *moves) {
    float w[2] = {0.5f, 0.5f}, g[2];
    ParamList l = {0};
    param_list_add(&l, "w", w, g, 2, 0, NULL);
    OptimOptions o = optim_defaults(kind);
    o.lr = 0.01, o.momentum = momentum, o.weight_decay = 0;
    Optimizer opt;
    ck_assert_int_eq(optim_init(&opt, kind, &o, &l, NULL), 0);
    for (int s = 0; s < steps; s++) {
        float before = w[0];
        g[0] = g[1] = s == 0 ? 1.0f : 0.0f;
        ck_assert_int_eq(optim_step(&opt, &l, NULL), 0);
        moves[s] = fabs((double)w[0] - (double)before) / 0.01;
    }
    optim_free(&opt);
}

START_TEST(ghost_update_numbers) {
    double m[60], total = 0;
    ghost_moves(OPTIM_ADAM, 0, 60, m);
    ck_assert_double_eq_tol(m[0], 1.00, 5e-3);  // Adam: 1.00, 0.67, 0.52 lr
    ck_assert_double_eq_tol(m[1], 0.67, 5e-3);
    ck_assert_double_eq_tol(m[2], 0.52, 5e-3);
    for (int s = 1; s < 60; s++) ck_assert(m[s] > 0);  // it never stops
    ghost_moves(OPTIM_SGD, 0.9, 60, m);
    for (int s = 0; s < 60; s++) total += m[s];
    ck_assert_double_eq_tol(total, 10 * (1 - pow(0.9, 60)), 1e-3);  // towards 10 lr
    const OptimKind still[] = {OPTIM_SGD, OPTIM_ADAGRAD, OPTIM_RMSPROP};
    for (int k = 0; k < 3; k++) {
        ghost_moves(still[k], 0, 60, m);
        ck_assert(m[0] > 0);
        for (int s = 1; s < 60; s++) ck_assert(m[s] == 0);  // exactly still
    }
    ghost_moves(OPTIM_RMSPROP, 0, 1, m);
    ck_assert_double_eq_tol(m[0], 10.0, 1e-3);  // 1 / sqrt(1 - alpha)
}
END_TEST

/* ------------------------------------------------- the padding row */

// Ten steps on a 4x2 table with padding_idx 3 whose padding row is pad.
static void padding_run(OptimKind kind, double weight_decay, float pad[2]) {
    float w[8] = {1, -1, 0.5f, 0.5f, 2, 0, pad[0], pad[1]}, out[8], G[8];
    int64_t idx[4] = {3, 0, 3, 1};
    EmbeddingOptions eo = emb_default_options();
    eo.has_padding_idx = true, eo.padding_idx = 3;
    Embedding e;
    ParamList l = {0};
    Optimizer opt;
    OptimOptions o = optim_defaults(kind);
    o.lr = 0.1, o.weight_decay = weight_decay;
    for (int k = 0; k < 8; k++) G[k] = 1;
    ck_assert_int_eq(emb_from_pretrained(&e, w, 4, 2, false, &eo, NULL), 0);
    ck_assert_int_eq(emb_alloc_grad(&e, NULL), 0);
    ck_assert_int_eq(emb_parameters(&e, &l, NULL), 0);
    ck_assert_int_eq(optim_init(&opt, kind, &o, &l, NULL), 0);
    for (int s = 0; s < 10; s++) {
        emb_zero_grad(&e);
        ck_assert_int_eq(emb_forward(&e, idx, 4, out, NULL), 0);
        ck_assert_int_eq(emb_backward_opts(&e, idx, 4, G, NULL), 0);
        ck_assert_int_eq(optim_step(&opt, &l, NULL), 0);
    }
    pad[0] = w[6], pad[1] = w[7];
    optim_free(&opt);
    emb_free(&e);
}

START_TEST(zero_padding_row_stays_zero_under_every_optimizer) {
    for (int k = 0; k < OPTIM_NUM_KINDS; k++) {
        for (int wd = 0; wd < 2; wd++) {
            float pad[2] = {0, 0};
            padding_run((OptimKind)k, wd ? 0.1 : 0, pad);
            ck_assert_uint_eq(test_bits(pad[0]) & 0x7fffffff, 0);
            ck_assert_uint_eq(test_bits(pad[1]) & 0x7fffffff, 0);
        }
    }
}
END_TEST

START_TEST(nonzero_padding_row_under_weight_decay) {
    float sgd[2] = {0.3f, -0.6f}, adamw[2] = {0.3f, -0.6f}, adam[2] = {0.3f, -0.6f};
    float plain[2] = {0.3f, -0.6f};
    padding_run(OPTIM_ADAM, 0, plain);
    ck_assert(plain[0] == 0.3f && plain[1] == -0.6f);  // no decay: untouched
    padding_run(OPTIM_SGD, 0.1, sgd);
    padding_run(OPTIM_ADAMW, 0.1, adamw);
    padding_run(OPTIM_ADAM, 0.1, adam);
    ck_assert_float_eq_tol(sgd[0], 0.3 * pow(0.99, 10), 1e-6);  // 1% per step
    ck_assert_float_eq_tol(adamw[0], 0.3 * pow(0.99, 10), 1e-6);
    ck_assert_float_eq_tol(adamw[1], -0.6 * pow(0.99, 10), 1e-6);
    ck_assert(adam[0] < 0 && adam[1] > 0);  // L2 under Adam: through zero and beyond
}
END_TEST

/* ------------------------------------------------------- the program */

START_TEST(program_runs_the_experiments) {
    char *out;
    ck_assert_int_eq(test_run(BIN_DIR "/ch04 --out build/tests/ch04-run", &out), 0);
    free(out);
    FILE *f = fopen("build/tests/ch04-run/values.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char *values = calloc(1 << 16, 1);
    values[0] = '\n';
    fread(values + 1, 1, (1 << 16) - 2, f);
    fclose(f);
    // Rows looked up = rows moved under SGD, Adagrad, RMSprop; more under the others.
    double looked = test_value_of(values, "train.looked");
    ck_assert_double_eq_tol(test_value_of(values, "train.sgd.moved"), looked, 1e-9);
    ck_assert_double_eq_tol(test_value_of(values, "train.adagrad.moved"), looked, 1e-9);
    ck_assert_double_eq_tol(test_value_of(values, "train.rmsprop.moved"), looked, 1e-9);
    ck_assert_double_eq_tol(test_value_of(values, "train.adam.moved"), 28, 1e-9);  // all but <unk>
    ck_assert_double_eq_tol(test_value_of(values, "train.adamw.moved"), 29, 1e-9);  // <unk> too
    // The adaptive optimizers organise the table faster than SGD; Adagrad first.
    double sgd = test_value_of(values, "train.sgd.spread_step");
    ck_assert(test_value_of(values, "train.adagrad.spread_step") < test_value_of(values,
                                                                       "train.adam.spread_step"));
    ck_assert(test_value_of(values, "train.adam.spread_step") < sgd);
    ck_assert(test_value_of(values, "train.rmsprop.spread_step") < sgd);
    ck_assert_double_eq_tol(test_value_of(values, "ghost.adam.move2"), 0.67, 1e-9);
    ck_assert_double_eq_tol(test_value_of(values, "ghost.adagrad.later_moves"), 0, 1e-9);
    ck_assert(test_value_of(values, "ghost.adam_wd.never") > 40);  // L2 under Adam: ~lr per step
    ck_assert_double_eq_tol(test_value_of(values, "memory.bert.adam_total_gb"), 0.38, 1e-9);
    free(values);
    FILE *t = fopen("build/tests/ch04-run/Adam/trajectory.tsv", "r");
    ck_assert_ptr_nonnull(t);
    fclose(t);
}
END_TEST

START_TEST(program_rejects_bad_input) {
    struct { const char *args, *want; } cases[] = {
        {"--steps 0", "ch04: --steps: expected a whole number in [1, 1000000], got '0'\n"},
        {"--ghost-steps x", "ch04: --ghost-steps: expected a whole number in [2, 100000], "
                            "got 'x'\n"},
        {"--bogus 1", "ch04: unknown option '--bogus' (see --help)\n"},
        {"--batch 100000", "ch04: --batch 100000 is larger than the corpus (14191 positions)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, BIN_DIR "/ch04 --out build/tests/ch04-bad %s", cases[i].args);
        ck_assert_int_eq(test_run(cmd, &out), 1);
        ck_assert_str_eq(out, cases[i].want);
        free(out);
    }
    char *out;
    ck_assert_int_eq(test_run(BIN_DIR "/ch04 --help", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--ghost-steps"));
    free(out);
}
END_TEST

static Suite *chapter4_suite(void) {
    Suite *s = suite_create("chapter4");
    TCase *opts = tcase_create("options");
    tcase_add_test(opts, defaults_are_pytorchs);
    tcase_add_test(opts, bad_options_get_pytorchs_messages);
    tcase_add_test(opts, sgd_needs_lr_and_nesterov_needs_momentum);
    tcase_add_test(opts, names_and_kinds);
    suite_add_tcase(s, opts);
    TCase *bits = tcase_create("bit_for_bit");
    tcase_add_loop_test(bits, optimizer_steps_match_torch_bit_for_bit, 0, VEC_CASES);
    tcase_add_loop_test(bits, update_functions_match_torch_bit_for_bit, 0, VEC_CASES);
    tcase_add_test(bits, plain_sgd_is_chapter2s_step);
    tcase_add_test(bits, traps_first_momentum_step_is_undamped);
    tcase_add_test(bits, traps_adam_first_step_is_lr_whatever_the_gradient);
    tcase_add_test(bits, traps_amsgrad_max_keeps_a_nan);
    suite_add_tcase(s, bits);
    TCase *state = tcase_create("parameters_and_state");
    tcase_add_test(state, grad_none_is_skipped_and_its_step_does_not_advance);
    tcase_add_test(state, state_is_created_when_pytorch_creates_it);
    tcase_add_test(state, model_parameter_lists);
    tcase_add_test(state, frozen_table_has_no_gradient);
    tcase_add_test(state, linear_without_bias_draws_the_weight_only);
    tcase_add_test(state, sparse_gradients_are_refused_with_pytorchs_messages);
    tcase_add_test(state, step_needs_the_same_parameters);
    suite_add_tcase(s, state);
    TCase *ghost = tcase_create("ghosts_and_padding");
    tcase_add_test(ghost, ghost_update_numbers);
    tcase_add_test(ghost, zero_padding_row_stays_zero_under_every_optimizer);
    tcase_add_test(ghost, nonzero_padding_row_under_weight_decay);
    suite_add_tcase(s, ghost);
    TCase *prog = tcase_create("program");
    tcase_set_timeout(prog, 60);
    tcase_add_test(prog, program_runs_the_experiments);
    tcase_add_test(prog, program_rejects_bad_input);
    suite_add_tcase(s, prog);
    return s;
}

int main(void) { return test_main(chapter4_suite()); }
