# tests/fuzz/fuzz.mk - `make fuzz`: libFuzzer on the reference-file reader and the runner.
#
# build/fuzz/fuzz_reffile is tests/fuzz/fuzz_reffile.c (which includes
# tests/conformance.c without its main) linked with the whole library, all
# built by clang with -fsanitize=fuzzer,address,undefined. Its seeds are the
# committed reference files cut into one case each (build/fuzz/seeds/); inputs
# it finds interesting are kept in build/fuzz/corpus/ for the next run, and a
# crashing input is saved as build/fuzz/crash-* (replay: build/fuzz/fuzz_reffile FILE).
#
#   make fuzz                      60 seconds on one core
#   make fuzz FUZZ_SECONDS=600     ten minutes
#   make fuzz FUZZ_JOBS=2          two processes side by side (logs: build/fuzz/fuzz-N.log)
#
# Needs clang with libFuzzer (Debian: clang-14 and libclang-rt-14-dev).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_MAX_LEN ?= 8192
FUZZ_DIR     := $(BUILD)/fuzz
# Warnings stay on but not fatal here: clang's set differs from gcc's, and the
# gcc build (make test) is the one that enforces -Werror.
FUZZ_CFLAGS  := -std=c11 -g -O1 $(filter-out -Werror,$(WARN)) -ffp-contract=off \
                -D_POSIX_C_SOURCE=200809L -MMD -MP -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJS    := $(SUPPORT_SOURCES:src/%.c=$(FUZZ_DIR)/obj/src/%.o) \
                $(CHAPTER_SOURCES:chapters/%.c=$(FUZZ_DIR)/obj/lib/%.o)

## fuzz: libFuzzer on the reference-file reader and runner for FUZZ_SECONDS (default 60)
# It runs inside build/fuzz/, where libFuzzer also writes its fuzz-N.log files.
fuzz: $(FUZZ_DIR)/fuzz_reffile $(FUZZ_DIR)/seeds.stamp FORCE
	@mkdir -p $(FUZZ_DIR)/corpus
	cd $(FUZZ_DIR) && ./fuzz_reffile -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
	  -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
	  $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
	  -dict=$(CURDIR)/tests/fuzz/reffile.dict -artifact_prefix=./ corpus seeds

$(FUZZ_DIR)/fuzz_reffile: tests/fuzz/fuzz_reffile.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer tests/fuzz/fuzz_reffile.c $(FUZZ_OBJS) -o $@ $(LDLIBS)

$(FUZZ_DIR)/obj/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/obj/lib/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DEMB_LIBRARY -c $< -o $@

# One seed per case: each file's header lines, then one case.
$(FUZZ_DIR)/seeds.stamp: $(REFERENCE_FILES)
	@rm -rf $(FUZZ_DIR)/seeds && mkdir -p $(FUZZ_DIR)/seeds
	@for f in $(REFERENCE_FILES); do \
	  awk -v out="$(FUZZ_DIR)/seeds/$$(basename $$f .ref)" ' \
	    /^case / { n++; file = out "-" n ".ref"; printf "%s%s", head, gap > file; gap = "" } \
	    n == 0 { head = head $$0 "\n"; next } \
	    file == "" { gap = gap $$0 "\n"; next } \
	    { print > file } \
	    /^end/ { close(file); file = "" }' $$f; \
	done
	@echo "$(FUZZ_DIR)/seeds: $$(ls $(FUZZ_DIR)/seeds | wc -l) seed files"
	@touch $@
