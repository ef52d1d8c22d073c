/*
 * tensor_print.c - PyTorch's tensor printing (torch/_tensor_str.py, 1.13),
 * for 2-D float32 matrices with the default print options.
 */
#include "tensor_print.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { PRECISION = 4, THRESHOLD = 1000, EDGEITEMS = 3, LINEWIDTH = 80 };
#define PREFIX "tensor("

typedef struct Formatter {
    bool int_mode;  // every value is a whole number
    bool sci_mode;  // scientific notation
    int width;      // every value is padded to this width
} Formatter;

// Writes v into buf without padding, in the formatter's notation.
static int format_bare(const Formatter *fmt, double v, char *buf, size_t size) {
    if (isnan(v)) return snprintf(buf, size, "nan");
    if (isinf(v)) return snprintf(buf, size, v > 0 ? "inf" : "-inf");
    if (fmt->sci_mode) return snprintf(buf, size, "%.*e", PRECISION, v);
    if (fmt->int_mode) return snprintf(buf, size, "%.0f.", v);
    return snprintf(buf, size, "%.*f", PRECISION, v);
}

// Is the row (or column) i among the ones a summarised print shows?
static bool shown(int64_t i, int64_t n, bool summarize) {
    return !summarize || n <= 2 * EDGEITEMS || i < EDGEITEMS || i >= n - EDGEITEMS;
}

// Chooses the notation and width from the values that will be printed.
static Formatter make_formatter(const float *x, int64_t rows, int64_t cols, bool summarize) {
    Formatter fmt = {.int_mode = true, .sci_mode = false, .width = 1};
    double lo = INFINITY, hi = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        if (!shown(r, rows, summarize)) continue;
        for (int64_t c = 0; c < cols; c++) {
            double v = x[r * cols + c];
            if (!shown(c, cols, summarize) || !isfinite(v) || v == 0.0) continue;
            lo = fmin(lo, fabs(v));
            hi = fmax(hi, fabs(v));
            if (v != ceil(v)) fmt.int_mode = false;
        }
    }
    if (hi == 0.0) return fmt;  // no nonzero finite value: whole-number notation, width 1
    fmt.sci_mode = hi / lo > 1000.0 || hi > 1e8 || (!fmt.int_mode && lo < 1e-4);
    // Width: the longest of the nonzero finite values (+1 for the '.' of int mode).
    for (int64_t r = 0; r < rows; r++) {
        if (!shown(r, rows, summarize)) continue;
        for (int64_t c = 0; c < cols; c++) {
            double v = x[r * cols + c];
            if (!shown(c, cols, summarize) || !isfinite(v) || v == 0.0) continue;
            char buf[64];
            int len = format_bare(&fmt, v, buf, sizeof buf);
            if (len > fmt.width) fmt.width = len;
        }
    }
    return fmt;
}

// Prints one value padded on the left to the formatter's width.
static void print_value(FILE *f, const Formatter *fmt, double v) {
    char buf[64];
    int len = format_bare(fmt, v, buf, sizeof buf);
    fprintf(f, "%*s%s", fmt->width > len ? fmt->width - len : 0, "", buf);
}

// Prints one row `[a, b, c]`, wrapping so no line passes LINEWIDTH.
static void print_row(FILE *f, const Formatter *fmt, const float *x_r, int64_t cols,
                      bool summarize, int indent) {
    int64_t per_line = (LINEWIDTH - indent) / (fmt->width + 2);
    if (per_line < 1) per_line = 1;
    fputc('[', f);
    int64_t on_line = 0;
    bool first = true;
    for (int64_t c = 0; c < cols; c++) {
        if (!shown(c, cols, summarize)) continue;
        if (!first) {
            if (on_line == per_line) {
                fprintf(f, ",\n%*s", indent + 1, "");
                on_line = 0;
            } else {
                fputs(", ", f);
            }
        }
        print_value(f, fmt, x_r[c]);
        on_line++;
        first = false;
        if (summarize && cols > 2 * EDGEITEMS && c == EDGEITEMS - 1) {
            // " ..." counts as one element of the line
            if (on_line == per_line) {
                fprintf(f, ",\n%*s ...", indent + 1, "");
                on_line = 1;
            } else {
                fputs(",  ...", f);
                on_line++;
            }
            c = cols - EDGEITEMS - 1;
        }
    }
    fputc(']', f);
}

// Appends PyTorch's suffixes (", size=(0, 3)", ", requires_grad=True"):
// each goes on a new line when it would pass LINEWIDTH.
static void print_suffix(FILE *f, const char *suffix, int indent, int *last_line_len) {
    if (!suffix || !suffix[0]) return;
    int len = (int)strlen(suffix);
    if (*last_line_len + len + 2 > LINEWIDTH) {
        fprintf(f, ",\n%*s%s", indent, "", suffix);
        *last_line_len = indent + len;
    } else {
        fprintf(f, ", %s", suffix);
        *last_line_len += len + 2;
    }
}

// Prints the bracketed values of a non-empty matrix (no prefix or suffix).
static void print_body(FILE *f, const float *x, int64_t rows, int64_t cols, int indent) {
    bool summarize = rows * cols > THRESHOLD;
    Formatter fmt = make_formatter(x, rows, cols, summarize);
    fputc('[', f);
    bool first = true;
    for (int64_t r = 0; r < rows; r++) {
        if (!shown(r, rows, summarize)) continue;
        if (!first) fprintf(f, ",\n%*s", indent + 1, "");
        print_row(f, &fmt, x + r * cols, cols, summarize, indent + 1);  // row r
        first = false;
        if (summarize && rows > 2 * EDGEITEMS && r == EDGEITEMS - 1) {
            fprintf(f, ",\n%*s...", indent + 1, "");
            r = rows - EDGEITEMS - 1;
        }
    }
    fputc(']', f);
}

void tensor_print(FILE *f, const float *x, int64_t rows, int64_t cols, const char *suffix) {
    int indent = (int)strlen(PREFIX);
    char *body = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&body, &size);
    if (!mem) return;
    fputs(PREFIX, mem);
    if (rows == 0 || cols == 0) fputs("[]", mem);
    else print_body(mem, x, rows, cols, indent);
    fclose(mem);
    if (!body) return;
    // PyTorch measures the last line as its length plus one.
    const char *last_nl = strrchr(body, '\n');
    int last_line_len = (int)(last_nl ? strlen(last_nl) + 1 : strlen(body) + 1);
    fputs(body, f);
    free(body);
    if (rows == 0 || cols == 0) {
        char shape[64];
        snprintf(shape, sizeof shape, "size=(%lld, %lld)", (long long)rows, (long long)cols);
        print_suffix(f, shape, indent, &last_line_len);
    }
    print_suffix(f, suffix, indent, &last_line_len);
    fputs(")\n", f);
}
