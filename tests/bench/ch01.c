/*
 * ch01.c - chapter 1's benchmark: filling the table, and looking rows up.
 *
 * The fill. emb_init fills a (V_max, 64) table as torch.manual_seed(0)
 * followed by nn.Embedding(V_max, 64) fills it, bit for bit. It is timed
 * once on fresh memory (what creating the table costs, page faults
 * included), beside PyTorch timing nn.Embedding(V_max, 64) itself; then
 * BENCH_FILL_ROUNDS times refilling the same memory in place (the normal_
 * kernels alone), C and PyTorch taking turns. PyTorch then checks that its
 * whole table has our bits (the sum of the int32 bit patterns).
 *
 * The lookup. F.embedding(idx, weight) is a gather: it copies N rows of D
 * floats out of a (V, D) table. We time emb_lookup doing that for D = 64,
 * N = 4096 and V from 10^3 to 10^7, with uniform indices and with Zipf(1.1)
 * indices (a few rows very often, most rows rarely, as with the words of a
 * text), and set beside it:
 *
 *   - the ceiling: the same rows copied with one memcpy each and no index
 *     check, i.e. what the lookup would cost if checking were free;
 *   - PyTorch's F.embedding on the same table and the same indices, one
 *     thread, in the same run;
 *   - for small V, the one-hot product one_hot(idx, V) @ weight, which gives
 *     the same numbers in O(N*V*D) instead of O(N*D).
 *
 * A smaller V uses the table's first V rows (the first rows of a (V, D)
 * table are a (V', D) table). Successive calls take the 64 batches of a
 * case in turn, as training steps would, so a row is found in cache only if
 * the table (or its hot part) fits there. C and PyTorch take turns case by
 * case for BENCH_ROUNDS rounds; each cell keeps its best round, and the
 * spread of the PyTorch/C ratio over the rounds is reported too.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli.h"
#include "../../src/torch_rng.h"
#include "harness.h"

enum {
    BENCH_ROUNDS = 5,       // turns of C and PyTorch over the lookup cases
    BENCH_FILL_ROUNDS = 2,  // turns over refilling the table in place
    ONEHOT_MIN_CALLS = 1,   // timed calls of the one-hot product, at least
};

static const int64_t LOOKUP_VS[] = {1000, 10000, 100000, 1000000, 10000000};
static const int64_t ONEHOT_VS[] = {100, 1000, 10000};
static const char *const DISTS[] = {"uniform", "zipf"};

// ---------------------------------------------------------------------------
// What is measured
// ---------------------------------------------------------------------------

typedef struct FillTimes {
    double c_s, torch_s;                // the fresh fill, once each
    double c_refill_s, torch_refill_s;  // refilling in place, best round
    BenchSpread refill_ratio;           // torch / C over the rounds
    bool checked, torch_same;           // PyTorch's whole table had our bits
    const char *kernel;                 // which C kernel ran
} FillTimes;

typedef struct LookupRow {
    const IndexSet *set;
    double c_ms;      // emb_lookup
    double rows_ms;   // copy_rows, the ceiling
    double torch_ms;  // F.embedding; < 0 when not measured
    bool torch_same;  // PyTorch's output had our bits
    BenchSpread ratio;  // torch / C, round by round
} LookupRow;

typedef struct OnehotRow {
    const IndexSet *set;  // uniform; only its first batch is used
    double gather_ms;     // emb_lookup
    double onehot_ms;     // emb_onehot_matmul
    bool same;            // our one-hot result had the gather's bits
    double torch_ms;      // F.one_hot(idx, V).float() @ weight; < 0 when not measured
    bool torch_same;      // ... and it had the gather's bits
} OnehotRow;

static FillTimes fill = {.c_s = -1, .torch_s = -1, .c_refill_s = -1, .torch_refill_s = -1};
static LookupRow lookups[2 * BENCH_COUNT(LOOKUP_VS)];
static OnehotRow onehots[BENCH_COUNT(ONEHOT_VS)];
static int nlookups, nonehots;
static double contiguous_ms = -1;  // one memcpy of a call's N*D floats

// ---------------------------------------------------------------------------
// The fill
// ---------------------------------------------------------------------------

// Asks PyTorch to time one fill ("fill" or "refill"); *s gets its seconds.
static int torch_fill(BenchTorch *t, const char *kind, double *s, EmbError *err) {
    char line[256];
    if (bench_torch_ask(t, line, sizeof line, err, "%s", kind) != 0) return -1;
    if (sscanf(line + strlen(kind), " %lf", s) != 1)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    return 0;
}

// Refills the C table in place as torch.manual_seed(0); nn.init.normal_(w)
// does; *s gets its seconds.
static void c_refill(Embedding *table, double *s) {
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_TABLE_SEED);
    double t0 = bench_now();
    rng_normal_(&gen, table->weight, table->num_embeddings * table->embedding_dim, 0.0f, 1.0f);
    *s = bench_now() - t0;
}

// Fills the table both ways: fresh, then BENCH_FILL_ROUNDS refills taking
// turns, then PyTorch checks its table's bits against ours.
static int measure_fill(Bench *b, EmbError *err) {
    fill.kernel = rng_has_vector_kernel() ? "AVX2 + FMA, 8 lanes" : "one lane";
    bench_progress("chapter 1: filling a (%" PRId64 ", %d) table in C", b->vmax, BENCH_D);
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_TABLE_SEED);
    double t0 = bench_now();
    if (emb_init(&b->table, b->vmax, BENCH_D, &gen, err) != 0) return -1;
    fill.c_s = bench_now() - t0;
    if (b->torch != NULL) {
        bench_progress("chapter 1: the same table in PyTorch, nn.Embedding(%" PRId64 ", %d)",
                       b->vmax, BENCH_D);
        if (torch_fill(b->torch, "fill", &fill.torch_s, err) != 0) return -1;
    }
    for (int round = 0; round < BENCH_FILL_ROUNDS; round++) {
        bench_progress("chapter 1: refilling both tables in place, round %d of %d", round + 1,
                       BENCH_FILL_ROUNDS);
        double c_s = -1, torch_s = -1;
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (round % 2 == 0)) c_refill(&b->table, &c_s);
            else if (b->torch != NULL && torch_fill(b->torch, "refill", &torch_s, err) != 0)
                return -1;
        }
        bench_keep_best(&fill.c_refill_s, c_s);
        if (torch_s >= 0) {
            bench_keep_best(&fill.torch_refill_s, torch_s);
            bench_spread_add(&fill.refill_ratio, torch_s / c_s);
        }
    }
    if (b->torch == NULL) return 0;
    char line[256];
    int64_t sum = bench_bits_sum(b->table.weight, b->vmax * BENCH_D);
    if (bench_torch_ask(b->torch, line, sizeof line, err, "fillcheck %" PRId64, sum) != 0)
        return -1;
    fill.checked = true;
    fill.torch_same = strcmp(line, "fillcheck 1\n") == 0;
    return 0;
}

// ---------------------------------------------------------------------------
// The lookup, its ceiling, and the one-hot product
// ---------------------------------------------------------------------------

// Everything timed has emb_lookup's shape: idx is (n,), out is (n, D).
typedef int (*LookupFn)(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                        EmbError *err);

// The ceiling for a gather: one memcpy per row, from the same rows the
// lookup reads, and no index check.
static int copy_rows(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                     EmbError *err) {
    (void)err;
    const int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        const float *w_ix = e->weight + idx[i] * D;  // seek to row idx[i]
        memcpy(out + i * D, w_ix, (size_t)D * sizeof(float));
    }
    return 0;
}

// The same n*D floats copied in one memcpy from the table's first n rows:
// the machine's streaming speed, which no gather reaches. idx is ignored.
static int copy_contiguous(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                           EmbError *err) {
    (void)idx;
    (void)err;
    memcpy(out, e->weight, (size_t)(n * e->embedding_dim) * sizeof(float));
    return 0;
}

// A lookup case: fn on table e, batch b being idx + b*n. out is (n, D).
typedef struct LookupCall {
    LookupFn fn;
    const Embedding *e;
    const int64_t *idx;  // (nbatches, n)
    int64_t n;
    float *out;
} LookupCall;

static int lookup_call(void *ctx, int64_t b, EmbError *err) {
    const LookupCall *c = ctx;
    return c->fn(c->e, c->idx + b * c->n, c->n, c->out, err);  // seek to batch b
}

// Times a lookup-shaped fn on nbatches batches of n indices (idx is
// (nbatches, n)); *ms gets the median ms per call.
static int time_lookups(LookupFn fn, const Embedding *e, const int64_t *idx, int64_t nbatches,
                        int64_t n, float *out, double *ms, EmbError *err) {
    LookupCall c = {.fn = fn, .e = e, .idx = idx, .n = n, .out = out};
    return bench_time_calls(lookup_call, &c, nbatches, ms, err);
}

// The one-hot product on the first batch: one timed call after the warm-up
// suffices once a call takes longer than the budget (seconds at V = 10^4).
static int time_onehot(const Embedding *e, const int64_t *idx, float *out, double *ms,
                       EmbError *err) {
    LookupCall c = {.fn = emb_onehot_matmul, .e = e, .idx = idx, .n = BENCH_N, .out = out};
    return bench_time_calls_min(lookup_call, &c, 1, ONEHOT_MIN_CALLS, ms, err);
}

// Asks PyTorch for one measurement ("lookup zipf 1000" or "onehot 100"); *ms
// gets the time per call and *same whether its output had our bits.
static int torch_lookup(BenchTorch *t, const char *kind, const char *dist, int64_t V,
                        double *ms, bool *same, EmbError *err) {
    char line[256];
    int rc = strcmp(kind, "lookup") == 0
        ? bench_torch_ask(t, line, sizeof line, err, "lookup %s %" PRId64, dist, V)
        : bench_torch_ask(t, line, sizeof line, err, "onehot %" PRId64 " %d", V,
                          ONEHOT_MIN_CALLS);
    if (rc != 0) return -1;
    char got_kind[16], got_dist[16] = "";
    int64_t got_V;
    int got_same;
    bool ok = strcmp(kind, "lookup") == 0
        ? sscanf(line, "%15s %15s %" SCNd64 " %lf %d", got_kind, got_dist, &got_V, ms,
                 &got_same) == 5
        : sscanf(line, "%15s %" SCNd64 " %lf %d", got_kind, &got_V, ms, &got_same) == 4;
    if (!ok || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    *same = got_same == 1;
    return 0;
}

// Writes batch 0's lookup output for every lookup case to
// dir/out-<dist>-<V>.f32, for PyTorch to compare its own with. out is (N, D).
static int write_outputs(const Bench *b, float *out, EmbError *err) {
    for (int i = 0; i < b->nsets; i++) {
        Embedding e = bench_prefix(b, b->sets[i].V);
        if (emb_lookup(&e, b->sets[i].idx, BENCH_N, out, err) != 0) return -1;
        char name[64];
        snprintf(name, sizeof name, "out-%s-%" PRId64 ".f32", b->sets[i].dist, b->sets[i].V);
        if (bench_write_bytes(b->dir, name, out, (size_t)BENCH_N * BENCH_D * sizeof(float),
                              err) != 0)
            return -1;
    }
    return 0;
}

// One round over the lookup cases: for each, C's lookup, its ceiling and
// PyTorch, PyTorch going first in odd rounds. Each cell keeps its best time.
static int lookup_round(const Bench *b, int round, float *out, EmbError *err) {
    for (int r = 0; r < nlookups; r++) {
        LookupRow *row = &lookups[r];
        Embedding e = bench_prefix(b, row->set->V);
        double c_ms = -1, rows_ms, torch_ms = -1;
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (round % 2 == 0)) {  // C's turn
                if (time_lookups(emb_lookup, &e, row->set->idx, BENCH_BATCHES, BENCH_N, out,
                                 &c_ms, err) != 0 ||
                    time_lookups(copy_rows, &e, row->set->idx, BENCH_BATCHES, BENCH_N, out,
                                 &rows_ms, err) != 0)
                    return -1;
                bench_keep_best(&row->c_ms, c_ms);
                bench_keep_best(&row->rows_ms, rows_ms);
            } else if (b->torch != NULL) {
                if (torch_lookup(b->torch, "lookup", row->set->dist, row->set->V, &torch_ms,
                                 &row->torch_same, err) != 0)
                    return -1;
                bench_keep_best(&row->torch_ms, torch_ms);
            }
        }
        if (torch_ms >= 0) bench_spread_add(&row->ratio, torch_ms / c_ms);
    }
    return 0;
}

// Times the gather and the one-hot product on each row's first batch (one
// round: the product is slow), checks that they give the same bits, and
// asks PyTorch for its one-hot product. out and out2 are (N, D).
static int onehot_round(const Bench *b, float *out, float *out2, EmbError *err) {
    for (int r = 0; r < nonehots; r++) {
        OnehotRow *row = &onehots[r];
        bench_progress("chapter 1: one-hot product, V = %" PRId64, row->set->V);
        Embedding e = bench_prefix(b, row->set->V);
        if (time_lookups(emb_lookup, &e, row->set->idx, 1, BENCH_N, out, &row->gather_ms,
                         err) != 0 ||
            time_onehot(&e, row->set->idx, out2, &row->onehot_ms, err) != 0)
            return -1;
        row->same = memcmp(out, out2, (size_t)BENCH_N * BENCH_D * sizeof(float)) == 0;
        if (b->torch != NULL && torch_lookup(b->torch, "onehot", "uniform", row->set->V,
                                             &row->torch_ms, &row->torch_same, err) != 0)
            return -1;
    }
    return 0;
}

// Makes the cases: uniform and Zipf for each lookup V up to vmax, uniform
// for each one-hot V.
static int make_cases(Bench *b, EmbError *err) {
    bench_progress("chapter 1: index sets");
    for (int i = 0; i < BENCH_COUNT(LOOKUP_VS); i++) {
        if (LOOKUP_VS[i] > b->vmax) continue;
        for (int d = 0; d < 2; d++) {
            const IndexSet *s = bench_index_set(b, DISTS[d], LOOKUP_VS[i], err);
            if (s == NULL) return -1;
            lookups[nlookups++] = (LookupRow){.set = s, .c_ms = -1, .rows_ms = -1,
                                              .torch_ms = -1, .ratio = BENCH_SPREAD_NONE};
        }
    }
    for (int i = 0; i < BENCH_COUNT(ONEHOT_VS); i++) {
        const IndexSet *s = bench_index_set(b, "uniform", ONEHOT_VS[i], err);
        if (s == NULL) return -1;
        onehots[nonehots++] = (OnehotRow){.set = s, .torch_ms = -1};
    }
    return 0;
}

static int measure(Bench *b, EmbError *err) {
    fill.refill_ratio = BENCH_SPREAD_NONE;
    if (measure_fill(b, err) != 0 || make_cases(b, err) != 0) return -1;
    // The outputs are 64-byte aligned, like the tensor F.embedding returns.
    const int64_t bytes = (int64_t)BENCH_N * BENCH_D * sizeof(float);
    float *out = emb_alloc(bytes), *out2 = emb_alloc(bytes);  // (N, D) each
    int rc = -1;
    if (out == NULL || out2 == NULL) {
        emb_fail(err, "out of memory");
        goto done;
    }
    if (write_outputs(b, out, err) != 0) goto done;
    if (time_lookups(copy_contiguous, &b->table, b->sets[0].idx, 1, BENCH_N, out,
                     &contiguous_ms, err) != 0)
        goto done;
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        bench_progress("chapter 1: lookups, round %d of %d", round + 1, BENCH_ROUNDS);
        if (lookup_round(b, round, out, err) != 0) goto done;
    }
    if (onehot_round(b, out, out2, err) != 0) goto done;
    rc = 0;
done:
    free(out);
    free(out2);
    return rc;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

// GB/s for moving one call's output, N*D*4 bytes, in ms milliseconds.
static double gb_per_s(double ms) {
    return (double)BENCH_N * BENCH_D * sizeof(float) / (ms * 1e-3) / 1e9;
}

// Prints the fill comparison and records its values.
static void report_fill(Bench *b) {
    double gb = (double)emb_weight_bytes(b->vmax, BENCH_D) / 1e9;
    printf("\nFilling the table: torch.manual_seed(%d); nn.Embedding(%" PRId64 ", %d), %.2f GB,\n"
           "  bit for bit (C kernel: %s). Fresh: a new table, page faults included,\n"
           "  once each; in place: refilling the same memory, best of %d rounds taken in turns.\n",
           BENCH_TABLE_SEED, b->vmax, BENCH_D, gb, fill.kernel, BENCH_FILL_ROUNDS);
    printf("\n%-9s | %8s | %8s | %9s\n", "", "C s", "PyTorch s", "PyTorch/C");
    bench_value(b, "ch01.fill.c_s", "%.2f", fill.c_s);
    bench_value(b, "ch01.fill.refill_c_s", "%.2f", fill.c_refill_s);
    bench_value(b, "ch01.fill.kernel", "%s", fill.kernel);
    if (b->torch == NULL) {
        printf("%-9s | %8.2f | %9s | %9s\n", "fresh", fill.c_s, "-", "-");
        printf("%-9s | %8.2f | %9s | %9s\n", "in place", fill.c_refill_s, "-", "-");
        return;
    }
    double fresh = fill.torch_s / fill.c_s, refill = fill.torch_refill_s / fill.c_refill_s;
    printf("%-9s | %8.2f | %9.2f | %9.2f\n", "fresh", fill.c_s, fill.torch_s, fresh);
    printf("%-9s | %8.2f | %9.2f | %9.2f (rounds: %.2f to %.2f)\n", "in place",
           fill.c_refill_s, fill.torch_refill_s, refill, fill.refill_ratio.min,
           fill.refill_ratio.max);
    printf("Same bits as PyTorch's whole table: %s. The C fill is %s PyTorch's.\n",
           fill.torch_same ? "yes" : "NO",
           fresh >= 1 && refill >= 1 ? "at least as fast as" : "SLOWER than");
    bench_value(b, "ch01.fill.torch_s", "%.2f", fill.torch_s);
    bench_value(b, "ch01.fill.torch_over_c", "%.1f", fresh);
    bench_value(b, "ch01.fill.refill_torch_s", "%.2f", fill.torch_refill_s);
    bench_value(b, "ch01.fill.refill_torch_over_c", "%.1f", refill);
    bench_value(b, "ch01.fill.refill_ratio_min", "%.1f", fill.refill_ratio.min);
    bench_value(b, "ch01.fill.refill_ratio_max", "%.1f", fill.refill_ratio.max);
}

// Prints the lookup table, writes it to dir/lookup.tsv and records its values.
static int report_lookups(Bench *b, EmbError *err) {
    printf("\nLookups: D = %d, N = %d per call, %d batches per case taken in turn; median per\n"
           "  call, best of %d rounds in which C and PyTorch take turns case by case.\n",
           BENCH_D, BENCH_N, BENCH_BATCHES, BENCH_ROUNDS);
    printf("Ceiling: one memcpy of N*D*4 = %d KiB from contiguous rows takes %.4f ms (%.1f GB/s);\n"
           "  the memcpy rows column copies the lookup's own rows, one memcpy each, unchecked.\n",
           BENCH_N * BENCH_D * (int)sizeof(float) / 1024, contiguous_ms, gb_per_s(contiguous_ms));
    printf("\n%9s %-8s %8s | %9s %6s | %9s | %9s %9s %11s %5s\n", "V", "indices", "touched",
           "C lookup", "C", "memcpy", "PyTorch", "PyTorch/C", "rounds", "same");
    printf("%9s %-8s %8s | %9s %6s | %9s | %9s %9s %11s %5s\n", "", "", "MiB", "ms/call",
           "GB/s", "rows ms", "ms/call", "", "min-max", "bits");
    OutFile of;
    if (outfile_open(&of, b->dir, "lookup.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tindices\ttouched_mib\tc_ms\tc_gbps\tmemcpy_rows_ms\ttorch_ms\t"
                  "torch_over_c\ttorch_over_c_min\ttorch_over_c_max\tsame_bits\n");
    for (int r = 0; r < nlookups; r++) {
        const LookupRow *row = &lookups[r];
        char torch_ms[32] = "-", ratio[32] = "-", range[32] = "-", same[8] = "-", key[96];
        char vname[24];
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.4f", row->torch_ms);
            snprintf(ratio, sizeof ratio, "%.2f", row->torch_ms / row->c_ms);
            snprintf(range, sizeof range, "%.2f-%.2f", row->ratio.min, row->ratio.max);
            snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
        }
        printf("%9" PRId64 " %-8s %8.1f | %9.4f %6.1f | %9.4f | %9s %9s %11s %5s\n",
               row->set->V, row->set->dist, row->set->touched_mib, row->c_ms,
               gb_per_s(row->c_ms), row->rows_ms, torch_ms, ratio, range, same);
        fprintf(of.f, "%" PRId64 "\t%s\t%.2f\t%.6f\t%.3f\t%.6f\t%s\t%s\t%.3f\t%.3f\t%s\n",
                row->set->V, row->set->dist, row->set->touched_mib, row->c_ms,
                gb_per_s(row->c_ms), row->rows_ms, torch_ms, ratio, row->ratio.min,
                row->ratio.max, same);
        const char *fields[] = {"c_ms", "c_gbps", "memcpy_ms", "ns_per_row", "torch_ms",
                                "torch_over_c", "torch_over_c_min", "torch_over_c_max",
                                "torch_minus_c_us"};
        char vals[9][32];
        snprintf(vals[0], 32, "%.3f", row->c_ms);
        snprintf(vals[1], 32, "%.0f", gb_per_s(row->c_ms));
        snprintf(vals[2], 32, "%.3f", row->rows_ms);
        snprintf(vals[3], 32, "%.0f", row->c_ms * 1e6 / BENCH_N);
        snprintf(vals[4], 32, "%.3f", row->torch_ms);
        snprintf(vals[5], 32, "%s", ratio);
        snprintf(vals[6], 32, "%.2f", row->ratio.min);
        snprintf(vals[7], 32, "%.2f", row->ratio.max);
        snprintf(vals[8], 32, "%.0f", (row->torch_ms - row->c_ms) * 1e3);
        int nfields = row->torch_ms >= 0 ? 9 : 4;
        for (int f = 0; f < nfields; f++) {
            snprintf(key, sizeof key, "ch01.lookup.%s_%s.%s", row->set->dist,
                     bench_v_name(row->set->V, vname, sizeof vname), fields[f]);
            bench_value(b, key, "%s", vals[f]);
        }
    }
    double lo = -1, hi = -1;  // C lookup over the unchecked copies, over the rows
    for (int r = 0; r < nlookups; r++) {
        double x = lookups[r].c_ms / lookups[r].rows_ms;
        if (lo < 0 || x < lo) lo = x;
        if (hi < 0 || x > hi) hi = x;
    }
    bench_value(b, "ch01.lookup.c_over_memcpy_min", "%.2f", lo);
    bench_value(b, "ch01.lookup.c_over_memcpy_max", "%.2f", hi);
    printf("\nemb_lookup took %.2f to %.2f times as long as the unchecked copies of its rows.\n",
           lo, hi);
    printf("\ntouched: distinct rows over the %d batches, times D*4 bytes: what must sit in cache\n"
           "  for the rows to be found there. GB/s counts the N*D*4 bytes written per call.\n",
           BENCH_BATCHES);
    return outfile_commit(&of, err);
}

// Prints the one-hot table, writes it to dir/onehot.tsv, records its values.
static int report_onehots(Bench *b, EmbError *err) {
    printf("\nOne-hot product vs gather: one_hot(idx, V) @ weight gives the same rows with\n"
           "N*V*D multiply-adds where the gather copies N*D floats (uniform indices, N = %d).\n",
           BENCH_N);
    printf("\n%7s | %9s | %10s %9s %5s | %10s %9s %5s\n", "V", "gather", "one-hot", "one-hot/",
           "same", "PyTorch", "PyTorch/", "same");
    printf("%7s | %9s | %10s %9s %5s | %10s %9s %5s\n", "", "ms/call", "ms/call", "gather",
           "bits", "one-hot ms", "gather", "bits");
    OutFile of;
    if (outfile_open(&of, b->dir, "onehot.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tgather_ms\tonehot_ms\tonehot_over_gather\tsame_bits\ttorch_onehot_ms\t"
                  "torch_onehot_over_gather\ttorch_same_bits\n");
    for (int r = 0; r < nonehots; r++) {
        const OnehotRow *row = &onehots[r];
        char torch_ms[32] = "-", torch_slower[32] = "-", same[8] = "-", key[96], vname[24];
        bench_v_name(row->set->V, vname, sizeof vname);
        double slower = row->onehot_ms / row->gather_ms;
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.3f", row->torch_ms);
            snprintf(torch_slower, sizeof torch_slower, "%.0fx", row->torch_ms / row->gather_ms);
            snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
            snprintf(key, sizeof key, "ch01.onehot.%s.torch_over_gather", vname);
            bench_value(b, key, "%.0f", row->torch_ms / row->gather_ms);
        }
        printf("%7" PRId64 " | %9.4f | %10.3f %8.0fx %5s | %10s %9s %5s\n", row->set->V,
               row->gather_ms, row->onehot_ms, slower, row->same ? "yes" : "NO", torch_ms,
               torch_slower, same);
        fprintf(of.f, "%" PRId64 "\t%.6f\t%.6f\t%.1f\t%s\t%s\t%s\t%s\n", row->set->V,
                row->gather_ms, row->onehot_ms, slower, row->same ? "yes" : "NO", torch_ms,
                torch_slower, same);
        snprintf(key, sizeof key, "ch01.onehot.%s.c_over_gather", vname);
        bench_value(b, key, "%.0f", slower);
    }
    return outfile_commit(&of, err);
}

static int report(Bench *b, EmbError *err) {
    printf("\n== Chapter 1: the lookup table ==\n");
    report_fill(b);
    if (report_lookups(b, err) != 0) return -1;
    return report_onehots(b, err);
}

const BenchChapter bench_ch01 = {
    .title = "chapter 1: the table's fill, emb_lookup vs memcpy vs F.embedding",
    .measure = measure,
    .report = report,
};
