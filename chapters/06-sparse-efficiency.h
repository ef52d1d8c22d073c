/*
 * 06-sparse-efficiency.h - chapter 6's public interface: nn.Embedding's
 * sparse gradient, torch.optim's sparse SGD and Adagrad and
 * torch.optim.SparseAdam bit for bit as PyTorch 1.13 computes them on the
 * CPU, and what makes the memory-bound part of a step fast.
 *
 * It fills the place chapter 4 left, Param.sparse_grad, and wraps chapter
 * 4's Optimizer: dense parameters still step through optim_step.
 *
 * Invariants:
 *   - a SparseGrad is a COO tensor of dense shape (num_rows, row_dim) with
 *     one sparse dimension: entry k is row indices[k] with the row_dim
 *     values at values + k*row_dim; the same row may appear several times
 *     (uncoalesced) and the tensor means the sum of its entries;
 *   - coalesced is true only if the indices are strictly increasing;
 *   - nnz <= capacity, and indices/values hold capacity entries (or are NULL
 *     when capacity is 0);
 *   - a Param whose sparse_grad is not NULL has grad NULL: p.grad is that
 *     sparse tensor.
 */
#ifndef SPARSE_EFFICIENCY_H
#define SPARSE_EFFICIENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "05-weight-tying.h"

/* --- the sparse gradient ---------------------------------------------------- */

struct SparseGrad {
    int64_t num_rows, row_dim;  // the dense shape, (V, D)
    int64_t nnz;                // entries in use
    int64_t capacity;           // entries allocated
    int64_t *indices;           // (capacity,): the row of each entry
    float *values;              // (capacity, D): the values of each entry
    bool coalesced;             // indices strictly increasing
};
typedef struct SparseGrad SparseGrad;

// An empty (nnz 0) sparse gradient of dense shape (V, D).
int sparse_grad_init(SparseGrad *g, int64_t V, int64_t D, EmbError *err);
void sparse_grad_free(SparseGrad *g);

// zero_grad() on a sparse gradient: no entries (nnz 0), capacity kept.
void sparse_grad_zero(SparseGrad *g);

// Appends one entry (row, D values), growing the buffers as needed.
int sparse_grad_append(SparseGrad *g, int64_t row, const float *values, EmbError *err);

// The parameters of a table with sparse=True: "weight", whose gradient is
// g (sparse_grad g, grad NULL), or None (both NULL) when the table is frozen.
int emb_sparse_parameters(Embedding *e, SparseGrad *g, ParamList *out, EmbError *err);

// The backward pass of nn.Embedding(sparse=True): appends one entry per
// looked-up position, in order, with grad_out's row as its values; padding
// positions are left out. Entries accumulate across calls, as PyTorch's
// .grad does. idx is (n,), grad_out is (n, D). Refuses scale_grad_by_freq
// with PyTorch's message; a frozen table is left alone.
int emb_backward_sparse(const Embedding *e, SparseGrad *g, const int64_t *idx, int64_t n,
                        const float *grad_out, EmbError *err);

// The order in which PyTorch 1.13's coalesce visits the entries: perm
// sorts keys ascending as libstdc++'s std::sort arranges (key, position)
// pairs, which decides the order in which repeated rows are summed.
// keys and perm are (n,).
int sparse_sort_order(const int64_t *keys, int64_t n, int64_t *perm, EmbError *err);

// The same permutation by the plain emulation that defines it (the tests compare).
int sparse_sort_order_plain(const int64_t *keys, int64_t n, int64_t *perm,
                            EmbError *err);

// How many pieces the calling thread's sorts have handed to heapsort (too deep).
int64_t sparse_sort_heapsorts(void);

// grad.coalesce(): out gets each row once, in increasing order, with the
// sum of that row's entries, added in sparse_sort_order's order. out must
// be initialised (sparse_grad_init) and different from g.
int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err);

// dense += g (torch.add(dense, sparse)): each entry added to its row in
// entry order. dense is (V, D).
void sparse_add_to_dense(const SparseGrad *g, float *dense);

// Bytes a sparse gradient of nnz entries of D values holds: nnz*(8 + 4*D);
// -1 on overflow.
int64_t sparse_grad_bytes(int64_t nnz, int64_t D);

/* --- the optimizers ---------------------------------------------------------- */

// What kind of optimizer a SparseOptimizer is: one of chapter 4's (SGD and
// Adagrad take sparse gradients; Adam, AdamW and RMSprop refuse them), or
// torch.optim.SparseAdam.
typedef enum SparseKind { SPARSE_WRAP_DENSE, SPARSE_ADAM } SparseKind;

// Beyond PyTorch (off by default, and then every result is PyTorch's):
// SparseAdam with one step count per row instead of one per parameter, and
// weight decay for SparseAdam, either lazy (only the rows in the gradient
// decay, when they are there) or global (every row, every step).
typedef enum SparseDecay { SPARSE_DECAY_LAZY, SPARSE_DECAY_GLOBAL } SparseDecay;
typedef struct SparseExtras {
    bool per_row_steps;     // SparseAdam: bias correction from the row's own count
    double weight_decay;    // SparseAdam: decoupled (AdamW-style) decay; 0 = none
    SparseDecay decay;      // which rows decay
} SparseExtras;

typedef struct SparseOptimizer {
    SparseKind kind;
    Optimizer dense;                        // chapter 4's: options, state, dense steps
    SparseGrad momentum[OPTIM_MAX_PARAMS];  // SGD's sparse momentum_buffer
    bool sparse_momentum[OPTIM_MAX_PARAMS]; // momentum[i] is in use
    int64_t *row_step[OPTIM_MAX_PARAMS];    // (rows,): per-row step counts (extras)
    int64_t row_step_len[OPTIM_MAX_PARAMS]; // rows of row_step[i]
    SparseExtras extras;
} SparseOptimizer;

// torch.optim.<Kind>(params, **options) for chapter 4's kinds.
int sparse_optim_init(SparseOptimizer *o, OptimKind kind, const OptimOptions *options,
                      const ParamList *params, EmbError *err);

// torch.optim.SparseAdam(params, lr, betas, eps, maximize): the options'
// lr, beta1, beta2, eps and maximize; PyTorch's checks and messages.
int sparse_adam_init(SparseOptimizer *o, const OptimOptions *options,
                     const ParamList *params, EmbError *err);

// The same with the extras above (beyond PyTorch).
int sparse_adam_init_extras(SparseOptimizer *o, const OptimOptions *options,
                            const SparseExtras *extras, const ParamList *params,
                            EmbError *err);

// optimizer.step(): every parameter with a gradient, dense or sparse.
// Refuses, before changing anything, each combination PyTorch refuses,
// with PyTorch's message.
int sparse_optim_step(SparseOptimizer *o, const ParamList *params, EmbError *err);

// Bytes of every state buffer that exists now, sparse ones included.
int64_t sparse_optim_state_bytes(const SparseOptimizer *o);
void sparse_optim_free(SparseOptimizer *o);

/* --- the sparse updates: one parameter, one sparse gradient ----------------- */
// param is (V, D) with V, D the gradient's shape.

// SGD without momentum: param[idx[k]] -= lr * values[k], entry by entry in
// order, one fused multiply-add per value, as torch's add_(sparse, alpha).
void sparse_sgd_update(float *param, const SparseGrad *g, double lr, bool maximize);

// Adagrad on the coalesced gradient c: only c's rows of sum and param change.
// step is state['step'] after its increment.
void sparse_adagrad_update(float *param, const SparseGrad *c, float *sum, int64_t step,
                           const OptimOptions *o);

// One row of SparseAdam: g, m, v and w are (D,); step_size is
// lr * sqrt(1 - beta2^t) / (1 - beta1^t) for the step count t used.
void sparse_adam_row(float *w, const float *g, float *m, float *v, int64_t D,
                     double step_size, const OptimOptions *o);

// SparseAdam on the coalesced gradient c, with the parameter's step count.
void sparse_adam_update(float *param, const SparseGrad *c, float *exp_avg,
                        float *exp_avg_sq, int64_t step, const OptimOptions *o);

/* --- training with a sparse table, and what it moves ------------------------ */

// zero_grad, forward, backward, step for chapter 2's model with
// nn.Embedding(sparse=True): the table's gradient is g (sparse), the
// projection's dense. params is ntm_parameters(m) with item 0's gradient
// replaced by g (see ntm_sparse_parameters). inputs, targets are (B,).
int ntm_sparse_parameters(NextTokenModel *m, SparseGrad *g, ParamList *out,
                          EmbError *err);
int ntm_sparse_train_step(NextTokenModel *m, SparseOptimizer *o, const ParamList *params,
                          SparseGrad *g, const int64_t *inputs, const int64_t *targets,
                          int64_t B, double *loss, EmbError *err);

// The late row: a 2 x D table (D = 4) whose row 0 has a gradient of ones at
// every step and row 1 a gradient of ones first at step t (>= 1). Returns
// row 1's move at that step in learning rates (the mean |change| / lr),
// under SparseAdam with options o, or with per-row step counts.
int sparse_adam_late_row(const OptimOptions *o, bool per_row_steps, int64_t t,
                         double *move, EmbError *err);

// Mean 2-norm of the k rarest and of the k commonest rows of a (V, D) table
// by counts (V,) (rows never seen left out): out[0] rare, out[1] common.
int emb_rare_common_norms(const float *table, int64_t V, int64_t D, const int64_t *counts,
                          int64_t k, double out[2], EmbError *err);

/* --- tied tables are dense ---------------------------------------------------- */

// Chapter 5's tied model (seed 0) with sparse=True, one batch: rows[0],
// rows[1], rows[2] get the rows with a nonzero gradient from the embedding
// path, from the projection path and in the one gradient; *diff the largest
// |(projection path + the embedding path's sparse entries) - the gradient|;
// refusal what SparseAdam says when given the tied parameter.
int lm_tied_sparse_run(int64_t V, int64_t D, const int64_t *inputs,
                       const int64_t *targets, int64_t B, int64_t rows[3], double *diff,
                       EmbError *refusal, EmbError *err);

/* --- memory ------------------------------------------------------------------ */

// Bytes of weight + gradient + optimizer state for a (V, D) table trained
// with kind (SPARSE_ADAM: SparseAdam) and a batch of N lookups: dense
// (a (V, D) gradient) or sparse (N entries). -1 on overflow or for a
// combination PyTorch refuses.
int64_t sparse_training_bytes(SparseKind sk, OptimKind kind, const OptimOptions *o,
                              int64_t V, int64_t D, int64_t N, bool sparse);

/* --- skew ---------------------------------------------------------------------- */

// Zipf(s) over V rows: row r (0-based) has probability proportional to
// 1/(r+1)^s. cdf is (V,), filled by zipf_init.
typedef struct Zipf {
    int64_t V;
    double s;
    double *cdf;
} Zipf;
int zipf_init(Zipf *z, int64_t V, double s, EmbError *err);
void zipf_free(Zipf *z);
// One row drawn with the uniform u in [0, 1).
int64_t zipf_draw(const Zipf *z, double u);
// The probability of row r.
double zipf_prob(const Zipf *z, int64_t r);

// Distinct values among idx (n,), all in [0, V); seen is (V,) scratch,
// all false on entry and on return.
int64_t sparse_distinct(const int64_t *idx, int64_t n, bool *seen);

/* --- one step, dense or sparse, for the crossover and the bench --------------- */

typedef enum StepKind {
    STEP_DENSE_SGD,
    STEP_SPARSE_SGD,
    STEP_DENSE_ADAM,
    STEP_SPARSE_ADAM
} StepKind;

// A (V, D) table (seed 0), its dense and sparse gradients and Adam's moments.
typedef struct StepBench {
    Embedding e;
    SparseGrad g, c;  // the step's entries; coalesced
    float *m, *v;     // (V, D)
    OptimOptions adam;
} StepBench;
int step_bench_init(StepBench *b, int64_t V, int64_t D, EmbError *err);
void step_bench_free(StepBench *b);

// One training step of the table: zero_grad, backward of the lookup idx (n,)
// with upstream gradient G (n, D), and the update: dense (every row) or
// sparse (the rows looked up), SGD (lr 0.01) or Adam (defaults, step 2).
int step_bench_run(StepBench *b, StepKind kind, const int64_t *idx, int64_t n,
                   const float *G, EmbError *err);

/* --- making the memory-bound part fast ---------------------------------------- */

// Allocates bytes on a 2 MiB boundary and asks the kernel for transparent
// huge pages (madvise MADV_HUGEPAGE) where it has them; *huge says whether
// the advice was taken. Release with free().
void *emb_alloc_huge(int64_t bytes, bool *huge);

// How many entries ahead the sparse updates ask for a row (into the
// second-level cache); a good `distance` for emb_lookup_prefetch too.
enum { SPARSE_PREFETCH_AHEAD = 16 };

// emb_lookup with a software prefetch of the row `distance` positions
// ahead. Same result, bit for bit. idx is (n,), out is (n, D).
int emb_lookup_prefetch(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                        int64_t distance, EmbError *err);

// emb_lookup in the order of the sorted indices, so each row is read once
// and the table is walked forward; out is written in the original order.
// perm is scratch of (n,). Same result, bit for bit.
int emb_lookup_sorted(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                      int64_t *perm, EmbError *err);

// Backward and sparse SGD fused, for a gradient that would be empty before
// the backward pass (zero_grad, then one lookup): for each position i in
// order, padding skipped, w[idx[i]] = fmaf(grad_out[i], -lr, w[idx[i]]).
// The bits of emb_backward_sparse followed by sparse_sgd_update, without
// storing the entries. idx is (n,), grad_out (n, D).
int emb_sparse_sgd_fused(Embedding *e, const int64_t *idx, int64_t n,
                         const float *grad_out, double lr, EmbError *err);

// Backward, coalescing and SparseAdam's update fused, for a gradient that
// would be empty before the backward pass: the positions are visited in
// sparse_sort_order's order, each row's upstream rows summed in that order
// and the row updated at once with step count `step`. The bits of
// emb_backward_sparse, sparse_coalesce and sparse_adam_update, without
// storing the entries or their sums. perm is scratch of (n,).
int emb_sparse_adam_fused(Embedding *e, const int64_t *idx, int64_t n,
                          const float *grad_out, float *exp_avg, float *exp_avg_sq,
                          int64_t step, const OptimOptions *o, int64_t *perm,
                          EmbError *err);

// The sparse SGD step (dense weight, sparse gradient) with threads: each
// of `threads` threads owns a contiguous range of rows and applies, in
// entry order, the entries that fall in it, so no two threads write the
// same row and each row sees its entries in the same order as with one
// thread. Same result as sparse_sgd_update, bit for bit.
int sparse_sgd_update_parallel(float *param, const SparseGrad *g, double lr, int threads,
                               EmbError *err);

// A pool of threads - 1 worker threads that live across steps (the
// caller is the last one), for sparse_sgd_update_pool. NULL on failure.
typedef struct SparsePool SparsePool;
SparsePool *sparse_pool_new(int threads, EmbError *err);
void sparse_pool_free(SparsePool *p);

// sparse_sgd_update_parallel on the pool's threads: the same shares of
// rows, the same bits, without starting threads.
void sparse_sgd_update_pool(SparsePool *p, float *param, const SparseGrad *g, double lr);

// The dense scatter-add (emb_backward's grad[idx[i]] += grad_out[i]) with
// the same ownership of rows by threads. grad is (V, D), idx is (n,),
// grad_out (n, D). Same result as emb_backward, bit for bit.
int emb_scatter_add_parallel(float *grad, int64_t V, int64_t D, const int64_t *idx,
                             int64_t n, const float *grad_out, int threads,
                             EmbError *err);

#endif
