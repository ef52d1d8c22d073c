/*
 * cli.c - option parsing with range checks, and atomic output files.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_int64(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out,
              EmbError *err) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        return emb_fail(err, "%s: expected a whole number in [%lld, %lld], got '%s'", name,
                        (long long)lo, (long long)hi, text);
    }
    *out = (int64_t)v;
    return 0;
}

int cli_double(const char *name, const char *text, double lo, double hi, double *out,
               EmbError *err) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi) {
        return emb_fail(err, "%s: expected a number in [%g, %g], got '%s'", name, lo, hi, text);
    }
    *out = v;
    return 0;
}

int cli_seed(const char *text, uint64_t *out, EmbError *err) {
    char *end;
    errno = 0;
    if (text[0] == '-') {
        long long v = strtoll(text, &end, 10);
        if (end != text && *end == '\0' && errno != ERANGE) {
            *out = (uint64_t)v;  // two's complement: -1 -> 2^64-1, as in PyTorch
            return 0;
        }
    } else {
        unsigned long long v = strtoull(text, &end, 10);
        if (end != text && *end == '\0' && errno != ERANGE) {
            *out = (uint64_t)v;
            return 0;
        }
    }
    return emb_fail(err, "--seed: expected a whole number in [%lld, %llu], got '%s'",
                    (long long)INT64_MIN, (unsigned long long)UINT64_MAX, text);
}

int cli_int64_list(const char *name, const char *text, int64_t **out, int64_t *n,
                   EmbError *err) {
    *out = NULL;
    *n = 0;
    if (text[0] == '\0') return 0;
    int64_t count = 1;
    for (const char *p = text; *p; p++) count += (*p == ',');
    int64_t *vals = malloc((size_t)count * sizeof *vals);
    if (!vals) return emb_fail(err, "%s: out of memory for %lld values", name, (long long)count);
    const char *p = text;
    for (int64_t i = 0; i < count; i++) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0') || errno == ERANGE) {
            free(vals);
            return emb_fail(err, "%s: expected comma-separated whole numbers, got '%s'", name,
                            text);
        }
        vals[i] = (int64_t)v;
        p = end + 1;
    }
    *out = vals;
    *n = count;
    return 0;
}

int cli_make_dir(const char *path, EmbError *err) {
    char buf[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return emb_fail(err, "--out: bad folder name '%s'", path);
    memcpy(buf, path, len + 1);
    // Create each prefix that ends at a '/', then the whole path.
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            return emb_fail(err, "cannot create folder '%s': %s", buf, strerror(errno));
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return emb_fail(err, "'%s' is not a folder", path);
    }
    return 0;
}

int outfile_open(OutFile *of, const char *dir, const char *name, EmbError *err) {
    of->f = NULL;
    int len = snprintf(of->path, sizeof of->path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof of->path) {
        return emb_fail(err, "output path too long: '%s/%s'", dir, name);
    }
    snprintf(of->tmp_path, sizeof of->tmp_path, "%s.tmp", of->path);
    of->f = fopen(of->tmp_path, "w");
    if (!of->f) return emb_fail(err, "cannot write '%s': %s", of->tmp_path, strerror(errno));
    return 0;
}

int outfile_commit(OutFile *of, EmbError *err) {
    int bad = ferror(of->f);
    bad |= fclose(of->f) != 0;
    of->f = NULL;
    if (bad) {
        remove(of->tmp_path);
        return emb_fail(err, "error while writing '%s'", of->path);
    }
    if (rename(of->tmp_path, of->path) != 0) {
        int e = errno;
        remove(of->tmp_path);
        return emb_fail(err, "cannot rename '%s' to '%s': %s", of->tmp_path, of->path,
                        strerror(e));
    }
    return 0;
}

void outfile_abort(OutFile *of) {
    if (of->f) fclose(of->f);
    of->f = NULL;
    remove(of->tmp_path);
}
