# tests/bench/bench.mk - `make bench`: the book's speed measurements, C beside PyTorch.
#
# build/bench/bench is tests/bench/bench.c (the run), harness.c (the clock,
# PyTorch's process, index sets, progress, the values the prose quotes) and
# one file per chapter, chNN.c. It fills a (10^7, 64) table bit for bit as
# torch.manual_seed(0); nn.Embedding(10**7, 64) does, beside PyTorch doing it;
# times chapter 1's lookup for V = 10^3 .. 10^7 beside a memcpy ceiling and
# F.embedding, chapter 2's dense training step and chapter 4's dense Adam step
# beside their memory floors and PyTorch's, chapter 5's Adam step of the
# tied and the untied model beside PyTorch's, and chapter 6's sparse steps
# and fast lookup beside their floors and PyTorch's. When Debian's
# /usr/bin/python3 can import torch it runs tests/bench/bench_torch.py as a
# second process and the two take turns case by case. Progress goes to
# stderr, the tables to stdout and build/bench/*.tsv, and the numbers the
# book quotes to tests/bench/values.tsv, with the tables chapter 6's figure
# draws beside it (tests/bench/ch06-*.tsv); all committed: the prose
# inserts the numbers as {{bench:key}}. Only a full run (every chapter,
# PyTorch measured, V up to 10^7) rewrites them.
#
# Measured with /usr/bin/time -v make bench on a nearly idle 2-core AMD EPYC
# with 24 GiB (the run whose numbers are committed): 201 s in all (chapter 1
# 26 s, chapter 2 45 s, chapter 4 99 s, chapter 5 2 s, chapter 6 26 s).
# Memory: 15.5 GB in the largest process, PyTorch's, in chapter 4's dense
# Adam step at V = 10^7, while C holds its table and gradient (5.1 GB); the
# machine's used memory peaked at 21.1 GB (sampled every 0.5 s; about 0.6 GB
# of it in use before the run). tests/bench/README.md has the details.
# On a shared machine, run one such benchmark at a time (e.g. under flock).
#
# BENCH_OPTIONS adds options to the run: `make bench BENCH_OPTIONS="--chapters 6
# --vmax 100000"` measures chapter 6 alone at V up to 10^5 (about half a minute; it
# leaves the committed files alone); build/bench/bench --help lists them.
#
# Adding a chapter's measurements: see tests/bench/README.md. In short, write
# tests/bench/chNN.c defining `const BenchChapter bench_chNN`, declare it in
# harness.h, add it to CHAPTERS in bench.c and its requests to bench_torch.py.
# Every tests/bench/*.c is compiled here; nothing else needs registering.

BENCH_DIR     := $(BUILD)/bench
BENCH_SOURCES := $(sort $(wildcard tests/bench/*.c))
BENCH_OBJECTS := $(BENCH_SOURCES:tests/bench/%.c=$(BENCH_DIR)/obj/%.o)
BENCH_VALUES  ?= tests/bench/values.tsv

BENCH_OPTIONS ?=

## bench: fill the table, time chapter 1's lookup, chapter 2's dense step, chapter 4's dense Adam step, chapter 5's tied and untied steps and chapter 6's sparse steps beside their floors and PyTorch; writes tests/bench/values.tsv and ch06-*.tsv (BENCH_OPTIONS="--chapters 6 --vmax 100000": one chapter, small sizes)
bench: $(BENCH_DIR)/bench FORCE
	$(BENCH_DIR)/bench --dir $(BENCH_DIR) --torch tests/bench/bench_torch.py --values $(BENCH_VALUES) $(BENCH_OPTIONS)

$(BENCH_DIR)/bench: $(BENCH_OBJECTS) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BENCH_DIR)/obj/%.o: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
