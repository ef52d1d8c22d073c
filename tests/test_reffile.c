/*
 * test_reffile.c - the reference-file reader and schema (src/reffile.h,
 * tests/reference/FORMAT.md).
 *
 * The claims, as tests: every committed reference file reads; a row of a
 * tensor may continue over several lines that end in `\`, so a model with
 * V = 7000, whose rows of V values are longer than a line may be, is
 * written and read back bit for bit; a continuation in the wrong place is
 * an error naming the file and the line; upper-case hex reads as bits32;
 * a negative seed is refused with the number to write instead; a model
 * step may leave out its loss, logits and gradients (all gradients or
 * none) and is still checked on its weights by the runner.
 */
#define CONFORMANCE_NO_MAIN
#include "conformance.c"  // the runner's handlers, without its main

#include <glob.h>
#include <stdarg.h>

#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

// A growing text buffer.
typedef struct Text {
    char *s;
    size_t len, cap;
} Text;

// Appends printf-style text to t.
__attribute__((format(printf, 2, 3)))
static void put(Text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(n, 0);
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = 2 * (t->cap + (size_t)n) + 64;
        t->s = realloc(t->s, t->cap);
        ck_assert_ptr_nonnull(t->s);
    }
}

static const char HEADER[] = "embref 1\ntorch 1.13.0a0\n";

// Parses text as a file called "t.ref"; on failure err holds the message.
static int parse(const char *text, RefFile *f, EmbError *err) {
    return ref_parse(text, strlen(text), "t.ref", f, err);
}

// Asserts that text is rejected with a message that starts with "t.ref:LINE: "
// and contains `what`.
static void assert_rejected(const char *text, int line, const char *what) {
    RefFile f;
    EmbError err = {{0}};
    ck_assert_int_eq(parse(text, &f, &err), -1);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "t.ref:%d: ", line);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "want '%s...', got '%s'", prefix,
                  err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "want '%s' in '%s'", what, err.msg);
    ck_assert_ptr_null(f.cases);
}

// Writes n float32 values as a row in "%.9g" (which reads back exactly):
// `per_line` values a line, each line but the last ending in the continuation `\`.
static void put_row(Text *t, const float *v, int64_t n, int64_t per_line) {
    for (int64_t i = 0; i < n; i++) {
        put(t, "%.9g", (double)v[i]);
        bool line_end = (i + 1) % per_line == 0 || i + 1 == n;
        put(t, "%s", line_end ? (i + 1 == n ? "\n" : " \\\n") : " ");
    }
}

// Writes a tensor field: header, then rows of its last dimension `cols`.
static void put_tensor(Text *t, const char *key, const float *v, int64_t rows, int64_t cols,
                       bool two_d, int64_t per_line) {
    if (two_d) put(t, "%s f32 %lld %lld\n", key, (long long)rows, (long long)cols);
    else put(t, "%s f32 %lld\n", key, (long long)cols);
    for (int64_t r = 0; r < rows; r++) put_row(t, v + r * cols, cols, per_line);
}

// n values drawn from N(0, 1) by PyTorch's generator: numbers of every size.
static float *normals(int64_t n, uint64_t seed) {
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TorchGenerator gen;
    rng_manual_seed(&gen, seed);
    rng_normal_(&gen, v, n, 0.0f, 1.0f);
    return v;
}

// Asserts that field f holds exactly the bits of want (n values).
static void assert_same_bits(const RefField *f, const float *want, int64_t n) {
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->numel, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(test_bits(f->f32[i]) == test_bits(want[i]), "%s[%lld]: %.9g, want %.9g",
                      f->key, (long long)i, f->f32[i], want[i]);
}

/* ------------------------------------------------------- committed files */

START_TEST(every_committed_file_reads) {
    glob_t files;
    ck_assert_int_eq(glob("tests/reference/*.ref", 0, NULL, &files), 0);
    ck_assert_uint_ge(files.gl_pathc, 9);  // init, lookup, backward, ..., bag
    for (size_t i = 0; i < files.gl_pathc; i++) {
        RefFile f;
        EmbError err = {{0}};
        ck_assert_msg(ref_read_file(files.gl_pathv[i], &f, &err) == 0, "%s", err.msg);
        ck_assert_int_gt(f.n_cases, 0);
        ref_free(&f);
    }
    globfree(&files);
}
END_TEST

/* ---------------------------------------------------------- continuations */

static const char ROWS_ONE_LINE[] =
    "case c lookup\n V 2\n D 4\n weight f32 2 4\n  1 2 3 4\n  5 6 7 8\n"
    " indices i64 5\n  0 1 1 0 1\n output f32 5 4\n"
    "  1 2 3 4\n  5 6 7 8\n  5 6 7 8\n  1 2 3 4\n  5 6 7 8\nend\n";
static const char ROWS_CONTINUED[] =
    "case c lookup\n V 2\n D 4\n weight bits32 2 4\n  3F800000 40000000 \\\n"
    "  # a comment and a blank line may stand between a row's lines\n\n"
    "  40400000 40800000\n  40a00000 \\\n 40C00000 \\\n 40e00000 \\\n 41000000\n"
    " indices i64 5\n  0 1 \\\n  1 0 1\n output f32 5 4\n"
    "  1 2 3 4\n  5 6 7 8\n  5 \\\n 6 7 8\n  1 2 3 4\n  5 6\t\\\t\n 7 8\nend\n";

START_TEST(continued_rows_read_as_one_line) {
    Text a = {0}, b = {0};
    put(&a, "%s%s", HEADER, ROWS_ONE_LINE);
    put(&b, "%s%s", HEADER, ROWS_CONTINUED);
    RefFile fa, fb;
    EmbError err = {{0}};
    ck_assert_msg(parse(a.s, &fa, &err) == 0, "%s", err.msg);
    ck_assert_msg(parse(b.s, &fb, &err) == 0, "%s", err.msg);
    const char *keys[] = {"weight", "indices", "output"};
    for (int k = 0; k < 3; k++) {
        const RefField *x = ref_get(&fa.cases[0].fields, keys[k]);
        const RefField *y = ref_get(&fb.cases[0].fields, keys[k]);
        ck_assert_int_eq(x->numel, y->numel);
        for (int64_t i = 0; i < x->numel; i++) {
            if (x->type == REF_I64) ck_assert_int_eq(x->i64[i], y->i64[i]);
            else ck_assert_uint_eq(test_bits(x->f32[i]), test_bits(y->f32[i]));
        }
    }
    // upper- and lower-case hex read the same bits
    ck_assert_uint_eq(ref_get(&fb.cases[0].fields, "weight")->bits[0], 0x3f800000u);
    ck_assert_uint_eq(ref_get(&fb.cases[0].fields, "weight")->bits[5], 0x40c00000u);
    ref_free(&fa);
    ref_free(&fb);
    free(a.s);
    free(b.s);
}
END_TEST

// A lookup case whose weight's rows are given by `rows` (after the header).
static char *lookup_with_rows(const char *rows) {
    Text t = {0};
    put(&t, "%scase c lookup\n V 2\n D 3\n weight f32 2 3\n%s indices i64 1\n  0\n"
            " output f32 1 3\n  1 2 3\nend\n", HEADER, rows);
    return t.s;
}

START_TEST(malformed_continuations_name_the_line) {
    struct {
        const char *rows;
        int line;  // the weight's first row is on line 7
        const char *what;
    } bad[] = {
        {"  1 \\ 2 3\n  4 5 6\n", 7, "'\\' may only end a line"},
        {"  1 2 3 \\\n  4 5 6\n", 7, "already has its 3 values; no '\\'"},
        {"  1 2\n  3 4 5 6\n", 7, "the row has 2 values; expected 3"},
        {"  1 2 3\n  4 \\\n  5 6 7\n", 9, "the row has more than 3 values"},
        {"  1 2\\\n  3\n  4 5 6\n", 7, "'2\\' is not a number"},
        {"  1 2 3\n  4 5 \\\n  \\ 6\n", 9, "'\\' may only end a line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = lookup_with_rows(bad[i].rows);
        assert_rejected(text, bad[i].line, bad[i].what);
        free(text);
    }
    // a continuation at the end of the file names the line of its `\`
    Text t = {0};
    put(&t, "%scase c lookup\n V 2\n D 3\n weight f32 2 3\n  1 2 3\n  4 5 \\\n# end\n", HEADER);
    assert_rejected(t.s, 8, "the file ends after '\\'");
    free(t.s);
    // only rows continue: not a scalar, not a tensor's header
    t = (Text){0};
    put(&t, "%scase c train\n V 1\n D 1\n optimizer sgd\n lr 0.5 \\\n", HEADER);
    assert_rejected(t.s, 7, "unexpected '\\' after the value");
    free(t.s);
    t = (Text){0};
    put(&t, "%scase c lookup\n V 1\n D 1\n weight f32 1 \\\n  1\n", HEADER);
    assert_rejected(t.s, 6, "'\\' is not an integer");
    free(t.s);
}
END_TEST

START_TEST(negative_seed_names_its_unsigned_form) {
    Text t = {0};
    put(&t, "%scase i init\n seed -1\n", HEADER);
    assert_rejected(t.s, 4, "'-1' is negative; PyTorch stores a negative seed s as s + 2**64, "
                            "so write 18446744073709551615");
    free(t.s);
    t = (Text){0};
    put(&t, "%scase i init\n seed 18446744073709551615\n V 1\n D 1\n"
            " weight bits32 1 1\n  3F800000\nend\n", HEADER);
    RefFile f;
    EmbError err = {{0}};
    ck_assert_msg(parse(t.s, &f, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ref_uint(&f.cases[0].fields, "seed"), UINT64_MAX);
    ck_assert_uint_eq(ref_get(&f.cases[0].fields, "weight")->bits[0], 0x3f800000u);
    ref_free(&f);
    free(t.s);
}
END_TEST

/* ------------------------------------------------- a model with V = 7000 */

enum { BIG_V = 7000, BIG_D = 2, BIG_N = 3, PER_LINE = 1000 };

// A V = 7000 untied model case with a bias and one step, rows continued
// every `per_line` values; w, pw, pb, logits are its tensors.
static char *big_model(const float *w, const float *pw, const float *pb, const float *logits,
                       int64_t per_line) {
    Text t = {0};
    put(&t, "%scase big/v7000 model\n V %d\n D %d\n optimizer sgd\n lr 0.5\n", HEADER, BIG_V,
        BIG_D);
    put_tensor(&t, "weight", w, BIG_V, BIG_D, true, per_line);
    put_tensor(&t, "proj_weight", pw, BIG_V, BIG_D, true, per_line);
    put_tensor(&t, "proj_bias", pb, 1, BIG_V, false, per_line);
    put(&t, "step 1\n inputs i64 %d\n  0 6999 17\n targets i64 %d\n  6999 0 3\n", BIG_N, BIG_N);
    put_tensor(&t, "logits", logits, BIG_N, BIG_V, true, per_line);
    put(&t, " loss f32 1\n  9.0\n");
    put_tensor(&t, "weight", w, BIG_V, BIG_D, true, per_line);
    put_tensor(&t, "proj_weight", pw, BIG_V, BIG_D, true, per_line);
    put_tensor(&t, "proj_bias", pb, 1, BIG_V, false, per_line);
    put(&t, "end\n");
    return t.s;
}

START_TEST(model_with_v7000_round_trips) {
    float *w = normals(BIG_V * BIG_D, 1), *pw = normals(BIG_V * BIG_D, 2);
    float *pb = normals(BIG_V, 3), *logits = normals(BIG_N * BIG_V, 4);
    // On one line, a row of 7000 values is longer than a line may be ...
    char *text = big_model(w, pw, pb, logits, BIG_V);
    RefFile f;
    EmbError err = {{0}};
    ck_assert_int_eq(parse(text, &f, &err), -1);
    ck_assert_msg(strstr(err.msg, "bytes long; the limit is 65536") != NULL, "%s", err.msg);
    free(text);
    // ... continued every 1000 values it reads back bit for bit.
    text = big_model(w, pw, pb, logits, PER_LINE);
    ck_assert_msg(parse(text, &f, &err) == 0, "%s", err.msg);
    const RefCase *c = &f.cases[0];
    ck_assert_int_eq(ref_int(&c->fields, "V"), BIG_V);
    assert_same_bits(ref_get(&c->fields, "weight"), w, BIG_V * BIG_D);
    assert_same_bits(ref_get(&c->fields, "proj_weight"), pw, BIG_V * BIG_D);
    assert_same_bits(ref_get(&c->fields, "proj_bias"), pb, BIG_V);
    const RefFields *sf = &c->steps[0].fields;
    const RefField *lg = ref_get(sf, "logits");
    ck_assert_int_eq(lg->ndim, 2);
    ck_assert_int_eq(lg->dims[1], BIG_V);
    assert_same_bits(lg, logits, BIG_N * BIG_V);
    assert_same_bits(ref_get(sf, "proj_bias"), pb, BIG_V);
    ck_assert_int_eq(ref_get(sf, "inputs")->i64[1], 6999);
    ref_free(&f);
    free(text);
    free(w);
    free(pw);
    free(pb);
    free(logits);
}
END_TEST

/* ------------------------------------------ model steps without gradients */

// The text of case `name` in model.ref, with the file's header before it;
// with drop_grads, every grad_* tensor (its header and rows), the logits
// and the loss left out: only the weights after each step stay.
static char *model_case_text(const char *name, bool drop_grads) {
    FILE *fp = fopen("tests/reference/model.ref", "r");
    ck_assert_ptr_nonnull(fp);
    Text t = {0};
    put(&t, "%s", HEADER);
    char line[8192], want[128];
    snprintf(want, sizeof want, "case %s model\n", name);
    bool inside = false, dropping = false;
    while (fgets(line, sizeof line, fp)) {
        if (strcmp(line, want) == 0) inside = true;
        if (!inside) continue;
        size_t indent = strspn(line, " ");
        if (indent <= 4)
            dropping = drop_grads && (strncmp(line + indent, "grad_", 5) == 0 ||
                                      strncmp(line + indent, "logits ", 7) == 0 ||
                                      strncmp(line + indent, "loss ", 5) == 0);
        if (!dropping) put(&t, "%s", line);
        if (strcmp(line, "end\n") == 0) break;
    }
    fclose(fp);
    ck_assert_msg(inside, "no case %s in model.ref", name);
    return t.s;
}

// Runs a parsed file's cases; returns the tally, the report in report (caller frees).
static Tally run_cases(const RefFile *f, char **report) {
    size_t size;
    FILE *out = open_memstream(report, &size);
    ck_assert_ptr_nonnull(out);
    Tally t = {0};
    run_file(f, out, &t);
    fclose(out);
    return t;
}

START_TEST(model_step_without_gradients_is_checked_on_weights) {
    char *text = model_case_text("model/untied-bias-sgd", true);
    ck_assert_ptr_null(strstr(text, " grad_"));
    ck_assert_ptr_null(strstr(text, " loss "));
    ck_assert_ptr_null(strstr(text, " logits "));
    RefFile f;
    EmbError err = {{0}};
    ck_assert_msg(parse(text, &f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(f.cases[0].n_steps, 3);
    ck_assert_ptr_null(ref_get(&f.cases[0].steps[0].fields, "grad_weight"));
    char *report;
    Tally t = run_cases(&f, &report);
    ck_assert_msg(t.passed == 1 && t.failed == 0, "%s", report);
    free(report);
    // One wrong value in the weights after step 2 fails the case, and says where.
    RefField *w = (RefField *)ref_get(&f.cases[0].steps[1].fields, "proj_weight");
    w->f32[5] += 0.25f;
    t = run_cases(&f, &report);
    ck_assert_msg(t.failed == 1, "%s", report);
    ck_assert_msg(strstr(report, "step 2 proj_weight[1,1]") != NULL, "%s", report);
    free(report);
    ref_free(&f);
    free(text);
}
END_TEST

START_TEST(model_step_gives_all_gradients_or_none) {
    // A step with grad_proj_weight but no grad_weight ...
    Text t = {0};
    put(&t, "%scase m model\n V 2\n D 1\n bias false\n weight f32 2 1\n  1\n  2\n"
            " proj_weight f32 2 1\n  3\n  4\n"
            "step 1\n inputs i64 1\n  0\n targets i64 1\n  1\n loss f32 1\n  1\n"
            " grad_proj_weight f32 2 1\n  0\n  0\n"
            " weight f32 2 1\n  1\n  2\n proj_weight f32 2 1\n  3\n  4\nend\n", HEADER);
    assert_rejected(t.s, 20, "'grad_proj_weight' is not allowed: it is only given with "
                             "'grad_weight' when 'tied' is false");
    // ... and one with grad_weight but no grad_proj_weight (the step is on line 13).
    char *g = strstr(t.s, " grad_proj_weight");
    memcpy(g, " grad_weight     ", 17);
    assert_rejected(t.s, 13, "'grad_proj_weight' is required with 'grad_weight'");
    free(t.s);
}
END_TEST

Suite *reffile_suite(void);
Suite *reffile_suite(void) {
    Suite *s = suite_create("reffile");
    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 30);
    tcase_add_test(files, every_committed_file_reads);
    tcase_add_test(files, negative_seed_names_its_unsigned_form);
    suite_add_tcase(s, files);
    TCase *cont = tcase_create("continuation");
    tcase_set_timeout(cont, 30);
    tcase_add_test(cont, continued_rows_read_as_one_line);
    tcase_add_test(cont, malformed_continuations_name_the_line);
    tcase_add_test(cont, model_with_v7000_round_trips);
    suite_add_tcase(s, cont);
    TCase *grads = tcase_create("optional-gradients");
    tcase_set_timeout(grads, 30);
    tcase_add_test(grads, model_step_without_gradients_is_checked_on_weights);
    tcase_add_test(grads, model_step_gives_all_gradients_or_none);
    suite_add_tcase(s, grads);
    return s;
}

int main(void) { return test_main(reffile_suite()); }
