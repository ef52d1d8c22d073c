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
 * sorted, so a file of n bytes takes O(n log n) time.
 *
 * Memory. The file is read 64 KiB at a time and never held whole; what
 * grows is one token per word (4 bytes while reading, widened in place
 * to the Corpus's 8 at the end) and one entry per distinct word. The peak
 * is thus about 8 bytes a word: 1.4 times the size of English text (about
 * 6 bytes a word with its space), 4 times at worst (one-letter words). A
 * file larger than CORPUS_MAX_BYTES is refused: a regular file before it
 * is read, a pipe or a device when it gets there.
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
// Counting words: a hash table from word to its WordCount entry
// ---------------------------------------------------------------------------

#define ARENA_BLOCK (1 << 20)  // bytes per block of word copies

// The distinct words' bytes, copied into blocks that never move, so that
// WordCount.word stays valid while the table grows.
typedef struct ArenaBlock {
    struct ArenaBlock *prev;
    size_t used;
    char bytes[ARENA_BLOCK];
} ArenaBlock;

typedef struct WordTable {
    int64_t *slots;      // (cap,) entry index, or -1 for an empty slot
    int64_t cap;         // a power of two, more than twice n
    WordCount *entries;  // (n_cap,) the first n used, in order of first appearance
    int64_t n, n_cap;
    ArenaBlock *arena;   // the newest block; the others hang off prev
} WordTable;

// FNV-1a, 64 bits, over the len bytes of word.
static uint64_t word_hash(const char *word, size_t len) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)word[i]) * 0x100000001b3u;
    return h;
}

// The slot that holds word (len bytes), or the empty slot where it would go.
static int64_t table_find(const WordTable *t, const char *word, size_t len) {
    uint64_t mask = (uint64_t)t->cap - 1;
    int64_t s = (int64_t)(word_hash(word, len) & mask);
    while (t->slots[s] >= 0) {
        const char *w = t->entries[t->slots[s]].word;
        if (strncmp(w, word, len) == 0 && w[len] == '\0') break;
        s = (int64_t)(((uint64_t)s + 1) & mask);  // linear probing
    }
    return s;
}

// Gives the table cap empty slots and puts every entry back in its slot.
static int table_rehash(WordTable *t, int64_t cap, EmbError *err) {
    int64_t *slots = alloc_zeroed(cap, sizeof *slots);
    if (!slots) return emb_fail(err, "cannot allocate a table for %lld words", (long long)t->n);
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    for (int64_t s = 0; s < cap; s++) slots[s] = -1;
    for (int64_t k = 0; k < t->n; k++) {
        const char *w = t->entries[k].word;
        slots[table_find(t, w, strlen(w))] = k;
    }
    return 0;
}

static void table_free(WordTable *t) {
    while (t->arena) {
        ArenaBlock *prev = t->arena->prev;
        free(t->arena);
        t->arena = prev;
    }
    free(t->slots);
    free(t->entries);
    memset(t, 0, sizeof *t);
}

// A copy of word (len bytes, len <= CORPUS_MAX_WORD) in the arena, or NULL.
static const char *arena_copy(WordTable *t, const char *word, size_t len) {
    if (!t->arena || t->arena->used + len + 1 > ARENA_BLOCK) {
        ArenaBlock *b = malloc(sizeof *b);
        if (!b) return NULL;
        b->prev = t->arena;
        b->used = 0;
        t->arena = b;
    }
    char *copy = t->arena->bytes + t->arena->used;
    memcpy(copy, word, len);
    copy[len] = '\0';
    t->arena->used += len + 1;
    return copy;
}

// Makes room for one more distinct word: the entries double when full, and
// the slots double before they are half full.
static int table_reserve(WordTable *t, EmbError *err) {
    if (t->n == t->n_cap) {
        int64_t n_cap = t->n_cap ? 2 * t->n_cap : 1024, bytes;
        if (emb_mul_size(n_cap, (int64_t)sizeof *t->entries, &bytes) != 0 ||
            (uint64_t)bytes > SIZE_MAX) {
            return emb_fail(err, "too many distinct words: %lld", (long long)t->n);
        }
        WordCount *e = realloc(t->entries, (size_t)bytes);
        if (!e) return emb_fail(err, "cannot allocate %lld words", (long long)n_cap);
        t->entries = e;
        t->n_cap = n_cap;
    }
    if (2 * (t->n + 1) < t->cap) return 0;
    return table_rehash(t, t->cap ? 2 * t->cap : 4096, err);
}

// Counts one occurrence of word (len bytes) and returns its key (entry
// index), or -1 with err set if out of memory.
static int64_t table_add(WordTable *t, const char *word, size_t len, EmbError *err) {
    if (table_reserve(t, err) != 0) return -1;
    int64_t s = table_find(t, word, len);
    if (t->slots[s] < 0) {
        const char *copy = arena_copy(t, word, len);
        if (!copy) return emb_fail(err, "cannot allocate %lld words", (long long)t->n + 1);
        t->entries[t->n] = (WordCount){copy, 0, t->n};
        t->slots[s] = t->n++;
    }
    t->entries[t->slots[s]].count++;
    return t->slots[s];
}

// ---------------------------------------------------------------------------
// Reading a text file, a block at a time
// ---------------------------------------------------------------------------

#define READ_BLOCK (1 << 16)  // bytes read per fread

// Letters, digits and every byte of a multi-byte UTF-8 character.
static int is_word_byte(unsigned char b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           b >= 0x80;
}

// Where to cut a word of more than CORPUS_MAX_WORD bytes: at
// CORPUS_MAX_WORD, moved back to the start of a UTF-8 character. word
// holds at least CORPUS_MAX_WORD + 1 bytes.
static int64_t cut_point(const unsigned char *word) {
    int64_t cut = CORPUS_MAX_WORD;
    while (cut > 0 && (word[cut] & 0xC0) == 0x80) cut--;  // continuation byte
    return cut > 0 ? cut : CORPUS_MAX_WORD;               // not UTF-8 at all: bytes
}

// The word being read, which may span two blocks of the file: its first
// CORPUS_MAX_WORD + 1 bytes (enough to find its cut), lowercased, and
// its length so far (which may be more).
typedef struct Splitter {
    unsigned char word[CORPUS_MAX_WORD + 2];
    int64_t len;
    WordTable table;
    uint32_t *keys;  // (keys_cap,) one WordCount key per word of the text, ...
    int64_t n_keys, keys_cap;  // ... 4 bytes each until the end (see keys_to_ids)
} Splitter;

// Appends one key, growing the keys by half when full.
static int splitter_push(Splitter *sp, int64_t key, EmbError *err) {
    if (key > UINT32_MAX) return emb_fail(err, "too many distinct words: %lld", (long long)key);
    if (sp->n_keys == sp->keys_cap) {
        int64_t cap = sp->keys_cap ? sp->keys_cap + sp->keys_cap / 2 : 4096, bytes;
        if (emb_mul_size(cap, (int64_t)sizeof *sp->keys, &bytes) != 0 ||
            (uint64_t)bytes > SIZE_MAX) {
            return emb_fail(err, "corpus too large: cannot hold %lld tokens", (long long)cap);
        }
        uint32_t *keys = realloc(sp->keys, (size_t)bytes);
        if (!keys) return emb_fail(err, "cannot allocate %lld tokens", (long long)cap);
        sp->keys = keys;
        sp->keys_cap = cap;
    }
    sp->keys[sp->n_keys++] = (uint32_t)key;
    return 0;
}

// The keys as an (n_keys,) int64 array, widened in place: the buffer grows
// to 8 bytes a key and the keys move to their new places from the last to
// the first, so the text never needs 4 + 8 bytes a word at once (unless
// realloc has to copy). NULL if out of memory; sp->keys is then unchanged.
static int64_t *keys_to_ids(Splitter *sp) {
    int64_t n = sp->n_keys;
    unsigned char *buf = realloc(sp->keys, (size_t)n * sizeof(int64_t));
    if (!buf) return NULL;
    sp->keys = NULL;
    for (int64_t i = n - 1; i >= 0; i--) {  // key i is at 4i, its id goes to 8i >= 4i + 4
        uint32_t key;
        memcpy(&key, buf + 4 * i, sizeof key);
        int64_t id = key;
        memcpy(buf + 8 * i, &id, sizeof id);
    }
    return (int64_t *)(void *)buf;
}

// Ends the current word, if there is one: cuts it, counts it, appends its key.
static int splitter_end_word(Splitter *sp, EmbError *err) {
    if (sp->len == 0) return 0;
    int64_t len = sp->len > CORPUS_MAX_WORD ? cut_point(sp->word) : sp->len;
    sp->len = 0;
    int64_t key = table_add(&sp->table, (const char *)sp->word, (size_t)len, err);
    if (key < 0) return -1;
    return splitter_push(sp, key, err);
}

// Feeds n bytes of the text to the splitter.
static int splitter_feed(Splitter *sp, const unsigned char *bytes, size_t n, EmbError *err) {
    size_t i = 0;
    while (i < n) {
        if (sp->len == 0) {
            while (i < n && !is_word_byte(bytes[i])) i++;  // between words
        }
        for (; i < n && is_word_byte(bytes[i]); i++) {  // in a word
            unsigned char b = bytes[i];
            if (b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
            if (sp->len <= CORPUS_MAX_WORD) sp->word[sp->len] = b;
            sp->len++;
        }
        if (i < n) {  // bytes[i] ends the word
            if (splitter_end_word(sp, err) != 0) return -1;
            i++;
        }
    }
    return 0;
}

// "1 GiB", "64 KiB" or "1000 bytes": a limit as a reader would write it.
static void format_bytes(int64_t n, char *buf, size_t size) {
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB"};
    int u = 0;
    while (u < 3 && n >= 1024 && n % 1024 == 0) {
        n /= 1024;
        u++;
    }
    snprintf(buf, size, "%lld %s", (long long)n, units[u]);
}

// The error for a text longer than max_bytes.
static int too_large(const char *path, int64_t max_bytes, EmbError *err) {
    char limit[32];
    format_bytes(max_bytes, limit, sizeof limit);
    return emb_fail(err, "corpus %s is larger than %s, the limit for --corpus",
                    path, limit);
}

// Opens path for reading and refuses directories and regular files larger
// than max_bytes before reading anything.
static FILE *open_text(const char *path, int64_t max_bytes, EmbError *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        emb_fail(err, "cannot open corpus %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    int e = fstat(fileno(f), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e != 0) {
        fclose(f);
        emb_fail(err, "cannot read corpus %s: %s", path, strerror(e));
        return NULL;
    }
    if (S_ISREG(st.st_mode) && (int64_t)st.st_size > max_bytes) {
        fclose(f);
        too_large(path, max_bytes, err);
        return NULL;
    }
    return f;
}

// Reads the text at path block by block into sp, stopping with an error
// past max_bytes (a pipe or a device has no size to check beforehand).
static int split_file(Splitter *sp, const char *path, int64_t max_bytes, EmbError *err) {
    FILE *f = open_text(path, max_bytes, err);
    if (!f) return -1;
    unsigned char *block = malloc(READ_BLOCK);
    int64_t total = 0;
    int rc = block ? 0 : emb_fail(err, "cannot allocate a read buffer");
    while (rc == 0) {
        size_t got = fread(block, 1, READ_BLOCK, f);
        total += (int64_t)got;
        if (total > max_bytes) rc = too_large(path, max_bytes, err);
        else if (got > 0) rc = splitter_feed(sp, block, got, err);
        if (got < READ_BLOCK) break;  // end of file, or an error (checked below)
    }
    if (rc == 0 && ferror(f)) {
        rc = emb_fail(err, "cannot read corpus %s: %s", path, strerror(errno));
    }
    if (rc == 0) rc = splitter_end_word(sp, err);
    free(block);
    fclose(f);
    return rc;
}

int corpus_from_file_limit(Corpus *c, const char *path, int64_t max_vocab, int64_t max_bytes,
                           EmbError *err) {
    memset(c, 0, sizeof *c);
    if (max_vocab < 2) {
        return emb_fail(err, "max_vocab must be >= 2 (<unk> and at least one word), got %lld",
                        (long long)max_vocab);
    }
    Splitter sp = {0};
    int64_t *id_of_key = NULL;
    int rc = split_file(&sp, path, max_bytes, err);
    if (rc == 0 && sp.n_keys == 0) rc = emb_fail(err, "corpus %s has no words", path);
    if (rc == 0) {  // the keys become the tokens, remapped in place to ids
        c->tokens = keys_to_ids(&sp);
        c->n_tokens = sp.n_keys;
        id_of_key = alloc_zeroed(sp.table.n, sizeof *id_of_key);
        if (!c->tokens || !id_of_key) {
            rc = emb_fail(err, "cannot allocate %lld tokens", (long long)sp.n_keys);
        } else {
            rc = corpus_build_vocab(c, sp.table.entries, sp.table.n, max_vocab - 1, id_of_key,
                                    err);
        }
    }
    free(sp.keys);
    table_free(&sp.table);  // the vocabulary holds copies of its words
    free(id_of_key);
    if (rc != 0) corpus_free(c);
    return rc;
}

int corpus_from_file(Corpus *c, const char *path, int64_t max_vocab, EmbError *err) {
    return corpus_from_file_limit(c, path, max_vocab, CORPUS_MAX_BYTES, err);
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
