/*
 * ch05.c - chapter 5's benchmark: one training step of the tied and the
 * untied next-token model, beside PyTorch's.
 *
 * The chapter's model without the hidden layer (nn.Embedding(V, D),
 * nn.Linear(D, V) with its bias, tied or not), Adam at lr 0.01, batches of
 * B = 32 positions, at the chapter's sizes: V = 1000, D = 16 (make
 * chapter5) and V = 2000, D = 64 (make experiment5). Batch b's inputs are
 * the first B indices of the uniform index batch b, its targets the next
 * B. One step is zero_grad, forward, backward, step, on both sides, from
 * torch.manual_seed(0); the first step's loss is compared with PyTorch's.
 * Both sides take turns, tied and untied, for BENCH_TIE_ROUNDS rounds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../chapters/05-weight-tying.h"
#include "harness.h"

enum { BENCH_TIE_B = 32, BENCH_TIE_ROUNDS = 3 };
#define BENCH_TIE_LR 0.01

static const struct { int64_t V, D; } TIE_SIZES[] = {{1000, 16}, {2000, 64}};

typedef struct TieRow {
    int64_t V, D;
    double c_ms[2], torch_ms[2];      // [untied, tied]; torch < 0 when not measured
    BenchSpread ratio[2];             // torch / C, round by round
    double c_loss[2], torch_loss[2];  // the first step's loss on both sides
} TieRow;

static TieRow tie_rows[BENCH_COUNT(TIE_SIZES)];

typedef struct TieCase {
    LangModel m;
    ParamList params;
    Optimizer opt;
    const int64_t *idx;  // (BENCH_BATCHES, BENCH_N) uniform indices in [0, V)
} TieCase;

static int tie_step(void *ctx, int64_t b, EmbError *err) {
    TieCase *c = ctx;
    const int64_t *in = c->idx + b * BENCH_N;  // seek to batch b: inputs, then targets
    double loss;
    return lm_train_step(&c->m, &c->opt, &c->params, in, in + BENCH_TIE_B, BENCH_TIE_B,
                         &loss, err);
}

// One C turn at row r, tied or not: a fresh model, its first step's loss,
// then the median step time.
static int c_turn(TieRow *row, bool tied, const int64_t *idx, double *ms, EmbError *err) {
    TieCase c = {.idx = idx};
    TorchGenerator gen;
    LmOptions o = lm_default_options();
    o.tied = tied;
    OptimOptions oo = optim_defaults(OPTIM_ADAM);
    oo.lr = BENCH_TIE_LR;
    rng_manual_seed(&gen, 0);
    if (lm_init(&c.m, row->V, row->D, &o, BENCH_TIE_B, &gen, err) != 0) return -1;
    int rc = lm_parameters(&c.m, &c.params, err) ||
             optim_init(&c.opt, OPTIM_ADAM, &oo, &c.params, err) ||
             lm_train_step(&c.m, &c.opt, &c.params, idx, idx + BENCH_TIE_B, BENCH_TIE_B,
                           &row->c_loss[tied], err) ||
             bench_time_calls(tie_step, &c, BENCH_BATCHES, ms, err);
    optim_free(&c.opt);
    lm_free(&c.m);
    return rc ? -1 : 0;
}

static int torch_turn(Bench *b, TieRow *row, bool tied, double *ms, EmbError *err) {
    char answer[256];
    if (bench_torch_ask(b->torch, answer, sizeof answer, err, "tying %lld %lld %d %d %g",
                        (long long)row->V, (long long)row->D, BENCH_TIE_B, tied,
                        BENCH_TIE_LR) != 0)
        return -1;
    if (sscanf(answer, "tying %lf %lf", ms, &row->torch_loss[tied]) != 2)
        return emb_fail(err, "bench_torch.py: bad answer '%s'", answer);
    return 0;
}

static int measure(Bench *b, EmbError *err) {
    for (int r = 0; r < BENCH_COUNT(TIE_SIZES); r++) {
        TieRow *row = &tie_rows[r];
        *row = (TieRow){.V = TIE_SIZES[r].V,
                        .D = TIE_SIZES[r].D,
                        .c_ms = {-1, -1},
                        .torch_ms = {-1, -1},
                        .ratio = {BENCH_SPREAD_NONE, BENCH_SPREAD_NONE}};
        const IndexSet *set = bench_index_set(b, "uniform", row->V, err);
        if (!set) return -1;
        for (int round = 0; round < BENCH_TIE_ROUNDS; round++) {
            for (int tied = 0; tied < 2; tied++) {
                double c_ms, t_ms = -1;
                bench_progress("chapter 5: V %lld, D %lld, %s, round %d of %d",
                               (long long)row->V, (long long)row->D,
                               tied ? "tied" : "untied", round + 1, BENCH_TIE_ROUNDS);
                bool torch_first = b->torch && round % 2 == 0;
                if (torch_first && torch_turn(b, row, tied, &t_ms, err) != 0) return -1;
                if (c_turn(row, tied, set->idx, &c_ms, err) != 0) return -1;
                if (b->torch && !torch_first && torch_turn(b, row, tied, &t_ms, err) != 0)
                    return -1;
                bench_keep_best(&row->c_ms[tied], c_ms);
                if (t_ms >= 0) {
                    bench_keep_best(&row->torch_ms[tied], t_ms);
                    bench_spread_add(&row->ratio[tied], t_ms / c_ms);
                }
            }
        }
    }
    return 0;
}

// Records row r's values: "ch05.v<V>.d<D>.<what>".
static void row_values(Bench *b, const TieRow *row) {
    char key[64];
    const char *what[4] = {"untied_ms", "tied_ms", "torch_untied_ms", "torch_tied_ms"};
    double ms[4] = {row->c_ms[0], row->c_ms[1], row->torch_ms[0], row->torch_ms[1]};
    for (int k = 0; k < 4; k++) {
        if (ms[k] < 0) continue;  // PyTorch not measured
        snprintf(key, sizeof key, "ch05.v%lld.d%lld.%s", (long long)row->V,
                 (long long)row->D, what[k]);
        bench_value(b, key, "%.2f", ms[k]);
    }
}

static int report(Bench *b, EmbError *err) {
    (void)err;
    printf(
        "\nchapter 5: one Adam training step of the next-token model (B = %d), tied and "
        "untied;\nthe first step's loss on both sides, which must agree\n",
        BENCH_TIE_B);
    printf("%6s %4s %10s %10s %8s %10s %10s %14s  %s\n", "V", "D", "untied ms", "tied ms",
           "tied/un", "torch un", "torch tied", "torch/C tied", "same loss");
    for (int r = 0; r < BENCH_COUNT(TIE_SIZES); r++) {
        const TieRow *row = &tie_rows[r];
        bool same = true;
        for (int t = 0; t < 2; t++)
            same &= fabs(row->c_loss[t] - row->torch_loss[t]) <=
                    1e-5 * fabs(row->torch_loss[t]);
        printf("%6lld %4lld %10.3f %10.3f %8.2f %10.3f %10.3f %6.2f-%-6.2f  %s\n",
               (long long)row->V, (long long)row->D, row->c_ms[0], row->c_ms[1],
               row->c_ms[1] / row->c_ms[0], row->torch_ms[0], row->torch_ms[1],
               row->ratio[1].min, row->ratio[1].max,
               b->torch ? (same ? "yes" : "NO") : "-");
        row_values(b, row);
    }
    return 0;
}

const BenchChapter bench_ch05 = {"chapter 5: weight tying", measure, report};
