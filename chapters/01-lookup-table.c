/**
# Chapter 1: The lookup table

A language model reads words, a recommender reads user and item ids, and a
graph model reads node numbers. None of these are numbers a network can
compute with: the id 4127 is not "bigger" than the id 12 in any useful
sense. The first layer of each of these models turns an id into a vector
of real numbers, and it does so in the simplest way there is: it keeps one
vector per id in a table, and it looks the vector up.

That table is PyTorch's `nn.Embedding`. This chapter builds it: the table,
the way PyTorch fills it with random numbers (bit for bit), the lookup, and
the error you get for an id that is not in the table. The rest of the book
is about how the table *learns*; here we make sure we have exactly the
table PyTorch has before training starts.

## The idea in one picture

An embedding table is a matrix $W$ with $V$ rows and $D$ columns: $V$ is
the number of ids (`num_embeddings`, the vocabulary size) and $D$ is the
length of each vector (`embedding_dim`). Row $k$ is the vector of id $k$.
Looking up $N$ ids $\mathrm{idx}_0, \dots, \mathrm{idx}_{N-1}$ gives an
$N \times D$ matrix whose row $i$ is row $\mathrm{idx}_i$ of $W$:

$$\mathrm{out}_{i} = W_{\mathrm{idx}_i}, \qquad i = 0, \dots, N-1.$$

The ids need not be a flat list. Each id becomes a row of $D$ values and
the ids keep their own arrangement, so the output's shape is the ids'
shape with $D$ added at the end: ids of shape $(2, 3)$, a batch of two
sequences of three ids, looked up in a $(10, 4)$ table give an output of
shape $(2, 3, 4)$.

```
      W (V x D)                          out (N x D)
 0  [ .  .  .  . ]        idx = [1, 4, 4, 9]
 1  [ a  a  a  a ] ----------------->  [ a  a  a  a ]
 ...                         +------>  [ b  b  b  b ]
 4  [ b  b  b  b ] ----------+------>  [ b  b  b  b ]
 ...                                +> [ c  c  c  c ]
 9  [ c  c  c  c ] -----------------+
```

Nothing is computed: rows are copied. The same row may be copied many
times (id 4 above), and most rows are not copied at all. Both facts come
back in chapter 2, where they decide which rows learn.

The code starts with the chapter's header, which holds the `Embedding`
struct that every chapter of the book shares.
*/

#include "01-lookup-table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/tensor_print.h"

/**
## The table

Look at `Embedding` in the header. It mirrors the attributes of PyTorch's
module: `num_embeddings` and `embedding_dim` are $V$ and $D$, and `weight`
points at $V \cdot D$ floats stored row after row, so row `ix` starts at
`weight + ix*D`. The other fields are the module's options and the
gradient. This chapter leaves them at PyTorch's defaults (no padding row,
no `max_norm`, `norm_type` 2, no frequency scaling, dense gradients, and no
gradient buffer yet); chapter 2 gives the table a gradient, chapter 3 its
options and chapter 6 its sparse gradients. Putting them in the struct now
means that later chapters add functions, never new kinds of table.

A table costs $V \cdot D \cdot 4$ bytes of float32. That product overflows
sooner than one might think, so it is computed with a check:
*/

int64_t emb_weight_bytes(int64_t V, int64_t D) {
    int64_t values, bytes;
    if (V < 1 || D < 1) return -1;
    if (emb_mul_size(V, D, &values) != 0) return -1;
    if (emb_mul_size(values, (int64_t)sizeof(float), &bytes) != 0) return -1;
    if ((uint64_t)bytes > (uint64_t)SIZE_MAX) return -1;
    return bytes;
}

/**
For real tables the numbers are large. BERT's vocabulary of 30,522
word pieces with $D = 768$ is 93.8 MB; GPT-2's 50,257 tokens with the same
$D$ is 154.4 MB; a recommender with ten million items and $D = 64$ is
2.56 GB, more than the rest of such a model by far. The program at the end
of this chapter prints these sizes with `emb_weight_bytes`.

## Filling the table like PyTorch

`nn.Embedding(V, D)` allocates the weight and fills it from the standard
normal distribution $\mathcal{N}(0, 1)$. We want the *same* numbers, not
just numbers from the same distribution, so that every later chapter can
start from PyTorch's table and compare with PyTorch step by step. That
means reproducing PyTorch's random number generator exactly; the code is in
`src/torch_rng.c`, because it is support code and not the subject of this
book, but the idea is worth knowing.

`torch.manual_seed(s)` seeds a Mersenne Twister (MT19937) with the low 32
bits of $s$. Each draw gives 32 random bits, and a float32 uniform number in
$[0, 1)$ is the draw's low 24 bits times $2^{-24}$. Normal samples come from
the Box-Muller transform: two uniforms $u_1, u_2$ give two independent
normal samples

$$z_0 = \sqrt{-2 \ln u_1}\,\cos(2\pi u_2), \qquad
  z_1 = \sqrt{-2 \ln u_1}\,\sin(2\pi u_2).$$

PyTorch has two ways of doing this, and which one runs depends on the size
of the table:

* **Fewer than 16 values.** Each value comes from a Box-Muller pair
  computed in double precision from two 53-bit uniforms. The second sample
  of the pair is not thrown away: it is cached in the generator and used by
  the next request for a normal number, *even by a different tensor*.
  `Embedding(5, 3)` (15 values, 8 pairs) leaves a cached sample behind, and
  a following `Embedding(1, 1)` gets it.
* **16 values or more.** PyTorch draws one float uniform per value, then
  transforms blocks of 16 in place with float32 arithmetic: the first 8
  values $x$ of a block give the $u_1$s (as $1 - x$, so that the logarithm
  never sees 0) and the last 8 the $u_2$s; cosines go to the first half
  and sines to the second. When the count is not a
  multiple of 16, the last block is made of 16 *fresh* uniforms written
  over the last 16 positions, so up to 15 finished values are overwritten.
  On a CPU with AVX2 the logarithm, sine and cosine are polynomial
  approximations (from the Cephes library) evaluated 8 lanes at a time,
  and the compiler has fused some of the multiply-adds. Our C evaluates the
  same polynomials with `fmaf` at exactly those places.

The result is bit-exact: the chapter's tests compare our float32 bits with
bits written by PyTorch 1.13 for many seeds and shapes. Here is the small
path at work. For `torch.manual_seed(0); nn.Embedding(5, 3).weight`,
PyTorch 1.13 prints

```
tensor([[ 1.5410, -0.2934, -2.1788],
        [ 0.5684, -1.0845, -1.3986],
        [ 0.4033,  0.8380, -0.7193],
        [-0.4033, -0.5966,  0.1820],
        [-0.8567,  1.1006, -1.0712]], requires_grad=True)
```

and the same table made by this chapter's code, in `make chapter1`'s run,
begins with the rows

| row | PyTorch | this chapter's run |
|---|---|---|
| 0 | 1.5410, -0.2934, -2.1788 | {{small.row0}} |
| 1 | 0.5684, -1.0845, -1.3986 | {{small.row1}} |

One more detail matters for speed, not for correctness. PyTorch's CPU
allocator starts every tensor on a 64-byte boundary, the size of a cache
line. `malloc` only promises 16 bytes, and for a large table glibc returns
an address 16 bytes past a boundary, so every 256-byte row of a $D = 64$
table straddles five cache lines instead of four. With `malloc`'s
alignment, `make bench` found lookups of skewed ids up to 1.6 times
slower, so `emb_alloc` aligns as PyTorch does. `emb_init` is then short:
*/

void *emb_alloc(int64_t bytes) {
    void *mem = NULL;
    size_t padded = ((size_t)bytes + 63) / 64 * 64;  // a whole number of cache lines
    return posix_memalign(&mem, 64, padded) == 0 ? mem : NULL;
}

int emb_init(Embedding *e, int64_t V, int64_t D, TorchGenerator *gen, EmbError *err) {
    memset(e, 0, sizeof *e);
    if (V < 1) {
        return emb_fail(err, "num_embeddings must be at least 1, got %lld", (long long)V);
    }
    if (D < 1) {
        return emb_fail(err, "embedding_dim must be at least 1, got %lld", (long long)D);
    }
    int64_t bytes = emb_weight_bytes(V, D);
    if (bytes < 0) {
        return emb_fail(err,
                        "a table of %lld x %lld float32 values is too large to address",
                        (long long)V, (long long)D);
    }
    float *weight = emb_alloc(bytes);
    if (!weight) {
        return emb_fail(err, "cannot allocate a %lld x %lld table (%lld bytes)",
                        (long long)V, (long long)D, (long long)bytes);
    }
    rng_normal_(gen, weight, V * D, 0.0f, 1.0f);  // weight is (V, D)
    *e = (Embedding){
        .num_embeddings = V,
        .embedding_dim = D,
        .weight = weight,
        .grad = NULL,
        .requires_grad = true,
        .owns_weight = true,
        .padding_idx = EMB_NO_PADDING,
        .max_norm = EMB_NO_MAX_NORM,
        .norm_type = 2.0,
        .scale_grad_by_freq = false,
        .sparse = false,
    };
    return 0;
}

void emb_free(Embedding *e) {
    if (e->owns_weight) free(e->weight);
    free(e->grad);
    memset(e, 0, sizeof *e);
}

/**
Two details are PyTorch's choices, and we keep them. The table is filled in
one call, so a $5 \times 3$ table takes the small path and a $4 \times 4$
table the blocked one, and the two are not the same numbers you would get
by filling row by row. And the seed's high 32 bits are ignored: seeds 0 and
$2^{32}$ give the same table.

## Looking rows up

A lookup must first make sure that every id names a row. PyTorch has no
Python-style negative indexing here: $-1$ is an error, not the last row.

Keep $-1$ in mind, because it means three different things in this book,
and all three come from PyTorch:

* **In a lookup**, $-1$ is an index out of range, an error (this chapter).
* **As `padding_idx`**, $-1$ is the last row, counted from the end as in
  Python: `nn.Embedding(V, D, padding_idx=-1)` makes row $V-1$ the padding
  row ([chapter 3](03-padding-and-options.html)).
* **In our C struct**, `padding_idx` holds $-1$, under the name
  `EMB_NO_PADDING`, when there is no padding row at all (see the header).
  PyTorch's raw `torch.embedding` op uses $-1$ the same way. A table with
  padding on its last row stores $V-1$, never $-1$, so the two cannot be
  confused.

PyTorch checks every index before it copies anything, and so do we, so that a
bad index leaves the output untouched. The message is PyTorch's
(`index out of range in self`), with the index and the table size added,
which PyTorch's CPU message leaves out.
*/

int emb_check_indices(const Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    if (n < 0) {
        return emb_fail(err, "number of indices must be >= 0, got %lld", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= e->num_embeddings) {
            return emb_fail(err,
                            "index out of range in self: index %lld, num_embeddings %lld",
                            (long long)idx[i], (long long)e->num_embeddings);
        }
    }
    return 0;
}

/**
The lookup itself is a loop of row copies. `F.embedding` does exactly this:
its forward pass is `weight.index_select(0, idx)`, a gather of rows into a
new, contiguous tensor. The output never aliases the weight; changing it
does not change the table.
*/

int emb_lookup(const Embedding *e, const int64_t *idx, int64_t n, float *out,
               EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        const float *w_ix = e->weight + idx[i] * D;  // seek to row idx[i]
        memcpy(out + i * D, w_ix, (size_t)D * sizeof(float));
    }
    return 0;
}

/**
## A lookup is a one-hot product

There is another way to say the same thing, and it is how the table is
usually drawn in diagrams. Write id $k$ as a *one-hot* row vector
$e_k \in \{0,1\}^V$: all zeros except a 1 in position $k$. Then
$e_k W = W_k$, and stacking the one-hot rows of the $N$ ids into an
$N \times V$ matrix $X$ gives

$$\mathrm{out} = X\,W.$$

So an embedding layer is a linear layer without a bias, whose inputs happen
to be one-hot. That view matters in chapter 2: the gradient of a matrix
product is known, and it tells us at once that only rows with a 1 in $X$
get a gradient. The function below computes the product honestly, one-hot
row by one-hot row, so we can check that it agrees with the lookup:
*/

int emb_onehot_matmul(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                      EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    int64_t V = e->num_embeddings, D = e->embedding_dim;
    float *x_i = malloc((size_t)V * sizeof(float));  // one one-hot row, (V,)
    if (!x_i) {
        return emb_fail(err, "cannot allocate a one-hot row of %lld floats",
                        (long long)V);
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < V; k++) x_i[k] = (k == idx[i]) ? 1.0f : 0.0f;
        float *out_i = out + i * D;  // row i of the output
        for (int64_t d = 0; d < D; d++) out_i[d] = 0.0f;
        for (int64_t k = 0; k < V; k++) {
            const float *w_k = e->weight + k * D;  // seek to row k
            for (int64_t d = 0; d < D; d++) out_i[d] += x_i[k] * w_k[d];
        }
    }
    free(x_i);
    return 0;
}

/**
For finite weights the two agree exactly: every product with a 0 is 0,
adding zeros changes nothing, and $1 \cdot w = w$. The cost does not agree.
The product does $N \cdot V \cdot D$ multiply-adds and reads the whole
table for every id; the lookup copies $N \cdot D$ floats and reads only the
rows it needs. For $V = 1000$ that is a thousand times more work; for a
vocabulary of 50,000 it is hopeless. `make bench` measures both.

## Printing like PyTorch

Printing `embedding.weight` in Python gives `Parameter containing:` and a
`tensor(...)` with four digits after the point, all values padded to one
width. `src/tensor_print.c` follows PyTorch's printing rules (including the
switch to scientific notation and the `...` summaries of large tensors), so
a reader can put our output beside PyTorch's and compare.
*/

void emb_print_weight(FILE *f, const Embedding *e) {
    fprintf(f, "Parameter containing:\n");
    tensor_print(f, e->weight, e->num_embeddings, e->embedding_dim,
                 e->requires_grad ? "requires_grad=True" : NULL);
}

/**
## The program

The chapter's program makes a table, prints it, looks rows up, and checks
the lookup against the one-hot product. It then fills a BERT-sized table
($30522 \times 768$, 23 million values) to see the distribution of the
initial values, and writes its data as TSV files for the figures. Every
option has a default, so `make chapter1` runs it with no arguments.
*/

#ifndef EMB_LIBRARY

#include "../src/cli.h"
#include "../src/histogram.h"
#include "../src/tsv.h"

typedef struct Options {
    int64_t vocab, dim;            // the small table, printed
    uint64_t seed;                 // torch.manual_seed
    const char *indices;           // the ids to look up, "1,4,4,9"
    int64_t hist_vocab, hist_dim;  // the large table, summarised
    const char *out;               // folder for the run's files
} Options;

/**
The program writes the small table to `table.tsv` with how many times
each row was looked up (`src/tsv.c`), and a histogram of the large one to
`init-hist.tsv` (`src/histogram.c`). The memory table uses the same
`emb_weight_bytes` as `emb_init`:
*/

static int write_memory(const Options *opt, const char *dir, EmbError *err) {
    static const struct { const char *name; int64_t V, D; } tables[] = {
        {"this chapter's table", 10, 4},
        {"BERT-base word pieces", 30522, 768},
        {"GPT-2 tokens", 50257, 768},
        {"recommender, 10^7 items", 10000000, 64},
    };
    OutFile of;
    if (outfile_open(&of, dir, "memory.tsv", err) != 0) return -1;
    fprintf(of.f, "table\tV\tD\tbytes\n");
    printf("\n%-26s %10s %5s %16s\n", "memory of a table", "V", "D", "V*D*4 bytes");
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        int64_t V = t == 0 ? opt->vocab : tables[t].V,
                D = t == 0 ? opt->dim : tables[t].D;
        int64_t bytes = emb_weight_bytes(V, D);
        printf("%-26s %10lld %5lld %16lld (%.1f MB)\n", tables[t].name, (long long)V,
               (long long)D, (long long)bytes, (double)bytes / 1e6);
        fprintf(of.f, "%s\t%lld\t%lld\t%lld\n", tables[t].name, (long long)V,
                (long long)D, (long long)bytes);
    }
    return outfile_commit(&of, err);
}

/**
`look_up` and `run` print what PyTorch would print for the same calls (the
Python is in the comments beside them).
*/

// Looks idx up both ways and prints the rows and the difference.
static int look_up(const Embedding *e, const int64_t *idx, int64_t n, EmbError *err) {
    int64_t D = e->embedding_dim, bytes = emb_weight_bytes(n > 0 ? n : 1, D);
    float *rows = bytes > 0 ? malloc((size_t)bytes) : NULL;  // (n, D)
    float *product = bytes > 0 ? malloc((size_t)bytes) : NULL;  // (n, D)
    int rc = -1;
    if (!rows || !product) {
        emb_fail(err, "cannot allocate the (%lld, %lld) output", (long long)n,
                 (long long)D);
    } else if (emb_lookup(e, idx, n, rows, err) == 0 &&  // emb(idx)
               emb_onehot_matmul(e, idx, n, product, err) == 0) {
        printf("\n>>> emb(torch.tensor([");
        for (int64_t i = 0; i < n; i++) {
            printf("%s%lld", i ? ", " : "", (long long)idx[i]);
        }
        printf("]))\n");
        tensor_print(stdout, rows, n, D, "grad_fn=<EmbeddingBackward0>");
        double diff = 0.0;  // the largest |rows - product|
        for (int64_t i = 0; i < n * D; i++) diff = fmax(diff, fabs(rows[i] - product[i]));
        printf("\none_hot(idx) @ weight equals the lookup: max |difference| = %g\n",
               diff);
        printf("cost: the product did %lld multiply-adds, the lookup copied %lld "
               "floats\n", (long long)(n * e->num_embeddings * D), (long long)(n * D));
        rc = 0;
    }
    free(rows);
    free(product);
    return rc;
}

// The small path's table, torch.manual_seed(0); nn.Embedding(5, 3), from a
// generator of its own: printed, and its first rows recorded for the prose.
static int small_path(RunValues *values, EmbError *err) {
    TorchGenerator gen;
    Embedding small;
    rng_manual_seed(&gen, 0);
    if (emb_init(&small, 5, 3, &gen, err) != 0) return -1;
    printf("\n>>> torch.manual_seed(0); nn.Embedding(5, 3).weight\n");
    emb_print_weight(stdout, &small);
    for (int r = 0; r < 2; r++) {
        const float *w_r = small.weight + r * 3;  // row r
        run_values_set(values, r == 0 ? "small.row0" : "small.row1", "%.4f, %.4f, %.4f",
                       w_r[0], w_r[1], w_r[2]);
    }
    emb_free(&small);
    return 0;
}

static int run(void *options, const char *dir, RunValues *values, EmbError *err) {
    const Options *opt = options;
    TorchGenerator gen;
    Embedding e = {0}, big = {0};
    int64_t *idx = NULL, n;
    NormalSummary s;
    int rc = -1;
    if (cli_int64_list("--indices", opt->indices, &idx, &n, err) != 0) return -1;
    rng_manual_seed(&gen, opt->seed);  // torch.manual_seed(seed)
    // nn.Embedding(V, D)
    if (emb_init(&e, opt->vocab, opt->dim, &gen, err) != 0) goto done;
    printf(">>> torch.manual_seed(%llu); emb = nn.Embedding(%lld, %lld); emb.weight\n",
           (unsigned long long)opt->seed, (long long)opt->vocab, (long long)opt->dim);
    emb_print_weight(stdout, &e);
    if (look_up(&e, idx, n, err) != 0 || small_path(values, err) != 0) goto done;
    if (emb_init(&big, opt->hist_vocab, opt->hist_dim, &gen, err) != 0 ||
        hist_write_normal(big.weight, big.num_embeddings * big.embedding_dim, dir,
                          "init-hist.tsv", &s, err) != 0) goto done;
    printf("\n%lld x %lld table, %lld values: mean %.5f, std %.5f, |x| < 1: %.2f%% "
           "(normal: 68.27%%), |x| < 2: %.2f%% (normal: 95.45%%)\n",
           (long long)opt->hist_vocab, (long long)opt->hist_dim, (long long)s.n, s.mean,
           s.std, s.within1_pct, s.within2_pct);
    run_values_set(values, "init.mean", "%.5f", s.mean);
    run_values_set(values, "init.std", "%.5f", s.std);
    run_values_set(values, "init.within1_pct", "%.2f", s.within1_pct);
    run_values_set(values, "init.within2_pct", "%.2f", s.within2_pct);
    if (write_memory(opt, dir, err) != 0 ||
        tsv_write_lookups(dir, "table.tsv", e.weight, opt->vocab, opt->dim, idx, n,
                          err) != 0) {
        goto done;
    }
    printf("\nwrote %s/table.tsv, init-hist.tsv, memory.tsv\n", opt->out);
    rc = 0;
done:
    free(idx);
    emb_free(&e);
    emb_free(&big);
    return rc;
}

/**
The options are a table that `src/cli.c` parses (`--name VALUE` or
`--name=VALUE`), checks and prints for `--help`; `cli_main` then runs the
program so that its `--out` folder is replaced only by a whole run.
*/

int main(int argc, char **argv) {
    Options o;
    CliOption options[] = {
        {"vocab", "V", CLI_INT, &o.vocab, "10", "num_embeddings of the printed table",
         .lo = 1, .hi = INT64_MAX},
        {"dim", "D", CLI_INT, &o.dim, "4", "embedding_dim", .lo = 1, .hi = INT64_MAX},
        {"seed", "S", CLI_SEED, &o.seed, "0", .help = "for torch.manual_seed"},
        {"indices", "LIST", CLI_STRING, &o.indices, "1,4,4,9", .help = "ids to look up"},
        {"hist-vocab", "V", CLI_INT, &o.hist_vocab, "30522", "V of the histogram's table",
         .lo = 1, .hi = INT64_MAX},
        {"hist-dim", "D", CLI_INT, &o.hist_dim, "768", "its D", .lo = 1, .hi = INT64_MAX},
        {"out", "DIR", CLI_STRING, &o.out, "build/ch01", .help = "the run's folder"},
    };
    CliProgram prog = {"ch01",
        "Builds torch.manual_seed(SEED); nn.Embedding(V, D), prints it as PyTorch does,\n"
        "looks rows up, and writes TSV files for the chapter's figures.",
        options, CLI_COUNT(options), &o.out, run, &o};
    return cli_main(&prog, argc, argv);
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter1` runs the program with its defaults. Its first lines are
the same as what PyTorch 1.13 prints for
`torch.manual_seed(0); emb = nn.Embedding(10, 4); emb.weight` (the
chapter's tests hold this PyTorch output and compare our print with it,
character for character):

```
Parameter containing:
tensor([[-1.1258, -1.1524, -0.2506, -0.4339],
        [ 0.8487,  0.6920, -0.3160, -2.1152],
        [ 0.3223, -1.2633,  0.3500,  0.3081],
        [ 0.1198,  1.2377,  1.1168, -0.2473],
        [-1.3527, -1.6959,  0.5667,  0.7935],
        [ 0.5988, -1.5551, -0.3414,  1.8530],
        [-0.2159, -0.7425,  0.5627,  0.2596],
        [-0.1740, -0.6787,  0.9383,  0.4889],
        [ 1.2032,  0.0845, -1.2001, -0.0048],
        [-0.5181, -0.3067, -1.5810,  1.7066]], requires_grad=True)
```

The figure below is the heat map of that table, with the rows that the
default indices `1,4,4,9` look up marked on the right (row 4 twice).

![The $10 \times 4$ table of seed 0. Marked rows were looked up; the
number is how many times.](fig-table.png)

The histogram of the BERT-sized table has bins of width 0.1 from $-5$ to
$5$, each bar's height scaled to a density (its count divided by the number
of values and the bin width), drawn against the standard normal density
$\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}$. It lies on that density: the
23 million values have mean {{init.mean}} and standard deviation
{{init.std}}, and {{init.within1_pct}}% of them lie within one standard
deviation ($\mathcal{N}(0, 1)$: 68.27%), {{init.within2_pct}}% within two
(95.45%), as they should.

![Initial values of a $30522 \times 768$ table (bars) against the
$\mathcal{N}(0,1)$ density (line).](fig-init-hist.png)

## What PyTorch does

* `nn.Embedding(V, D)` creates `weight` with `torch.empty(V, D)` and then
  calls `reset_parameters()`, which runs `init.normal_(weight)`. We do the
  same in `emb_init`. (PyTorch also accepts $V = 0$, a table nothing can
  be looked up in; we refuse it.)
* `F.embedding(idx, weight)` checks the indices and calls
  `weight.index_select(0, idx.reshape(-1))`, then reshapes to
  `(*idx.shape, D)`: indices of shape $(2, 3)$ in a $(10, 4)$ table give
  $(2, 3, 4)$. Our `emb_lookup` takes the indices already flattened, $N = 6$
  of them, and writes $N \times D = 6 \times 4$ values, row after row,
  which is the same memory as PyTorch's $(2, 3, 4)$ tensor; the shape is
  the caller's business.
* Indices must be `int64` or `int32` in PyTorch; we take `int64_t` only.
* The float32 random numbers depend on the CPU. Machines without AVX2
  (older x86 machines, and ARM machines such as Apple's) take a scalar path
  that calls the C library's `logf`, `sinf` and `cosf`; with glibc, about a
  third of its values differ from the AVX2 path's in the last bits (at most
  $2 \cdot 10^{-6}$). Our RNG offers that path too (`RNG_PATH_SCALAR`, tested
  against PyTorch run with `ATEN_CPU_CAPABILITY=default`); the book uses
  the AVX2 one, which almost every x86-64 machine of the last decade
  takes.

## Performance

`make bench` measures this chapter's costs beside PyTorch's, in one run,
both on one thread (the benchmark prints the core count because PyTorch
would otherwise use all of them), and writes every number quoted here to
`tests/bench/values.tsv`, from which the book inserts them. The machine:
{{bench:bench.cpu}}, {{bench:bench.cores}} cores, a
{{bench:bench.largest_cache}} last-level cache, shared with other work
while the benchmark ran (its load average was {{bench:bench.load_start}}
when the run began and {{bench:bench.load_end}} when it ended). C and
PyTorch take turns, case by case, for several rounds, so a burst of other
work slows neither side alone; each cell keeps its best round, and the
spread of a ratio over the rounds says how noisy it is.

**Filling the table.** Creating the $(10^7, 64)$ table, 2.56 GB, bit for
bit as `torch.manual_seed(0); nn.Embedding(10**7, 64)` creates it, took
{{bench:ch01.fill.c_s}} s in C and {{bench:ch01.fill.torch_s}} s in
PyTorch; refilling the same memory in place, without the page faults of
fresh memory, took {{bench:ch01.fill.refill_c_s}} s against
{{bench:ch01.fill.refill_torch_s}} s (PyTorch / C over the rounds:
{{bench:ch01.fill.refill_ratio_min}} to {{bench:ch01.fill.refill_ratio_max}}).
The bits are the same; the order of work
is not. PyTorch draws all the uniforms first, one at a time, and then
transforms them eight lanes at a time. `src/torch_rng.c` tempers a run of
the generator's words in one loop the compiler vectorises, transforms each
chunk of 4096 uniforms while it is still in cache, and, on a CPU with AVX2
and FMA, does so with the same vector instructions as PyTorch's kernel,
lane for lane. The one-value-at-a-time version, `fmaf` for `fmaf`,
stays in the file as the reference that the tests compare the fast one
with, on every length from 16 to 300 and around every chunk boundary.

**Lookups.** The benchmark times `emb_lookup` for $N = 4096$ ids and
$D = 64$ as $V$ grows from $10^3$ to $10^7$, for uniformly random ids and
for Zipf-skewed ids (a few ids very often, as words are), beside one
`memcpy` per looked-up row without the index check (the ceiling), and
beside PyTorch's `F.embedding` on the same ids. A lookup writes
$N \cdot D \cdot 4 = 1$ MiB per call whatever $V$ is; what changes with
$V$ is where the rows come from.

In milliseconds per call, best round, with the ratio's range over the
rounds:

* $V = 10^3$, uniform ids: C {{bench:ch01.lookup.uniform_1e3.c_ms}} ms a
  call ({{bench:ch01.lookup.uniform_1e3.c_gbps}} GB/s), the unchecked copies
  {{bench:ch01.lookup.uniform_1e3.memcpy_ms}} ms, PyTorch
  {{bench:ch01.lookup.uniform_1e3.torch_ms}} ms; PyTorch / C
  {{bench:ch01.lookup.uniform_1e3.torch_over_c}}, from
  {{bench:ch01.lookup.uniform_1e3.torch_over_c_min}} to
  {{bench:ch01.lookup.uniform_1e3.torch_over_c_max}} over the rounds.
* $V = 10^5$, uniform ids: C {{bench:ch01.lookup.uniform_1e5.c_ms}} ms a
  call ({{bench:ch01.lookup.uniform_1e5.c_gbps}} GB/s), the unchecked copies
  {{bench:ch01.lookup.uniform_1e5.memcpy_ms}} ms, PyTorch
  {{bench:ch01.lookup.uniform_1e5.torch_ms}} ms; PyTorch / C
  {{bench:ch01.lookup.uniform_1e5.torch_over_c}}, from
  {{bench:ch01.lookup.uniform_1e5.torch_over_c_min}} to
  {{bench:ch01.lookup.uniform_1e5.torch_over_c_max}} over the rounds.
* $V = 10^6$, uniform ids: C {{bench:ch01.lookup.uniform_1e6.c_ms}} ms a
  call ({{bench:ch01.lookup.uniform_1e6.c_gbps}} GB/s), the unchecked copies
  {{bench:ch01.lookup.uniform_1e6.memcpy_ms}} ms, PyTorch
  {{bench:ch01.lookup.uniform_1e6.torch_ms}} ms; PyTorch / C
  {{bench:ch01.lookup.uniform_1e6.torch_over_c}}, from
  {{bench:ch01.lookup.uniform_1e6.torch_over_c_min}} to
  {{bench:ch01.lookup.uniform_1e6.torch_over_c_max}} over the rounds.
* $V = 10^7$, uniform ids: C {{bench:ch01.lookup.uniform_1e7.c_ms}} ms a
  call ({{bench:ch01.lookup.uniform_1e7.c_gbps}} GB/s), the unchecked copies
  {{bench:ch01.lookup.uniform_1e7.memcpy_ms}} ms, PyTorch
  {{bench:ch01.lookup.uniform_1e7.torch_ms}} ms; PyTorch / C
  {{bench:ch01.lookup.uniform_1e7.torch_over_c}}, from
  {{bench:ch01.lookup.uniform_1e7.torch_over_c_min}} to
  {{bench:ch01.lookup.uniform_1e7.torch_over_c_max}} over the rounds.
* $V = 10^7$, Zipf ids: C {{bench:ch01.lookup.zipf_1e7.c_ms}} ms a call
  ({{bench:ch01.lookup.zipf_1e7.c_gbps}} GB/s), the unchecked copies
  {{bench:ch01.lookup.zipf_1e7.memcpy_ms}} ms, PyTorch
  {{bench:ch01.lookup.zipf_1e7.torch_ms}} ms; PyTorch / C
  {{bench:ch01.lookup.zipf_1e7.torch_over_c}}, from
  {{bench:ch01.lookup.zipf_1e7.torch_over_c_min}} to
  {{bench:ch01.lookup.zipf_1e7.torch_over_c_max}} over the rounds.

While the rows a run touches fit in cache ($V = 10^3$), a lookup moves
{{bench:ch01.lookup.uniform_1e3.c_gbps}} GB/s. As the table outgrows the
caches the rate falls, to {{bench:ch01.lookup.uniform_1e5.c_gbps}} GB/s
at $V = 10^5$ (a 26 MB table) and
{{bench:ch01.lookup.uniform_1e7.c_gbps}} GB/s at $10^7$, where
nearly every row is a trip to main memory, about
{{bench:ch01.lookup.uniform_1e7.ns_per_row}} ns a row. There C and
PyTorch wait on the same memory, and the unchecked copies take about as
long.
Zipf-skewed ids reuse a few hot rows, so at $V = 10^7$ they take
{{bench:ch01.lookup.zipf_1e7.c_ms}} ms where uniform ids take
{{bench:ch01.lookup.uniform_1e7.c_ms}} ms. The index check is cheap:
our lookup took {{bench:ch01.lookup.c_over_memcpy_min}} to
{{bench:ch01.lookup.c_over_memcpy_max}} times as long as the unchecked
copies, depending on the case and on the noise. PyTorch does the same
work plus its dispatch overhead, which was
{{bench:ch01.lookup.uniform_1e3.torch_minus_c_us}} microseconds per call
at $V = 10^3$. The ratios move from round to round, as their ranges
show: on a shared machine, read a PyTorch / C near 1 as a tie. The
one-hot product does ten times more work with each decade of $V$: it was
{{bench:ch01.onehot.1e2.c_over_gather}} times slower than the gather at
$V = 100$, {{bench:ch01.onehot.1e3.c_over_gather}} times at $10^3$ and
{{bench:ch01.onehot.1e4.c_over_gather}} times at $10^4$ in C, and
{{bench:ch01.onehot.1e2.torch_over_gather}},
{{bench:ch01.onehot.1e3.torch_over_gather}} and
{{bench:ch01.onehot.1e4.torch_over_gather}} times in PyTorch. Your
numbers will differ; run `make bench` to get your own.

## Summary

* An embedding table is a $V \times D$ float32 matrix, one row per id;
  it costs $4VD$ bytes, which dominates large vocabularies.
* A lookup gathers rows: $\mathrm{out}_i = W_{\mathrm{idx}_i}$. It equals
  the product of one-hot rows with the table, at a tiny fraction of the
  cost.
* PyTorch fills the table from $\mathcal{N}(0,1)$ with MT19937 and
  Box-Muller; tables under 16 values take a double-precision path that
  caches a sample across calls, larger ones a float32 blocked path with a
  tail rule. Our C reproduces both bit for bit.
* An index outside $[0, V)$, negative ones included, is an error
  (`index out of range in self`), found before anything is copied.

## Exercises

1. Run `build/bin/ch01 --vocab 5 --dim 3 --indices 0 --hist-vocab 1
   --hist-dim 1`, and the same with `--vocab 4 --dim 4`. Which RNG path
   does each take? Check the first values against the test vectors in
   `tests/test_rng.c`.
2. After `torch.manual_seed(0)`, PyTorch's `nn.Embedding(5, 3)` followed
   by `nn.Embedding(1, 1)` gives the second table the value 0.1227. Where
   does it come from? Write the two calls with `emb_init` and check.
3. A $(10, 4)$ table holds 40 values. How many 32-bit random words does
   filling it consume? (Hint: the tail.) What about $(4, 4)$?
4. In a small test program (or a Check test), put `NAN` in row 7 of a
   table and compare `emb_lookup` and `emb_onehot_matmul` for the ids
   `1,4`. Explain the difference. What
   does this say about computing embeddings as a product?
5. Why does `emb_lookup` check all the indices before copying any row?
   Write a test that would fail if it checked while copying.
6. Using `make bench`, find the $V$ at which uniform lookups start to slow
   down on your machine, and compare the table's size at that $V$ with
   your CPU's cache sizes (`lscpu`).
*/
