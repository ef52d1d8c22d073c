/*
 * corpus.h - the small text corpora the chapters train on.
 *
 * A Corpus is a sequence of token ids over a vocabulary. Row 0 of every
 * vocabulary is "<unk>" (unknown word); the other words are sorted by
 * frequency, most frequent first, ties in byte order, so ids are stable for
 * a given text.
 *
 * The built-in corpus is generated from a tiny grammar with word categories
 * (animals, foods, places, verbs, ...), so that words used in the same
 * contexts exist and can be seen to end up near each other: every word of
 * a category is followed by the same distribution of next words, and every
 * category by a different one (the grammar and those distributions are
 * written out at the top of corpus.c). Its vocabulary is always the 28
 * grammar words plus <unk> (V = 29), whatever the seed and length. It is
 * fully determined by its seed.
 *
 * A text file is lowercased (ASCII letters only) and split on every byte
 * that is not an ASCII letter, a digit or a byte >= 0x80 (so UTF-8 words
 * stay whole); a word longer than CORPUS_MAX_WORD bytes is cut. Words
 * beyond the max_vocab-1 most frequent become <unk>. A file may hold at
 * most CORPUS_MAX_BYTES (1 GiB); loading it takes about 8 bytes per word.
 *
 * Invariants: 0 <= tokens[i] < vocab_size; words[0] is "<unk>";
 * counts[k] is the number of times id k occurs in tokens;
 * category[k] indexes category_names, or is -1 (no category: <unk>, words
 * from a file).
 */
#ifndef CORPUS_H
#define CORPUS_H

#include <stdint.h>

#include "emb_error.h"

#define CORPUS_UNK 0
#define CORPUS_MAX_WORD 64  // longer words in a file are cut to this many bytes
#define CORPUS_MAX_BYTES (INT64_C(1) << 30)  // a text file (--corpus) is at most 1 GiB

typedef struct Corpus {
    int64_t n_tokens;
    int64_t *tokens;             // (n_tokens,) ids
    int64_t vocab_size;          // V
    char **words;                // (V,) id -> word
    int64_t *counts;             // (V,) occurrences of each id
    int *category;               // (V,) id -> category index, or -1
    int n_categories;
    const char *const *category_names;  // (n_categories,) static strings
} Corpus;

// Generates the built-in corpus: n_sentences sentences (in [1, 10^7]) from
// the grammar, chosen with a PyTorch-compatible generator seeded with seed,
// one after another, each ending with ".".
int corpus_builtin(Corpus *c, uint64_t seed, int64_t n_sentences, EmbError *err);

// Reads a plain-text file; keeps the max_vocab-1 most frequent words
// (max_vocab >= 2) and maps the rest to <unk>, whose count is theirs. An
// unreadable file, a directory, or a file with no words is an error. Words
// from a file have no category (-1), n_categories is 0 and category_names
// NULL.
int corpus_from_file(Corpus *c, const char *path, int64_t max_vocab, EmbError *err);

// The same with another size limit than CORPUS_MAX_BYTES: a text of more
// than max_bytes bytes is refused with an error naming the limit.
int corpus_from_file_limit(Corpus *c, const char *path, int64_t max_vocab, int64_t max_bytes,
                           EmbError *err);

// Frees everything and zeroes *c; safe on a zeroed Corpus (and on NULL).
// On failure corpus_builtin and corpus_from_file leave *c zeroed.
void corpus_free(Corpus *c);

// Entropy of the unigram distribution of the tokens, in nats: the loss of
// the best model that ignores its input.
double corpus_unigram_entropy(const Corpus *c);

#endif
