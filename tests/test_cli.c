/*
 * test_cli.c - the programs' support code: options as a table (src/cli.c),
 * the numbers a run records (src/run_values.c), a run's folder replaced as
 * a whole (src/run_dir.c) and the run files (src/tsv.c).
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/cli.h"
#include "../src/run_dir.h"
#include "../src/run_values.h"
#include "../src/tsv.h"
#include "testutil.h"

/* ------------------------------------------------------------- options */

typedef struct TestOpts {
    int64_t dim, vocab, pad;
    double lr, norm, max_norm;
    uint64_t seed;
    const char *corpus;
    bool has_pad;
} TestOpts;

enum { N_TEST_OPTIONS = 8 };

// A table like a chapter's: every kind, a word, an option that needs another.
static void test_options(TestOpts *o, CliOption *t) {
    *o = (TestOpts){.corpus = NULL};
    CliOption options[N_TEST_OPTIONS] = {
        {"dim", "D", CLI_INT, &o->dim, "2", "embedding_dim", .lo = 1, .hi = 4096},
        {"lr", "LR", CLI_DOUBLE, &o->lr, "0.5", "learning rate", .dlo = 0, .dhi = 1e6},
        {"norm-type", "P", CLI_DOUBLE, &o->norm, "2", "p", .dlo = 0, .dhi = INFINITY,
         .inf_ok = true},
        {"max-norm", "M", CLI_DOUBLE, &o->max_norm, "1", "m", .dlo = 0, .dhi = INFINITY},
        {"seed", "S", CLI_SEED, &o->seed, "0", .help = "torch.manual_seed"},
        {"padding-idx", "P", CLI_INT, &o->pad, "-1", "row", .lo = INT64_MIN, .hi = INT64_MAX,
         .word = "none", .is_value = &o->has_pad},
        {"corpus", "FILE", CLI_STRING, &o->corpus, NULL, .help = "text"},
        {"vocab", "V", CLI_INT, &o->vocab, "1000", "words", .lo = 2, .hi = 10000000,
         .needs = "corpus"},
    };
    memcpy(t, options, sizeof options);
}

// Parses the arguments (after a program name); returns cli_parse's result.
static int parse(TestOpts *o, EmbError *err, int argc, const char **args) {
    CliOption t[N_TEST_OPTIONS];
    char *argv[16] = {"prog"};
    test_options(o, t);
    for (int i = 0; i < argc; i++) argv[i + 1] = (char *)args[i];
    return cli_parse(t, N_TEST_OPTIONS, argc + 1, argv, err);
}

#define PARSE(o, err, ...) \
    parse(o, err, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), \
          (const char *[]){__VA_ARGS__})

START_TEST(defaults_and_both_spellings) {
    TestOpts o;
    EmbError err;
    ck_assert_int_eq(parse(&o, &err, 0, NULL), 0);
    ck_assert_int_eq(o.dim, 2);
    ck_assert_double_eq(o.lr, 0.5);
    ck_assert_int_eq(o.pad, -1);
    ck_assert(o.has_pad);
    ck_assert_ptr_null(o.corpus);
    ck_assert_int_eq(PARSE(&o, &err, "--dim=3", "--lr", "0.25"), 0);
    ck_assert_int_eq(o.dim, 3);
    ck_assert_double_eq(o.lr, 0.25);
    ck_assert_int_eq(PARSE(&o, &err, "--dim", "7"), 0);
    ck_assert_int_eq(o.dim, 7);
    ck_assert_int_eq(PARSE(&o, &err, "--padding-idx", "none"), 0);
    ck_assert(!o.has_pad);
    ck_assert_int_eq(PARSE(&o, &err, "--padding-idx=-30"), 0);
    ck_assert(o.has_pad);
    ck_assert_int_eq(o.pad, -30);
    ck_assert_int_eq(PARSE(&o, &err, "--help"), CLI_HELP);
    ck_assert_int_eq(PARSE(&o, &err, "-h"), CLI_HELP);
}
END_TEST

START_TEST(unknown_options_are_named) {
    TestOpts o;
    EmbError err;
    ck_assert_int_eq(PARSE(&o, &err, "-x"), -1);
    ck_assert_str_eq(err.msg, "unknown option '-x' (see --help)");
    ck_assert_int_eq(PARSE(&o, &err, "--bogus=1"), -1);
    ck_assert_str_eq(err.msg, "unknown option '--bogus' (see --help)");
    ck_assert_int_eq(PARSE(&o, &err, "--bogus", "1"), -1);
    ck_assert_str_eq(err.msg, "unknown option '--bogus' (see --help)");
    ck_assert_int_eq(PARSE(&o, &err, "--dim"), -1);
    ck_assert_str_eq(err.msg, "--dim: missing value (see --help)");
    ck_assert_int_eq(PARSE(&o, &err, "--help=2"), -1);
    ck_assert_str_eq(err.msg, "--help takes no value");
    ck_assert_int_eq(PARSE(&o, &err, "stray"), -1);
    ck_assert_str_eq(err.msg, "unexpected argument 'stray' (options start with --; see --help)");
}
END_TEST

START_TEST(numbers_are_what_they_look_like) {
    TestOpts o;
    EmbError err;
    ck_assert_int_eq(PARSE(&o, &err, "--seed", " -18446744073709551615"), -1);
    ck_assert_str_eq(err.msg, "--seed: expected a whole number in [-9223372036854775808, "
                              "18446744073709551615], got ' -18446744073709551615'");
    ck_assert_int_eq(PARSE(&o, &err, "--seed", "-18446744073709551615"), -1);
    ck_assert_int_eq(PARSE(&o, &err, "--seed", "+5"), -1);
    ck_assert_int_eq(PARSE(&o, &err, "--seed", "18446744073709551616"), -1);
    ck_assert_int_eq(PARSE(&o, &err, "--seed", "18446744073709551615"), 0);
    ck_assert_uint_eq(o.seed, UINT64_MAX);
    ck_assert_int_eq(PARSE(&o, &err, "--seed", "-1"), 0);  // torch: -1 -> 2^64 - 1
    ck_assert_uint_eq(o.seed, UINT64_MAX);
    ck_assert_int_eq(PARSE(&o, &err, "--dim", " 3"), -1);
    ck_assert_str_eq(err.msg, "--dim: expected a whole number in [1, 4096], got ' 3'");
    ck_assert_int_eq(PARSE(&o, &err, "--dim", "3x"), -1);
    ck_assert_int_eq(PARSE(&o, &err, "--dim", "4097"), -1);
}
END_TEST

// 1e-320 is a subnormal double: in range, so accepted as the nearest double
// although strtod flags the underflow. Overflow and NaN are refused.
START_TEST(subnormal_infinite_and_nan_values) {
    TestOpts o;
    EmbError err;
    ck_assert_int_eq(PARSE(&o, &err, "--lr", "1e-320"), 0);
    ck_assert(o.lr > 0.0 && o.lr < 1e-319);
    ck_assert_int_eq(PARSE(&o, &err, "--lr", "1e400"), -1);
    ck_assert_str_eq(err.msg, "--lr: expected a number in [0, 1e+06], got '1e400'");
    ck_assert_int_eq(PARSE(&o, &err, "--lr", "inf"), -1);
    ck_assert_str_eq(err.msg, "--lr: expected a finite number in [0, 1e+06], got 'inf'");
    ck_assert_int_eq(PARSE(&o, &err, "--lr", "nan"), -1);
    ck_assert_str_eq(err.msg, "--lr: expected a number in [0, 1e+06], got 'nan'");
    ck_assert_int_eq(PARSE(&o, &err, "--max-norm", "inf"), -1);
    ck_assert_str_eq(err.msg, "--max-norm: expected a finite number in [0, inf), got 'inf'");
    ck_assert_int_eq(PARSE(&o, &err, "--max-norm", "-1"), -1);
    ck_assert_str_eq(err.msg, "--max-norm: expected a number in [0, inf), got '-1'");
    ck_assert_int_eq(PARSE(&o, &err, "--norm-type", "inf"), 0);
    ck_assert(isinf(o.norm));
    ck_assert_int_eq(PARSE(&o, &err, "--norm-type", "-inf"), -1);
    ck_assert_str_eq(err.msg, "--norm-type: expected a number in [0, inf], got '-inf'");
}
END_TEST

START_TEST(an_option_needs_its_partner) {
    TestOpts o;
    EmbError err;
    ck_assert_int_eq(PARSE(&o, &err, "--vocab", "5"), -1);
    ck_assert_str_eq(err.msg, "--vocab is only used with --corpus; give --corpus too, or "
                              "leave --vocab out");
    ck_assert_int_eq(PARSE(&o, &err, "--vocab", "5", "--corpus", "a.txt"), 0);
    ck_assert_int_eq(o.vocab, 5);
    ck_assert_str_eq(o.corpus, "a.txt");
}
END_TEST

START_TEST(a_bad_default_is_reported) {
    int64_t v;
    EmbError err;
    CliOption t[] = {{"steps", "N", CLI_INT, &v, "0", "steps", .lo = 1, .hi = 10}};
    char *argv[] = {"prog"};
    ck_assert_int_eq(cli_parse(t, 1, 1, argv, &err), -1);
    ck_assert_str_eq(err.msg, "--steps: expected a whole number in [1, 10], got '0'");
}
END_TEST

START_TEST(help_lists_every_option_with_its_default) {
    TestOpts o;
    CliOption t[N_TEST_OPTIONS];
    test_options(&o, t);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_print_help(f, "prog", "Does things.", t, N_TEST_OPTIONS);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "usage: prog [options]\n\nDoes things.\n\n"));
    ck_assert_ptr_nonnull(strstr(text, "  --dim D          embedding_dim, default 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "  --corpus FILE    text\n"));
    ck_assert_ptr_nonnull(strstr(text, "  --help           this text\n"));
    free(text);
}
END_TEST

/* --------------------------------------------------------------- values */

START_TEST(values_are_checked_and_formatted) {
    RunValues v = {0};
    char buf[64];
    ck_assert_int_eq(run_values_set(&v, "loss.final", "%.2f", 1.5615), 0);
    ck_assert_int_eq(run_values_set_sci(&v, "err", 3.13e-07), 0);
    ck_assert_int_eq(run_values_set_count(&v, "tokens", 14192), 0);
    ck_assert_int_eq(run_values_set_count(&v, "big", 1234567890), 0);
    ck_assert_str_eq(run_values_get(&v, "loss.final", buf, sizeof buf), "1.56");
    ck_assert_str_eq(run_values_get(&v, "err", buf, sizeof buf), "3 \\cdot 10^{-7}");
    ck_assert_str_eq(run_values_get(&v, "tokens", buf, sizeof buf), "14,192");
    ck_assert_str_eq(run_values_get(&v, "big", buf, sizeof buf), "1,234,567,890");
    ck_assert_ptr_null(run_values_get(&v, "loss", buf, sizeof buf));
    ck_assert(!v.failed);
    ck_assert_int_eq(run_values_set(&v, "loss.final", "%d", 2), -1);  // set twice
    ck_assert_int_eq(run_values_set(&v, "Loss", "%d", 2), -1);        // upper case
    ck_assert_int_eq(run_values_set(&v, "tab", "a\tb"), -1);
    ck_assert(v.failed);
    ck_assert_str_eq(v.err.msg, "values.tsv: key 'loss.final': set twice");
    EmbError err;
    ck_assert_int_eq(run_values_write(&v, "build/tests", &err), -1);
    ck_assert_str_eq(err.msg, "values.tsv: key 'loss.final': set twice");
    run_values_free(&v);
}
END_TEST

START_TEST(values_file_holds_one_line_per_key) {
    RunValues v = {0};
    EmbError err;
    system("rm -rf build/tests/values && mkdir -p build/tests/values");
    run_values_set(&v, "a", "%d", 1);
    run_values_set(&v, "b.c", "%s", "two words");
    ck_assert_int_eq(run_values_write(&v, "build/tests/values", &err), 0);
    run_values_free(&v);
    FILE *f = fopen("build/tests/values/values.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char text[128] = {0};
    ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    ck_assert_str_eq(text, "a\t1\nb.c\ttwo words\n");
}
END_TEST

/* ----------------------------------------------------------- run folder */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

// The pid of a process that has ended.
static long dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

START_TEST(a_run_replaces_its_folder_whole) {
    RunDir rd;
    EmbError err;
    system("rm -rf build/tests/rundir && mkdir -p build/tests/rundir/out");
    write_file("build/tests/rundir/out/values.tsv", "old\t1\n");
    write_file("build/tests/rundir/out/old-only.tsv", "x\n");
    ck_assert_int_eq(run_dir_begin(&rd, "build/tests/rundir/out", &err), 0);
    ck_assert(exists(rd.tmp));
    char path[1200];
    snprintf(path, sizeof path, "%s/values.tsv", rd.tmp);
    write_file(path, "new\t2\n");
    ck_assert(exists("build/tests/rundir/out/old-only.tsv"));  // not yet replaced
    ck_assert_int_eq(run_dir_commit(&rd, &err), 0);
    ck_assert(!exists("build/tests/rundir/out/old-only.tsv"));
    ck_assert(exists("build/tests/rundir/out/values.tsv"));
    ck_assert(!exists(rd.tmp));
}
END_TEST

START_TEST(stale_folders_of_dead_runs_are_removed) {
    RunDir rd;
    EmbError err;
    char partial[256], old[256];
    long pid = dead_pid();
    system("rm -rf build/tests/stale && mkdir -p build/tests/stale");
    snprintf(partial, sizeof partial, "build/tests/stale/out.partial-%ld", pid);
    snprintf(old, sizeof old, "build/tests/stale/out.old-%ld", pid);
    ck_assert_int_eq(mkdir(partial, 0777), 0);
    ck_assert_int_eq(mkdir(old, 0777), 0);
    write_file("build/tests/stale/out.old-x", "");  // not a run's name: left alone
    // out is missing: the fallback was killed between its renames; the old
    // run is put back, the partial one removed.
    ck_assert_int_eq(run_dir_begin(&rd, "build/tests/stale/out", &err), 0);
    ck_assert(!exists(partial));
    ck_assert(!exists(old));
    ck_assert(exists("build/tests/stale/out"));
    ck_assert(exists("build/tests/stale/out.old-x"));
    run_dir_abort(&rd);
    ck_assert(!exists(rd.tmp));
}
END_TEST

START_TEST(a_folder_that_is_not_a_run_is_refused) {
    RunDir rd;
    EmbError err;
    system("rm -rf build/tests/notrun && mkdir -p build/tests/notrun/dir");
    write_file("build/tests/notrun/dir/notes.txt", "keep me\n");
    write_file("build/tests/notrun/file", "keep me\n");
    ck_assert_int_eq(run_dir_begin(&rd, "build/tests/notrun/dir", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not empty and holds no values.tsv"));
    ck_assert_int_eq(run_dir_begin(&rd, "build/tests/notrun/file", &err), -1);
    ck_assert_str_eq(err.msg, "--out: 'build/tests/notrun/file' exists and is not a folder");
    ck_assert_int_eq(run_dir_begin(&rd, "/", &err), -1);
    ck_assert(exists("build/tests/notrun/dir/notes.txt"));
}
END_TEST

/* ------------------------------------------------------------ run files */

START_TEST(moving_average_and_any_number_of_columns) {
    double x[7] = {1, 2, 3, 4, 5, 6, 7}, out[7];
    tsv_moving_average(x, 7, 3, out);
    double want[7] = {1, 1.5, 2, 3, 4, 5, 6};
    for (int i = 0; i < 7; i++) ck_assert_double_eq_tol(out[i], want[i], 1e-12);
    enum { COLS = 20 };  // more series than chapter 3's six
    const char *names[COLS];
    const double *series[COLS];
    for (int c = 0; c < COLS; c++) names[c] = "s", series[c] = x;
    EmbError err;
    system("rm -rf build/tests/tsv && mkdir -p build/tests/tsv");
    ck_assert_int_eq(
        tsv_write_smoothed("build/tests/tsv", "m.tsv", names, series, COLS, 7, 3, &err), 0);
    FILE *f = fopen("build/tests/tsv/m.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    int tabs = 0;
    for (char *p = line; *p; p++) tabs += *p == '\t';
    ck_assert_int_eq(tabs, COLS);
    ck_assert(strncmp(line, "2\t1.500000\t1.500000", 19) == 0);
}
END_TEST

static Suite *cli_suite(void) {
    Suite *s = suite_create("cli");
    TCase *opt = tcase_create("options");
    tcase_add_test(opt, defaults_and_both_spellings);
    tcase_add_test(opt, unknown_options_are_named);
    tcase_add_test(opt, numbers_are_what_they_look_like);
    tcase_add_test(opt, subnormal_infinite_and_nan_values);
    tcase_add_test(opt, an_option_needs_its_partner);
    tcase_add_test(opt, a_bad_default_is_reported);
    tcase_add_test(opt, help_lists_every_option_with_its_default);
    suite_add_tcase(s, opt);
    TCase *out = tcase_create("output");
    tcase_add_test(out, values_are_checked_and_formatted);
    tcase_add_test(out, values_file_holds_one_line_per_key);
    tcase_add_test(out, a_run_replaces_its_folder_whole);
    tcase_add_test(out, stale_folders_of_dead_runs_are_removed);
    tcase_add_test(out, a_folder_that_is_not_a_run_is_refused);
    tcase_add_test(out, moving_average_and_any_number_of_columns);
    suite_add_tcase(s, out);
    return s;
}

int main(void) {
    return test_main(cli_suite());
}
