/*
 * 05-weight-tying.h - chapter 5's public interface: a next-token language
 * model whose output projection is, or is not, the embedding table
 * (nn.Linear(D, V, bias=...) with proj.weight = emb.weight), its two
 * gradient paths, its parameter list, and a corpus of real English text
 * from Debian's fortunes package.
 *
 * Invariants (in addition to chapters 1 to 4):
 *   - a tied model's table has its gradient buffer before the tie, and
 *     keeps it: proj.weight == emb.weight and proj.weight_grad ==
 *     emb.grad from lm_tie until lm_free (emb_alloc_grad never replaces
 *     an existing buffer);
 *   - a tied model has one (V, D) parameter, listed once, as "emb.weight";
 *   - after lm_backward, grad_emb_path and grad_proj_path hold the two
 *     parts of the last backward pass, and the table's gradient grew by
 *     exactly their sum (tied) or by the first (untied);
 *   - every token id in a LmCorpus split is in [0, V).
 */
#ifndef WEIGHT_TYING_H
#define WEIGHT_TYING_H

#include <stdbool.h>
#include <stdint.h>

#include "04-optimizers.h"
#include "../src/corpus.h"
#include "../src/snapshots.h"

/* --- the model ------------------------------------------------------------- */

// The model's options: nn.Embedding's (padding_idx, max_norm, ...), and
// the projection's bias and tie.
typedef struct LmOptions {
    EmbeddingOptions emb;  // start from emb_default_options()
    bool tied;             // proj.weight = emb.weight
    bool bias;             // nn.Linear(D, V, bias=bias)
    bool hidden;           // a layer tanh(nn.Linear(D, D)) between lookup and projection
} LmOptions;

typedef struct LangModel {
    Embedding emb;  // (V, D): the input table (and, tied, the output one)
    Linear hid;     // D -> D, or all zero without the hidden layer
    Linear proj;    // D -> V; tied: weight and weight_grad are emb's
    bool tied, hidden;
    int64_t max_batch;      // rows of the scratch buffers
    float *x;               // (max_batch, D): looked-up rows
    float *a;               // (max_batch, D): tanh(hid(x)), with the hidden layer
    float *da;              // (max_batch, D): its gradient
    float *logits;          // (max_batch, V)
    float *dlogits;         // (max_batch, V)
    float *dx;              // (max_batch, D)
    float *grad_emb_path;   // (V, D): the embedding path's part of the last backward
    float *grad_proj_path;  // (V, D): the projection path's part
} LangModel;

// LmOptions with PyTorch's defaults: untied, with a bias, no table options.
LmOptions lm_default_options(void);

// torch.manual_seed(seed); nn.Embedding(V, D, **emb); with hidden,
// nn.Linear(D, D); nn.Linear(D, V, bias=bias); then, if tied,
// proj.weight = emb.weight. The projection's
// weight is drawn even when tied, as in PyTorch, so the bias and every
// later draw are the same tied and untied.
int lm_init(LangModel *m, int64_t V, int64_t D, const LmOptions *o, int64_t max_batch,
            TorchGenerator *gen, EmbError *err);
void lm_free(LangModel *m);

// PyTorch's word-language-model example's init_weights: the table uniform
// in [-range, range], then (untied only) the projection's weight the same
// way, drawn after the table's; the bias, if any, zero. range > 0.
void lm_init_uniform(LangModel *m, double range, TorchGenerator *gen);

// The tie: the projection's weight and gradient become the table's. The
// table must have its gradient already (emb_alloc_grad), and the
// projection must be D -> V; its own weight is freed.
int lm_tie(LangModel *m, EmbError *err);

// Forward: looks up inputs (renormalising with max_norm first), projects,
// and scores against targets. inputs and targets are (B,).
int lm_forward(LangModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
               double *loss, EmbError *err);

// Backward of the last forward: each path into its own buffer, then added
// to the parameters' gradients (tied: their sum into the one gradient).
int lm_backward(LangModel *m, const int64_t *inputs, int64_t B, EmbError *err);

// model.parameters(): emb.weight, hid.weight and hid.bias (with the hidden
// layer), proj.weight (untied only), proj.bias (if any). grad is NULL for a
// frozen table.
int lm_parameters(LangModel *m, ParamList *out, EmbError *err);

// optimizer.zero_grad() for the model's parameters.
void lm_zero_grad(LangModel *m);

// zero_grad, forward, backward, step.
int lm_train_step(LangModel *m, Optimizer *o, const ParamList *params,
                  const int64_t *inputs, const int64_t *targets, int64_t B, double *loss,
                  EmbError *err);

// Mean loss of predicting tokens[i+1] from tokens[i] over a whole stream of
// n (>= 2) tokens, in batches of the model's max_batch; no gradient.
int lm_eval_loss(LangModel *m, const int64_t *tokens, int64_t n, double *loss,
                 EmbError *err);

/* --- what tying changes, measured ------------------------------------------ */

// Rows of a (V, D) gradient with any non-zero value.
int64_t grad_rows_nonzero(const float *grad, int64_t V, int64_t D);

// Parameters of the model: V*D (tied) or 2*V*D, plus V for a bias;
// -1 on overflow or a size below 1.
int64_t lm_param_count(int64_t V, int64_t D, bool tied, bool bias);

// The parameters tying saves, V*D; -1 on overflow or a size below 1.
int64_t lm_params_saved(int64_t V, int64_t D);

// Bytes of weights, gradients and Adam's two moments for the model; -1 on
// overflow.
int64_t lm_adam_bytes(int64_t V, int64_t D, bool tied, bool bias);

// Which part of a tied gradient a check is given.
typedef enum LmGradPart { LM_GRAD_SUM, LM_GRAD_EMB_PATH, LM_GRAD_PROJ_PATH } LmGradPart;

// Runs forward and backward on one batch from zeroed gradients and checks
// the part's gradient of every value of the table against finite
// differences of the loss (chapter 2's gradcheck_run, eps 1e-3, atol 1e-4,
// rtol 1e-2). inputs and targets are (B,), B <= max_batch.
int lm_gradcheck(LangModel *m, const int64_t *inputs, const int64_t *targets, int64_t B,
                 LmGradPart part, GradcheckResult *result, EmbError *err);

// The check of each part (sum, embedding path, projection path) on a tied
// 7 x 3 model of seed 0 with a bias, batch [1 2 1 4 0 5] -> [2 1 4 5 3 1].
int lm_check_parts(GradcheckResult result[3], EmbError *err);

// The same example after one forward and backward from zero: each part
// and the gradient, (7, 3) each.
int lm_paths_example(float emb_path[21], float proj_path[21], float grad[21],
                     EmbError *err);

// The bug of listing a tied weight twice, reproduced by building the list
// by hand (param_list_add refuses it): a 3 x 2 table with gradient g of
// ones, one step of kind from weight w0 = 0.5. out_twice and out_once are
// the weights after the step with the doubled list and the right one;
// state_twice and state_once the optimizer's state bytes.
int lm_double_listing_run(OptimKind kind, const OptimOptions *o, float out_twice[6],
                          float out_once[6], int64_t *state_twice, int64_t *state_once,
                          EmbError *err);

/* --- real text: the fortunes package ---------------------------------------- */

#define LM_FORTUNES_DIR "/usr/share/games/fortunes"

// A training and a validation split over one vocabulary (the training
// text's): validation words outside it are <unk>.
typedef struct LmCorpus {
    Corpus train;        // its words, counts and vocabulary
    int64_t n_valid;     // tokens of the validation text
    int64_t *valid;      // (n_valid,) ids in train's vocabulary
    int n_files;         // fortune files read
    int64_t n_fortunes;  // fortunes read (texts between "%" lines)
} LmCorpus;

// Reads every fortune file of dir (regular files whose names do not end in
// .dat or .u8, in name order), splits them at "%" lines, sends every
// valid_every-th fortune (>= 2) to the validation text and the rest to the
// training text, and builds the vocabulary (max_vocab >= 2, rare words to
// <unk>) from the training text. No fortune files: an error that names dir
// and the install command.
int lm_corpus_load(LmCorpus *c, const char *dir, int64_t max_vocab, int64_t valid_every,
                   EmbError *err);
void lm_corpus_free(LmCorpus *c);

/* --- a training run on real text -------------------------------------------- */

typedef struct LmRunConfig {
    int64_t D, steps, batch;  // embedding_dim, optimizer steps, positions per step
    int64_t eval_every;       // evaluate after every eval_every steps (and at 0)
    int64_t eval_tokens;      // tokens of each split the evaluation reads
    bool tied, bias, hidden;
    OptimKind optimizer;
    double lr;
    uint64_t seed;        // torch.manual_seed for the model
    uint64_t batch_seed;  // the generator that draws the batches
    double init_range;    // > 0: lm_init_uniform(range) after lm_init; 0: N(0, 1)
} LmRunConfig;

// What a run records. The path norms are the mean over steps of each
// row's gradient norm along each path, rows in id (frequency) order.
typedef struct LmRunLog {
    int64_t V, steps;
    double *batch_loss;       // (steps,)
    int64_t *rows_with_grad;  // (steps,) rows of the table's gradient not all zero
    int64_t *rows_looked_up;  // (steps,) distinct inputs of the batch
    int n_evals;              // steps / eval_every + 1, the last at the last step
    int64_t *eval_step;       // (n_evals,)
    double *train_loss;       // (n_evals,) on the first eval_tokens training tokens
    double *valid_loss;       // (n_evals,) on the first eval_tokens validation tokens
    double *emb_path_norm;    // (V,)
    double *proj_path_norm;   // (V,)
} LmRunLog;

int lm_run_log_init(LmRunLog *log, int64_t V, int64_t steps, int64_t eval_every,
                    EmbError *err);
void lm_run_log_free(LmRunLog *log);

// Trains a model of cfg on c's training text with chapter 4's optimizer
// (cfg->optimizer at cfg->lr, PyTorch's other defaults): batches of
// cfg->batch positions drawn from a generator seeded with batch_seed, so
// tied and untied runs see the same batches.
int lm_run(const LmCorpus *c, const LmRunConfig *cfg, LmRunLog *log, EmbError *err);

// The loss over tokens (n >= 2) of an untrained model of V x D, seed 0,
// with a bias: PyTorch's N(0, 1) table for range 0, else lm_init_uniform.
int lm_initial_loss(int64_t V, int64_t D, bool tied, double range, const int64_t *tokens,
                    int64_t n, double *loss, EmbError *err);

/* --- the chapter's small demonstrations ------------------------------------- */

// A tied 2-D model of the corpus's vocabulary trained with SGD at lr from
// torch.manual_seed(seed), batches from a generator seeded seed + 1;
// snapshots s (V x 2, over steps) of the table.
int lm_train_snapshots(const Corpus *c, int64_t steps, int64_t batch, double lr,
                       uint64_t seed, Snapshots *s, EmbError *err);

// The reference case model/tied-padding rebuilt from its seed (1770, the
// sum of the bytes of its name): V 7, D 4, padding_idx 0, tied, no bias;
// one step of SGD at lr 0.5 on inputs [0 1 0 2], targets [1 0 2 3]. Out:
// row 0 of each gradient path and of the table after the step.
int lm_padding_demo(float emb_path[4], float proj_path[4], float after[4], EmbError *err);

#endif
