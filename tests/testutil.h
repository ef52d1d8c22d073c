/*
 * testutil.h - small helpers shared by the Check suites (header-only).
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

// Under AddressSanitizer a failed huge malloc must return NULL (so the
// library's "cannot allocate" path runs) instead of stopping the program.
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

// Where the chapter programs are (the Makefile defines it per build).
#ifndef BIN_DIR
#define BIN_DIR "build/bin"
#endif

// The float32 bit pattern of x.
static inline uint32_t test_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

// Asserts that two floats are the same float, bit for bit, and shows both
// as numbers and as bits when they are not.
#define assert_same_float(got, want)                                                        \
    do {                                                                                    \
        float got_ = (got), want_ = (want);                                                 \
        ck_assert_msg(test_bits(got_) == test_bits(want_),                                  \
                      "%s is %.9g (bits 0x%08x), expected %s = %.9g (bits 0x%08x)", #got,    \
                      (double)got_, test_bits(got_), #want, (double)want_, test_bits(want_)); \
    } while (0)

// Asserts that a float has the given bit pattern (a value PyTorch printed as
// bits), showing both as numbers.
#define assert_float_bits(got, want_bits)                                                   \
    do {                                                                                    \
        float got_ = (got), want_;                                                          \
        uint32_t bits_ = (want_bits);                                                       \
        memcpy(&want_, &bits_, sizeof want_);                                               \
        ck_assert_msg(test_bits(got_) == bits_,                                             \
                      "%s is %.9g (bits 0x%08x), expected %.9g (bits 0x%08x)", #got,         \
                      (double)got_, test_bits(got_), (double)want_, bits_);                 \
    } while (0)

// Runs a shell command, returns its exit status and (in *out, caller frees)
// everything it printed on stdout and stderr.
static inline int test_run(const char *cmd, char **out) {
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int status = pclose(p);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs cmd and asserts that it exits with status 1 and prints exactly want.
static inline void test_fails_with(const char *cmd, const char *want) {
    char *out;
    int rc = test_run(cmd, &out);
    ck_assert_msg(rc == 1, "%s: exit status %d, expected 1; it printed '%s'", cmd, rc, out);
    ck_assert_msg(strcmp(out, want) == 0, "%s: printed '%s', expected '%s'", cmd, out, want);
    free(out);
}

// A program run that must fail: its arguments, and the words its message
// must contain, separated by '|' (the bad value, the option, the valid
// range), so that the test holds however the sentence around them is put.
typedef struct TestBadRun {
    const char *args, *words;
} TestBadRun;

// Runs PROGRAM with each case's arguments (after common_args) and asserts
// that it exits with status 1, that its message starts with the program's
// name ("ch02: ...") and that it contains every one of the case's words.
static inline void test_rejects_bad_input(const char *program, const char *common_args,
                                          const TestBadRun *cases, size_t n) {
    const char *name = strrchr(program, '/') ? strrchr(program, '/') + 1 : program;
    for (size_t i = 0; i < n; i++) {
        char cmd[1024], *out;
        snprintf(cmd, sizeof cmd, "%s %s %s", program, common_args, cases[i].args);
        int rc = test_run(cmd, &out);
        ck_assert_msg(rc == 1, "%s: exit status %d, expected 1; it printed '%s'", cases[i].args,
                      rc, out);
        ck_assert_msg(strncmp(out, name, strlen(name)) == 0 && out[strlen(name)] == ':',
                      "%s: the message '%s' does not start with '%s:'", cases[i].args, out, name);
        char words[512];
        snprintf(words, sizeof words, "%s", cases[i].words);
        for (char *w = strtok(words, "|"); w; w = strtok(NULL, "|")) {
            ck_assert_msg(strstr(out, w) != NULL, "%s: the message '%s' does not say '%s'",
                          cases[i].args, out, w);
        }
        free(out);
    }
}

// The value of KEY in the text of a run's values.tsv ("key<TAB>value" lines);
// fails the test if the key is not there.
static inline double test_value_of(const char *values, const char *key) {
    size_t n = strlen(key);
    for (const char *line = values; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n') line++;
        if (strncmp(line, key, n) == 0 && line[n] == '\t') return strtod(line + n + 1, NULL);
    }
    ck_abort_msg("no %s in values.tsv", key);
    return 0;
}

// Runs a suite in fork mode (CK_FORK may override) and returns the exit status.
static inline int test_main(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
