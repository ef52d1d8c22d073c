/*
 * ch04.c - chapter 4's benchmark: one dense Adam step, and its floor.
 *
 * One dense training step with chapter 4's Adam on chapter 1's table,
 * N = 4096, D = 64, V from 10^3 to 10^7: zero_grad, the lookup, the
 * backward scatter-add of chapter 2's upstream gradient G (N, D), and
 * optim_step, whose adam_update runs over the whole (V, D) weight, set
 * beside
 *
 *   - the floor: the bytes a dense Adam step must move: zeroing the
 *     gradient writes 4VD; Adam reads the weight, the gradient and both
 *     moments and writes the weight and both moments, 28VD; the rows, 20ND
 *     (as in chapter 2). Timed with plain C streaming loops on the step's
 *     own buffers, in the same turn as the step;
 *   - PyTorch's dense nn.Embedding and torch.optim.Adam doing the same step.
 *
 * Both tables are refilled first (chapter 2's steps trained them different
 * numbers of times); then a first Adam step at each V, with fresh state,
 * taken by both sides in the same order, checks that the two tables stay
 * bit for bit the same. Each side frees its optimizer's state after its
 * turn, so that at most one side holds two moments of the largest table.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../chapters/04-optimizers.h"
#include "../../src/cli.h"
#include "../../src/torch_rng.h"
#include "harness.h"

enum {
    BENCH_ADAM_ROUNDS = 2,     // turns of C and PyTorch over the Adam steps ...
    BENCH_ADAM_BIG_ROUNDS = 1, // ... and at V >= BENCH_ADAM_BIG_V, where PyTorch's
                               // step takes about ten seconds
    BENCH_ADAM_MIN_CALLS = 1,  // timed steps per turn, at least (PyTorch's step at
};                             // V = 10^7 takes seconds); the floor gets BENCH_MIN_CALLS

#define BENCH_ADAM_LR 1e-3   // torch.optim.Adam's default lr
#define BENCH_ADAM_GOAL 1.5  // an Adam step should cost at most this times the floor
#define BENCH_ADAM_BIG_V 10000000

static const int64_t ADAM_VS[] = {1000, 10000, 100000, 1000000, 10000000};

typedef struct AdamRow {
    const IndexSet *set;  // uniform; V is set->V
    double c_ms;          // one C step, best round
    double floor_ms;      // its floor, best round
    double torch_ms;      // one PyTorch step; < 0 when not measured
    BenchSpread ratio;    // torch / C, round by round
    bool checked;         // PyTorch checked its table against ours ...
    bool torch_same;      // ... and it had our bits
} AdamRow;

static AdamRow rows[BENCH_COUNT(ADAM_VS)];
static int nrows;
static float *grad_out, *out;  // (N, D) each: G (chapter 2's), the looked-up rows

// ---------------------------------------------------------------------------
// The step and the floor
// ---------------------------------------------------------------------------

// One V: the table's first V rows (and of its gradient) and an Adam on them.
typedef struct AdamCase {
    Embedding e;
    const int64_t *idx;  // (BENCH_BATCHES, N): uniform indices in [0, V)
    ParamList params;    // e's weight, its gradient
    Optimizer opt;       // Adam; its state appears at the first step
} AdamCase;

static int adam_case(const Bench *b, const AdamRow *row, AdamCase *c, EmbError *err) {
    memset(c, 0, sizeof *c);
    c->e = bench_prefix(b, row->set->V);
    c->idx = row->set->idx;
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    o.lr = BENCH_ADAM_LR;
    if (emb_parameters(&c->e, &c->params, err) != 0) return -1;
    return optim_init(&c->opt, OPTIM_ADAM, &o, &c->params, err);
}

// One dense Adam step on batch b, in the order of a PyTorch loop:
//   opt.zero_grad(); out = emb(idx); out.backward(G); opt.step()
static int adam_step(void *ctx, int64_t b, EmbError *err) {
    AdamCase *c = ctx;
    const int64_t *idx_b = c->idx + b * BENCH_N;  // seek to batch b
    param_list_zero_grad(&c->params);
    if (emb_lookup(&c->e, idx_b, BENCH_N, out, err) != 0) return -1;
    if (emb_backward(&c->e, idx_b, BENCH_N, grad_out, err) != 0) return -1;
    return optim_step(&c->opt, &c->params, err);
}

// The floor: the step's bytes moved by plain C on the step's own buffers
// (after a first step, so the moments exist). b is ignored. Zeroing the
// gradient (4VD), the rows as if contiguous (20ND, as chapter 2), and
// Adam's stream: 4 arrays read, 3 written (28VD), with as little
// arithmetic as the compiler allows for each value.
static int adam_floor(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    AdamCase *c = ctx;
    int64_t n = c->e.num_embeddings * c->e.embedding_dim;
    float *restrict w = c->e.weight, *restrict m = c->opt.state[0].exp_avg;
    float *restrict v = c->opt.state[0].exp_avg_sq;
    const float *restrict g = c->e.grad;
    memset(c->e.grad, 0, (size_t)n * sizeof(float));
    memcpy(out, grad_out, (size_t)BENCH_N * BENCH_D * sizeof(float));
    bench_stream_axpy(out, grad_out, (int64_t)BENCH_N * BENCH_D, 0.0f);
    for (int64_t i = 0; i < n; i++) {  // g is 0: nothing changes, every byte moves
        m[i] += g[i];
        v[i] += g[i];
        w[i] += g[i] * (m[i] + v[i]);
    }
    return 0;
}

// Bytes the floor moves at V: 32VD + 20ND.
static double floor_bytes(int64_t V) {
    return (32.0 * (double)V + 20.0 * BENCH_N) * BENCH_D;
}

// ---------------------------------------------------------------------------
// Taking turns with PyTorch
// ---------------------------------------------------------------------------

// Refills both tables in place (chapter 1's draws), so that they start equal.
static int refill(Bench *b, EmbError *err) {
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_TABLE_SEED);
    rng_normal_(&gen, b->table.weight, b->table.num_embeddings * b->table.embedding_dim,
                0.0f, 1.0f);
    char line[256];
    if (b->torch == NULL) return 0;
    return bench_torch_ask(b->torch, line, sizeof line, err, "refill");
}

// The first Adam step at each V, with fresh state, on batch 0, taken by both
// sides in the same order. After ours we write the rows of batch 0 to
// dir/adam-V.f32; PyTorch compares its own, and its weight's bits_sum.
static int adam_check(Bench *b, EmbError *err) {
    if (refill(b, err) != 0) return -1;
    for (int r = 0; r < nrows; r++) {
        AdamCase c;
        int rc = adam_case(b, &rows[r], &c, err) || adam_step(&c, 0, err);
        optim_free(&c.opt);
        if (rc != 0) return -1;
        if (b->torch == NULL) continue;
        if (emb_lookup(&c.e, c.idx, BENCH_N, out, err) != 0) return -1;
        char name[64], line[256];
        int64_t V = c.e.num_embeddings, got_V;
        int got_same;
        snprintf(name, sizeof name, "adam-%" PRId64 ".f32", V);
        if (bench_write_bytes(b->dir, name, out, (size_t)BENCH_N * BENCH_D * sizeof(float),
                              err) != 0 ||
            bench_torch_ask(b->torch, line, sizeof line, err, "adamcheck %" PRId64 " %" PRId64
                            " %.17g", V, bench_bits_sum(c.e.weight, V * BENCH_D),
                            BENCH_ADAM_LR) != 0)
            return -1;
        if (sscanf(line, "adamcheck %" SCNd64 " %d", &got_V, &got_same) != 2 || got_V != V)
            return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
        rows[r].checked = true;
        rows[r].torch_same = got_same == 1;
    }
    return 0;
}

// C's turn at row r: the step, then its floor; the state is freed after.
static int c_turn(const Bench *b, AdamRow *row, double *step_ms, EmbError *err) {
    AdamCase c;
    double floor_ms;
    int rc = adam_case(b, row, &c, err) ||
             bench_time_calls_min(adam_step, &c, BENCH_BATCHES, BENCH_ADAM_MIN_CALLS,
                                  step_ms, err) ||
             bench_time_calls(adam_floor, &c, 1, &floor_ms, err);
    optim_free(&c.opt);
    if (rc != 0) return -1;
    bench_keep_best(&row->c_ms, *step_ms);
    bench_keep_best(&row->floor_ms, floor_ms);
    return 0;
}

// PyTorch's turn at row r.
static int torch_turn(BenchTorch *t, AdamRow *row, double *ms, EmbError *err) {
    char line[256];
    int64_t V = row->set->V, got_V;
    if (bench_torch_ask(t, line, sizeof line, err, "adam %" PRId64 " %.17g %d", V,
                        BENCH_ADAM_LR, BENCH_ADAM_MIN_CALLS) != 0)
        return -1;
    if (sscanf(line, "adam %" SCNd64 " %lf", &got_V, ms) != 2 || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    bench_keep_best(&row->torch_ms, *ms);
    return 0;
}

// One round over the cases, PyTorch going first in odd rounds.
static int adam_round(Bench *b, int round, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        int64_t V = rows[r].set->V;
        if (round >= (V >= BENCH_ADAM_BIG_V ? BENCH_ADAM_BIG_ROUNDS : BENCH_ADAM_ROUNDS))
            continue;
        if (V >= BENCH_ADAM_BIG_V)
            bench_progress("chapter 4: Adam steps, round %d, V = %" PRId64, round + 1, V);
        double c_ms = -1, torch_ms = -1;
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (round % 2 == 0)) {
                if (c_turn(b, &rows[r], &c_ms, err) != 0) return -1;
            } else if (b->torch != NULL) {
                if (torch_turn(b->torch, &rows[r], &torch_ms, err) != 0) return -1;
            }
        }
        if (torch_ms >= 0) bench_spread_add(&rows[r].ratio, torch_ms / c_ms);
    }
    return 0;
}

// Chapter 4's measurements, after chapter 2's (which gave the table a
// gradient and wrote G): the check, then BENCH_ADAM_ROUNDS rounds.
static int measure(Bench *b, EmbError *err) {
    for (int i = 0; i < BENCH_COUNT(ADAM_VS); i++) {
        if (ADAM_VS[i] > b->vmax) continue;
        const IndexSet *s = bench_index_set(b, "uniform", ADAM_VS[i], err);
        if (s == NULL) return -1;
        rows[nrows++] = (AdamRow){.set = s, .c_ms = -1, .floor_ms = -1, .torch_ms = -1,
                                  .ratio = BENCH_SPREAD_NONE};
    }
    const int64_t bytes = (int64_t)BENCH_N * BENCH_D * sizeof(float);
    grad_out = emb_alloc(bytes), out = emb_alloc(bytes);
    int rc = -1;
    if (grad_out == NULL || out == NULL) {
        emb_fail(err, "out of memory");
        goto done;
    }
    if ((b->table.grad == NULL && emb_alloc_grad(&b->table, err) != 0) ||  // chapter 2's
        bench_grad_out(b, grad_out, err) != 0)                              // G, again
        goto done;
    bench_progress("chapter 4: both tables refilled, the first Adam steps checked");
    if (adam_check(b, err) != 0) goto done;
    for (int round = 0; round < BENCH_ADAM_ROUNDS; round++) {
        bench_progress("chapter 4: Adam steps, round %d of %d", round + 1, BENCH_ADAM_ROUNDS);
        if (adam_round(b, round, err) != 0) goto done;
    }
    rc = 0;
done:
    free(grad_out);
    free(out);
    return rc;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

static void print_setup(const Bench *b) {
    printf("\nOne dense Adam step, N = %d, D = %d, lr = %g, on the table and the uniform\n"
           "  batches of chapters 1 and 2, with chapter 2's upstream gradient G.\n",
           BENCH_N, BENCH_D, BENCH_ADAM_LR);
    printf("  C:       param_list_zero_grad; emb_lookup; emb_backward; optim_step (chapter 4's\n"
           "           Adam: adam_update over all V*D values).\n");
    if (b->torch != NULL)
        printf("  PyTorch: emb = nn.Embedding.from_pretrained(table[:V], freeze=False) (dense),\n"
               "           opt = torch.optim.Adam(emb.parameters(), lr=%g); each step\n"
               "           opt.zero_grad(set_to_none=False); emb(idx).backward(G); opt.step().\n"
               "           One thread.\n", BENCH_ADAM_LR);
    else
        printf("  PyTorch: not measured (%s).\n", b->no_torch_reason);
    printf("  Floor: the bytes a dense Adam step must move, 32VD + 20ND (zero_grad 4VD; Adam\n"
           "  reads weight, gradient and both moments and writes three of them, 28VD; the rows\n"
           "  20ND), streamed by plain C on the step's own buffers in the same turn.\n"
           "  Times: median per step (at least %d timed steps after a warm-up; the floor at\n"
           "  least %d), best of %d rounds (%d from V = %d) taken in turns case by case;\n"
           "  both sides free their optimizer state after their turn.\n",
           BENCH_ADAM_MIN_CALLS, BENCH_MIN_CALLS, BENCH_ADAM_ROUNDS, BENCH_ADAM_BIG_ROUNDS,
           BENCH_ADAM_BIG_V);
}

// ms with three significant digits, as the prose prints it.
static void fmt_ms(char *buf, size_t size, double ms) {
    int decimals = ms >= 100 ? 0 : ms >= 10 ? 1 : ms >= 1 ? 2 : ms >= 0.1 ? 3 : 4;
    snprintf(buf, size, "%.*f", decimals, ms);
}

// Records row's values for the prose: ch04.adam.V.{bytes,floor_ms,c_ms,...}.
static void record(Bench *b, const AdamRow *row) {
    char key[96], ms[32];
    int64_t V = row->set->V;
    double mb = floor_bytes(V) / 1e6;
    snprintf(key, sizeof key, "ch04.adam.%" PRId64 ".bytes", V);
    if (mb >= 1000) bench_value(b, key, "%.1f GB", mb / 1000);
    else bench_value(b, key, "%.0f MB", mb);
    const char *names[] = {"floor_ms", "c_ms", "torch_ms"};
    const double times[] = {row->floor_ms, row->c_ms, row->torch_ms};
    for (int k = 0; k < 3; k++) {
        if (times[k] < 0) continue;
        fmt_ms(ms, sizeof ms, times[k]);
        snprintf(key, sizeof key, "ch04.adam.%" PRId64 ".%s", V, names[k]);
        bench_value(b, key, "%s", ms);
    }
    snprintf(key, sizeof key, "ch04.adam.%" PRId64 ".c_over_floor", V);
    bench_value(b, key, "%.2f", row->c_ms / row->floor_ms);
    if (row->torch_ms < 0) return;
    snprintf(key, sizeof key, "ch04.adam.%" PRId64 ".torch_over_c", V);
    bench_value(b, key, "%.1f", row->torch_ms / row->c_ms);
}

static int report(Bench *b, EmbError *err) {
    printf("\n== Chapter 4: a dense Adam step ==\n");
    print_setup(b);
    printf("\n%9s %8s | %9s | %9s %6s | %7s | %9s %9s %9s %5s\n", "V", "floor", "C step",
           "floor", "floor", "C/floor", "PyTorch", "PyTorch/C", "rounds", "same");
    printf("%9s %8s | %9s | %9s %6s | %7s | %9s %9s %9s %5s\n", "", "MB", "ms", "ms", "GB/s",
           "", "ms/step", "", "min-max", "bits");
    OutFile of;
    if (outfile_open(&of, b->dir, "adam-step.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tfloor_mb\tc_ms\tfloor_ms\tc_over_floor\ttorch_ms\ttorch_over_c\t"
                  "same_bits\n");
    int missed = 0;
    for (int r = 0; r < nrows; r++) {
        const AdamRow *row = &rows[r];
        double mb = floor_bytes(row->set->V) / 1e6, ratio = row->c_ms / row->floor_ms;
        missed += ratio > BENCH_ADAM_GOAL;
        char torch_ms[32] = "-", torch_ratio[32] = "-", range[32] = "-", same[8] = "-";
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.3f", row->torch_ms);
            snprintf(torch_ratio, sizeof torch_ratio, "%.1f", row->torch_ms / row->c_ms);
            snprintf(range, sizeof range, "%.1f-%.1f", row->ratio.min, row->ratio.max);
        }
        if (row->checked) snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
        printf("%9" PRId64 " %8.1f | %9.3f | %9.3f %6.1f | %6.2f%s | %9s %9s %9s %5s\n",
               row->set->V, mb, row->c_ms, row->floor_ms, mb / row->floor_ms, ratio,
               ratio > BENCH_ADAM_GOAL ? "!" : " ", torch_ms, torch_ratio, range, same);
        fprintf(of.f, "%" PRId64 "\t%.3f\t%.6f\t%.6f\t%.3f\t%s\t%s\t%s\n", row->set->V, mb,
                row->c_ms, row->floor_ms, ratio, torch_ms, torch_ratio, same);
        record(b, row);
    }
    if (outfile_commit(&of, err) != 0) return -1;
    printf("Goal: the C step within %.1fx of the floor at every V: %s.\n", BENCH_ADAM_GOAL,
           missed ? "NOT met (marked !)" : "met");
    char list[128] = "";  // the V that missed the goal, as the prose prints them
    for (int r = 0, n = 0; r < nrows; r++) {
        if (rows[r].c_ms / rows[r].floor_ms <= BENCH_ADAM_GOAL) continue;
        int e = 0;
        for (int64_t v = rows[r].set->V; v >= 10; v /= 10) e++;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s$10^%d$", n++ ? ", " : "", e);
    }
    bench_value(b, "ch04.adam.goal_met", "%d of %d", nrows - missed, nrows);
    bench_value(b, "ch04.adam.goal_missed", "%s", missed ? list : "none");
    return 0;
}

const BenchChapter bench_ch04 = {
    .title = "chapter 4: a dense Adam step beside its memory floor and PyTorch",
    .measure = measure,
    .report = report,
};
