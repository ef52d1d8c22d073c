/*
 * harness.h - what every chapter's benchmark shares   (make bench)
 *
 * The harness owns the clock (time_calls: a warm-up pass, then the median
 * of per-call times under a time budget), PyTorch's side (a second process
 * running tests/bench/bench_torch.py, asked one question per line, so the
 * two sides take turns case by case), the data both sides read (the table,
 * the index batches), progress lines on stderr, and the values the book's
 * prose quotes (tests/bench/values.tsv). A chapter's measurements live in
 * tests/bench/chNN.c as one BenchChapter; tests/bench/README.md says how to
 * add one.
 */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../../chapters/01-lookup-table.h"

// ---------------------------------------------------------------------------
// Parameters every chapter shares
// ---------------------------------------------------------------------------

enum {
    BENCH_D = 64,            // embedding_dim
    BENCH_N = 4096,          // indices per call
    BENCH_BATCHES = 64,      // different index batches per case, used in turn
    BENCH_MAX_CALLS = 1024,  // timed calls per measurement, at most
    BENCH_MIN_CALLS = 3,     // ... and at least
    BENCH_MAX_SETS = 16,     // index sets in one run
    BENCH_MAX_VALUES = 768,  // values for the prose in one run
    BENCH_MAX_KEPT = 8,      // tables kept beside them
};

#define BENCH_BUDGET_S 0.05              // seconds for one measurement, about
#define BENCH_TABLE_SEED 0               // torch.manual_seed before nn.Embedding
#define BENCH_GRAD_SEED 3                // ... before torch.randn(N, D), the upstream gradient
#define BENCH_PYTHON "/usr/bin/python3"  // Debian's python3-torch lives here
#define BENCH_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// ---------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------

// Seconds on CLOCK_MONOTONIC.
double bench_now(void);

// Keeps the better of two times in *best; a negative time means none yet.
void bench_keep_best(double *best, double ms);

// The smallest and largest of a cell's values over the rounds: how much
// the machine moved the numbers during the run. min < 0 means none yet.
typedef struct BenchSpread {
    double min, max;
} BenchSpread;
#define BENCH_SPREAD_NONE ((BenchSpread){-1.0, -1.0})
void bench_spread_add(BenchSpread *s, double x);

// What the clock times: one call on batch b of the case ctx describes.
typedef int (*BenchCallFn)(void *ctx, int64_t b, EmbError *err);

// Times fn on a case of nbatches batches, call c taking batch c % nbatches:
// one warm-up pass over the batches (cut short after a quarter of the
// budget), then timed calls until BENCH_MAX_CALLS, or until the budget is
// spent and BENCH_MIN_CALLS were made. *ms gets the median per call.
int bench_time_calls(BenchCallFn fn, void *ctx, int64_t nbatches, double *ms, EmbError *err);

// The same with at least min_calls timed calls instead of BENCH_MIN_CALLS,
// for calls so slow that one after the warm-up is all the budget allows.
int bench_time_calls_min(BenchCallFn fn, void *ctx, int64_t nbatches, int min_calls, double *ms,
                         EmbError *err);

// The same with a budget of budget_s seconds instead of BENCH_BUDGET_S, for
// calls so fast (well under a millisecond) that a smaller budget still
// times hundreds of them.
int bench_time_calls_budget(BenchCallFn fn, void *ctx, int64_t nbatches, int min_calls,
                            double budget_s, double *ms, EmbError *err);

// ---------------------------------------------------------------------------
// Files and progress
// ---------------------------------------------------------------------------

// Writes n bytes to dir/name, atomically (temporary file, then rename).
int bench_write_bytes(const char *dir, const char *name, const void *data, size_t n,
                      EmbError *err);

// A progress line on stderr, with the seconds since the run began.
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// The sum of n floats' bits read as int32: a fingerprint of a table that
// PyTorch computes the same way, weight.view(torch.int32).sum(). x is (n,).
int64_t bench_bits_sum(const float *x, int64_t n);

// ---------------------------------------------------------------------------
// Index sets: BENCH_BATCHES batches of BENCH_N indices in [0, V)
// ---------------------------------------------------------------------------

typedef struct IndexSet {
    const char *dist;    // "uniform" or "zipf"
    int64_t V;
    int64_t *idx;        // (BENCH_BATCHES, BENCH_N)
    double touched_mib;  // distinct rows over all batches, times D*4 bytes
} IndexSet;

// ---------------------------------------------------------------------------
// PyTorch's side: tests/bench/bench_torch.py as a second process
// ---------------------------------------------------------------------------

typedef struct BenchTorch {
    pid_t pid;
    FILE *to;    // its stdin
    FILE *from;  // its stdout
    char version[64];
    int threads;
} BenchTorch;

// Sends one request line (printf-style) and reads the answer into answer;
// fails unless the answer starts with the request's first word.
int bench_torch_ask(BenchTorch *t, char *answer, int size, EmbError *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

typedef struct BenchValue {
    char key[64];
    char value[96];
} BenchValue;

typedef struct Bench {
    const char *dir;     // index files, outputs, TSV tables
    int64_t vmax;        // largest V measured
    BenchTorch *torch;   // NULL when PyTorch is not measured
    const char *no_torch_reason;  // ... and why
    Embedding table;     // (vmax, D), made by chapter 1's measurements
    IndexSet sets[BENCH_MAX_SETS];
    int nsets;
    BenchValue values[BENCH_MAX_VALUES];
    int nvalues;
    char kept[BENCH_MAX_KEPT][64];  // tables to copy beside the values (bench_keep_table)
    int nkept;
} Bench;

// The index set (dist, V), made (and written to dir/idx-<dist>-<V>.i64 for
// PyTorch) the first time it is asked for. dist is "uniform" (what
// torch.randint draws after torch.manual_seed(1)) or "zipf" (P(row k)
// proportional to (k+1)^-1.1, row 0 the most frequent).
const IndexSet *bench_index_set(Bench *b, const char *dist, int64_t V, EmbError *err);

// G, the upstream gradient of every training step (BENCH_N, BENCH_D), as
// torch.manual_seed(BENCH_GRAD_SEED); torch.randn(N, D) draws it, into
// grad_out; also written to dir/grad-out.f32 for PyTorch (the loss of a
// step is sum(out * G), whose gradient with respect to out is G).
int bench_grad_out(const Bench *b, float *grad_out, EmbError *err);

// The first V rows of b->table, as a table of its own that does not own
// its weight (or its gradient).
Embedding bench_prefix(const Bench *b, int64_t V);

// V as a key spells it: "1e7" for 10^7, the digits otherwise. Returns buf.
const char *bench_v_name(int64_t V, char *buf, size_t size);

// Records a value the prose may quote as {{bench:key}} (key in [a-z0-9_.]+),
// formatted as the prose prints it. A later value under the same key
// replaces the earlier one.
void bench_value(Bench *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// The value recorded under key so far, or NULL: a later chapter's report
// may quote an earlier chapter's measurement instead of repeating it.
const char *bench_value_get(const Bench *b, const char *key);

// Names a TSV table under dir that a chapter's figure draws: a run that
// writes the values for the prose also copies it beside them (as
// tests/bench/NAME), so that the committed figure and the committed
// numbers come from the same run.
void bench_keep_table(Bench *b, const char *name);

// One chapter's measurements: measure runs them (taking turns with
// b->torch when it is not NULL), report prints their tables and records
// their values. Chapters run in book order, so chapter 2 may use what
// chapter 1 made (the table, the index sets).
typedef struct BenchChapter {
    const char *title;
    int (*measure)(Bench *b, EmbError *err);
    int (*report)(Bench *b, EmbError *err);
} BenchChapter;

extern const BenchChapter bench_ch01, bench_ch02, bench_ch04, bench_ch05, bench_ch06;

// ---------------------------------------------------------------------------
// Floors: the fastest plain C we have for streaming memory
// ---------------------------------------------------------------------------

// x += s*y over n floats, streaming two arrays in and one out (an AVX2 copy
// on CPUs that have it). x and y are (n,).
void bench_stream_axpy(float *restrict x, const float *restrict y, int64_t n, float s);

// Rows at addresses an index chooses, asked for BENCH_PREFETCH rows ahead
// (__builtin_prefetch), as chapter 6's fast lookup and sparse updates ask.
// table is (V, BENCH_D), idx (n,) in [0, V) (unchecked), rows (n, BENCH_D).
enum { BENCH_PREFETCH = 16 };
// Asks for the cache lines of a row of BENCH_D floats (rw: 0 to read, 1 to
// write; a constant, as __builtin_prefetch wants).
#define BENCH_PREFETCH_ROW(row, rw)                                         \
    for (int line_ = 0; line_ < BENCH_D * (int)sizeof(float); line_ += 64) \
    __builtin_prefetch((const char *)(row) + line_, rw, 2)
// rows[i] = table[idx[i]]: a gather.
void bench_gather_rows(float *restrict rows, const float *restrict table, const int64_t *idx,
                       int64_t n);
// table[idx[i]] += s*rows[i], in order of i: a scatter of row axpys.
void bench_scatter_axpy(float *restrict table, const int64_t *idx, const float *restrict rows,
                        int64_t n, float s);

// ---------------------------------------------------------------------------
// For bench.c: the run's life cycle
// ---------------------------------------------------------------------------

// True when `python -c 'import torch'` works.
bool bench_torch_available(const char *python);

// Starts the script with its stdin and stdout on pipes and reads its first
// line ("torch VERSION THREADS").
int bench_torch_start(BenchTorch *t, const char *python, const char *script, const char *dir,
                      int64_t vmax, EmbError *err);

// Reads the script's first line into t.
int bench_torch_wait_hello(BenchTorch *t, EmbError *err);

// Closes the script's stdin, so that it ends, and waits for it; fails if it
// did not exit with status 0. Safe to call twice.
int bench_torch_stop(BenchTorch *t, EmbError *err);

// Frees the index sets.
void bench_free_sets(Bench *b);

#endif
