/*
 * bench_ch06.c - chapter 6's part of `make bench`: sparse training steps and
 * the fast lookup, beside their floors and PyTorch, V = 10^3 .. 10^7.
 *
 * D = 64, N = 4096, one thread unless a column says otherwise, uniform and
 * Zipf(1.1) indices (16 batches of N per (distribution, V), written to the
 * bench folder and read by both sides). For each case:
 *
 *   lookup       chapter 1's emb_lookup on a table without huge pages;
 *   lookup+      emb_lookup_prefetch on a table with transparent huge pages;
 *   lookup-thp   emb_lookup on the table with huge pages (no prefetching);
 *   lookup-sorted  emb_lookup_sorted on it: rows visited in increasing order;
 *   sgd          a sparse SGD step: lookup+, emb_backward_sparse, sparse_sgd_update;
 *   sgd-fused    lookup+, then backward and update in one loop (emb_sparse_sgd_fused);
 *   sgd-2t       sgd with the update split by rows over 2 threads started per step;
 *   sgd-pool2    the same split on a pool of 2 threads started once;
 *   sgd-floor    the memory traffic a sparse SGD step cannot avoid: gather the
 *                N rows and add lr * G into them, with no checks and no list;
 *   adam         a SparseAdam step: lookup+, backward, coalesce, the row update;
 *   adam-fused   lookup+, then emb_sparse_adam_fused (backward, coalescing and
 *                the update in one pass, the same bits);
 *   adam-floor   gather the N rows and update weight, exp_avg and exp_avg_sq
 *                of each entry's row with Adam's arithmetic, without coalescing;
 *   torch-*      PyTorch 1.13 on one thread (tests/bench/ch06/bench_ch06_torch.py):
 *                F.embedding, and zero_grad + backward + step of
 *                nn.Embedding(sparse=True) with SGD or SparseAdam;
 *   dense-*      dense SGD and Adam steps, C (chapter 4's updates) and PyTorch,
 *                uniform indices, V <= 10^6 (a dense 10^7 Adam needs 10 GB a side).
 *
 * The clock: a warm-up pass over the batches, then the median of per-call times
 * within a budget; C and PyTorch take turns case by case for 3 rounds, and each
 * cell keeps its best round, so a burst of other work on the shared machine hits
 * neither side alone. The tables are trained in place by both sides; the values
 * do not matter to the times. Memory: about 7.7 GB on each side at its peak
 * (the 2.56 GB table and SparseAdam's two moments); measured, 12.6 GB in all.
 *
 * Writes ch06-steps.tsv, ch06-dense.tsv and ch06-values.tsv to the bench folder.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../chapters/06-sparse-efficiency.h"

#define D 64
#define N 4096
#define BATCHES 16
#define ROUNDS 3
#define BUDGET_S 0.08
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const int64_t VS[] = {1000, 10000, 100000, 1000000, 10000000};
static const char *DISTS[] = {"uniform", "zipf"};
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
    N_COLS
};
static const char *COLS[N_COLS] = {
    "lookup",     "lookup+",    "torch-lookup",  "sgd",       "sgd-fused",
    "sgd-2t",     "sgd-floor",  "torch-sgd",     "adam",      "adam-floor",
    "torch-adam", "lookup-thp", "lookup-sorted", "sgd-pool2", "adam-fused"};

typedef struct Bench {
    const char *dir;
    int64_t vmax, nv;
    float *plain, *huge, *m, *v, *G, *out;  // tables (vmax, D); G, out (N, D)
    int64_t *idx[2][COUNT(VS)];             // (BATCHES, N) per distribution and V
    int64_t perm[N];                        // scratch of the sorted lookup
    SparsePool *pool;                       // 2 threads for sgd-pool2
    SparseGrad g, c;
    int64_t adam_step;
    FILE *to, *from;  // PyTorch's pipe
    pid_t pid;
    double best[2][COUNT(VS)][N_COLS];
} Bench;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef int (*CaseFn)(Bench *b, int dist, int vi, int batch);

// Median ms per call of fn, call c taking batch c % BATCHES, after a warm-up pass.
static double median_ms(Bench *b, CaseFn fn, int dist, int vi) {
    double times[400], start = now();
    int n = 0;
    for (int k = 0; k < BATCHES && now() - start < BUDGET_S / 4; k++) fn(b, dist, vi, k);
    start = now();
    while (n < 400 && (n < 5 || now() - start < BUDGET_S)) {
        double t0 = now();
        if (fn(b, dist, vi, n % BATCHES) != 0) return NAN;
        times[n++] = 1e3 * (now() - t0);
    }
    qsort(times, (size_t)n, sizeof times[0], cmp_double);
    return times[n / 2];
}

static Embedding view(float *table, int64_t V) {
    return (Embedding){.num_embeddings = V, .embedding_dim = D, .weight = table,
                       .requires_grad = true, .padding_idx = EMB_NO_PADDING,
                       .norm_type = 2.0};
}

static const int64_t *batch_of(const Bench *b, int dist, int vi, int k) {
    return b->idx[dist][vi] + (int64_t)k * N;
}

static int case_lookup(Bench *b, int dist, int vi, int k) {
    Embedding e = view(b->plain, VS[vi]);
    return emb_lookup(&e, batch_of(b, dist, vi, k), N, b->out, NULL);
}

static int case_lookup_thp(Bench *b, int dist, int vi, int k) {
    Embedding e = view(b->huge, VS[vi]);
    return emb_lookup(&e, batch_of(b, dist, vi, k), N, b->out, NULL);
}

static int case_lookup_sorted(Bench *b, int dist, int vi, int k) {
    Embedding e = view(b->huge, VS[vi]);
    return emb_lookup_sorted(&e, batch_of(b, dist, vi, k), N, b->out, b->perm, NULL);
}

static int case_lookup_fast(Bench *b, int dist, int vi, int k) {
    Embedding e = view(b->huge, VS[vi]);
    return emb_lookup_prefetch(&e, batch_of(b, dist, vi, k), N, b->out, 8, NULL);
}

// lookup+, then the sparse gradient of G: the first half of every sparse step.
static int sparse_forward_backward(Bench *b, int dist, int vi, int k) {
    Embedding e = view(b->huge, VS[vi]);
    const int64_t *idx = batch_of(b, dist, vi, k);
    sparse_grad_zero(&b->g);
    b->g.num_rows = VS[vi];
    if (emb_lookup_prefetch(&e, idx, N, b->out, 8, NULL) != 0) return -1;
    return emb_backward_sparse(&e, &b->g, idx, N, b->G, NULL);
}

static int case_sgd(Bench *b, int dist, int vi, int k) {
    if (sparse_forward_backward(b, dist, vi, k) != 0) return -1;
    sparse_sgd_update(b->huge, &b->g, 0.01, false);
    return 0;
}

static int case_sgd_fused(Bench *b, int dist, int vi, int k) {
    Embedding e = view(b->huge, VS[vi]);
    const int64_t *idx = batch_of(b, dist, vi, k);
    if (emb_lookup_prefetch(&e, idx, N, b->out, 8, NULL) != 0) return -1;
    return emb_sparse_sgd_fused(&e, idx, N, b->G, 0.01, NULL);
}

static int case_sgd_2t(Bench *b, int dist, int vi, int k) {
    if (sparse_forward_backward(b, dist, vi, k) != 0) return -1;
    return sparse_sgd_update_parallel(b->huge, &b->g, 0.01, 2, NULL);
}

static int case_sgd_pool(Bench *b, int dist, int vi, int k) {
    if (sparse_forward_backward(b, dist, vi, k) != 0) return -1;
    sparse_sgd_update_pool(b->pool, b->huge, &b->g, 0.01);
    return 0;
}

static int case_sgd_floor(Bench *b, int dist, int vi, int k) {
    const int64_t *idx = batch_of(b, dist, vi, k);
    for (int i = 0; i < N; i++) memcpy(b->out + i * D, b->huge + idx[i] * D, D * 4);
    for (int i = 0; i < N; i++) {
        float *w = b->huge + idx[i] * D;
        const float *g = b->G + i * D;
        for (int j = 0; j < D; j++) w[j] -= 0.01f * g[j];
    }
    return 0;
}

static int case_adam(Bench *b, int dist, int vi, int k) {
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    if (sparse_forward_backward(b, dist, vi, k) != 0) return -1;
    b->c.num_rows = VS[vi];
    if (sparse_coalesce(&b->g, &b->c, NULL) != 0) return -1;
    sparse_adam_update(b->huge, &b->c, b->m, b->v, ++b->adam_step, &o);
    return 0;
}

static int case_adam_fused(Bench *b, int dist, int vi, int k) {
    OptimOptions o = optim_defaults(OPTIM_ADAM);
    Embedding e = view(b->huge, VS[vi]);
    const int64_t *idx = batch_of(b, dist, vi, k);
    if (emb_lookup_prefetch(&e, idx, N, b->out, 8, NULL) != 0) return -1;
    return emb_sparse_adam_fused(&e, idx, N, b->G, b->m, b->v, ++b->adam_step, &o,
                                 b->perm, NULL);
}

static int case_adam_floor(Bench *b, int dist, int vi, int k) {
    const int64_t *idx = batch_of(b, dist, vi, k);
    for (int i = 0; i < N; i++) memcpy(b->out + i * D, b->huge + idx[i] * D, D * 4);
    for (int i = 0; i < N; i++) {
        float *w = b->huge + idx[i] * D, *m = b->m + idx[i] * D, *v = b->v + idx[i] * D;
        const float *g = b->G + i * D;
        for (int j = 0; j < D; j++) {
            m[j] += 0.1f * (g[j] - m[j]);
            v[j] += 0.001f * (g[j] * g[j] - v[j]);
            w[j] -= 0.001f * m[j] / (sqrtf(v[j]) + 1e-8f);
        }
    }
    return 0;
}

/* --- PyTorch's side ----------------------------------------------------------- */

static int torch_start(Bench *b, const char *script) {
    int down[2], up[2];
    if (access("/usr/bin/python3", X_OK) != 0 || pipe(down) != 0 || pipe(up) != 0)
        return -1;
    b->pid = fork();
    if (b->pid < 0) return -1;
    if (b->pid == 0) {
        dup2(down[0], 0), dup2(up[1], 1);
        close(down[1]), close(up[0]);
        char vmax[32], n[16], nb[16];
        snprintf(vmax, sizeof vmax, "%lld", (long long)b->vmax);
        snprintf(n, sizeof n, "%d", N), snprintf(nb, sizeof nb, "%d", BATCHES);
        execl("/usr/bin/python3", "python3", script, "--vmax", vmax, "--dim", "64", "--n",
              n, "--batches", nb, "--min_calls", "5", "--max_calls", "400", "--budget",
              "0.08", "--dir", b->dir, (char *)NULL);
        _exit(127);
    }
    close(down[0]), close(up[1]);
    b->to = fdopen(down[1], "w"), b->from = fdopen(up[0], "r");
    char line[256];
    while (fgets(line, sizeof line, b->from))
        if (strncmp(line, "ready", 5) == 0) return 0;
        else printf("%s", line);  // "torch VERSION THREADS"
    return -1;
}

// PyTorch's median ms for a request ("sgd zipf 1000"), NAN without PyTorch.
static double torch_ms(Bench *b, const char *request) {
    char line[256];
    if (!b->to) return NAN;
    fprintf(b->to, "%s\n", request);
    fflush(b->to);
    if (!fgets(line, sizeof line, b->from)) return NAN;
    return strtod(line, NULL);
}

static void torch_stop(Bench *b) {
    if (!b->to) return;
    fclose(b->to), fclose(b->from);
    waitpid(b->pid, NULL, 0);
}

/* --- the runs ------------------------------------------------------------------ */

static void keep(double *best, double ms) {
    if (!isnan(ms) && (isnan(*best) || ms < *best)) *best = ms;
}

// One round of every sparse case at (dist, V), C and PyTorch taking turns.
static void sparse_round(Bench *b, int dist, int vi, bool with_plain) {
    double *best = b->best[dist][vi];
    char req[64];
    const char *dn = DISTS[dist];
    long long V = (long long)VS[vi];
    if (with_plain) {
        keep(&best[C_LOOKUP], median_ms(b, case_lookup, dist, vi));
        keep(&best[C_LOOKUP_FAST], median_ms(b, case_lookup_fast, dist, vi));
        keep(&best[C_LOOKUP_THP], median_ms(b, case_lookup_thp, dist, vi));
        keep(&best[C_LOOKUP_SORTED], median_ms(b, case_lookup_sorted, dist, vi));
        snprintf(req, sizeof req, "lookup %s %lld", dn, V);
        keep(&best[T_LOOKUP], torch_ms(b, req));
        return;
    }
    keep(&best[C_SGD], median_ms(b, case_sgd, dist, vi));
    keep(&best[C_SGD_FUSED], median_ms(b, case_sgd_fused, dist, vi));
    keep(&best[C_SGD_2T], median_ms(b, case_sgd_2t, dist, vi));
    keep(&best[C_SGD_POOL], median_ms(b, case_sgd_pool, dist, vi));
    keep(&best[F_SGD], median_ms(b, case_sgd_floor, dist, vi));
    snprintf(req, sizeof req, "sgd %s %lld", dn, V);
    keep(&best[T_SGD], torch_ms(b, req));
    keep(&best[C_ADAM], median_ms(b, case_adam, dist, vi));
    keep(&best[C_ADAM_FUSED], median_ms(b, case_adam_fused, dist, vi));
    keep(&best[F_ADAM], median_ms(b, case_adam_floor, dist, vi));
    snprintf(req, sizeof req, "adam %s %lld", dn, V);
    keep(&best[T_ADAM], torch_ms(b, req));
}

// Dense steps, uniform indices, V <= 10^6: C's (chapter 4's updates) and PyTorch's.
static int dense_steps(Bench *b, FILE *tsv, FILE *values) {
    fprintf(tsv, "V\tdense-sgd\ttorch-dense-sgd\tdense-adam\ttorch-dense-adam\n");
    for (int vi = 0; vi < COUNT(VS) && VS[vi] <= 1000000 && VS[vi] <= b->vmax; vi++) {
        StepBench s;
        double best[4] = {NAN, NAN, NAN, NAN};
        if (step_bench_init(&s, VS[vi], D, NULL) != 0) return -1;
        for (int r = 0; r < ROUNDS; r++)
            for (int w = 0; w < 2; w++) {
                StepKind kind = w ? STEP_DENSE_ADAM : STEP_DENSE_SGD;
                double times[50];
                int n = 0;
                for (double start = now();
                     n < 50 && (n < 3 || now() - start < BUDGET_S);) {
                    double t0 = now();
                    emb_lookup(&s.e, batch_of(b, 0, vi, n % BATCHES), N, b->out, NULL);
                    step_bench_run(&s, kind, batch_of(b, 0, vi, n % BATCHES), N, b->G,
                                   NULL);
                    times[n++] = 1e3 * (now() - t0);
                }
                qsort(times, (size_t)n, sizeof times[0], cmp_double);
                keep(&best[2 * w], times[n / 2]);
                char req[64];
                snprintf(req, sizeof req, "%s %lld", w ? "dadam" : "dsgd",
                         (long long)VS[vi]);
                keep(&best[2 * w + 1], torch_ms(b, req));
            }
        step_bench_free(&s);
        fprintf(tsv, "%lld\t%.4f\t%.4f\t%.4f\t%.4f\n", (long long)VS[vi], best[0],
                best[1], best[2], best[3]);
        const char *keys[4] = {"sgd_ms", "torch_sgd_ms", "adam_ms", "torch_adam_ms"};
        for (int k = 0; k < 4; k++)
            fprintf(values, "ch06.dense.v%lld.%s\t%.2f\n", (long long)VS[vi], keys[k],
                    best[k]);
    }
    return 0;
}

/* --- setup and output ---------------------------------------------------------- */

static int write_file(const Bench *b, const char *name, const void *data, size_t bytes) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", b->dir, name);
    FILE *f = fopen(path, "wb");
    size_t put = f ? fwrite(data, 1, bytes, f) : 0;
    if (f) fclose(f);
    return put == bytes ? 0 : -1;
}

// The index batches of every (distribution, V) and G, in memory and on disk.
static int make_inputs(Bench *b) {
    TorchGenerator gen;
    rng_manual_seed(&gen, 6);
    b->G = malloc((size_t)N * D * 4), b->out = malloc((size_t)N * D * 4);
    if (!b->G || !b->out) return -1;
    rng_normal_(&gen, b->G, N * D, 0.0f, 1.0f);
    if (write_file(b, "ch06-grad.f32", b->G, (size_t)N * D * 4) != 0) return -1;
    for (int vi = 0; vi < b->nv; vi++) {
        Zipf z;
        if (zipf_init(&z, VS[vi], 1.1, NULL) != 0) return -1;
        for (int dist = 0; dist < 2; dist++) {
            int64_t *idx = b->idx[dist][vi] = malloc((size_t)BATCHES * N * 8);
            if (!idx) return zipf_free(&z), -1;
            for (int64_t i = 0; i < (int64_t)BATCHES * N; i++) {
                double u = rng_uniform_double(&gen);
                idx[i] = dist ? zipf_draw(&z, u) : (int64_t)(u * (double)VS[vi]);
            }
            char name[64];
            snprintf(name, sizeof name, "ch06-idx-%s-%lld.i64", DISTS[dist],
                     (long long)VS[vi]);
            if (write_file(b, name, idx, (size_t)BATCHES * N * 8) != 0)
                return zipf_free(&z), -1;
        }
        zipf_free(&z);
    }
    return 0;
}

// The goals, checked and written as values ("ch06.KEY<TAB>VALUE").
static void write_values(const Bench *b, FILE *f) {
    for (int dist = 0; dist < 2; dist++)
        for (int vi = 0; vi < b->nv; vi++) {
            const double *x = b->best[dist][vi];
            const char *dn = DISTS[dist];
            long long V = (long long)VS[vi];
            fprintf(f, "ch06.%s.v%lld.sgd_ms\t%.3f\n", dn, V, x[C_SGD]);
            fprintf(f, "ch06.%s.v%lld.torch_sgd_ms\t%.3f\n", dn, V, x[T_SGD]);
            fprintf(f, "ch06.%s.v%lld.sgd_speedup\t%.1f\n", dn, V, x[T_SGD] / x[C_SGD]);
            fprintf(f, "ch06.%s.v%lld.sgd_floor\t%.2f\n", dn, V, x[C_SGD] / x[F_SGD]);
            fprintf(f, "ch06.%s.v%lld.fused_speedup\t%.1f\n", dn, V,
                    x[T_SGD] / x[C_SGD_FUSED]);
            fprintf(f, "ch06.%s.v%lld.fused_floor\t%.2f\n", dn, V,
                    x[C_SGD_FUSED] / x[F_SGD]);
            fprintf(f, "ch06.%s.v%lld.adam_ms\t%.3f\n", dn, V, x[C_ADAM]);
            fprintf(f, "ch06.%s.v%lld.torch_adam_ms\t%.3f\n", dn, V, x[T_ADAM]);
            fprintf(f, "ch06.%s.v%lld.adam_speedup\t%.1f\n", dn, V,
                    x[T_ADAM] / x[C_ADAM]);
            fprintf(f, "ch06.%s.v%lld.adam_floor\t%.2f\n", dn, V, x[C_ADAM] / x[F_ADAM]);
            fprintf(f, "ch06.%s.v%lld.lookup_speedup\t%.2f\n", dn, V,
                    x[T_LOOKUP] / x[C_LOOKUP_FAST]);
            fprintf(f, "ch06.%s.v%lld.huge_speedup\t%.2f\n", dn, V,
                    x[C_LOOKUP] / x[C_LOOKUP_FAST]);
            fprintf(f, "ch06.%s.v%lld.thp_only_speedup\t%.2f\n", dn, V,
                    x[C_LOOKUP] / x[C_LOOKUP_THP]);
            fprintf(f, "ch06.%s.v%lld.prefetch_speedup\t%.2f\n", dn, V,
                    x[C_LOOKUP_THP] / x[C_LOOKUP_FAST]);
            fprintf(f, "ch06.%s.v%lld.sorted_speedup\t%.2f\n", dn, V,
                    x[C_LOOKUP_THP] / x[C_LOOKUP_SORTED]);
            fprintf(f, "ch06.%s.v%lld.adam_fused_speedup\t%.1f\n", dn, V,
                    x[T_ADAM] / x[C_ADAM_FUSED]);
            fprintf(f, "ch06.%s.v%lld.adam_fused_floor\t%.2f\n", dn, V,
                    x[C_ADAM_FUSED] / x[F_ADAM]);
            fprintf(f, "ch06.%s.v%lld.sgd_pool_speedup\t%.2f\n", dn, V,
                    x[C_SGD] / x[C_SGD_POOL]);
            fprintf(f, "ch06.%s.v%lld.sgd_2t_speedup\t%.2f\n", dn, V,
                    x[C_SGD] / x[C_SGD_2T]);
        }
    for (int dist = 0; dist < 2; dist++) {
        const double(*x)[N_COLS] = b->best[dist];
        fprintf(f, "ch06.%s.sgd_flat\t%.2f\n", DISTS[dist],
                x[b->nv - 1][C_SGD] / x[0][C_SGD]);
        fprintf(f, "ch06.%s.fused_flat\t%.2f\n", DISTS[dist],
                x[b->nv - 1][C_SGD_FUSED] / x[0][C_SGD_FUSED]);
        fprintf(f, "ch06.%s.adam_flat\t%.2f\n", DISTS[dist],
                x[b->nv - 1][C_ADAM] / x[0][C_ADAM]);
    }
}

static void print_table(const Bench *b, FILE *tsv) {
    fprintf(tsv, "dist\tV");
    printf("%-8s %9s", "dist", "V");
    for (int c = 0; c < N_COLS; c++)
        fprintf(tsv, "\t%s", COLS[c]), printf(" %12s", COLS[c]);
    fprintf(tsv, "\n"), printf("   (ms)\n");
    for (int dist = 0; dist < 2; dist++)
        for (int vi = 0; vi < b->nv; vi++) {
            fprintf(tsv, "%s\t%lld", DISTS[dist], (long long)VS[vi]);
            printf("%-8s %9lld", DISTS[dist], (long long)VS[vi]);
            for (int c = 0; c < N_COLS; c++) {
                fprintf(tsv, "\t%.4f", b->best[dist][vi][c]);
                printf(" %12.4f", b->best[dist][vi][c]);
            }
            fprintf(tsv, "\n"), printf("\n");
        }
}

static FILE *open_out(const Bench *b, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", b->dir, name);
    return fopen(path, "w");
}

// The tables: one without huge pages (for the plain lookup), one with.
static int make_tables(Bench *b) {
    int64_t bytes = emb_weight_bytes(b->vmax, D);
    bool huge;
    b->huge = emb_alloc_huge(bytes, &huge);
    b->plain = emb_alloc(bytes);
    if (!b->huge || !b->plain) return -1;
#ifdef MADV_NOHUGEPAGE
    madvise(b->plain, (size_t)bytes, MADV_NOHUGEPAGE);
#endif
    for (int64_t k = 0; k < b->vmax * D; k++)
        b->plain[k] = b->huge[k] = (float)((k * 2654435761u) % 2001) / 1000.0f - 1.0f;
    printf("tables: 2 x %.2f GB; transparent huge pages for the second: %s\n",
           bytes / 1e9, huge ? "asked for (madvise)" : "not available");
    return 0;
}

int main(int argc, char **argv) {
    Bench b = {.dir = "build/bench", .vmax = 10000000};
    const char *script = NULL;
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--dir")) b.dir = argv[a + 1];
        else if (!strcmp(argv[a], "--torch")) script = argv[a + 1];
        else if (!strcmp(argv[a], "--vmax")) b.vmax = strtoll(argv[a + 1], NULL, 10);
    }
    if (b.vmax < 1000 || b.vmax > 10000000) {
        fprintf(stderr, "bench_ch06: --vmax %lld is out of range [1000, 10000000]\n",
                (long long)b.vmax);
        return 1;
    }
    while (b.nv < COUNT(VS) && VS[b.nv] <= b.vmax) b.nv++;
    for (double *x = &b.best[0][0][0]; x < &b.best[0][0][0] + 2 * COUNT(VS) * N_COLS; x++)
        *x = NAN;
    if (make_tables(&b) != 0 || make_inputs(&b) != 0 ||
        sparse_grad_init(&b.g, b.vmax, D, NULL) != 0 ||
        sparse_grad_init(&b.c, b.vmax, D, NULL) != 0 ||
        !(b.pool = sparse_pool_new(2, NULL))) {
        fprintf(stderr, "bench_ch06: out of memory for a %lld x %d table\n",
                (long long)b.vmax, D);
        return 1;
    }
    if (script && torch_start(&b, script) != 0) {
        fprintf(stderr, "bench_ch06: PyTorch did not start; C columns only\n");
        b.to = NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int phase = 0; phase < 2; phase++) {  // lookups, then the steps
        if (phase == 1) {
            free(b.plain), b.plain = NULL;
            int64_t bytes = emb_weight_bytes(b.vmax, D);  // SparseAdam's moments, zeroed
            b.m = emb_alloc_huge(bytes, NULL), b.v = emb_alloc_huge(bytes, NULL);
            if (!b.m || !b.v) return fprintf(stderr, "bench_ch06: out of memory\n"), 1;
            memset(b.m, 0, (size_t)bytes), memset(b.v, 0, (size_t)bytes);
        }
        for (int r = 0; r < ROUNDS; r++)
            for (int vi = 0; vi < b.nv; vi++)
                for (int dist = 0; dist < 2; dist++)
                    sparse_round(&b, dist, vi, phase == 0);
    }
    FILE *steps = open_out(&b, "ch06-steps.tsv"), *dense = open_out(&b, "ch06-dense.tsv");
    FILE *values = open_out(&b, "ch06-values.tsv");
    if (!steps || !dense || !values)
        return fprintf(stderr, "bench_ch06: cannot write\n"), 1;
    print_table(&b, steps);
    free(b.m), free(b.v), free(b.huge);
    b.m = b.v = b.huge = NULL;
    int rc = dense_steps(&b, dense, values);
    write_values(&b, values);
    fclose(steps), fclose(dense), fclose(values);
    torch_stop(&b);
    sparse_pool_free(b.pool);
    printf("wrote %s/ch06-steps.tsv, ch06-dense.tsv, ch06-values.tsv\n", b.dir);
    return rc ? 1 : 0;
}
