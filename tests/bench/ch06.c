/*
 * ch06.c - chapter 6's benchmark: sparse training steps and the fast
 * lookup, beside their floors and PyTorch, V = 10^3 .. 10^7.
 *
 * D = 64, N = 4096, one thread unless a column says otherwise, on the
 * uniform and Zipf(1.1) index sets every chapter shares (64 batches of N
 * per (distribution, V), taken in turn) and chapter 2's upstream gradient
 * G. The columns of ch06-steps.tsv, in ms per call:
 *
 *   lookup       chapter 1's emb_lookup on the table as chapter 1 made it
 *                (posix_memalign, no huge pages);
 *   lookup+      emb_lookup_prefetch on a copy of the table with transparent
 *                huge pages (emb_alloc_huge), prefetching BENCH_PREFETCH rows ahead;
 *   torch-lookup F.embedding(idx, weight[:V]);
 *   sgd          a sparse SGD step: lookup+, emb_backward_sparse, sparse_sgd_update;
 *   sgd-fused    lookup+, then backward and update in one loop (emb_sparse_sgd_fused);
 *   sgd-2t       sgd with the update split by rows over 2 threads started per step;
 *   sgd-floor    the least memory work a sparse SGD step must do, done as the
 *                step does it (the huge-page table, each row asked for
 *                BENCH_PREFETCH rows ahead): gather the N rows, then add
 *                -lr * G's rows into theirs, N row axpys in entry order; no
 *                index checks, no entry list;
 *   torch-sgd    zero_grad + backward + step of nn.Embedding(sparse=True)
 *                with torch.optim.SGD(lr=0.01);
 *   adam         a SparseAdam step: lookup+, backward, coalesce, the row update;
 *   adam-floor   gather the N rows, then update each DISTINCT row the batch
 *                touches (weight, exp_avg and exp_avg_sq, each asked for
 *                BENCH_PREFETCH rows ahead) with SparseAdam's arithmetic
 *                (sparse_adam_row) from that row's summed gradient. The
 *                distinct rows and their sums are made before the clock
 *                starts: sorting and coalescing are the step's own
 *                overhead, not part of the floor;
 *   torch-adam   the same PyTorch step with torch.optim.SparseAdam;
 *   lookup-thp   emb_lookup on the huge-page copy (no prefetching);
 *   lookup-sorted  emb_lookup_sorted on it: rows visited in increasing order;
 *   sgd-pool2    sgd's split update on a pool of 2 threads started once;
 *   adam-fused   lookup+, then emb_sparse_adam_fused (backward, coalescing and
 *                the update in one pass, the same bits);
 *   sort         sparse_sort_order on the batch: the order coalesce adds a
 *                row's repeats in, std::sort's, by block partitions;
 *   sort-plain   sparse_sort_order_plain: the same order by the plain
 *                emulation of libstdc++'s loops (the two give the same
 *                permutation; tests/test_ch06.c checks it);
 *   sort-radix   a stable LSD radix sort of the same batch, 8 bits of the index
 *                a pass: the order a library free of PyTorch's bits could
 *                coalesce in, for scale. Not the book's: its sums of a row's
 *                repeats would round differently. Each case checks, untimed,
 *                that it sorts its batches and keeps repeats in entry order.
 *
 * So a step's *_floor value (step / floor) is at least about 1; the goal is
 * at most BENCH_SPARSE_GOAL. Both sides train their tables in place (the
 * values do not matter to the times), and both keep SparseAdam's two
 * moments of the whole table, zeroed once before the first step, across
 * calls and rounds: no side pays for fresh state inside the clock.
 *
 * ch06-dense.tsv (V, dense-sgd, torch-dense-sgd, dense-adam,
 * torch-dense-adam, ms per step, V <= 10^6) is not measured here: a dense
 * SGD step and a dense Adam step of nn.Embedding are chapter 2's and
 * chapter 4's measurements of this run, quoted as they recorded them.
 *
 * Memory: the huge-page copy replaces chapter 1's table once the plain
 * lookups are done (chapter 2's dense gradient is freed first), so at the
 * peak each side holds the 2.56 GB table and SparseAdam's two moments,
 * 7.7 GB a side.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../chapters/06-sparse-efficiency.h"
#include "../../src/cli.h"
#include "harness.h"

_Static_assert((int)BENCH_PREFETCH == (int)SPARSE_PREFETCH_AHEAD,
               "the floors ask for rows as far ahead as the steps do");

enum {
    BENCH_SPARSE_ROUNDS = 3,     // turns of C and PyTorch over the sparse cases
    BENCH_SPARSE_MIN_CALLS = 5,  // timed calls per case, at least
};
#define BENCH_SPARSE_BUDGET_S 0.03  // a call takes 0.02 to 6 ms: 5 to 1000 calls
#define BENCH_SPARSE_LR 0.01        // torch.optim.SGD(lr=0.01)
#define BENCH_SPARSE_GOAL 2.0       // a sparse step should cost at most this times its floor

static const int64_t SPARSE_VS[] = {1000, 10000, 100000, 1000000, 10000000};
static const char *const DISTS[] = {"uniform", "zipf"};
enum { N_VS = BENCH_COUNT(SPARSE_VS) };

enum {
    C_LOOKUP,
    C_LOOKUP_FAST,
    T_LOOKUP,
    C_SGD,
    C_SGD_FUSED,
    C_SGD_2T,
    F_SGD,
    T_SGD,
    C_ADAM,
    F_ADAM,
    T_ADAM,
    C_LOOKUP_THP,
    C_LOOKUP_SORTED,
    C_SGD_POOL,
    C_ADAM_FUSED,
    C_SORT,
    C_SORT_PLAIN,
    C_SORT_RADIX,
    N_COLS
};
static const char *const COLS[N_COLS] = {
    "lookup",     "lookup+",    "torch-lookup",  "sgd",       "sgd-fused",
    "sgd-2t",     "sgd-floor",  "torch-sgd",     "adam",      "adam-floor",
    "torch-adam", "lookup-thp", "lookup-sorted", "sgd-pool2", "adam-fused",
    "sort",       "sort-plain", "sort-radix"};

// Best ms per call over the rounds, [dist][V][column]; < 0 when not measured.
static double best[2][N_VS][N_COLS];
static int nvs;  // the V measured: SPARSE_VS[0 .. nvs)

// What every case shares: buffers made once, in measure.
static struct {
    float *plain;           // (vmax, D): chapter 1's table, until the steps begin
    float *huge;            // (vmax, D): its copy on huge pages
    float *m, *v;           // (vmax, D): SparseAdam's exp_avg and exp_avg_sq, zeroed
    float *grad_out, *out;  // (N, D): G; the looked-up rows
    int64_t *perm;          // (N,): scratch of the sorted lookup and fused Adam
    uint64_t *words;        // (2, N): sort-radix's keyed entries and its scratch
    SparseGrad g, c;        // a step's entries; coalesced
    SparsePool *pool;       // 2 threads for sgd-pool2
    int64_t adam_step;      // SparseAdam's step count, both Adam steps and the floor
    OptimOptions adam;      // torch.optim.SparseAdam's defaults
    int64_t *rows;          // (BENCH_BATCHES, N): adam-floor's distinct rows per batch
    float *sums;            // (BENCH_BATCHES, N, D): ... and their summed gradients
    int64_t nrows[BENCH_BATCHES];
} sp;

// One case: (distribution, V).
typedef struct SparseCase {
    Embedding plain, huge;  // the first V rows of either table
    const int64_t *idx;     // (BENCH_BATCHES, N) indices in [0, V)
} SparseCase;

// ---------------------------------------------------------------------------
// The cases: one call each on batch b
// ---------------------------------------------------------------------------

static const int64_t *batch(const SparseCase *c, int64_t b) {
    return c->idx + b * BENCH_N;  // seek to batch b
}

static int case_lookup(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return emb_lookup(&c->plain, batch(c, b), BENCH_N, sp.out, err);
}

static int case_lookup_fast(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return emb_lookup_prefetch(&c->huge, batch(c, b), BENCH_N, sp.out, BENCH_PREFETCH, err);
}

static int case_lookup_thp(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return emb_lookup(&c->huge, batch(c, b), BENCH_N, sp.out, err);
}

static int case_lookup_sorted(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return emb_lookup_sorted(&c->huge, batch(c, b), BENCH_N, sp.out, sp.perm, err);
}

// The order coalesce sorts a batch in, by the fast sort and by the plain one.
static int case_sort(void *ctx, int64_t b, EmbError *err) {
    return sparse_sort_order(batch(ctx, b), BENCH_N, sp.perm, err);
}

static int case_sort_plain(void *ctx, int64_t b, EmbError *err) {
    return sparse_sort_order_plain(batch(ctx, b), BENCH_N, sp.perm, err);
}

// A stable LSD radix sort of idx (values in [0, V)) into perm: each word
// holds an index over its entry number, and each pass of 8 bits of the
// index deals the words into 256 piles in order, so repeats keep their
// entry order. words is (2, n) scratch.
static void radix_order(const int64_t *idx, int64_t n, int64_t V, int64_t *perm,
                        uint64_t *words) {
    uint64_t *src = words, *dst = words + n;
    for (int64_t i = 0; i < n; i++) src[i] = (uint64_t)idx[i] << 32 | (uint64_t)i;
    for (int shift = 32; (uint64_t)(V - 1) >> (shift - 32) > 0; shift += 8) {
        int64_t start[257] = {0};
        for (int64_t i = 0; i < n; i++) start[(src[i] >> shift & 255) + 1]++;
        for (int k = 1; k <= 256; k++) start[k] += start[k - 1];
        for (int64_t i = 0; i < n; i++) dst[start[src[i] >> shift & 255]++] = src[i];
        uint64_t *t = src;
        src = dst, dst = t;
    }
    for (int64_t i = 0; i < n; i++) perm[i] = (int64_t)(src[i] & 0xffffffffu);
}

static int case_sort_radix(void *ctx, int64_t b, EmbError *err) {
    (void)err;
    SparseCase *c = ctx;
    radix_order(batch(c, b), BENCH_N, c->huge.num_embeddings, sp.perm, sp.words);
    return 0;
}

// Before the lookups' clock: sort-radix sorts every batch, stably.
static int check_radix(SparseCase *c, EmbError *err) {
    for (int64_t b = 0; b < BENCH_BATCHES; b++) {
        const int64_t *idx = batch(c, b);
        radix_order(idx, BENCH_N, c->huge.num_embeddings, sp.perm, sp.words);
        for (int64_t i = 1; i < BENCH_N; i++) {
            int64_t p = sp.perm[i - 1], q = sp.perm[i];
            if (idx[p] > idx[q] || (idx[p] == idx[q] && p > q))
                return emb_fail(err, "sort-radix: batch %" PRId64 " out of order at %" PRId64,
                                b, i);
        }
    }
    return 0;
}

// lookup+, then the sparse gradient of G: the first half of every sparse step.
static int forward_backward(SparseCase *c, int64_t b, EmbError *err) {
    sparse_grad_zero(&sp.g);
    sp.g.num_rows = c->huge.num_embeddings;
    return case_lookup_fast(c, b, err) ||
           emb_backward_sparse(&c->huge, &sp.g, batch(c, b), BENCH_N, sp.grad_out, err);
}

static int case_sgd(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    if (forward_backward(c, b, err) != 0) return -1;
    sparse_sgd_update(c->huge.weight, &sp.g, BENCH_SPARSE_LR, false);
    return 0;
}

static int case_sgd_fused(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return case_lookup_fast(c, b, err) ||
           emb_sparse_sgd_fused(&c->huge, batch(c, b), BENCH_N, sp.grad_out, BENCH_SPARSE_LR,
                                err);
}

static int case_sgd_2t(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return forward_backward(c, b, err) ||
           sparse_sgd_update_parallel(c->huge.weight, &sp.g, BENCH_SPARSE_LR, 2, err);
}

static int case_sgd_pool(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    if (forward_backward(c, b, err) != 0) return -1;
    sparse_sgd_update_pool(sp.pool, c->huge.weight, &sp.g, BENCH_SPARSE_LR);
    return 0;
}

// The SGD floor: gather the N rows, then N row axpys, both prefetching.
static int case_sgd_floor(void *ctx, int64_t b, EmbError *err) {
    (void)err;
    SparseCase *c = ctx;
    bench_gather_rows(sp.out, c->huge.weight, batch(c, b), BENCH_N);
    bench_scatter_axpy(c->huge.weight, batch(c, b), sp.grad_out, BENCH_N,
                       (float)-BENCH_SPARSE_LR);
    return 0;
}

static int case_adam(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    if (forward_backward(c, b, err) != 0 || sparse_coalesce(&sp.g, &sp.c, err) != 0)
        return -1;
    sparse_adam_update(c->huge.weight, &sp.c, sp.m, sp.v, ++sp.adam_step, &sp.adam);
    return 0;
}

static int case_adam_fused(void *ctx, int64_t b, EmbError *err) {
    SparseCase *c = ctx;
    return case_lookup_fast(c, b, err) ||
           emb_sparse_adam_fused(&c->huge, batch(c, b), BENCH_N, sp.grad_out, sp.m, sp.v,
                                 ++sp.adam_step, &sp.adam, sp.perm, err);
}

// lr * sqrt(1 - beta2^t) / (1 - beta1^t): SparseAdam's step size at step t.
static double adam_step_size(int64_t t) {
    return sp.adam.lr * sqrt(1.0 - pow(sp.adam.beta2, (double)t)) /
           (1.0 - pow(sp.adam.beta1, (double)t));
}

// Before the clock: each batch's distinct rows, in increasing order, and
// the sum of G's rows for each (the coalesced sparse gradient), into sp.
static int prepare_adam_floor(SparseCase *c, EmbError *err) {
    for (int64_t b = 0; b < BENCH_BATCHES; b++) {
        sparse_grad_zero(&sp.g);
        sp.g.num_rows = c->huge.num_embeddings;
        if (emb_backward_sparse(&c->huge, &sp.g, batch(c, b), BENCH_N, sp.grad_out, err) ||
            sparse_coalesce(&sp.g, &sp.c, err))
            return -1;
        sp.nrows[b] = sp.c.nnz;
        memcpy(sp.rows + b * BENCH_N, sp.c.indices, (size_t)sp.c.nnz * sizeof *sp.rows);
        memcpy(sp.sums + b * BENCH_N * BENCH_D, sp.c.values,
               (size_t)(sp.c.nnz * BENCH_D) * sizeof(float));
    }
    return 0;
}

// The Adam floor: gather the N rows, then SparseAdam's row update of each
// distinct row from its summed gradient, the three rows prefetched ahead.
static int case_adam_floor(void *ctx, int64_t b, EmbError *err) {
    (void)err;
    SparseCase *c = ctx;
    bench_gather_rows(sp.out, c->huge.weight, batch(c, b), BENCH_N);
    const int64_t *rows = sp.rows + b * BENCH_N, n = sp.nrows[b];  // seek to batch b
    const float *sums = sp.sums + b * BENCH_N * BENCH_D;
    double step_size = adam_step_size(++sp.adam_step);
    for (int64_t k = 0; k < n; k++) {
        if (k + BENCH_PREFETCH < n) {
            int64_t ahead = rows[k + BENCH_PREFETCH] * BENCH_D;
            BENCH_PREFETCH_ROW(c->huge.weight + ahead, 1);
            BENCH_PREFETCH_ROW(sp.m + ahead, 1);
            BENCH_PREFETCH_ROW(sp.v + ahead, 1);
        }
        int64_t off = rows[k] * BENCH_D;  // seek to row rows[k]
        sparse_adam_row(c->huge.weight + off, sums + k * BENCH_D, sp.m + off, sp.v + off,
                        BENCH_D, step_size, &sp.adam);
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Taking turns with PyTorch
// ---------------------------------------------------------------------------

typedef struct CaseSpec {
    int col;
    BenchCallFn fn;
} CaseSpec;

// A group of cases C times in one turn, and the PyTorch request beside them.
typedef struct Group {
    const char *torch_kind;  // "lookup", "sgd" or "adam"
    int torch_col;
    int (*prepare)(SparseCase *c, EmbError *err);  // before C's cases, untimed, or NULL
    const CaseSpec *cases;
    int ncases;
} Group;

static const CaseSpec LOOKUP_CASES[] = {{C_LOOKUP, case_lookup},
                                        {C_LOOKUP_FAST, case_lookup_fast},
                                        {C_LOOKUP_THP, case_lookup_thp},
                                        {C_LOOKUP_SORTED, case_lookup_sorted},
                                        {C_SORT, case_sort},
                                        {C_SORT_PLAIN, case_sort_plain},
                                        {C_SORT_RADIX, case_sort_radix}};
static const CaseSpec SGD_CASES[] = {{C_SGD, case_sgd},
                                     {C_SGD_FUSED, case_sgd_fused},
                                     {C_SGD_2T, case_sgd_2t},
                                     {C_SGD_POOL, case_sgd_pool},
                                     {F_SGD, case_sgd_floor}};
static const CaseSpec ADAM_CASES[] = {
    {C_ADAM, case_adam}, {C_ADAM_FUSED, case_adam_fused}, {F_ADAM, case_adam_floor}};

static const Group LOOKUPS = {"lookup", T_LOOKUP, check_radix, LOOKUP_CASES,
                              BENCH_COUNT(LOOKUP_CASES)};
static const Group STEPS[] = {
    {"sgd", T_SGD, NULL, SGD_CASES, BENCH_COUNT(SGD_CASES)},
    {"adam", T_ADAM, prepare_adam_floor, ADAM_CASES, BENCH_COUNT(ADAM_CASES)},
};

// Asks PyTorch to time one case; *ms gets its median per call.
static int torch_sparse(BenchTorch *t, const char *kind, const char *dist, int64_t V,
                        double *ms, EmbError *err) {
    char line[256], got_kind[16], got_dist[16];
    int64_t got_V;
    if (bench_torch_ask(t, line, sizeof line, err, "sparse %s %s %" PRId64 " %g %d", kind, dist,
                        V, BENCH_SPARSE_BUDGET_S, BENCH_SPARSE_MIN_CALLS) != 0)
        return -1;
    if (sscanf(line, "sparse %15s %15s %" SCNd64 " %lf", got_kind, got_dist, &got_V, ms) != 4 ||
        strcmp(got_kind, kind) != 0 || strcmp(got_dist, dist) != 0 || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    return 0;
}

// One round of group g at case (d, vi): C's cases and PyTorch's, PyTorch
// going first in odd rounds. Each cell keeps its best round.
static int group_round(Bench *b, const Group *g, int d, int vi, int round, EmbError *err) {
    int64_t V = SPARSE_VS[vi];
    const IndexSet *set = bench_index_set(b, DISTS[d], V, err);
    if (set == NULL) return -1;
    SparseCase c = {.plain = bench_prefix(b, V), .huge = bench_prefix(b, V), .idx = set->idx};
    c.plain.weight = sp.plain;
    c.huge.weight = sp.huge;
    double *cell = best[d][vi];
    for (int turn = 0; turn < 2; turn++) {
        if ((turn == 0) == (round % 2 == 0)) {  // C's turn
            if (g->prepare != NULL && g->prepare(&c, err) != 0) return -1;
            for (int k = 0; k < g->ncases; k++) {
                double ms;
                if (bench_time_calls_budget(g->cases[k].fn, &c, BENCH_BATCHES,
                                            BENCH_SPARSE_MIN_CALLS, BENCH_SPARSE_BUDGET_S, &ms,
                                            err) != 0)
                    return -1;
                bench_keep_best(&cell[g->cases[k].col], ms);
            }
        } else if (b->torch != NULL) {
            double ms;
            if (torch_sparse(b->torch, g->torch_kind, DISTS[d], V, &ms, err) != 0) return -1;
            bench_keep_best(&cell[g->torch_col], ms);
        }
    }
    return 0;
}

// BENCH_SPARSE_ROUNDS rounds of the groups over every (V, distribution).
static int rounds(Bench *b, const Group *groups, int ngroups, const char *what, EmbError *err) {
    for (int round = 0; round < BENCH_SPARSE_ROUNDS; round++) {
        bench_progress("chapter 6: %s, round %d of %d", what, round + 1, BENCH_SPARSE_ROUNDS);
        for (int vi = 0; vi < nvs; vi++)
            for (int d = 0; d < 2; d++)
                for (int k = 0; k < ngroups; k++)
                    if (group_round(b, &groups[k], d, vi, round, err) != 0) return -1;
    }
    return 0;
}

// The buffers every case shares, and the huge-page copy of the table.
static int setup(Bench *b, EmbError *err) {
    int64_t table_bytes = emb_weight_bytes(b->vmax, BENCH_D);
    int64_t rows_bytes = (int64_t)BENCH_N * BENCH_D * sizeof(float);
    bool huge;
    free(b->table.grad);  // chapter 2's dense gradient: no longer needed
    b->table.grad = NULL;
    sp.plain = b->table.weight;
    sp.huge = emb_alloc_huge(table_bytes, &huge);
    sp.grad_out = emb_alloc(rows_bytes), sp.out = emb_alloc(rows_bytes);
    sp.perm = malloc(BENCH_N * sizeof *sp.perm);
    sp.words = malloc(2 * BENCH_N * sizeof *sp.words);
    sp.rows = malloc((size_t)BENCH_BATCHES * BENCH_N * sizeof *sp.rows);
    sp.sums = emb_alloc((int64_t)BENCH_BATCHES * rows_bytes);
    sp.pool = sparse_pool_new(2, err);
    sp.adam = optim_defaults(OPTIM_ADAM);
    if (!sp.huge || !sp.grad_out || !sp.out || !sp.perm || !sp.words || !sp.rows || !sp.sums || !sp.pool)
        return emb_fail(err, "out of memory for chapter 6's buffers");
    if (sparse_grad_init(&sp.g, b->vmax, BENCH_D, err) != 0 ||
        sparse_grad_init(&sp.c, b->vmax, BENCH_D, err) != 0 ||
        bench_grad_out(b, sp.grad_out, err) != 0)
        return -1;
    bench_progress("chapter 6: the table copied to %s (%.2f GB)",
                   huge ? "transparent huge pages" : "memory WITHOUT huge pages (no madvise)",
                   (double)table_bytes / 1e9);
    memcpy(sp.huge, sp.plain, (size_t)table_bytes);
    return 0;
}

// After the plain lookups: the huge-page copy becomes the table, and
// SparseAdam's moments are made (zeroed, so their pages exist).
static int to_steps(Bench *b, EmbError *err) {
    int64_t table_bytes = emb_weight_bytes(b->vmax, BENCH_D);
    if (b->table.owns_weight) free(b->table.weight);
    b->table.weight = sp.huge;
    b->table.owns_weight = true;
    sp.plain = NULL;
    sp.m = emb_alloc_huge(table_bytes, NULL), sp.v = emb_alloc_huge(table_bytes, NULL);
    if (!sp.m || !sp.v) return emb_fail(err, "out of memory for SparseAdam's moments");
    bench_progress("chapter 6: SparseAdam's moments, 2 x %.2f GB, zeroed",
                   (double)table_bytes / 1e9);
    memset(sp.m, 0, (size_t)table_bytes);
    memset(sp.v, 0, (size_t)table_bytes);
    return 0;
}

static void release(void) {
    free(sp.m), free(sp.v), free(sp.grad_out), free(sp.out), free(sp.perm);
    free(sp.words), free(sp.rows), free(sp.sums);
    sparse_grad_free(&sp.g), sparse_grad_free(&sp.c);
    sparse_pool_free(sp.pool);
    sp.m = sp.v = sp.grad_out = sp.out = sp.sums = NULL;
    sp.perm = sp.rows = NULL;
    sp.words = NULL;
    sp.pool = NULL;
}

// Chapter 6's measurements, after chapter 5's: the lookups on both tables,
// then the steps on the huge-page one; PyTorch frees its moments after.
static int measure(Bench *b, EmbError *err) {
    for (double *x = &best[0][0][0]; x < &best[0][0][0] + 2 * N_VS * N_COLS; x++) *x = -1;
    for (nvs = 0; nvs < N_VS && SPARSE_VS[nvs] <= b->vmax;) nvs++;
    char line[256];
    int rc = setup(b, err) || rounds(b, &LOOKUPS, 1, "lookups", err) || to_steps(b, err) ||
             rounds(b, STEPS, BENCH_COUNT(STEPS), "sparse steps", err) ||
             (b->torch != NULL &&
              bench_torch_ask(b->torch, line, sizeof line, err, "sparsefree") != 0);
    release();
    return rc ? -1 : 0;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

// Prints the table on stdout and writes it to dir/ch06-steps.tsv.
static int report_steps(Bench *b, EmbError *err) {
    OutFile of;
    if (outfile_open(&of, b->dir, "ch06-steps.tsv", err) != 0) return -1;
    fprintf(of.f, "dist\tV");
    printf("\n%-8s %9s", "dist", "V");
    for (int k = 0; k < N_COLS; k++) {
        fprintf(of.f, "\t%s", COLS[k]);
        printf(" %*s", k == C_LOOKUP_SORTED ? 13 : 10, COLS[k]);
    }
    fprintf(of.f, "\n");
    printf("   (ms per call)\n");
    for (int d = 0; d < 2; d++)
        for (int vi = 0; vi < nvs; vi++) {
            fprintf(of.f, "%s\t%" PRId64, DISTS[d], SPARSE_VS[vi]);
            printf("%-8s %9" PRId64, DISTS[d], SPARSE_VS[vi]);
            for (int k = 0; k < N_COLS; k++) {
                char cell[32] = "nan";  // not measured
                if (best[d][vi][k] >= 0) snprintf(cell, sizeof cell, "%.4f", best[d][vi][k]);
                fprintf(of.f, "\t%s", cell);
                printf(" %*s", k == C_LOOKUP_SORTED ? 13 : 10, cell);
            }
            fprintf(of.f, "\n");
            printf("\n");
        }
    if (outfile_commit(&of, err) != 0) return -1;
    bench_keep_table(b, "ch06-steps.tsv");
    return 0;
}

// The ratio x / y as the prose prints it (digits decimals), or "nan" when
// either side was not measured.
static void ratio(char *buf, size_t size, double x, double y, int digits) {
    if (x < 0 || y <= 0) snprintf(buf, size, "nan");
    else snprintf(buf, size, "%.*f", digits, x / y);
}

// Records the values the prose quotes: ch06.DIST.vV.WHAT and ch06.DIST.WHAT.
static void record(Bench *b) {
    static const struct {
        const char *what;
        int num, den, digits;  // num / den, or num alone if den < 0
    } FIELDS[] = {
        {"sgd_ms", C_SGD, -1, 3},
        {"torch_sgd_ms", T_SGD, -1, 3},
        {"sgd_speedup", T_SGD, C_SGD, 1},
        {"sgd_floor", C_SGD, F_SGD, 2},
        {"fused_speedup", T_SGD, C_SGD_FUSED, 1},
        {"fused_floor", C_SGD_FUSED, F_SGD, 2},
        {"adam_ms", C_ADAM, -1, 3},
        {"torch_adam_ms", T_ADAM, -1, 3},
        {"adam_speedup", T_ADAM, C_ADAM, 1},
        {"adam_floor", C_ADAM, F_ADAM, 2},
        {"lookup_speedup", T_LOOKUP, C_LOOKUP_FAST, 2},
        {"huge_speedup", C_LOOKUP, C_LOOKUP_FAST, 2},
        {"thp_only_speedup", C_LOOKUP, C_LOOKUP_THP, 2},
        {"prefetch_speedup", C_LOOKUP_THP, C_LOOKUP_FAST, 2},
        {"sorted_speedup", C_LOOKUP_THP, C_LOOKUP_SORTED, 2},
        {"adam_fused_speedup", T_ADAM, C_ADAM_FUSED, 1},
        {"adam_fused_floor", C_ADAM_FUSED, F_ADAM, 2},
        {"sgd_pool_speedup", C_SGD, C_SGD_POOL, 2},
        {"sgd_2t_speedup", C_SGD, C_SGD_2T, 2},
        {"sort_speedup", C_SORT_PLAIN, C_SORT, 2},
        {"radix_speedup", C_SORT, C_SORT_RADIX, 1},  // how much PyTorch's bits cost
        {"sgd_ceiling", T_SGD, F_SGD, 1},    // the most a step doing the floor's work
        {"adam_ceiling", T_ADAM, F_ADAM, 1},  // could gain over PyTorch
    };
    char key[96], value[32];
    for (int d = 0; d < 2; d++) {
        for (int vi = 0; vi < nvs; vi++) {
            const double *x = best[d][vi];
            for (int f = 0; f < BENCH_COUNT(FIELDS); f++) {
                double den = FIELDS[f].den < 0 ? 1.0 : x[FIELDS[f].den];
                ratio(value, sizeof value, x[FIELDS[f].num], den, FIELDS[f].digits);
                if (strcmp(value, "nan") == 0) continue;  // PyTorch not measured
                snprintf(key, sizeof key, "ch06.%s.v%" PRId64 ".%s", DISTS[d], SPARSE_VS[vi],
                         FIELDS[f].what);
                bench_value(b, key, "%s", value);
            }
        }
        static const struct { const char *what; int col; } FLAT[] = {
            {"sgd_flat", C_SGD},          {"fused_flat", C_SGD_FUSED},
            {"adam_flat", C_ADAM},        {"adam_fused_flat", C_ADAM_FUSED},
            {"sgd_floor_flat", F_SGD},    {"adam_floor_flat", F_ADAM}};
        for (int f = 0; f < BENCH_COUNT(FLAT); f++) {  // the largest V over the smallest
            ratio(value, sizeof value, best[d][nvs - 1][FLAT[f].col], best[d][0][FLAT[f].col],
                  2);
            snprintf(key, sizeof key, "ch06.%s.%s", DISTS[d], FLAT[f].what);
            bench_value(b, key, "%s", value);
        }
        // The least a step within BENCH_SPARSE_GOAL floors at the smallest V,
        // and no faster than its floor at the largest, can grow: its floor's
        // growth over BENCH_SPARSE_GOAL.
        static const struct { const char *what; int col; } LEAST[] = {
            {"sgd_flat_least", F_SGD}, {"adam_flat_least", F_ADAM}};
        for (int f = 0; f < BENCH_COUNT(LEAST); f++) {
            ratio(value, sizeof value, best[d][nvs - 1][LEAST[f].col],
                  BENCH_SPARSE_GOAL * best[d][0][LEAST[f].col], 2);
            snprintf(key, sizeof key, "ch06.%s.%s", DISTS[d], LEAST[f].what);
            bench_value(b, key, "%s", value);
        }
    }
}

// Prints each step beside its floor, and whether every one met the goal.
static void report_floors(Bench *b) {
    static const struct { const char *name; int step, floor; } PAIRS[] = {
        {"sgd", C_SGD, F_SGD}, {"sgd-fused", C_SGD_FUSED, F_SGD},
        {"adam", C_ADAM, F_ADAM}, {"adam-fused", C_ADAM_FUSED, F_ADAM}};
    printf("\nEach sparse step over its floor (step ms / floor ms; ! beyond %.1f):\n",
           BENCH_SPARSE_GOAL);
    printf("%-8s %9s", "dist", "V");
    for (int p = 0; p < BENCH_COUNT(PAIRS); p++) printf(" %11s", PAIRS[p].name);
    printf("\n");
    int missed = 0, below = 0;
    for (int d = 0; d < 2; d++)
        for (int vi = 0; vi < nvs; vi++) {
            printf("%-8s %9" PRId64, DISTS[d], SPARSE_VS[vi]);
            for (int p = 0; p < BENCH_COUNT(PAIRS); p++) {
                double r = best[d][vi][PAIRS[p].step] / best[d][vi][PAIRS[p].floor];
                missed += r > BENCH_SPARSE_GOAL;
                below += r < 1;
                printf(" %10.2f%s", r, r > BENCH_SPARSE_GOAL ? "!" : " ");
            }
            printf("\n");
        }
    printf("Goal: every sparse step within %.1fx of its floor: %s (%d of %d cells missed it).\n",
           BENCH_SPARSE_GOAL, missed ? "NOT met" : "met", missed,
           2 * nvs * BENCH_COUNT(PAIRS));
    bench_value(b, "ch06.goal.floor_missed", "%d", missed);
    bench_value(b, "ch06.goal.floor_cells", "%d", 2 * nvs * BENCH_COUNT(PAIRS));
    if (below > 0)
        printf("%d cell(s) came out under 1.00: a step and its floor are timed in separate\n"
               "  calls, so other work on the machine may have slowed the floor's.\n",
               below);
}

// The goals against PyTorch: each step's speed-up beside its ceiling, PyTorch's
// time over the floor's, the most that any step doing the floor's memory work
// on one thread could reach; and the counts the prose quotes (ch06.goal.*).
static void report_goals(Bench *b) {
    static const struct {
        const char *name;
        int step, torch, floor;
        double goal;
    } GOALS[] = {{"sgd", C_SGD, T_SGD, F_SGD, 5.0},
                 {"sgd_fused", C_SGD_FUSED, T_SGD, F_SGD, 5.0},
                 {"adam", C_ADAM, T_ADAM, F_ADAM, 10.0},
                 {"adam_fused", C_ADAM_FUSED, T_ADAM, F_ADAM, 10.0}};
    if (b->torch == NULL) return;
    printf("\nSpeed-up over PyTorch (torch ms / C ms), and in brackets the ceiling\n"
           "  (torch ms / floor ms); ! below the goal of 5x (SGD) or 10x (Adam):\n");
    printf("%-8s %9s", "dist", "V");
    for (int k = 0; k < BENCH_COUNT(GOALS); k++) printf(" %17s", GOALS[k].name);
    printf("\n");
    int met[BENCH_COUNT(GOALS)] = {0}, capped[BENCH_COUNT(GOALS)] = {0}, cells = 0;
    for (int d = 0; d < 2; d++)
        for (int vi = 0; vi < nvs; vi++, cells++) {
            const double *x = best[d][vi];
            printf("%-8s %9" PRId64, DISTS[d], SPARSE_VS[vi]);
            for (int k = 0; k < BENCH_COUNT(GOALS); k++) {
                double up = x[GOALS[k].torch] / x[GOALS[k].step];
                double ceiling = x[GOALS[k].torch] / x[GOALS[k].floor];
                met[k] += up >= GOALS[k].goal;
                capped[k] += ceiling < GOALS[k].goal;
                printf(" %7.1f%s (%5.1f)", up, up >= GOALS[k].goal ? " " : "!", ceiling);
            }
            printf("\n");
        }
    char key[96];
    for (int k = 0; k < BENCH_COUNT(GOALS); k++) {
        printf("%-10s %2d of %d cells reach %.0fx; in %d the ceiling itself is below it.\n",
               GOALS[k].name, met[k], cells, GOALS[k].goal, capped[k]);
        snprintf(key, sizeof key, "ch06.goal.%s_met", GOALS[k].name);
        bench_value(b, key, "%d", met[k]);
        snprintf(key, sizeof key, "ch06.goal.%s_capped", GOALS[k].name);
        bench_value(b, key, "%d", capped[k]);
    }
    bench_value(b, "ch06.goal.cells", "%d", cells);
}

// Writes dir/ch06-dense.tsv from chapter 2's and chapter 4's values of
// this run, and records them as ch06.dense.vV.WHAT; "nan" where a chapter
// (or PyTorch) was not measured.
static int report_dense(Bench *b, EmbError *err) {
    static const char *const WHAT[] = {"sgd_ms", "torch_sgd_ms", "adam_ms", "torch_adam_ms"};
    OutFile of;
    if (outfile_open(&of, b->dir, "ch06-dense.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tdense-sgd\ttorch-dense-sgd\tdense-adam\ttorch-dense-adam\n");
    for (int vi = 0; vi < nvs && SPARSE_VS[vi] <= 1000000; vi++) {
        int64_t V = SPARSE_VS[vi];
        char vname[24], from[4][96], key[96];
        bench_v_name(V, vname, sizeof vname);
        snprintf(from[0], sizeof from[0], "ch02.dense.%s.c_ms", vname);
        snprintf(from[1], sizeof from[1], "ch02.dense.%s.torch_ms", vname);
        snprintf(from[2], sizeof from[2], "ch04.adam.%" PRId64 ".c_ms", V);
        snprintf(from[3], sizeof from[3], "ch04.adam.%" PRId64 ".torch_ms", V);
        fprintf(of.f, "%" PRId64, V);
        for (int k = 0; k < 4; k++) {
            const char *ms = bench_value_get(b, from[k]);
            fprintf(of.f, "\t%s", ms != NULL ? ms : "nan");
            if (ms == NULL) continue;
            snprintf(key, sizeof key, "ch06.dense.v%" PRId64 ".%s", V, WHAT[k]);
            bench_value(b, key, "%s", ms);
        }
        fprintf(of.f, "\n");
    }
    if (outfile_commit(&of, err) != 0) return -1;
    bench_keep_table(b, "ch06-dense.tsv");
    return 0;
}

static int report(Bench *b, EmbError *err) {
    printf("\n== Chapter 6: sparse steps and the fast lookup ==\n");
    printf("\nD = %d, N = %d, the shared uniform and Zipf batches, chapter 2's G; median per\n"
           "  call (budget %g s, at least %d calls), best of %d rounds in which C and PyTorch\n"
           "  take turns case by case. tests/bench/ch06.c says what each column times.\n",
           BENCH_D, BENCH_N, BENCH_SPARSE_BUDGET_S, BENCH_SPARSE_MIN_CALLS,
           BENCH_SPARSE_ROUNDS);
    if (b->torch == NULL) printf("PyTorch: not measured (%s).\n", b->no_torch_reason);
    if (report_steps(b, err) != 0) return -1;
    report_floors(b);
    report_goals(b);
    record(b);
    printf("\nDense steps (ch06-dense.tsv): chapter 2's SGD and chapter 4's Adam of this run.\n");
    return report_dense(b, err);
}

const BenchChapter bench_ch06 = {
    .title = "chapter 6: sparse steps and the fast lookup beside their floors and PyTorch",
    .measure = measure,
    .report = report,
};
