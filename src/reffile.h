/*
 * reffile.h - the reader for PyTorch reference files (tests/reference/NAME.ref).
 *
 * A reference file holds cases made by real PyTorch: the inputs of a
 * computation and what PyTorch computed from them. The format is specified
 * in tests/reference/FORMAT.md; in short, it is plain text made of lines
 *
 *     embref 1                      the format and its version, first
 *     torch 1.13.0a0                the torch that made the file
 *     case NAME KIND                a case: init lookup train model bag
 *       KEY VALUE                   a scalar field
 *       KEY TYPE D0 [D1 [D2 [D3]]]  a tensor (f32, bits32 or i64), then one
 *         v v v ...                 line per row of its last dimension (a long
 *         v v v \                   row continues over lines that end in `\`)
 *       step N                      the fields after it belong to step N
 *     end                           closes the case
 *
 * This header is the reader's public face (src/reffile.c); which kinds and
 * fields exist is the schema's (src/refschema.h, src/refschema.c).
 *
 * Every file is untrusted. ref_parse() either returns a RefFile that
 * satisfies all of the invariants below, or fails with a message
 * "FILE:LINE: what is wrong" and leaves nothing allocated. It never reads
 * past the text it is given and never allocates more than a small multiple
 * of that text's size: a tensor's buffer grows as its values are actually
 * read, not when its header announces them.
 *
 * Invariants of a RefFile that ref_parse() returned:
 *   - it has at least one case, case names are unique, and every case of a
 *     kind holds exactly the fields that kind allows, in the right scope
 *     (case or step), each at most once;
 *   - every field its kind requires is present, and every optional scalar
 *     that has a default holds it, so the ref_* getters never miss;
 *   - every tensor has the shape its kind demands (weight is (V, D), G is
 *     indices' shape followed by D, ...), at most REF_MAX_DIMS dimensions
 *     and at most REF_MAX_NUMEL values; V and D are in [1, REF_MAX_SIZE]
 *     and V*D <= REF_MAX_NUMEL; padding_idx is none or in [-V, V);
 *   - every output a case implies (a lookup of all its indices, a model's
 *     logits) has at most REF_MAX_NUMEL values, so a runner may allocate it;
 *   - atol <= REF_MAX_ATOL and rtol <= REF_MAX_RTOL (both >= 0);
 *   - train, model and bag cases have at least one step, numbered 1, 2, ...
 *
 * The reader does not check index values against V: a case may hold a bad
 * index on purpose (lookup errors), and the book's code must reject it.
 */
#ifndef REFFILE_H
#define REFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emb_error.h"
#include "refschema.h"  // RefKind, RefType, and the schema the reader applies

// Limits. A file beyond any of them is rejected with a message, not read.
#define REF_MAX_FILE_BYTES (16L * 1024 * 1024)  // bytes in one file
#define REF_MAX_LINE 65536                      // bytes in one line, without its newline
#define REF_MAX_TOKEN 63                        // bytes in one word or number
#define REF_MAX_DIMS 4                          // dimensions of one tensor
#define REF_MAX_SIZE (1L << 20)                 // V, D, or any one dimension
#define REF_MAX_NUMEL (1L << 22)                // values in one tensor; also V*D
#define REF_MAX_CASES 100000                    // cases in one file
#define REF_MAX_STEPS 10000                     // steps in one case
#define REF_MAX_FIELDS 64                       // fields in one case or one step
#define REF_MAX_ATOL 1e-4                       // the loosest tolerance a file may ask for
#define REF_MAX_RTOL 1e-3

// One field of a case or a step: a scalar or a tensor.
typedef struct RefField {
    const char *key;                // points into the schema's static table of keys
    RefType type;
    int line;                       // where it was written; 0 for a default
    // scalars
    bool is_none;                   // written as `none`
    int64_t i;                      // REF_INT, REF_BOOL (0/1)
    uint64_t u;                     // REF_UINT
    double r;                       // REF_REAL
    const char *word;               // REF_WORD: points into the schema's static word lists
    // tensors
    int ndim;                       // 1..REF_MAX_DIMS
    int64_t dims[REF_MAX_DIMS];     // row-major shape
    int64_t numel;                  // product of dims, 0..REF_MAX_NUMEL
    float *f32;                     // REF_F32 and REF_BITS32: (numel,), NULL if numel == 0
    uint32_t *bits;                 // REF_BITS32: the same values as bit patterns
    int64_t *i64;                   // REF_I64: (numel,), NULL if numel == 0
} RefField;

// The fields of one case or one step, in file order.
typedef struct RefFields {
    int n, cap;
    RefField *items;
} RefFields;

// One step of a train, model or bag case.
typedef struct RefStep {
    int line;  // the `step` line
    RefFields fields;
} RefStep;

// One case.
typedef struct RefCase {
    char name[REF_MAX_TOKEN + 1];
    RefKind kind;
    int line;  // the `case` line
    RefFields fields;
    int n_steps, cap_steps;
    RefStep *steps;
} RefCase;

// A whole reference file.
typedef struct RefFile {
    char path[256];                    // the name given to the reader (truncated)
    char torch[REF_MAX_TOKEN + 1];     // torch.__version__ of the torch that made it
    char generator[REF_MAX_TOKEN + 1]; // what wrote it, or ""
    int n_cases, cap_cases;
    RefCase *cases;
} RefFile;

// Reads and checks a reference file; on failure err says "PATH:LINE: ...".
int ref_read_file(const char *path, RefFile *out, EmbError *err);

// Parses and checks len bytes of reference-file text named `name` (used in
// messages); text need not be NUL-terminated.
int ref_parse(const char *text, size_t len, const char *name, RefFile *out, EmbError *err);

// Frees everything a RefFile holds and zeroes it; safe on a zeroed RefFile.
void ref_free(RefFile *f);

// The field called key, or NULL if there is none.
const RefField *ref_get(const RefFields *f, const char *key);

// Scalar getters: the field's value, or 0 / false / "" if it is absent or none.
int64_t ref_int(const RefFields *f, const char *key);
uint64_t ref_uint(const RefFields *f, const char *key);
double ref_real(const RefFields *f, const char *key);
bool ref_bool(const RefFields *f, const char *key);
const char *ref_word(const RefFields *f, const char *key);

// True if the field is absent or was written as `none`.
bool ref_is_none(const RefFields *f, const char *key);

#endif
