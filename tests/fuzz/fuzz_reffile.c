/*
 * fuzz_reffile.c - libFuzzer target: the reference-file reader and the runner.
 *
 * Every input is parsed as a reference file. The reader must either accept
 * it, and then the RefFile must keep every invariant src/reffile.h promises,
 * or reject it with a message of the form "fuzz:LINE: ...". It must never
 * crash, leak, read out of bounds or allocate without bound (the sanitizers
 * and libFuzzer's -rss_limit_mb / -malloc_limit_mb watch for those).
 *
 * An accepted file is then run through the conformance runner's handlers
 * (tests/conformance.c, included here without its main), so the handlers
 * and the book's code they call are fuzzed on exactly what the reader lets
 * through. Their report goes to /dev/null; only crashes matter here.
 *
 * Build and run: `make fuzz` (tests/fuzz/fuzz.mk).
 */
#define CONFORMANCE_NO_MAIN
#include "../conformance.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Stops the run, so that libFuzzer saves the input, if a promise is broken.
static void promise(bool ok, const char *what) {
    if (ok) return;
    fprintf(stderr, "fuzz_reffile: broken promise: %s\n", what);
    abort();
}

// Checks one accepted tensor or scalar against the header's invariants.
static void check_field(const RefField *f) {
    promise(f->key != NULL, "every field has a key");
    if (f->type == REF_WORD && !f->is_none) promise(f->word != NULL, "a word field has its word");
    if (f->type != REF_F32 && f->type != REF_BITS32 && f->type != REF_I64) return;
    promise(f->ndim >= 1 && f->ndim <= REF_MAX_DIMS, "tensor rank in range");
    int64_t numel = 1;
    for (int d = 0; d < f->ndim; d++) {
        promise(f->dims[d] >= 0 && f->dims[d] <= REF_MAX_SIZE, "dimension in range");
        numel *= f->dims[d];
    }
    promise(numel == f->numel && numel <= REF_MAX_NUMEL, "numel is the product of dims");
    if (numel == 0) return;
    if (f->type == REF_I64) {
        promise(f->i64 != NULL, "an i64 tensor has values");
        volatile int64_t last = f->i64[numel - 1];  // ASan checks the buffer is that long
        (void)last;
    } else {
        promise(f->f32 != NULL, "a float tensor has values");
        volatile float last = f->f32[numel - 1];
        (void)last;
        if (f->type == REF_BITS32) {
            volatile uint32_t bits = f->bits[numel - 1];
            (void)bits;
        }
    }
}

// Checks an accepted file against the invariants in src/reffile.h.
static void check_file(const RefFile *f) {
    promise(f->n_cases >= 1 && f->n_cases <= REF_MAX_CASES, "1 to REF_MAX_CASES cases");
    promise(f->torch[0] != '\0', "the torch version is known");
    for (int i = 0; i < f->n_cases; i++) {
        const RefCase *c = &f->cases[i];
        promise(c->kind >= 0 && c->kind < REF_NUM_KINDS, "a known kind");
        const RefField *V = ref_get(&c->fields, "V"), *D = ref_get(&c->fields, "D");
        promise(V && D, "V and D are present");
        promise(V->i >= 1 && V->i <= REF_MAX_SIZE && D->i >= 1 && D->i <= REF_MAX_SIZE &&
                    V->i * D->i <= REF_MAX_NUMEL,
                "V and D in range");
        const RefField *w = ref_get(&c->fields, "weight");
        promise(w && w->ndim == 2 && w->dims[0] == V->i && w->dims[1] == D->i,
                "weight is (V, D)");
        if (c->kind != REF_INIT) {
            double atol = ref_real(&c->fields, "atol"), rtol = ref_real(&c->fields, "rtol");
            promise(atol >= 0 && atol <= REF_MAX_ATOL && rtol >= 0 && rtol <= REF_MAX_RTOL,
                    "tolerances within the limits");
        }
        for (int k = 0; k < c->fields.n; k++) check_field(&c->fields.items[k]);
        promise((c->kind == REF_INIT || c->kind == REF_LOOKUP) == (c->n_steps == 0),
                "steps exactly for train, model and bag");
        for (int s = 0; s < c->n_steps; s++)
            for (int k = 0; k < c->steps[s].fields.n; k++)
                check_field(&c->steps[s].fields.items[k]);
    }
}

// Checks that a rejection message names the input and a line: "fuzz:LINE: ...".
static void check_message(const char *msg) {
    promise(strncmp(msg, "fuzz:", 5) == 0, "the message names the file");
    const char *p = msg + 5;
    promise(*p >= '1' && *p <= '9', "the message names a line number");
    while (*p >= '0' && *p <= '9') p++;
    promise(p[0] == ':' && p[1] == ' ' && p[2] != '\0', "a message follows the line number");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (!sink) abort();
    RefFile f;
    EmbError err = {{0}};
    if (ref_parse((const char *)data, size, "fuzz", &f, &err) != 0) {
        check_message(err.msg);
        promise(f.cases == NULL && f.n_cases == 0, "a rejected file holds nothing");
        return 0;
    }
    check_file(&f);
    Tally t = {0};
    run_file(&f, sink, &t);
    promise(t.passed + t.failed + t.skipped == f.n_cases, "one verdict per case");
    ref_free(&f);
    return 0;
}
