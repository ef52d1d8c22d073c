/*
 * 02-gradient-flow.h - chapter 2's public interface: the backward pass of
 * the lookup, a next-token model around the table, plain SGD, and a
 * finite-difference gradient check.
 *
 * Invariants:
 *   - Embedding.grad, once allocated, is (V, D) like the weight; each
 *     backward pass adds its own gradient into it (+=) and only zero_grad
 *     clears it;
 *   - a Linear's weight is (out_features, in_features), as nn.Linear's,
 *     and its gradients have the same shapes as the parameters;
 *   - a NextTokenModel's scratch buffers hold max_batch rows; a batch of
 *     B <= max_batch inputs is looked up, projected and scored in them.
 */
#ifndef GRADIENT_FLOW_H
#define GRADIENT_FLOW_H

#include <stdbool.h>

#include "01-lookup-table.h"

/* --- the embedding's backward pass -------------------------------------- */

// Gives the table a zeroed (V, D) gradient if it has none.
int emb_alloc_grad(Embedding *e, EmbError *err);

// optimizer.zero_grad(): sets every gradient value to 0.
void emb_zero_grad(Embedding *e);

// The backward pass of F.embedding: grad[k] += the sum of grad_out[i] over
// the i with idx[i] == k, summed in order from zero first, as autograd adds a
// call's gradient to .grad. idx is (n,), grad_out is (n, D). Allocates grad
// if needed; on an error grad is unchanged.
int emb_backward(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                 EmbError *err);

// Whether all D values of a gradient row are +0.0, as after zero_grad.
bool emb_grad_row_is_zero(const float *row, int64_t D);

// One backward pass's row sums, formed as autograd forms them: from zeros,
// in place in a row that holds zeros, apart (and added at the end) in a
// row that holds an old gradient. begin, then emb_grad_sums_row for each
// position, then end.
typedef struct GradSums {
    int64_t n;            // positions in the pass
    unsigned char *seen;  // (V,): what the pass does with each row
    int64_t *slot;        // (V,): j of a row kept apart (made when needed)
    int64_t *rows;        // (n,): the rows kept apart
    float *sums;          // (n, D): their sums
    int64_t used;         // rows kept apart so far
} GradSums;

// Starts a pass of n positions over e's (allocated) gradient.
int emb_grad_sums_begin(const Embedding *e, int64_t n, GradSums *s, EmbError *err);

// Where row k's sum grows (add the position's values there); NULL when out
// of memory, after which call end with rc = -1.
float *emb_grad_sums_row(Embedding *e, GradSums *s, int64_t k);

// Ends the pass: with rc = 0 adds the sums kept apart to the gradient; else
// clears again the rows summed in place over idx[0 .. done). Frees s and
// returns rc.
int emb_grad_sums_end(Embedding *e, GradSums *s, const int64_t *idx, int64_t done,
                      int rc);

// Number of distinct rows among idx (the rows a step gives a gradient).
int64_t emb_rows_touched(const Embedding *e, const int64_t *idx, int64_t n);

// EMB_FMA_CLONES before a function compiles it twice, with and without the
// FMA instruction (and with it AVX's 8-wide registers), and glibc's loader
// picks one at start; both round once per fmaf, and -ffp-contract=off fuses
// nothing else, so both give the same bits. GCC on x86-64 glibc only: clang
// 14 names the dispatcher NAME.ifunc, which other files cannot link against.
// EMB_NO_CLONES turns them off for the exercise grader: a clone calls another
// function's same-CPU clone directly, past the symbol the grader hands to a
// student's function.
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__FMA__) && \
    !defined(__clang__) && defined(__has_attribute) && !defined(EMB_NO_CLONES)
#if __has_attribute(target_clones)
#define EMB_FMA_CLONES __attribute__((target_clones("fma", "default")))
#endif
#endif
#ifndef EMB_FMA_CLONES
#define EMB_FMA_CLONES
#endif

// torch.optim.SGD(lr) without options: param -= lr * grad, for n values,
// as one fused multiply-add each. param and grad must not overlap.
void sgd_step(float *restrict param, const float *restrict grad, int64_t n, float lr);

/* --- the rest of the model ----------------------------------------------- */

// Two places for later chapters, both off when zeroed: bias and bias_grad
// are NULL for nn.Linear(bias=False), and shares_weight is true when weight
// and weight_grad are another module's buffers (weight tying), which
// linear_free leaves alone. Chapter 4 fills them in; every function below
// skips a NULL bias.
typedef struct Linear {
    int64_t in_features, out_features;
    float *weight;       // (out_features, in_features)
    float *bias;         // (out_features,), or NULL: bias=False
    float *weight_grad;  // (out_features, in_features)
    float *bias_grad;    // (out_features,), or NULL with the bias
    bool shares_weight;  // weight and weight_grad belong to another module
} Linear;

// nn.Linear(in, out) after the same generator: weight and bias uniform in
// [-1/sqrt(in), 1/sqrt(in)], drawn as PyTorch draws them; zeroed gradients.
int linear_init(Linear *l, int64_t in_features, int64_t out_features, TorchGenerator *gen,
                EmbError *err);

// Frees the weight, the bias and their gradients, and zeroes the struct.
void linear_free(Linear *l);

// y = x W^T + b. x is (B, in), y is (B, out).
void linear_forward(const Linear *l, const float *x, int64_t B, float *y);

// Adds dW += dy^T x and db += sum of dy rows; writes dx = dy W.
// x is (B, in), dy is (B, out), dx is (B, in).
void linear_backward(Linear *l, const float *x, const float *dy, int64_t B, float *dx);

// Zeroes the weight's and the bias's gradients.
void linear_zero_grad(Linear *l);

// One SGD step on the weight and the bias.
void linear_sgd_step(Linear *l, float lr);

// Mean softmax cross-entropy of B rows of logits against targets, and its
// gradient dlogits = (softmax - onehot) / B. logits and dlogits are (B, V).
double loss_cross_entropy(const float *logits, const int64_t *targets, int64_t B,
                          int64_t V, float *dlogits);

typedef struct NextTokenModel {
    Embedding emb;      // (V, D): the table that learns
    Linear proj;        // D -> V: the output projection
    int64_t max_batch;  // rows of the scratch buffers
    float *x;           // (max_batch, D): looked-up rows
    float *logits;      // (max_batch, V)
    float *dlogits;     // (max_batch, V)
    float *dx;          // (max_batch, D): gradient of the looked-up rows
} NextTokenModel;

// torch.manual_seed(seed); nn.Embedding(V, D); nn.Linear(D, V), in that order.
int ntm_init(NextTokenModel *m, int64_t V, int64_t D, int64_t max_batch,
             TorchGenerator *gen, EmbError *err);

// Frees the table, the projection and the scratch buffers; zeroes the struct.
void ntm_free(NextTokenModel *m);

// Forward: looks up inputs, projects, scores against targets. Keeps what
// backward needs in the scratch buffers. inputs and targets are (B,).
int ntm_forward(NextTokenModel *m, const int64_t *inputs, const int64_t *targets,
                int64_t B, double *loss, EmbError *err);

// Backward of the last forward: adds the gradients of every parameter.
int ntm_backward(NextTokenModel *m, const int64_t *inputs, int64_t B, EmbError *err);

// A batch of B next-token pairs from a token stream of n_tokens (>= 2):
// B positions drawn uniformly from gen, inputs[i] the token at each and
// targets[i] the token after it. inputs and targets are (B,).
void ntm_sample_batch(TorchGenerator *gen, const int64_t *tokens, int64_t n_tokens,
                      int64_t B, int64_t *inputs, int64_t *targets);

// Zeroes every gradient of the model.
void ntm_zero_grad(NextTokenModel *m);

// One SGD step on every parameter of the model.
void ntm_sgd_step(NextTokenModel *m, float lr);

// The mean loss over every position of a token stream of n_tokens (>= 2)
// that has a next token, in batches of max_batch.
int ntm_eval_loss(NextTokenModel *m, const int64_t *tokens, int64_t n_tokens, double *out,
                  EmbError *err);

/* --- the gradient check -------------------------------------------------- */

// Recomputes the loss from the current parameter values.
typedef double (*GradcheckLossFn)(void *ctx);

typedef struct GradcheckResult {
    int64_t checked;     // entries compared
    double max_abs_err;  // largest |analytic - numeric|
    double max_rel_err;  // ... divided by max(|numeric|, 1e-8)
    int64_t worst;       // the entry (an index into param) with the largest excess
    double worst_analytic, worst_numeric;
    bool passed;         // every entry within atol + rtol * |numeric|
} GradcheckResult;

// Compares analytic[k] with the central difference
// (loss(param[k] + eps) - loss(param[k] - eps)) / (2 eps) for each k in
// entries (n_entries of them). param is restored afterwards.
GradcheckResult gradcheck_run(float *param, const float *analytic, const int64_t *entries,
                              int64_t n_entries, GradcheckLossFn loss, void *ctx,
                              float eps, double atol, double rtol);

// Mean distance between the rows (of a (V, D) weight) of two words of the
// same category over that between words of different categories; rows of
// category < 0 are left out. NaN if either kind of pair is missing.
double emb_category_spread(const float *weight, int64_t V, int64_t D,
                           const int *category);

// A fixed batch of a model, whose loss gradcheck_run recomputes.
typedef struct NtmBatch {
    NextTokenModel *m;
    const int64_t *inputs, *targets;  // (B,)
    int64_t B;
} NtmBatch;

// A GradcheckLossFn for an NtmBatch: the batch's loss with the model's
// current parameters (NaN if the batch is invalid).
double ntm_batch_loss(void *batch);

/* --- the training loop ---------------------------------------------------- */

struct Snapshots;

// A training run: steps SGD steps of batch random positions each;
// zero_grad false lets the gradients pile up; keep_going trains on after
// the loss stops being finite (to watch a divergence).
typedef struct NtmTrainConfig {
    int64_t steps, batch;  // batch <= the model's max_batch
    double lr;
    bool zero_grad, keep_going;
} NtmTrainConfig;

// What a run records at each step; any of them may be NULL.
typedef struct NtmTrainLog {
    double *loss;               // (steps,) the batch loss of each step
    int64_t *touched;           // (steps,) distinct rows each batch looked up
    struct Snapshots *snaps;    // the table at evenly spaced steps
    void (*on_step)(int64_t step, int64_t steps, double loss);  // progress
} NtmTrainLog;

// Fails with a message that names the step, the loss and what to try when
// a training loss is not a finite number (the steps diverged).
int loss_check_finite(int64_t step, double loss, double lr, EmbError *err);

// Trains m on a token stream of n_tokens (>= 2) as cfg says, drawing the
// batches from gen, and fills log. With zero_grad and without keep_going, a
// loss that is not finite stops the run with an error.
int ntm_train(NextTokenModel *m, const int64_t *tokens, int64_t n_tokens,
              TorchGenerator *gen, const NtmTrainConfig *cfg, NtmTrainLog *log,
              EmbError *err);

#endif
