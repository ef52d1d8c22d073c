/*
 * bench.c - the book's benchmark: how fast is a lookup, and a dense
 * training step?   (make bench)
 *
 * Chapter 1. F.embedding(idx, weight) is a gather: it copies N rows of D
 * floats out of a (V, D) table. This program times chapter 1's emb_lookup
 * doing that for D = 64, N = 4096 and V from 10^3 to 10^7, with uniform
 * indices and with Zipf(1.1) indices (a few rows very often, most rows
 * rarely, as with the words of a text), and sets beside it:
 *
 *   - the ceiling: the same rows copied with one memcpy each and no index
 *     check, i.e. what the lookup would cost if checking were free;
 *   - PyTorch's F.embedding on the same table and the same indices, one
 *     thread, timed in the same run by tests/bench/bench_torch.py;
 *   - for small V, the one-hot product one_hot(idx, V) @ weight, which gives
 *     the same numbers in O(N*V*D) instead of O(N*D).
 *
 * Chapter 2. One dense training step on the same table, same N, D and V:
 * zero_grad, the lookup, the backward scatter-add of a fixed upstream
 * gradient G (N, D), and SGD over the whole (V, D) weight, set beside
 *
 *   - the floor: the bytes a dense step must move (16*V*D for zeroing the
 *     gradient and updating the weight, 20*N*D for the rows), timed with
 *     the fastest plain C we have on the step's own buffers, in the same
 *     turn as the step;
 *   - PyTorch's dense nn.Embedding and torch.optim.SGD doing the same step.
 *
 * What is held equal, so that the columns can be compared:
 *   - the table: one (V_max, 64) table, filled as torch.manual_seed(0)
 *     followed by nn.Embedding(V_max, 64) fills it; a smaller V uses its
 *     first V rows (the first rows of a (V, D) table are a (V', D) table).
 *     PyTorch fills its own copy the same way and checks that its output has
 *     the same bits as ours. The dense steps run after every lookup has been
 *     timed, and train the table in place, on both sides; a first step at
 *     each V, taken by both sides in the same order, checks that the two
 *     tables stay bit for bit the same;
 *   - the indices: for each (distribution, V), 64 batches of 4096, written
 *     to build/bench/ and read by both sides. Successive calls take the
 *     batches in turn, as successive training steps would, so a row is
 *     found in cache only if the table (or its hot part) fits there - not
 *     because the previous call has just touched it. The dense steps use the
 *     uniform batches and one G, also written to build/bench/;
 *   - the clock: the same rule on both sides (one warm-up pass over the
 *     batches, then the median of per-call times, capped by a time budget),
 *     and C and PyTorch take turns, case by case, for several rounds; each
 *     cell keeps its best round. The machine is shared, so a burst of other
 *     work then hits neither side alone, nor a whole column.
 *
 * PyTorch runs as a second process that fills its table while we fill
 * ours, then answers one request per line on a pipe ("lookup zipf 1000").
 * The run writes lookup.tsv, onehot.tsv and dense-step.tsv (with a header
 * row) beside the index files, and prints the tables on stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../chapters/01-lookup-table.h"
#include "../../chapters/02-gradient-flow.h"
#include "../../src/cli.h"

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

enum {
    BENCH_D = 64,            // embedding_dim
    BENCH_N = 4096,          // indices per call
    BENCH_BATCHES = 64,      // different index batches per case, used in turn
    BENCH_ROUNDS = 5,        // turns of C and PyTorch over the lookup cases
    BENCH_MAX_CALLS = 1024,  // timed calls per measurement, at most
    BENCH_MIN_CALLS = 3,     // ... and at least
    BENCH_MAX_SETS = 16,     // index sets in one run
    BENCH_DENSE_ROUNDS = 3,  // turns of C and PyTorch over the dense steps
};

#define BENCH_BUDGET_S 0.1       // seconds for one measurement, about
#define BENCH_TABLE_SEED 0       // torch.manual_seed before nn.Embedding
#define BENCH_UNIFORM_SEED 1     // seeds of the index generators
#define BENCH_ZIPF_SEED 2
#define BENCH_ZIPF_EXPONENT 1.1  // P(row k) proportional to (k+1)^-1.1
#define BENCH_GRAD_SEED 3        // G is torch.randn(N, D) after torch.manual_seed(3)
#define BENCH_LR 0.1f            // torch.optim.SGD(lr=0.1)
#define BENCH_DENSE_GOAL 1.5     // a dense step should cost at most this times the floor
#define BENCH_PYTHON "/usr/bin/python3"  // Debian's python3-torch lives here

static const int64_t LOOKUP_VS[] = {1000, 10000, 100000, 1000000, 10000000};
static const int64_t ONEHOT_VS[] = {100, 1000, 10000};
static const int64_t DENSE_VS[] = {1000, 10000, 100000, 1000000, 10000000};  // each a LOOKUP_VS
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// ---------------------------------------------------------------------------
// Clock and small helpers
// ---------------------------------------------------------------------------

// Seconds on CLOCK_MONOTONIC.
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// Keeps the better of two times in *best; a negative time means none yet.
static void keep_best(double *best, double ms) {
    if (*best < 0 || ms < *best) *best = ms;
}

// Writes n bytes to dir/name, atomically (temporary file, then rename).
static int write_bytes(const char *dir, const char *name, const void *data, size_t n,
                       EmbError *err) {
    OutFile of;
    if (outfile_open(&of, dir, name, err) != 0) return -1;
    if (fwrite(data, 1, n, of.f) != n) {
        outfile_abort(&of);
        return emb_fail(err, "%s/%s: write failed: %s", dir, name, strerror(errno));
    }
    return outfile_commit(&of, err);
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

// Reads the first line of a small text file into buf, without its newline;
// returns false if there is no such file.
static bool read_line(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

// Prints the core count, the CPU's model name and its data cache sizes.
static void print_machine(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    printf("Machine: %s, %ld cores online; every timing below uses one thread.\n", model, cores);

    // cpu0's caches: index0..index3 are usually L1d, L1i, L2, L3.
    printf("Caches (per instance):");
    for (int i = 0; i < 6; i++) {
        char path[128], level[16], type[32], size[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!read_line(path, level, sizeof level)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!read_line(path, type, sizeof type)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!read_line(path, size, sizeof size)) break;
        if (strcmp(type, "Instruction") == 0) continue;
        printf(" L%s %s", level, size);
    }
    printf("\nC compiler: gcc %s\n", __VERSION__);
}

// ---------------------------------------------------------------------------
// Index sets: BENCH_BATCHES batches of BENCH_N indices in [0, V)
// ---------------------------------------------------------------------------

typedef struct IndexSet {
    const char *dist;    // "uniform" or "zipf"
    int64_t V;
    int64_t *idx;        // (BENCH_BATCHES, BENCH_N)
    double touched_mib;  // distinct rows over all batches, times D*4 bytes
} IndexSet;

// Uniform indices: rng_random() % V, which is what torch.randint(0, V, (n,))
// draws after torch.manual_seed(seed), for V < 2^32. idx is (n,).
static void uniform_fill(TorchGenerator *gen, int64_t V, int64_t *idx, int64_t n) {
    for (int64_t i = 0; i < n; i++) idx[i] = (int64_t)(rng_random(gen) % (uint32_t)V);
}

// Zipf's cumulative weights for every V up to vmax: cdf[k] = sum_{j<=k} (j+1)^-s,
// so that cdf[V-1] normalises Zipf(s) over [0, V). cdf is (vmax,).
static double *zipf_cdf(int64_t vmax, double s, EmbError *err) {
    double *cdf = malloc((size_t)vmax * sizeof *cdf);
    if (cdf == NULL) {
        emb_fail(err, "out of memory for a Zipf table of %" PRId64 " rows", vmax);
        return NULL;
    }
    double sum = 0.0;
    for (int64_t k = 0; k < vmax; k++) {
        sum += pow((double)(k + 1), -s);
        cdf[k] = sum;
    }
    return cdf;
}

// Zipf(s) indices over [0, V) by inverting the CDF: index k with probability
// (k+1)^-s / cdf[V-1], so row 0 is the most frequent (a vocabulary sorted by
// frequency, as word2vec sorts it). idx is (n,).
static void zipf_fill(TorchGenerator *gen, const double *cdf, int64_t V, int64_t *idx, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double u = rng_uniform_double(gen) * cdf[V - 1];
        int64_t lo = 0, hi = V - 1;  // the first k with cdf[k] > u is in [lo, hi]
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        idx[i] = lo;
    }
}

// Counts the distinct values among idx's n entries (sorting a copy);
// returns -1 with err set if out of memory.
static int64_t count_distinct(const int64_t *idx, int64_t n, EmbError *err) {
    int64_t *copy = malloc((size_t)n * sizeof *copy);
    if (copy == NULL) return emb_fail(err, "out of memory");
    memcpy(copy, idx, (size_t)n * sizeof *copy);
    qsort(copy, (size_t)n, sizeof *copy, cmp_int64);
    int64_t distinct = n > 0;
    for (int64_t i = 1; i < n; i++) distinct += copy[i] != copy[i - 1];
    free(copy);
    return distinct;
}

// Makes the index set (dist, V), writes it to dir/idx-<dist>-<V>.i64 (int64,
// native byte order), and counts the rows it touches.
static int make_set(IndexSet *s, const char *dist, int64_t V, const double *cdf,
                    const char *dir, EmbError *err) {
    const int64_t total = (int64_t)BENCH_BATCHES * BENCH_N;
    s->dist = dist;
    s->V = V;
    s->idx = malloc((size_t)total * sizeof *s->idx);
    if (s->idx == NULL) return emb_fail(err, "out of memory for %" PRId64 " indices", total);
    TorchGenerator gen;
    if (strcmp(dist, "uniform") == 0) {
        rng_manual_seed(&gen, BENCH_UNIFORM_SEED);
        uniform_fill(&gen, V, s->idx, total);
    } else {
        rng_manual_seed(&gen, BENCH_ZIPF_SEED);
        zipf_fill(&gen, cdf, V, s->idx, total);
    }
    int64_t distinct = count_distinct(s->idx, total, err);
    if (distinct < 0) return -1;
    s->touched_mib = (double)distinct * BENCH_D * sizeof(float) / (1024.0 * 1024.0);
    char name[64];
    snprintf(name, sizeof name, "idx-%s-%" PRId64 ".i64", dist, V);
    return write_bytes(dir, name, s->idx, (size_t)total * sizeof *s->idx, err);
}

// The set (dist, V) among sets[0..n), or NULL.
static const IndexSet *find_set(const IndexSet *sets, int n, const char *dist, int64_t V) {
    for (int i = 0; i < n; i++)
        if (sets[i].V == V && strcmp(sets[i].dist, dist) == 0) return &sets[i];
    return NULL;
}

// ---------------------------------------------------------------------------
// What is timed: the lookup, the one-hot product, and two copies
// ---------------------------------------------------------------------------

// Everything timed has emb_lookup's shape: idx is (n,), out is (n, D).
typedef int (*LookupFn)(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                        EmbError *err);

// The ceiling for a gather: one memcpy per row, from the same rows the
// lookup reads, and no index check. A gather cannot avoid reading those
// rows wherever they sit in the table and writing them out contiguously, so
// this is emb_lookup with its checking made free.
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
// the machine's streaming speed, which no gather reaches, because a gather's
// reads jump around the table. Shown once, for scale; idx is ignored.
static int copy_contiguous(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                           EmbError *err) {
    (void)idx;
    (void)err;
    memcpy(out, e->weight, (size_t)(n * e->embedding_dim) * sizeof(float));
    return 0;
}

// What the clock times: one call of fn on batch b of the case ctx describes.
typedef int (*CallFn)(void *ctx, int64_t b, EmbError *err);

// Times fn on a case of nbatches batches, call c taking batch c % nbatches:
// one warm-up pass over the batches (cut short after a quarter of the
// budget), then timed calls until BENCH_MAX_CALLS, or until the budget is
// spent and BENCH_MIN_CALLS were made. *ms gets the median time per call, in
// milliseconds. (A slow case, such as a dense step at V = 10^7, thus gets
// one warm-up call and BENCH_MIN_CALLS timed ones.)
static int time_calls(CallFn fn, void *ctx, int64_t nbatches, double *ms, EmbError *err) {
    double start = now_s();
    for (int64_t b = 0; b < nbatches; b++) {
        if (fn(ctx, b, err) != 0) return -1;
        if (now_s() - start > BENCH_BUDGET_S / 4) break;
    }
    double times[BENCH_MAX_CALLS];
    int calls = 0;
    start = now_s();
    while (calls < BENCH_MAX_CALLS &&
           (calls < BENCH_MIN_CALLS || now_s() - start < BENCH_BUDGET_S)) {
        double t0 = now_s();
        if (fn(ctx, calls % nbatches, err) != 0) return -1;
        times[calls++] = now_s() - t0;
    }
    qsort(times, (size_t)calls, sizeof times[0], cmp_double);
    double median = calls % 2 ? times[calls / 2] : 0.5 * (times[calls / 2 - 1] + times[calls / 2]);
    *ms = 1e3 * median;
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
// (nbatches, n)); *ms gets the median ms per call (see time_calls).
static int time_lookups(LookupFn fn, const Embedding *e, const int64_t *idx, int64_t nbatches,
                        int64_t n, float *out, double *ms, EmbError *err) {
    LookupCall c = {.fn = fn, .e = e, .idx = idx, .n = n, .out = out};
    return time_calls(lookup_call, &c, nbatches, ms, err);
}

// The first V rows of e, as a table of its own that does not own its weight.
static Embedding prefix_table(const Embedding *e, int64_t V) {
    Embedding p = *e;
    p.num_embeddings = V;
    p.owns_weight = false;
    return p;
}

// ---------------------------------------------------------------------------
// PyTorch's side: tests/bench/bench_torch.py as a second process, asked one
// question per line. It prints (tab-separated) "torch VERSION THREADS",
// "fill SECONDS" and "ready" once its table is filled, then answers
//   lookup DIST V  ->  lookup DIST V MS SAME
//   onehot V       ->  onehot V MS SAME
// where SAME is 1 if its output has the bits of our dir/out-DIST-V.f32, and,
// for chapter 2's dense step on its table's first V rows,
//   densecheck V SUM  ->  densecheck V SAME   one step on batch 0, then
//                         SAME is 1 if the looked-up rows have the bits of
//                         our dir/dense-V.f32 and the weight's bits_sum is SUM
//   dense V           ->  dense V MS          steps timed on the uniform batches
// ---------------------------------------------------------------------------

typedef struct Torch {
    pid_t pid;
    FILE *to;    // its stdin
    FILE *from;  // its stdout
    char version[64];
    int threads;
    double fill_s;  // seconds it took to fill its table
} Torch;

// True when `python -c 'import torch'` works.
static bool torch_available(const char *python) {
    if (strchr(python, '\'') != NULL) return false;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", python);
    return system(cmd) == 0;
}

// Starts the script with its stdin and stdout on pipes; it begins filling
// its (vmax, D) table at once.
static int torch_start(Torch *t, const char *python, const char *script, const char *dir,
                       int64_t vmax, EmbError *err) {
    char s_dim[32], s_n[32], s_batches[32], s_vmax[32], s_seed[32], s_budget[32], s_min[32],
        s_max[32], s_lr[32];
    snprintf(s_dim, sizeof s_dim, "%d", BENCH_D);
    snprintf(s_n, sizeof s_n, "%d", BENCH_N);
    snprintf(s_batches, sizeof s_batches, "%d", BENCH_BATCHES);
    snprintf(s_vmax, sizeof s_vmax, "%" PRId64, vmax);
    snprintf(s_seed, sizeof s_seed, "%d", BENCH_TABLE_SEED);
    snprintf(s_budget, sizeof s_budget, "%g", BENCH_BUDGET_S);
    snprintf(s_min, sizeof s_min, "%d", BENCH_MIN_CALLS);
    snprintf(s_max, sizeof s_max, "%d", BENCH_MAX_CALLS);
    snprintf(s_lr, sizeof s_lr, "%.9g", (double)BENCH_LR);  // 9 digits: the same float
    char *argv[] = {(char *)python, (char *)script, "--dir", (char *)dir, "--dim", s_dim,
                    "--n", s_n, "--batches", s_batches, "--vmax", s_vmax, "--seed", s_seed,
                    "--budget", s_budget, "--min-calls", s_min, "--max-calls", s_max,
                    "--lr", s_lr, NULL};
    int down[2], up[2];  // down: we write, it reads; up: it writes, we read
    if (pipe(down) != 0) return emb_fail(err, "pipe: %s", strerror(errno));
    if (pipe(up) != 0) {
        close(down[0]);
        close(down[1]);
        return emb_fail(err, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    t->pid = fork();
    if (t->pid < 0) return emb_fail(err, "fork: %s", strerror(errno));
    if (t->pid == 0) {
        dup2(down[0], STDIN_FILENO);
        dup2(up[1], STDOUT_FILENO);
        close(down[0]);
        close(down[1]);
        close(up[0]);
        close(up[1]);
        execvp(python, argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(down[0]);
    close(up[1]);
    t->to = fdopen(down[1], "w");
    t->from = fdopen(up[0], "r");
    if (t->to == NULL || t->from == NULL) return emb_fail(err, "fdopen: %s", strerror(errno));
    return 0;
}

// Reads one line from the script into line; fails if it has ended.
static int torch_read(Torch *t, char *line, int size, EmbError *err) {
    if (fgets(line, size, t->from) == NULL)
        return emb_fail(err, "the PyTorch script ended early (see its message above)");
    return 0;
}

// Waits until the script has filled its table, reading its version lines.
static int torch_wait_ready(Torch *t, EmbError *err) {
    char line[256];
    while (torch_read(t, line, sizeof line, err) == 0) {
        if (strcmp(line, "ready\n") == 0) return 0;
        if (sscanf(line, "torch\t%63s\t%d", t->version, &t->threads) == 2) continue;
        if (sscanf(line, "fill\t%lf", &t->fill_s) == 1) continue;
        return emb_fail(err, "unexpected line from the PyTorch script: %s", line);
    }
    return -1;
}

// Sends one request line and reads the answer line into answer.
static int torch_request(Torch *t, const char *request, char *answer, int size, EmbError *err) {
    fprintf(t->to, "%s\n", request);
    if (fflush(t->to) != 0) return emb_fail(err, "the PyTorch script stopped reading");
    return torch_read(t, answer, size, err);
}

// Asks for one measurement ("lookup zipf 1000" or "onehot 100"); *ms gets
// the time per call and *same whether its output had our bits.
static int torch_ask(Torch *t, const char *kind, const char *dist, int64_t V, double *ms,
                     bool *same, EmbError *err) {
    char request[64], line[256];
    if (strcmp(kind, "lookup") == 0)
        snprintf(request, sizeof request, "lookup %s %" PRId64, dist, V);
    else
        snprintf(request, sizeof request, "onehot %" PRId64, V);
    if (torch_request(t, request, line, sizeof line, err) != 0) return -1;
    char got_kind[16], got_dist[16] = "";
    int64_t got_V;
    int got_same;
    bool ok = strcmp(kind, "lookup") == 0
        ? sscanf(line, "%15s %15s %" SCNd64 " %lf %d", got_kind, got_dist, &got_V, ms, &got_same) == 5
        : sscanf(line, "%15s %" SCNd64 " %lf %d", got_kind, &got_V, ms, &got_same) == 4;
    if (!ok || strcmp(got_kind, kind) != 0 || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    *same = got_same == 1;
    return 0;
}

// Asks PyTorch for its first dense step at V and whether its table then has
// our bits (sum is the bits_sum of our first V rows after our step).
static int torch_dense_check(Torch *t, int64_t V, int64_t sum, bool *same, EmbError *err) {
    char request[96], line[256];
    snprintf(request, sizeof request, "densecheck %" PRId64 " %" PRId64, V, sum);
    if (torch_request(t, request, line, sizeof line, err) != 0) return -1;
    int64_t got_V;
    int got_same;
    if (sscanf(line, "densecheck %" SCNd64 " %d", &got_V, &got_same) != 2 || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    *same = got_same == 1;
    return 0;
}

// Asks PyTorch to time its dense step at V; *ms gets the time per step.
static int torch_dense(Torch *t, int64_t V, double *ms, EmbError *err) {
    char request[64], line[256];
    snprintf(request, sizeof request, "dense %" PRId64, V);
    if (torch_request(t, request, line, sizeof line, err) != 0) return -1;
    int64_t got_V;
    if (sscanf(line, "dense %" SCNd64 " %lf", &got_V, ms) != 2 || got_V != V)
        return emb_fail(err, "unexpected answer from the PyTorch script: %s", line);
    return 0;
}

// Closes the script's stdin, so that it ends, and waits for it; fails if it
// did not exit with status 0.
static int torch_stop(Torch *t, EmbError *err) {
    if (t->pid <= 0) return 0;
    if (t->to != NULL) fclose(t->to);
    if (t->from != NULL) fclose(t->from);
    int status;
    pid_t pid = t->pid;
    t->pid = 0;
    if (waitpid(pid, &status, 0) != pid) return emb_fail(err, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return emb_fail(err, "the PyTorch script failed (status %d)", status);
    return 0;
}

// ---------------------------------------------------------------------------
// The measurements
// ---------------------------------------------------------------------------

typedef struct LookupRow {
    const IndexSet *set;
    double c_ms;      // emb_lookup
    double rows_ms;   // copy_rows, the ceiling
    double torch_ms;  // F.embedding; < 0 when not measured
    bool torch_same;  // PyTorch's output had our bits
} LookupRow;

typedef struct OnehotRow {
    const IndexSet *set;  // uniform; only its first batch is used
    double gather_ms;     // emb_lookup
    double onehot_ms;     // emb_onehot_matmul
    bool same;            // our one-hot result had the gather's bits
    double torch_ms;      // F.one_hot(idx, V).float() @ weight; < 0 when not measured
    bool torch_same;      // ... and it had the gather's bits
} OnehotRow;

// Writes batch 0's lookup output for every set to dir/out-<dist>-<V>.f32,
// for PyTorch to compare its own with. out is (BENCH_N, D).
static int write_outputs(const Embedding *table, const IndexSet *sets, int nsets,
                         const char *dir, float *out, EmbError *err) {
    for (int i = 0; i < nsets; i++) {
        Embedding e = prefix_table(table, sets[i].V);
        if (emb_lookup(&e, sets[i].idx, BENCH_N, out, err) != 0) return -1;
        char name[64];
        snprintf(name, sizeof name, "out-%s-%" PRId64 ".f32", sets[i].dist, sets[i].V);
        if (write_bytes(dir, name, out, (size_t)BENCH_N * BENCH_D * sizeof(float), err) != 0)
            return -1;
    }
    return 0;
}

// One round over the lookup cases: for each, C's lookup, its ceiling and
// PyTorch (if t is not NULL), PyTorch going first in odd rounds. Each cell
// keeps its best time so far.
static int lookup_round(const Embedding *table, LookupRow *rows, int nrows, Torch *t, int round,
                        float *out, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        LookupRow *row = &rows[r];
        Embedding e = prefix_table(table, row->set->V);
        double c_ms, rows_ms, torch_ms;
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (round % 2 == 0)) {  // C's turn
                if (time_lookups(emb_lookup, &e, row->set->idx, BENCH_BATCHES, BENCH_N, out,
                                 &c_ms, err) != 0 ||
                    time_lookups(copy_rows, &e, row->set->idx, BENCH_BATCHES, BENCH_N, out,
                                 &rows_ms, err) != 0)
                    return -1;
                keep_best(&row->c_ms, c_ms);
                keep_best(&row->rows_ms, rows_ms);
            } else if (t != NULL) {
                if (torch_ask(t, "lookup", row->set->dist, row->set->V, &torch_ms,
                              &row->torch_same, err) != 0)
                    return -1;
                keep_best(&row->torch_ms, torch_ms);
            }
        }
    }
    return 0;
}

// Times the gather and the one-hot product on each row's first batch (one
// round: the product is slow), checks that they give the same bits, and
// asks PyTorch for its one-hot product. out and out2 are (BENCH_N, D).
static int onehot_round(const Embedding *table, OnehotRow *rows, int nrows, Torch *t,
                        float *out, float *out2, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        OnehotRow *row = &rows[r];
        Embedding e = prefix_table(table, row->set->V);
        if (time_lookups(emb_lookup, &e, row->set->idx, 1, BENCH_N, out, &row->gather_ms, err) != 0 ||
            time_lookups(emb_onehot_matmul, &e, row->set->idx, 1, BENCH_N, out2, &row->onehot_ms,
                         err) != 0)
            return -1;
        row->same = memcmp(out, out2, (size_t)BENCH_N * BENCH_D * sizeof(float)) == 0;
        if (t != NULL &&
            torch_ask(t, "onehot", "uniform", row->set->V, &row->torch_ms, &row->torch_same, err) != 0)
            return -1;
        fprintf(stderr, "  one-hot V = %" PRId64 " done\n", row->set->V);
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Chapter 2: a dense training step, and the floor under it
// ---------------------------------------------------------------------------

// The floor's kernel below gets an AVX2 copy, picked when the program starts,
// as chapter 2's sgd_step gets an FMA copy: a floor must be at least as fast
// as anything the step itself runs.
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX2__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define BENCH_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef BENCH_AVX2_CLONES
#define BENCH_AVX2_CLONES
#endif

// x += s*y over n floats: the fastest plain C we have for streaming two
// arrays in and one out. Blocks of 16 with restrict pointers, which GCC
// vectorises at -O2; a plain loop it would leave scalar. x and y are (n,).
BENCH_AVX2_CLONES
static void stream_axpy(float *restrict x, const float *restrict y, int64_t n, float s) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) x[i + k] += s * y[i + k];
    for (; i < n; i++) x[i] += s * y[i];
}

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

// emb_backward alone on batch b, adding into whatever the gradient holds:
// the step's part that scales with N rather than V.
static int dense_backward(void *ctx, int64_t b, EmbError *err) {
    DenseCase *c = ctx;
    return emb_backward(&c->e, c->idx + b * BENCH_N, BENCH_N, c->grad_out, err);  // seek to batch b
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

// SGD reads the gradient and the weight and writes the weight, 12VD bytes.
// Timed after floor_zero, so the gradient is 0 and the weight keeps its bits.
static int floor_sgd(void *ctx, int64_t b, EmbError *err) {
    (void)b;
    (void)err;
    DenseCase *c = ctx;
    stream_axpy(c->e.weight, c->e.grad, c->e.num_embeddings * c->e.embedding_dim, -BENCH_LR);
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
    stream_axpy(c->out, c->grad_out, (int64_t)BENCH_N * BENCH_D, -BENCH_LR);
    return 0;
}

// Bytes the floor moves at V: 16VD + 20ND.
static double floor_bytes(int64_t V) {
    return (16.0 * (double)V + 20.0 * BENCH_N) * BENCH_D;
}

typedef struct DenseRow {
    const IndexSet *set;    // uniform; V is set->V
    double c_ms;            // one C step
    double backward_ms;     // ... of which emb_backward, timed alone
    double zero_ms, sgd_ms, rows_ms;  // the floor's three parts
    double torch_ms;        // one PyTorch step; < 0 when not measured
    bool checked;           // PyTorch checked its table against ours ...
    bool torch_same;        // ... and it had our bits
} DenseRow;

// The sum of n floats' bits read as int32: a fingerprint of a weight that
// PyTorch computes the same way, weight.view(torch.int32).sum(). x is (n,).
static int64_t bits_sum(const float *x, int64_t n) {
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        sum += bits;
    }
    return sum;
}

// The case for row r: prefixes of the table (weight and gradient).
static DenseCase dense_case(const Embedding *table, const DenseRow *row, const float *grad_out,
                            float *out) {
    return (DenseCase){.e = prefix_table(table, row->set->V), .idx = row->set->idx,
                       .grad_out = grad_out, .out = out};
}

// The first dense step at each V, on batch 0, taken by both sides in the
// same order on tables that start with the same bits. After ours we write
// the rows of batch 0 to dir/dense-V.f32; PyTorch compares its own rows, and
// its weight's bits_sum, with ours.
static int dense_check(const Embedding *table, DenseRow *rows, int nrows, Torch *t,
                       const float *grad_out, float *out, const char *dir, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        DenseCase c = dense_case(table, &rows[r], grad_out, out);
        if (dense_step(&c, 0, err) != 0) return -1;
        if (t == NULL) continue;
        if (emb_lookup(&c.e, c.idx, BENCH_N, out, err) != 0) return -1;
        char name[64];
        snprintf(name, sizeof name, "dense-%" PRId64 ".f32", c.e.num_embeddings);
        if (write_bytes(dir, name, out, (size_t)BENCH_N * BENCH_D * sizeof(float), err) != 0)
            return -1;
        int64_t sum = bits_sum(c.e.weight, c.e.num_embeddings * c.e.embedding_dim);
        if (torch_dense_check(t, c.e.num_embeddings, sum, &rows[r].torch_same, err) != 0)
            return -1;
        rows[r].checked = true;
    }
    return 0;
}

// One round over the dense cases: for each, C's step, its backward alone and
// the floor's parts, and PyTorch's step (if t is not NULL), PyTorch going
// first in odd rounds. Each cell keeps its best time so far.
static int dense_round(const Embedding *table, DenseRow *rows, int nrows, Torch *t, int round,
                       const float *grad_out, float *out, EmbError *err) {
    for (int r = 0; r < nrows; r++) {
        DenseRow *row = &rows[r];
        DenseCase c = dense_case(table, row, grad_out, out);
        double ms[5];
        for (int turn = 0; turn < 2; turn++) {
            if ((turn == 0) == (round % 2 == 0)) {  // C's turn
                if (time_calls(dense_step, &c, BENCH_BATCHES, &ms[0], err) != 0 ||
                    time_calls(dense_backward, &c, BENCH_BATCHES, &ms[1], err) != 0 ||
                    time_calls(floor_zero, &c, 1, &ms[2], err) != 0 ||
                    time_calls(floor_sgd, &c, 1, &ms[3], err) != 0 ||
                    time_calls(floor_rows, &c, 1, &ms[4], err) != 0)
                    return -1;
                keep_best(&row->c_ms, ms[0]);
                keep_best(&row->backward_ms, ms[1]);
                keep_best(&row->zero_ms, ms[2]);
                keep_best(&row->sgd_ms, ms[3]);
                keep_best(&row->rows_ms, ms[4]);
            } else if (t != NULL) {
                if (torch_dense(t, row->set->V, &ms[0], err) != 0) return -1;
                keep_best(&row->torch_ms, ms[0]);
            }
        }
        fprintf(stderr, "    V = %" PRId64 " done\n", row->set->V);
    }
    return 0;
}

// Chapter 2's measurements, after chapter 1's (they train the table in
// place): gives the table a gradient, writes G to dir/grad-out.f32, checks
// the first step against PyTorch, then takes BENCH_DENSE_ROUNDS rounds.
static int measure_dense(Embedding *table, DenseRow *rows, int nrows, Torch *t, const char *dir,
                         EmbError *err) {
    const size_t bytes = (size_t)BENCH_N * BENCH_D * sizeof(float);
    float *grad_out = emb_alloc((int64_t)bytes), *out = emb_alloc((int64_t)bytes);  // (N, D) each
    int rc = -1;
    if (grad_out == NULL || out == NULL) {
        emb_fail(err, "out of memory");
        goto done;
    }
    if (emb_alloc_grad(table, err) != 0) goto done;
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_GRAD_SEED);
    rng_normal_(&gen, grad_out, (int64_t)BENCH_N * BENCH_D, 0.0f, 1.0f);  // torch.randn(N, D)
    if (write_bytes(dir, "grad-out.f32", grad_out, bytes, err) != 0) goto done;
    fprintf(stderr, "  dense step: first step, checked against PyTorch\n");
    if (dense_check(table, rows, nrows, t, grad_out, out, dir, err) != 0) goto done;
    for (int round = 0; round < BENCH_DENSE_ROUNDS; round++) {
        fprintf(stderr, "  dense step round %d of %d\n", round + 1, BENCH_DENSE_ROUNDS);
        if (dense_round(table, rows, nrows, t, round, grad_out, out, err) != 0) goto done;
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

// GB/s for moving one call's output, N*D*4 bytes, in ms milliseconds.
static double gb_per_s(double ms) {
    return (double)BENCH_N * BENCH_D * sizeof(float) / (ms * 1e-3) / 1e9;
}

// Prints the lookup table on stdout and writes it to dir/lookup.tsv.
static int report_lookups(const LookupRow *rows, int n, const char *dir, EmbError *err) {
    printf("\n%9s %-8s %8s | %9s %6s | %9s | %9s %9s %5s\n", "V", "indices", "touched",
           "C lookup", "C", "memcpy", "PyTorch", "PyTorch/C", "same");
    printf("%9s %-8s %8s | %9s %6s | %9s | %9s %9s %5s\n", "", "", "MiB", "ms/call", "GB/s",
           "rows ms", "ms/call", "", "bits");
    OutFile of;
    if (outfile_open(&of, dir, "lookup.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tindices\ttouched_mib\tc_ms\tc_gbps\tmemcpy_rows_ms\ttorch_ms\ttorch_over_c\tsame_bits\n");
    for (int r = 0; r < n; r++) {
        const LookupRow *row = &rows[r];
        char torch_ms[32] = "-", ratio[32] = "-", same[8] = "-";
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.4f", row->torch_ms);
            snprintf(ratio, sizeof ratio, "%.2f", row->torch_ms / row->c_ms);
            snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
        }
        printf("%9" PRId64 " %-8s %8.1f | %9.4f %6.1f | %9.4f | %9s %8s%s %5s\n", row->set->V,
               row->set->dist, row->set->touched_mib, row->c_ms, gb_per_s(row->c_ms),
               row->rows_ms, torch_ms, ratio, row->torch_ms >= 0 ? "x" : " ", same);
        fprintf(of.f, "%" PRId64 "\t%s\t%.2f\t%.6f\t%.3f\t%.6f\t%s\t%s\t%s\n", row->set->V,
                row->set->dist, row->set->touched_mib, row->c_ms, gb_per_s(row->c_ms),
                row->rows_ms, torch_ms, ratio, same);
    }
    return outfile_commit(&of, err);
}

// Prints the one-hot table on stdout and writes it to dir/onehot.tsv.
static int report_onehots(const OnehotRow *rows, int n, const char *dir, EmbError *err) {
    printf("\nOne-hot product vs gather: one_hot(idx, V) @ weight gives the same rows with\n"
           "N*V*D multiply-adds where the gather copies N*D floats (uniform indices, N = %d).\n",
           BENCH_N);
    printf("\n%7s | %9s | %10s %9s %5s | %10s %5s\n", "V", "gather", "one-hot", "one-hot/", "same",
           "PyTorch", "same");
    printf("%7s | %9s | %10s %9s %5s | %10s %5s\n", "", "ms/call", "ms/call", "gather", "bits",
           "one-hot ms", "bits");
    OutFile of;
    if (outfile_open(&of, dir, "onehot.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tgather_ms\tonehot_ms\tonehot_over_gather\tsame_bits\ttorch_onehot_ms\ttorch_same_bits\n");
    for (int r = 0; r < n; r++) {
        const OnehotRow *row = &rows[r];
        char torch_ms[32] = "-", same[8] = "-";
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.3f", row->torch_ms);
            snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
        }
        double slower = row->onehot_ms / row->gather_ms;
        printf("%7" PRId64 " | %9.4f | %10.3f %8.0fx %5s | %10s %5s\n", row->set->V,
               row->gather_ms, row->onehot_ms, slower, row->same ? "yes" : "NO", torch_ms, same);
        fprintf(of.f, "%" PRId64 "\t%.6f\t%.6f\t%.1f\t%s\t%s\t%s\n", row->set->V, row->gather_ms,
                row->onehot_ms, slower, row->same ? "yes" : "NO", torch_ms, same);
    }
    return outfile_commit(&of, err);
}

// Prints how the dense steps were measured, above their table.
static void print_dense_setup(const Torch *t, bool torch_wanted) {
    printf("\nChapter 2 benchmark: one dense training step, N = %d, D = %d, lr = %g, the uniform\n"
           "  batches above (taken in turn) and one upstream gradient G (N, D), drawn as\n"
           "  torch.manual_seed(%d); torch.randn(N, D) draws it; the loss is sum(out * G).\n",
           BENCH_N, BENCH_D, (double)BENCH_LR, BENCH_GRAD_SEED);
    printf("  C:       emb_zero_grad; emb_lookup (forward); emb_backward (scatter-add of G);\n"
           "           sgd_step over all V*D values of the weight.\n");
    if (t != NULL)
        printf("  PyTorch: emb = nn.Embedding.from_pretrained(table[:V], freeze=False) (dense),\n"
               "           opt = torch.optim.SGD(emb.parameters(), lr=%g); each step\n"
               "           opt.zero_grad(set_to_none=False), 1.13's default;\n"
               "           emb(idx).backward(G); opt.step(). One thread.\n", (double)BENCH_LR);
    else if (torch_wanted)
        printf("  PyTorch: not measured (no torch).\n");
    else
        printf("  PyTorch: not measured (no --torch script given).\n");
    printf("  Both sides train the table the lookups used, in place, after the lookups; a first\n"
           "  step at each V, taken by both in the same order, checks that the tables stay equal\n"
           "  (same bits: batch 0's rows and the whole weight's sum of int32 bit patterns).\n");
    printf("  Floor: the bytes a dense step must move, 16VD + 20ND (zeroing the gradient writes\n"
           "  4VD; SGD reads the gradient and the weight and writes the weight, 12VD; the rows:\n"
           "  the lookup's reads and writes and backward's reads of G and of the gradient rows\n"
           "  and writes, 20ND), timed on the step's own buffers in the same turn as the step:\n"
           "  memset of the gradient + weight += s*grad streamed (blocked restrict C loop, AVX2\n"
           "  copy) + memcpy G -> out and out += s*G for the rows. GB/s is those bytes over the\n"
           "  floor's time: cache bandwidth while weight and gradient fit in cache, memory\n"
           "  bandwidth beyond.\n");
    printf("  Times: median per step as above (slow cases: %d timed steps after one warm-up\n"
           "  step), best of %d rounds in which C and PyTorch take turns case by case.\n",
           BENCH_MIN_CALLS, BENCH_DENSE_ROUNDS);
}

// Prints the dense-step table on stdout, and whether the C step met its goal
// at every V, and writes the table to dir/dense-step.tsv.
static int report_dense(const DenseRow *rows, int n, const char *dir, EmbError *err) {
    printf("\n%9s %8s | %9s | %9s %6s | %7s | %9s %9s %5s\n", "V", "floor", "C step", "floor",
           "floor", "C/floor", "PyTorch", "PyTorch/C", "same");
    printf("%9s %8s | %9s | %9s %6s | %7s | %9s %9s %5s\n", "", "MB", "ms", "ms", "GB/s", "",
           "ms/step", "", "bits");
    OutFile of;
    if (outfile_open(&of, dir, "dense-step.tsv", err) != 0) return -1;
    fprintf(of.f, "V\tfloor_mb\tc_ms\tc_backward_ms\tfloor_ms\tfloor_zero_ms\tfloor_sgd_ms\t"
                  "floor_rows_ms\tfloor_gbps\tc_over_floor\ttorch_ms\ttorch_over_c\tsame_bits\n");
    int missed = 0;
    for (int r = 0; r < n; r++) {
        const DenseRow *row = &rows[r];
        double floor_ms = row->zero_ms + row->sgd_ms + row->rows_ms;
        double mb = floor_bytes(row->set->V) / 1e6, gbps = mb / floor_ms;  // MB/ms = GB/s
        double ratio = row->c_ms / floor_ms;
        missed += ratio > BENCH_DENSE_GOAL;
        char torch_ms[32] = "-", torch_ratio[32] = "-", same[8] = "-";
        if (row->torch_ms >= 0) {
            snprintf(torch_ms, sizeof torch_ms, "%.3f", row->torch_ms);
            snprintf(torch_ratio, sizeof torch_ratio, "%.1f", row->torch_ms / row->c_ms);
        }
        if (row->checked) snprintf(same, sizeof same, "%s", row->torch_same ? "yes" : "NO");
        printf("%9" PRId64 " %8.1f | %9.3f | %9.3f %6.1f | %6.2f%s | %9s %8s%s %5s\n",
               row->set->V, mb, row->c_ms, floor_ms, gbps, ratio,
               ratio > BENCH_DENSE_GOAL ? "!" : " ", torch_ms, torch_ratio,
               row->torch_ms >= 0 ? "x" : " ", same);
        fprintf(of.f, "%" PRId64 "\t%.3f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.2f\t%.3f"
                      "\t%s\t%s\t%s\n", row->set->V, mb, row->c_ms, row->backward_ms, floor_ms, row->zero_ms, row->sgd_ms,
                row->rows_ms, gbps, ratio, torch_ms, torch_ratio, same);
    }
    if (outfile_commit(&of, err) != 0) return -1;

    const DenseRow *big = &rows[n - 1];
    double VD = (double)big->set->V * BENCH_D;
    printf("\nFloor parts at V = %" PRId64 ": memset of the gradient %.1f GB/s, weight += s*grad\n"
           "  %.1f GB/s, the rows %.1f GB/s (in cache); each part's best round.\n",
           big->set->V, 4 * VD / big->zero_ms / 1e6, 12 * VD / big->sgd_ms / 1e6,
           20.0 * BENCH_N * BENCH_D / big->rows_ms / 1e6);
    if (missed == 0) {
        printf("Goal: the C step within %.1fx of the floor at every V: met.\n", BENCH_DENSE_GOAL);
        return 0;
    }
    printf("Goal: the C step within %.1fx of the floor: NOT met (marked !). There the step's\n"
           "  cost is its N rows, not V, and most of it is emb_backward, timed alone:\n",
           BENCH_DENSE_GOAL);
    for (int r = 0; r < n; r++) {
        const DenseRow *row = &rows[r];
        double floor_ms = row->zero_ms + row->sgd_ms + row->rows_ms;
        if (row->c_ms / floor_ms <= BENCH_DENSE_GOAL) continue;
        printf("    V = %" PRId64 ": backward %.3f ms of the step's %.3f ms; the floor's rows part,"
               " %.3f ms\n", row->set->V, row->backward_ms, row->c_ms, row->rows_ms);
    }
    printf("  Its scatter-add adds one float at a time (GCC -O2 leaves that loop scalar), where\n"
           "  the floor moves the same bytes in vector blocks.\n");
    return 0;
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

typedef struct Options {
    const char *dir;     // where index files and TSVs go
    const char *script;  // bench_torch.py, or NULL for no PyTorch
    const char *python;
    int64_t vmax;        // largest V measured
} Options;

// Prints the command line help on f.
static void usage(FILE *f) {
    fprintf(f,
            "usage: bench [--dir DIR] [--torch SCRIPT] [--python PATH] [--vmax V]\n"
            "  --dir DIR        where index files and lookup.tsv, onehot.tsv, dense-step.tsv go\n"
            "                   (default build/bench)\n"
            "  --torch SCRIPT   also time PyTorch with SCRIPT (tests/bench/bench_torch.py)\n"
            "  --python PATH    the Python that has torch (default " BENCH_PYTHON ")\n"
            "  --vmax V         largest V, 10000 to 10000000 (default 10000000)\n");
}

// Fills o from the command line; returns 0, 1 for --help, or -1 with err set.
static int parse_options(int argc, char **argv, Options *o, EmbError *err) {
    *o = (Options){"build/bench", NULL, BENCH_PYTHON, 10000000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) return 1;
        if (i + 1 >= argc) return emb_fail(err, "unknown option or missing value: %s", a);
        if (strcmp(a, "--dir") == 0) o->dir = argv[++i];
        else if (strcmp(a, "--torch") == 0) o->script = argv[++i];
        else if (strcmp(a, "--python") == 0) o->python = argv[++i];
        else if (strcmp(a, "--vmax") == 0) {
            if (cli_int64("--vmax", argv[++i], 10000, 10000000, &o->vmax, err) != 0) return -1;
        } else return emb_fail(err, "unknown option: %s", a);
    }
    return 0;
}

// Makes the index sets: uniform and Zipf for each lookup V up to vmax,
// uniform for each one-hot V. sets has room for BENCH_MAX_SETS.
static int make_sets(int64_t vmax, const char *dir, IndexSet *sets, int *nsets, LookupRow *lrows,
                     int *nl, OnehotRow *orows, int *no, EmbError *err) {
    double *cdf = zipf_cdf(vmax, BENCH_ZIPF_EXPONENT, err);
    if (cdf == NULL) return -1;
    const char *dists[2] = {"uniform", "zipf"};
    int rc = 0;
    for (int i = 0; i < COUNT(LOOKUP_VS) && rc == 0; i++) {
        if (LOOKUP_VS[i] > vmax) continue;
        for (int d = 0; d < 2 && rc == 0; d++) {
            rc = make_set(&sets[*nsets], dists[d], LOOKUP_VS[i], cdf, dir, err);
            lrows[(*nl)++] = (LookupRow){.set = &sets[(*nsets)++], .c_ms = -1, .rows_ms = -1,
                                         .torch_ms = -1};
        }
    }
    for (int i = 0; i < COUNT(ONEHOT_VS) && rc == 0; i++) {
        const IndexSet *s = find_set(sets, *nsets, "uniform", ONEHOT_VS[i]);
        if (s == NULL) {
            rc = make_set(&sets[*nsets], "uniform", ONEHOT_VS[i], cdf, dir, err);
            s = &sets[(*nsets)++];
        }
        orows[(*no)++] = (OnehotRow){.set = s, .torch_ms = -1};
    }
    free(cdf);
    return rc;
}

// All the measurements, C's and (if t is not NULL) PyTorch's; *contiguous_ms
// gets the time of one contiguous memcpy of a call's bytes.
static int measure(const Embedding *table, const IndexSet *sets, int nsets, LookupRow *lrows,
                   int nl, OnehotRow *orows, int no, Torch *t, const char *dir,
                   double *contiguous_ms, EmbError *err) {
    // The outputs are 64-byte aligned, like the tensor F.embedding returns
    // (PyTorch's CPU allocator aligns to 64 bytes; malloc only to 16).
    const size_t bytes = (size_t)BENCH_N * BENCH_D * sizeof(float);
    void *mem = NULL, *mem2 = NULL;
    int rc = -1;
    if (posix_memalign(&mem, 64, bytes) != 0 || posix_memalign(&mem2, 64, bytes) != 0) {
        emb_fail(err, "out of memory");
        goto done;
    }
    float *out = mem, *out2 = mem2;  // (N, D) each
    if (write_outputs(table, sets, nsets, dir, out, err) != 0) goto done;
    if (t != NULL && torch_wait_ready(t, err) != 0) goto done;
    if (time_lookups(copy_contiguous, table, sets[0].idx, 1, BENCH_N, out, contiguous_ms, err) != 0)
        goto done;
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        fprintf(stderr, "  lookup round %d of %d\n", round + 1, BENCH_ROUNDS);
        if (lookup_round(table, lrows, nl, t, round, out, err) != 0) goto done;
    }
    if (onehot_round(table, orows, no, t, out, out2, err) != 0) goto done;
    rc = 0;
done:
    free(mem);
    free(mem2);
    return rc;
}

// Prints what was measured, and how, above the tables.
static void print_setup(const Options *o, const Embedding *table, double init_s, const Torch *t,
                        bool torch_wanted, double contiguous_ms) {
    printf("Table: one (%" PRId64 ", %d) float32 table, %.2f GB, filled by emb_init as\n"
           "  torch.manual_seed(%d); nn.Embedding(%" PRId64 ", %d) fills it, in %.1f s; a smaller V\n"
           "  uses its first V rows.\n",
           o->vmax, BENCH_D, (double)emb_weight_bytes(o->vmax, BENCH_D) / 1e9, BENCH_TABLE_SEED,
           o->vmax, BENCH_D, init_s);
    // A row is D*4 = 256 bytes: 4 cache lines if the weight starts on a
    // 64-byte boundary (as PyTorch's tensors do), 5 and split loads if not.
    unsigned offset = (unsigned)((uintptr_t)table->weight % 64);
    if (offset == 0) printf("  The weight starts on a 64-byte boundary, like a PyTorch tensor's.\n");
    else printf("  The weight starts %u bytes past a 64-byte boundary (a PyTorch tensor's starts on one):\n"
                "  every %d-byte row straddles an extra cache line.\n", offset, BENCH_D * (int)sizeof(float));
    printf("Indices: D = %d, N = %d per call; for each V, %d batches of uniform indices\n"
           "  (torch.randint after torch.manual_seed(%d)) and %d of Zipf(%.1f) indices, P(row k)\n"
           "  proportional to (k+1)^-%.1f, row 0 the most frequent; calls take the batches in turn.\n",
           BENCH_D, BENCH_N, BENCH_BATCHES, BENCH_UNIFORM_SEED, BENCH_BATCHES,
           BENCH_ZIPF_EXPONENT, BENCH_ZIPF_EXPONENT);
    printf("Times: the median per call after a warm-up pass (at most %d calls, about %.2f s),\n"
           "  best of %d rounds in which C and PyTorch take turns case by case.\n",
           BENCH_MAX_CALLS, BENCH_BUDGET_S, BENCH_ROUNDS);
    if (t != NULL)
        printf("PyTorch: %s, torch.set_num_threads(%d), F.embedding on its own copy of the table,\n"
               "  filled the same way in %.1f s.\n", t->version, t->threads, t->fill_s);
    else if (torch_wanted)
        printf("PyTorch: not measured: %s cannot import torch (on Debian: apt-get install"
               " python3-torch).\n", o->python);
    else
        printf("PyTorch: not measured (no --torch script given).\n");
    printf("Ceiling: one memcpy of N*D*4 = %d KiB from contiguous rows takes %.4f ms (%.1f GB/s);\n"
           "  the memcpy rows column copies the lookup's own rows, one memcpy each, unchecked.\n",
           BENCH_N * BENCH_D * (int)sizeof(float) / 1024, contiguous_ms, gb_per_s(contiguous_ms));
}

// Does the whole run; returns 0, or -1 with err set.
static int bench(const Options *o, double t_start, EmbError *err) {
    if (cli_make_dir(o->dir, err) != 0) return -1;
    printf("Chapter 1 benchmark: the lookup table, emb_lookup vs memcpy vs F.embedding\n");
    print_machine();
    fflush(stdout);

    // PyTorch first, so that it fills its table while we fill ours.
    Torch torch = {0}, *t = NULL;
    bool torch_wanted = o->script != NULL;
    if (torch_wanted && torch_available(o->python)) {
        if (torch_start(&torch, o->python, o->script, o->dir, o->vmax, err) != 0) return -1;
        t = &torch;
    }

    // The table: nn.Embedding(vmax, 64) after torch.manual_seed(0).
    fprintf(stderr, "bench: filling the tables\n");
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_TABLE_SEED);
    Embedding table = {0};
    double t0 = now_s();
    IndexSet sets[BENCH_MAX_SETS] = {{0}};
    LookupRow lrows[2 * COUNT(LOOKUP_VS)];
    OnehotRow orows[COUNT(ONEHOT_VS)];
    DenseRow drows[COUNT(DENSE_VS)];
    int nsets = 0, nl = 0, no = 0, nd = 0, rc = -1;
    double init_s = 0, contiguous_ms = 0, lookup_s = 0;
    if (emb_init(&table, o->vmax, BENCH_D, &gen, err) != 0) goto done;
    init_s = now_s() - t0;
    if (make_sets(o->vmax, o->dir, sets, &nsets, lrows, &nl, orows, &no, err) != 0) goto done;
    for (int i = 0; i < COUNT(DENSE_VS); i++) {
        const IndexSet *s = find_set(sets, nsets, "uniform", DENSE_VS[i]);
        if (s != NULL) drows[nd++] = (DenseRow){.set = s, .c_ms = -1, .backward_ms = -1,
                                                .zero_ms = -1, .sgd_ms = -1, .rows_ms = -1,
                                                .torch_ms = -1};
    }
    fprintf(stderr, "bench: timing\n");
    if (measure(&table, sets, nsets, lrows, nl, orows, no, t, o->dir, &contiguous_ms, err) != 0)
        goto done;
    lookup_s = now_s() - t_start;
    if (measure_dense(&table, drows, nd, t, o->dir, err) != 0) goto done;
    if (torch_stop(&torch, err) != 0) goto done;

    print_setup(o, &table, init_s, t, torch_wanted, contiguous_ms);
    if (report_lookups(lrows, nl, o->dir, err) != 0) goto done;
    printf("\ntouched: distinct rows over the %d batches, times D*4 bytes: what must sit in cache\n"
           "  for the rows to be found there. GB/s counts the N*D*4 bytes written per call.\n",
           BENCH_BATCHES);
    if (report_onehots(orows, no, o->dir, err) != 0) goto done;
    print_dense_setup(t, torch_wanted);
    if (report_dense(drows, nd, o->dir, err) != 0) goto done;
    printf("\nFiles: %s/lookup.tsv, onehot.tsv, dense-step.tsv.\n"
           "Total time: %.0f s (filling the tables and chapter 1's lookups %.0f s, chapter 2's\n"
           "  dense steps %.0f s).\n",
           o->dir, now_s() - t_start, lookup_s, now_s() - t_start - lookup_s);
    rc = 0;
done:
    if (rc != 0) {
        EmbError ignored;
        torch_stop(&torch, &ignored);
    }
    for (int i = 0; i < nsets; i++) free(sets[i].idx);
    emb_free(&table);
    return rc;
}

int main(int argc, char **argv) {
    double t_start = now_s();
    signal(SIGPIPE, SIG_IGN);  // a dead PyTorch script is an error, not our death
    EmbError err = {{0}};
    Options o;
    int parsed = parse_options(argc, argv, &o, &err);
    if (parsed == 1) {
        usage(stdout);
        return 0;
    }
    if (parsed != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    if (bench(&o, t_start, &err) != 0) {
        fflush(stdout);
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    return 0;
}
