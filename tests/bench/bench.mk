# tests/bench/bench.mk - `make bench`: the book's speed measurements, C beside PyTorch.
#
# build/bench/bench is tests/bench/bench.c (the run), harness.c (the clock,
# PyTorch's process, index sets, progress, the values the prose quotes) and
# one file per chapter, chNN.c. It fills a (10^7, 64) table bit for bit as
# torch.manual_seed(0); nn.Embedding(10**7, 64) does, beside PyTorch doing it;
# times chapter 1's lookup for V = 10^3 .. 10^7 beside a memcpy ceiling and
# F.embedding, chapter 2's dense training step and chapter 4's dense Adam step
# beside their memory floors and PyTorch's, and chapter 5's Adam step of the
# tied and the untied model beside PyTorch's. When Debian's /usr/bin/python3
# can import torch it runs
# tests/bench/bench_torch.py as a second process and the two take turns case
# by case. Progress goes to stderr, the tables to stdout and build/bench/*.tsv,
# and the numbers the book quotes to tests/bench/values.tsv (committed: the
# prose inserts them as {{bench:key}}).
#
# Peak memory is about 18 GB, in chapter 4's Adam step at V = 10^7: PyTorch's
# 2.56 GB table, its gradient, the second gradient its backward builds and two
# moments, beside C's table and gradient (each side frees its moments after its
# turn); chapters 1 and 2 peak near 13 GB. On a shared machine, run one such
# benchmark at a time (e.g. under flock). Chapter 4's PyTorch steps take seconds
# each at V = 10^7, so a whole run takes several minutes.
#
# Adding a chapter's measurements: see tests/bench/README.md. In short, write
# tests/bench/chNN.c defining `const BenchChapter bench_chNN`, declare it in
# harness.h, add it to CHAPTERS in bench.c and its requests to bench_torch.py.
# Every tests/bench/*.c is compiled here; nothing else needs registering.

BENCH_DIR     := $(BUILD)/bench
BENCH_SOURCES := $(sort $(wildcard tests/bench/*.c))
BENCH_OBJECTS := $(BENCH_SOURCES:tests/bench/%.c=$(BENCH_DIR)/obj/%.o)
BENCH_VALUES  ?= tests/bench/values.tsv

## bench: fill the table, time chapter 1's lookup, chapter 2's dense step, chapter 4's dense Adam step and chapter 5's tied and untied steps beside their floors and PyTorch, then chapter 6's sparse steps; writes tests/bench/values.tsv
bench: $(BENCH_DIR)/bench $(BENCH_DIR)/bench_ch06 FORCE
	$(BENCH_DIR)/bench --dir $(BENCH_DIR) --torch tests/bench/bench_torch.py --values $(BENCH_VALUES)
	$(BENCH_CH06_RUN)

$(BENCH_DIR)/bench: $(BENCH_OBJECTS) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BENCH_DIR)/obj/%.o: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# Chapter 6: sparse steps and the fast lookup beside their floors and PyTorch
# (tests/bench/ch06/bench_ch06.c says what each column is). It is a program
# of its own, in a folder of its own, until it joins the harness above; it
# runs after the harness, because the harness rewrites values.tsv, and then
# puts its own keys (ch06.*) back. About a minute and a half on the busy
# 2-core machine; 12.6 GB in all at its peak (C and PyTorch each hold a
# 2.56 GB table and SparseAdam's two moments). `make bench-ch06
# BENCH_CH06_VMAX=100000` runs the small sizes only and changes no
# committed file.
BENCH_CH06_VMAX ?= 10000000
define BENCH_CH06_RUN
@mkdir -p $(BENCH_DIR)
$(BENCH_DIR)/bench_ch06 --dir $(BENCH_DIR) --vmax $(BENCH_CH06_VMAX) \
    --torch tests/bench/ch06/bench_ch06_torch.py
@if [ "$(BENCH_CH06_VMAX)" = 10000000 ] && grep -q torch_sgd_ms $(BENCH_DIR)/ch06-values.tsv \
    && ! grep -qi nan $(BENCH_DIR)/ch06-values.tsv; then \
  cp $(BENCH_DIR)/ch06-steps.tsv $(BENCH_DIR)/ch06-dense.tsv tests/bench/; \
  { grep -v '^ch06\.' $(BENCH_VALUES) 2>/dev/null; cat $(BENCH_DIR)/ch06-values.tsv; } \
    > $(BENCH_VALUES).tmp && mv $(BENCH_VALUES).tmp $(BENCH_VALUES); \
  echo "tests/bench/ch06-*.tsv and the ch06 keys of $(BENCH_VALUES) updated"; fi
endef

## bench-ch06: chapter 6's part of make bench alone: sparse steps and the fast lookup beside their floors and PyTorch
bench-ch06: $(BENCH_DIR)/bench_ch06 FORCE
	$(BENCH_CH06_RUN)

$(BENCH_DIR)/bench_ch06: $(BENCH_DIR)/ch06/bench_ch06.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BENCH_DIR)/ch06/bench_ch06.o: tests/bench/ch06/bench_ch06.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
