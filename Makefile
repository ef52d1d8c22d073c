# How an Embedding Table Learns - the whole user interface.
#
#   make              the whole book: every chapter built, tested, run, drawn; the HTML book
#   make chapterN     one chapter: build, test, run, draw its figures, build its page
#   make test         every test suite, the conformance runner, and the sanitizer build
#   make help         this list
#
# Everything is built under build/ (git-ignored). See docs/ARCHITECTURE.md.

SHELL := /bin/bash
.DEFAULT_GOAL := all

CC      ?= gcc
PANDOC  ?= pandoc
GNUPLOT ?= gnuplot
BUILD   := build
export BUILD

# -O3 vectorises the book's elementwise loops (SGD, the scatter-add) without
# changing any result: without -ffast-math the compiler may not reorder
# floating-point arithmetic. -ffp-contract=off: it must not fuse a*b+c on its own; where the
# book wants a fused multiply-add (PyTorch's RNG, chapter 1) it calls fmaf().
# -fno-math-errno: the book never reads errno after a maths function, and
# without it GCC will not vectorise sqrtf (chapter 4's optimizers); results
# are the same bits.
WARN     := -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes -Wformat=2
CFLAGS   ?= -O3 -g
CFLAGS   += -std=c11 $(WARN) -ffp-contract=off -fno-math-errno -D_POSIX_C_SOURCE=200809L -MMD -MP
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
LDLIBS   := -lm -pthread

SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# One job per core unless the command line says otherwise (`make -j1` runs
# one at a time): a chapter's two halves compile side by side, its tests run
# beside its program, and `make chapter6` after an edit takes half the time.
# Every rule is safe under -j. Not with `clean` among the goals, which must
# not run beside the build it removes.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif

# ---------------------------------------------------------------------------
# The tools come first. Every goal except these needs a compiler, Check,
# gnuplot or pandoc, so tests/deps runs once, while make reads this file and
# before any rule runs (so also before any job of `make -j`): it installs
# what is missing on Debian as root or with password-less sudo, and
# otherwise stops the build here with the one `apt-get install` line.
# Recursive makes inherit EMB_DEPS_OK and do not check again.
# ---------------------------------------------------------------------------

# A goal that needs more than every build needs asks tests/deps for it by
# name: `make pdf` also needs Chromium and poppler-utils.
NO_TOOL_GOALS := help clean deps
DEPS_EXTRA := $(if $(filter pdf,$(MAKECMDGOALS)),pdf)
ifneq ($(filter-out $(NO_TOOL_GOALS),$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
ifneq ($(EMB_DEPS_OK),1$(DEPS_EXTRA))
ifneq ($(shell tests/deps $(DEPS_EXTRA) >&2 && echo ok),ok)
$(error the tools the book needs are missing (see the lines above); nothing was built)
endif
export EMB_DEPS_OK := 1$(DEPS_EXTRA)
endif
endif

# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------

CHAPTER_SOURCES := $(sort $(wildcard chapters/[0-9][0-9]-*.c))
CHAPTER_NAMES   := $(basename $(notdir $(CHAPTER_SOURCES)))       # 01-lookup-table ...
CHAPTER_NUMS    := $(foreach c,$(CHAPTER_NAMES),$(patsubst 0%,%,$(word 1,$(subst -, ,$(c)))))
SUPPORT_SOURCES := $(sort $(wildcard src/*.c))

# chapter_name N -> 01-lookup-table ; chapter_dir N -> build/ch01
chapter_name = $(filter $(shell printf '%02d' $(1))-%,$(CHAPTER_NAMES))
chapter_id   = $(shell printf 'ch%02d' $(1))

# ---------------------------------------------------------------------------
# The library: support code plus every chapter compiled without its main
# (-DEMB_LIBRARY). Later chapters, tests and tools link against it.
# ---------------------------------------------------------------------------

# $(1) = object folder, $(2) = extra flags, $(3) = folder of the chapter programs
define LIBRARY_RULES
$(1)/src/%.o: src/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) -c $$< -o $$@
$(1)/lib/%.o: chapters/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) -DEMB_LIBRARY -c $$< -o $$@
$(1)/prog/%.o: chapters/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) -c $$< -o $$@
$(1)/tests/%.o: tests/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) $$(CHECK_CFLAGS) -DBIN_DIR='"$(3)"' -c $$< -o $$@
$(1)/libbook.a: $(SUPPORT_SOURCES:src/%.c=$(1)/src/%.o) $(CHAPTER_NAMES:%=$(1)/lib/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
endef

# Tests that run a chapter's program find it in BIN_DIR: the sanitizer
# build of a suite runs the sanitizer build of the program.
$(eval $(call LIBRARY_RULES,$(BUILD)/obj,,$(BUILD)/bin))
$(eval $(call LIBRARY_RULES,$(BUILD)/asan/obj,$(SANITIZE),$(BUILD)/asan/bin))

LIB      := $(BUILD)/obj/libbook.a
ASAN_LIB := $(BUILD)/asan/obj/libbook.a

# A chapter's `// extends: NAME` tags (docs/ARCHITECTURE.md) must name a
# function an earlier chapter defines: a bad tag stops every build that
# needs the library. (Order-only: the check's stamp is not in the archive.)
$(BUILD)/stamps/extends.checked: $(CHAPTER_SOURCES) docs/chapter-diff.sh
	@mkdir -p $(@D)
	docs/chapter-diff.sh --check $(CHAPTER_SOURCES)
	@touch $@
$(LIB) $(ASAN_LIB): | $(BUILD)/stamps/extends.checked

# Test suites: every tests/test_*.c is one Check suite, linked with the library.
SUITE_SOURCES := $(sort $(wildcard tests/test_*.c))
SUITES        := $(SUITE_SOURCES:tests/%.c=%)
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@ $(CHECK_LIBS) $(LDLIBS)
$(BUILD)/asan/tests/%: $(BUILD)/asan/obj/tests/%.o $(ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) $^ -o $@ $(CHECK_LIBS) $(LDLIBS)

# ---------------------------------------------------------------------------
# Chapters. For chapter N (name NN-title, id chNN):
#   build/bin/chNN          the chapter's program
#   build/chNN/             its run: output.txt, TSV files, figures (PNG); a link
#                           to the run's folder under build/runs/
#   chapters/NN-*.gp        one gnuplot script per figure, drawing build/chNN/*.png
# Support suites (test_rng ...) are run with chapter 1, which they serve;
# test_programs, which runs every chapter's program, only by `make test`.
# ---------------------------------------------------------------------------

SUPPORT_SUITES := $(filter-out test_ch% test_programs,$(SUITES))

# What every chapter's figure scripts may load: the style, the trajectory
# figure and its label placement (chapters/*.gp and *.awk without a number).
FIGURE_SHARED := $(filter-out chapters/[0-9][0-9]-%,$(wildcard chapters/*.gp chapters/*.awk))

# $(1) = N, $(2) = NN-title, $(3) = chNN, $(4) = NN
define CHAPTER_RULES
$(BUILD)/bin/$(3): $(BUILD)/obj/prog/$(2).o $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$^ -o $$@ $$(LDLIBS)
$(BUILD)/asan/bin/$(3): $(BUILD)/asan/obj/prog/$(2).o $(ASAN_LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(SANITIZE) $$^ -o $$@ $$(LDLIBS)

CHAPTER_SUITES_$(1) := $(filter test_$(3),$(SUITES)) $(if $(filter 1,$(1)),$(SUPPORT_SUITES))

# The chapter's tests, run when a suite or the program changes; their
# summary lines are kept in the stamp and printed by `make chapterN`.
$(BUILD)/stamps/$(3).tested: $$(CHAPTER_SUITES_$(1):%=$(BUILD)/tests/%) $(BUILD)/bin/$(3)
	@mkdir -p $$(@D)
	@if tests/run-suites $$(CHAPTER_SUITES_$(1):%=$(BUILD)/tests/%) > $$@.tmp; \
	then mv $$@.tmp $$@; else cat $$@.tmp; rm -f $$@.tmp; exit 1; fi

# A run is a set: the program's output and the figures drawn from it are
# made in a fresh folder under $(BUILD)/runs/ (the program creates the
# folder whole, src/run_dir.h, so what it prints waits beside the folder and
# joins it after), and only then does the link $(BUILD)/$(3) move to it
# (a rename, so it is atomic). Killed at any moment,
# the link names the old run or the new one; folders of unfinished or
# replaced runs are removed by the next run.
# A program run by hand with its default --out replaces $(BUILD)/$(3), the
# link, by a folder of its own without figures: then the run is made again.
$(if $(shell [ -d $(BUILD)/$(3) ] && [ ! -L $(BUILD)/$(3) ] && echo by-hand),\
    $(shell rm -f $(BUILD)/stamps/$(3).figures))
$(BUILD)/stamps/$(3).figures: $(BUILD)/stamps/$(3).tested $(BUILD)/bin/$(3) \
        $(filter-out %-preview.gp,$(wildcard chapters/$(4)-*.gp)) $(FIGURE_SHARED)
	@set -e; mkdir -p $(BUILD)/runs $$(@D); \
	new=$(3)-$$$$$$$$; run=$(BUILD)/runs/$$$$new; \
	echo "$(BUILD)/bin/$(3) --out $$$$run"; \
	$(BUILD)/bin/$(3) --out $$$$run > $$$$run.txt; mv $$$$run.txt $$$$run/output.txt; \
	for gp in $(filter-out %-preview.gp,$(wildcard chapters/$(4)-*.gp)); do \
	  echo "$$(GNUPLOT) $$$$gp"; $$(GNUPLOT) -e "dir='$$$$run'" -c $$$$gp; \
	done; \
	if [ -d $(BUILD)/$(3) ] && [ ! -L $(BUILD)/$(3) ]; then rm -rf $(BUILD)/$(3); fi; \
	ln -s runs/$$$$new $(BUILD)/$(3).link; mv -T $(BUILD)/$(3).link $(BUILD)/$(3); \
	for old in $(BUILD)/runs/$(3)-*; do [ "$$$${old##*/}" = "$$$$new" ] || rm -rf "$$$$old"; done; \
	touch $$@

# make chapterN: build, test, run, draw, weave; then say where everything is.
# (No recursive make: the same steps are prerequisites of `make docs`, and
# one make process runs each of them once, however many jobs it has.)
chapter$(1): $(BUILD)/stamps/$(3).tested $(BUILD)/stamps/$(3).figures $(BUILD)/book/$(2).html FORCE
	@cat $(BUILD)/stamps/$(3).tested
	@cat $(BUILD)/$(3)/output.txt
	@if [ -f chapters/$(4)-preview.gp ]; then $$(GNUPLOT) -e "dir='$(BUILD)/$(3)'" -c chapters/$(4)-preview.gp; fi
	@echo "Program: $(BUILD)/bin/$(3) --help"
	@echo "Run data: $(BUILD)/$(3)/"
	@for f in $(BUILD)/$(3)/*.png $(BUILD)/$(3)/*.gif; do [ -f "$$$$f" ] && echo "Figure: $$$$f"; done; true
	@echo "Page: $(BUILD)/book/$(2).html"
endef

$(foreach n,$(CHAPTER_NUMS),$(eval $(call CHAPTER_RULES,$(n),$(call chapter_name,$(n)),$(call chapter_id,$(n)),$(shell printf '%02d' $(n)))))

CHAPTER_IDS := $(foreach n,$(CHAPTER_NUMS),$(call chapter_id,$(n)))
PROGRAMS    := $(CHAPTER_IDS:%=$(BUILD)/bin/%)
ASAN_PROGRAMS := $(CHAPTER_IDS:%=$(BUILD)/asan/bin/%)

# test_programs runs every chapter's program, so every program is built first.
$(BUILD)/tests/test_programs: | $(PROGRAMS)
$(BUILD)/asan/tests/test_programs: | $(ASAN_PROGRAMS)

# ---------------------------------------------------------------------------
# The whole book, the tests, and the rest of the interface
# ---------------------------------------------------------------------------

include docs/book.mk

REFERENCE_FILES := $(sort $(wildcard tests/reference/*.ref))

## all: the whole book: every chapter built, tested, run and drawn, then the HTML book and EPUB
all: $(CHAPTER_NUMS:%=chapter%) docs
	@echo
	@echo "Open the book: $(BUILD)/book/index.html"

## test: every Check suite, the PyTorch conformance runner, then all of it again under ASan+UBSan
test: $(PROGRAMS) $(ASAN_PROGRAMS) $(SUITES:%=$(BUILD)/tests/%) $(SUITES:%=$(BUILD)/asan/tests/%) $(BUILD)/conformance $(BUILD)/asan/conformance FORCE
	@rm -f $(BUILD)/test-tally
	@echo "== Check suites =="
	@tests/run-suites $(SUITES:%=$(BUILD)/tests/%)
	@echo "== PyTorch conformance =="
	@tests/run-suites --conformance $(BUILD)/conformance $(REFERENCE_FILES)
	@echo "== The same under AddressSanitizer + UndefinedBehaviorSanitizer =="
	@tests/run-suites $(SUITES:%=$(BUILD)/asan/tests/%)
	@tests/run-suites --conformance $(BUILD)/asan/conformance $(REFERENCE_FILES)
	@echo "== The first run on a machine without the tools =="
	@tests/run-suites --script tests/test-deps
	@echo "== What the pages do for their readers (docs/reader.lua, chapter links) =="
	@tests/run-suites --script tests/test-reader
	@echo "== Every line of the chapters within 90 characters; numbers from runs in the weave; extends: tags =="
	@tests/run-suites --script tests/line-length tests/weave-values tests/test-extends
	@echo "== Lab notebooks, every exercise, a class graded (notebooks/notebooks.mk) =="
	@$(MAKE) --no-print-directory notebooks exercises-check
	@tests/run-suites --script tests/test-grade-class
	@echo "== All tests =="
	@tests/run-suites --total

## conformance: check the book's numbers against every PyTorch reference file in tests/reference/
conformance: $(BUILD)/conformance FORCE
	$(BUILD)/conformance $(REFERENCE_FILES)

$(BUILD)/conformance: $(BUILD)/obj/tests/conformance.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/asan/conformance: $(BUILD)/asan/obj/tests/conformance.o $(ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) $^ -o $@ $(LDLIBS)

## experiment5: chapter 5's full experiments (tied vs untied on the fortunes, several seeds; tens of minutes); results into experiments/ch05/*/
experiment5: $(BUILD)/bin/ch05 FORCE
	@set -e; for exp in experiments/ch05/*/; do \
	  exp=$${exp%/}; run=$(BUILD)/experiment5/$${exp##*/}; mkdir -p $(BUILD)/experiment5; \
	  echo "$(BUILD)/bin/ch05 $$(cat $$exp/ARGS) --out $$run"; \
	  $(BUILD)/bin/ch05 $$(cat $$exp/ARGS) --out $$run > $$run.txt; mv $$run.txt $$run/output.txt; \
	  for f in values.tsv loss.tsv rows.tsv split.tsv memory.tsv output.txt; do \
	    cp $$run/$$f $$exp/$$f.tmp; done; \
	  for f in values.tsv loss.tsv rows.tsv split.tsv memory.tsv output.txt; do \
	    mv $$exp/$$f.tmp $$exp/$$f; done; \
	  cat $$exp/output.txt; echo "Results: $$exp/"; \
	done

## diffs: what each chapter adds: new names, earlier functions it uses, program-half share, code diffs of extending functions
diffs: FORCE
	@docs/chapter-diff.sh $(BUILD)/diffs $(CHAPTER_SOURCES)

include tests/bench/bench.mk
include tests/fuzz/fuzz.mk
include notebooks/notebooks.mk
include docs/pdf.mk

## clean: remove build/
clean: FORCE
	rm -rf $(BUILD)

## help: list the targets
help: FORCE
	@echo "Targets:"
	@echo "  chapterN         build chapter N, run its tests and its program, draw its figures, build its page (N = $(CHAPTER_NUMS))"
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed -E 's/^## ([a-zA-Z-]+): /\1\t/' | awk -F'\t' '{ printf "  %-16s %s\n", $$1, $$2 }'

## deps: check for the tools the book needs; install them on Debian/Ubuntu as root or with sudo
deps: FORCE
	@tests/deps

FORCE:

.PHONY: FORCE

.SECONDARY:
.DELETE_ON_ERROR:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
