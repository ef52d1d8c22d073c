/*
 * refschema.h - the schema of reference files: which kinds of case exist,
 * which fields each kind holds, and how their shapes must agree.
 *
 * Reading a reference file is split in two. The reader (src/reffile.c)
 * knows lines, tokens, numbers, tensors and the limits on all of them, and
 * the file's frame (`embref 1`, `case`, `step`, `end`). The schema
 * (src/refschema.c) knows the vocabulary: the type of every key, the kinds
 * and the fields each kind allows, requires or defaults, and the shape
 * checks of each kind. The reader asks the schema about a key while it
 * reads, and hands it each case at the case's `end` line.
 *
 * A chapter that adds a kind of case adds it to RefKind below and to
 * refschema.c (its keys, its fields, its check), and a handler to
 * tests/conformance.c; it never changes the reader.
 *
 * This header is included by src/reffile.h; the declarations after RefKind
 * are the interface between the reader and the schema, not for runners.
 */
#ifndef REFSCHEMA_H
#define REFSCHEMA_H

#include <stdbool.h>

// What a case checks; the runner has one handler per kind.
typedef enum RefKind {
    REF_INIT,    // torch.manual_seed(seed); nn.Embedding(V, D): the weight, bit for bit
    REF_LOOKUP,  // F.embedding(indices, weight), or the error it raises
    REF_TRAIN,   // steps of lookup, loss = sum(output * G), backward, optimizer step
    REF_MODEL,   // steps of a next-token model: embedding, projection, cross-entropy
    REF_BAG,     // steps of nn.EmbeddingBag: lookup, reduce per bag, backward, step
    REF_NUM_KINDS
} RefKind;

// The type of a field's value.
typedef enum RefType {
    REF_INT,     // scalar: a signed decimal integer (or `none` where allowed)
    REF_UINT,    // scalar: an unsigned decimal integer up to 2^64-1
    REF_REAL,    // scalar: a decimal number, inf or -inf, held as a double (or `none`)
    REF_BOOL,    // scalar: true or false
    REF_WORD,    // scalar: one of a fixed list of words
    REF_F32,     // tensor: float32 values written as decimals
    REF_BITS32,  // tensor: float32 values written as 8 hex digits, compared bit for bit
    REF_I64,     // tensor: int64 values
} RefType;

// The word for a kind in the file ("init", "lookup", ...), or "?".
const char *ref_kind_name(RefKind kind);

// ---------------------------------------------------------------------------
// Between the reader and the schema
// ---------------------------------------------------------------------------

struct RefCase;
struct RefFields;
typedef struct RefReader RefReader;  // the reader's state, private to src/reffile.c

// A key that may appear in a file, and the type of its value.
typedef struct RefKeyDef {
    const char *key;
    RefType type;              // scalars: their type; tensors: REF_F32 (f32 or bits32) or REF_I64
    bool tensor;
    bool none_ok;              // the scalar may be written `none`
    const char *const *words;  // REF_WORD: the allowed words, NULL-terminated
} RefKeyDef;

// One field a scope (a case or a step) may hold, and its default.
typedef struct RefSpec {
    const char *key;
    const char *dflt;  // the default value's text, REF_REQUIRED or REF_OPTIONAL
} RefSpec;

#define REF_REQUIRED NULL  // RefSpec.dflt of a field that must be written
#define REF_OPTIONAL ""    // RefSpec.dflt of a field that may be left out, with no default

// Schema, for the reader: the definition of key, or NULL if no such key exists.
const RefKeyDef *refschema_key(const char *key);

// Schema, for the reader: the kind called name, or -1.
int refschema_kind(const char *name);

// Schema, for the reader: true if cases of this kind have steps.
bool refschema_has_steps(RefKind kind);

// Schema, for the reader: checks a finished case (its `end` is on end_line)
// against its kind: allowed, required and default fields, then shapes.
int refschema_check_case(RefReader *r, struct RefCase *c, int end_line);

// Reader, for the schema: writes "FILE:LINE: message" as the error; returns -1.
__attribute__((format(printf, 3, 4)))
int ref_fail(const RefReader *r, int line, const char *fmt, ...);

// Reader, for the schema: fails for a field of scope that none of the
// n_specs lists allows, or for a missing required field (naming `line`, the
// scope's first line, and `where`); adds the defaults of missing optional
// scalars. A list may be NULL.
int ref_apply_specs(RefReader *r, struct RefFields *scope, const RefSpec *const *specs,
                    int n_specs, int line, const char *where);

#endif
