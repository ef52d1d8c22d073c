/*
 * 04-optimizers.h - chapter 4's public interface: the parameter list an
 * optimizer is given, its options, its state per parameter, and
 * torch.optim's SGD, Adam, AdamW, Adagrad and RMSprop, bit for bit as
 * PyTorch 1.13 computes them on the CPU (the default single-tensor path).
 *
 * This is the book's one optimizer design. From chapter 4 on every training
 * loop, every later chapter and the conformance runner step through it;
 * chapters 2 and 3 keep their plain SGD loops as the lesson they are.
 *
 * Invariants:
 *   - a Param is a view built from its module when it is needed, as
 *     optimizer.step() reads p.grad at step time: it owns nothing;
 *   - Param.grad is NULL exactly when PyTorch's p.grad is None (a frozen
 *     table, or no backward pass yet): the step skips the parameter and its
 *     state, step count included, does not change;
 *   - a ParamList holds a model's parameters in a fixed order (the order of
 *     model.parameters()), and a buffer shared by two modules (a tied
 *     weight, chapter 5) once, under its owner's name; no two entries
 *     overlap (param_list_add refuses a second listing);
 *   - an Optimizer is given the list at optim_init (PyTorch's param_groups)
 *     and every later list must hold the same parameters (same data, same
 *     size) in the same order;
 *   - state buffers have their parameter's size and are created when
 *     PyTorch creates them: Adagrad's `sum` in the constructor, every other
 *     one at the parameter's first step with a gradient; NULL until then.
 */
#ifndef OPTIMIZERS_H
#define OPTIMIZERS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "03-padding-and-options.h"

/* --- parameters ----------------------------------------------------------- */

enum { OPTIM_MAX_PARAMS = 16 };

// A sparse gradient (row indices + values): chapter 6 defines it.
struct SparseGrad;

// One parameter, as the optimizer sees it: torch.nn.Parameter.
typedef struct Param {
    const char *name;                      // "emb.weight", "proj.bias"
    float *data;                           // numel values, row-major
    float *grad;                           // laid out like data, or NULL: p.grad is None
    const struct SparseGrad *sparse_grad;  // chapter 6; NULL until then
    int ndim;                              // 1 or 2
    int64_t shape[2];                      // (rows, cols), or (n,) with shape[1] = 1
    int64_t numel;
} Param;

typedef struct ParamList {
    int n;
    Param items[OPTIM_MAX_PARAMS];
} ParamList;

// Appends a parameter of shape (rows, cols) (cols 0: a 1-D parameter of
// rows values). A buffer that overlaps one already in the list is refused
// with a message naming both entries: a shared buffer is listed once.
int param_list_add(ParamList *l, const char *name, float *data, float *grad, int64_t rows,
                   int64_t cols, EmbError *err);

// The parameters of a bare table: "weight" (its grad is NULL when the table
// is frozen or has no gradient yet).
int emb_parameters(Embedding *e, ParamList *out, EmbError *err);

// A Linear's parameters, "<prefix>.weight" (unless the weight is another
// module's: shares_weight) and, unless bias=False, "<prefix>.bias"; the
// names are string literals such as "proj.weight".
int linear_parameters(Linear *l, const char *weight_name, const char *bias_name,
                      ParamList *out, EmbError *err);

// Chapter 2's model: emb.weight, proj.weight, proj.bias.
int ntm_parameters(NextTokenModel *m, ParamList *out, EmbError *err);

// Chapter 3's model: emb.weight (grad NULL when frozen), proj.weight, proj.bias.
int cm_parameters(ContextModel *m, ParamList *out, EmbError *err);

// optimizer.zero_grad() (set_to_none=False, 1.13's default): zeroes every
// gradient that exists; a gradient that is None stays None.
void param_list_zero_grad(const ParamList *l);

/* --- Linear's places for chapters 5 and 6 ---------------------------------- */

// nn.Linear(in, out, bias=bias): with bias false, the weight is drawn exactly
// as linear_init draws it and no bias is drawn (the generator advances by
// in*out draws); l->bias and l->bias_grad are then NULL, and chapter 2's
// forward, backward, zero_grad and SGD step skip them.
int linear_init_bias(Linear *l, int64_t in_features, int64_t out_features, bool bias,
                     TorchGenerator *gen, EmbError *err);

// Drops an existing bias (bias=False after the fact): frees it and its
// gradient and sets them to NULL.
void linear_drop_bias(Linear *l);

// Weight tying (chapter 5): the Linear's weight and its gradient become
// another module's (V, D) buffers; the Linear frees its own and never frees
// these (l->shares_weight). in_features and out_features must match.
int linear_share_weight(Linear *l, float *weight, float *weight_grad, EmbError *err);

/* --- options ---------------------------------------------------------------- */

typedef enum OptimKind {
    OPTIM_SGD,
    OPTIM_ADAM,
    OPTIM_ADAMW,
    OPTIM_ADAGRAD,
    OPTIM_RMSPROP,
    OPTIM_NUM_KINDS
} OptimKind;

// torch.optim's keyword arguments, one struct for all five optimizers, with
// PyTorch's names (betas split in two). Start from optim_defaults(kind):
// zero-initialised is not the default. Keys an optimizer does not take are
// ignored by it.
typedef struct OptimOptions {
    double lr;                         // SGD: required (see optim_lr_is_required)
    double momentum, dampening;        // SGD; momentum also RMSprop
    bool nesterov;                     // SGD
    double beta1, beta2;               // Adam, AdamW: betas
    double eps;                        // Adam, AdamW, Adagrad, RMSprop
    double weight_decay;               // all; AdamW 0.01, the others 0
    bool amsgrad;                      // Adam, AdamW
    double lr_decay;                   // Adagrad
    double initial_accumulator_value;  // Adagrad
    double alpha;                      // RMSprop
    bool centered;                     // RMSprop
    bool maximize;                     // all
} OptimOptions;

// SGD's lr=required. optim_defaults(OPTIM_SGD) leaves lr unset: a NaN with
// bits of its own, which no NaN a caller writes (NAN, float('nan'), 0.0/0.0)
// has. This finds those bits (== cannot: a NaN equals nothing), so an lr the
// caller sets, -inf and NaN included, is never taken for unset.
bool optim_lr_is_required(double lr);

// Writes x into buf as Python's repr(float) does, as PyTorch's messages show
// a value: the shortest digits that read back as x, positional from 1e-4 to
// 1e16 (always with a point: "-1.0", "100.0"), else "1e-08"; "nan", "inf".
const char *optim_py_float(char *buf, size_t size, double x);

// PyTorch 1.13's defaults for kind.
OptimOptions optim_defaults(OptimKind kind);

// "SGD", "Adam", "AdamW", "Adagrad", "RMSprop": the class names.
const char *optim_name(OptimKind kind);

// The kind for a lower-case name ("sgd", "adam", "adamw", "adagrad", "rmsprop").
int optim_kind_from_name(const char *name, OptimKind *kind, EmbError *err);

// The constructor's checks, with PyTorch's messages ("Invalid learning
// rate: -1.0", "Invalid beta parameter at index 0: 1.0", ...).
int optim_check_options(OptimKind kind, const OptimOptions *o, EmbError *err);

/* --- state and the optimizer ------------------------------------------------ */

// optimizer.state[p], with PyTorch's names. A buffer is NULL until created.
typedef struct ParamState {
    bool created;            // len(state) != 0
    int64_t step;            // state['step'] (Adam, AdamW, Adagrad, RMSprop)
    float *momentum_buffer;  // SGD with momentum != 0; RMSprop with momentum > 0
    float *exp_avg;          // Adam, AdamW
    float *exp_avg_sq;       // Adam, AdamW
    float *max_exp_avg_sq;   // Adam, AdamW with amsgrad
    float *sum;              // Adagrad
    float *square_avg;       // RMSprop
    float *grad_avg;         // RMSprop with centered
} ParamState;

typedef struct Optimizer {
    OptimKind kind;
    OptimOptions options;
    int n_params;
    const float *param_data[OPTIM_MAX_PARAMS];  // the parameters given at construction
    int64_t param_numel[OPTIM_MAX_PARAMS];
    ParamState state[OPTIM_MAX_PARAMS];  // state[i] belongs to parameter i
} Optimizer;

// torch.optim.<Kind>(params, **options): checks the options, remembers the
// parameters, and creates the state PyTorch creates in its constructor.
int optim_init(Optimizer *o, OptimKind kind, const OptimOptions *options,
               const ParamList *params, EmbError *err);

// optimizer.step(): updates every parameter whose grad is not NULL, creating
// its state on its first step. params must list the parameters given to
// optim_init, in order. A sparse gradient is refused with PyTorch's message.
int optim_step(Optimizer *o, const ParamList *params, EmbError *err);

// Bytes of every state buffer that exists now (the step counters, scalars,
// are not counted).
int64_t optim_state_bytes(const Optimizer *o);

// Bytes of state kind keeps for a parameter of numel values once it has
// taken a step: 0, 1, 2 or 3 copies of the parameter. -1 on overflow.
int64_t optim_state_bytes_for(OptimKind kind, const OptimOptions *options, int64_t numel);

// Frees every state buffer and zeroes *o.
void optim_free(Optimizer *o);

/* --- the updates: one flat loop over one parameter ------------------------ */
// Each reproduces PyTorch 1.13's _single_tensor_<name> for one parameter of
// n values. param, grad and the state buffers are (n,) and must not overlap.

// SGD. momentum_buffer is NULL when momentum == 0; first is true on the
// parameter's first step (the buffer is then set to the gradient, undamped).
void sgd_update(float *param, const float *grad, float *momentum_buffer, bool first,
                int64_t n, const OptimOptions *o);

// Adam (decoupled false) and AdamW (decoupled true). step is state['step']
// after its increment (1 on the first update); max_exp_avg_sq is NULL
// unless amsgrad.
void adam_update(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                 float *max_exp_avg_sq, int64_t n, int64_t step, const OptimOptions *o,
                 bool decoupled);

// Adagrad. step is state['step'] after its increment.
void adagrad_update(float *param, const float *grad, float *sum, int64_t n, int64_t step,
                    const OptimOptions *o);

// RMSprop. grad_avg is NULL unless centered; momentum_buffer NULL unless
// momentum > 0.
void rmsprop_update(float *param, const float *grad, float *square_avg, float *grad_avg,
                    float *momentum_buffer, int64_t n, const OptimOptions *o);

/* --- a training step, and what it moves ------------------------------------ */

// zero_grad, forward, backward, step: one training step of chapter 2's
// model through an optimizer made from ntm_parameters(m). inputs and
// targets are (B,).
int ntm_train_step(NextTokenModel *m, Optimizer *o, const ParamList *params,
                   const int64_t *inputs, const int64_t *targets, int64_t B, double *loss,
                   EmbError *err);

// Rows of the (V, D) tables before and after that differ in any bit.
int64_t emb_rows_changed(const float *before, const float *after, int64_t V, int64_t D);

// The ghost-update experiment: a 4 x 3 table of 0.5s whose row 1 has a
// gradient of 1 at every step, row 0 at step 1 only, row 3 never. dist is
// (steps + 1, 2): the mean |w - 0.5| / lr of rows 0 and 3 after each step.
int optim_ghost_run(OptimKind kind, const OptimOptions *options, int64_t steps,
                    double *dist, EmbError *err);

// The padding experiment: a 4 x 2 from_pretrained table, padding_idx 3,
// whose padding row is pad; each step looks up [3, 0, 3, 1] with an
// upstream gradient of ones. out_pad is the padding row after the steps.
int optim_padding_run(OptimKind kind, const OptimOptions *options, const float pad[2],
                      int64_t steps, float out_pad[2], EmbError *err);

#endif
