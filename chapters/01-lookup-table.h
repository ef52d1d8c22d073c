/*
 * 01-lookup-table.h - chapter 1's public interface: the embedding table.
 *
 * An Embedding mirrors PyTorch's nn.Embedding: a (V, D) float32 weight and
 * the module's options. Chapter 1 uses only the shape and the weight; the
 * other fields are the places later chapters fill in (the gradient in
 * chapter 2, the options in chapter 3, sparse gradients in chapter 6). They
 * hold PyTorch's defaults until then, so every chapter's code can be given
 * any Embedding.
 *
 * Invariants:
 *   - weight is (V, D), row-major: row ix starts at weight + ix*D;
 *   - V >= 1, D >= 1, and V*D*sizeof(float) fits in int64_t and size_t;
 *   - grad is NULL, or a (V, D) buffer laid out like weight;
 *   - padding_idx is EMB_NO_PADDING or in [0, V) (already normalised).
 */
#ifndef LOOKUP_TABLE_H
#define LOOKUP_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../src/emb_error.h"
#include "../src/torch_rng.h"

#define EMB_NO_PADDING ((int64_t)-1)  // padding_idx=None
#define EMB_NO_MAX_NORM (-1.0)        // max_norm=None

typedef struct Embedding {
    int64_t num_embeddings;   // V, rows
    int64_t embedding_dim;    // D, columns
    float *weight;            // (V, D)
    float *grad;              // (V, D) or NULL: chapter 2 allocates it
    bool requires_grad;       // false for a frozen table (chapter 3)
    bool owns_weight;         // false when weight is a caller's buffer (chapter 3)
    int64_t padding_idx;      // chapter 3; EMB_NO_PADDING by default
    double max_norm;          // chapter 3; EMB_NO_MAX_NORM by default
    double norm_type;         // chapter 3; 2.0 by default
    bool scale_grad_by_freq;  // chapter 3; false by default
    bool sparse;              // chapter 6; false by default
} Embedding;

// Bytes of a (V, D) float32 table, V*D*4; returns -1 if V or D is not
// positive or the product does not fit in int64_t.
int64_t emb_weight_bytes(int64_t V, int64_t D);

// Allocates bytes (> 0) starting on a 64-byte boundary, as PyTorch's CPU
// allocator does, so that rows of 16 floats never straddle a cache line.
// Release with free(). Returns NULL if the memory is not available.
void *emb_alloc(int64_t bytes);

// nn.Embedding(V, D) after torch.manual_seed: allocates the weight and fills
// it with N(0, 1) from gen, exactly as PyTorch does. Options get PyTorch's
// defaults and grad is NULL.
int emb_init(Embedding *e, int64_t V, int64_t D, TorchGenerator *gen, EmbError *err);

// Frees what emb_init allocated (not a caller's weight) and zeroes *e.
void emb_free(Embedding *e);

// Checks that n >= 0 and that every index is in [0, V), as F.embedding does;
// the message names the first bad index.
int emb_check_indices(const Embedding *e, const int64_t *idx, int64_t n, EmbError *err);

// F.embedding(idx, weight): gathers rows. idx is (n,), out is (n, D).
int emb_lookup(const Embedding *e, const int64_t *idx, int64_t n, float *out,
               EmbError *err);

// The same result computed as one_hot(idx) @ weight, in O(n*V*D).
// idx is (n,), out is (n, D).
int emb_onehot_matmul(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                      EmbError *err);

// Prints the weight the way PyTorch prints embedding.weight
// ("Parameter containing:\ntensor([[...]], requires_grad=True)").
void emb_print_weight(FILE *f, const Embedding *e);

#endif
