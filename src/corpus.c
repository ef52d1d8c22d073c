/*
 * corpus.c - the built-in grammar corpus and plain-text corpora.
 *
 * The built-in grammar
 * --------------------
 * 28 words in 8 categories (plus "<unk>", which never occurs, so V = 29):
 *
 *   animal       cat dog fox cow horse bird
 *   food         bread fish rice cheese apples
 *   place        park house farm river garden
 *   eat-verb     eats likes wants
 *   move-verb    runs walks swims
 *   preposition  in near to
 *   determiner   the a
 *   end          .
 *
 * A sentence is
 *
 *   S  -> [PP] DET ANIMAL VP "."           the opening PP with probability 1/4
 *   VP -> EAT-VERB FOOD [PP]               probability 1/2; that PP 1/2
 *       | MOVE-VERB [PP+]                  probability 1/2; that PP 3/4
 *   PP  -> ("in" | "near") DET PLACE
 *   PP+ -> ("in" | "near" | "to") DET PLACE
 *
 * and every word inside a category is chosen uniformly ("a dog likes
 * cheese near the farm .", "in a garden the cat swims to the river .").
 * The corpus is the sentences one after another, each ending with ".",
 * so the word after "." is the first word of the next sentence.
 *
 * What a word predicts. A model that sees only the current word can learn
 * no more than the distribution of the next word, and the grammar is built
 * so that every word of a category has the same one and every category a
 * different one:
 *
 *   animal       -> each of the 6 verbs, 1/6
 *   food         -> "." 1/2, "in" 1/4, "near" 1/4
 *   place        -> "." 5/7, "the" 1/7, "a" 1/7   (after an opening PP)
 *   eat-verb     -> each food, 1/5
 *   move-verb    -> "." 1/4, "in" 1/4, "near" 1/4, "to" 1/4
 *   preposition  -> "the" 1/2, "a" 1/2
 *   determiner   -> an animal 8/15, a place 7/15 (each word uniform within)
 *   end          -> "the" 3/8, "a" 3/8, "in" 1/8, "near" 1/8
 *
 * (The opening PP is there only to tell "." from the prepositions, which
 * would otherwise both predict exactly "the"/"a" and fall together.)
 *
 * Randomness: one rng_uniform_double(u) per decision, in the order the
 * decisions appear in the sentence, left to right; a yes/no decision with
 * probability p is u < p, a choice among n words is word floor(u * n).
 *
 * Vocabulary and ids
 * ------------------
 * Id 0 is "<unk>"; the other ids go to the distinct words sorted by count,
 * most frequent first, ties in byte order (strcmp). The built-in
 * vocabulary always holds all 28 grammar words, even those a short corpus
 * never uses (they get count 0 and come last), so V and the categories do
 * not depend on the seed or the length.
 *
 * Text files
 * ----------
 * A word is a maximal run of word bytes: ASCII letters and digits, and
 * every byte >= 0x80, so UTF-8 text (cafe with an accent, Cyrillic, ...)
 * keeps its words whole. ASCII letters are lowercased; other bytes are
 * kept as they are (so an accented capital stays a capital). Every other
 * byte, NUL included, separates words. A word longer than CORPUS_MAX_WORD
 * bytes is cut to at most that many bytes, at the start of a UTF-8
 * character when the cut would fall inside one; the rest of it is dropped.
 * Words are counted with a hash table (open addressing, FNV-1a), then
 * sorted, so a file of n bytes takes O(n log n) time and O(n) memory.
 */
#include "corpus.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "torch_rng.h"

#define CORPUS_MAX_SENTENCES 10000000  // n_sentences is in [1, this]

// ---------------------------------------------------------------------------
// The grammar's words, category by category
// ---------------------------------------------------------------------------

enum {
    CAT_ANIMAL,
    CAT_FOOD,
    CAT_PLACE,
    CAT_EAT_VERB,
    CAT_MOVE_VERB,
    CAT_PREPOSITION,
    CAT_DETERMINER,
    CAT_END,
    N_CATEGORIES
};

static const char *const corpus_category_names[N_CATEGORIES] = {
    "animal", "food", "place", "eat-verb", "move-verb", "preposition", "determiner", "end",
};

// All grammar words, grouped by category in the order of the enum above.
static const char *const grammar_words[] = {
    "cat", "dog", "fox", "cow", "horse", "bird",  // animal
    "bread", "fish", "rice", "cheese", "apples",  // food
    "park", "house", "farm", "river", "garden",   // place
    "eats", "likes", "wants",                     // eat-verb
    "runs", "walks", "swims",                     // move-verb
    "in", "near", "to",                           // preposition ("to" last: see PP)
    "the", "a",                                   // determiner
    ".",                                          // end
};
#define N_GRAMMAR_WORDS ((int)(sizeof grammar_words / sizeof grammar_words[0]))

// Category k owns grammar words first[k] .. first[k] + size[k] - 1.
static const int category_first[N_CATEGORIES] = {0, 6, 11, 16, 19, 22, 25, 27};
static const int category_size[N_CATEGORIES] = {6, 5, 5, 3, 3, 3, 2, 1};

// ---------------------------------------------------------------------------
// A growable array of token ids
// ---------------------------------------------------------------------------

typedef struct TokenBuf {
    int64_t *ids;  // (cap,)
    int64_t n;
    int64_t cap;
} TokenBuf;

// Makes room for one more id, doubling the capacity; -1 if it cannot.
static int tokenbuf_reserve(TokenBuf *b, EmbError *err) {
    if (b->n < b->cap) return 0;
    int64_t cap = b->cap ? b->cap : 1024, bytes;
    if (b->cap) {
        if (emb_mul_size(b->cap, 2, &cap) != 0 ||
            emb_mul_size(cap, (int64_t)sizeof *b->ids, &bytes) != 0 ||
            (uint64_t)bytes > SIZE_MAX) {
            return emb_fail(err, "corpus too large: cannot hold %lld tokens", (long long)cap);
        }
    }
    int64_t *ids = realloc(b->ids, (size_t)cap * sizeof *ids);
    if (!ids) return emb_fail(err, "cannot allocate %lld tokens", (long long)cap);
    b->ids = ids;
    b->cap = cap;
    return 0;
}

// Appends one id.
static int tokenbuf_push(TokenBuf *b, int64_t id, EmbError *err) {
    if (tokenbuf_reserve(b, err) != 0) return -1;
    b->ids[b->n++] = id;
    return 0;
}

// ---------------------------------------------------------------------------
// Vocabulary: sort the distinct words, give them ids, remap the tokens
// ---------------------------------------------------------------------------

// One distinct word of a text; key is what the tokens hold before remapping.
typedef struct WordCount {
    const char *word;
    int64_t count;
    int64_t key;
} WordCount;

// Most frequent first, ties in byte order.
static int wordcount_cmp(const void *pa, const void *pb) {
    const WordCount *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->word, b->word);
}

// Allocates n elements of size bytes, zeroed, after checking n * size.
static void *alloc_zeroed(int64_t n, size_t size) {
    int64_t bytes;
    if (emb_mul_size(n, (int64_t)size, &bytes) != 0 || (uint64_t)bytes > SIZE_MAX) return NULL;
    return calloc((size_t)(n > 0 ? n : 1), size);
}

// Builds the vocabulary from the n_distinct words in wc (sorted here) and
// rewrites c->tokens, which hold WordCount keys on entry, into ids. The
// keep most frequent words get ids 1..keep, the rest <unk>. id_of_key is
// (n_distinct,) and receives key -> id. Fills words, counts and category
// (all -1). On failure the caller frees c with corpus_free.
static int corpus_build_vocab(Corpus *c, WordCount *wc, int64_t n_distinct, int64_t keep,
                              int64_t *id_of_key, EmbError *err) {
    qsort(wc, (size_t)n_distinct, sizeof *wc, wordcount_cmp);
    if (keep > n_distinct) keep = n_distinct;
    int64_t V = keep + 1;
    c->words = alloc_zeroed(V, sizeof *c->words);
    c->counts = alloc_zeroed(V, sizeof *c->counts);
    c->category = alloc_zeroed(V, sizeof *c->category);
    if (!c->words || !c->counts || !c->category) {
        return emb_fail(err, "cannot allocate a vocabulary of %lld words", (long long)V);
    }
    c->vocab_size = V;  // from here on corpus_free frees the words
    c->words[CORPUS_UNK] = strdup("<unk>");
    if (!c->words[CORPUS_UNK]) return emb_fail(err, "cannot allocate the vocabulary");
    for (int64_t i = 0; i < keep; i++) {
        c->words[i + 1] = strdup(wc[i].word);
        if (!c->words[i + 1]) return emb_fail(err, "cannot allocate the vocabulary");
    }
    for (int64_t i = 0; i < n_distinct; i++) id_of_key[wc[i].key] = i < keep ? i + 1 : CORPUS_UNK;
    for (int64_t t = 0; t < c->n_tokens; t++) {
        c->tokens[t] = id_of_key[c->tokens[t]];
        c->counts[c->tokens[t]]++;
    }
    for (int64_t k = 0; k < V; k++) c->category[k] = -1;
    return 0;
}

// ---------------------------------------------------------------------------
// The built-in corpus
// ---------------------------------------------------------------------------

// A yes/no decision that says yes with probability p.
static int chance(TorchGenerator *gen, double p) { return rng_uniform_double(gen) < p; }

// Appends one grammar word chosen uniformly among the first n of category cat.
static int emit_word(TorchGenerator *gen, TokenBuf *out, int cat, int n, EmbError *err) {
    int i = (int)(rng_uniform_double(gen) * n);  // u in [0, 1): i in [0, n)
    return tokenbuf_push(out, category_first[cat] + i, err);
}

// Appends a prepositional phrase: one of the first n_prep prepositions
// (2: "in"/"near", 3: also "to"), a determiner, a place.
static int emit_pp(TorchGenerator *gen, TokenBuf *out, int n_prep, EmbError *err) {
    if (emit_word(gen, out, CAT_PREPOSITION, n_prep, err) != 0) return -1;
    if (emit_word(gen, out, CAT_DETERMINER, category_size[CAT_DETERMINER], err) != 0) return -1;
    return emit_word(gen, out, CAT_PLACE, category_size[CAT_PLACE], err);
}

// Appends one sentence of the grammar (see the top of the file), as
// grammar word indices.
static int emit_sentence(TorchGenerator *gen, TokenBuf *out, EmbError *err) {
    const int *size = category_size;
    if (chance(gen, 0.25) && emit_pp(gen, out, 2, err) != 0) return -1;
    if (emit_word(gen, out, CAT_DETERMINER, size[CAT_DETERMINER], err) != 0) return -1;
    if (emit_word(gen, out, CAT_ANIMAL, size[CAT_ANIMAL], err) != 0) return -1;
    if (chance(gen, 0.5)) {
        if (emit_word(gen, out, CAT_EAT_VERB, size[CAT_EAT_VERB], err) != 0) return -1;
        if (emit_word(gen, out, CAT_FOOD, size[CAT_FOOD], err) != 0) return -1;
        if (chance(gen, 0.5) && emit_pp(gen, out, 2, err) != 0) return -1;
    } else {
        if (emit_word(gen, out, CAT_MOVE_VERB, size[CAT_MOVE_VERB], err) != 0) return -1;
        if (chance(gen, 0.75) && emit_pp(gen, out, 3, err) != 0) return -1;
    }
    return emit_word(gen, out, CAT_END, size[CAT_END], err);
}

int corpus_builtin(Corpus *c, uint64_t seed, int64_t n_sentences, EmbError *err) {
    memset(c, 0, sizeof *c);
    if (n_sentences < 1 || n_sentences > CORPUS_MAX_SENTENCES) {
        return emb_fail(err, "n_sentences must be in [1, %d], got %lld", CORPUS_MAX_SENTENCES,
                        (long long)n_sentences);
    }
    TorchGenerator gen;
    rng_manual_seed(&gen, seed);
    TokenBuf buf = {0};
    for (int64_t s = 0; s < n_sentences; s++) {
        if (emit_sentence(&gen, &buf, err) != 0) {
            free(buf.ids);
            return -1;
        }
    }
    c->tokens = buf.ids;
    c->n_tokens = buf.n;

    WordCount wc[N_GRAMMAR_WORDS];
    int64_t id_of_word[N_GRAMMAR_WORDS];
    for (int g = 0; g < N_GRAMMAR_WORDS; g++) wc[g] = (WordCount){grammar_words[g], 0, g};
    for (int64_t t = 0; t < c->n_tokens; t++) wc[c->tokens[t]].count++;
    if (corpus_build_vocab(c, wc, N_GRAMMAR_WORDS, N_GRAMMAR_WORDS, id_of_word, err) != 0) {
        corpus_free(c);
        return -1;
    }
    for (int cat = 0; cat < N_CATEGORIES; cat++) {
        for (int i = 0; i < category_size[cat]; i++) {
            c->category[id_of_word[category_first[cat] + i]] = cat;
        }
    }
    c->n_categories = N_CATEGORIES;
    c->category_names = corpus_category_names;
    return 0;
}

// ---------------------------------------------------------------------------
// Reading a text file
// ---------------------------------------------------------------------------

// Reads the whole file into *text (caller frees), with one spare byte at
// text[*len] set to 0.
static int read_whole_file(const char *path, unsigned char **text, int64_t *len,
                           EmbError *err) {
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return emb_fail(err, "cannot open corpus %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return emb_fail(err, "cannot read corpus %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(f);
        return emb_fail(err, "cannot read corpus %s: %s", path, strerror(EISDIR));
    }
    // Room for the size stat reports plus one byte, so that a file that
    // does not grow is read in one go; grow for files that do (or that
    // have no size, like pipes).
    int64_t cap = 65536;
    if (S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < INT64_MAX - 2) {
        cap = (int64_t)st.st_size + 2;
    }
    unsigned char *buf = NULL;
    int64_t n = 0;
    for (;;) {
        if (!buf || n + 1 >= cap) {
            if (buf && emb_mul_size(cap, 2, &cap) != 0) cap = -1;
            unsigned char *bigger =
                cap > 0 && (uint64_t)cap <= SIZE_MAX ? realloc(buf, (size_t)cap) : NULL;
            if (!bigger) {
                free(buf);
                fclose(f);
                return emb_fail(err, "cannot read corpus %s: file too large to hold in memory",
                                path);
            }
            buf = bigger;
        }
        size_t want = (size_t)(cap - 1 - n);  // keep one byte for the final NUL
        size_t got = fread(buf + n, 1, want, f);
        n += (int64_t)got;
        if (got < want) break;  // end of file, or an error (checked below)
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return emb_fail(err, "cannot read corpus %s: %s", path, strerror(e));
    }
    fclose(f);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

// Letters, digits and every byte of a multi-byte UTF-8 character.
static int is_word_byte(unsigned char b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           b >= 0x80;
}

// Where to cut a word of more than CORPUS_MAX_WORD bytes: at
// CORPUS_MAX_WORD, moved back to the start of a UTF-8 character.
static int64_t cut_point(const unsigned char *word) {
    int64_t cut = CORPUS_MAX_WORD;
    while (cut > 0 && (word[cut] & 0xC0) == 0x80) cut--;  // continuation byte
    return cut > 0 ? cut : CORPUS_MAX_WORD;               // not UTF-8 at all: bytes
}

// Turns text (len bytes, text[len] == 0) into words separated by runs of
// NUL bytes, in place: lowercases ASCII letters, zeroes every separator
// and the dropped tail of every long word. Returns the number of words.
static int64_t split_words(unsigned char *text, int64_t len) {
    int64_t n_words = 0, i = 0;
    while (i < len) {
        if (!is_word_byte(text[i])) {
            text[i++] = '\0';
            continue;
        }
        int64_t start = i;
        for (; i < len && is_word_byte(text[i]); i++) {
            if (text[i] >= 'A' && text[i] <= 'Z') text[i] = (unsigned char)(text[i] - 'A' + 'a');
        }
        if (i - start > CORPUS_MAX_WORD) {
            int64_t cut = cut_point(text + start);
            memset(text + start + cut, 0, (size_t)(i - start - cut));
        }
        n_words++;
    }
    return n_words;
}

// ---------------------------------------------------------------------------
// Counting words: a hash table from word to its WordCount entry
// ---------------------------------------------------------------------------

typedef struct WordTable {
    int64_t *slots;      // (cap,) entry index, or -1 for an empty slot
    int64_t cap;         // a power of two, at least twice n
    WordCount *entries;  // (n_distinct,) in order of first appearance
    int64_t n;
} WordTable;

// FNV-1a, 64 bits, over a NUL-terminated word.
static uint64_t word_hash(const char *word) {
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)word; *p; p++) {
        h = (h ^ *p) * 0x100000001b3u;
    }
    return h;
}

// The slot that holds word, or the empty slot where it would go.
static int64_t table_find(const WordTable *t, const char *word) {
    uint64_t mask = (uint64_t)t->cap - 1;
    int64_t s = (int64_t)(word_hash(word) & mask);
    while (t->slots[s] >= 0 && strcmp(t->entries[t->slots[s]].word, word) != 0) {
        s = (int64_t)(((uint64_t)s + 1) & mask);  // linear probing
    }
    return s;
}

// Sets up a table with room for n_max distinct words (n_max >= 1): the
// slots are twice that, rounded up to a power of two, so it never grows.
static int table_init(WordTable *t, int64_t n_max, EmbError *err) {
    memset(t, 0, sizeof *t);
    int64_t cap = 16;
    while (cap / 2 < n_max) {
        if (emb_mul_size(cap, 2, &cap) != 0) return emb_fail(err, "too many words");
    }
    t->slots = alloc_zeroed(cap, sizeof *t->slots);
    t->entries = alloc_zeroed(n_max, sizeof *t->entries);
    if (!t->slots || !t->entries) {
        return emb_fail(err, "cannot allocate a table for %lld words", (long long)n_max);
    }
    for (int64_t s = 0; s < cap; s++) t->slots[s] = -1;
    t->cap = cap;
    return 0;
}

static void table_free(WordTable *t) {
    free(t->slots);
    free(t->entries);
    memset(t, 0, sizeof *t);
}

// Counts one occurrence of word and returns its key (entry index).
static int64_t table_add(WordTable *t, const char *word) {
    int64_t s = table_find(t, word);
    if (t->slots[s] < 0) {
        t->entries[t->n] = (WordCount){word, 0, t->n};
        t->slots[s] = t->n++;
    }
    t->entries[t->slots[s]].count++;
    return t->slots[s];
}

// Counts the words of text (as split_words left it) into t and stores
// each word's key in c->tokens, which has room for all of them.
static void count_words(WordTable *t, const unsigned char *text, int64_t len, Corpus *c) {
    int64_t i = 0;
    while (i < len) {
        if (text[i] == '\0') {
            i++;
            continue;
        }
        const char *word = (const char *)text + i;
        c->tokens[c->n_tokens++] = table_add(t, word);
        i += (int64_t)strlen(word);
    }
}

int corpus_from_file(Corpus *c, const char *path, int64_t max_vocab, EmbError *err) {
    memset(c, 0, sizeof *c);
    if (max_vocab < 2) {
        return emb_fail(err, "max_vocab must be >= 2 (<unk> and at least one word), got %lld",
                        (long long)max_vocab);
    }
    unsigned char *text;
    int64_t len;
    if (read_whole_file(path, &text, &len, err) != 0) return -1;
    int64_t n_words = split_words(text, len);
    if (n_words == 0) {
        free(text);
        return emb_fail(err, "corpus %s has no words", path);
    }
    WordTable table = {0};
    int64_t *id_of_key = NULL;
    int rc = -1;
    c->tokens = alloc_zeroed(n_words, sizeof *c->tokens);
    if (!c->tokens) {
        emb_fail(err, "cannot allocate %lld tokens", (long long)n_words);
    } else if (table_init(&table, n_words, err) == 0) {
        count_words(&table, text, len, c);
        id_of_key = alloc_zeroed(table.n, sizeof *id_of_key);
        if (!id_of_key) {
            emb_fail(err, "cannot allocate %lld words", (long long)table.n);
        } else {
            rc = corpus_build_vocab(c, table.entries, table.n, max_vocab - 1, id_of_key, err);
        }
    }
    table_free(&table);
    free(id_of_key);
    free(text);  // the vocabulary holds copies of its words
    if (rc != 0) corpus_free(c);
    return rc;
}

// ---------------------------------------------------------------------------
// Freeing, entropy
// ---------------------------------------------------------------------------

void corpus_free(Corpus *c) {
    if (!c) return;
    if (c->words) {
        for (int64_t k = 0; k < c->vocab_size; k++) free(c->words[k]);
    }
    free(c->words);
    free(c->tokens);
    free(c->counts);
    free(c->category);
    memset(c, 0, sizeof *c);  // category_names is static: nothing to free
}

double corpus_unigram_entropy(const Corpus *c) {
    if (c->n_tokens <= 0) return 0.0;
    double h = 0.0;
    for (int64_t k = 0; k < c->vocab_size; k++) {
        if (c->counts[k] == 0) continue;  // 0 log 0 = 0
        double p = (double)c->counts[k] / (double)c->n_tokens;
        h -= p * log(p);
    }
    return h;
}
