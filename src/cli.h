/*
 * cli.h - small helpers shared by the chapter programs: parsing option
 * values with range checks, and writing output files atomically.
 *
 * Every parser returns 0 on success, or -1 with a message in err that names
 * the option, the bad value and the valid range. No helper exits.
 */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include <stdio.h>

#include "emb_error.h"

// Parses a whole decimal integer in [lo, hi] for option `name`.
int cli_int64(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out,
              EmbError *err);

// Parses a whole finite number in [lo, hi] for option `name`.
int cli_double(const char *name, const char *text, double lo, double hi, double *out,
               EmbError *err);

// Parses a seed: any decimal integer that fits in 64 bits, negative ones
// taken modulo 2^64 as torch.manual_seed does.
int cli_seed(const char *text, uint64_t *out, EmbError *err);

// Parses a comma-separated list of integers ("3,1,4,1") into a new array.
// An empty string gives n = 0. The caller frees *out.
int cli_int64_list(const char *name, const char *text, int64_t **out, int64_t *n,
                   EmbError *err);

// Creates the folder (and its parents) if needed.
int cli_make_dir(const char *path, EmbError *err);

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
