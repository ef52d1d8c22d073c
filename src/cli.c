/*
 * cli.c - options as a table, value parsers with range checks, atomic
 * output files, and the life of a chapter program (cli_main).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_dir.h"

/* --- values --------------------------------------------------------------- */

// A number starts with a digit, or with '-' (when negatives are possible)
// and a digit: strtoll and friends would also skip spaces and take '+'.
static int starts_like_number(const char *text, int minus_ok) {
    if (minus_ok && text[0] == '-') text++;
    return (text[0] >= '0' && text[0] <= '9') || text[0] == '.' || text[0] == 'i' ||
           text[0] == 'I';
}

int cli_int64(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out,
              EmbError *err) {
    char *end;
    errno = 0;
    long long v = starts_like_number(text, 1) ? strtoll(text, &end, 10) : 0;
    if (!starts_like_number(text, 1) || end == text || *end != '\0' || errno == ERANGE ||
        v < lo || v > hi) {
        return emb_fail(err, "%s: expected a whole number in [%lld, %lld], got '%s'", name,
                        (long long)lo, (long long)hi, text);
    }
    *out = (int64_t)v;
    return 0;
}

int cli_double(const char *name, const char *text, double lo, double hi, bool inf_ok,
               double *out, EmbError *err) {
    char *end;
    errno = 0;
    int ok = starts_like_number(text, 1);
    double v = ok ? strtod(text, &end) : 0.0;
    // strtod sets ERANGE both for overflow (v = +-HUGE_VAL) and for underflow
    // (v is the nearest double, perhaps subnormal or 0): only the first is an
    // error. A subnormal such as 1e-320 is a number in the range like any other.
    ok = ok && end != text && *end == '\0' && !(errno == ERANGE && isinf(v)) && !isnan(v);
    bool inf_valid = inf_ok && hi == INFINITY;
    if (ok && isinf(v) && !inf_valid) {
        return emb_fail(err, "%s: expected a finite number in [%g, %g%s, got '%s'", name, lo, hi,
                        hi == INFINITY ? ")" : "]", text);
    }
    if (!ok || v < lo || v > hi) {
        return emb_fail(err, "%s: expected a number in [%g, %g%s, got '%s'", name, lo, hi,
                        hi == INFINITY && !inf_valid ? ")" : "]", text);
    }
    *out = v;
    return 0;
}

int cli_seed(const char *text, uint64_t *out, EmbError *err) {
    char *end;
    errno = 0;
    if (text[0] == '-' && text[1] >= '0' && text[1] <= '9') {
        long long v = strtoll(text, &end, 10);
        if (*end == '\0' && errno != ERANGE) {
            *out = (uint64_t)v;  // two's complement: -1 -> 2^64-1, as in PyTorch
            return 0;
        }
    } else if (text[0] >= '0' && text[0] <= '9') {
        unsigned long long v = strtoull(text, &end, 10);
        if (*end == '\0' && errno != ERANGE) {
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
        long long v = starts_like_number(p, 1) ? strtoll(p, &end, 10) : 0;
        if (!starts_like_number(p, 1) || end == p || (*end != ',' && *end != '\0') ||
            errno == ERANGE) {
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

/* --- options as a table --------------------------------------------------- */

// Parses one value into the option's variable.
static int set_option(CliOption *o, const char *text, EmbError *err) {
    char name[64];
    snprintf(name, sizeof name, "--%s", o->name);
    if (o->word) {
        *o->is_value = strcmp(text, o->word) != 0;
        if (!*o->is_value) return 0;
    }
    switch (o->kind) {
    case CLI_INT: return cli_int64(name, text, o->lo, o->hi, o->var, err);
    case CLI_DOUBLE: return cli_double(name, text, o->dlo, o->dhi, o->inf_ok, o->var, err);
    case CLI_SEED: return cli_seed(text, o->var, err);
    case CLI_STRING: *(const char **)o->var = text; return 0;
    case CLI_FLAG: *(bool *)o->var = true; return 0;
    }
    return emb_fail(err, "%s: unknown kind of option", name);
}

// The message for what getopt_long refused: argv[optind - 1] is the culprit.
static int refused(const CliOption *options, int n, int argc, char **argv, int c,
                   EmbError *err) {
    const char *arg = optind - 1 < argc ? argv[optind - 1] : "";
    if (c == ':') {  // a known option at the end of argv, without its value
        return emb_fail(err, "%s: missing value (see --help)", arg);
    }
    if (strncmp(arg, "--", 2) != 0) {
        if (optopt) return emb_fail(err, "unknown option '-%c' (see --help)", optopt);
        return emb_fail(err, "unknown option '%s' (see --help)", arg);
    }
    const char *name = arg + 2;
    int len = (int)strcspn(name, "="), matches = 0;
    if (strncmp(name, "help=", 5) == 0) return emb_fail(err, "--help takes no value");
    for (int i = 0; i < n; i++) {
        if (options[i].kind == CLI_FLAG && name[len] == '=' &&
            strncmp(options[i].name, name, (size_t)len) == 0) {
            return emb_fail(err, "--%s takes no value", options[i].name);
        }
    }
    for (int i = 0; i < n; i++) matches += strncmp(options[i].name, name, (size_t)len) == 0;
    if (matches > 1) return emb_fail(err, "ambiguous option '--%.*s' (see --help)", len, name);
    return emb_fail(err, "unknown option '--%.*s' (see --help)", len, name);
}

// The getopt_long table for options (one more entry for --help, one all zero).
static struct option *long_options(const CliOption *options, int n) {
    struct option *lo = calloc((size_t)n + 2, sizeof *lo);
    if (!lo) return NULL;
    for (int i = 0; i < n; i++) {
        int arg = options[i].kind == CLI_FLAG ? no_argument : required_argument;
        lo[i] = (struct option){options[i].name, arg, 0, i};
    }
    lo[n] = (struct option){"help", no_argument, 0, 'h'};
    return lo;
}

// Sets the defaults; an invalid default is a bug in the table, reported.
static int set_defaults(CliOption *options, int n, EmbError *err) {
    for (int i = 0; i < n; i++) {
        options[i].given = false;
        if (options[i].kind == CLI_FLAG) *(bool *)options[i].var = false;
        if (options[i].def && set_option(&options[i], options[i].def, err) != 0) return -1;
    }
    return 0;
}

// Every option given that needs another has it.
static int check_needs(const CliOption *options, int n, EmbError *err) {
    for (int i = 0; i < n; i++) {
        if (!options[i].given || !options[i].needs) continue;
        for (int j = 0; j < n; j++) {
            if (strcmp(options[j].name, options[i].needs) == 0 && !options[j].given) {
                return emb_fail(err, "--%s is only used with --%s; give --%s too, or leave "
                                "--%s out", options[i].name, options[j].name, options[j].name,
                                options[i].name);
            }
        }
    }
    return 0;
}

int cli_parse(CliOption *options, int n, int argc, char **argv, EmbError *err) {
    if (set_defaults(options, n, err) != 0) return -1;
    struct option *lo = long_options(options, n);
    if (!lo) return emb_fail(err, "out of memory for %d options", n);
    int rc = 0, c;
    optind = 0;  // glibc: start over (the tests parse several times)
    opterr = 0;  // the messages are ours
    while (rc == 0 && (c = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
        if (c == 'h') rc = CLI_HELP;
        else if (c >= 0 && c < n) {
            options[c].given = true;
            rc = set_option(&options[c], optarg, err);
        } else rc = refused(options, n, argc, argv, c, err);
    }
    free(lo);
    if (rc == 0 && optind < argc) {
        rc = emb_fail(err, "unexpected argument '%s' (options start with --; see --help)",
                      argv[optind]);
    }
    return rc == 0 ? check_needs(options, n, err) : rc;
}

void cli_print_help(FILE *f, const char *prog, const char *about, const CliOption *options,
                    int n) {
    int width = 6;  // "--help"
    for (int i = 0; i < n; i++) {
        int w = (int)(strlen(options[i].name) + strlen(options[i].metavar)) + 3 -
                (*options[i].metavar == '\0');
        if (w > width) width = w;
    }
    fprintf(f, "usage: %s [options]\n\n%s\n\n", prog, about);
    for (int i = 0; i < n; i++) {
        const CliOption *o = &options[i];
        char head[128];
        snprintf(head, sizeof head, "--%s%s%s", o->name, *o->metavar ? " " : "", o->metavar);
        fprintf(f, "  %-*s  ", width, head);
        for (const char *h = o->help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "  %-*s  ", width, "");
        }
        if (o->def) fprintf(f, ", default %s", o->def);
        fputc('\n', f);
    }
    fprintf(f, "  %-*s  this text\n", width, "--help");
}

/* --- the life of a program ------------------------------------------------ */

// Flushes stdout and reports a write error (a full disk, a closed pipe).
static int stdout_ok(EmbError *err) {
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    return emb_fail(err, "cannot write the output: %s", strerror(errno ? errno : EIO));
}

// Runs the program into a fresh folder and puts it in place if all went well.
static int run_program(const CliProgram *prog, EmbError *err) {
    RunDir rd;
    RunValues values = {0};
    if (run_dir_begin(&rd, *prog->out, err) != 0) return -1;
    int rc = prog->run(prog->opt, rd.tmp, &values, err);
    if (rc == 0) rc = run_values_write(&values, rd.tmp, err);
    if (rc == 0) rc = stdout_ok(err);  // the output is part of the run
    if (rc == 0) rc = run_dir_commit(&rd, err);
    if (rc != 0) run_dir_abort(&rd);
    run_values_free(&values);
    return rc;
}

int cli_main(const CliProgram *prog, int argc, char **argv) {
    EmbError err;
    int rc = cli_parse(prog->options, prog->n_options, argc, argv, &err);
    if (rc == CLI_HELP) {
        cli_print_help(stdout, prog->name, prog->about, prog->options, prog->n_options);
        rc = stdout_ok(&err);
    } else if (rc == 0) {
        rc = run_program(prog, &err);
    }
    if (rc != 0) {
        fflush(stdout);  // what the run printed comes before the message
        fprintf(stderr, "%s: %s\n", prog->name, err.msg);
        return 1;
    }
    return 0;
}

/* --- training runs ------------------------------------------------------- */

int cli_check_loss(int64_t step, double loss, double lr, EmbError *err) {
    if (isfinite(loss)) return 0;
    return emb_fail(err, "step %lld: the loss is %s, not a finite number: the steps diverged; "
                    "try a smaller --lr (this run used %g)", (long long)step,
                    isnan(loss) ? "NaN" : loss > 0 ? "inf" : "-inf", lr);
}

void cli_progress(int64_t step, int64_t total, double loss) {
    if (!isatty(STDERR_FILENO)) return;
    if (step % 100 == 0 || step == total) {
        fprintf(stderr, "\rstep %lld/%lld  loss %.4f  ", (long long)step, (long long)total, loss);
    }
    if (step == total) fprintf(stderr, "\n");
}

/* --- output files --------------------------------------------------------- */

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
    run_dir_checkpoint();
    return 0;
}

void outfile_abort(OutFile *of) {
    if (of->f) fclose(of->f);
    of->f = NULL;
    remove(of->tmp_path);
}
