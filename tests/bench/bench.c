/*
 * bench.c - the book's benchmarks: `make bench`.
 *
 * This file is the run: its options, the machine it describes, PyTorch's
 * process, and the chapters' measurements in book order (each chapter's
 * are in tests/bench/chNN.c; the clock and the rest they share are in
 * harness.c). Every chapter first measures, C and PyTorch taking turns
 * case by case; then every chapter prints its tables, writes them as TSV
 * under --dir, and records the numbers its prose quotes, which this file
 * writes to --values (tests/bench/values.tsv in `make bench`).
 *
 * PyTorch runs as a second process (tests/bench/bench_torch.py) that
 * answers one request per line on a pipe ("lookup zipf 1000").
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/cli.h"
#include "../../src/torch_rng.h"
#include "harness.h"

// The chapters, in book order. A new chapter's benchmark adds its line here
// (and its declaration in harness.h); see tests/bench/README.md.
static const BenchChapter *const CHAPTERS[] = {&bench_ch01, &bench_ch02, &bench_ch04,
                                                 &bench_ch05, &bench_ch06};

#define BENCH_VMAX 10000000  // the largest V, and the default

typedef struct Options {
    const char *dir;     // where index files and TSVs go
    const char *script;  // bench_torch.py, or NULL for no PyTorch
    const char *python;
    const char *values;  // where the values for the prose go, or NULL
    int64_t vmax;        // largest V measured
    bool only[BENCH_COUNT(CHAPTERS)];  // --chapters: the chapters measured
    bool all;                          // ... every one of them
} Options;

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

// Reads the first line of a small text file into buf, without its newline;
// returns false if there is no such file.
static bool read_line(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

// The CPU's model name from /proc/cpuinfo, into model.
static void cpu_model(char *model, size_t size) {
    snprintf(model, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(model, size, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

// cpu0's data and unified caches ("L1 32K L2 512K L3 32768K") into buf;
// the largest one's size also into largest.
static void cache_sizes(char *buf, size_t size, char *largest, size_t lsize) {
    size_t len = 0;
    buf[0] = '\0';
    snprintf(largest, lsize, "?");
    for (int i = 0; i < 6; i++) {
        char path[128], level[16], type[32], csize[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!read_line(path, level, sizeof level)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!read_line(path, type, sizeof type)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!read_line(path, csize, sizeof csize)) break;
        if (strcmp(type, "Instruction") == 0) continue;
        len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%sL%s %s",
                                len ? " " : "", level, csize);
        long kib;
        char unit;
        if (sscanf(csize, "%ld%c", &kib, &unit) == 2 && unit == 'K' && kib % 1024 == 0)
            snprintf(largest, lsize, "%ld MiB", kib / 1024);
        else
            snprintf(largest, lsize, "%s", csize);
    }
}

// The 1-minute load average, or -1.
static double load_average(void) {
    char line[128];
    double load;
    if (!read_line("/proc/loadavg", line, sizeof line) || sscanf(line, "%lf", &load) != 1)
        return -1;
    return load;
}

// Prints the machine, and records it among the values.
static void print_machine(Bench *b) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char model[256], caches[256], largest[32];
    cpu_model(model, sizeof model);
    cache_sizes(caches, sizeof caches, largest, sizeof largest);
    printf("Machine: %s, %ld cores online; every timing below uses one thread.\n", model, cores);
    printf("Caches (per instance): %s\nC compiler: gcc %s\n", caches, __VERSION__);
    printf("Load average when the run began: %.2f (other work slows both sides alike, since\n"
           "  C and PyTorch take turns case by case; the rounds' spread shows how much).\n",
           load_average());
    bench_value(b, "bench.cpu", "%s", model);
    bench_value(b, "bench.cores", "%ld", cores);
    bench_value(b, "bench.caches", "%s", caches);
    bench_value(b, "bench.largest_cache", "%s", largest);
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

// Prints the command line help on f.
static void usage(FILE *f) {
    fprintf(f,
            "usage: bench [--dir DIR] [--torch SCRIPT] [--python PATH] [--values FILE]\n"
            "             [--vmax V] [--chapters N,N...]\n"
            "  --dir DIR        where index files and the TSV tables go (default build/bench)\n"
            "  --torch SCRIPT   also time PyTorch with SCRIPT (tests/bench/bench_torch.py)\n"
            "  --python PATH    the Python that has torch (default " BENCH_PYTHON ")\n"
            "  --values FILE    write the numbers the book quotes to FILE (key<TAB>value),\n"
            "                   and the tables figures draw beside it; only a full run\n"
            "                   (every chapter, PyTorch measured, V up to 10^7) writes them\n"
            "  --vmax V         largest V, 10000 to 10000000 (default 10000000)\n"
            "  --chapters LIST  measure only these chapters (e.g. 6 or 1,6; default all);\n"
            "                   the table chapter 1 fills is made either way\n");
}

// The number of chapter c (its title begins "chapter N").
static int chapter_number(int c) {
    int n = 0;
    sscanf(CHAPTERS[c]->title, "chapter %d", &n);
    return n;
}

// Marks the chapters a --chapters list ("1,6") names in o->only.
static int parse_chapters(const char *list, Options *o, EmbError *err) {
    memset(o->only, 0, sizeof o->only);
    for (const char *p = list; *p != '\0';) {
        char *end;
        long n = strtol(p, &end, 10);
        int c = 0;
        while (c < BENCH_COUNT(CHAPTERS) && (end == p || chapter_number(c) != n)) c++;
        if (c == BENCH_COUNT(CHAPTERS) || (*end != ',' && *end != '\0'))
            return emb_fail(err, "--chapters %s: not a comma-separated list of chapters "
                                 "that have benchmarks", list);
        o->only[c] = true;
        p = *end == ',' ? end + 1 : end;
    }
    o->all = true;
    for (int c = 0; c < BENCH_COUNT(CHAPTERS); c++) o->all &= o->only[c];
    return 0;
}

// Fills o from the command line; returns 0, 1 for --help, or -1 with err set.
static int parse_options(int argc, char **argv, Options *o, EmbError *err) {
    *o = (Options){"build/bench", NULL, BENCH_PYTHON, NULL, BENCH_VMAX, {false}, true};
    for (int c = 0; c < BENCH_COUNT(CHAPTERS); c++) o->only[c] = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) return 1;
        const char *names[] = {"--dir", "--torch", "--python", "--values", "--vmax",
                               "--chapters"};
        bool known = false;
        for (int k = 0; k < BENCH_COUNT(names); k++) known |= strcmp(a, names[k]) == 0;
        if (!known) return emb_fail(err, "unknown option: %s", a);
        if (i + 1 >= argc) return emb_fail(err, "missing value for %s", a);
        const char *v = argv[++i];
        if (strcmp(a, "--dir") == 0) o->dir = v;
        else if (strcmp(a, "--torch") == 0) o->script = v;
        else if (strcmp(a, "--python") == 0) o->python = v;
        else if (strcmp(a, "--values") == 0) o->values = v;
        else if (strcmp(a, "--chapters") == 0) {
            if (parse_chapters(v, o, err) != 0) return -1;
        } else if (cli_int64("--vmax", v, 10000, BENCH_VMAX, &o->vmax, err) != 0) return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Values for the prose
// ---------------------------------------------------------------------------

// The value recorded under key, or "?".
static const char *value_of(const Bench *b, const char *key) {
    const char *v = bench_value_get(b, key);
    return v != NULL ? v : "?";
}

// Puts path's folder into dir ("." if it names none); returns its file name.
static const char *split_path(const char *path, char *dir, size_t size) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, size, ".");
        return path;
    }
    snprintf(dir, size, "%.*s", (int)(slash - path), path);
    return slash + 1;
}

// Copies the tables the chapters kept (bench_keep_table) from b->dir into
// the folder of the values file at path, each atomically.
static int copy_kept_tables(const Bench *b, const char *path, EmbError *err) {
    char dir[1024];
    split_path(path, dir, sizeof dir);
    for (int i = 0; i < b->nkept; i++) {
        char from[1200];
        snprintf(from, sizeof from, "%s/%s", b->dir, b->kept[i]);
        FILE *f = fopen(from, "rb");
        if (f == NULL) return emb_fail(err, "%s: %s", from, strerror(errno));
        char data[1 << 16];  // a figure's table: a few KiB
        size_t n = fread(data, 1, sizeof data, f);
        bool whole = feof(f) && !ferror(f);
        fclose(f);
        if (!whole) return emb_fail(err, "%s: unreadable or larger than 64 KiB", from);
        if (bench_write_bytes(dir, b->kept[i], data, n, err) != 0) return -1;
        printf("Table for the figures: %s/%s\n", dir, b->kept[i]);
    }
    return 0;
}

// Writes b's values to path (atomically), after comment lines naming the
// command, the date, the machine and its load.
static int write_values(const Bench *b, const char *path, int argc, char **argv,
                        double load_before, EmbError *err) {
    char dir[1024];
    const char *name = split_path(path, dir, sizeof dir);
    OutFile of;
    if (outfile_open(&of, dir, name, err) != 0) return -1;
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(of.f, "# Written by `make bench`, which ran:");
    for (int i = 0; i < argc; i++) fprintf(of.f, " %s", argv[i]);
    fprintf(of.f, "\n# Date: %s. Load average %.2f when the run began, %.2f when it ended.\n",
            date, load_before, load_average());
    fprintf(of.f, "# Machine: %s, %s cores; caches %s.\n", value_of(b, "bench.cpu"),
            value_of(b, "bench.cores"), value_of(b, "bench.caches"));
    fprintf(of.f, "# The prose quotes these as {{bench:key}}; regenerate with `make bench`.\n");
    for (int i = 0; i < b->nvalues; i++)
        fprintf(of.f, "%s\t%s\n", b->values[i].key, b->values[i].value);
    return outfile_commit(&of, err);
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

// Starts PyTorch's process if o asks for it and torch can be imported.
static int start_torch(Bench *b, BenchTorch *torch, const Options *o, EmbError *err) {
    if (o->script == NULL) {
        b->no_torch_reason = "no --torch script given";
        return 0;
    }
    if (!bench_torch_available(o->python)) {
        b->no_torch_reason = "cannot import torch; on Debian: apt-get install python3-torch";
        return 0;
    }
    bench_progress("starting PyTorch (%s %s)", o->python, o->script);
    if (bench_torch_start(torch, o->python, o->script, o->dir, o->vmax, err) != 0) return -1;
    b->torch = torch;
    printf("PyTorch: %s, torch.set_num_threads(%d).\n", torch->version, torch->threads);
    return 0;
}

// Without chapter 1's measurements, the table they would have made, filled
// as chapter 1 fills it on both sides (untimed).
static int make_table(Bench *b, EmbError *err) {
    bench_progress("the (%" PRId64 ", %d) table, filled as chapter 1 fills it", b->vmax,
                   BENCH_D);
    TorchGenerator gen;
    rng_manual_seed(&gen, BENCH_TABLE_SEED);
    if (emb_init(&b->table, b->vmax, BENCH_D, &gen, err) != 0) return -1;
    char line[256];
    return b->torch ? bench_torch_ask(b->torch, line, sizeof line, err, "fill") : 0;
}

// Does the whole run; returns 0, or -1 with err set.
static int bench(Bench *b, const Options *o, int argc, char **argv, EmbError *err) {
    double t_start = bench_now(), load_before = load_average();
    if (cli_make_dir(o->dir, err) != 0) return -1;
    printf("make bench: the book's benchmarks, C beside PyTorch\n");
    print_machine(b);
    BenchTorch torch = {0};
    int rc = -1;
    if (start_torch(b, &torch, o, err) != 0) goto done;
    if (b->torch == NULL) printf("PyTorch: not measured (%s).\n", b->no_torch_reason);
    fflush(stdout);
    if (!o->only[0] && make_table(b, err) != 0) goto done;  // CHAPTERS[0] is chapter 1
    double chapter_s[BENCH_COUNT(CHAPTERS)];
    for (int c = 0; c < BENCH_COUNT(CHAPTERS); c++) {
        if (!o->only[c]) continue;
        double t0 = bench_now();
        bench_progress("%s", CHAPTERS[c]->title);
        if (CHAPTERS[c]->measure(b, err) != 0) goto done;
        chapter_s[c] = bench_now() - t0;
        bench_progress("%.*s measured in %.0f s", (int)strcspn(CHAPTERS[c]->title, ":"),
                       CHAPTERS[c]->title, chapter_s[c]);
    }
    if (bench_torch_stop(&torch, err) != 0) goto done;
    for (int c = 0; c < BENCH_COUNT(CHAPTERS); c++)
        if (o->only[c] && CHAPTERS[c]->report(b, err) != 0) goto done;
    double total_s = bench_now() - t_start;
    bench_value(b, "bench.total_s", "%.0f", total_s);
    bench_value(b, "bench.load_start", "%.1f", load_before);
    bench_value(b, "bench.load_end", "%.1f", load_average());
    printf("\nTables: %s/*.tsv. Total time: %.0f s (", o->dir, total_s);
    for (int c = 0, shown = 0; c < BENCH_COUNT(CHAPTERS); c++)
        if (o->only[c])
            printf("%s%.*s %.0f s", shown++ ? ", " : "", (int)strcspn(CHAPTERS[c]->title, ":"),
                   CHAPTERS[c]->title, chapter_s[c]);  // "chapter N"
    printf("); load average %.2f at the start, %.2f at the end.\n", load_before, load_average());
    if (o->values != NULL && (b->torch == NULL || o->vmax != BENCH_VMAX || !o->all)) {
        // The prose quotes PyTorch's numbers and V up to 10^7 from every
        // chapter: a partial run must not replace a full one's values.
        printf("Values for the prose: %s left as it was: this run %s.\n", o->values,
               b->torch == NULL          ? "did not measure PyTorch"
               : o->vmax != BENCH_VMAX ? "stopped short of V = 10^7"
                                         : "measured only some chapters");
    } else if (o->values != NULL) {
        if (write_values(b, o->values, argc, argv, load_before, err) != 0 ||
            copy_kept_tables(b, o->values, err) != 0)
            goto done;
        printf("Values for the prose: %s\n", o->values);
    }
    rc = 0;
done:
    if (rc != 0) {
        EmbError ignored;
        bench_torch_stop(&torch, &ignored);
    }
    return rc;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);  // a dead PyTorch script is an error, not our death
    EmbError err = {{0}};
    Options o;
    int parsed = parse_options(argc, argv, &o, &err);
    if (parsed == 1) {
        usage(stdout);
        return 0;
    }
    if (parsed != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    static Bench b;  // large: the values
    b.dir = o.dir;
    b.vmax = o.vmax;
    int rc = bench(&b, &o, argc, argv, &err);
    bench_free_sets(&b);
    emb_free(&b.table);
    if (rc != 0) {
        fflush(stdout);
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    return 0;
}
