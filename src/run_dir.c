/*
 * run_dir.c - a program's output folder, replaced as a whole (run_dir.h).
 */
#define _GNU_SOURCE  // renameat2 and RENAME_EXCHANGE (glibc 2.28 and later), nftw
#include "run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void run_dir_checkpoint(void) {
    static long count = 0;
    const char *at = getenv("EMB_TEST_KILL_AT");
    if (at && ++count == atol(at)) kill(getpid(), SIGKILL);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int run_dir_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// Splits out into its parent folder and base name ("." for a bare name).
static int split_path(const char *out, char *parent, size_t psize, const char **base) {
    const char *slash = strrchr(out, '/');
    *base = slash ? slash + 1 : out;
    size_t n = slash ? (size_t)(slash - out) : 1;
    if (n >= psize) return -1;
    if (!slash) memcpy(parent, ".", 2);
    else if (n == 0) memcpy(parent, "/", 2);
    else {
        memcpy(parent, out, n);
        parent[n] = '\0';
    }
    return 0;
}

// If name is "BASE.SUFFIX-PID" for a process that no longer runs, returns PID.
static long dead_run(const char *name, const char *base, const char *suffix) {
    size_t bl = strlen(base), sl = strlen(suffix);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, suffix, sl) != 0) return 0;
    char *end;
    long pid = strtol(name + bl + sl, &end, 10);
    if (pid <= 0 || *end != '\0') return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH ? pid : 0;
}

// Removes the folders killed runs left beside out (see run_dir.h).
static void remove_stale(const char *out, const char *parent, const char *base) {
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *ent;
    char path[2400];
    while ((ent = readdir(d)) != NULL) {
        bool partial = dead_run(ent->d_name, base, ".partial-") != 0;
        bool old = !partial && dead_run(ent->d_name, base, ".old-") != 0;
        if (!partial && !old) continue;
        snprintf(path, sizeof path, "%s/%s", parent, ent->d_name);
        struct stat st;
        if (old && lstat(out, &st) != 0 && rename(path, out) == 0) continue;  // restore
        run_dir_remove_tree(path);
    }
    closedir(d);
}

// A folder a run may replace: missing, empty, or holding a run's values.tsv.
// (So `--out ~` or `--out notes.txt` is refused rather than deleted.)
static int replaceable(const char *out, EmbError *err) {
    struct stat st;
    char marker[1100];
    if (lstat(out, &st) != 0) return 0;
    if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return emb_fail(err, "--out: '%s' exists and is not a folder", out);
    }
    snprintf(marker, sizeof marker, "%s/values.tsv", out);
    if (access(marker, F_OK) == 0) return 0;
    DIR *d = opendir(out);
    struct dirent *ent;
    int empty = d != NULL;
    while (d && (ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) empty = 0;
    }
    if (d) closedir(d);
    if (empty) return 0;
    return emb_fail(err, "--out: '%s' is not empty and holds no values.tsv, so it is not a "
                    "run's folder; a run replaces its whole --out folder: remove it or choose "
                    "another", out);
}

int run_dir_begin(RunDir *rd, const char *out, EmbError *err) {
    char parent[1024];
    const char *base;
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') len--;  // "build/ch01/" is build/ch01
    if (len == 0 || len >= sizeof rd->out) return emb_fail(err, "--out: bad folder name '%s'", out);
    memcpy(rd->out, out, len);
    rd->out[len] = '\0';
    if (split_path(rd->out, parent, sizeof parent, &base) != 0 || !*base || !strcmp(base, ".") ||
        !strcmp(base, "..")) {
        return emb_fail(err, "--out: '%s' must name a folder of its own", out);
    }
    if (cli_make_dir(parent, err) != 0) return -1;
    remove_stale(rd->out, parent, base);
    if (replaceable(rd->out, err) != 0) return -1;
    snprintf(rd->tmp, sizeof rd->tmp, "%s.partial-%ld", rd->out, (long)getpid());
    run_dir_remove_tree(rd->tmp);
    if (mkdir(rd->tmp, 0777) != 0) {
        return emb_fail(err, "cannot create folder '%s': %s", rd->tmp, strerror(errno));
    }
    return 0;
}

// Swaps the folders tmp and out; returns 0, or -1 with errno if the system
// cannot (no renameat2, or a file system without RENAME_EXCHANGE).
static int exchange(const char *tmp, const char *out) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
    if (!getenv("EMB_TEST_NO_EXCHANGE")) {
        return renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE);
    }
    errno = ENOSYS;  // a test of the fallback, as on a system without the call
    return -1;
#else
    (void)tmp;
    (void)out;
    errno = ENOSYS;
    return -1;
#endif
}

int run_dir_commit(RunDir *rd, EmbError *err) {
    struct stat st;
    if (lstat(rd->out, &st) != 0) {  // no old run: one rename
        if (rename(rd->tmp, rd->out) == 0) return 0;
        return emb_fail(err, "cannot rename '%s' to '%s': %s", rd->tmp, rd->out, strerror(errno));
    }
    if (exchange(rd->tmp, rd->out) == 0) {  // tmp now holds the old run
        run_dir_checkpoint();
        run_dir_remove_tree(rd->tmp);
        return 0;
    }
    char old[1100];
    snprintf(old, sizeof old, "%s.old-%ld", rd->out, (long)getpid());
    if (rename(rd->out, old) != 0) {
        return emb_fail(err, "cannot move the old run '%s' aside: %s", rd->out, strerror(errno));
    }
    run_dir_checkpoint();
    if (rename(rd->tmp, rd->out) != 0) {
        int e = errno;
        rename(old, rd->out);
        return emb_fail(err, "cannot rename '%s' to '%s': %s", rd->tmp, rd->out, strerror(e));
    }
    run_dir_remove_tree(old);
    return 0;
}

void run_dir_abort(RunDir *rd) {
    run_dir_remove_tree(rd->tmp);
}
