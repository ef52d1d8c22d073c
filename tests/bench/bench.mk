# tests/bench/bench.mk - `make bench`: chapter 1's lookup and chapter 2's dense training
# step, timed beside a memcpy ceiling / memory-bandwidth floor and PyTorch.
#
# build/bench/bench times emb_lookup for D = 64, N = 4096, V = 10^3 .. 10^7
# (uniform and Zipf(1.1) indices) and the one-hot product for small V; then a
# dense training step on the same table (zero_grad, lookup, backward scatter-add,
# SGD over the whole (V, D) weight) beside the bandwidth floor for the bytes it
# must move, measured in the same run. When Debian's /usr/bin/python3 can import
# torch, it runs tests/bench/bench_torch.py beside it on the same files (F.embedding;
# dense nn.Embedding + torch.optim.SGD), the two taking turns case by case, and
# prints both in one table. Index files, outputs and lookup.tsv / onehot.tsv /
# dense-step.tsv land in build/bench/. About a minute and a half on a 2-core
# machine; it needs about 13 GB of memory at its peak (a 2.56 GB table and its
# 2.56 GB gradient on each side, and PyTorch's backward builds a second one).

BENCH_DIR := $(BUILD)/bench

## bench: time chapter 1's lookup and chapter 2's dense step beside their floors and PyTorch, V = 10^3..10^7
bench: $(BENCH_DIR)/bench FORCE
	$(BENCH_DIR)/bench --dir $(BENCH_DIR) --torch tests/bench/bench_torch.py

$(BENCH_DIR)/bench: $(BENCH_DIR)/bench.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BENCH_DIR)/bench.o: tests/bench/bench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# Chapter 6: sparse steps and the fast lookup beside their floors and PyTorch
# (tests/bench/ch06/bench_ch06.c says what each column is; it is a program of
# its own, in a folder of its own, until it joins the per-chapter bench harness). About a minute and a
# half on the busy 2-core machine; 12.6 GB in all at its peak (C and PyTorch
# each hold a 2.56 GB table and SparseAdam's two moments). `make bench-ch06
# BENCH_CH06_VMAX=100000` runs the small sizes only.
BENCH_CH06_VMAX ?= 10000000

## bench-ch06: time chapter 6's sparse steps and fast lookup beside their floors and PyTorch
bench-ch06: $(BENCH_DIR)/bench_ch06 FORCE
	@mkdir -p $(BENCH_DIR)
	$(BENCH_DIR)/bench_ch06 --dir $(BENCH_DIR) --vmax $(BENCH_CH06_VMAX) --torch tests/bench/ch06/bench_ch06_torch.py
	@# Only a full run (V up to 10^7, PyTorch measured) replaces the committed results.
	@if [ "$(BENCH_CH06_VMAX)" = 10000000 ] && grep -q torch_sgd_ms $(BENCH_DIR)/ch06-values.tsv \
	    && ! grep -qi nan $(BENCH_DIR)/ch06-values.tsv; then \
	  cp $(BENCH_DIR)/ch06-steps.tsv $(BENCH_DIR)/ch06-dense.tsv tests/bench/; \
	  { grep -v '^ch06\.' tests/bench/values.tsv 2>/dev/null; cat $(BENCH_DIR)/ch06-values.tsv; } \
	    > tests/bench/values.tsv.tmp && mv tests/bench/values.tsv.tmp tests/bench/values.tsv; \
	  echo "tests/bench/ch06-*.tsv and the ch06 keys of tests/bench/values.tsv updated"; fi

bench: bench-ch06

$(BENCH_DIR)/bench_ch06: $(BENCH_DIR)/ch06/bench_ch06.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BENCH_DIR)/ch06/bench_ch06.o: tests/bench/ch06/bench_ch06.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
