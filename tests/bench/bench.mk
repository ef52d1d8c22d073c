# tests/bench/bench.mk - `make bench`: chapter 1's lookup, timed beside memcpy and PyTorch.
#
# build/bench/bench times emb_lookup for D = 64, N = 4096, V = 10^3 .. 10^7
# (uniform and Zipf(1.1) indices) and the one-hot product for small V. When
# Debian's /usr/bin/python3 can import torch, it runs tests/bench/bench_torch.py
# beside it on the same index files, the two taking turns case by case, and
# prints both in one table. Index files, outputs and lookup.tsv / onehot.tsv
# land in build/bench/. Under a minute on a 2-core machine, most of it spent
# filling the two (10^7, 64) tables; it needs about 5.5 GB of memory (a
# 2.56 GB table on each side).

BENCH_DIR := $(BUILD)/bench

## bench: time chapter 1's lookup beside memcpy and PyTorch's F.embedding, V = 10^3..10^7
bench: $(BENCH_DIR)/bench FORCE
	$(BENCH_DIR)/bench --dir $(BENCH_DIR) --torch tests/bench/bench_torch.py

$(BENCH_DIR)/bench: $(BENCH_DIR)/bench.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BENCH_DIR)/bench.o: tests/bench/bench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
