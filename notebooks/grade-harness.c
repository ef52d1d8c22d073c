/*
 * grade-harness.c - what notebooks/grade links into a chapter's suite so
 * that a test passes only if it ran to its end.
 *
 * Check, in fork mode, counts a test as passed when its process exits with
 * the status the test expects, 0 for an ordinary test. So a student's
 * function that calls exit(0) (or _exit, quick_exit, syscall(SYS_exit_group))
 * would pass every test that calls it. The grader links the suite with
 *
 *     -Wl,--wrap=_tcase_add_test,--wrap=srunner_run_all,--wrap=srunner_run
 *     -Wl,--wrap=suite_add_tcase,--wrap=tcase_fn_start
 *
 * and this file then changes three things, without a change to the suite:
 *
 *   - every ordinary test is registered as expecting exit status END, a
 *     number the grader draws at random for each grading and passes in
 *     EX_END_CODE (removed from the environment before any test runs);
 *   - a checked teardown, added to every test case after the suite's own,
 *     appends the test's name to the file EX_DONE and calls exit(END): it
 *     runs only when the test function returned, so a process that ends in
 *     any other way (exit, abort, a signal, a crash) ends with another
 *     status, and Check reports it; the grader also wants the name in
 *     EX_DONE (a path removed from the environment too), so guessing END
 *     is not enough;
 *   - when a test starts, sanitizer reports (of the test and of programs it
 *     runs) are sent to EX_SANITIZER_DIR/TESTNAME.PID, so the grader can
 *     name the test a report belongs to; UBSan, which reports on stderr
 *     whatever its options say, finds a line "@@ grade-harness: test NAME"
 *     there before the test's output.
 *
 * It also writes the plan, every test the suite registered (one
 * "name<TAB>iterations<TAB>special" line each, special 1 for a test that
 * expects a signal or an exit status of its own), to EX_PLAN before the run, so that the
 * grader can name the tests that never ran when a run is stopped.
 * With EX_PLAN_ONLY set it writes the plan and runs nothing. Tests that
 * expect a signal or an exit status of their own are left alone.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void __real__tcase_add_test(TCase *tc, const TTest *ttest, int signal, int allowed_exit_value,
                            int start, int end);
void __real_suite_add_tcase(Suite *s, TCase *tc);
void __real_srunner_run_all(SRunner *sr, enum print_output print_mode);
void __real_srunner_run(SRunner *sr, const char *sname, const char *tcname,
                        enum print_output print_mode);
void __real_tcase_fn_start(const char *fname, const char *file, int line);

void __wrap__tcase_add_test(TCase *tc, const TTest *ttest, int signal, int allowed_exit_value,
                            int start, int end);
void __wrap_suite_add_tcase(Suite *s, TCase *tc);
void __wrap_srunner_run_all(SRunner *sr, enum print_output print_mode);
void __wrap_srunner_run(SRunner *sr, const char *sname, const char *tcname,
                        enum print_output print_mode);
void __wrap_tcase_fn_start(const char *fname, const char *file, int line);

// Provided by the sanitizer runtimes; absent (NULL) in a build without them.
extern void __sanitizer_set_report_path(const char *path) __attribute__((weak));

enum { MAX_TESTS = 1024, MAX_CASES = 256 };

static int end_code = -1;            // the exit status of a test that ran to its end
static struct {
    const char *name;
    int iterations;
    int special;                     // expects a signal or an exit status of its own
} tests[MAX_TESTS];
static int n_tests;
static TCase *cases[MAX_CASES];
static int n_cases;
static int current_special;         // in a test's process: the running test is special
static char sanitizer_dir[4096];
static char done_path[4096];        // where a test that ran to its end writes its name
static char current_name[256];

static void read_end_code(void) {
    if (end_code >= 0) return;
    const char *s = getenv("EX_END_CODE");
    end_code = s ? atoi(s) : 0;
    if (end_code < 0 || end_code > 127) end_code = 0;
}

void __wrap__tcase_add_test(TCase *tc, const TTest *ttest, int signal, int allowed_exit_value,
                            int start, int end) {
    read_end_code();
    int special = signal != 0 || allowed_exit_value != 0;
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = ttest->name;
        tests[n_tests].iterations = end - start;
        tests[n_tests].special = special;
        n_tests++;
    }
    __real__tcase_add_test(tc, ttest, signal, special ? allowed_exit_value : end_code, start,
                           end);
}

void __wrap_suite_add_tcase(Suite *s, TCase *tc) {
    if (n_cases < MAX_CASES) cases[n_cases++] = tc;
    __real_suite_add_tcase(s, tc);
}

// The last teardown of every test: reached only when the test function returned.
static void test_ran_to_its_end(void) {
    if (current_special) return;
    FILE *f = done_path[0] ? fopen(done_path, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", current_name);
        fclose(f);
    }
    exit(end_code);
}

void __wrap_tcase_fn_start(const char *fname, const char *file, int line) {
    current_special = 0;
    snprintf(current_name, sizeof current_name, "%s", fname);
    for (int i = 0; i < n_tests; i++) {
        if (strcmp(tests[i].name, fname) == 0) current_special = tests[i].special;
    }
    if (sanitizer_dir[0]) {
        // UBSan always reports on stderr: a line there says which test follows.
        fprintf(stderr, "\n@@ grade-harness: test %s\n", fname);
        fflush(stderr);
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", sanitizer_dir, fname);
        if (__sanitizer_set_report_path) __sanitizer_set_report_path(path);
        // Programs the test runs report to the same place.
        const char *names[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS"};
        for (int k = 0; k < 2; k++) {
            const char *old = getenv(names[k]);
            char value[8192];
            snprintf(value, sizeof value, "%s%slog_path=%s", old ? old : "",
                     old && *old ? ":" : "", path);
            setenv(names[k], value, 1);
        }
    }
    __real_tcase_fn_start(fname, file, line);
}

// Before the first test: the environment read and cleaned, the plan
// written, the last teardown added. Returns 0 when only the plan is wanted.
static int prepare_run(void) {
    static int prepared, run;
    if (prepared) return run;
    prepared = 1;
    read_end_code();
    unsetenv("EX_END_CODE");
    const char *dir = getenv("EX_SANITIZER_DIR");
    if (dir) snprintf(sanitizer_dir, sizeof sanitizer_dir, "%s", dir);
    unsetenv("EX_SANITIZER_DIR");
    const char *done = getenv("EX_DONE");
    if (done) snprintf(done_path, sizeof done_path, "%s", done);
    unsetenv("EX_DONE");
    const char *plan = getenv("EX_PLAN");
    int plan_only = getenv("EX_PLAN_ONLY") != NULL;  // write the plan, run nothing
    if (plan) {
        FILE *f = fopen(plan, "w");
        if (f) {
            for (int i = 0; i < n_tests; i++) {
                fprintf(f, "%s\t%d\t%d\n", tests[i].name, tests[i].iterations, tests[i].special);
            }
            fclose(f);
        }
    }
    if (plan_only) return run = 0;
    if (end_code > 0) {
        for (int c = 0; c < n_cases; c++) tcase_add_checked_fixture(cases[c], NULL, test_ran_to_its_end);
    }
    return run = 1;
}

void __wrap_srunner_run_all(SRunner *sr, enum print_output print_mode) {
    if (prepare_run()) __real_srunner_run_all(sr, print_mode);
}

void __wrap_srunner_run(SRunner *sr, const char *sname, const char *tcname,
                        enum print_output print_mode) {
    if (prepare_run()) __real_srunner_run(sr, sname, tcname, print_mode);
}
