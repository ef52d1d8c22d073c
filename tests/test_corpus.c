/*
 * test_corpus.c - the corpora the chapters train on (src/corpus.h).
 *
 * The claims, as tests: the built-in corpus is fully determined by its seed
 * and keeps the Corpus invariants; its vocabulary is the grammar, every word
 * with a category; and the grammar does what corpus.c promises: each word
 * is followed by exactly its category's next-word distribution, and the
 * categories' distributions differ. A text file is lowercased, split on
 * punctuation (NUL bytes included), cut, counted, and its rare words mapped
 * to <unk>, in O(n log n), with a peak memory under 3 times the text's
 * size; bad input, and input past CORPUS_MAX_BYTES (from a file, a pipe
 * or a device), is an error with a message, never a crash.
 */
#include <math.h>
#include <unistd.h>

#include "testutil.h"
#include "../src/corpus.h"

/* ---------------------------------------------------------------- helpers */

// Writes n bytes to a fresh temporary file; its name goes to path (64 bytes).
static void write_temp(const void *data, size_t n, char *path) {
    strcpy(path, "/tmp/test_corpus_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

// corpus_from_file on a temporary file holding n bytes of data.
static int load_bytes(Corpus *c, const void *data, size_t n, int64_t max_vocab, EmbError *err) {
    char path[64];
    write_temp(data, n, path);
    int rc = corpus_from_file(c, path, max_vocab, err);
    unlink(path);
    return rc;
}

// The same for a C string.
static int load_text(Corpus *c, const char *text, int64_t max_vocab, EmbError *err) {
    return load_bytes(c, text, strlen(text), max_vocab, err);
}

// The id of word, or -1.
static int64_t find_id(const Corpus *c, const char *word) {
    for (int64_t k = 0; k < c->vocab_size; k++) {
        if (strcmp(c->words[k], word) == 0) return k;
    }
    return -1;
}

// The index of a category name, or -1.
static int find_category(const Corpus *c, const char *name) {
    for (int i = 0; i < c->n_categories; i++) {
        if (strcmp(c->category_names[i], name) == 0) return i;
    }
    return -1;
}

// Asserts every invariant of corpus.h, plus the id order (count
// descending, ties in byte order) and distinct words.
static void check_invariants(const Corpus *c) {
    int64_t V = c->vocab_size;
    ck_assert_int_ge(V, 1);
    ck_assert_str_eq(c->words[CORPUS_UNK], "<unk>");
    ck_assert_int_eq(c->category[CORPUS_UNK], -1);
    // Each loop finds the first offender, if any, and asserts once after
    // it: an assertion per token would be a write to Check's pipe per token.
    int64_t *seen = calloc((size_t)V, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    int64_t bad = -1;
    for (int64_t t = 0; t < c->n_tokens; t++) {
        if (c->tokens[t] < 0 || c->tokens[t] >= V) {
            bad = t;
            break;
        }
        seen[c->tokens[t]]++;
    }
    ck_assert_msg(bad < 0, "token %lld is id %lld, outside [0, %lld)", (long long)bad,
                  (long long)(bad < 0 ? 0 : c->tokens[bad]), (long long)V);
    for (int64_t k = 0; k < V && bad < 0; k++) {
        if (seen[k] != c->counts[k] || c->category[k] < -1 ||
            c->category[k] >= c->n_categories) bad = k;
    }
    ck_assert_msg(bad < 0, "id %lld: counted %lld, counts says %lld, category %d",
                  (long long)bad, (long long)(bad < 0 ? 0 : seen[bad]),
                  (long long)(bad < 0 ? 0 : c->counts[bad]), bad < 0 ? 0 : c->category[bad]);
    free(seen);
    for (int64_t k = 2; k < V && bad < 0; k++) {
        int64_t a = c->counts[k - 1], b = c->counts[k];
        if (a < b || (a == b && strcmp(c->words[k - 1], c->words[k]) >= 0)) bad = k;
    }
    ck_assert_msg(bad < 0, "ids %lld and %lld out of order: %s (%lld), %s (%lld)",
                  (long long)bad - 1, (long long)bad, bad < 0 ? "" : c->words[bad - 1],
                  (long long)(bad < 0 ? 0 : c->counts[bad - 1]), bad < 0 ? "" : c->words[bad],
                  (long long)(bad < 0 ? 0 : c->counts[bad]));
}

static Corpus builtin(uint64_t seed, int64_t n_sentences) {
    Corpus c;
    EmbError err;
    ck_assert_msg(corpus_builtin(&c, seed, n_sentences, &err) == 0, "%s", err.msg);
    return c;
}

static void assert_zeroed(const Corpus *c) {
    ck_assert_ptr_null(c->tokens);
    ck_assert_ptr_null(c->words);
    ck_assert_ptr_null(c->counts);
    ck_assert_ptr_null(c->category);
    ck_assert_int_eq(c->n_tokens, 0);
    ck_assert_int_eq(c->vocab_size, 0);
}

/* ---------------------------------------------------------------- built-in */

START_TEST(builtin_is_determined_by_its_seed) {
    Corpus a = builtin(42, 300), b = builtin(42, 300), d = builtin(43, 300);
    ck_assert_int_eq(a.n_tokens, b.n_tokens);
    ck_assert_int_eq(memcmp(a.tokens, b.tokens, (size_t)a.n_tokens * sizeof *a.tokens), 0);
    for (int64_t k = 0; k < a.vocab_size; k++) ck_assert_str_eq(a.words[k], b.words[k]);
    int differ = a.n_tokens != d.n_tokens;
    for (int64_t t = 0; !differ && t < a.n_tokens; t++) {
        differ = strcmp(a.words[a.tokens[t]], d.words[d.tokens[t]]) != 0;
    }
    ck_assert_msg(differ, "seeds 42 and 43 gave the same text");
    corpus_free(&a);
    corpus_free(&b);
    corpus_free(&d);
}
END_TEST

START_TEST(builtin_keeps_the_invariants) {
    const int64_t lengths[] = {1, 2, 10, 1000};
    for (uint64_t seed = 0; seed < 5; seed++) {
        for (int i = 0; i < 4; i++) {
            Corpus c = builtin(seed, lengths[i]);
            check_invariants(&c);
            ck_assert_int_eq(c.counts[CORPUS_UNK], 0);  // <unk> never occurs
            corpus_free(&c);
        }
    }
}
END_TEST

// V and the categories do not depend on the seed or the length; every word
// but <unk> has a category; the categories are the ones corpus.c lists.
START_TEST(builtin_vocabulary_is_the_grammar) {
    static const struct {
        const char *name;
        int size;
    } expected[] = {{"animal", 6},    {"food", 5},        {"place", 5},
                    {"eat-verb", 3},  {"move-verb", 3},   {"preposition", 3},
                    {"determiner", 2}, {"end", 1}};
    Corpus one = builtin(7, 1);
    Corpus c = builtin(0, 1000);
    ck_assert_int_eq(c.vocab_size, 29);
    ck_assert_int_eq(one.vocab_size, 29);
    ck_assert_int_eq(c.n_categories, 8);
    int size[8] = {0};
    for (int64_t k = 1; k < c.vocab_size; k++) {
        ck_assert_msg(c.category[k] >= 0, "word %s has no category", c.words[k]);
        size[c.category[k]]++;
        int64_t j = find_id(&one, c.words[k]);  // same word, same category
        ck_assert_int_ge(j, 1);
        ck_assert_int_eq(one.category[j], c.category[k]);
        ck_assert_int_eq(find_id(&c, c.words[k]), k);  // words are distinct
    }
    for (int i = 0; i < 8; i++) {
        int cat = find_category(&c, expected[i].name);
        ck_assert_msg(cat >= 0, "no category %s", expected[i].name);
        ck_assert_int_eq(size[cat], expected[i].size);
    }
    ck_assert_int_eq(c.category[find_id(&c, "cat")], find_category(&c, "animal"));
    ck_assert_int_eq(c.category[find_id(&c, ".")], find_category(&c, "end"));
    corpus_free(&one);
    corpus_free(&c);
}
END_TEST

// One sentence cannot use every word: the unused ones stay, with count 0,
// last, in byte order.
START_TEST(builtin_short_corpus_keeps_unused_words) {
    Corpus c = builtin(3, 1);
    ck_assert_int_le(c.n_tokens, 11);
    int64_t first_zero = 1;
    while (first_zero < c.vocab_size && c.counts[first_zero] > 0) first_zero++;
    ck_assert_int_lt(first_zero, c.vocab_size);
    for (int64_t k = first_zero; k < c.vocab_size; k++) ck_assert_int_eq(c.counts[k], 0);
    check_invariants(&c);
    corpus_free(&c);
}
END_TEST

START_TEST(builtin_sentences_end_with_period) {
    const int64_t n_sentences = 500;
    Corpus c = builtin(1, n_sentences);
    int64_t end = find_id(&c, ".");
    ck_assert_int_eq(c.tokens[c.n_tokens - 1], end);
    ck_assert_int_ne(c.tokens[0], end);
    ck_assert_int_eq(c.counts[end], n_sentences);
    int64_t start = 0, bad_len = 0, bad_start = -1;
    for (int64_t t = 0; t < c.n_tokens && bad_start < 0; t++) {
        if (c.tokens[t] != end) continue;
        int64_t len = t - start + 1;  // with its "."
        if (len < 4 || len > 11) {
            bad_len = len;
            bad_start = start;
        }
        start = t + 1;
    }
    ck_assert_msg(bad_start < 0, "sentence of %lld tokens at %lld", (long long)bad_len,
                  (long long)bad_start);
    corpus_free(&c);
}
END_TEST

/* ---------------------------------------------------------------- grammar */

// The categories that can follow each category, by name.
START_TEST(grammar_next_categories_are_as_promised) {
    static const char *const allowed[][3] = {
        {"animal", "eat-verb", "move-verb"},   {"eat-verb", "food", NULL},
        {"move-verb", "preposition", "end"},   {"food", "preposition", "end"},
        {"place", "end", "determiner"},        {"preposition", "determiner", NULL},
        {"determiner", "animal", "place"},     {"end", "determiner", "preposition"},
    };
    Corpus c = builtin(5, 5000);
    int seen[8][8] = {{0}};
    for (int64_t t = 0; t + 1 < c.n_tokens; t++) {
        seen[c.category[c.tokens[t]]][c.category[c.tokens[t + 1]]] = 1;
    }
    for (int i = 0; i < 8; i++) {
        int from = find_category(&c, allowed[i][0]);
        int ok[8] = {0};
        for (int j = 1; j < 3 && allowed[i][j]; j++) ok[find_category(&c, allowed[i][j])] = 1;
        for (int to = 0; to < 8; to++) {
            ck_assert_msg(seen[from][to] == ok[to], "%s followed by %s: %s", allowed[i][0],
                          c.category_names[to], seen[from][to] ? "seen" : "never seen");
        }
    }
    // "to" only after a move verb ("eats fish to the park" is not English).
    int64_t to = find_id(&c, "to"), bad = -1;
    int move_verb = find_category(&c, "move-verb");
    for (int64_t t = 1; t < c.n_tokens && bad < 0; t++) {
        if (c.tokens[t] == to && c.category[c.tokens[t - 1]] != move_verb) bad = t;
    }
    ck_assert_msg(bad < 0, "\"to\" at token %lld follows \"%s\"", (long long)bad,
                  bad < 0 ? "" : c.words[c.tokens[bad - 1]]);
    corpus_free(&c);
}
END_TEST

// The next-word distribution of each category, as corpus.c documents it.
// next is a word, or a category whose words share prob equally.
static const struct {
    const char *cat, *next;
    double prob;
} next_word_table[] = {
    {"animal", "eat-verb", 1.0 / 2},   {"animal", "move-verb", 1.0 / 2},
    {"food", ".", 1.0 / 2},            {"food", "in", 1.0 / 4},
    {"food", "near", 1.0 / 4},         {"place", ".", 5.0 / 7},
    {"place", "the", 1.0 / 7},         {"place", "a", 1.0 / 7},
    {"eat-verb", "food", 1.0},         {"move-verb", ".", 1.0 / 4},
    {"move-verb", "in", 1.0 / 4},      {"move-verb", "near", 1.0 / 4},
    {"move-verb", "to", 1.0 / 4},      {"preposition", "the", 1.0 / 2},
    {"preposition", "a", 1.0 / 2},     {"determiner", "animal", 8.0 / 15},
    {"determiner", "place", 7.0 / 15}, {"end", "the", 3.0 / 8},
    {"end", "a", 3.0 / 8},             {"end", "in", 1.0 / 8},
    {"end", "near", 1.0 / 8},
};

// expected[cat * V + k] = P(next word is k | current word in category cat).
static double *expected_next(const Corpus *c) {
    int64_t V = c->vocab_size;
    double *p = calloc((size_t)(c->n_categories * V), sizeof *p);
    for (size_t r = 0; r < sizeof next_word_table / sizeof next_word_table[0]; r++) {
        int cat = find_category(c, next_word_table[r].cat);
        ck_assert_int_ge(cat, 0);
        int next_cat = find_category(c, next_word_table[r].next);
        if (next_cat < 0) {
            int64_t k = find_id(c, next_word_table[r].next);
            ck_assert_int_ge(k, 1);
            p[cat * V + k] += next_word_table[r].prob;
            continue;
        }
        int n = 0;
        for (int64_t k = 0; k < V; k++) n += c->category[k] == next_cat;
        for (int64_t k = 0; k < V; k++) {
            if (c->category[k] == next_cat) p[cat * V + k] += next_word_table[r].prob / n;
        }
    }
    return p;
}

// Half the L1 distance between two distributions over V words.
static double total_variation(const double *p, const double *q, int64_t V) {
    double d = 0;
    for (int64_t k = 0; k < V; k++) d += fabs(p[k] - q[k]);
    return d / 2;
}

// The chapter's promise: a model that sees one word can only learn what
// follows it, and every word of a category is followed by the same
// distribution (the documented one), so same-category words are pulled to
// the same place; different categories have clearly different ones.
START_TEST(grammar_same_category_same_next_words) {
    Corpus c = builtin(11, 100000);
    int64_t V = c.vocab_size;
    double *expected = expected_next(&c);
    double *observed = calloc((size_t)(V * V), sizeof *observed);      // (V, V) word -> next
    double *pooled = calloc((size_t)(c.n_categories * V), sizeof *pooled);  // (C, V)
    for (int64_t t = 0; t + 1 < c.n_tokens; t++) {
        observed[c.tokens[t] * V + c.tokens[t + 1]] += 1;
        pooled[c.category[c.tokens[t]] * V + c.tokens[t + 1]] += 1;
    }
    for (int64_t k = 1; k < V; k++) {
        double *row = observed + k * V;  // seek to word k's row
        double total = 0;
        for (int64_t j = 0; j < V; j++) total += row[j];
        ck_assert_msg(total > 5000, "word %s seen only %g times", c.words[k], total);
        for (int64_t j = 0; j < V; j++) {
            row[j] /= total;
            double want = expected[c.category[k] * V + j];
            ck_assert_msg(fabs(row[j] - want) < 0.02, "P(%s | %s) = %.4f, documented %.4f",
                          c.words[j], c.words[k], row[j], want);
        }
    }
    for (int cat = 0; cat < c.n_categories; cat++) {
        double *row = pooled + cat * V;
        double total = 0;
        for (int64_t j = 0; j < V; j++) total += row[j];
        for (int64_t j = 0; j < V; j++) row[j] /= total;
    }
    for (int a = 0; a < c.n_categories; a++) {
        ck_assert_double_eq_tol(total_variation(pooled + a * V, expected + a * V, V), 0, 0.01);
        for (int b = a + 1; b < c.n_categories; b++) {
            double d = total_variation(pooled + a * V, pooled + b * V, V);
            ck_assert_msg(d > 0.2, "%s and %s are followed alike (distance %.3f)",
                          c.category_names[a], c.category_names[b], d);
        }
    }
    free(expected);
    free(observed);
    free(pooled);
    corpus_free(&c);
}
END_TEST

/* ---------------------------------------------------------------- files */

START_TEST(file_lowercases_and_splits_on_punctuation) {
    Corpus c;
    EmbError err;
    const char *text = "The cat, the DOG!\tcat...dog?the-fish\n42 cats";
    ck_assert_msg(load_text(&c, text, 100, &err) == 0, "%s", err.msg);
    static const char *const words[] = {"<unk>", "the", "cat", "dog", "42", "cats", "fish"};
    static const int64_t counts[] = {0, 3, 2, 2, 1, 1, 1};
    ck_assert_int_eq(c.vocab_size, 7);
    for (int k = 0; k < 7; k++) {
        ck_assert_str_eq(c.words[k], words[k]);
        ck_assert_int_eq(c.counts[k], counts[k]);
        ck_assert_int_eq(c.category[k], -1);
    }
    static const int64_t tokens[] = {1, 2, 1, 3, 2, 3, 1, 6, 4, 5};
    ck_assert_int_eq(c.n_tokens, 10);
    for (int t = 0; t < 10; t++) ck_assert_int_eq(c.tokens[t], tokens[t]);
    ck_assert_int_eq(c.n_categories, 0);
    ck_assert_ptr_null(c.category_names);
    check_invariants(&c);
    corpus_free(&c);
}
END_TEST

// Ties go in byte order; beyond max_vocab-1 words everything is <unk>,
// and <unk> counts them.
START_TEST(file_rare_words_become_unk) {
    Corpus c;
    EmbError err;
    ck_assert_msg(load_text(&c, "b a c b a c d", 3, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.vocab_size, 3);
    ck_assert_str_eq(c.words[1], "a");
    ck_assert_str_eq(c.words[2], "b");
    ck_assert_int_eq(c.counts[0], 3);  // c, c, d
    static const int64_t tokens[] = {2, 1, 0, 2, 1, 0, 0};
    ck_assert_int_eq(c.n_tokens, 7);
    for (int t = 0; t < 7; t++) ck_assert_int_eq(c.tokens[t], tokens[t]);
    check_invariants(&c);
    corpus_free(&c);

    // max_vocab 2: one word; a vocabulary larger than the text is just the text.
    ck_assert_int_eq(load_text(&c, "b a c b a c d", 2, &err), 0);
    ck_assert_int_eq(c.vocab_size, 2);
    ck_assert_int_eq(c.counts[0], 5);
    corpus_free(&c);
    ck_assert_int_eq(load_text(&c, "b a c b a c d", INT64_MAX, &err), 0);
    ck_assert_int_eq(c.vocab_size, 5);
    ck_assert_int_eq(c.counts[0], 0);
    corpus_free(&c);
}
END_TEST

// Bytes >= 0x80 are word bytes and are not lowercased; long words are cut
// at CORPUS_MAX_WORD bytes, never inside a UTF-8 character.
START_TEST(file_keeps_utf8_words_and_cuts_long_ones) {
    Corpus c;
    EmbError err;
    // "Cafe cafe, CAFE" with an accented e (a capital one in CAFE), and "cat" in Russian.
    const char *utf8 = "Caf\xc3\xa9 caf\xc3\xa9, CAF\xc3\x89 \xd0\xba\xd0\xbe\xd1\x82";
    ck_assert_int_eq(load_text(&c, utf8, 10, &err), 0);
    ck_assert_int_eq(c.vocab_size, 4);
    ck_assert_str_eq(c.words[1], "caf\xc3\xa9");
    ck_assert_int_eq(c.counts[1], 2);
    ck_assert_int_ge(find_id(&c, "caf\xc3\x89"), 2);
    ck_assert_int_ge(find_id(&c, "\xd0\xba\xd0\xbe\xd1\x82"), 2);
    corpus_free(&c);

    char text[512], *p = text;
    memset(p, 'x', 100), p += 100;  // 100 x: cut to 64
    *p++ = ' ';
    memset(p, 'X', 64), p += 64;  // 64 X and more: the same word
    memcpy(p, "yz ", 3), p += 3;
    memset(p, 'a', 63), p += 63;  // 63 a, then an e-acute across byte 64
    memcpy(p, "\xc3\xa9" "b", 3), p += 3;
    ck_assert_int_eq(load_bytes(&c, text, (size_t)(p - text), 10, &err), 0);
    ck_assert_int_eq(c.vocab_size, 3);
    ck_assert_int_eq(strlen(c.words[1]), CORPUS_MAX_WORD);
    ck_assert_int_eq(c.counts[1], 2);
    ck_assert_int_eq(strspn(c.words[1], "x"), CORPUS_MAX_WORD);
    ck_assert_int_eq(strlen(c.words[2]), 63);
    ck_assert_int_eq(strspn(c.words[2], "a"), 63);
    corpus_free(&c);
}
END_TEST

START_TEST(file_nul_bytes_separate_words) {
    Corpus c;
    EmbError err;
    ck_assert_int_eq(load_bytes(&c, "ab\0cd\0\0ab\0", 10, 10, &err), 0);
    ck_assert_int_eq(c.n_tokens, 3);
    ck_assert_int_eq(c.vocab_size, 3);
    ck_assert_str_eq(c.words[1], "ab");
    ck_assert_str_eq(c.words[2], "cd");
    corpus_free(&c);
}
END_TEST

// Random bytes: no crash, invariants hold, every word is 1..64 word bytes.
START_TEST(file_survives_binary_input) {
    size_t n = 300000;
    unsigned char *data = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        data[i] = (unsigned char)(x >> 24);
    }
    memset(data + 1000, 'q', 5000);  // and one very long word
    Corpus c;
    EmbError err;
    ck_assert_msg(load_bytes(&c, data, n, 1000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.vocab_size, 1000);
    check_invariants(&c);
    int64_t bad = -1;
    for (int64_t k = 1; k < c.vocab_size && bad < 0; k++) {
        size_t len = strlen(c.words[k]);
        if (len < 1 || len > CORPUS_MAX_WORD) bad = k;
        for (size_t i = 0; i < len; i++) {
            unsigned char b = (unsigned char)c.words[k][i];
            if (!((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b >= 0x80)) bad = k;
        }
    }
    ck_assert_msg(bad < 0, "word %lld is not 1 to %d lowercase word bytes: %s", (long long)bad,
                  CORPUS_MAX_WORD, bad < 0 ? "" : c.words[bad]);
    corpus_free(&c);
    free(data);
}
END_TEST

// 400,000 words, 100,000 of them distinct, each 4 times; the hash table
// grows many times on the way. (How fast a file loads is measured by
// `make bench`, not here.)
START_TEST(file_counts_many_distinct_words) {
    size_t cap = 400000 * 8, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 400000; i++) {
        len += (size_t)snprintf(text + len, cap - len, "w%d ", (int)((i * 7919L) % 100000));
    }
    Corpus c;
    EmbError err;
    ck_assert_msg(load_bytes(&c, text, len, 200000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_tokens, 400000);
    ck_assert_int_eq(c.vocab_size, 100001);
    int64_t bad = -1;
    for (int64_t k = 1; k < c.vocab_size && bad < 0; k++) {
        if (c.counts[k] != 4) bad = k;
    }
    ck_assert_msg(bad < 0, "word %s counted %lld times, not 4", bad < 0 ? "" : c.words[bad],
                  (long long)(bad < 0 ? 0 : c.counts[bad]));
    check_invariants(&c);  // all ties: byte order throughout
    corpus_free(&c);
    free(text);
}
END_TEST

// One of the kB fields of /proc/self/status ("VmRSS", "VmHWM"), in bytes.
static int64_t status_bytes(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    long long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') sscanf(line + n + 1, "%lld", &kb);
    }
    fclose(f);
    ck_assert_int_ge(kb, 0);
    return kb * 1024;
}

// The memory bound corpus.c documents: loading a text of short words
// (about 4.5 bytes a word with its space, so more words per byte than
// English) raises the peak resident memory by at most 3 times its size. Measured as the
// rise of VmHWM, which writing 5 to /proc/self/clear_refs resets to the
// current resident size. (AddressSanitizer's allocator keeps freed blocks
// in quarantine, so the bound is checked only in the plain build.)
START_TEST(file_memory_is_a_small_multiple_of_the_text) {
#if defined(__SANITIZE_ADDRESS__)
    return;
#endif
    // Written straight to the file: freeing a big buffer here would move
    // glibc's mmap threshold and change how the loader's arrays grow.
    char path[64] = "/tmp/test_corpus_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    size_t len = 0;
    uint32_t x = 1;
    int n = 1;
    while (len < (8u << 20) && n > 0) {
        x = x * 1664525u + 1013904223u;
        unsigned rank = 1u << ((x >> 8) % 16);  // ranks spread from 1 to 65535
        rank += (x >> 20) % rank;
        n = fprintf(f, "w%x ", rank);
        len += n > 0 ? (size_t)n : 0;
    }
    ck_assert_int_gt(n, 0);  // once, after the loop: no write to Check's pipe per word
    ck_assert_int_eq(fclose(f), 0);
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    ck_assert_ptr_nonnull(clear);
    ck_assert_int_gt(fprintf(clear, "5\n"), 0);
    ck_assert_int_eq(fclose(clear), 0);
    int64_t before = status_bytes("VmRSS");
    Corpus c;
    EmbError err;
    ck_assert_msg(corpus_from_file(&c, path, 1000, &err) == 0, "%s", err.msg);
    int64_t rise = status_bytes("VmHWM") - before;
    unlink(path);
    ck_assert_msg(rise <= 3 * (int64_t)len, "loading %zu bytes raised the peak by %lld bytes",
                  len, (long long)rise);
    ck_assert_int_gt(c.n_tokens, (int64_t)len / 8);
    corpus_free(&c);
}
END_TEST

/* ---------------------------------------------------------------- errors *//* ---------------------------------------------------------------- errors */

START_TEST(error_missing_file_names_it) {
    Corpus c;
    EmbError err;
    ck_assert_int_eq(corpus_from_file(&c, "/tmp/no/such/corpus.txt", 100, &err), -1);
    ck_assert_str_eq(err.msg,
                     "cannot open corpus /tmp/no/such/corpus.txt: No such file or directory");
    assert_zeroed(&c);
    ck_assert_int_eq(corpus_from_file(&c, "/tmp", 100, &err), -1);
    ck_assert_str_eq(err.msg, "cannot read corpus /tmp: Is a directory");
    assert_zeroed(&c);
    ck_assert_int_eq(corpus_from_file(&c, "/tmp/no/such/corpus.txt", 100, NULL), -1);
}
END_TEST

START_TEST(error_file_without_words) {
    static const char *const texts[] = {"", "... !!! ,,, \n\t-- ()", "\n"};
    for (int i = 0; i < 3; i++) {
        char path[64], want[128];
        Corpus c;
        EmbError err;
        write_temp(texts[i], strlen(texts[i]), path);
        ck_assert_int_eq(corpus_from_file(&c, path, 100, &err), -1);
        snprintf(want, sizeof want, "corpus %s has no words", path);
        ck_assert_str_eq(err.msg, want);
        assert_zeroed(&c);
        unlink(path);
    }
}
END_TEST

// A regular file past the limit is refused before it is read: a sparse
// file of CORPUS_MAX_BYTES + 1 bytes costs nothing to make.
START_TEST(error_file_past_the_limit) {
    char path[64] = "/tmp/test_corpus_XXXXXX", want[160];
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)CORPUS_MAX_BYTES + 1), 0);
    close(fd);
    Corpus c;
    EmbError err;
    ck_assert_int_eq(corpus_from_file(&c, path, 100, &err), -1);
    snprintf(want, sizeof want, "corpus %s is larger than 1 GiB, the limit for --corpus", path);
    ck_assert_str_eq(err.msg, want);
    assert_zeroed(&c);
    unlink(path);
}
END_TEST

// Exactly at the limit is allowed; one byte past it is not.
START_TEST(error_limit_is_exact) {
    char path[64], want[160];
    Corpus c;
    EmbError err;
    write_temp("one two 3", 9, path);
    ck_assert_msg(corpus_from_file_limit(&c, path, 10, 9, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_tokens, 3);
    corpus_free(&c);
    ck_assert_int_eq(corpus_from_file_limit(&c, path, 10, 8, &err), -1);
    snprintf(want, sizeof want, "corpus %s is larger than 8 bytes, the limit for --corpus", path);
    ck_assert_str_eq(err.msg, want);
    assert_zeroed(&c);
    unlink(path);
}
END_TEST

// A device that never ends stops with the message at the limit. (The
// default limit works the same way; reading 1 GiB of zeros would only make
// the suite slow.)
START_TEST(error_endless_device_stops_at_the_limit) {
    Corpus c;
    EmbError err;
    ck_assert_int_eq(corpus_from_file_limit(&c, "/dev/zero", 10, 4 << 20, &err), -1);
    ck_assert_str_eq(err.msg, "corpus /dev/zero is larger than 4 MiB, the limit for --corpus");
    assert_zeroed(&c);
}
END_TEST

// A pipe whose writer never stops (words, this time) stops at the limit.
START_TEST(error_endless_pipe_stops_at_the_limit) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        static const char words[] = "the cat eats fish near the river . ";
        for (;;) {
            if (write(fds[1], words, sizeof words - 1) < 0) _exit(0);  // reader gone
        }
    }
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    Corpus c;
    EmbError err;
    int rc = corpus_from_file_limit(&c, path, 10, 1 << 20, &err);
    close(fds[0]);  // the writer's next write fails (SIGPIPE or EPIPE): it ends
    waitpid(pid, NULL, 0);
    ck_assert_int_eq(rc, -1);
    char want[128];
    snprintf(want, sizeof want, "corpus %s is larger than 1 MiB, the limit for --corpus", path);
    ck_assert_str_eq(err.msg, want);
    assert_zeroed(&c);
}
END_TEST

START_TEST(error_max_vocab_too_small) {
    Corpus c;
    EmbError err;
    ck_assert_int_eq(load_text(&c, "a b c", 1, &err), -1);
    ck_assert_str_eq(err.msg, "max_vocab must be >= 2 (<unk> and at least one word), got 1");
    assert_zeroed(&c);
    ck_assert_int_eq(load_text(&c, "a b c", -3, &err), -1);
    ck_assert_str_eq(err.msg, "max_vocab must be >= 2 (<unk> and at least one word), got -3");
}
END_TEST

START_TEST(error_bad_n_sentences) {
    const int64_t bad[] = {0, -1, 10000001, INT64_MAX};
    for (int i = 0; i < 4; i++) {
        Corpus c;
        EmbError err;
        char want[128];
        ck_assert_int_eq(corpus_builtin(&c, 0, bad[i], &err), -1);
        snprintf(want, sizeof want, "n_sentences must be in [1, 10000000], got %lld",
                 (long long)bad[i]);
        ck_assert_str_eq(err.msg, want);
        assert_zeroed(&c);
    }
}
END_TEST

/* ---------------------------------------------------------------- entropy, free */

START_TEST(entropy_of_hand_made_corpora) {
    Corpus c;
    EmbError err;
    ck_assert_int_eq(load_text(&c, "x y", 3, &err), 0);  // <unk> has count 0
    ck_assert_int_eq(c.vocab_size, 3);
    ck_assert_double_eq_tol(corpus_unigram_entropy(&c), log(2.0), 1e-12);
    corpus_free(&c);
    ck_assert_int_eq(load_text(&c, "x y", 2, &err), 0);  // y is <unk>: still two halves
    ck_assert_double_eq_tol(corpus_unigram_entropy(&c), log(2.0), 1e-12);
    corpus_free(&c);
    ck_assert_int_eq(load_text(&c, "a a a b", 10, &err), 0);
    ck_assert_double_eq_tol(corpus_unigram_entropy(&c), -(0.75 * log(0.75) + 0.25 * log(0.25)),
                            1e-12);
    corpus_free(&c);
    ck_assert_int_eq(load_text(&c, "hello HELLO", 10, &err), 0);
    ck_assert_double_eq_tol(corpus_unigram_entropy(&c), 0.0, 1e-12);
    corpus_free(&c);

    Corpus zero = {0};
    ck_assert_double_eq_tol(corpus_unigram_entropy(&zero), 0.0, 1e-12);
    c = builtin(0, 1000);
    double h = corpus_unigram_entropy(&c);
    ck_assert(h > 2.5 && h < log((double)c.vocab_size));
    corpus_free(&c);
}
END_TEST

START_TEST(free_is_safe_and_zeroes) {
    Corpus c = {0};
    corpus_free(&c);
    corpus_free(&c);
    corpus_free(NULL);
    c = builtin(0, 10);
    corpus_free(&c);
    assert_zeroed(&c);
    ck_assert_ptr_null(c.category_names);
    ck_assert_int_eq(c.n_categories, 0);
    corpus_free(&c);
}
END_TEST

static Suite *corpus_suite(void) {
    Suite *s = suite_create("corpus");
    TCase *built = tcase_create("builtin");
    tcase_add_test(built, builtin_is_determined_by_its_seed);
    tcase_add_test(built, builtin_keeps_the_invariants);
    tcase_add_test(built, builtin_vocabulary_is_the_grammar);
    tcase_add_test(built, builtin_short_corpus_keeps_unused_words);
    tcase_add_test(built, builtin_sentences_end_with_period);
    suite_add_tcase(s, built);
    TCase *grammar = tcase_create("grammar");
    tcase_set_timeout(grammar, 30);
    tcase_add_test(grammar, grammar_next_categories_are_as_promised);
    tcase_add_test(grammar, grammar_same_category_same_next_words);
    suite_add_tcase(s, grammar);
    TCase *file = tcase_create("file");
    tcase_set_timeout(file, 30);
    tcase_add_test(file, file_lowercases_and_splits_on_punctuation);
    tcase_add_test(file, file_rare_words_become_unk);
    tcase_add_test(file, file_keeps_utf8_words_and_cuts_long_ones);
    tcase_add_test(file, file_nul_bytes_separate_words);
    tcase_add_test(file, file_survives_binary_input);
    tcase_add_test(file, file_counts_many_distinct_words);
    tcase_add_test(file, file_memory_is_a_small_multiple_of_the_text);
    suite_add_tcase(s, file);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, error_missing_file_names_it);
    tcase_add_test(errors, error_file_without_words);
    tcase_add_test(errors, error_max_vocab_too_small);
    tcase_add_test(errors, error_file_past_the_limit);
    tcase_add_test(errors, error_limit_is_exact);
    tcase_add_test(errors, error_endless_device_stops_at_the_limit);
    tcase_add_test(errors, error_endless_pipe_stops_at_the_limit);
    tcase_add_test(errors, error_bad_n_sentences);
    suite_add_tcase(s, errors);
    TCase *misc = tcase_create("entropy");
    tcase_add_test(misc, entropy_of_hand_made_corpora);
    tcase_add_test(misc, free_is_safe_and_zeroes);
    suite_add_tcase(s, misc);
    return s;
}

int main(void) { return test_main(corpus_suite()); }
