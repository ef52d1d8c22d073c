/*
 * harness.c - the clock, PyTorch's process, index sets, values and
 * progress that every chapter's benchmark shares (see harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/cli.h"
#include "../../src/torch_rng.h"

#define BENCH_UNIFORM_SEED 1     // seeds of the index generators
#define BENCH_ZIPF_SEED 2
#define BENCH_ZIPF_EXPONENT 1.1  // P(row k) proportional to (k+1)^-1.1

// ---------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_keep_best(double *best, double ms) {
    if (*best < 0 || ms < *best) *best = ms;
}

void bench_spread_add(BenchSpread *s, double x) {
    if (s->min < 0 || x < s->min) s->min = x;
    if (s->max < 0 || x > s->max) s->max = x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_time_calls(BenchCallFn fn, void *ctx, int64_t nbatches, double *ms, EmbError *err) {
    return bench_time_calls_min(fn, ctx, nbatches, BENCH_MIN_CALLS, ms, err);
}

int bench_time_calls_min(BenchCallFn fn, void *ctx, int64_t nbatches, int min_calls, double *ms,
                         EmbError *err) {
    return bench_time_calls_budget(fn, ctx, nbatches, min_calls, BENCH_BUDGET_S, ms, err);
}

int bench_time_calls_budget(BenchCallFn fn, void *ctx, int64_t nbatches, int min_calls,
                            double budget_s, double *ms, EmbError *err) {
    double start = bench_now();
    for (int64_t b = 0; b < nbatches; b++) {
        if (fn(ctx, b, err) != 0) return -1;
        if (bench_now() - start > budget_s / 4) break;
    }
    double times[BENCH_MAX_CALLS];
    int calls = 0;
    start = bench_now();
    while (calls < BENCH_MAX_CALLS && (calls < min_calls || bench_now() - start < budget_s)) {
        double t0 = bench_now();
        if (fn(ctx, calls % nbatches, err) != 0) return -1;
        times[calls++] = bench_now() - t0;
    }
    qsort(times, (size_t)calls, sizeof times[0], cmp_double);
    double median = calls % 2 ? times[calls / 2] : 0.5 * (times[calls / 2 - 1] + times[calls / 2]);
    *ms = 1e3 * median;
    return 0;
}

// ---------------------------------------------------------------------------
// Files and progress
// ---------------------------------------------------------------------------

int bench_write_bytes(const char *dir, const char *name, const void *data, size_t n,
                      EmbError *err) {
    OutFile of;
    if (outfile_open(&of, dir, name, err) != 0) return -1;
    if (fwrite(data, 1, n, of.f) != n) {
        outfile_abort(&of);
        return emb_fail(err, "%s/%s: write failed: %s", dir, name, strerror(errno));
    }
    return outfile_commit(&of, err);
}

static double progress_start = -1;  // when the first progress line was printed

void bench_progress(const char *fmt, ...) {
    if (progress_start < 0) progress_start = bench_now();
    fprintf(stderr, "[%4.0f s] ", bench_now() - progress_start);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

// ---------------------------------------------------------------------------
// Index sets
// ---------------------------------------------------------------------------

static double *zipf_cdf_table;  // (zipf_cdf_rows,) cdf[k] = sum_{j<=k} (j+1)^-s
static int64_t zipf_cdf_rows;

// Zipf's cumulative weights for every V up to vmax (made once), so that
// cdf[V-1] normalises Zipf(s) over [0, V).
static const double *zipf_cdf(int64_t vmax, EmbError *err) {
    if (zipf_cdf_rows >= vmax) return zipf_cdf_table;
    double *cdf = realloc(zipf_cdf_table, (size_t)vmax * sizeof *cdf);
    if (cdf == NULL) {
        emb_fail(err, "out of memory for a Zipf table of %" PRId64 " rows", vmax);
        return NULL;
    }
    double sum = zipf_cdf_rows > 0 ? cdf[zipf_cdf_rows - 1] : 0.0;
    for (int64_t k = zipf_cdf_rows; k < vmax; k++) {
        sum += pow((double)(k + 1), -BENCH_ZIPF_EXPONENT);
        cdf[k] = sum;
    }
    zipf_cdf_table = cdf;
    zipf_cdf_rows = vmax;
    return cdf;
}

// Uniform indices: rng_random() % V, which is what torch.randint(0, V, (n,))
// draws after torch.manual_seed(seed), for V < 2^32. idx is (n,).
static void uniform_fill(TorchGenerator *gen, int64_t V, int64_t *idx, int64_t n) {
    for (int64_t i = 0; i < n; i++) idx[i] = (int64_t)(rng_random(gen) % (uint32_t)V);
}

// Zipf(s) indices over [0, V) by inverting the CDF: index k with probability
// (k+1)^-s / cdf[V-1], so row 0 is the most frequent (a vocabulary sorted by
// frequency, as word2vec sorts it). idx is (n,).
static void zipf_fill(TorchGenerator *gen, const double *cdf, int64_t V, int64_t *idx,
                      int64_t n) {
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

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
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

// Makes the index set (dist, V) in s and writes it to dir/idx-<dist>-<V>.i64
// (int64, native byte order).
static int make_set(IndexSet *s, const char *dist, int64_t V, const char *dir, EmbError *err) {
    const int64_t total = (int64_t)BENCH_BATCHES * BENCH_N;
    s->dist = strcmp(dist, "uniform") == 0 ? "uniform" : "zipf";
    s->V = V;
    s->idx = malloc((size_t)total * sizeof *s->idx);
    if (s->idx == NULL) return emb_fail(err, "out of memory for %" PRId64 " indices", total);
    TorchGenerator gen;
    if (strcmp(s->dist, "uniform") == 0) {
        rng_manual_seed(&gen, BENCH_UNIFORM_SEED);
        uniform_fill(&gen, V, s->idx, total);
    } else {
        const double *cdf = zipf_cdf(V, err);
        if (cdf == NULL) return -1;
        rng_manual_seed(&gen, BENCH_ZIPF_SEED);
        zipf_fill(&gen, cdf, V, s->idx, total);
    }
    int64_t distinct = count_distinct(s->idx, total, err);
    if (distinct < 0) return -1;
    s->touched_mib = (double)distinct * BENCH_D * sizeof(float) / (1024.0 * 1024.0);
    char name[64];
    snprintf(name, sizeof name, "idx-%s-%" PRId64 ".i64", s->dist, V);
    return bench_write_bytes(dir, name, s->idx, (size_t)total * sizeof *s->idx, err);
}

const IndexSet *bench_index_set(Bench *b, const char *dist, int64_t V, EmbError *err) {
    for (int i = 0; i < b->nsets; i++)
        if (b->sets[i].V == V && strcmp(b->sets[i].dist, dist) == 0) return &b->sets[i];
    if (b->nsets == BENCH_MAX_SETS) {
        emb_fail(err, "more than %d index sets", BENCH_MAX_SETS);
        return NULL;
    }
    IndexSet *s = &b->sets[b->nsets++];
    if (make_set(s, dist, V, b->dir, err) != 0) return NULL;
    return s;
}

void bench_free_sets(Bench *b) {
    for (int i = 0; i < b->nsets; i++) free(b->sets[i].idx);
    b->nsets = 0;
    free(zipf_cdf_table);
    zipf_cdf_table = NULL;
    zipf_cdf_rows = 0;
}

int bench_grad_out(const Bench *b, float *grad_out, EmbError *err) {
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_GRAD_SEED);
    rng_normal_(&gen, grad_out, (int64_t)BENCH_N * BENCH_D, 0.0f, 1.0f);  // torch.randn(N, D)
    return bench_write_bytes(b->dir, "grad-out.f32", grad_out,
                             (size_t)BENCH_N * BENCH_D * sizeof(float), err);
}

Embedding bench_prefix(const Bench *b, int64_t V) {
    Embedding p = b->table;
    p.num_embeddings = V;
    p.owns_weight = false;
    return p;
}

int64_t bench_bits_sum(const float *x, int64_t n) {
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        sum += bits;
    }
    return sum;
}

// ---------------------------------------------------------------------------
// Values for the prose
// ---------------------------------------------------------------------------

const char *bench_v_name(int64_t V, char *buf, size_t size) {
    int e = 0;
    int64_t v = V;
    while (v >= 10 && v % 10 == 0) {
        v /= 10;
        e++;
    }
    if (v == 1 && e > 0) snprintf(buf, size, "1e%d", e);
    else snprintf(buf, size, "%" PRId64, V);
    return buf;
}

void bench_value(Bench *b, const char *key, const char *fmt, ...) {
    BenchValue *v = NULL;
    for (int i = 0; i < b->nvalues && v == NULL; i++)
        if (strcmp(b->values[i].key, key) == 0) v = &b->values[i];
    if (v == NULL) {
        if (b->nvalues == BENCH_MAX_VALUES) {
            fprintf(stderr, "bench: more than %d values; %s dropped\n", BENCH_MAX_VALUES, key);
            return;
        }
        v = &b->values[b->nvalues++];
        snprintf(v->key, sizeof v->key, "%s", key);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->value, sizeof v->value, fmt, ap);
    va_end(ap);
}

const char *bench_value_get(const Bench *b, const char *key) {
    for (int i = 0; i < b->nvalues; i++)
        if (strcmp(b->values[i].key, key) == 0) return b->values[i].value;
    return NULL;
}

void bench_keep_table(Bench *b, const char *name) {
    for (int i = 0; i < b->nkept; i++)
        if (strcmp(b->kept[i], name) == 0) return;
    if (b->nkept == BENCH_MAX_KEPT) {
        fprintf(stderr, "bench: more than %d kept tables; %s dropped\n", BENCH_MAX_KEPT, name);
        return;
    }
    snprintf(b->kept[b->nkept++], sizeof b->kept[0], "%s", name);
}

// ---------------------------------------------------------------------------
// PyTorch's process
// ---------------------------------------------------------------------------

// Reads one line from the script into line; fails if it has ended.
static int torch_read(BenchTorch *t, char *line, int size, EmbError *err) {
    if (fgets(line, size, t->from) == NULL)
        return emb_fail(err, "the PyTorch script ended early (see its message above)");
    return 0;
}

int bench_torch_ask(BenchTorch *t, char *answer, int size, EmbError *err, const char *fmt, ...) {
    char request[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(request, sizeof request, fmt, ap);
    va_end(ap);
    fprintf(t->to, "%s\n", request);
    if (fflush(t->to) != 0) return emb_fail(err, "the PyTorch script stopped reading");
    if (torch_read(t, answer, size, err) != 0) return -1;
    size_t verb = strcspn(request, " ");
    if (strncmp(answer, request, verb) != 0 || answer[verb] != ' ')
        return emb_fail(err, "unexpected answer from the PyTorch script to '%s': %s", request,
                        answer);
    return 0;
}

int bench_torch_wait_hello(BenchTorch *t, EmbError *err) {
    char line[256];
    if (torch_read(t, line, sizeof line, err) != 0) return -1;
    if (sscanf(line, "torch\t%63s\t%d", t->version, &t->threads) != 2)
        return emb_fail(err, "unexpected first line from the PyTorch script: %s", line);
    return 0;
}

bool bench_torch_available(const char *python) {
    if (strchr(python, '\'') != NULL) return false;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", python);
    return system(cmd) == 0;
}

int bench_torch_start(BenchTorch *t, const char *python, const char *script, const char *dir,
                      int64_t vmax, EmbError *err) {
    char s_dim[32], s_n[32], s_batches[32], s_vmax[32], s_seed[32], s_budget[32], s_min[32],
        s_max[32];
    snprintf(s_dim, sizeof s_dim, "%d", BENCH_D);
    snprintf(s_n, sizeof s_n, "%d", BENCH_N);
    snprintf(s_batches, sizeof s_batches, "%d", BENCH_BATCHES);
    snprintf(s_vmax, sizeof s_vmax, "%" PRId64, vmax);
    snprintf(s_seed, sizeof s_seed, "%d", BENCH_TABLE_SEED);
    snprintf(s_budget, sizeof s_budget, "%g", BENCH_BUDGET_S);
    snprintf(s_min, sizeof s_min, "%d", BENCH_MIN_CALLS);
    snprintf(s_max, sizeof s_max, "%d", BENCH_MAX_CALLS);
    char *argv[] = {(char *)python, (char *)script, "--dir", (char *)dir, "--dim", s_dim,
                    "--n", s_n, "--batches", s_batches, "--vmax", s_vmax, "--seed", s_seed,
                    "--budget", s_budget, "--min-calls", s_min, "--max-calls", s_max, NULL};
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
    return bench_torch_wait_hello(t, err);
}

int bench_torch_stop(BenchTorch *t, EmbError *err) {
    if (t->pid <= 0) return 0;
    if (t->to != NULL) fclose(t->to);
    if (t->from != NULL) fclose(t->from);
    t->to = t->from = NULL;
    int status;
    pid_t pid = t->pid;
    t->pid = 0;
    if (waitpid(pid, &status, 0) != pid) return emb_fail(err, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return emb_fail(err, "the PyTorch script failed (status %d)", status);
    return 0;
}

// ---------------------------------------------------------------------------
// Floors: the fastest plain C we have for moving bytes
// ---------------------------------------------------------------------------

// The floor kernels get an AVX2 copy, picked when the program starts, as
// chapter 2's sgd_step gets an FMA copy: a floor must be at least as fast
// as anything the step it is set beside runs.
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX2__) && \
    defined(__has_attribute) && !defined(__clang__)
#if __has_attribute(target_clones)
#define BENCH_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef BENCH_AVX2_CLONES
#define BENCH_AVX2_CLONES
#endif

// Blocks of 16 with restrict pointers, which GCC vectorises; a plain loop
// it might leave scalar.
BENCH_AVX2_CLONES
void bench_stream_axpy(float *restrict x, const float *restrict y, int64_t n, float s) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) x[i + k] += s * y[i + k];
    for (; i < n; i++) x[i] += s * y[i];
}

void bench_gather_rows(float *restrict rows, const float *restrict table, const int64_t *idx,
                       int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (i + BENCH_PREFETCH < n)
            BENCH_PREFETCH_ROW(table + idx[i + BENCH_PREFETCH] * BENCH_D, 0);
        memcpy(rows + i * BENCH_D, table + idx[i] * BENCH_D, BENCH_D * sizeof(float));
    }
}

BENCH_AVX2_CLONES
void bench_scatter_axpy(float *restrict table, const int64_t *idx, const float *restrict rows,
                        int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) {
        if (i + BENCH_PREFETCH < n)
            BENCH_PREFETCH_ROW(table + idx[i + BENCH_PREFETCH] * BENCH_D, 1);
        float *restrict w_ix = table + idx[i] * BENCH_D;  // seek to row idx[i]
        const float *restrict r_i = rows + i * BENCH_D;
        for (int k = 0; k < BENCH_D; k++) w_ix[k] += s * r_i[k];
    }
}
