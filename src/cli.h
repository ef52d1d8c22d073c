/*
 * cli.h - what the chapter programs share that is not a chapter's subject:
 * options declared as a table (parsed with getopt_long, range-checked,
 * listed by --help), value parsers with range checks, output files written
 * atomically, and cli_main, which runs a program so that its output folder
 * is whole or absent and a failed write to stdout is an error.
 *
 * Every parser returns 0 on success, or -1 with a message in err that names
 * the option, the bad value and the valid range. No helper here exits.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "emb_error.h"
#include "run_values.h"

/* --- values --------------------------------------------------------------- */

// Parses a whole decimal integer in [lo, hi] for option `name`. Leading
// spaces and a '+' are refused, so that the value is what it looks like.
int cli_int64(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out,
              EmbError *err);

// Parses a number in [lo, hi] for option `name`. "inf" is accepted only when
// hi is +INFINITY and inf_ok is true (a range printed "[lo, inf]"); otherwise
// the range is printed "[lo, inf)" and inf is refused as not finite. Values
// too small for a normal double (1e-320) are accepted as the nearest double:
// they are in range, and strtod's underflow flag is not an error here.
int cli_double(const char *name, const char *text, double lo, double hi, bool inf_ok,
               double *out, EmbError *err);

// Parses a seed: a decimal integer in [-2^63, 2^64 - 1], negative ones taken
// modulo 2^64 as torch.manual_seed does. Leading spaces are refused.
int cli_seed(const char *text, uint64_t *out, EmbError *err);

// Parses a comma-separated list of integers ("3,1,4,1") into a new array.
// An empty string gives n = 0. The caller frees *out.
int cli_int64_list(const char *name, const char *text, int64_t **out, int64_t *n,
                   EmbError *err);

// Creates the folder (and its parents) if needed.
int cli_make_dir(const char *path, EmbError *err);

/* --- options as a table --------------------------------------------------- */

typedef enum CliKind {
    CLI_INT,     // int64_t in [lo, hi]
    CLI_DOUBLE,  // double in [dlo, dhi] (inf only with inf_ok)
    CLI_SEED,    // uint64_t, as torch.manual_seed takes it
    CLI_STRING,  // const char *, the argument itself
    CLI_FLAG,    // bool, set true by --name (which takes no value)
} CliKind;

// One option of a program: --name VALUE or --name=VALUE sets *var.
typedef struct CliOption {
    const char *name;     // without the dashes: "vocab"
    const char *metavar;  // what --help calls the value: "V"
    CliKind kind;
    void *var;            // int64_t *, double *, uint64_t *, const char ** or bool *
    const char *def;      // the default, parsed like a value; NULL: none
    const char *help;     // one line (or several, split by '\n') for --help
    int64_t lo, hi;       // CLI_INT's range
    double dlo, dhi;      // CLI_DOUBLE's range
    bool inf_ok;          // CLI_DOUBLE: inf is a valid value
    const char *word;     // a word accepted instead of a value ("none"), or NULL
    bool *is_value;       // with word: set false for the word, true for a value
    const char *needs;    // the option is refused unless this one is given too
    bool given;           // set by cli_parse: the option was on the command line
} CliOption;

// A program: its name, what it does, its options, and the function that
// runs it. run writes its files into `dir` (a fresh folder) and the
// numbers its chapter's prose quotes into `values`.
typedef struct CliProgram {
    const char *name;         // "ch01"
    const char *about;        // a paragraph for --help
    CliOption *options;
    int n_options;
    const char **out;         // the --out option's variable
    int (*run)(void *opt, const char *dir, RunValues *values, EmbError *err);
    void *opt;                // what run receives
} CliProgram;

enum { CLI_HELP = 1 };

// The number of options in an array of CliOption.
#define CLI_COUNT(options) ((int)(sizeof(options) / sizeof((options)[0])))

// Sets every option to its default, then parses argv. Returns 0, CLI_HELP
// for --help or -h, or -1 with a message ("unknown option '-x'", "--dim:
// missing value", a range error, an option given without the one it needs).
int cli_parse(CliOption *options, int n, int argc, char **argv, EmbError *err);

// Prints the usage line, `about` and one line per option with its default.
void cli_print_help(FILE *f, const char *prog, const char *about, const CliOption *options,
                    int n);

// The whole life of a program: parse, run into a fresh folder, write
// values.tsv, check stdout, and only then put the folder in place of *out
// (see run_dir.h). Prints "prog: message" on stderr for any error. Returns
// the exit status: 0, or 1 for an error.
int cli_main(const CliProgram *prog, int argc, char **argv);

/* --- training runs ------------------------------------------------------- */

// Fails with a message that names the step, the loss and what to try when
// the loss of a training step is not a finite number (the steps diverged).
int cli_check_loss(int64_t step, double loss, double lr, EmbError *err);

// On a terminal, shows "step N/TOTAL  loss L" on stderr every 100 steps and
// at the last, which also ends the line. Elsewhere it prints nothing.
void cli_progress(int64_t step, int64_t total, double loss);

/* --- output files --------------------------------------------------------- */

// An output file that appears under its final name only when it is complete:
// written to "name.tmp", renamed by outfile_commit.
typedef struct OutFile {
    FILE *f;
    char path[1024];
    char tmp_path[1040];
} OutFile;

// Opens dir/name for writing (through a temporary file).
int outfile_open(OutFile *of, const char *dir, const char *name, EmbError *err);

// Flushes, closes and renames into place; on a write error removes the
// temporary file and fails.
int outfile_commit(OutFile *of, EmbError *err);

// Closes and removes the temporary file (after an error elsewhere).
void outfile_abort(OutFile *of);

#endif
