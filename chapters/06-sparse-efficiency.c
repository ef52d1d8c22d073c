/**
# Chapter 6: Sparse efficiency

A batch of 4096 lookups touches at most 4096 rows of the table. The dense
training step of chapters 2 to 5 nevertheless pays for all $V$ of them:
the backward pass writes a $(V, D)$ gradient that is zero almost
everywhere, `zero_grad` clears it, and the optimizer walks every value of
the weight and of its state. At $V = 10^7$ and $D = 64$ each of those
passes moves 2.56 GB; PyTorch's dense Adam step took
{{bench:ch04.adam.10000000.torch_ms}} ms in chapter 4's benchmark. The
work a step *needs* is proportional to the batch, not to the vocabulary.

`nn.Embedding(V, D, sparse=True)` is PyTorch's answer. Its gradient holds
only the looked-up rows, and three optimizers can use it: SGD, Adagrad and
`torch.optim.SparseAdam`. This chapter builds that gradient, the three
optimizers bit for bit as PyTorch 1.13 computes them, and the refusals
PyTorch gives for everything else. Then it measures what sparse buys:
memory, the skew of real index streams, the point where dense wins again,
and what makes the remaining random memory accesses fast.

```python
emb = nn.Embedding(V, D, sparse=True)
opt = torch.optim.SparseAdam(emb.parameters(), lr=1e-3)
opt.zero_grad(); loss.backward(); opt.step()
```
*/

#define _DEFAULT_SOURCE  // madvise and MADV_HUGEPAGE
#include "06-sparse-efficiency.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

// Asks for the bytes of a row ahead of time, into the second-level cache
// (locality 2; a hint: it changes no result).
static inline void prefetch_row(const float *row, int64_t D) {
    for (int64_t b = 0; b < D * (int64_t)sizeof(float); b += 64)
        __builtin_prefetch((const char *)row + b, 1, 2);
}

// w += alpha * v over one row, one fused multiply-add per value (torch's axpy).
// Inlined into its callers, which are compiled with and without FMA.
static inline __attribute__((always_inline)) void axpy_row(float *restrict w,
                                                           const float *restrict v,
                                                           float alpha, int64_t D) {
    for (int64_t j = 0; j < D; j++) w[j] = fmaf(v[j], alpha, w[j]);
}

/**
## The sparse gradient

For a lookup of $N$ indices $i_0, \ldots, i_{N-1}$ with upstream gradient
rows $g_0, \ldots, g_{N-1}$, chapter 2's dense gradient is

$$\nabla W = \sum_{k=0}^{N-1} e_{i_k}\, g_k^{\top},$$

where $e_{i}$ is the $i$-th unit vector of length $V$: a $(V, D)$ matrix
built by a scatter-add. The sparse gradient keeps that sum *unevaluated*:
the list of pairs $(i_k, g_k)$. PyTorch stores it as a COO tensor
(coordinate format) with one sparse dimension: `indices`, shape $(1, N)$,
and `values`, shape $(N, D)$. Nothing is added up, so a row looked up
three times appears three times (the tensor is *uncoalesced*), and the
tensor means the sum of its entries. Padding positions are left out
altogether, not stored as zeros.

![The dense gradient and the sparse one for the same batch of 8 lookups
in a table of 12 rows: the dense one is a (V, D) matrix, mostly zero; the
sparse one is a list of 8 entries.](fig-gradients.png)

Both are the same linear map of the upstream gradient: the sparse entries,
added into a zero matrix, give the dense gradient exactly, as the tests
check. What differs is the cost: the dense gradient is $V D$ floats
whatever the batch; the sparse one $N$ indices and $N D$ floats, whatever
$V$ is.

`SparseGrad` is that tensor. `zero_grad` sets its count of entries to
zero. A second backward pass without `zero_grad` adds its entries to the
old ones, so the buffers grow like a vector's. PyTorch adds the two lists
with its sparse `add`, which merges them rather than appending one to the
other; the section on SGD's momentum below explains the merge.
*/

int sparse_grad_init(SparseGrad *g, int64_t V, int64_t D, EmbError *err) {
    memset(g, 0, sizeof *g);
    if (emb_weight_bytes(V, D) < 0)
        return emb_fail(err,
                        "sparse gradient of shape (%lld, %lld): sizes must be positive",
                        (long long)V, (long long)D);
    g->num_rows = V;
    g->row_dim = D;
    g->coalesced = true;  // no entries: trivially coalesced, as PyTorch says for nnz 0
    return 0;
}

void sparse_grad_free(SparseGrad *g) {
    free(g->indices);
    free(g->values);
    memset(g, 0, sizeof *g);
}

void sparse_grad_zero(SparseGrad *g) {
    g->nnz = 0;
    g->coalesced = true;
}

int64_t sparse_grad_bytes(int64_t nnz, int64_t D) {
    int64_t per = 0, total = 0;
    if (nnz < 0 || D < 1 || emb_mul_size(D, 4, &per) != 0 || per > INT64_MAX - 8 ||
        emb_mul_size(nnz, per + 8, &total) != 0)
        return -1;
    return total;
}

// Makes room for at least want entries.
static int sparse_reserve(SparseGrad *g, int64_t want, EmbError *err) {
    if (want <= g->capacity) return 0;
    int64_t cap = g->capacity < 16 ? 16 : g->capacity;
    while (cap < want) cap = cap > INT64_MAX / 2 ? want : cap * 2;
    int64_t vbytes = emb_weight_bytes(cap, g->row_dim), ibytes = emb_weight_bytes(cap, 2);
    if (vbytes < 0 || ibytes < 0 || (uint64_t)vbytes > SIZE_MAX)
        return emb_fail(err,
                        "sparse gradient of %lld entries of %lld values is too large",
                        (long long)want, (long long)g->row_dim);
    int64_t *idx = realloc(g->indices, (size_t)ibytes);  // 8 bytes per entry
    if (idx) g->indices = idx;
    float *val = idx ? realloc(g->values, (size_t)vbytes) : NULL;
    if (!val)
        return emb_fail(err, "out of memory for %lld sparse entries", (long long)want);
    g->values = val;
    g->capacity = cap;
    return 0;
}

// Gives g the dense shape (V, D), dropping its buffers if D changes (their
// size is counted in entries of D values).
static void sparse_reshape(SparseGrad *g, int64_t V, int64_t D) {
    if (g->row_dim != D) {
        free(g->indices), free(g->values);
        g->indices = NULL, g->values = NULL, g->capacity = 0;
    }
    g->num_rows = V, g->row_dim = D;
    sparse_grad_zero(g);
}

int sparse_grad_append(SparseGrad *g, int64_t row, const float *values, EmbError *err) {
    if (row < 0 || row >= g->num_rows)
        return emb_fail(err,
                        "index %lld is out of bounds for a sparse gradient of %lld rows",
                        (long long)row, (long long)g->num_rows);
    if (sparse_reserve(g, g->nnz + 1, err) != 0) return -1;
    int64_t D = g->row_dim;
    if (g->nnz > 0 && row <= g->indices[g->nnz - 1]) g->coalesced = false;
    g->indices[g->nnz] = row;
    memcpy(g->values + g->nnz * D, values, (size_t)D * sizeof(float));  // entry nnz
    g->nnz++;
    return 0;
}

int emb_sparse_parameters(Embedding *e, SparseGrad *g, ParamList *out, EmbError *err) {
    out->n = 0;
    if (param_list_add(out, "weight", e->weight, NULL, e->num_embeddings,
                       e->embedding_dim, err) != 0)
        return -1;
    out->items[0].sparse_grad = e->requires_grad ? g : NULL;  // frozen: p.grad is None
    return 0;
}

/**
The backward pass is then a copy. PyTorch 1.13's `embedding_sparse_backward`
takes the flattened indices and the upstream gradient, drops the positions
equal to `padding_idx`, and wraps what is left; the tensor it returns is
marked uncoalesced even when no row repeats, unless it holds at most one
entry. PyTorch 1.13 does not
implement `scale_grad_by_freq` for sparse gradients: it refuses the
combination with the message below, and so do we.
*/

static int sparse_merge(const SparseGrad *t, const SparseGrad *s, float alpha,
                        SparseGrad *r, EmbError *err);

// Appends the entries of one backward pass to g (which holds none).
static void sparse_fill(const Embedding *e, SparseGrad *g, const int64_t *idx, int64_t n,
                        const float *grad_out) {
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] == e->padding_idx) continue;  // padding entries are dropped
        g->indices[g->nnz] = idx[i];
        memcpy(g->values + g->nnz * D, grad_out + i * D, (size_t)D * sizeof(float));
        g->nnz++;
    }
    g->coalesced = g->nnz <= 1;  // PyTorch marks a longer result uncoalesced
}

// extends: emb_backward_opts
int emb_backward_sparse(const Embedding *e, SparseGrad *g, const int64_t *idx, int64_t n,
                        const float *grad_out, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (e->scale_grad_by_freq)
        return emb_fail(err, "embedding_backward: scale_grad_by_freq not supported with "
                             "sparse gradients");
    if (!e->requires_grad) return 0;  // frozen: no gradient at all
    if (g->num_rows != e->num_embeddings || g->row_dim != e->embedding_dim)
        return emb_fail(err,
                        "sparse gradient of shape (%lld, %lld) for a (%lld, %lld) table",
                        (long long)g->num_rows, (long long)g->row_dim,
                        (long long)e->num_embeddings, (long long)e->embedding_dim);
    if (g->nnz == 0) {  // .grad is None or zeroed: it becomes this pass's gradient
        if (sparse_reserve(g, n, err) != 0) return -1;
        sparse_fill(e, g, idx, n, grad_out);
        return 0;
    }
    SparseGrad fresh = {0}, sum = {0};  // grad += fresh: PyTorch's sparse add
    int rc = sparse_grad_init(&fresh, g->num_rows, g->row_dim, err) ||
             sparse_reserve(&fresh, n, err);
    if (rc == 0) sparse_fill(e, &fresh, idx, n, grad_out);
    if (rc == 0) rc = sparse_merge(g, &fresh, 1.0f, &sum, err);
    if (rc == 0) {
        SparseGrad old = *g;
        *g = sum, sum = old;
    }
    sparse_grad_free(&fresh);
    sparse_grad_free(&sum);
    return rc ? -1 : 0;
}

void sparse_add_to_dense(const SparseGrad *g, float *dense) {
    int64_t D = g->row_dim;
    for (int64_t k = 0; k < g->nnz; k++) {
        float *d_ix = dense + g->indices[k] * D;  // seek to the entry's row
        const float *v_k = g->values + k * D;     // the entry's values
        for (int64_t j = 0; j < D; j++) d_ix[j] += v_k[j];
    }
}

/**
## Coalescing, and the order of a sum

Adagrad and SparseAdam need each row once: Adagrad squares the row's
gradient, and the square of a sum is not the sum of the squares. (SGD,
with or without momentum, works entry by entry, as shown below.)
`grad.coalesce()` sorts the entries by row and adds up the values of each
row. That sounds like a definition, but floating-point addition is not
associative, so *the order in which the repeats are added* decides the
last bit, and PyTorch does not document it. Reading 1.13's
`_coalesce_sparse_cpu`: it sorts the indices with `indices.sort(0)`, which
on the CPU calls `std::sort` on (index, position) pairs, and then adds
the values in the sorted order. `std::sort` is not stable: for more than
16 entries its quicksort moves equal keys past each other. The sums
therefore come out in an order only `std::sort` knows, and to match
PyTorch bit for bit we must sort exactly as libstdc++'s `std::sort`
does: an introsort (median-of-three quicksort, down to pieces of 16,
heapsort if the recursion gets too deep) followed by one insertion sort.
We checked the emulation against `coalesce()` in torch 1.13 on a few
hundred random index lists of up to 300 entries: every bit matched, and a
stable sort misses hundreds of values. (The heapsort fallback, taken only
for inputs that defeat median-of-three, follows libstdc++'s code and is
not separately checked against torch.)
*/

// Pairs (key, position) compared by key only, as torch's sort compares.
typedef struct SortSeq {
    int64_t *key, *pos;
} SortSeq;

static inline bool seq_less(const SortSeq *s, int64_t a, int64_t b) {
    return s->key[a] < s->key[b];
}
static inline void seq_swap(const SortSeq *s, int64_t a, int64_t b) {
    int64_t k = s->key[a], p = s->pos[a];
    s->key[a] = s->key[b], s->pos[a] = s->pos[b];
    s->key[b] = k, s->pos[b] = p;
}

// libstdc++'s __adjust_heap and __push_heap, with (vk, vp) the moved-out value.
static void seq_adjust_heap(const SortSeq *s, int64_t first, int64_t hole, int64_t len,
                            int64_t vk, int64_t vp) {
    int64_t top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (seq_less(s, first + child, first + child - 1)) child--;
        s->key[first + hole] = s->key[first + child],
                       s->pos[first + hole] = s->pos[first + child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        s->key[first + hole] = s->key[first + child - 1];
        s->pos[first + hole] = s->pos[first + child - 1];
        hole = child - 1;
    }
    int64_t parent = (hole - 1) / 2;
    while (hole > top && s->key[first + parent] < vk) {
        s->key[first + hole] = s->key[first + parent],
                       s->pos[first + hole] = s->pos[first + parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    s->key[first + hole] = vk, s->pos[first + hole] = vp;
}

static _Thread_local int64_t heap_sorts;  // pieces heapsorted so far, in this thread

int64_t sparse_sort_heapsorts(void) { return heap_sorts; }

// std::partial_sort(first, last, last): make_heap, then sort_heap.
static void seq_heap_sort(const SortSeq *s, int64_t first, int64_t last) {
    heap_sorts++;
    int64_t len = last - first;
    for (int64_t parent = (len - 2) / 2; len >= 2 && parent >= 0; parent--)
        seq_adjust_heap(s, first, parent, len, s->key[first + parent],
                        s->pos[first + parent]);
    while (last - first > 1) {
        last--;
        int64_t vk = s->key[last], vp = s->pos[last];
        s->key[last] = s->key[first], s->pos[last] = s->pos[first];
        seq_adjust_heap(s, first, 0, last - first, vk, vp);
    }
}

// __move_median_to_first(result, a, b, c).
static void seq_median_to_first(const SortSeq *s, int64_t r, int64_t a, int64_t b,
                                int64_t c) {
    if (seq_less(s, a, b)) {
        if (seq_less(s, b, c)) seq_swap(s, r, b);
        else if (seq_less(s, a, c)) seq_swap(s, r, c);
        else seq_swap(s, r, a);
    } else if (seq_less(s, a, c)) seq_swap(s, r, a);
    else if (seq_less(s, b, c)) seq_swap(s, r, c);
    else seq_swap(s, r, b);
}

// __unguarded_partition(first, last, pivot).
static int64_t seq_partition(const SortSeq *s, int64_t first, int64_t last,
                             int64_t pivot) {
    for (;;) {
        while (seq_less(s, first, pivot)) first++;
        last--;
        while (seq_less(s, pivot, last)) last--;
        if (!(first < last)) return first;
        seq_swap(s, first, last);
        first++;
    }
}

// __introsort_loop: quicksort down to pieces of 16, heapsort when too deep.
static void seq_introsort(const SortSeq *s, int64_t first, int64_t last, int64_t depth) {
    while (last - first > 16) {
        if (depth == 0) {
            seq_heap_sort(s, first, last);
            return;
        }
        depth--;
        seq_median_to_first(s, first, first + 1, first + (last - first) / 2, last - 1);
        int64_t cut = seq_partition(s, first + 1, last, first);
        seq_introsort(s, cut, last, depth);
        last = cut;
    }
}

// __unguarded_linear_insert(i).
static void seq_linear_insert(const SortSeq *s, int64_t i) {
    int64_t vk = s->key[i], vp = s->pos[i], next = i - 1;
    while (vk < s->key[next]) {
        s->key[i] = s->key[next], s->pos[i] = s->pos[next];
        i = next--;
    }
    s->key[i] = vk, s->pos[i] = vp;
}

// __insertion_sort(first, last).
static void seq_insertion_sort(const SortSeq *s, int64_t first, int64_t last) {
    for (int64_t i = first + 1; i < last; i++) {
        if (seq_less(s, i, first)) {
            int64_t vk = s->key[i], vp = s->pos[i];
            for (int64_t j = i; j > first; j--)
                s->key[j] = s->key[j - 1], s->pos[j] = s->pos[j - 1];
            s->key[first] = vk, s->pos[first] = vp;
        } else {
            seq_linear_insert(s, i);
        }
    }
}

// Sorts keys in place as std::sort does, moving pos along.
static void seq_std_sort(int64_t *keys, int64_t *pos, int64_t n) {
    SortSeq s = {keys, pos};
    if (n < 2) return;
    int64_t lg = 63 - __builtin_clzll((unsigned long long)n);
    seq_introsort(&s, 0, n, 2 * lg);
    if (n > 16) {
        seq_insertion_sort(&s, 0, 16);
        for (int64_t i = 16; i < n; i++) seq_linear_insert(&s, i);
    } else {
        seq_insertion_sort(&s, 0, n);
    }
}

// perm is sorted as std::sort sorts (keys, positions), by sort.
static int seq_sort_order(const int64_t *keys, int64_t n, int64_t *perm,
                          void (*sort)(int64_t *keys, int64_t *pos, int64_t n),
                          EmbError *err) {
    int64_t *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);  // (n,): a sorted copy
    if (!k) return emb_fail(err, "out of memory sorting %lld indices", (long long)n);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    memcpy(k, keys, (size_t)n * sizeof *k);
    sort(k, perm, n);
    free(k);
    return 0;
}

int sparse_sort_order_plain(const int64_t *keys, int64_t n, int64_t *perm,
                            EmbError *err) {
    return seq_sort_order(keys, n, perm, seq_std_sort, err);
}

/**
### The same sort, faster

This emulation is correct, and it is slow for a reason that has nothing
to do with its number of steps. Each of the partition's two inner loops
stops at a place the processor cannot guess: a random key is below the
pivot or not with odds about even, and every wrong guess throws away the
work the processor had started past the branch. For a few thousand
indices, that made the sort the largest single cost of a SparseAdam step.

`sparse_sort_order` below gives the same permutation for every input,
with far fewer branches to guess. Its partitions make the same swaps and
return the same cuts, and its last step leaves each entry where the
insertion sort would, by another road. Three things change:

- **One word per entry.** Entry $i$ becomes the 64-bit word
  $k_i \cdot 2^s + i$, where $s$ bits (at least 5) hold a position. The
  high bits of two words compare as their keys do, and moving a word moves
  its position with it: half the memory traffic of two arrays, and `perm`
  itself holds the words, so nothing is allocated. Negative keys, or keys
  of $2^{64-s}$ and more, are counted from the smallest key instead; keys
  too far apart even then go to the plain emulation.
- **Partitions by blocks**, explained next.
- **The last pieces sorted by a network**, explained after it.
*/

// Entry i packed in one word, (keys[i] - offset) << shift | i: comparing two words'
// high bits compares their keys, and moving a word moves its position with it.
typedef struct SortWords {
    uint64_t *w;
    int shift;
} SortWords;

static inline bool word_less(const SortWords *s, int64_t a, int64_t b) {
    return s->w[a] >> s->shift < s->w[b] >> s->shift;
}
static inline void word_swap(const SortWords *s, int64_t a, int64_t b) {
    uint64_t t = s->w[a];
    s->w[a] = s->w[b], s->w[b] = t;
}

// seq_adjust_heap on words, with v the moved-out word.
static void word_adjust_heap(const SortWords *s, int64_t first, int64_t hole, int64_t len,
                             uint64_t v) {
    uint64_t *w = s->w + first;  // seek to the heap
    int64_t top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (word_less(s, first + child, first + child - 1)) child--;
        w[hole] = w[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        w[hole] = w[child - 1];
        hole = child - 1;
    }
    int64_t parent = (hole - 1) / 2;
    while (hole > top && w[parent] >> s->shift < v >> s->shift) {
        w[hole] = w[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    w[hole] = v;
}

// seq_heap_sort on words.
static void word_heap_sort(const SortWords *s, int64_t first, int64_t last) {
    heap_sorts++;
    int64_t len = last - first;
    for (int64_t parent = (len - 2) / 2; len >= 2 && parent >= 0; parent--)
        word_adjust_heap(s, first, parent, len, s->w[first + parent]);
    while (last - first > 1) {
        last--;
        uint64_t v = s->w[last];
        s->w[last] = s->w[first];
        word_adjust_heap(s, first, 0, last - first, v);
    }
}

// seq_median_to_first on words, the three compares made first (no branch to guess).
static void word_median_to_first(const SortWords *s, int64_t r, int64_t a, int64_t b,
                                 int64_t c) {
    bool ab = word_less(s, a, b), bc = word_less(s, b, c), ac = word_less(s, a, c);
    word_swap(s, r, ab ? (bc ? b : ac ? c : a) : (ac ? a : bc ? c : b));
}

/**
`seq_partition` above is Hoare's partition: a left loop walks right past
keys below the pivot, a right loop walks left past keys above it, and the
two swap the entries where they stop. Call the entries where the left loop
stops (not below the pivot) *left stoppers*, and those where the right loop
stops (not above the pivot) *right stoppers*. The partition swaps its
first left stopper with its first right stopper, then its second with its
second, and so on, until the two loops cross. A swap changes only the
two positions where the loops stand, and each loop then moves on, away
from the position it gave up. So as long as
every position the left loop still reads lies below every position the
right loop still reads, no loop reads a position a swap has changed: each
stopper depends only on the values the partition started with, and the
$k$-th swap is always "the $k$-th left stopper with the $k$-th right
stopper".

That lets us find the stoppers before swapping any, without a branch, as
BlockQuicksort does (Edelkamp and Weiß, 2016). A block of 64 positions
from the left records the offsets of its left stoppers with
`off[found] = i; found += (w >= lo);`, a block from the right those of
its right stoppers, and the two lists are swapped pair by pair. A block
whose stoppers are all paired is done, and the next one is scanned; a
block with stoppers left over waits for the other side's next block. When
fewer than two full blocks are left, the rest is split between the sides.

The end needs care. Once every position has been scanned, one side may
still hold stoppers that found no partner: say the left, at $p_1 < p_2 <
\dots$. Hoare's right loop now walks down into positions the left scan
classified, so we scan those again for right stoppers, $r_1 > r_2 >
\dots$, and swap $p_k$ with $r_k$ while $p_k < r_k$. At the first $k$
where that fails, the loops have crossed. Hoare returns where its left
loop stopped: at $p_k$, or earlier at $r_{k-1}$, the last position it
swapped, which now holds a left stopper; whichever comes first. The case
where the right side holds the leftovers is the mirror image. The tests
check all of this against the plain loop, permutation by permutation.
*/

enum { SORT_BLOCK = 64 };  // positions scanned at a time on each side

// Left stoppers among w[base], w[base + 1], ...: the offsets of the words not
// below lo. Right stoppers among w[top - 1], w[top - 2], ...: the offsets of
// the words not above hi. n <= SORT_BLOCK; off is (SORT_BLOCK,).
static int word_left_stoppers(const uint64_t *w, int64_t base, int n, uint64_t lo,
                              uint8_t *off) {
    const uint64_t *b = w + base;  // seek to the block
    int64_t found = 0, i = 0;
    for (; i + 4 <= n; i += 4) {  // four at a time: fewer loop branches
        off[found] = (uint8_t)i, found += b[i] >= lo;
        off[found] = (uint8_t)(i + 1), found += b[i + 1] >= lo;
        off[found] = (uint8_t)(i + 2), found += b[i + 2] >= lo;
        off[found] = (uint8_t)(i + 3), found += b[i + 3] >= lo;
    }
    for (; i < n; i++) off[found] = (uint8_t)i, found += b[i] >= lo;
    return (int)found;
}
static int word_right_stoppers(const uint64_t *w, int64_t top, int n, uint64_t hi,
                               uint8_t *off) {
    const uint64_t *t = w + top - 1;  // seek to the block's last word
    int64_t found = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        off[found] = (uint8_t)i, found += t[-i] <= hi;
        off[found] = (uint8_t)(i + 1), found += t[-i - 1] <= hi;
        off[found] = (uint8_t)(i + 2), found += t[-i - 2] <= hi;
        off[found] = (uint8_t)(i + 3), found += t[-i - 3] <= hi;
    }
    for (; i < n; i++) off[found] = (uint8_t)i, found += t[-i] <= hi;
    return (int)found;
}

// seq_partition(first, last, pivot) by blocks: the same swaps, the same cut.
static int64_t word_partition(const SortWords *s, int64_t first, int64_t last,
                              int64_t pivot) {
    uint64_t *w = s->w, mask = ((uint64_t)1 << s->shift) - 1;
    uint64_t lo = w[pivot] & ~mask;  // w < lo: w's key is below the pivot's
    uint64_t hi = w[pivot] | mask;   // w > hi: w's key is above the pivot's
    uint8_t offl[SORT_BLOCK], offr[SORT_BLOCK];  // stoppers, as offsets in their block
    int nl = 0, sl = 0, nr = 0, sr = 0;          // stoppers found, and paired so far
    int64_t lb = first, le = first;  // left block [lb, le); [le, re) not yet scanned
    int64_t re = last, rb = last;    // right block [re, rb), scanned downwards
    int64_t l = last;                // Hoare's last after its latest swap
    for (;;) {
        int64_t rest = re - le, bl = 0, br = 0;
        if (sl == nl && sr == nr) {
            if (rest == 0) break;
            bl = rest / 2 < SORT_BLOCK ? rest / 2 : SORT_BLOCK;
            br = rest - bl < SORT_BLOCK ? rest - bl : SORT_BLOCK;
        } else if (sl == nl) {
            if (rest == 0) break;
            bl = rest < SORT_BLOCK ? rest : SORT_BLOCK;
        } else if (sr == nr) {
            if (rest == 0) break;
            br = rest < SORT_BLOCK ? rest : SORT_BLOCK;
        }
        if (bl > 0) {
            nl = word_left_stoppers(w, le, (int)bl, lo, offl), sl = 0;
            lb = le, le += bl;
        }
        if (br > 0) {
            nr = word_right_stoppers(w, re, (int)br, hi, offr), sr = 0;
            rb = re, re -= br;
        }
        int m = nl - sl < nr - sr ? nl - sl : nr - sr;
        for (int k = 0; k < m; k++)  // the k-th stoppers of the two sides, swapped
            word_swap(s, lb + offl[sl + k], rb - 1 - offr[sr + k]);
        sl += m, sr += m;
        if (m > 0) l = rb - 1 - offr[sr - 1];
        if (sr == nr) l = re;
    }
    // All is scanned; one side may still hold stoppers. Pair them with the other
    // side's stoppers among the same positions, while the two have not crossed.
    // The k-th left stopper is at lbase + loff[k], the k-th right at rtop - 1 - roff[k].
    const uint8_t *loff = offl, *roff = offr;
    int64_t lbase = le, rtop = le;
    int np = 0, nq = 0;
    if (sl < nl) {
        loff = offl + sl, lbase = lb, np = nl - sl;
        nq = word_right_stoppers(w, le, (int)(le - lb - offl[sl]), hi, offr);
    } else {
        roff = offr + sr, rtop = rb, nq = nr - sr;
        np = word_left_stoppers(w, le, (int)(l - le), lo, offl);
    }
    int k = 0;
    for (; k < np && k < nq && lbase + loff[k] < rtop - 1 - roff[k]; k++)
        word_swap(s, lbase + loff[k], rtop - 1 - roff[k]);
    int64_t met = k > 0 ? rtop - 1 - roff[k - 1] : l;  // the left scan stops by here
    return k < np && lbase + loff[k] < met ? lbase + loff[k] : met;
}

/**
The final insertion sort is the other place where branches go wrong: each
entry moves left a number of places nobody can guess. But we know what it
computes. Insertion sort is stable, and no entry crosses a cut, since no
key left of a cut is above the pivot and none right of it is below. So the
final pass sorts each last piece of 16 or fewer stably, on its own, and a
piece can be sorted as soon as introsort leaves it, while it is still in
the cache. Giving each word of a piece its place as a tie-breaker,
$\text{key} \cdot 16 + \text{place}$, makes all of them different, and
then any correct sorting network puts them in the stable order: we use
Batcher's, whose compare-exchanges have no branch at all. A piece that
went to heapsort is sorted already, and the insertion sort leaves it
as it is, so we do too.

The two sorts give the same permutation for every input the tests try,
including keys built to defeat median-of-three. On a batch of 4096
uniform indices the fast one was
{{bench:ch06.uniform.v10000000.sort_speedup}} times as fast as the plain
one in the committed `make bench` run
({{bench:ch06.zipf.v1000.sort_speedup}} times on Zipf indices over
$10^3$ rows, where many keys repeat).
*/

// u[a] gets the smaller of the two words, u[b] the larger (x, y: scratch words).
#define WORD_CE(a, b) (x = u[a], y = u[b], u[a] = x < y ? x : y, u[b] = x < y ? y : x)

// A last piece of 16 or fewer, sorted as the final insertion sort sorts it:
// stably. Each word becomes key << 4 | its place in the piece, so no two are
// equal, and Batcher's odd-even merge sort for 4, 8, 12 or 16 words (10 to 63
// exchanges, one compare each and no branch) orders them.
static void word_sort_piece(const SortWords *s, int64_t first, int64_t last) {
    int n = (int)(last - first);
    uint64_t *w = s->w + first, was[16], u[16], x, y;  // seek to the piece
    for (int i = 0; i < 16; i++) u[i] = UINT64_MAX;
    for (int i = 0; i < n; i++) was[i] = w[i], u[i] = w[i] >> s->shift << 4 | (uint64_t)i;
    WORD_CE(0, 1), WORD_CE(2, 3), WORD_CE(4, 5), WORD_CE(6, 7), WORD_CE(0, 2);
    WORD_CE(1, 3), WORD_CE(4, 6), WORD_CE(5, 7), WORD_CE(1, 2), WORD_CE(5, 6);
    if (n <= 4) {  // u[0..3] are sorted already
    } else if (n <= 8) {
        WORD_CE(0, 4), WORD_CE(1, 5), WORD_CE(2, 6), WORD_CE(3, 7), WORD_CE(2, 4);
        WORD_CE(3, 5), WORD_CE(1, 2), WORD_CE(3, 4), WORD_CE(5, 6);
    } else if (n <= 12) {
        WORD_CE(8, 9), WORD_CE(10, 11), WORD_CE(8, 10), WORD_CE(9, 11), WORD_CE(9, 10);
        WORD_CE(0, 4), WORD_CE(1, 5), WORD_CE(2, 6), WORD_CE(3, 7), WORD_CE(2, 4);
        WORD_CE(3, 5), WORD_CE(1, 2), WORD_CE(3, 4), WORD_CE(5, 6), WORD_CE(9, 10);
        WORD_CE(0, 8), WORD_CE(1, 9), WORD_CE(2, 10), WORD_CE(3, 11), WORD_CE(4, 8);
        WORD_CE(5, 9), WORD_CE(6, 10), WORD_CE(7, 11), WORD_CE(2, 4), WORD_CE(3, 5);
        WORD_CE(6, 8), WORD_CE(7, 9), WORD_CE(1, 2), WORD_CE(3, 4), WORD_CE(5, 6);
        WORD_CE(7, 8), WORD_CE(9, 10);
    } else {
        WORD_CE(8, 9), WORD_CE(10, 11), WORD_CE(12, 13), WORD_CE(14, 15), WORD_CE(8, 10);
        WORD_CE(9, 11), WORD_CE(12, 14), WORD_CE(13, 15), WORD_CE(9, 10), WORD_CE(13, 14);
        WORD_CE(0, 4), WORD_CE(1, 5), WORD_CE(2, 6), WORD_CE(3, 7), WORD_CE(8, 12);
        WORD_CE(9, 13), WORD_CE(10, 14), WORD_CE(11, 15), WORD_CE(2, 4), WORD_CE(3, 5);
        WORD_CE(10, 12), WORD_CE(11, 13), WORD_CE(1, 2), WORD_CE(3, 4), WORD_CE(5, 6);
        WORD_CE(9, 10), WORD_CE(11, 12), WORD_CE(13, 14), WORD_CE(0, 8), WORD_CE(1, 9);
        WORD_CE(2, 10), WORD_CE(3, 11), WORD_CE(4, 12), WORD_CE(5, 13), WORD_CE(6, 14);
        WORD_CE(7, 15), WORD_CE(4, 8), WORD_CE(5, 9), WORD_CE(6, 10), WORD_CE(7, 11);
        WORD_CE(2, 4), WORD_CE(3, 5), WORD_CE(6, 8), WORD_CE(7, 9), WORD_CE(10, 12);
        WORD_CE(11, 13), WORD_CE(1, 2), WORD_CE(3, 4), WORD_CE(5, 6), WORD_CE(7, 8);
        WORD_CE(9, 10), WORD_CE(11, 12), WORD_CE(13, 14);
    }
    for (int i = 0; i < n; i++) w[i] = was[u[i] & 15];
}

// seq_introsort on words, partitioning by blocks.
static void word_introsort(const SortWords *s, int64_t first, int64_t last,
                           int64_t depth) {
    while (last - first > 16) {
        if (depth == 0) {
            word_heap_sort(s, first, last);
            return;
        }
        depth--;
        word_median_to_first(s, first, first + 1, first + (last - first) / 2, last - 1);
        int64_t cut = word_partition(s, first + 1, last, first);
        word_introsort(s, cut, last, depth);
        last = cut;
    }
    word_sort_piece(s, first, last);
}

// seq_std_sort on words: the final insertion sort is done piece by piece.
static void word_std_sort(const SortWords *s, int64_t n) {
    int64_t lg = 63 - __builtin_clzll((unsigned long long)n);
    word_introsort(s, 0, n, 2 * lg);
}

int sparse_sort_order(const int64_t *keys, int64_t n, int64_t *perm, EmbError *err) {
    if (n < 2) {
        if (n == 1) perm[0] = 0;
        return 0;
    }
    int shift = 64 - __builtin_clzll((unsigned long long)(n - 1));  // bits of a position
    shift = shift < 5 ? 5 : shift;  // word_sort_piece's key << 4 needs a spare bit
    uint64_t bits = 0, min = 0;     // the bits set in some key; the keys' offset
    for (int64_t i = 0; i < n; i++) bits |= (uint64_t)keys[i];
    if (bits >> (64 - shift) != 0) {  // negative or large keys: count from the smallest
        int64_t lo = keys[0], hi = keys[0];
        for (int64_t i = 1; i < n; i++) {
            lo = keys[i] < lo ? keys[i] : lo;
            hi = keys[i] > hi ? keys[i] : hi;
        }
        if (((uint64_t)hi - (uint64_t)lo) >> (64 - shift) != 0)  // too far apart
            return sparse_sort_order_plain(keys, n, perm, err);
        min = (uint64_t)lo;
    }
    SortWords s = {(uint64_t *)perm, shift};  // perm holds the words while they sort
    for (int64_t i = 0; i < n; i++)
        s.w[i] = ((uint64_t)keys[i] - min) << shift | (uint64_t)i;
    word_std_sort(&s, n);
    uint64_t mask = ((uint64_t)1 << shift) - 1;  // a word's position bits
    for (int64_t i = 0; i < n; i++) perm[i] = (int64_t)(s.w[i] & mask);
    return 0;
}

/**
With the order known, coalescing is one pass: the first entry of a row is
copied, every later one added to it. PyTorch adds with `axpy(1, ...)`,
a plain addition. A tensor that is already coalesced is returned as it
is, and so is one with fewer than two entries.
*/

int sparse_coalesce(const SparseGrad *g, SparseGrad *out, EmbError *err) {
    int64_t n = g->nnz, D = g->row_dim;
    sparse_reshape(out, g->num_rows, D);
    if (sparse_reserve(out, n, err) != 0) return -1;
    int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);  // (n,)
    if (!perm)
        return emb_fail(err, "out of memory coalescing %lld entries", (long long)n);
    if (g->coalesced || n < 2) {
        for (int64_t k = 0; k < n; k++) perm[k] = k;
    } else if (sparse_sort_order(g->indices, n, perm, err) != 0) {
        free(perm);
        return -1;
    }
    int64_t r = -1;  // the output entry being summed
    for (int64_t j = 0; j < n; j++) {
        int64_t k = perm[j], row = g->indices[k];
        const float *v_k = g->values + k * D;  // entry k's values
        if (r >= 0 && out->indices[r] == row) {
            float *o_r = out->values + r * D;
            for (int64_t d = 0; d < D; d++) o_r[d] += v_k[d];
        } else {
            r++;
            out->indices[r] = row;
            memcpy(out->values + r * D, v_k, (size_t)D * sizeof(float));
        }
    }
    out->nnz = r + 1;
    out->coalesced = true;
    free(perm);
    return 0;
}

/**
## Sparse SGD: entry by entry, without coalescing

`torch.optim.SGD` has no sparse code of its own. Its last line,
`param.add_(d_p, alpha=-lr)`, adds a sparse tensor to a dense one, and
1.13's `add_out_dense_sparse_cpu` does that without coalescing: for an
uncoalesced tensor each thread owns a range of rows and adds, in entry
order, every entry that falls in its range, one `axpy` per entry. So a
row looked up three times takes three small steps, $w \leftarrow w -
\eta g_1$, then $- \eta g_2$, then $- \eta g_3$, each a fused
multiply-add, rather than one step $w - \eta (g_1 + g_2 + g_3)$. The two
agree to rounding; only the first agrees with PyTorch bit for bit (we
tried both against torch: the second misses thousands of values on a few
thousand repeated rows).
*/

EMB_FMA_CLONES
void sparse_sgd_update(float *param, const SparseGrad *g, double lr, bool maximize) {
    const float neg_lr = (float)(maximize ? lr : -lr);  // maximize: d_p = -grad
    int64_t D = g->row_dim;
    for (int64_t k = 0; k < g->nnz; k++) {
        if (k + SPARSE_PREFETCH_AHEAD < g->nnz)
            prefetch_row(param + g->indices[k + SPARSE_PREFETCH_AHEAD] * D, D);
        float *w_ix = param + g->indices[k] * D;  // seek to the entry's row
        const float *v_k = g->values + k * D;
        axpy_row(w_ix, v_k, neg_lr, D);
    }
}

/**
### Momentum: a sparse buffer that only grows

With `momentum`, SGD keeps `momentum_buffer`, and with a sparse gradient
that buffer is itself a sparse tensor: `torch.clone(d_p)` at the first
step, then `buf.mul_(momentum).add_(d_p, alpha=1 - dampening)`. Adding
two sparse tensors (`add_out_sparse_contiguous`) *merges* their entry
lists as if both were sorted: it walks the two lists side by side, takes
the entry with the smaller row, and adds two entries into one only when
their rows are equal at the same moment. For uncoalesced lists this is
not a sort, just a deterministic interleaving; entries are rarely
combined, so the buffer's entry count grows at every step and nothing
ever removes an entry. Its values decay by $\mu$ per step,
and every entry is applied to the weight at every step. So under sparse
SGD with momentum a row keeps moving for as long as the buffer remembers
it (forever, in exact arithmetic): "only the touched rows move" is false
here, exactly as it was for dense momentum in chapter 4, and the step
costs more and more as the buffer grows. The program measures both.
*/

// t + alpha * s for two sparse tensors, as torch 1.13's CPU add does;
// r must differ from t and s.
EMB_FMA_CLONES
static int sparse_merge(const SparseGrad *t, const SparseGrad *s, float alpha,
                        SparseGrad *r, EmbError *err) {
    int64_t D = t->row_dim, ti = 0, si = 0, ri = 0;
    sparse_reshape(r, t->num_rows, D);
    if (sparse_reserve(r, t->nnz + s->nnz, err) != 0) return -1;
    bool t_only = s->nnz == 0, s_only = !t_only && t->nnz == 0;
    while (ti < t->nnz || si < s->nnz) {
        int cmp = ti >= t->nnz ? -1 : si >= s->nnz ? 1 : 0;
        if (cmp == 0 && t->indices[ti] != s->indices[si])
            cmp = t->indices[ti] < s->indices[si] ? 1 : -1;
        float *r_v = r->values + ri * D;  // output entry ri
        for (int64_t d = 0; d < D; d++) r_v[d] = 0.0f;
        if (cmp >= 0) {  // axpy(1, t): 0 + t
            r->indices[ri] = t->indices[ti];
            const float *t_v = t->values + ti++ * D;
            for (int64_t d = 0; d < D; d++) r_v[d] = t_only ? t_v[d] : r_v[d] + t_v[d];
        }
        if (cmp <= 0) {  // axpy(alpha, s); alone: mul_out_sparse_scalar
            r->indices[ri] = s->indices[si];
            const float *s_v = s->values + si++ * D;
            for (int64_t d = 0; d < D; d++)
                r_v[d] = s_only ? s_v[d] * alpha : fmaf(s_v[d], alpha, r_v[d]);
        }
        ri++;
    }
    r->nnz = ri;
    r->coalesced = t_only ? t->coalesced : s_only ? s->coalesced
                                                  : t->coalesced && s->coalesced;
    return 0;
}

// Copies src into dst (clone), negating the values if negate.
static int sparse_copy(const SparseGrad *src, SparseGrad *dst, bool negate,
                       EmbError *err) {
    int64_t D = src->row_dim;
    sparse_reshape(dst, src->num_rows, D);
    if (sparse_reserve(dst, src->nnz, err) != 0) return -1;
    if (src->nnz > 0)
        memcpy(dst->indices, src->indices, (size_t)src->nnz * sizeof(int64_t));
    for (int64_t k = 0; k < src->nnz * D; k++)
        dst->values[k] = negate ? -src->values[k] : src->values[k];
    dst->nnz = src->nnz;
    dst->coalesced = src->coalesced;
    return 0;
}

// Sparse SGD with momentum on parameter i: PyTorch's sparse momentum buffer.
static int sparse_sgd_momentum(SparseOptimizer *o, int i, const Param *p, EmbError *err) {
    const OptimOptions *op = &o->dense.options;
    SparseGrad d = {0}, t = {0}, *buf = &o->momentum[i];
    int rc = sparse_copy(p->sparse_grad, &d, op->maximize, err);  // d_p (= -grad)
    if (rc == 0 && !o->sparse_momentum[i]) {
        rc = sparse_copy(&d, buf, false, err);  // torch.clone(d_p)
        o->sparse_momentum[i] = rc == 0;
    } else if (rc == 0) {
        const float mom = (float)op->momentum;
        for (int64_t k = 0; k < buf->nnz * buf->row_dim; k++) buf->values[k] *= mom;
        rc = sparse_merge(buf, &d, (float)(1.0 - op->dampening), &t, err);
        if (rc == 0) {  // t is the new buffer
            SparseGrad old = *buf;
            *buf = t;
            t = old;
        }
    }
    if (rc == 0 && op->nesterov) {  // d_p = d_p.add(buf, alpha=momentum)
        rc = sparse_merge(&d, buf, (float)op->momentum, &t, err);
        if (rc == 0) sparse_sgd_update(p->data, &t, op->lr, false);
    } else if (rc == 0) {
        sparse_sgd_update(p->data, buf, op->lr, false);
    }
    sparse_grad_free(&d);
    sparse_grad_free(&t);
    return rc;
}

/**
## Sparse Adagrad

Adagrad's sparse path coalesces first (duplicates summed, then squared),
and touches only the rows present:

$$s_r \leftarrow s_r + g_r^2, \qquad
w_r \leftarrow w_r - \frac{\eta}{1 + (t-1)\delta}\cdot\frac{g_r}{\sqrt{s_r} + \epsilon}.$$

PyTorch computes it as three sparse operations: `sum.add_` of the squared
values, `sparse_mask` to read $s_r$ back, and `param.add_` of
$g_r / (\sqrt{s_r}+\epsilon)$ with `alpha=-clr`, a fused multiply-add.
Its `sum` is dense, a full copy of the table, created in the constructor
like the dense Adagrad's.
*/

EMB_FMA_CLONES
void sparse_adagrad_update(float *param, const SparseGrad *c, float *sum, int64_t step,
                           const OptimOptions *o) {
    double clr = o->lr / (1.0 + (double)(step - 1) * o->lr_decay);
    const float neg_clr = (float)-clr, eps = (float)o->eps;
    int64_t D = c->row_dim;
    for (int64_t k = 0; k < c->nnz; k++) {
        float *w_r = param + c->indices[k] * D, *s_r = sum + c->indices[k] * D;  // row r
        const float *g_r = c->values + k * D;
        for (int64_t j = 0; j < D; j++) {
            s_r[j] = s_r[j] + g_r[j] * g_r[j];          // sum.add_(grad.pow(2))
            float std = sqrtf(s_r[j]) + eps;            // sparse_mask().sqrt_().add_(eps)
            w_r[j] = fmaf(g_r[j] / std, neg_clr, w_r[j]);  // param.add_(g/std, -clr)
        }
    }
}

/**
## SparseAdam: lazy Adam

`torch.optim.SparseAdam` is Adam restricted to the rows in the gradient,
with three differences from dense Adam that are easy to miss:

1. Only the rows present update their moments. An absent row's $m$ and
   $v$ do not decay; they wait, stale, for the row's next appearance.
2. The bias corrections use `state['step']`, **one count per parameter**,
   increased at every `step()`: a row first seen at step 1000 is
   corrected as if it had been averaged for 1000 steps.
3. $\epsilon$ is added to the *uncorrected* $\sqrt{v}$, and the
   correction of $v$ moves into the step size:

$$m_r \mathrel{+}= (1-\beta_1)(g_r - m_r), \quad
v_r \mathrel{+}= (1-\beta_2)(g_r^2 - v_r), \quad
w_r \leftarrow w_r - \eta\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\cdot
\frac{m_r}{\sqrt{v_r}+\epsilon}.$$

Point 2 has a price. A row that first appears at step $t$ has
$m_r = (1-\beta_1) g$ and $v_r = (1-\beta_2) g^2$, so with the default
betas (0.9, 0.999) its first step is
$\eta \cdot \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t} \cdot
\frac{0.1}{\sqrt{0.001}} \approx 3.16\,\eta\sqrt{1-\beta_2^t}$ for large
$t$: about $2.5\eta$ at $t = 1000$, $3.2\eta$ at $t = 10^4$, where a fresh
Adam takes $\eta$. The program measures it.

Each line below is one of PyTorch's tensor operations on the row's
values, in its order: the update of $m$ is computed as
`(g - m).mul_(1 - beta1)` and added, the numerator is that update plus the
old $m$, and the step is the quotient times `-step_size`, added.
*/

EMB_FMA_CLONES
void sparse_adam_row(float *restrict w, const float *restrict g, float *restrict m,
                     float *restrict v, int64_t D, double step_size,
                     const OptimOptions *o) {
    const float one_minus_b1 = (float)(1.0 - o->beta1),
                one_minus_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps, neg_step = (float)-step_size;
    for (int64_t j = 0; j < D; j++) {
        float m_old = m[j], v_old = v[j];
        float dm = (g[j] - m_old) * one_minus_b1;         // grad.sub(old).mul_(1-b1)
        float dv = (g[j] * g[j] - v_old) * one_minus_b2;  // grad.pow(2).sub_().mul_()
        m[j] = m_old + dm;                                // exp_avg.add_(sparse)
        v[j] = v_old + dv;                                // exp_avg_sq.add_(sparse)
        float denom = sqrtf(dv + v_old) + eps;            // .add_(old).sqrt_().add_(eps)
        w[j] = w[j] + ((dm + m_old) / denom) * neg_step;  // param.add_(-ss * numer/denom)
    }
}

// lr * sqrt(1 - beta2^t) / (1 - beta1^t), in double as Python computes it.
static double sparse_adam_step_size(const OptimOptions *o, int64_t t) {
    double bias_correction1 = 1.0 - pow(o->beta1, (double)t);
    double bias_correction2 = 1.0 - pow(o->beta2, (double)t);
    return o->lr * sqrt(bias_correction2) / bias_correction1;
}

void sparse_adam_update(float *param, const SparseGrad *c, float *exp_avg,
                        float *exp_avg_sq, int64_t step, const OptimOptions *o) {
    int64_t D = c->row_dim;
    double step_size = sparse_adam_step_size(o, step);
    for (int64_t k = 0; k < c->nnz; k++) {
        if (k + SPARSE_PREFETCH_AHEAD < c->nnz) {  // a later entry's rows, in all three
            int64_t ahead = c->indices[k + SPARSE_PREFETCH_AHEAD] * D;
            prefetch_row(param + ahead, D), prefetch_row(exp_avg + ahead, D);
            prefetch_row(exp_avg_sq + ahead, D);
        }
        int64_t off = c->indices[k] * D;  // seek to row r
        sparse_adam_row(param + off, c->values + k * D, exp_avg + off, exp_avg_sq + off,
                        D, step_size, o);
    }
}

/**
## The optimizer: chapter 4's, with a sparse path

`SparseOptimizer` wraps chapter 4's `Optimizer`, which keeps the options,
the dense state and the step counts. A step first refuses what PyTorch
refuses, before anything changes; then it hands the dense gradients to
chapter 4's `optim_step` (with the sparse parameters' gradients hidden,
so it skips them exactly as it skips a parameter whose `.grad` is
`None`); then it applies the sparse updates. Parameters are independent,
so the order of the two passes does not change any value.

SparseAdam checks its options as PyTorch does, with `lr > 0` and
`eps > 0` strict, and reports a value the way Python prints it,
with chapter 4's `optim_py_float`.
*/

static int sparse_adam_check(const OptimOptions *o, EmbError *err) {
    char b[40];
    if (!(o->lr > 0.0))
        return emb_fail(err, "Invalid learning rate: %s", optim_py_float(b, 40, o->lr));
    if (!(o->eps > 0.0))
        return emb_fail(err, "Invalid epsilon value: %s", optim_py_float(b, 40, o->eps));
    const double betas[2] = {o->beta1, o->beta2};
    for (int k = 0; k < 2; k++)
        if (!(betas[k] >= 0.0 && betas[k] < 1.0))
            return emb_fail(err, "Invalid beta parameter at index %d: %s", k,
                            optim_py_float(b, 40, betas[k]));
    return 0;
}

int sparse_optim_init(SparseOptimizer *o, OptimKind kind, const OptimOptions *options,
                      const ParamList *params, EmbError *err) {
    memset(o, 0, sizeof *o);
    o->kind = SPARSE_WRAP_DENSE;
    return optim_init(&o->dense, kind, options, params, err);
}

int sparse_adam_init_extras(SparseOptimizer *o, const OptimOptions *options,
                            const SparseExtras *extras, const ParamList *params,
                            EmbError *err) {
    memset(o, 0, sizeof *o);
    if (sparse_adam_check(options, err) != 0) return -1;
    OptimOptions adam = optim_defaults(OPTIM_ADAM);  // the Adam fields SparseAdam has
    adam.lr = options->lr, adam.beta1 = options->beta1, adam.beta2 = options->beta2;
    adam.eps = options->eps, adam.maximize = options->maximize;
    if (optim_init(&o->dense, OPTIM_ADAM, &adam, params, err) != 0) return -1;
    o->kind = SPARSE_ADAM;
    if (extras) o->extras = *extras;
    return 0;
}

int sparse_adam_init(SparseOptimizer *o, const OptimOptions *options,
                     const ParamList *params, EmbError *err) {
    return sparse_adam_init_extras(o, options, NULL, params, err);
}

/**
The refusals, in PyTorch 1.13's words: Adam, AdamW and RMSprop with a
sparse gradient (chapter 4's `optim_step` already says so); SGD with
`weight_decay` (its `d_p.add(param)` adds a dense tensor to a sparse one,
which PyTorch's `add` refuses); Adagrad with `weight_decay` (refused
explicitly); SparseAdam with a dense gradient; SGD with momentum given a
dense gradient after sparse steps (its sparse buffer cannot `add` a dense
tensor either). PyTorch's SGD fails only when it reaches the sparse
parameter, after it has updated the ones listed before it; we refuse
before touching any. One more refusal is ours, not PyTorch's: a sparse
gradient after dense momentum steps, which PyTorch would accept.
*/

static int sparse_refuse(const SparseOptimizer *o, const ParamList *params,
                         EmbError *err) {
    const OptimOptions *op = &o->dense.options;
    for (int i = 0; i < params->n; i++) {
        const Param *p = &params->items[i];
        if (p->data != o->dense.param_data[i] || p->numel != o->dense.param_numel[i])
            return emb_fail(err,
                            "parameter %d (%s) is not the one given to the optimizer", i,
                            p->name);
        if (o->kind == SPARSE_ADAM) {
            if (p->grad && !p->sparse_grad)
                return emb_fail(err,
                                "SparseAdam does not support dense gradients, please "
                                "consider Adam instead");
            continue;
        }
        if (p->grad && !p->sparse_grad && o->sparse_momentum[i])  // buf.add_(dense)
            return emb_fail(err, "add(sparse, dense) is not supported. Use add(dense, "
                                 "sparse) instead.");
        if (!p->sparse_grad) continue;
        OptimKind k = o->dense.kind;
        if (k != OPTIM_SGD && k != OPTIM_ADAGRAD)
            return optim_step((Optimizer *)&o->dense, params, err); // chapter 4's message
        if (k == OPTIM_SGD && op->weight_decay != 0)
            return emb_fail(err, "add(sparse, dense) is not supported. Use add(dense, "
                                 "sparse) instead.");
        if (k == OPTIM_ADAGRAD && op->weight_decay != 0)
            return emb_fail(
                err, "weight_decay option is not compatible with sparse gradients");
        if (k == OPTIM_SGD && o->dense.state[i].momentum_buffer)
            return emb_fail(err,
                            "parameter %s: a sparse gradient after dense momentum steps "
                            "is not supported",
                            p->name);
    }
    return 0;
}

// A zeroed state buffer of n floats; from 32 MiB on, on huge pages, as the
// rows of a sparse step's state are read at random like the table's.
static float *zeroed(int64_t n) {
    int64_t bytes = emb_weight_bytes(n, 1);
    float *b = bytes < 0                     ? NULL
               : bytes < ((int64_t)32 << 20) ? emb_alloc(bytes)
                                             : emb_alloc_huge(bytes, NULL);
    if (b) memset(b, 0, (size_t)bytes);
    return b;
}

// SparseAdam's weight decay (beyond PyTorch): w *= 1 - lr*wd, on the
// gradient's rows (lazy) or on every row (global).
static void sparse_decay(const SparseOptimizer *o, const Param *p, const SparseGrad *c) {
    const float keep = (float)(1.0 - o->dense.options.lr * o->extras.weight_decay);
    int64_t D = c->row_dim;
    if (o->extras.decay == SPARSE_DECAY_GLOBAL) {
        for (int64_t k = 0; k < p->numel; k++) p->data[k] *= keep;
        return;
    }
    for (int64_t k = 0; k < c->nnz; k++)
        for (int64_t j = 0; j < D; j++) p->data[c->indices[k] * D + j] *= keep;
}

// SparseAdam on parameter i, whose coalesced gradient is c.
static int sparse_adam_step(SparseOptimizer *o, int i, const Param *p,
                            const SparseGrad *c, EmbError *err) {
    ParamState *s = &o->dense.state[i];
    const OptimOptions *op = &o->dense.options;
    int64_t V = c->num_rows, D = c->row_dim;
    if (!s->created) {  // state['step'] = 0; zeros_like(p) twice
        s->exp_avg = zeroed(p->numel), s->exp_avg_sq = zeroed(p->numel);
        if (o->extras.per_row_steps) o->row_step[i] = calloc((size_t)V, sizeof(int64_t));
        o->row_step_len[i] = o->row_step[i] ? V : 0;
        if (!s->exp_avg || !s->exp_avg_sq || (o->extras.per_row_steps && !o->row_step[i]))
            return emb_fail(err, "cannot allocate SparseAdam's state for %lld values",
                            (long long)p->numel);
        s->created = true;
    }
    s->step++;
    if (o->extras.weight_decay != 0) sparse_decay(o, p, c);
    if (!o->extras.per_row_steps) {
        sparse_adam_update(p->data, c, s->exp_avg, s->exp_avg_sq, s->step, op);
        return 0;
    }
    for (int64_t k = 0; k < c->nnz; k++) {  // beyond PyTorch: the row's own count
        int64_t r = c->indices[k], off = r * D;
        double step_size = sparse_adam_step_size(op, ++o->row_step[i][r]);
        sparse_adam_row(p->data + off, c->values + k * D, s->exp_avg + off,
                        s->exp_avg_sq + off, D, step_size, op);
    }
    return 0;
}

// The sparse update of parameter i.
static int sparse_step_one(SparseOptimizer *o, int i, const Param *p, EmbError *err) {
    const OptimOptions *op = &o->dense.options;
    const SparseGrad *g = p->sparse_grad;
    if (g->num_rows * g->row_dim != p->numel)
        return emb_fail(err, "parameter %s: sparse gradient of shape (%lld, %lld)",
                        p->name, (long long)g->num_rows, (long long)g->row_dim);
    if (o->kind == SPARSE_WRAP_DENSE && o->dense.kind == OPTIM_SGD) {
        o->dense.state[i].created = true;
        if (op->momentum != 0) return sparse_sgd_momentum(o, i, p, err);
        sparse_sgd_update(p->data, g, op->lr, op->maximize);
        return 0;
    }
    SparseGrad neg = {0}, c = {0};  // -grad if maximize; then coalesced
    int rc = sparse_copy(g, &neg, op->maximize, err) ||
             sparse_grad_init(&c, g->num_rows, g->row_dim, err) ||
             sparse_coalesce(&neg, &c, err);
    if (rc == 0 && o->kind == SPARSE_ADAM) {
        rc = sparse_adam_step(o, i, p, &c, err);
    } else if (rc == 0) {  // Adagrad: its sum exists from the constructor
        ParamState *s = &o->dense.state[i];
        sparse_adagrad_update(p->data, &c, s->sum, ++s->step, op);
    }
    sparse_grad_free(&neg);
    sparse_grad_free(&c);
    return rc ? -1 : 0;
}

// extends: optim_step
int sparse_optim_step(SparseOptimizer *o, const ParamList *params, EmbError *err) {
    if (params->n != o->dense.n_params)
        return emb_fail(err, "optimizer was given %d parameters, step got %d",
                        o->dense.n_params, params->n);
    if (sparse_refuse(o, params, err) != 0) return -1;
    ParamList dense = *params;  // the sparse gradients hidden: optim_step skips them
    for (int i = 0; i < dense.n; i++)
        if (dense.items[i].sparse_grad)
            dense.items[i].grad = NULL, dense.items[i].sparse_grad = NULL;
    if (o->kind == SPARSE_WRAP_DENSE && optim_step(&o->dense, &dense, err) != 0)
        return -1;
    for (int i = 0; i < params->n; i++) {
        const Param *p = &params->items[i];
        if (p->sparse_grad && sparse_step_one(o, i, p, err) != 0) return -1;
    }
    return 0;
}

int64_t sparse_optim_state_bytes(const SparseOptimizer *o) {
    int64_t total = optim_state_bytes(&o->dense);
    for (int i = 0; i < o->dense.n_params; i++) {
        if (o->sparse_momentum[i])
            total += sparse_grad_bytes(o->momentum[i].nnz, o->momentum[i].row_dim);
        if (o->row_step[i]) total += o->row_step_len[i] * (int64_t)sizeof(int64_t);
    }
    return total;
}

void sparse_optim_free(SparseOptimizer *o) {
    for (int i = 0; i < OPTIM_MAX_PARAMS; i++) {
        sparse_grad_free(&o->momentum[i]);
        free(o->row_step[i]);
    }
    optim_free(&o->dense);
    memset(o, 0, sizeof *o);
}

/**
## Training with a sparse table

A training step is chapter 4's four calls. The model's backward pass
already computes the gradient of the looked-up rows (`m->dx`, one row per
position): that is the sparse gradient's values, and the lookup's indices
are its indices. Chapter 2's `ntm_backward` also scatters them into the
dense `emb.grad`, which the sparse parameter list does not use.
*/

int ntm_sparse_parameters(NextTokenModel *m, SparseGrad *g, ParamList *out,
                          EmbError *err) {
    if (ntm_parameters(m, out, err) != 0) return -1;
    out->items[0].grad = NULL;  // emb.weight's gradient is the sparse one
    out->items[0].sparse_grad = g;
    return 0;
}

int ntm_sparse_train_step(NextTokenModel *m, SparseOptimizer *o, const ParamList *params,
                          SparseGrad *g, const int64_t *inputs, const int64_t *targets,
                          int64_t B, double *loss, EmbError *err) {
    ntm_zero_grad(m);  // optimizer.zero_grad(): the dense gradients ...
    sparse_grad_zero(g);  // ... and the sparse one
    if (ntm_forward(m, inputs, targets, B, loss, err) != 0 ||
        ntm_backward(m, inputs, B, err) != 0 ||
        emb_backward_sparse(&m->emb, g, inputs, B, m->dx, err) != 0)
        return -1;
    return sparse_optim_step(o, params, err);
}

int sparse_adam_late_row(const OptimOptions *o, bool per_row_steps, int64_t t,
                         double *move, EmbError *err) {
    enum { D = 4 };
    float w[2 * D], ones[2 * D];
    for (int k = 0; k < 2 * D; k++) w[k] = 0.5f, ones[k] = 1.0f;
    Embedding e = {.num_embeddings = 2, .embedding_dim = D, .weight = w,
                   .requires_grad = true, .padding_idx = EMB_NO_PADDING};
    SparseGrad g = {0};
    ParamList params;
    SparseOptimizer opt = {0};
    SparseExtras extras = {.per_row_steps = per_row_steps};
    const int64_t both[2] = {0, 1};
    int rc = t < 1
                 ? emb_fail(err, "the late row's step t=%lld must be >= 1", (long long)t)
                 : sparse_grad_init(&g, 2, D, err) ||
                       emb_sparse_parameters(&e, &g, &params, err) ||
                       sparse_adam_init_extras(&opt, o, &extras, &params, err);
    for (int64_t s = 1; rc == 0 && s <= t; s++) {
        sparse_grad_zero(&g);
        rc = emb_backward_sparse(&e, &g, both, s == t ? 2 : 1, ones, err) ||
             sparse_optim_step(&opt, &params, err);
    }
    double sum = 0;
    for (int d = 0; d < D; d++) sum += fabs((double)w[D + d] - 0.5);
    *move = sum / D / o->lr;
    sparse_optim_free(&opt);
    sparse_grad_free(&g);
    return rc ? -1 : 0;
}

int emb_rare_common_norms(const float *table, int64_t V, int64_t D, const int64_t *counts,
                          int64_t k, double out[2], EmbError *err) {
    int64_t *order = malloc((size_t)V * sizeof *order), n = 0;  // rows seen, rarest first
    if (!order) return emb_fail(err, "out of memory ordering %lld rows", (long long)V);
    for (int64_t r = 0; r < V; r++)
        if (counts[r] > 0) order[n++] = r;
    for (int64_t i = 1; i < n; i++)  // insertion sort by count (V is small here)
        for (int64_t j = i; j > 0 && counts[order[j - 1]] > counts[order[j]]; j--) {
            int64_t t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    out[0] = out[1] = 0;
    for (int end = 0; end < 2; end++)
        for (int64_t r = 0; r < k && r < n; r++) {
            int64_t row = end == 0 ? order[r] : order[n - 1 - r];
            out[end] += emb_row_norm(table + row * D, D, 2.0) / (double)(k < n ? k : n);
        }
    free(order);
    return 0;
}

/**
## Tied tables are dense

Chapter 5 tied the table to the output projection: one $(V, D)$ buffer,
read by the lookup and by the projection. With `sparse=True` the lookup
still produces its sparse entries, but the projection's gradient is a
dense $(V, D)$ matrix with a value in every row (every word gets a
logit, so every row of the projection gets a gradient). PyTorch adds the
two into one *dense* `.grad`. `sparse=True` then buys nothing, SGD and
Adam work as with a dense table, and SparseAdam refuses the parameter
(`SparseAdam does not support dense gradients, please consider Adam
instead`). `lm_tied_sparse_run` shows all three on chapter 5's model.
*/

int lm_tied_sparse_run(int64_t V, int64_t D, const int64_t *inputs,
                       const int64_t *targets, int64_t B, int64_t rows[3], double *diff,
                       EmbError *refusal, EmbError *err) {
    LmOptions lo = lm_default_options();
    lo.tied = true;
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    LangModel m;
    if (lm_init(&m, V, D, &lo, B, &gen, err) != 0) return -1;
    SparseGrad g = {0};
    SparseOptimizer opt = {0};
    ParamList params;
    double loss;
    float *sum = malloc((size_t)(V * D) * sizeof(float));  // (V, D)
    int rc = !sum ? emb_fail(err, "out of memory")
                  : lm_forward(&m, inputs, targets, B, &loss, err) ||
                        lm_backward(&m, inputs, B, err) ||
                        sparse_grad_init(&g, V, D, err) ||
                        emb_backward_sparse(&m.emb, &g, inputs, B, m.dx, err);
    if (rc == 0) {
        rows[0] = grad_rows_nonzero(m.grad_emb_path, V, D);
        rows[1] = grad_rows_nonzero(m.grad_proj_path, V, D);
        rows[2] = grad_rows_nonzero(m.emb.grad, V, D);
        memcpy(sum, m.grad_proj_path, (size_t)(V * D) * sizeof(float));
        sparse_add_to_dense(&g, sum);  // PyTorch: the dense .grad += the sparse entries
        *diff = 0;
        for (int64_t k = 0; k < V * D; k++)
            *diff = fmax(*diff, fabs(sum[k] - m.emb.grad[k]));
        OptimOptions o = optim_defaults(OPTIM_ADAM);
        rc = lm_parameters(&m, &params, err) || sparse_adam_init(&opt, &o, &params, err);
        if (rc == 0 && sparse_optim_step(&opt, &params, refusal) == 0)
            rc = emb_fail(err, "SparseAdam took a tied table's dense gradient");
    }
    sparse_optim_free(&opt);
    sparse_grad_free(&g);
    free(sum);
    lm_free(&m);
    return rc ? -1 : 0;
}

/**
## Memory: the gradient shrinks, the state does not

A training step holds the weight, its gradient and the optimizer's
state. Sparse gradients shrink only the middle term: a batch of $N$
lookups gives $N$ entries of $8 + 4D$ bytes (an int64 index and $D$
floats) instead of $4VD$ bytes. The state is another matter. Sparse
Adagrad's `sum` and SparseAdam's `exp_avg` and `exp_avg_sq` are dense,
full copies of the table, because any row may appear at some step; only
SGD without momentum keeps nothing. So SparseAdam needs three tables
where dense Adam needs four, and the saving is exactly one table minus
the batch's entries. `sparse_training_bytes` adds it up from chapter 4's
own account of the state (`optim_state_bytes_for`); SGD's sparse
momentum buffer is counted after one step ($N$ entries), and it grows.
*/

int64_t sparse_training_bytes(SparseKind sk, OptimKind kind, const OptimOptions *o,
                              int64_t V, int64_t D, int64_t N, bool sparse) {
    int64_t table = emb_weight_bytes(V, D), numel, state, grad;
    if (table < 0 || emb_mul_size(V, D, &numel) != 0) return -1;
    if (sk == SPARSE_ADAM) {
        if (!sparse) return -1;  // SparseAdam refuses dense gradients
        state = optim_state_bytes_for(OPTIM_ADAM, &(OptimOptions){0}, numel);
    } else if (sparse && kind != OPTIM_SGD && kind != OPTIM_ADAGRAD) {
        return -1;  // Adam, AdamW, RMSprop refuse sparse gradients
    } else if (sparse && (o->weight_decay != 0)) {
        return -1;
    } else if (sparse && kind == OPTIM_SGD) {
        state = o->momentum != 0 ? sparse_grad_bytes(N, D) : 0;
    } else {
        state = optim_state_bytes_for(kind, o, numel);
    }
    grad = sparse ? sparse_grad_bytes(N, D) : table;
    if (state < 0 || grad < 0 || table > INT64_MAX - grad ||
        table + grad > INT64_MAX - state)
        return -1;
    return table + grad + state;
}

/**
## Skew: Zipf's law in the index stream

Words, products and users are not looked up uniformly. Their frequencies
follow, roughly, Zipf's law: the row of rank $r$ (from 1) is drawn with
probability proportional to $1/r^s$, with $s$ near 1; we use $s = 1.1$.
A batch then holds a few very common rows many times and a long tail of
rare rows once, so it touches far fewer *distinct* rows than a uniform
batch, and a rare row waits many steps between two updates. The sampler
is the inverse of the cumulative distribution, by binary search.
*/

int zipf_init(Zipf *z, int64_t V, double s, EmbError *err) {
    memset(z, 0, sizeof *z);
    int64_t bytes;
    if (V < 1 || emb_mul_size(V, (int64_t)sizeof(double), &bytes) != 0 || !(s > 0))
        return emb_fail(err,
                        "Zipf over %lld rows with exponent %g: V must be >= 1, s > 0",
                        (long long)V, s);
    z->cdf = malloc((size_t)bytes);  // (V,)
    if (!z->cdf)
        return emb_fail(err, "out of memory for Zipf over %lld rows", (long long)V);
    double total = 0;
    for (int64_t r = 0; r < V; r++) z->cdf[r] = total += pow((double)(r + 1), -s);
    for (int64_t r = 0; r < V; r++) z->cdf[r] /= total;
    z->cdf[V - 1] = 1.0;
    z->V = V, z->s = s;
    return 0;
}

void zipf_free(Zipf *z) {
    free(z->cdf);
    memset(z, 0, sizeof *z);
}

int64_t zipf_draw(const Zipf *z, double u) {
    int64_t lo = 0, hi = z->V - 1;  // the first row whose cdf exceeds u
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

double zipf_prob(const Zipf *z, int64_t r) {
    return r == 0 ? z->cdf[0] : z->cdf[r] - z->cdf[r - 1];
}

int64_t sparse_distinct(const int64_t *idx, int64_t n, bool *seen) {
    int64_t distinct = 0;
    for (int64_t i = 0; i < n; i++)
        if (!seen[idx[i]]) seen[idx[i]] = true, distinct++;
    for (int64_t i = 0; i < n; i++) seen[idx[i]] = false;
    return distinct;
}

/**
## One step, dense or sparse

The crossover below, and `make bench`, time one training step of a table
four ways: dense SGD and dense Adam (clear the $(V, D)$ gradient,
scatter-add, update all $V$ rows) against sparse SGD and SparseAdam
(clear the entries, copy the batch's rows, update those rows).
`step_bench_run` is that step; the caller holds the clock.
*/

int step_bench_init(StepBench *b, int64_t V, int64_t D, EmbError *err) {
    memset(b, 0, sizeof *b);
    TorchGenerator gen;
    rng_manual_seed(&gen, 0);
    b->adam = optim_defaults(OPTIM_ADAM);
    if (emb_init(&b->e, V, D, &gen, err) != 0) return -1;
    b->m = zeroed(V * D), b->v = zeroed(V * D);
    if (!b->m || !b->v || emb_alloc_grad(&b->e, err) ||
        sparse_grad_init(&b->g, V, D, err) || sparse_grad_init(&b->c, V, D, err)) {
        step_bench_free(b);
        return emb_fail(err, "out of memory for a %lld x %lld step", (long long)V,
                        (long long)D);
    }
    return 0;
}

void step_bench_free(StepBench *b) {
    emb_free(&b->e);
    sparse_grad_free(&b->g), sparse_grad_free(&b->c);
    free(b->m), free(b->v);
    memset(b, 0, sizeof *b);
}

int step_bench_run(StepBench *b, StepKind kind, const int64_t *idx, int64_t n,
                   const float *G, EmbError *err) {
    int64_t V = b->e.num_embeddings, D = b->e.embedding_dim;
    if (kind == STEP_DENSE_SGD || kind == STEP_DENSE_ADAM) {
        memset(b->e.grad, 0, (size_t)(V * D) * sizeof(float));  // zero_grad
        if (emb_backward(&b->e, idx, n, G, err) != 0) return -1;
        if (kind == STEP_DENSE_SGD) sgd_step(b->e.weight, b->e.grad, V * D, 0.01f);
        else
            adam_update(b->e.weight, b->e.grad, b->m, b->v, NULL, V * D, 2, &b->adam,
                        false);
        return 0;
    }
    sparse_grad_zero(&b->g);  // zero_grad
    if (emb_backward_sparse(&b->e, &b->g, idx, n, G, err) != 0) return -1;
    if (kind == STEP_SPARSE_SGD) {
        sparse_sgd_update(b->e.weight, &b->g, 0.01, false);
        return 0;
    }
    if (sparse_coalesce(&b->g, &b->c, err) != 0) return -1;
    sparse_adam_update(b->e.weight, &b->c, b->m, b->v, 2, &b->adam);
    return 0;
}

/**
## Making the memory-bound part fast

A sparse step at large $V$ does little arithmetic: for each of $N$
entries it reads a row of the weight (and of each state buffer), changes
it and writes it back, at an address chosen by the index. At $V = 10^7$
the table is 2.56 GB, far beyond every cache, so each row costs a trip to
memory, and first a trip through the page tables. The processor caches
recent address translations in its TLB (translation lookaside buffer),
one entry per page: with 4 KiB pages the TLB covers a few megabytes of
the table, and nearly every row misses it.
Three things help, and none of them changes a single bit of the result:

* **Huge pages.** With transparent huge pages (2 MiB), one TLB entry
  covers 512 times as much of the table. `emb_alloc_huge` aligns the
  table to 2 MiB and asks for them with `madvise(MADV_HUGEPAGE)`.
* **Prefetching.** The indices of a batch are known in advance, so the
  row needed $d$ positions from now can be requested now
  (`__builtin_prefetch`), and several memory accesses overlap instead of
  waiting one after another. Where the row should land matters: asked
  into the second-level cache (locality 2), 16 rows ahead, the lookup
  keeps more misses in flight than with the "non-temporal" hint (locality
  0), which on this machine made it markedly slower at $10^6$ rows and
  more.
* **Sorting.** Visiting the rows in increasing order turns random jumps
  into a forward walk and reads a repeated row once while it is in cache.
  The sort itself costs $O(N \log N)$; whether that pays is for `make
  bench` to say (for batches of 4096, it does not).

And the machine's cores: the sparse update (and the dense scatter-add of
chapter 2) can be split among threads **by rows**, as PyTorch's
`add_dense_sparse_worker_non_coalesced_cpu` splits it: of $k$ threads,
thread $t$ owns rows $[tV/k, (t+1)V/k)$ and applies, in entry order, the
entries that fall there. No two threads ever write the same row, so no locks and no
atomics are needed, and every row sees its entries in the same order as
with one thread: the same bits. (Splitting by *entries* instead would
race on repeated rows, and summing per-thread copies would change the
order of the additions.)
*/

void *emb_alloc_huge(int64_t bytes, bool *huge) {
    const size_t two_mib = (size_t)2 << 20;
    void *p = NULL;
    if (huge) *huge = false;
    if (bytes <= 0 || (uint64_t)bytes > SIZE_MAX - two_mib) return NULL;
    size_t size = ((size_t)bytes + two_mib - 1) / two_mib * two_mib;  // whole huge pages
    if (posix_memalign(&p, two_mib, size) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (madvise(p, size, MADV_HUGEPAGE) == 0 && huge) *huge = true;
#endif
    return p;
}

// extends: emb_lookup
int emb_lookup_prefetch(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                        int64_t distance, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    int64_t D = e->embedding_dim, row_bytes = D * (int64_t)sizeof(float);
    for (int64_t i = 0; i < n; i++) {
        if (i + distance < n) {
            const char *ahead = (const char *)(e->weight + idx[i + distance] * D);
            for (int64_t b = 0; b < row_bytes; b += 64)
                __builtin_prefetch(ahead + b, 0, 2);
        }
        memcpy(out + i * D, e->weight + idx[i] * D, (size_t)row_bytes);  // row idx[i]
    }
    return 0;
}

// extends: emb_lookup
int emb_lookup_sorted(const Embedding *e, const int64_t *idx, int64_t n, float *out,
                      int64_t *perm, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0 ||
        sparse_sort_order(idx, n, perm, err) != 0)
        return -1;
    int64_t D = e->embedding_dim;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = perm[j];  // positions in increasing order of their row
        memcpy(out + i * D, e->weight + idx[i] * D, (size_t)D * sizeof(float));
    }
    return 0;
}

/**
One more saving needs no trick at all. With `zero_grad` before each step,
sparse SGD's gradient is exactly the batch's upstream rows, and its
update applies them one by one: the entries need not be stored first.
`emb_sparse_sgd_fused` does the backward pass and the update in one loop,
with the same fused multiply-adds in the same order, so the same bits,
and without writing and reading back $N D$ floats.
*/

EMB_FMA_CLONES
int emb_sparse_sgd_fused(Embedding *e, const int64_t *idx, int64_t n,
                         const float *grad_out, double lr, EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (e->scale_grad_by_freq)
        return emb_fail(err, "embedding_backward: scale_grad_by_freq not supported with "
                             "sparse gradients");
    if (!e->requires_grad) return 0;
    const float neg_lr = (float)-lr;
    int64_t D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++) {
        if (i + SPARSE_PREFETCH_AHEAD < n)
            prefetch_row(e->weight + idx[i + SPARSE_PREFETCH_AHEAD] * D, D);
        if (idx[i] == e->padding_idx) continue;
        float *w_ix = e->weight + idx[i] * D;  // seek to row idx[i]
        const float *g_i = grad_out + i * D;
        axpy_row(w_ix, g_i, neg_lr, D);
    }
    return 0;
}

/**
SparseAdam can be fused the same way: sort the batch's positions in
`coalesce`'s order, add up each row's upstream rows in that order, and
update the row. No entry list, no table of sums: the same bits. It works
on `FUSED_GROUPS` rows at a time: first their sums, asking for each row's
weight and moments as its sum begins, then their updates, by which time
those rows are arriving from memory. (Summing and updating one row at a
time left the update waiting for every row in turn, and at $10^7$ rows
made the fused step slower than the unfused one.)
*/

enum { FUSED_GROUPS = 16 };  // rows summed before they are updated

EMB_FMA_CLONES
int emb_sparse_adam_fused(Embedding *e, const int64_t *idx, int64_t n,
                          const float *grad_out, float *exp_avg, float *exp_avg_sq,
                          int64_t step, const OptimOptions *o, int64_t *perm,
                          EmbError *err) {
    if (emb_check_indices(e, idx, n, err) != 0) return -1;
    if (e->scale_grad_by_freq)
        return emb_fail(err, "embedding_backward: scale_grad_by_freq not supported with "
                             "sparse gradients");
    if (!e->requires_grad) return 0;      // frozen: no gradient, no step
    int64_t D = e->embedding_dim, m = 0;  // m: positions that are not padding
    for (int64_t i = 0; i < n; i++)
        if (idx[i] != e->padding_idx) perm[m++] = idx[i];  // the entries' rows, in order
    float *sum = malloc((size_t)FUSED_GROUPS * D * sizeof(float));  // a few rows' sums
    int64_t group_row[FUSED_GROUPS];
    int64_t *rows = malloc((size_t)(m > 0 ? m : 1) * sizeof *rows), *pos = perm;
    if (!sum || !rows) return free(sum), free(rows), emb_fail(err, "out of memory");
    memcpy(rows, perm, (size_t)m * sizeof *rows);
    if (m >= 2 && sparse_sort_order(rows, m, pos, err) != 0)
        return free(sum), free(rows), -1;
    if (m < 2)
        for (int64_t k = 0; k < m; k++) pos[k] = k;
    int64_t *entry = rows;  // entry k's position in the batch: rows is reused for it
    for (int64_t i = 0, k = 0; i < n; i++)
        if (idx[i] != e->padding_idx) entry[k++] = i;
    double step_size = sparse_adam_step_size(o, step);
    for (int64_t j = 0; j < m;) {
        int64_t g = 0;  // first the sums of up to FUSED_GROUPS rows, asking for
        for (; g < FUSED_GROUPS && j < m; g++) {  // their rows in the three buffers
            int64_t row = idx[entry[pos[j]]];
            float *s_g = sum + g * D;
            prefetch_row(e->weight + row * D, D), prefetch_row(exp_avg + row * D, D);
            prefetch_row(exp_avg_sq + row * D, D);
            memcpy(s_g, grad_out + entry[pos[j]] * D, (size_t)D * sizeof(float));
            for (j++; j < m && idx[entry[pos[j]]] == row; j++)
                for (int64_t d = 0; d < D; d++) s_g[d] += grad_out[entry[pos[j]] * D + d];
            if (o->maximize)  // -grad: the negated sum is the sum of the negations
                for (int64_t d = 0; d < D; d++) s_g[d] = -s_g[d];
            group_row[g] = row;
        }
        for (int64_t k = 0; k < g; k++) {  // then their updates, rows arriving
            int64_t off = group_row[k] * D;
            sparse_adam_row(e->weight + off, sum + k * D, exp_avg + off,
                            exp_avg_sq + off, D, step_size, o);
        }
    }
    free(sum), free(rows);
    return 0;
}

// One thread's share of a row-owned scatter: rows [lo, hi).
typedef struct RowShare {
    float *dst;               // (V, D)
    const int64_t *idx;       // (n,)
    const float *src;         // (n, D)
    int64_t n, D, lo, hi;
    float scale;              // dst = fma(src, scale, dst), or a plain add if add
    bool add;
} RowShare;

EMB_FMA_CLONES
static void *row_share_run(void *arg) {
    const RowShare *s = arg;
    for (int64_t k = 0; k < s->n; k++) {
        int64_t r = s->idx[k];
        if (r < s->lo || r >= s->hi) continue;  // another thread's row
        float *d_r = s->dst + r * s->D;
        const float *v_k = s->src + k * s->D;
        if (s->add)
            for (int64_t j = 0; j < s->D; j++) d_r[j] += v_k[j];
        else
            axpy_row(d_r, v_k, s->scale, s->D);
    }
    return NULL;
}

enum { SPARSE_MAX_THREADS = 64 };

// Runs the scatter with `threads` threads, each owning a range of rows.
static int row_share_scatter(RowShare base, int64_t V, int threads, EmbError *err) {
    if (threads < 1 || threads > SPARSE_MAX_THREADS)
        return emb_fail(err, "threads %d is out of range [1, %d]", threads,
                        SPARSE_MAX_THREADS);
    pthread_t tid[SPARSE_MAX_THREADS];
    bool running[SPARSE_MAX_THREADS] = {false};
    RowShare share[SPARSE_MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        share[t] = base;
        share[t].lo = V * t / threads, share[t].hi = V * (t + 1) / threads;
        if (t < threads - 1)
            running[t] = pthread_create(&tid[t], NULL, row_share_run, &share[t]) == 0;
        if (!running[t]) row_share_run(&share[t]);  // the last share, or no thread: here
    }
    for (int t = 0; t < threads; t++)
        if (running[t]) pthread_join(tid[t], NULL);
    return 0;
}

int sparse_sgd_update_parallel(float *param, const SparseGrad *g, double lr, int threads,
                               EmbError *err) {
    RowShare base = {param, g->indices, g->values, g->nnz, g->row_dim, 0, 0,
                     (float)-lr, false};
    return row_share_scatter(base, g->num_rows, threads, err);
}

// extends: emb_backward
int emb_scatter_add_parallel(float *grad, int64_t V, int64_t D, const int64_t *idx,
                             int64_t n, const float *grad_out, int threads,
                             EmbError *err) {
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= V)
            return emb_fail(err,
                            "index out of range in self: index %lld, num_embeddings %lld",
                            (long long)idx[i], (long long)V);
    RowShare base = {grad, idx, grad_out, n, D, 0, 0, 1.0f, true};
    return row_share_scatter(base, V, threads, err);
}

/**
Threads started at every step are created and joined inside every
step. A pool starts them once: each worker
waits for a new job (a generation number under a mutex), runs its share
of rows, and reports back; the caller runs the last share itself and
waits for the others. The shares, and so the bits, are those above.
*/

// A worker's argument: its pool and the share it runs.
typedef struct PoolSlot {
    SparsePool *pool;
    int index;
} PoolSlot;

struct SparsePool {
    int threads;
    pthread_t tid[SPARSE_MAX_THREADS];
    int started;                // workers running (threads - 1 when all went well)
    pthread_mutex_t mu;
    pthread_cond_t wake, done;  // a new job; the last worker finished
    uint64_t generation;        // bumped for every job
    int pending;                // workers still busy with the job
    bool quit;
    RowShare job[SPARSE_MAX_THREADS];
    PoolSlot slot[SPARSE_MAX_THREADS];
};

static void *pool_worker(void *arg) {
    SparsePool *p = ((PoolSlot *)arg)->pool;
    int index = ((PoolSlot *)arg)->index;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        bool quit = p->quit;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        if (quit) return NULL;
        row_share_run(&p->job[index]);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

SparsePool *sparse_pool_new(int threads, EmbError *err) {
    if (threads < 1 || threads > SPARSE_MAX_THREADS) {
        emb_fail(err, "threads %d is out of range [1, %d]", threads, SPARSE_MAX_THREADS);
        return NULL;
    }
    SparsePool *p = calloc(1, sizeof *p);
    if (!p) return emb_fail(err, "out of memory for a pool of %d threads", threads), NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL), pthread_cond_init(&p->done, NULL);
    for (int t = 0; t < threads - 1; t++) {
        p->slot[t].pool = p, p->slot[t].index = t;
        if (pthread_create(&p->tid[t], NULL, pool_worker, &p->slot[t]) != 0) break;
        p->started++;
    }
    if (p->started != threads - 1) {
        sparse_pool_free(p);
        return emb_fail(err, "cannot start %d threads", threads - 1), NULL;
    }
    return p;
}

void sparse_pool_free(SparsePool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->started; t++) pthread_join(p->tid[t], NULL);
    pthread_cond_destroy(&p->wake), pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void sparse_sgd_update_pool(SparsePool *p, float *param, const SparseGrad *g, double lr) {
    RowShare base = {param, g->indices, g->values, g->nnz, g->row_dim, 0, 0,
                     (float)-lr, false};
    int64_t V = g->num_rows;
    pthread_mutex_lock(&p->mu);
    for (int t = 0; t < p->threads; t++) {
        p->job[t] = base;
        p->job[t].lo = V * t / p->threads, p->job[t].hi = V * (t + 1) / p->threads;
    }
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    row_share_run(&p->job[p->threads - 1]);  // the caller's share
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/**
## The program

The program runs seven small experiments and writes a TSV file for each,
and the numbers the text quotes to `values.tsv`: the two gradients of one
batch; chapter 2's model trained with dense and sparse optimizers (rows
moved per step, the momentum buffer's size); SparseAdam's late row; the
two choices beyond PyTorch on the same model; the memory table; the skew
of Zipf batches; and the crossover, timed. Timings come from this run on
this machine, and the tests never look at them. The large sizes are in
`make bench`.
*/

#ifndef EMB_LIBRARY

#include <ctype.h>
#include <stdarg.h>
#include <time.h>

#include "../src/cli.h"
#include "../src/corpus.h"
#include "../src/run_values.h"

typedef struct Options {
    int64_t steps, batch, skew_max_v;
    uint64_t seed;
    const char *out;  // the run's folder, as the user named it
    const char *dir;  // where this run writes: a fresh folder that becomes out
} Options;

// A value for the prose (src/run_values.h); the key is lower-cased, with
// '-' written '_', so that run names can be part of it.
static void value(RunValues *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void value(RunValues *v, const char *key, const char *fmt, ...) {
    char k[96], text[96];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof k; i++)
        k[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
    k[i] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    run_values_set(v, k, "%s", text);
}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Experiment 1: the dense and the sparse gradient of one batch.
static int experiment_gradients(const Options *op, RunValues *values, EmbError *err) {
    enum { V = 12, D = 4, N = 8 };
    const int64_t idx[N] = {3, 7, 3, 0, 11, 7, 3, 5};
    float w[V * D] = {0}, G[N * D], dense[V * D] = {0}, from_sparse[V * D] = {0};
    TorchGenerator gen;
    rng_manual_seed(&gen, op->seed);
    rng_normal_(&gen, G, N * D, 0.0f, 1.0f);
    Embedding e = {.num_embeddings = V, .embedding_dim = D, .weight = w, .grad = dense,
                   .requires_grad = true, .padding_idx = EMB_NO_PADDING};
    SparseGrad g;
    OutFile fd, fs;
    int rc = sparse_grad_init(&g, V, D, err) || emb_backward(&e, idx, N, G, err) ||
             emb_backward_sparse(&e, &g, idx, N, G, err);
    if (rc == 0) rc = outfile_open(&fd, op->dir, "grad-dense.tsv", err);
    if (rc == 0 && (rc = outfile_open(&fs, op->dir, "grad-sparse.tsv", err)) != 0)
        outfile_abort(&fd);
    if (rc != 0) return sparse_grad_free(&g), -1;
    sparse_add_to_dense(&g, from_sparse);
    double diff = 0;
    fprintf(fd.f, "row\tcol\tgrad\n");
    fprintf(fs.f, "entry\tcol\tvalue\tindex\n");
    for (int k = 0; k < V * D; k++) {
        diff = fmax(diff, fabs((double)dense[k] - from_sparse[k]));
        fprintf(fd.f, "%d\t%d\t%.6f\n", k / D, k % D, dense[k]);
    }
    for (int k = 0; k < N * D; k++)
        fprintf(fs.f, "%d\t%d\t%.6f\t%lld\n", k / D, k % D, g.values[k],
                (long long)g.indices[k / D]);
    value(values, "grad.nnz", "%lld", (long long)g.nnz);
    value(values, "grad.max_diff", "%g", diff);
    printf("one batch of %d lookups in a %d x %d table: %lld sparse entries, "
           "max |dense - sum of entries| = %g\n", N, V, D, (long long)g.nnz, diff);
    sparse_grad_free(&g);
    return outfile_commit(&fd, err) || outfile_commit(&fs, err) ? -1 : 0;
}

// Experiment 1b: the same batch through chapter 5's tied model, sparse=True.
static int experiment_tied(RunValues *values, EmbError *err) {
    const int64_t idx[8] = {3, 7, 3, 0, 11, 7, 3, 5}, tgt[8] = {7, 3, 0, 11, 7, 3, 5, 1};
    int64_t rows[3];
    double tied_diff;
    EmbError refusal;
    if (lm_tied_sparse_run(12, 4, idx, tgt, 8, rows, &tied_diff, &refusal, err) != 0)
        return -1;
    value(values, "tied.rows_emb", "%lld", (long long)rows[0]);
    value(values, "tied.rows_proj", "%lld", (long long)rows[1]);
    value(values, "tied.rows_sum", "%lld", (long long)rows[2]);
    value(values, "tied.diff", "%.1e", tied_diff);
    printf("tied, sparse=True: rows with a gradient: %lld (lookup), %lld (projection), "
           "%lld (sum); SparseAdam: %s\n", (long long)rows[0], (long long)rows[1],
           (long long)rows[2], refusal.msg);
    return 0;
}

// A training run: dense or sparse table, one optimizer, the extras.
typedef struct Spec {
    const char *name;
    bool sparse, sparse_adam;
    OptimKind kind;
    double lr, momentum;
    SparseExtras extras;
} Spec;

static const Spec RUNS[] = {
    {"dense-SGD", false, false, OPTIM_SGD, 0.5, 0, {0}},
    {"SGD", true, false, OPTIM_SGD, 0.5, 0, {0}},
    {"SGD-momentum", true, false, OPTIM_SGD, 0.05, 0.9, {0}},
    {"Adagrad", true, false, OPTIM_ADAGRAD, 0.5, 0, {0}},
    {"dense-Adam", false, false, OPTIM_ADAM, 0.05, 0, {0}},
    {"SparseAdam", true, true, OPTIM_ADAM, 0.05, 0, {0}},
    {"SparseAdam-row-steps", true, true, OPTIM_ADAM, 0.05, 0, {true, 0, 0}},
    {"SparseAdam-lazy-decay",
     true,
     true,
     OPTIM_ADAM,
     0.05,
     0,
     {false, 0.1, SPARSE_DECAY_LAZY}},
    {"SparseAdam-global-decay",
     true,
     true,
     OPTIM_ADAM,
     0.05,
     0,
     {false, 0.1, SPARSE_DECAY_GLOBAL}},
};
enum { N_RUNS = COUNT(RUNS), SMOOTH = 50, RARE = 5 };  // RARE: rows in each norm

typedef struct Run {
    double *loss;               // (steps,)
    int64_t *looked, *moved;    // (steps,) rows looked up; rows changed
    int64_t *buffer;            // (steps,) entries of SGD's sparse momentum buffer
    float *table;               // (V, D) after training
} Run;

// Splits a model's list: SparseAdam takes the table, Adam the rest, as in
// PyTorch, where SparseAdam refuses the projection's dense gradients.
static void split_params(const ParamList *all, ParamList *table, ParamList *rest) {
    *table = (ParamList){.n = 1, .items = {all->items[0]}};
    rest->n = all->n - 1;
    for (int i = 1; i < all->n; i++) rest->items[i - 1] = all->items[i];
}

// Trains chapter 2's model with spec; every run sees the same model and batches.
static int train(const Options *op, const Corpus *c, const Spec *spec, Run *run,
                 EmbError *err) {
    TorchGenerator gen;
    NextTokenModel m;
    ParamList params, table, rest;
    SparseOptimizer opt = {0}, adam = {0};  // adam: the projection's, beside SparseAdam
    SparseGrad g = {0};
    OptimOptions oo = optim_defaults(spec->kind);
    oo.lr = spec->lr, oo.momentum = spec->momentum;
    int64_t V = c->vocab_size, D = 8, B = op->batch;
    int64_t *in = malloc((size_t)B * 2 * sizeof(int64_t)), *tgt = in ? in + B : NULL;
    float *before = malloc((size_t)(V * D) * sizeof(float));  // (V, D)
    rng_manual_seed(&gen, op->seed);
    int rc = !in || !before ? emb_fail(err, "out of memory")
                            : ntm_init(&m, V, D, B, &gen, err);
    if (rc != 0) return free(in), free(before), -1;
    rc = sparse_grad_init(&g, V, D, err) ||
         (spec->sparse ? ntm_sparse_parameters(&m, &g, &params, err)
                       : ntm_parameters(&m, &params, err));
    if (rc == 0 && spec->sparse_adam) {
        split_params(&params, &table, &rest);
        rc = sparse_adam_init_extras(&opt, &oo, &spec->extras, &table, err) ||
             sparse_optim_init(&adam, OPTIM_ADAM, &oo, &rest, err);
    } else if (rc == 0) {
        rc = sparse_optim_init(&opt, spec->kind, &oo, &params, err);
    }
    for (int64_t s = 0; rc == 0 && s < op->steps; s++) {
        ntm_sample_batch(&gen, c->tokens, c->n_tokens, B, in, tgt);
        memcpy(before, m.emb.weight, (size_t)(V * D) * sizeof(float));
        ntm_zero_grad(&m);
        sparse_grad_zero(&g);
        rc = ntm_forward(&m, in, tgt, B, &run->loss[s], err) ||
             ntm_backward(&m, in, B, err) ||
             (spec->sparse && emb_backward_sparse(&m.emb, &g, in, B, m.dx, err)) ||
             (spec->sparse_adam ? sparse_optim_step(&opt, &table, err) ||
                                      sparse_optim_step(&adam, &rest, err)
                                : sparse_optim_step(&opt, &params, err));
        run->looked[s] = emb_rows_touched(&m.emb, in, B);
        run->moved[s] = emb_rows_changed(before, m.emb.weight, V, D);
        run->buffer[s] = opt.sparse_momentum[0] ? opt.momentum[0].nnz : 0;
    }
    if (rc == 0) memcpy(run->table, m.emb.weight, (size_t)(V * D) * sizeof(float));
    sparse_optim_free(&opt), sparse_optim_free(&adam);
    sparse_grad_free(&g);
    ntm_free(&m);
    free(in), free(before);
    return rc ? -1 : 0;
}

// Prints run r's line and writes its values.
static void summarise(const Options *op, const Corpus *c, int r, const Run *run,
                      RunValues *values) {
    int64_t n = op->steps, from = n > SMOOTH ? n - SMOOTH : 0;
    double loss = 0, moved = 0, looked = 0, norms[2];
    for (int64_t s = from; s < n; s++) loss += run->loss[s] / (double)(n - from);
    for (int64_t s = n / 2; s < n; s++) {
        moved += (double)run->moved[s] / (double)(n - n / 2);
        looked += (double)run->looked[s] / (double)(n - n / 2);
    }
    emb_rare_common_norms(run->table, c->vocab_size, 8, c->counts, RARE, norms, NULL);
    printf("%-24s %7.3f %10.1f %10.2f %10.2f\n", RUNS[r].name, loss, moved, norms[0],
           norms[1]);
    char key[96];
    const char *field[] = {"loss", "moved", "rare_norm", "common_norm"};
    const double x[] = {loss, moved, norms[0], norms[1]};
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "train.%s.%s", RUNS[r].name, field[k]);
        value(values, key, k == 0 ? "%.3f" : k == 1 ? "%.1f" : "%.2f", x[k]);
    }
    if (r == 0) value(values, "train.looked", "%.1f", looked);
    if (run->buffer[n - 1] > 0) {
        value(values, "train.buffer_first", "%lld", (long long)run->buffer[0]);
        value(values, "train.buffer_last", "%lld", (long long)run->buffer[n - 1]);
        value(values, "train.buffer_ratio", "%.0f",
              (double)run->buffer[n - 1] / op->batch);
        value(values, "train.buffer_per_step", "%.0f",
              (double)(run->buffer[n - 1] - run->buffer[0]) /
                  (double)(n > 1 ? n - 1 : 1));
    }
}

// touched.tsv: per step, rows looked up, rows each run moved, SGD's buffer.
static int write_touched(const Options *op, const Run *runs, EmbError *err) {
    OutFile f;
    if (outfile_open(&f, op->dir, "touched.tsv", err) != 0) return -1;
    fprintf(f.f, "step\tlooked_up");
    for (int r = 0; r < N_RUNS; r++) fprintf(f.f, "\t%s", RUNS[r].name);
    fprintf(f.f, "\tmomentum_entries\n");
    for (int64_t s = 0; s < op->steps; s++) {
        fprintf(f.f, "%lld\t%lld", (long long)s + 1, (long long)runs[0].looked[s]);
        for (int r = 0; r < N_RUNS; r++)
            fprintf(f.f, "\t%lld", (long long)runs[r].moved[s]);
        fprintf(f.f, "\t%lld\n", (long long)runs[2].buffer[s]);
    }
    return outfile_commit(&f, err);
}

// Experiments 2 and 4: every run on chapter 2's model.
static int experiment_training(const Options *op, const Corpus *c, RunValues *values,
                               EmbError *err) {
    Run runs[N_RUNS] = {{0}};
    size_t n = (size_t)op->steps, vd = (size_t)(c->vocab_size * 8);
    int rc = 0;
    printf("\nchapter 2's model, D=8, vocabulary %lld, %lld steps, batch %lld\n",
           (long long)c->vocab_size, (long long)op->steps, (long long)op->batch);
    printf("%-24s %7s %10s %10s %10s\n", "optimizer", "loss", "moved/step", "rare |w|",
           "common |w|");
    for (int r = 0; r < N_RUNS && rc == 0; r++) {
        Run *run = &runs[r];
        run->loss = calloc(n, 8), run->looked = calloc(n, 8), run->moved = calloc(n, 8);
        run->buffer = calloc(n, 8), run->table = calloc(vd, sizeof(float));
        rc = !run->loss || !run->looked || !run->moved || !run->buffer || !run->table
                 ? emb_fail(err, "out of memory for %lld steps", (long long)op->steps)
                 : train(op, c, &RUNS[r], run, err);
        if (rc == 0) summarise(op, c, r, run, values);
    }
    double diff = 0;  // dense SGD and sparse SGD: the same steps, summed differently
    for (size_t k = 0; rc == 0 && k < vd; k++)
        diff = fmax(diff, fabs((double)runs[0].table[k] - runs[1].table[k]));
    if (rc == 0) value(values, "train.sgd_dense_sparse_diff", "%.1e", diff);
    if (rc == 0) rc = write_touched(op, runs, err);
    for (int r = 0; r < N_RUNS; r++) {
        free(runs[r].loss), free(runs[r].looked), free(runs[r].moved);
        free(runs[r].buffer), free(runs[r].table);
    }
    return rc ? -1 : 0;
}

// Experiment 3: SparseAdam's first step for a row first seen at step t.
static int experiment_late(const Options *op, RunValues *values, EmbError *err) {
    const int64_t ts[] = {1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
    OptimOptions o = optim_defaults(OPTIM_ADAM);  // SparseAdam's defaults: lr 1e-3 ...
    OutFile f;
    if (outfile_open(&f, op->dir, "late.tsv", err) != 0) return -1;
    fprintf(f.f, "t\tPyTorch (one count per parameter)\tone count per row\n");
    for (int k = 0; k < COUNT(ts); k++) {
        double torch_move, row_move;
        if (sparse_adam_late_row(&o, false, ts[k], &torch_move, err) != 0 ||
            sparse_adam_late_row(&o, true, ts[k], &row_move, err) != 0)
            return outfile_abort(&f), -1;
        fprintf(f.f, "%lld\t%.4f\t%.4f\n", (long long)ts[k], torch_move, row_move);
        char key[48];
        snprintf(key, sizeof key, "late.t%lld", (long long)ts[k]);
        value(values, key, "%.2f", torch_move);
        if (k == 0) value(values, "late.per_row", "%.2f", row_move);
    }
    return outfile_commit(&f, err);
}

// Experiment 5: weights + gradient + state, dense and sparse, in bytes.
static const struct { const char *name, *key; int64_t V, D; } TABLES[] = {
    {"V=10^3", "v1e3", 1000, 64},         {"V=10^4", "v1e4", 10000, 64},
    {"V=10^5", "v1e5", 100000, 64},       {"V=10^6", "v1e6", 1000000, 64},
    {"V=10^7", "v1e7", 10000000, 64},     {"BERT-base", "bert", 30522, 768},
    {"GPT-2", "gpt2", 50257, 768},        {"recommender", "rec", 10000000, 64}};
static const struct { const char *name, *key; SparseKind sk; OptimKind kind; double mom;
                      bool sparse; } MEMORY[] = {
    {"SGD", "sgd", SPARSE_WRAP_DENSE, OPTIM_SGD, 0, false},
    {"SGD-momentum", "momentum", SPARSE_WRAP_DENSE, OPTIM_SGD, 0.9, false},
    {"Adagrad", "adagrad", SPARSE_WRAP_DENSE, OPTIM_ADAGRAD, 0, false},
    {"Adam", "adam", SPARSE_WRAP_DENSE, OPTIM_ADAM, 0, false},
    {"AdamW", "adamw", SPARSE_WRAP_DENSE, OPTIM_ADAMW, 0, false},
    {"RMSprop", "rmsprop", SPARSE_WRAP_DENSE, OPTIM_RMSPROP, 0, false},
    {"sparse SGD", "sparse_sgd", SPARSE_WRAP_DENSE, OPTIM_SGD, 0, true},
    {"sparse SGD-momentum", "sparse_momentum", SPARSE_WRAP_DENSE, OPTIM_SGD, 0.9, true},
    {"sparse Adagrad", "sparse_adagrad", SPARSE_WRAP_DENSE, OPTIM_ADAGRAD, 0, true},
    {"SparseAdam", "sparse_adam", SPARSE_ADAM, OPTIM_ADAM, 0, true}};

static int experiment_memory(const Options *op, RunValues *values, EmbError *err) {
    const int64_t N = 4096;
    OutFile f;
    if (outfile_open(&f, op->dir, "memory.tsv", err) != 0) return -1;
    fprintf(f.f, "table\tV\tD");
    for (int m = 0; m < COUNT(MEMORY); m++) fprintf(f.f, "\t%s", MEMORY[m].name);
    for (int t = 0; t < COUNT(TABLES); t++) {
        fprintf(f.f, "\n%s\t%lld\t%lld", TABLES[t].name, (long long)TABLES[t].V,
                (long long)TABLES[t].D);
        for (int m = 0; m < COUNT(MEMORY); m++) {
            OptimOptions o = optim_defaults(MEMORY[m].kind);
            o.weight_decay = 0, o.momentum = MEMORY[m].mom;
            int64_t bytes =
                sparse_training_bytes(MEMORY[m].sk, MEMORY[m].kind, &o, TABLES[t].V,
                                      TABLES[t].D, N, MEMORY[m].sparse);
            fprintf(f.f, "\t%lld", (long long)bytes);
            char key[64];
            snprintf(key, sizeof key, "memory.%s.%s_gb", TABLES[t].key, MEMORY[m].key);
            value(values, key, "%.2f", (double)bytes / 1e9);
        }
    }
    fprintf(f.f, "\n");
    return outfile_commit(&f, err);
}

// How often a row of rank 1, 100, 10^4 ... of z is in a batch of N: once in
// 1 / (1 - (1 - p)^N) batches.
static void skew_gaps(const Zipf *z, int64_t N, RunValues *values) {
    value(values, "skew.v", "%lld", (long long)z->V);
    for (int64_t r = 1; r <= z->V; r *= 100) {
        double p = zipf_prob(z, r - 1), batch = 1 - pow(1 - p, (double)N);
        char key[48];
        snprintf(key, sizeof key, "skew.rank%lld.gap", (long long)r);
        value(values, key, "%.0f", 1 / batch);
    }
    value(values, "skew.top1_share", "%.1f", 100 * zipf_prob(z, 0));
}

// Experiment 6: distinct rows per batch, uniform and Zipf(1.1), and how often
// a row of a given rank is updated.
static int experiment_skew(const Options *op, RunValues *values, EmbError *err) {
    const int64_t N = 4096, BATCHES = 10;
    int64_t *idx = malloc((size_t)N * sizeof *idx);  // (N,)
    bool *seen = calloc((size_t)op->skew_max_v, 1);   // (V,)
    OutFile f = {0};
    TorchGenerator gen;
    rng_manual_seed(&gen, op->seed);
    int rc = !idx || !seen ? emb_fail(err, "out of memory") :
             outfile_open(&f, op->dir, "skew.tsv", err);
    bool opened = rc == 0;
    if (rc == 0) fprintf(f.f, "V\tuniform\tuniform (expected)\tZipf 1.1\n");
    Zipf z = {0};
    for (int64_t V = 1000; rc == 0 && V <= op->skew_max_v; V *= 10) {
        double uni = 0, zip = 0,
               expect = (double)V * (1 - pow(1 - 1.0 / (double)V, (double)N));
        zipf_free(&z);
        if ((rc = zipf_init(&z, V, 1.1, err)) != 0) break;
        for (int64_t b = 0; b < BATCHES; b++) {
            for (int64_t i = 0; i < N; i++)
                idx[i] = (int64_t)(rng_uniform_double(&gen) * V);
            uni += (double)sparse_distinct(idx, N, seen) / BATCHES;
            for (int64_t i = 0; i < N; i++)
                idx[i] = zipf_draw(&z, rng_uniform_double(&gen));
            zip += (double)sparse_distinct(idx, N, seen) / BATCHES;
        }
        fprintf(f.f, "%lld\t%.1f\t%.1f\t%.1f\n", (long long)V, uni, expect, zip);
        char key[48];
        snprintf(key, sizeof key, "skew.v%lld.uniform", (long long)V);
        value(values, key, "%.0f", uni);
        snprintf(key, sizeof key, "skew.v%lld.zipf", (long long)V);
        value(values, key, "%.0f", zip);
    }
    if (rc == 0) {
        skew_gaps(&z, N, values);
        rc = outfile_commit(&f, err);
    } else if (opened) {
        outfile_abort(&f);
    }
    zipf_free(&z);
    free(idx), free(seen);
    return rc ? -1 : 0;
}

// Experiment 7: dense against sparse steps as the batch grows, timed.
static int experiment_crossover(const Options *op, RunValues *values, EmbError *err) {
    const int64_t V = 16384, D = 64, MAX_N = 4 * V, REPS = 3;
    StepBench b;
    TorchGenerator gen;
    rng_manual_seed(&gen, op->seed);
    int64_t *idx = malloc((size_t)MAX_N * sizeof *idx);      // (MAX_N,)
    float *G = malloc((size_t)(MAX_N * D) * sizeof(float));  // (MAX_N, D)
    OutFile f = {0};
    int rc = !idx || !G ? emb_fail(err, "out of memory") : step_bench_init(&b, V, D, err);
    if (rc == 0 && (rc = outfile_open(&f, op->dir, "crossover.tsv", err)) != 0)
        step_bench_free(&b);
    if (rc != 0) return free(idx), free(G), -1;
    fprintf(f.f, "N\tN/V\tdense SGD\tsparse SGD\tdense Adam\tSparseAdam\n");
    // Where sparse stops being faster: between the last N whose sparse step
    // was faster and the first whose was not, where the line through their
    // log(sparse / dense) crosses 0, on log N. A point between two sizes
    // moves less from run to run than the first size past it.
    double cross[2] = {0, 0}, last_ratio[2] = {0, 0};
    for (int64_t n = 16; rc == 0 && n <= MAX_N; n *= 2) {
        for (int64_t i = 0; i < n; i++) idx[i] = (int64_t)(rng_uniform_double(&gen) * V);
        rng_normal_(&gen, G, n * D, 0.0f, 1.0f);
        double best[4] = {1e30, 1e30, 1e30, 1e30}, t0;
        for (int64_t r = 0; r < REPS && rc == 0; r++)
            for (int w = 0; w < 4 && rc == 0; w++) {  // taking turns
                t0 = now();
                rc = step_bench_run(&b, (StepKind)w, idx, n, G, err);
                best[w] = fmin(best[w], now() - t0);
            }
        fprintf(f.f, "%lld\t%g\t%.4f\t%.4f\t%.4f\t%.4f\n", (long long)n, (double)n / V,
                1e3 * best[0], 1e3 * best[1], 1e3 * best[2], 1e3 * best[3]);
        for (int k = 0; k < 2; k++) {
            double ratio = log(best[2 * k + 1] / best[2 * k]);  // > 0: dense is faster
            if (cross[k] == 0 && ratio >= 0) {
                // back: how far behind n the lines cross, in halvings of n
                double back = n == 16 ? 0 : ratio / (ratio - last_ratio[k]);
                cross[k] = (double)n / V * pow(0.5, back);
            }
            last_ratio[k] = ratio;
        }
    }
    for (int k = 0; rc == 0 && k < 2; k++) {
        if (cross[k] > 0) value(values, k ? "cross.adam" : "cross.sgd", "%.2g", cross[k]);
        else
            value(values, k ? "cross.adam" : "cross.sgd", "none up to %g",
                  (double)MAX_N / V);
    }
    if (rc == 0) rc = outfile_commit(&f, err);
    else outfile_abort(&f);
    step_bench_free(&b);
    free(idx), free(G);
    return rc ? -1 : 0;
}

// The whole run, into dir (src/cli.h's cli_main makes it the run's folder).
static int run(void *options, const char *dir, RunValues *values, EmbError *err) {
    Options op = *(const Options *)options;
    Corpus c = {0};
    op.dir = dir;
    if (corpus_builtin(&c, op.seed, 2000, err) != 0) return -1;
    int rc = experiment_gradients(&op, values, err) || experiment_tied(values, err) ||
             experiment_training(&op, &c, values, err) ||
             experiment_late(&op, values, err) || experiment_memory(&op, values, err) ||
             experiment_skew(&op, values, err) || experiment_crossover(&op, values, err);
    corpus_free(&c);
    return rc ? -1 : 0;
}

int main(int argc, char **argv) {
    Options o = {0};
    CliOption options[] = {
        {"steps", "N", CLI_INT, &o.steps, "1000", "training steps per optimizer", .lo = 1,
         .hi = 1000000},
        {"batch", "B", CLI_INT, &o.batch, "32", "positions per step", .lo = 1,
         .hi = 100000},
        {"skew-max-v", "V", CLI_INT, &o.skew_max_v, "1000000",
         "largest vocabulary of the skew experiment", .lo = 1000, .hi = 100000000},
        {"seed", "S", CLI_SEED, &o.seed, "0",
         .help = "torch.manual_seed for the model and batches"},
        {"out", "DIR", CLI_STRING, &o.out, "build/ch06", .help = "the run's folder"},
    };
    CliProgram prog = {
        "ch06",
        "Sparse gradients and optimizers: trains chapter 2's model with each,\n"
        "measures SparseAdam's late rows, memory, Zipf skew and the dense/sparse\n"
        "crossover, and writes TSV files.",
        options,
        CLI_COUNT(options),
        &o.out,
        run,
        &o};
    return cli_main(&prog, argc, argv);
}

#endif  // EMB_LIBRARY

/**
## Running it

`make chapter6` runs the program in a second or two. The conformance
runner checks the chapter against PyTorch: every case of
`tests/reference/sparse.ref` and the sparse cases of `model.ref` pass,
the weights after every sparse SGD, Adagrad and SparseAdam step **bit
for bit**, the uncoalesced indices and values of every gradient exactly.
The cases include runs with 25 to 40 lookups of 9 rows per step, so
that coalescing sorts with quicksort and the order of the repeated sums
matters, a step that looks up only the padding row (a gradient with no
entries), and gradients accumulated without `zero_grad`.

### The two gradients

The chapter's first figure comes from this run. The batch looks up rows
3, 7, 3, 0, 11, 7, 3, 5 of a 12-row table. The sparse gradient has
{{grad.nnz}} entries, one per lookup, row 3 three times; the dense one
has 12 rows, of which 7 are zero. Adding the entries into a zero matrix
gives the dense gradient with a largest difference of {{grad.max_diff}}:
the same linear map of the upstream gradient, stored two ways.

### Which rows move

![Top: rows moved per step by each run (every tenth step), against the
rows looked up (grey). Bottom: the entries in sparse SGD's momentum
buffer.](fig-touched.png)

Chapter 2's model with $D = 8$, trained for 1000 steps with batches of 32
positions, looks up {{train.looked}} of its 29 rows per step on average.
In the figure's top panel the runs that move only those rows lie on the
grey line; sparse SGD with momentum, dense Adam and SparseAdam with
global decay run along the top.
Sparse SGD, sparse Adagrad and SparseAdam move exactly those rows
({{train.sgd.moved}}, {{train.adagrad.moved}} and
{{train.sparseadam.moved}} per step): lazy updates keep their promise.
Dense Adam moves {{train.dense_adam.moved}}, every row ever looked up.
Sparse SGD with momentum moves {{train.sgd_momentum.moved}} as well: its
sparse buffer carries every row it has seen, and it grew from
{{train.buffer_first}} entries after the first step to
{{train.buffer_last}} after the last, about {{train.buffer_per_step}}
entries per step (the merge adds two entries into one only when equal
rows meet at the same moment), so by the end each step applied
{{train.buffer_ratio}} times as many entries as the batch has.
Sparse momentum is not lazy, and its cost grows without bound.

Dense and sparse SGD take the same steps, summed in a different order:
after 1000 steps their tables differ by at most
{{train.sgd_dense_sparse_diff}}, and both reach a loss of
{{train.sgd.loss}}.

### SparseAdam's late rows

![The first step of a row first seen at step $t$, in learning rates:
PyTorch's SparseAdam (one step count per parameter) and one count per
row.](fig-late.png)

A row first seen at step 1 moves by {{late.t1}} learning rates, as a
fresh Adam step does. A row first seen at step 10 moves by only
{{late.t10}}, at step 100 by {{late.t100}}, at step 1000 by
{{late.t1000}} and at step 10000 by {{late.t10000}}: the global bias
correction $\sqrt{1-\beta_2^t}/(1-\beta_1^t)$ first shrinks the step
(the $\beta_1$ correction fades faster than the $\beta_2$ one) and then
lets the uncorrected ratio $0.1/\sqrt{0.001} = 3.16$ through. In a
Zipf-distributed vocabulary most rows are first seen late, so most rows
start with a step of two to three learning rates. While a row's gradient
keeps its sign, its next few steps are larger still, because $m$ grows
faster than $\sqrt{v}$. With a count per row, every row's first step is
{{late.per_row}} learning rate, whenever it comes.

### Beyond PyTorch: per-row counts and lazy decay

The last four runs use SparseAdam, on the same model and batches: first
PyTorch's, then three variants that are **not** PyTorch's, turned on by
`SparseExtras`.

* PyTorch's: a loss of {{train.sparseadam.loss}},
  {{train.sparseadam.moved}} rows moved per step, a mean norm of
  {{train.sparseadam.rare_norm}} for the 5 rarest rows and
  {{train.sparseadam.common_norm}} for the 5 commonest;
* a count per row: {{train.sparseadam_row_steps.loss}},
  {{train.sparseadam_row_steps.moved}} rows,
  {{train.sparseadam_row_steps.rare_norm}} and
  {{train.sparseadam_row_steps.common_norm}};
* lazy decoupled decay of 0.1: {{train.sparseadam_lazy_decay.loss}},
  {{train.sparseadam_lazy_decay.moved}} rows,
  {{train.sparseadam_lazy_decay.rare_norm}} and
  {{train.sparseadam_lazy_decay.common_norm}};
* global decoupled decay of 0.1: {{train.sparseadam_global_decay.loss}},
  {{train.sparseadam_global_decay.moved}} rows,
  {{train.sparseadam_global_decay.rare_norm}} and
  {{train.sparseadam_global_decay.common_norm}}.

A count per row tames the rare rows' oversized first steps: their norm
falls from {{train.sparseadam.rare_norm}} to
{{train.sparseadam_row_steps.rare_norm}}. Weight decay applied only to
the rows present (lazy) decays a row in proportion to how often it is
seen: here it shrinks the rare and the common rows by similar factors.
Applied to every row at every step (global), it hits the rare rows
hardest, to {{train.sparseadam_global_decay.rare_norm}}: they decay at
every step but are pulled back by a gradient only when they appear. It
also moves every row of the table at every step
({{train.sparseadam_global_decay.moved}} rows), which gives up the sparse
step's whole advantage. On this small model the loss
hardly changes; what changes is which rows the regularisation reaches.

### Memory

![Bytes of weight, gradient and optimizer state for one training step,
dense (dashed) and sparse (solid), as $V$ grows.](fig-memory.png)

With batches of 4096 lookups and $D = 64$, a table of $10^6$ rows needs
{{memory.v1e6.adam_gb}} GB under dense Adam and
{{memory.v1e6.sparse_adam_gb}} GB under SparseAdam: the sparse gradient
saves one table, not more, because SparseAdam's two moments are dense.
Sparse SGD needs {{memory.v1e6.sparse_sgd_gb}} GB against
{{memory.v1e6.sgd_gb}} GB, half, as its only other buffer was the
gradient. Three real tables follow; the last two give their numbers in
the order of the first (`memory.tsv` has every optimizer):

* BERT-base, 30522 x 768: {{memory.bert.adam_gb}} GB with dense Adam,
  {{memory.bert.sparse_adam_gb}} GB with SparseAdam; {{memory.bert.sgd_gb}}
  GB with dense SGD, {{memory.bert.sparse_sgd_gb}} GB with sparse SGD,
  {{memory.bert.sparse_adagrad_gb}} GB with sparse Adagrad;
* GPT-2, 50257 x 768: {{memory.gpt2.adam_gb}}, {{memory.gpt2.sparse_adam_gb}},
  {{memory.gpt2.sgd_gb}}, {{memory.gpt2.sparse_sgd_gb}} and
  {{memory.gpt2.sparse_adagrad_gb}} GB;
* a recommender table of $10^7$ x 64: {{memory.rec.adam_gb}},
  {{memory.rec.sparse_adam_gb}}, {{memory.rec.sgd_gb}},
  {{memory.rec.sparse_sgd_gb}} and {{memory.rec.sparse_adagrad_gb}} GB.

In every case SparseAdam saves about a quarter of dense Adam's memory:
one table, minus the batch's entries. That is little for BERT and GPT-2,
whose tables are small, and about 2.56 GB for the recommender table.
On the left of the figure the sparse lines lie *above* the dense ones: at
$V = 10^3$ the batch's 4096 entries of $8 + 4 \cdot 64$ bytes take more
room than the whole $(V, D)$ gradient of $4VD$ bytes. The sparse
gradient is the smaller one only from $V = 4096 \cdot 264 / 256 = 4224$
rows on.

### Skew

![Distinct rows in a batch of 4096 lookups, uniform and Zipf(1.1), as
$V$ grows; the dashed line is the uniform batch's expected count.](fig-skew.png)

A uniform batch of 4096 lookups in $10^6$ rows touches
{{skew.v1000000.uniform}} distinct rows, nearly all different; a Zipf(1.1)
batch touches only {{skew.v1000000.zipf}}, because the most common row
alone is {{skew.top1_share}}% of all lookups. At $V = 10^3$ the numbers
are {{skew.v1000.uniform}} and {{skew.v1000.zipf}}. For a row of rank $r$
the chance to be in a batch is $1 - (1 - p_r)^N$: at $V = 10^6$ the
rows of rank 1 and 100 are in nearly every batch, the row of rank $10^4$
in one batch of {{skew.rank10000.gap}}, the last row in one of
{{skew.rank1000000.gap}}. For a lazy optimizer that means most rows are
updated rarely, with moments that are thousands of steps old when they
are read, and (with PyTorch's global count) with the late-row step size
above at nearly every update.

### When dense wins

![The time of one step against the batch size $N$, as lookups per row of
the table: dense steps (dashed) and sparse steps (solid).](fig-crossover.png)

A dense step costs about the same for any small batch; a sparse step's
cost grows in proportion to the batch. The crossover, timed in this run
on a table of $16384 \times 64$ with batches doubling from 16 and read
off where the two lines cross between two sizes: the sparse step is no
longer faster once a batch holds about {{cross.sgd}} lookups per row of
the table for SGD, and {{cross.adam}} for Adam. The sparse SGD step does the batch's work
twice (copy the entries, apply them); the dense one clears and walks the
whole table, so sparse SGD keeps winning until the batch is about as
large as the table, or larger. SparseAdam must first coalesce, which
sorts the batch, and then updates its rows one by one at scattered
addresses; dense Adam's loop walks the whole table in order, vectorised.
So SparseAdam loses earlier. Real batches touch a tiny share of a large
table, far to the left of both points.

### Speed at scale: `make bench`

![One training step against $V$ in the committed `make bench` run
(uniform indices): dense steps (dashed, up to $10^6$ rows), sparse steps
(solid), and the sparse SGD step's floor (dotted).](fig-bench.png)

`make bench` times the steps where they matter: $D = 64$, batches of
$N = 4096$ lookups, $V$ from $10^3$ to $10^7$, uniform and Zipf(1.1)
indices, one thread, beside PyTorch 1.13 on one thread. The two take
turns case by case on this book's two-core machine
(`tests/bench/ch06.c` says exactly what each column times). The
numbers here are from the committed run, `tests/bench/values.tsv`; the
figure is drawn from its tables. In the figure the dense lines climb
steeply with $V$ while the sparse ones stay nearly flat. At $10^3$ rows
a batch of 4096 is four lookups per row, past the crossover, and the C
dense SGD step ({{bench:ch06.dense.v1000.sgd_ms}} ms) beats the sparse one
({{bench:ch06.uniform.v1000.sgd_ms}} ms).

Each sparse step is measured against its *floor*: the memory work it
cannot avoid, done with the step's own techniques (the huge-page table,
rows asked for ahead). For SGD the floor gathers the batch's $N$ rows,
then adds $-\eta G$'s rows into theirs. For SparseAdam it updates the
weight and both moments of each *distinct* row from its summed gradient;
the distinct rows and their sums are made before the clock starts, so
sorting and coalescing count as the step's own overhead. A step that
costs "2 floors" takes twice as long as its floor.

* **Dense steps grow with $V$, sparse ones much less.** At $10^6$ rows a
  dense SGD step took {{bench:ch06.dense.v1000000.sgd_ms}} ms in C and
  {{bench:ch06.dense.v1000000.torch_sgd_ms}} ms in PyTorch, dense Adam
  {{bench:ch06.dense.v1000000.adam_ms}} and
  {{bench:ch06.dense.v1000000.torch_adam_ms}} ms. The C sparse SGD step
  (lookup, sparse backward, update) took
  {{bench:ch06.uniform.v1000.sgd_ms}} ms at $10^3$ rows and
  {{bench:ch06.uniform.v10000000.sgd_ms}} ms at $10^7$:
  {{bench:ch06.uniform.sgd_flat}} times as long for $10^4$ times the rows.
  We had aimed for at most 3 times. With uniform indices the fused SGD
  step grew {{bench:ch06.uniform.fused_flat}} times, SparseAdam
  {{bench:ch06.uniform.adam_flat}} times and the fused SparseAdam
  {{bench:ch06.uniform.adam_fused_flat}} times; with Zipf indices, whose
  hot rows stay in cache, {{bench:ch06.zipf.sgd_flat}},
  {{bench:ch06.zipf.fused_flat}}, {{bench:ch06.zipf.adam_flat}} and
  {{bench:ch06.zipf.adam_fused_flat}}. What grows is the memory's cost,
  not the code's: the floor grows
  {{bench:ch06.uniform.sgd_floor_flat}} times over the same range with
  uniform indices, SparseAdam's {{bench:ch06.uniform.adam_floor_flat}}
  times. At $10^3$ rows the whole table sits in cache; at $10^7$ every
  row is a trip to memory. A step can only be flatter than its floor by
  wasting more time at small $V$, as the unfused SGD step does: it costs
  more floors at $10^3$ rows than at $10^7$. The two aims pull against
  each other: a step within 2 floors at $10^3$ rows (the goal of the next
  point) and
  no faster than its floor at $10^7$ grows at least
  {{bench:ch06.uniform.sgd_flat_least}} times (SGD) and
  {{bench:ch06.uniform.adam_flat_least}} times (SparseAdam), against the
  3 we aimed for.
* **Against the floor.** The C SGD step costs
  {{bench:ch06.uniform.v1000.sgd_floor}} floors at $10^3$ rows and
  {{bench:ch06.uniform.v10000000.sgd_floor}} at $10^7$, the fused one
  {{bench:ch06.uniform.v1000.fused_floor}} and
  {{bench:ch06.uniform.v10000000.fused_floor}}; SparseAdam
  {{bench:ch06.uniform.v1000.adam_floor}} and
  {{bench:ch06.uniform.v10000000.adam_floor}}, the fused SparseAdam
  {{bench:ch06.uniform.v1000.adam_fused_floor}} and
  {{bench:ch06.uniform.v10000000.adam_fused_floor}}. Of the
  {{bench:ch06.goal.floor_cells}} cells (four steps, two index streams,
  five sizes), {{bench:ch06.goal.floor_missed}} are beyond the 2 floors
  we aimed for. The worst are SparseAdam's at small $V$, where the sort
  in `std::sort`'s order, which the bits need, costs more than the whole
  update of a thousand rows. (A step and its floor are timed in separate
  calls, so on a busy machine a ratio can come out just under 1.)
* **Against PyTorch.** At $10^7$ rows the C sparse SGD step is
  {{bench:ch06.uniform.v10000000.sgd_speedup}} times as fast as PyTorch's
  ({{bench:ch06.uniform.v10000000.torch_sgd_ms}} ms), the fused one
  {{bench:ch06.uniform.v10000000.fused_speedup}} times; SparseAdam
  {{bench:ch06.uniform.v10000000.adam_speedup}} times as fast as
  `torch.optim.SparseAdam` ({{bench:ch06.uniform.v10000000.torch_adam_ms}}
  ms), the fused SparseAdam
  {{bench:ch06.uniform.v10000000.adam_fused_speedup}} times. At $10^3$
  rows the four factors are {{bench:ch06.uniform.v1000.sgd_speedup}},
  {{bench:ch06.uniform.v1000.fused_speedup}},
  {{bench:ch06.uniform.v1000.adam_speedup}} and
  {{bench:ch06.uniform.v1000.adam_fused_speedup}}. We had aimed for 5
  times (SGD) and 10 times (SparseAdam) at every size. Of the
  {{bench:ch06.goal.cells}} cells, the fused SGD step reaches 5 times
  in {{bench:ch06.goal.sgd_fused_met}} and the fused SparseAdam 10 times
  in {{bench:ch06.goal.adam_fused_met}}.
* **The ceiling.** The floor also says how far *any* step could go.
  PyTorch's time over the floor's time is the most a step that does the
  floor's memory work on one thread can gain over PyTorch: its ceiling.
  At $10^7$ rows it is {{bench:ch06.uniform.v10000000.sgd_ceiling}} for
  SGD and {{bench:ch06.uniform.v10000000.adam_ceiling}} for SparseAdam.
  The ceiling itself is under the goal in
  {{bench:ch06.goal.sgd_capped}} of the {{bench:ch06.goal.cells}} SGD
  cells and {{bench:ch06.goal.adam_capped}} of the SparseAdam cells; there
  the goal cannot be met on this machine by a faster loop, because
  PyTorch's sparse steps are memory-bound too and leave too little above
  the floor. Where the ceiling is high, SparseAdam at small $V$
  ({{bench:ch06.uniform.v1000.adam_ceiling}} at $10^3$ rows), the gap is
  the coalescing sort. A stable radix sort of the same batches (the
  bench's `sort-radix`) is {{bench:ch06.uniform.v1000.radix_speedup}}
  times as fast as our sort in `std::sort`'s order at $10^3$ rows, but
  it adds a row's repeats in another order, and its sums would not be
  PyTorch's bits.
* **The lookup.** With huge pages and prefetching, chapter 1's lookup at
  $10^7$ rows is {{bench:ch06.uniform.v10000000.huge_speedup}} times as
  fast as the plain one and
  {{bench:ch06.uniform.v10000000.lookup_speedup}} times as fast as
  `F.embedding`; at $10^6$ rows
  {{bench:ch06.uniform.v1000000.lookup_speedup}} times. Taken apart at
  $10^7$ rows: huge pages alone gave
  {{bench:ch06.uniform.v10000000.thp_only_speedup}} times, prefetching on
  top of them {{bench:ch06.uniform.v10000000.prefetch_speedup}} times more.
  Sorting the batch first did not pay at any size
  ({{bench:ch06.uniform.v10000000.sorted_speedup}} times the speed at
  $10^7$ rows, {{bench:ch06.uniform.v1000.sorted_speedup}} at $10^3$):
  sorting 4096 indices costs more than the cache misses it saves, when
  each row is read once anyway.
* **Threads.** Splitting the update by rows over 2 threads made the step
  slower, both with threads started at every step
  ({{bench:ch06.uniform.v10000000.sgd_2t_speedup}} times the speed of one
  thread at $10^7$ rows) and on a pool of threads started once
  ({{bench:ch06.uniform.v10000000.sgd_pool_speedup}} times). The lookup
  has just brought the batch's rows into the caches of the core that ran
  it, so the update there is cheap; a second core must first fetch its
  half of the rows from those caches, every thread reads the whole entry
  list to find its rows, and handing a job over costs a wake-up. A step's
  4096 rows are too little work to pay for that. The split is race-free
  and keeps the bits, as the tests check; it can pay only where the
  update itself misses the caches, with batches far larger than this one.

## What PyTorch does

* `nn.Embedding(sparse=True)`'s gradient is an uncoalesced COO tensor;
  `optimizer.zero_grad()` (1.13: `set_to_none=False`) leaves it with no
  entries; a second backward pass adds the new entries with PyTorch's
  sparse `add`, which merges the two lists (our `emb_backward_sparse`
  does the same merge). That is what torch 1.13 does when the new
  upstream gradient is an ordinary tensor, as when a layer follows the
  lookup (the reference cases). After `out.sum().backward()`, whose
  upstream gradient is one value broadcast, it appends the new list to
  the old one instead; we do not model that case.
* Only SGD (without weight decay), Adagrad (without weight decay) and
  SparseAdam accept sparse gradients; every other combination is refused
  with the messages above. SparseAdam takes no `weight_decay` at all.
* A model with a sparse table and dense layers needs two optimizers in
  PyTorch when one of them is SparseAdam (SparseAdam for the table, Adam
  for the rest); the program does exactly that.
* The bits depend on details PyTorch does not document: `std::sort`'s
  order in `coalesce`, SGD's entry-by-entry `axpy` and its fused
  multiply-add (the BLAS `axpy` of this machine's torch build fuses).
  A build of torch with a different BLAS could round differently.
* Where we differ: on a refused combination we change nothing, where
  PyTorch's SGD may already have updated the parameters listed before
  the sparse one. And we refuse a sparse gradient after dense momentum
  steps, which PyTorch accepts.

## Summary

* A sparse gradient is the list of (row, values) pairs of a lookup,
  padding positions dropped and repeats kept: the same linear map as the
  dense scatter-add, in $N(8 + 4D)$ bytes instead of $4VD$.
* Coalescing sums the repeats; bit-exactness with PyTorch needs the
  order `std::sort` leaves them in.
* Sparse SGD applies each entry in turn; with momentum its sparse buffer
  keeps every row it has seen and grows at every step.
* Sparse Adagrad and SparseAdam update only the rows present, but keep
  dense state. SparseAdam's single step count makes a late row's first
  step up to about three learning rates long.
* A tied table's gradient is dense whatever `sparse` says.
* Sparse saves the gradient, not the state; it wins while a batch touches
  a small share of the table, which skewed real data makes even smaller.
* At large $V$ a sparse step is bound by memory: huge pages and
  prefetching help, and a floor timed beside the step shows how much any
  implementation could still gain.

## Exercises

1. Write `sparse_coalesce` (the lab grades it with this chapter's
   tests). Why does a stable sort give different bits from PyTorch, and
   on which inputs does it not matter?
2. Write `sparse_adam_row`. Then work out by hand the first step of a row
   first seen at step $t$ and compare with `late.tsv`.
3. For sparse SGD with momentum 0.9, estimate how many entries the buffer
   holds after 10000 steps of batches of 4096, and how much memory that
   is at $D = 64$.
4. Change `experiment_crossover` to Zipf(1.1) indices. Where is the
   crossover now, and why?
5. Add a count per row to sparse Adagrad. Does Adagrad need one?
6. Run `build/bin/ch06 --skew-max-v 10000000`. How many distinct rows
   does a Zipf batch touch at $V = 10^7$?
*/
