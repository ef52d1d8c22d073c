/*
 * 03-padding-and-options.h - chapter 3's public interface: the options of
 * nn.Embedding (padding_idx, max_norm, norm_type, scale_grad_by_freq),
 * from_pretrained with freeze, and a context model that reads padded
 * batches of variable-length sequences.
 *
 * Invariants (in addition to chapters 1 and 2):
 *   - e->padding_idx is EMB_NO_PADDING or in [0, V): negative values given
 *     by the caller are normalised (-1 is V-1) before they are stored;
 *   - e->max_norm is EMB_NO_MAX_NORM or >= 0, e->norm_type is >= 0 or inf;
 *   - a table with requires_grad false (frozen) is never changed by a
 *     backward pass or an optimizer step (max_norm still renormalises it,
 *     as in PyTorch);
 *   - a table from emb_from_pretrained shares the caller's buffer
 *     (owns_weight false): emb_free leaves that buffer alone.
 */
#ifndef PADDING_AND_OPTIONS_H
#define PADDING_AND_OPTIONS_H

#include "02-gradient-flow.h"

// nn.Embedding's keyword arguments. Zero-initialised is *not* the default:
// start from emb_default_options().
typedef struct EmbeddingOptions {
    bool has_padding_idx;     // padding_idx is not None
    int64_t padding_idx;      // in [-V, V) when has_padding_idx
    bool has_max_norm;        // max_norm is not None
    double max_norm;          // >= 0 when has_max_norm
    double norm_type;         // p of the p-norm, >= 0 or INFINITY; default 2
    bool scale_grad_by_freq;  // default false
} EmbeddingOptions;

// PyTorch's defaults: no padding_idx, no max_norm, norm_type 2, no scaling.
EmbeddingOptions emb_default_options(void);

// Checks the options for a table of V rows and stores them in e,
// normalising a negative padding_idx to V + padding_idx.
int emb_set_options(Embedding *e, const EmbeddingOptions *opt, EmbError *err);

// nn.Embedding(V, D, **options) after the generator: chapter 1's table,
// then the padding row (if any) zeroed. The draws are those of chapter 1.
int emb_init_with_options(Embedding *e, int64_t V, int64_t D, const EmbeddingOptions *opt,
                          TorchGenerator *gen, EmbError *err);

// nn.Embedding.from_pretrained(weight, freeze, **options): the table uses
// the caller's (V, D) buffer as its weight, without copying it, without
// drawing random numbers and without zeroing the padding row.
int emb_from_pretrained(Embedding *e, float *weight, int64_t V, int64_t D, bool freeze,
                        const EmbeddingOptions *opt, EmbError *err);

// The p-norm of a row of D floats, accumulated in float32 as PyTorch does
// (p = 0 counts the nonzero values, p = inf takes the largest magnitude).
double emb_row_norm(const float *row, int64_t D, double p);

// torch.embedding_renorm_: every distinct row among idx whose norm exceeds
// e->max_norm is scaled in place by max_norm / (norm + 1e-7).
// Returns the number of rows it rescaled, or -1 on a bad index.
int64_t emb_renorm_(Embedding *e, const int64_t *idx, int64_t n, EmbError *err);

// The module's forward pass, F.embedding with the table's options:
// renormalise (if max_norm is set), then look up. idx is (n,), out (n, D).
int emb_forward(Embedding *e, const int64_t *idx, int64_t n, float *out, EmbError *err);

// The module's backward pass: chapter 2's scatter-add, except that the
// padding row gets nothing and, with scale_grad_by_freq, each row's sum is
// divided by its count in idx. A frozen table is left alone.
// idx is (n,), grad_out is (n, D).
int emb_backward_opts(Embedding *e, const int64_t *idx, int64_t n, const float *grad_out,
                      EmbError *err);

/* --- a model that reads padded batches ----------------------------------- */

// Predicts the next token from the last T tokens (fewer at the start of a
// sentence, the rest of the window filled with padding_idx), by the mean of
// their rows followed by chapter 2's projection.
typedef struct ContextModel {
    Embedding emb;      // (V, D), with its options
    Linear proj;        // D -> n_classes
    int64_t max_batch;  // B
    int64_t context;    // T
    float *rows;        // (B*T, D): looked-up rows
    float *x;           // (B, D): pooled rows
    float *logits;      // (B, n_classes)
    float *dlogits;     // (B, n_classes)
    float *dx;          // (B, D)
    float *drows;       // (B*T, D)
} ContextModel;

// Wraps an initialised table (taken over by the model) with a projection
// to n_classes drawn from gen, and scratch space for B windows of T tokens.
int cm_init(ContextModel *m, Embedding *table, int64_t n_classes, int64_t max_batch,
             int64_t context, TorchGenerator *gen, EmbError *err);

// Frees the model's table (which it took over), projection and scratch space.
void cm_free(ContextModel *m);

// Forward: windows is (B, T) token ids, padded with the table's padding_idx;
// lengths is (B,), the real tokens of each window (1..T); the pooled row of
// window b is the sum of its T rows divided by lengths[b].
int cm_forward(ContextModel *m, const int64_t *windows, const int64_t *lengths,
                const int64_t *targets, int64_t B, double *loss, EmbError *err);

// Backward of the last forward; adds every parameter's gradient.
int cm_backward(ContextModel *m, const int64_t *windows, const int64_t *lengths,
                int64_t B, EmbError *err);

// Zeroes the gradients of the table and of the projection.
void cm_zero_grad(ContextModel *m);

// One SGD step on the projection and, unless it is frozen, the table.
void cm_sgd_step(ContextModel *m, float lr);

/* --- padded windows, and two measurements --------------------------------- */

// Every position p of a token stream with a next token, as a window of the
// last T tokens up to p that stays inside p's sentence (a sentence starts
// after the token `end`), left-padded with `pad` to T tokens.
typedef struct Windows {
    int64_t n, T;       // n windows of T tokens
    int64_t *tokens;    // (n, T), left-padded
    int64_t *lengths;   // (n,) real tokens of each window, 1..T
    int64_t *targets;   // (n,) the token after each window
} Windows;

// Builds the windows of tokens (n_tokens >= 2); end may be -1 (no sentences).
int windows_make(const int64_t *tokens, int64_t n_tokens, int64_t end, int64_t T,
                 int64_t pad, Windows *w, EmbError *err);

// Copies B windows drawn uniformly from gen: windows is (B, T), lengths and
// targets are (B,).
void windows_sample(const Windows *w, TorchGenerator *gen, int64_t B, int64_t *windows,
                    int64_t *lengths, int64_t *targets);

// Frees the windows and zeroes the struct.
void windows_free(Windows *w);

// How many distinct rows among idx emb_renorm_ would rescale now (0 without
// max_norm), without changing any; -1 on a bad index.
int64_t emb_count_renorm(const Embedding *e, const int64_t *idx, int64_t n,
                         EmbError *err);

// The mean and the largest 2-norm of the table's rows, row `skip` left out
// (-1: none).
void emb_norm_stats(const Embedding *e, int64_t skip, double *mean, double *max);

/* --- the training loop ---------------------------------------------------- */

// What cm_train records.
typedef struct CmTrainLog {
    double *loss;            // (steps,) the batch loss of each step
    double *mean_norm;       // (steps + 1,) mean 2-norm of the rows but pad, before
    double *max_norm;        // (steps + 1,) ... and the largest; step s after s steps
    struct Snapshots *snaps; // the table at evenly spaced steps, or NULL
    int64_t renormed_first;  // rows the first forward pass rescaled (max_norm)
    bool pad_unchanged;      // row pad ended bit for bit as it started
    bool table_unchanged;    // ... and the whole table
    double final_loss;       // the mean loss over every window after training
} CmTrainLog;

// The mean loss over every window, in batches of the model's max_batch.
int cm_eval_loss(ContextModel *m, const Windows *w, double *out, EmbError *err);

// Trains m for cfg->steps SGD steps of cfg->batch windows drawn from gen
// (cfg->zero_grad is ignored: the gradients are always zeroed) and fills
// log, ending with the final loss; pad is the filler row. A loss that is
// not finite stops the run.
int cm_train(ContextModel *m, const Windows *w, TorchGenerator *gen,
             const NtmTrainConfig *cfg, int64_t pad, CmTrainLog *log, EmbError *err);

// A log for a run of steps steps: zeroed arrays, and snaps (may be NULL).
int cm_log_init(CmTrainLog *log, int64_t steps, struct Snapshots *snaps, EmbError *err);

// Frees a log's arrays (not its snapshots) and zeroes the struct.
void cm_log_free(CmTrainLog *log);

/* --- where a table comes from --------------------------------------------- */

typedef enum TableSource {
    TABLE_FRESH,        // nn.Embedding(V, D, **options), drawn from gen
    TABLE_RANDOM_COPY,  // the same draw, copied into *own, then from_pretrained
    TABLE_PRETRAINED,   // rows (V, D) copied into *own, then from_pretrained
} TableSource;

// Builds a (V, D) table with the options; from_pretrained tables use a new
// buffer *own (NULL for TABLE_FRESH) as their weight: free it after the table.
int emb_make_table(Embedding *e, TableSource source, int64_t V, int64_t D,
                   const float *rows, bool freeze, const EmbeddingOptions *opt,
                   TorchGenerator *gen, float **own, EmbError *err);

#endif
