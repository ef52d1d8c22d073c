/*
 * test_programs.c - the chapter programs as a user runs them: output that
 * is whole or absent (a full disk, kill -9 at any moment), a run that stops
 * being finite, messages that name the real problem, and values.tsv.
 */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ----------------------------------------------------------- full disk */

START_TEST(a_full_disk_is_an_error) {
    const char *cmds[] = {
        "{ " BIN_DIR "/ch01 --hist-vocab 2 --out build/tests/full1 > /dev/full; }",
        "{ " BIN_DIR "/ch02 --steps 5 --out build/tests/full2 > /dev/full; }",
        "{ " BIN_DIR "/ch03 --steps 5 --pretrain-steps 5 --out build/tests/full3 > /dev/full; }",
        "{ " BIN_DIR "/ch01 --help > /dev/full; }",
        "{ " BIN_DIR "/ch02 --help > /dev/full; }",
        "{ " BIN_DIR "/ch03 --help > /dev/full; }",
    };
    system("rm -rf build/tests/full1 build/tests/full2 build/tests/full3");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *out;
        ck_assert_msg(test_run(cmds[i], &out) == 1, "%s exited 0", cmds[i]);
        ck_assert_msg(strstr(out, ": cannot write the output: No space left on device\n"),
                      "%s: got '%s'", cmds[i], out);
        free(out);
    }
    struct stat st;  // a run whose output was lost leaves no folder
    ck_assert_int_ne(stat("build/tests/full2", &st), 0);
}
END_TEST

/* --------------------------------------------------------------- kill -9 */

// The names in dir, sorted, joined by '\n' (caller frees), or NULL.
static char *list_dir(const char *dir) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) return NULL;
    char *out = calloc(4096, 1);
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            strncat(out, names[i]->d_name, 4095 - strlen(out));
            strncat(out, "\n", 4095 - strlen(out));
        }
        free(names[i]);
    }
    free(names);
    return out;
}

// True if the two folders hold the same files with the same bytes.
static bool same_folder(const char *a, const char *b) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "diff -r %s %s > /dev/null 2>&1", a, b);
    return system(cmd) == 0;
}

// Runs ch02 with the seed into out, with EMB_TEST_KILL_AT=kill_at (0: no
// hook) or a SIGKILL after delay_us microseconds (0: none), and with
// EMB_TEST_NO_EXCHANGE set when fallback. Returns the wait status.
static int run_ch02(const char *out, int seed, int kill_at, long delay_us, bool fallback) {
    char seed_s[16], at[16];
    snprintf(seed_s, sizeof seed_s, "%d", seed);
    snprintf(at, sizeof at, "%d", kill_at);
    pid_t pid = fork();
    if (pid == 0) {
        if (kill_at > 0) setenv("EMB_TEST_KILL_AT", at, 1);
        if (fallback) setenv("EMB_TEST_NO_EXCHANGE", "1", 1);
        freopen("/dev/null", "w", stdout);
        execl(BIN_DIR "/ch02", "ch02", "--steps", "40", "--sentences", "40", "--seed", seed_s,
              "--out", out, (char *)NULL);
        _exit(127);
    }
    if (delay_us > 0) {
        struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    return status;
}

// After a run was killed, out holds the old run or the new one, whole.
static void check_whole(const char *out, const char *old_ref, const char *new_ref,
                        const char *when) {
    ck_assert_msg(same_folder(out, old_ref) || same_folder(out, new_ref),
                  "%s: %s holds neither the old run nor the new one", when, out);
}

// A run killed at every moment where it commits something (each file, and
// between swapping the folders and removing the old run), and at a few
// moments in time, leaves its --out folder as the old run or the new one;
// the next run removes what the killed ones left.
START_TEST(a_killed_run_leaves_the_old_run_or_the_new_one) {
    const char *dir = "build/tests/kill", *out = "build/tests/kill/out";
    system("rm -rf build/tests/kill build/tests/kill-old build/tests/kill-new");
    ck_assert_int_eq(run_ch02("build/tests/kill-old", 1, 0, 0, false), 0);
    ck_assert_int_eq(run_ch02("build/tests/kill-new", 2, 0, 0, false), 0);
    ck_assert_int_eq(system("mkdir -p build/tests/kill"), 0);
    int killed = 0;
    for (int at = 1; at < 20; at++) {
        system("rm -rf build/tests/kill/out && cp -r build/tests/kill-old build/tests/kill/out");
        int status = run_ch02(out, 2, at, 0, false);
        char when[32];
        snprintf(when, sizeof when, "killed at moment %d", at);
        check_whole(out, "build/tests/kill-old", "build/tests/kill-new", when);
        if (!WIFSIGNALED(status)) break;  // the run got past its last moment
        killed++;
    }
    ck_assert_int_ge(killed, 7);  // six files, the swap, and more
    long delays[] = {1000, 5000, 20000, 60000, 150000};
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        run_ch02(out, (int)i % 2 ? 1 : 2, 0, delays[i], false);
        check_whole(out, "build/tests/kill-old", "build/tests/kill-new", "killed in time");
    }
    ck_assert_int_eq(run_ch02(out, 2, 0, 0, false), 0);
    ck_assert(same_folder(out, "build/tests/kill-new"));
    char *names = list_dir(dir);
    ck_assert_str_eq(names, "out\n");  // no partial or old folders left
    free(names);
    names = list_dir(out);
    ck_assert_ptr_null(strstr(names, ".tmp"));
    free(names);
}
END_TEST

/* -------------------------------------------------------- runs and values */

START_TEST(a_diverging_run_stops_once_with_what_to_try) {
    char *out;
    system("rm -rf build/tests/nan");
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --lr 1e6 --out build/tests/nan", &out), 1);
    const char *msg = strstr(out, "ch02: step ");
    ck_assert_msg(msg != NULL, "got '%s'", out);
    ck_assert_ptr_nonnull(strstr(msg, ": the loss is "));
    ck_assert_ptr_nonnull(strstr(msg, "not a finite number: the steps diverged; try a smaller "
                                      "learning rate (--lr; this run used 1e+06)\n"));
    ck_assert_ptr_null(strstr(msg + 1, "ch02: step "));  // said once
    ck_assert_ptr_null(strstr(out, "-nan"));
    free(out);
    struct stat st;
    ck_assert_int_ne(stat("build/tests/nan", &st), 0);  // no run folder
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --lr 1e6 --keep-going --steps 50 "
                              "--out build/tests/nan", &out), 0);  // to watch it diverge
    free(out);
    test_fails_with(BIN_DIR "/ch02 --keep-going=1", "ch02: --keep-going takes no value\n");
    ck_assert_int_eq(test_run(BIN_DIR "/ch03 --lr 1e6 --steps 50 --pretrain-steps 0 "
                              "--out build/tests/nan", &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "the steps diverged; try a smaller learning rate"));
    free(out);
}
END_TEST

// The gradient check covers every entry of the rows looked up at any D
// (it once stopped at 64 columns).
START_TEST(the_gradient_check_covers_every_looked_up_entry) {
    char *out;
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --dim 100 --steps 1 --out build/tests/dim", &out),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "scatter-add backward: 1600 entries of W"));
    free(out);
}
END_TEST

START_TEST(messages_name_the_real_problem) {
    struct { const char *cmd, *want; } cases[] = {
        {BIN_DIR "/ch01 -x", "ch01: unknown option '-x' (see --help)\n"},
        {BIN_DIR "/ch01 --seed ' -18446744073709551615'",
         "ch01: --seed: expected a whole number in [-9223372036854775808, "
         "18446744073709551615], got ' -18446744073709551615'\n"},
        {BIN_DIR "/ch02 --vocab 50", "ch02: --vocab is only used with --corpus; give --corpus "
                                     "too, or leave --vocab out\n"},
        {BIN_DIR "/ch03 --max-norm inf",
         "ch03: --max-norm: expected a finite number in [0, inf), got 'inf'\n"},
        {BIN_DIR "/ch02 --out README.md", "ch02: --out: 'README.md' exists and is not a "
                                          "folder\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_fails_with(cases[i].cmd, cases[i].want);
    }
    char *out;  // --name=value works, and 1e-320 is a learning rate in range
    ck_assert_int_eq(test_run(BIN_DIR "/ch01 --dim=3 --hist-vocab=2 --out build/tests/eq", &out),
                     0);
    free(out);
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --lr 1e-320 --steps 2 --out build/tests/sub", &out),
                     0);
    free(out);
}
END_TEST

// The value recorded under key in dir/values.tsv, into buf.
static const char *value_of(const char *dir, const char *key, char *buf, size_t size) {
    char path[256], line[256];
    snprintf(path, sizeof path, "%s/values.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    const char *found = NULL;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '\t') {
            snprintf(buf, size, "%s", line + klen + 1);
            buf[strcspn(buf, "\n")] = '\0';
            found = buf;
        }
    }
    fclose(f);
    return found;
}

// values.tsv holds what the run printed, formatted as the prose prints it;
// chapter 2's run without zero_grad diverges on purpose, and says so.
START_TEST(values_tsv_matches_the_printed_run) {
    char *out, buf[64];
    ck_assert_int_eq(test_run(BIN_DIR "/ch02 --out build/tests/values2", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "corpus: 14192 tokens, vocabulary 29"));
    ck_assert_ptr_nonnull(strstr(out, "the same run without zero_grad: loss NaN; above twice "
                                      "the baseline from step 64"));
    ck_assert_ptr_nonnull(strstr(out, "(on purpose: this divergence is the lesson"));
    free(out);
    ck_assert_str_eq(value_of("build/tests/values2", "corpus.tokens", buf, 64), "14,192");
    ck_assert_str_eq(value_of("build/tests/values2", "baseline", buf, 64), "3.00");
    ck_assert_str_eq(value_of("build/tests/values2", "gradcheck.entries", buf, 64), "32");
    ck_assert_str_eq(value_of("build/tests/values2", "no_zero_grad.blowup_step", buf, 64),
                     "64");
    ck_assert_ptr_null(value_of("build/tests/values2", "no.such.key", buf, 64));
}
END_TEST

// Where renameat2 cannot swap folders, the old run is renamed aside first:
// killed between the two renames, out is missing for a moment, and the
// next run puts the old run back before it starts (here a run that then
// fails, so that what it leaves is the old run).
START_TEST(the_fallback_is_repaired_by_the_next_run) {
    const char *out = "build/tests/kill/out";
    system("rm -rf build/tests/kill build/tests/kill-old build/tests/kill-new");
    ck_assert_int_eq(run_ch02("build/tests/kill-old", 1, 0, 0, true), 0);
    ck_assert_int_eq(run_ch02("build/tests/kill-new", 2, 0, 0, true), 0);
    ck_assert_int_eq(system("mkdir -p build/tests/kill"), 0);
    int killed = 0, gaps = 0;
    for (int at = 1; at < 20; at++) {
        system("rm -rf build/tests/kill/out* && cp -r build/tests/kill-old build/tests/kill/out");
        int status = run_ch02(out, 2, at, 0, true);
        struct stat st;
        if (stat(out, &st) != 0) {  // killed between the renames
            gaps++;
            char *msg;
            ck_assert_int_eq(test_run("EMB_TEST_NO_EXCHANGE=1 " BIN_DIR "/ch02 --sentences 40 "
                                      "--batch 100000 --out build/tests/kill/out", &msg), 1);
            free(msg);
            ck_assert(same_folder(out, "build/tests/kill-old"));
        }
        check_whole(out, "build/tests/kill-old", "build/tests/kill-new", "fallback");
        if (!WIFSIGNALED(status)) break;
        killed++;
    }
    ck_assert_int_ge(killed, 7);
    ck_assert_int_eq(gaps, 1);  // the one moment between the two renames
    char *names = list_dir("build/tests/kill");
    ck_assert_str_eq(names, "out\n");
    free(names);
}
END_TEST

static Suite *programs_suite(void) {
    Suite *s = suite_create("programs");
    TCase *whole = tcase_create("whole-or-absent");
    tcase_set_timeout(whole, 120);
    tcase_add_test(whole, a_full_disk_is_an_error);
    tcase_add_test(whole, a_killed_run_leaves_the_old_run_or_the_new_one);
    tcase_add_test(whole, the_fallback_is_repaired_by_the_next_run);
    suite_add_tcase(s, whole);
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 60);
    tcase_add_test(runs, a_diverging_run_stops_once_with_what_to_try);
    tcase_add_test(runs, the_gradient_check_covers_every_looked_up_entry);
    tcase_add_test(runs, messages_name_the_real_problem);
    tcase_add_test(runs, values_tsv_matches_the_printed_run);
    suite_add_tcase(s, runs);
    return s;
}

int main(void) {
    return test_main(programs_suite());
}
