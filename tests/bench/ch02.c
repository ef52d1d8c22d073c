/*
 * ch02.c - chapter 2's benchmark: one dense training step, and its floor.
 *
 * One dense training step on chapter 1's table, N = 4096, D = 64, V from
 * 10^3 to 10^7: zero_grad, the lookup, the backward scatter-add of a fixed
 * upstream gradient G (N, D), and SGD over the whole (V, D) weight, set
 * beside
 *
 *   - the floor: the bytes a dense step must move (16*V*D for zeroing the
 *     gradient and updating the weight, 20*N*D for the rows), timed with
 *     the fastest plain C we have on the step's own buffers, in the same
 *     turn as the step;
 *   - PyTorch's dense nn.Embedding and torch.optim.SGD doing the same step.
 *
 * The steps run after chapter 1's lookups and train the table in place, on
 * both sides; a first step at each V, taken by both sides in the same
 * order, checks that the two tables stay bit for bit the same. Each phase
 * of the C step is also timed on its own, so that when the step misses its
 * goal the report can say, from this run's numbers, which phase costs more
 * than its share of the floor.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../chapters/02-gradient-flow.h"
#include "../../src/cli.h"
#include "../../src/torch_rng.h"
#include "harness.h"

enum {
    BENCH_DENSE_ROUNDS = 3,     // turns of C and PyTorch over the dense steps ...
    BENCH_DENSE_BIG_ROUNDS = 2, // ... and at V >= BENCH_DENSE_BIG_V, where PyTorch's
                                // step takes seconds
    BENCH_DENSE_MIN_CALLS = 1,  // timed steps per turn, at least (a step at V = 10^7
};                              // takes PyTorch seconds); the phases and the floor's
                                // parts, cheaper, get BENCH_MIN_CALLS

#define BENCH_LR 0.1f         // torch.optim.SGD(lr=0.1)
#define BENCH_DENSE_GOAL 1.5  // a dense step should cost at most this times the floor
#define BENCH_DENSE_BIG_V 10000000

static const int64_t DENSE_VS[] = {1000, 10000, 100000, 1000000, 10000000};

// The C step's phases, timed one at a time, and the floor's matching parts.
enum { PH_ZERO, PH_ROWS, PH_SGD, N_PHASES };
static const char *const PHASE_NAMES[N_PHASES] = {
    "zero_grad", "lookup + backward", "SGD over the weight"};
static const char *const FLOOR_NAMES[N_PHASES] = {
    "memset of the gradient", "the rows as if contiguous", "weight += s*grad streamed"};

typedef struct DenseRow {
    const IndexSet *set;       // uniform; V is set->V
    double c_ms;               // one C step
    double phase_ms[N_PHASES]; // ... its phases timed alone (rows: lookup + backward)
    double floor_ms[N_PHASES]; // the floor's parts
    double torch_ms;           // one PyTorch step; < 0 when not measured
    BenchSpread ratio;         // torch / C, round by round
    BenchSpread c_over_floor;  // C / the floor, round by round
    bool checked;              // PyTorch checked its table against ours ...
    bool torch_same;           // ... and it had our bits
} DenseRow;

static DenseRow rows[BENCH_COUNT(DENSE_VS)];
static int nrows;

// ---------------------------------------------------------------------------
// The step, its phases, and the floor
// ---------------------------------------------------------------------------

// One V of the dense benchmark.
typedef struct DenseCase {
    Embedding e;            // the table's first V rows, with the first V rows of its gradient
    const int64_t *idx;     // (BENCH_BATCHES, N): uniform indices in [0, V)
    const float *grad_out;  // (N, D): G, the upstream gradient
    float *out;             // (N, D): the looked-up rows
} DenseCase;

// One dense training step on batch b, in the order of a PyTorch loop:
//   opt.zero_grad(); out = emb(idx); out.backward(G); opt.step()
// (G is the gradient of the loss sum(out * G) with respect to out).
static int dense_step(void *ctx, int64_t b, EmbError *err) {
    DenseCase *c = ctx;
    const int64_t *idx_b = c->idx + b * BENCH_N;  // seek to batch b
    emb_zero_grad(&c->e);
    if (emb_lookup(&c->e, idx_b, BENCH_N, c->out, err) != 0) return -1;
    if (emb_backward(&c->e, idx_b, BENCH_N, c->grad_out, err) != 0) return -1;
    sgd_step(c->e.weight, c->e.grad, c->e.num_embeddings * c->e.embedding_dim, BENCH_LR);
    return 0;
}

// The step's phases alone. zero_grad:
static int phase_zero(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    emb_zero_grad(&((DenseCase *)ctx)->e);
    return 0;
}

// The lookup and the backward scatter-add on batch b (adding into whatever
// the gradient holds): the step's part that scales with N rather than V.
static int phase_rows(void *ctx, int64_t b, EmbError *err) {
    DenseCase *c = ctx;
    const int64_t *idx_b = c->idx + b * BENCH_N;  // seek to batch b
    if (emb_lookup(&c->e, idx_b, BENCH_N, c->out, err) != 0) return -1;
    return emb_backward(&c->e, idx_b, BENCH_N, c->grad_out, err);
}

// SGD over the whole weight (timed on a zeroed gradient: see c_turn).
static int phase_sgd(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    DenseCase *c = ctx;
    sgd_step(c->e.weight, c->e.grad, c->e.num_embeddings * c->e.embedding_dim, BENCH_LR);
    return 0;
}

// The floor, in three parts: the bytes each part of a dense step must move,
// moved by the fastest plain C we have, on the step's own buffers. b is
// ignored. Zeroing the gradient writes 4VD bytes:
static int floor_zero(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    DenseCase *c = ctx;
    memset(c->e.grad, 0, (size_t)(c->e.num_embeddings * c->e.embedding_dim) * sizeof(float));
    return 0;
}

// The rows: the lookup reads N rows and writes out (8ND bytes), backward
// reads G and reads and writes N rows of the gradient (12ND bytes); here as
// if the rows were contiguous: a memcpy G -> out, then out += s*G.
static int floor_rows(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    DenseCase *c = ctx;
    memcpy(c->out, c->grad_out, (size_t)BENCH_N * BENCH_D * sizeof(float));
    bench_stream_axpy(c->out, c->grad_out, (int64_t)BENCH_N * BENCH_D, -BENCH_LR);
    return 0;
}

// SGD reads the gradient and the weight and writes the weight, 12VD bytes.
// Timed after floor_zero, so the gradient is 0 and the weight keeps its bits.
static int floor_sgd(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    DenseCase *c = ctx;
    bench_stream_axpy(c->e.weight, c->e.grad, c->e.num_embeddings * c->e.embedding_dim,
                      -BENCH_LR);
    return 0;
}

// Bytes the floor moves at V: 16VD + 20ND.
static double floor_bytes(int64_t V) {
    return (16.0 * (double)V + 20.0 * BENCH_N) * BENCH_D;
}

static double floor_total(const DenseRow *row) {
    return row->floor_ms[PH_ZERO] + row->floor_ms[PH_ROWS] + row->floor_ms[PH_SGD];
}

// The case for row r: prefixes of the table (weight and gradient).
static DenseCase dense_case(const Bench *b, const DenseRow *row, const float *grad_out,
                            float *out) {
    return (DenseCase){.e = bench_prefix(b, row->set->V), .idx = row->set->idx,
                       .grad_out = grad_out, .out = out};
}

// ---------------------------------------------------------------------------
// Taking turns with PyTorch
// ---------------------------------------------------------------------------

// The first dense step at each V, on batch 0, taken by both sides in the
// same order on tables that start with the same bits. After ours we write
// the rows of batch 0 to dir/dense-V.f32; PyTorch compares its own rows, and
// its weight's bits_sum, with ours.
static int dense_check(Bench *b, const float *grad_out, float *out, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        DenseCase c = dense_case(b, &rows[r], grad_out, out);
        if (dense_step(&c, 0, err) != 0) return -1;
        if (b->torch == NULL) continue;
        if (emb_lookup(&c.e, c.idx, BENCH_N, out, err) != 0) return -1;
        char name[64], line[256];
        int64_t V = c.e.num_embeddings;
        snprintf(name, sizeof name, "dense-%" PRId64 ".f32", V);
        if (bench_write_bytes(b->dir, name, out, (size_t)BENCH_N * BENCH_D * sizeof(float),
                              err) != 0)
            return -1;
        int64_t sum = bench_bits_sum(c.e.weight, V * c.e.embedding_dim);
        if (bench_torch_ask(b->torch, line, sizeof line, err,
                            "densecheck %" PRId64 " %" PRId64 " %.9g", V, sum,
                            (double)BENCH_LR) != 0)  // 9 digits: the same float
            return -1;
        int64_t got_V;
        int got_same;
        if (sscanf(line, "densecheck %" SCNd64 " %d", &got_V, &got_same) != 2 || got_V != V)
            return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
        rows[r].checked = true;
        rows[r].torch_same = got_same == 1;
    }
    return 0;
}

// Asks PyTorch to time its dense step at V; *ms gets the time per step.
static int torch_dense(BenchTorch *t, int64_t V, double *ms, EmbError *err) {
    char line[256];
    if (bench_torch_ask(t, line, sizeof line, err, "dense %" PRId64 " %.9g %d", V,
                        (double)BENCH_LR, BENCH_DENSE_MIN_CALLS) != 0)
        return -1;
    int64_t got_V;
    if (sscanf(line, "dense %" SCNd64 " %lf", &got_V, ms) != 2 || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    return 0;
}

// C's turn at row r: the step, its phases, the floor's parts. Backward
// goes first, so that SGD (ours and the floor's) runs on a zeroed gradient
// and leaves the weight's bits as they were.
static int c_turn(DenseRow *row, DenseCase *c, double *step_ms, EmbError *err) {
    double floor_ms = 0;
    static const struct {
        BenchCallFn fn;
        int64_t nbatches;
        bool floor;
        int part;
    } order[] = {
        {phase_rows, BENCH_BATCHES, false, PH_ROWS}, {phase_zero, 1, false, PH_ZERO},
        {phase_sgd, 1, false, PH_SGD},               {floor_zero, 1, true, PH_ZERO},
        {floor_sgd, 1, true, PH_SGD},                {floor_rows, 1, true, PH_ROWS},
    };
    if (bench_time_calls_min(dense_step, c, BENCH_BATCHES, BENCH_DENSE_MIN_CALLS, step_ms,
                             err) != 0)
        return -1;
    bench_keep_best(&row->c_ms, *step_ms);
    for (int i = 0; i < BENCH_COUNT(order); i++) {
        double ms;
        if (bench_time_calls(order[i].fn, c, order[i].nbatches, &ms, err) != 0) return -1;
        bench_keep_best(order[i].floor ? &row->floor_ms[order[i].part]
                                       : &row->phase_ms[order[i].part], ms);
        if (order[i].floor) floor_ms += ms;
    }
    bench_spread_add(&row->c_over_floor, *step_ms / floor_ms);
    return 0;
}

// The rounds at V.
static int dense_rounds(int64_t V) {
    return V >= BENCH_DENSE_BIG_V ? BENCH_DENSE_BIG_ROUNDS : BENCH_DENSE_ROUNDS;
}

// One round over the dense cases, PyTorch going first in odd rounds.
static int dense_round(Bench *b, int round, const float *grad_out, float *out, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        DenseRow *row = &rows[r];
        if (round >= dense_rounds(row->set->V)) continue;
        if (row->set->V >= 1000000)
            bench_progress("chapter 2: dense steps, round %d of %d, V = %" PRId64, round + 1,
                           dense_rounds(row->set->V), row->set->V);
        DenseCase c = dense_case(b, row, grad_out, out);
        double c_ms = -1, torch_ms = -1;
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (round % 2 == 0)) {
                if (c_turn(row, &c, &c_ms, err) != 0) return -1;
            } else if (b->torch != NULL) {
                if (torch_dense(b->torch, row->set->V, &torch_ms, err) != 0) return -1;
                bench_keep_best(&row->torch_ms, torch_ms);
            }
        }
        if (torch_ms >= 0) bench_spread_add(&row->ratio, torch_ms / c_ms);
    }
    return 0;
}

// Chapter 2's measurements, after chapter 1's (they train the table in
// place): gives the table a gradient, writes G to dir/grad-out.f32, checks
// the first step against PyTorch, then takes BENCH_DENSE_ROUNDS rounds.
static int measure(Bench *b, EmbError *err) {
    for (int i = 0; i < BENCH_COUNT(DENSE_VS); i++) {
        if (DENSE_VS[i] > b->vmax) continue;
        const IndexSet *s = bench_index_set(b, "uniform", DENSE_VS[i], err);
        if (s == NULL) return -1;
        DenseRow *row = &rows[nrows++];
        *row = (DenseRow){.set = s, .c_ms = -1, .torch_ms = -1, .ratio = BENCH_SPREAD_NONE,
                          .c_over_floor = BENCH_SPREAD_NONE};
        for (int p = 0; p < N_PHASES; p++) row->phase_ms[p] = row->floor_ms[p] = -1;
    }
    const int64_t bytes = (int64_t)BENCH_N * BENCH_D * sizeof(float);
    float *grad_out = emb_alloc(bytes), *out = emb_alloc(bytes);  // (N, D) each
    int rc = -1;
    if (grad_out == NULL || out == NULL) {
        emb_fail(err, "out of memory");
        goto done;
    }
    bench_progress("chapter 2: a gradient for the table");
    if (emb_alloc_grad(&b->table, err) != 0) goto done;
    if (bench_grad_out(b, grad_out, err) != 0) goto done;
    bench_progress("chapter 2: the first dense step, checked against PyTorch");
    if (dense_check(b, grad_out, out, err) != 0) goto done;
    for (int round = 0; round < BENCH_DENSE_ROUNDS; round++) {
        bench_progress("chapter 2: dense steps, round %d of %d", round + 1, BENCH_DENSE_ROUNDS);
        if (dense_round(b, round, grad_out, out, err) != 0) goto done;
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

// Prints how the dense steps were measured, above their table.
static void print_setup(const Bench *b) {
    printf("\nOne dense training step, N = %d, D = %d, lr = %g, the uniform batches of\n"
           "  chapter 1 (taken in turn) and one upstream gradient G (N, D), drawn as\n"
           "  torch.manual_seed(%d); torch.randn(N, D) draws it; the loss is sum(out * G).\n",
           BENCH_N, BENCH_D, (double)BENCH_LR, BENCH_GRAD_SEED);
    printf("  C:       emb_zero_grad; emb_lookup (forward); emb_backward (scatter-add of G);\n"
           "           sgd_step over all V*D values of the weight.\n");
    if (b->torch != NULL)
        printf("  PyTorch: emb = nn.Embedding.from_pretrained(table[:V], freeze=False) (dense),\n"
               "           opt = torch.optim.SGD(emb.parameters(), lr=%g); each step\n"
               "           opt.zero_grad(set_to_none=False), 1.13's default;\n"
               "           emb(idx).backward(G); opt.step(). One thread.\n", (double)BENCH_LR);
    else
        printf("  PyTorch: not measured (%s).\n", b->no_torch_reason);
    printf("  Both sides train the table the lookups used, in place, after the lookups; a first\n"
           "  step at each V, taken by both in the same order, checks that the tables stay equal\n"
           "  (same bits: batch 0's rows and the whole weight's sum of int32 bit patterns).\n");
    printf("  Floor: the bytes a dense step must move, 16VD + 20ND (zeroing the gradient writes\n"
           "  4VD; SGD reads the gradient and the weight and writes the weight, 12VD; the rows:\n"
           "  the lookup's reads and writes and backward's reads of G and of the gradient rows\n"
           "  and writes, 20ND), timed on the step's own buffers in the same turn as the step.\n"
           "  GB/s is those bytes over the floor's time.\n");
    printf("  Times: median per step (slow cases: %d timed step(s) after one warm-up step; the\n"
           "  floor's parts at least %d), best of %d rounds (%d from V = %d) in which C and\n"
           "  PyTorch take turns case by case.\n", BENCH_DENSE_MIN_CALLS, BENCH_MIN_CALLS,
           BENCH_DENSE_ROUNDS, BENCH_DENSE_BIG_ROUNDS, BENCH_DENSE_BIG_V);
}

// ms with three significant digits, as the prose prints it: 0.0362, 1.05, 151.
static void fmt_ms(char *buf, size_t size, double ms) {
    int decimals = ms >= 100 ? 0 : ms >= 10 ? 1 : ms >= 1 ? 2 : ms >= 0.1 ? 3 : 4;
    snprintf(buf, size, "%.*f", decimals, ms);
}

// Records row's values for the prose.
static void record(Bench *b, const DenseRow *row) {
    char key[96], ms[32], V[24];
    bench_v_name(row->set->V, V, sizeof V);
    double mb = floor_bytes(row->set->V) / 1e6, floor_ms = floor_total(row);
    snprintf(key, sizeof key, "ch02.dense.%s.bytes", V);
    if (mb >= 1000) bench_value(b, key, "%.1f GB", mb / 1000);
    else bench_value(b, key, "%.0f MB", mb);
    fmt_ms(ms, sizeof ms, floor_ms);
    snprintf(key, sizeof key, "ch02.dense.%s.floor_ms", V);
    bench_value(b, key, "%s", ms);
    fmt_ms(ms, sizeof ms, row->c_ms);
    snprintf(key, sizeof key, "ch02.dense.%s.c_ms", V);
    bench_value(b, key, "%s", ms);
    snprintf(key, sizeof key, "ch02.dense.%s.c_over_floor", V);
    bench_value(b, key, "%.2f", row->c_ms / floor_ms);
    snprintf(key, sizeof key, "ch02.dense.%s.c_over_floor_min", V);
    bench_value(b, key, "%.2f", row->c_over_floor.min);
    snprintf(key, sizeof key, "ch02.dense.%s.c_over_floor_max", V);
    bench_value(b, key, "%.2f", row->c_over_floor.max);
    if (row->torch_ms < 0) return;
    fmt_ms(ms, sizeof ms, row->torch_ms);
    snprintf(key, sizeof key, "ch02.dense.%s.torch_ms", V);
    bench_value(b, key, "%s", ms);
    snprintf(key, sizeof key, "ch02.dense.%s.torch_over_c", V);
    bench_value(b, key, "%.1f", row->torch_ms / row->c_ms);
    snprintf(key, sizeof key, "ch02.dense.%s.torch_over_c_min", V);
    bench_value(b, key, "%.1f", row->ratio.min);
    snprintf(key, sizeof key, "ch02.dense.%s.torch_over_c_max", V);
    bench_value(b, key, "%.1f", row->ratio.max);
}

// For a row that missed the goal: each phase beside its floor part, and
// where the step's excess over its floor comes from, all from this run's
// numbers: the phases' own excesses over their floor parts, and what
// running them together costs beyond running them alone.
static void explain_miss(const DenseRow *row) {
    double floor_ms = floor_total(row), sum = 0, phase_excess = 0;
    int worst = 0;
    for (int p = 0; p < N_PHASES; p++) {
        sum += row->phase_ms[p];
        phase_excess += row->phase_ms[p] - row->floor_ms[p];
        if (row->phase_ms[p] - row->floor_ms[p] > row->phase_ms[worst] - row->floor_ms[worst])
            worst = p;
    }
    printf("    V = %" PRId64 ": the step took %.3f ms, %.2fx its floor of %.3f ms (%.3f ms more).\n"
           "      Its phases, each timed alone, beside the floor's parts:\n",
           row->set->V, row->c_ms, row->c_ms / floor_ms, floor_ms, row->c_ms - floor_ms);
    for (int p = 0; p < N_PHASES; p++)
        printf("      %-20s %9.3f ms (%3.0f%% of the phases)   floor: %-26s %9.3f ms\n",
               PHASE_NAMES[p], row->phase_ms[p], 100 * row->phase_ms[p] / sum, FLOOR_NAMES[p],
               row->floor_ms[p]);
    printf("      Alone, the phases exceed their floor parts by %.3f ms in all (the most: %s,\n"
           "      %.3f ms); run together in the step they take %.3f ms %s than alone.\n",
           phase_excess, PHASE_NAMES[worst], row->phase_ms[worst] - row->floor_ms[worst],
           fabs(row->c_ms - sum), row->c_ms >= sum ? "more" : "less");
    printf("      So most of the excess comes from %s.\n",
           row->c_ms - sum > phase_excess
               ? "running the phases together, not from any one phase"
               : "the phases themselves, above all from the one named above");
}

// Prints the dense-step table on stdout, and whether the C step met its goal
// at every V, and writes the table to dir/dense-step.tsv.
static int report(Bench *b, EmbError *err) {
    printf("\n== Chapter 2: a dense training step ==\n");
    print_setup(b);
    printf("\n%9s %8s | %9s | %9s %6s | %7s %9s | %9s %9s %9s %5s\n", "V", "floor", "C step",
           "floor", "floor", "C/floor", "rounds", "PyTorch", "PyTorch/C", "rounds", "same");
    printf("%9s %8s | %9s | %9s %6s | %7s %9s | %9s %9s %9s %5s\n", "", "MB", "ms", "ms", "GB/s",
           "", "min-max", "ms/step", "", "min-max", "bits");
    OutFile of;
    if (outfile_open(&of, b->dir, "dense-step.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tfloor_mb\tc_ms\tc_zero_ms\tc_rows_ms\tc_sgd_ms\tfloor_ms\tfloor_zero_ms\t"
                  "floor_rows_ms\tfloor_sgd_ms\tfloor_gbps\tc_over_floor\ttorch_ms\t"
                  "torch_over_c\tsame_bits\n");
    int missed = 0;
    for (int r = 0; r < nrows; r++) {
        const DenseRow *row = &rows[r];
        double floor_ms = floor_total(row);
        double mb = floor_bytes(row->set->V) / 1e6, gbps = mb / floor_ms;  // MB/ms = GB/s
        double ratio = row->c_ms / floor_ms;
        missed += ratio > BENCH_DENSE_GOAL;
        char torch_ms[32] = "-", torch_ratio[32] = "-", range[32] = "-", same[8] = "-";
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.3f", row->torch_ms);
            snprintf(torch_ratio, sizeof torch_ratio, "%.1f", row->torch_ms / row->c_ms);
            snprintf(range, sizeof range, "%.1f-%.1f", row->ratio.min, row->ratio.max);
        }
        if (row->checked) snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
        char c_range[32];
        snprintf(c_range, sizeof c_range, "%.2f-%.2f", row->c_over_floor.min,
                 row->c_over_floor.max);
        printf("%9" PRId64 " %8.1f | %9.3f | %9.3f %6.1f | %6.2f%s %9s | %9s %9s %9s %5s\n",
               row->set->V, mb, row->c_ms, floor_ms, gbps, ratio,
               ratio > BENCH_DENSE_GOAL ? "!" : " ", c_range, torch_ms, torch_ratio, range, same);
        fprintf(of.f, "%" PRId64 "\t%.3f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.2f"
                      "\t%.3f\t%s\t%s\t%s\n", row->set->V, mb, row->c_ms,
                row->phase_ms[PH_ZERO], row->phase_ms[PH_ROWS], row->phase_ms[PH_SGD], floor_ms,
                row->floor_ms[PH_ZERO], row->floor_ms[PH_ROWS], row->floor_ms[PH_SGD], gbps,
                ratio, torch_ms, torch_ratio, same);
        record(b, row);
    }
    if (outfile_commit(&of, err) != 0) return -1;

    const DenseRow *big = &rows[nrows - 1];
    double VD = (double)big->set->V * BENCH_D;
    printf("\nFloor parts at V = %" PRId64 ": memset of the gradient %.1f GB/s, weight += s*grad\n"
           "  %.1f GB/s, the rows %.1f GB/s (in cache); each part's best round.\n",
           big->set->V, 4 * VD / big->floor_ms[PH_ZERO] / 1e6,
           12 * VD / big->floor_ms[PH_SGD] / 1e6,
           20.0 * BENCH_N * BENCH_D / big->floor_ms[PH_ROWS] / 1e6);
    for (int r = 0; r < nrows; r++) {
        if (rows[r].c_ms >= floor_total(&rows[r])) continue;
        printf("At V = %" PRId64 " the step (%.3f ms) beat its floor (%.3f ms): the floor's parts,\n"
               "  timed alone, ran slower in this run than the same bytes inside the step; their\n"
               "  best rounds were %.0f%% above the step's.\n",
               rows[r].set->V, rows[r].c_ms, floor_total(&rows[r]),
               100 * (floor_total(&rows[r]) / rows[r].c_ms - 1));
    }
    if (missed == 0) {
        printf("Goal: the C step within %.1fx of the floor at every V: met.\n", BENCH_DENSE_GOAL);
        return 0;
    }
    printf("Goal: the C step within %.1fx of the floor: NOT met (marked !). Where it was missed:\n",
           BENCH_DENSE_GOAL);
    for (int r = 0; r < nrows; r++)
        if (rows[r].c_ms / floor_total(&rows[r]) > BENCH_DENSE_GOAL) explain_miss(&rows[r]);
    return 0;
}

const BenchChapter bench_ch02 = {
    .title = "chapter 2: a dense training step beside its memory floor and PyTorch",
    .measure = measure,
    .report = report,
};
