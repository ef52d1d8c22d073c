# notebooks/notebooks.mk - lab notebooks and graded exercises.
#
# Included by the top-level Makefile after docs/book.mk. See notebooks/README.md
# for the notebook format and how grading works, docs/TEACHING.md for teachers.
#
#   make notebookN                 execute notebook N: build/book/notebooks/NN-name.html
#   make notebooks                 execute every notebook (make test does too)
#   make exerciseN                 grade chapter N's exercises, notebooks/exercises/exNN-*.c
#   make exerciseN EXERCISE=F.c    grade a student's copy F.c instead
#   make exercises-check           every exercise: the skeleton fails its chapter's
#                                  tests, the book's function and the model answer
#                                  (notebooks/answers/) pass them, planted and wrong
#                                  answers (notebooks/wrong/) lose marks
#   make grade-class DIR=D         grade every student folder under D into one CSV
#
# A notebook notebooks/NN-name.md has its chapter's name (chapters/NN-name.c).
# Its cells run in build/notebooks/NN/ (emptied first); its page and figures go
# to build/book/notebooks/NN-name.html and build/book/notebooks/NN/. `make docs`
# builds the pages when they are out of date; `make notebookN`, `make notebooks`
# and `make test` always execute them.
#
# What it uses from the Makefile: BUILD, CC, CFLAGS, LDLIBS, CHECK_LIBS,
# SANITIZE, LIB, ASAN_LIB, PROGRAMS, ASAN_PROGRAMS, CHAPTER_SOURCES, GNUPLOT,
# and from docs/book.mk: PANDOC, BOOK_SRC, BOOK_DIR, BOOK_TOOLS, BOOK_PANDOC_HTML.

NOTEBOOK_SOURCES := $(sort $(wildcard notebooks/[0-9][0-9]-*.md))
NOTEBOOK_PAGES   := $(NOTEBOOK_SOURCES:notebooks/%.md=$(BOOK_DIR)/notebooks/%.html)
NOTEBOOK_TOOLS   := notebooks/execute.lua notebooks/run-cell notebooks/notebooks.mk $(BOOK_TOOLS)
EXERCISE_SOURCES := $(sort $(wildcard notebooks/exercises/ex[0-9][0-9]-*.c))
EXERCISE_NUMS    := $(sort $(foreach e,$(EXERCISE_SOURCES),$(patsubst 0%,%,$(patsubst ex%,%,$(word 1,$(subst -, ,$(notdir $(e))))))))

# C cells are compiled like the book, minus the dependency files.
NOTEBOOK_CFLAGS = $(filter-out -MMD -MP,$(CFLAGS))

# `make notebookN`, `make notebooks` and `make test` execute a notebook even
# when its page is up to date; `make docs` only rebuilds out-of-date pages.
# (Forcing the page's own rule, rather than a second rule that writes the same
# page, keeps `make -j notebooks docs` safe.)
NOTEBOOK_FORCE := $(if $(filter notebook% test,$(MAKECMDGOALS)),FORCE)

# $(1) = notebooks/NN-name.md
nb_name = $(basename $(notdir $(1)))
nb_nn   = $(firstword $(subst -, ,$(call nb_name,$(1))))
# The chapter after chapters/NN-name.c, or nothing: pairs "chapter@next".
nb_pairs := $(join $(CHAPTER_SOURCES),$(addprefix @,$(wordlist 2,999,$(CHAPTER_SOURCES)) NONE))
nb_after = $(filter-out NONE,$(patsubst $(1)@%,%,$(filter $(1)@%,$(nb_pairs))))

# $(1) = N, $(2) = NN-name (the notebook's and its chapter's name), $(3) = NN
define NOTEBOOK_RULES
$(if $(wildcard chapters/$(2).c),,$(error notebooks/$(2).md: a notebook takes its chapter's name, and there is no chapters/$(2).c))

$(BOOK_DIR)/notebooks/$(2).html: notebooks/$(2).md $(NOTEBOOK_TOOLS) $(LIB) $(PROGRAMS) $(NOTEBOOK_FORCE) | $(BOOK_DIR)/book.css $(BOOK_DIR)/index.html
	@rm -rf $$@ $(BUILD)/notebooks/$(3) $(BOOK_DIR)/notebooks/$(3)
	@mkdir -p $(BUILD)/notebooks/$(3) $(BOOK_DIR)/notebooks/$(3)
	@NOTEBOOK_ROOT='$(CURDIR)' NOTEBOOK_WORK='$(abspath $(BUILD)/notebooks/$(3))' \
	  NOTEBOOK_FIGS='$(abspath $(BOOK_DIR)/notebooks/$(3))' NOTEBOOK_FIG_HREF='$(3)/' \
	  NOTEBOOK_BIN='$(abspath $(BUILD)/bin)' NOTEBOOK_CC='$(CC)' NOTEBOOK_CFLAGS='$(NOTEBOOK_CFLAGS)' \
	  NOTEBOOK_LIB='$(abspath $(LIB))' NOTEBOOK_LDLIBS='$(LDLIBS)' NOTEBOOK_GNUPLOT='$(GNUPLOT)' \
	  $(PANDOC) --from markdown --to html5 --standalone \
	    --template $(BOOK_SRC)/template.html --metadata-file $(BOOK_SRC)/book.yaml \
	    --lua-filter notebooks/execute.lua --lua-filter $(BOOK_SRC)/reader.lua \
	    --lua-filter $(BOOK_SRC)/book.lua \
	    --css ../book.css --mathml --highlight-style $(BOOK_SRC)/book.theme \
	    -M root=../ -M chapter-source=chapters/$(2).c \
	    $$(if $$(call nb_after,chapters/$(2).c),-M next-source=$$(call nb_after,chapters/$(2).c)) \
	    -M figure-root=$(BOOK_DIR)/notebooks -M strict-figures=true \
	    notebooks/$(2).md -o $$@.tmp
	@mv $$@.tmp $$@
	@# A failed cell: the page is kept, dated 1970 so that the next make runs
	@# the notebook again, and the run fails.
	@if [ -f $(BUILD)/notebooks/$(3)/FAILED ]; then touch -t 197001020000 $$@; \
	  echo "Page, with the failed cell marked: $$@" >&2; exit 1; fi

## notebookN: execute lab notebook N (its cells run, its page is built: build/book/notebooks/NN-name.html)
# With the pages it links to (its chapter, the next chapter, the teachers'
# page and the front page), so that its links work without `make docs`.
notebook$(1): $(BOOK_DIR)/notebooks/$(2).html $(BOOK_DIR)/$(2).html $(BOOK_DIR)/teaching.html \
    $$(if $$(call nb_after,chapters/$(2).c),$(BOOK_DIR)/$$(basename $$(notdir $$(call nb_after,chapters/$(2).c))).html) FORCE
	@echo "Page: $(BOOK_DIR)/notebooks/$(2).html"
endef

$(foreach s,$(NOTEBOOK_SOURCES),$(eval $(call NOTEBOOK_RULES,$(patsubst 0%,%,$(call nb_nn,$(s))),$(call nb_name,$(s)),$(call nb_nn,$(s)))))

# A page whose notebook failed is kept (make would delete it).
.PRECIOUS: $(NOTEBOOK_PAGES)

## notebooks: execute every lab notebook (make test does too)
notebooks: $(NOTEBOOK_PAGES) FORCE
	@echo "Notebooks: $(words $(NOTEBOOK_PAGES)) executed, every cell passed"

# The front page lists the notebooks and links the teachers' page.
$(BOOK_DIR)/index.html: BOOK_PANDOC_HTML += --lua-filter notebooks/list.lua -M notebook-pages="$(NOTEBOOK_SOURCES)"
$(BOOK_DIR)/index.html: $(NOTEBOOK_SOURCES) notebooks/list.lua

# The numbers it quotes from gradings are in notebooks/grading-facts.tsv
# (make grading-facts), put in by notebooks/facts.lua.
$(BOOK_DIR)/teaching.html: $(BOOK_SRC)/TEACHING.md $(BOOK_TOOLS) notebooks/facts.lua notebooks/grading-facts.tsv | $(BOOK_DIR)/book.css $(BOOK_DIR)/index.html
	@mkdir -p $(BOOK_DIR)
	$(BOOK_PANDOC_HTML) --lua-filter notebooks/facts.lua -M facts=notebooks/grading-facts.tsv $< -o $@.tmp
	@mv $@.tmp $@

docs: $(NOTEBOOK_PAGES) $(BOOK_DIR)/teaching.html

# The EPUB and the printable book end with the teachers' page and the lab
# notebooks as run (docs/weave.lua reads a built page back).
# The teachers' page quotes grading facts there too.
BOOK_APPENDICES += $(BOOK_SRC)/TEACHING.md $(NOTEBOOK_PAGES)
BOOK_APPENDIX_DEPS += $(BOOK_SRC)/TEACHING.md $(NOTEBOOK_PAGES) notebooks/facts.lua \
                      notebooks/grading-facts.tsv
BOOK_APPENDIX_FILTERS += --lua-filter notebooks/facts.lua -M facts=notebooks/grading-facts.tsv
$(BOOK_EPUB): $(BOOK_APPENDIX_DEPS)

# ---------------------------------------------------------------------------
# Exercises. notebooks/grade compiles the student's file, finds which of
# chapter N's functions it defines, weakens those symbols in a copy of the
# chapter's object (compiled with -fPIC, so that calls inside the chapter go
# through the symbol too), links chapter N's Check suite (with
# notebooks/grade-harness.c: a test passes only if it ran to its end) and
# program with the student's functions in place of the book's, runs the suite
# in a folder of its own for at most EXERCISE_TIME_LIMIT seconds, and prints
# "exerciseN FILE: P/T tests passed; failed: ...".
# Grading is under AddressSanitizer + LeakSanitizer + UBSan unless
# EXERCISE_ASAN=0.
# ---------------------------------------------------------------------------

EXERCISE ?=
EXERCISE_ASAN ?= 1
EXERCISE_TIME_LIMIT ?= 30
# 1: exercises-check fails when notebooks/grading-facts.tsv no longer matches
# the suites; make grading-facts sets 0 while it rewrites that file.
EX_FACTS_CHECK ?= 1
EX_SAN      := $(if $(filter-out 0 no,$(EXERCISE_ASAN)),1)
EX_OBJ      := $(if $(EX_SAN),$(BUILD)/asan/obj,$(BUILD)/obj)
EX_PIC      := $(BUILD)/exercise/pic$(if $(EX_SAN),-asan)
EX_LIB      := $(if $(EX_SAN),$(ASAN_LIB),$(LIB))
EX_PROGRAMS := $(if $(EX_SAN),$(ASAN_PROGRAMS),$(PROGRAMS))
EX_BIN      := $(if $(EX_SAN),$(BUILD)/asan/bin,$(BUILD)/bin)
EX_HARNESS  := $(BUILD)/exercise/grade-harness.o
EX_CFLAGS   = $(filter-out -MMD -MP,$(CFLAGS)) $(if $(EX_SAN),$(SANITIZE))

# Chapter objects with -fPIC: GCC then neither inlines a chapter's global
# function into its callers nor binds calls to it inside the file, so a
# weakened copy really hands every call to the student's function. And
# without FMA clones (-DEMB_NO_CLONES): a clone calls another function's
# clone for the same CPU directly, not through its symbol.
$(BUILD)/exercise/pic/lib/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -DEMB_NO_CLONES -DEMB_LIBRARY -c $< -o $@
$(BUILD)/exercise/pic/prog/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -DEMB_NO_CLONES -c $< -o $@
$(BUILD)/exercise/pic-asan/lib/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -fPIC -DEMB_NO_CLONES -DEMB_LIBRARY -c $< -o $@
$(BUILD)/exercise/pic-asan/prog/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -fPIC -DEMB_NO_CLONES -c $< -o $@
$(EX_HARNESS): notebooks/grade-harness.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

# $(1) = NN, $(2) = NN-name of the chapter
ex_inputs = $(EX_LIB) $(EX_OBJ)/tests/test_ch$(1).o $(EX_PROGRAMS) $(EX_PIC)/lib/$(2).o \
            $(EX_PIC)/prog/$(2).o $(EX_HARNESS) notebooks/grade
ex_grade  = CC='$(CC)' CFLAGS='$(EX_CFLAGS)' LDLIBS='$(LDLIBS)' CHECK_LIBS='$(CHECK_LIBS)' \
            EX_SANITIZE='$(EX_SAN)' EX_LIB='$(EX_LIB)' EX_OBJ='$(EX_OBJ)' EX_PIC='$(EX_PIC)' \
            EX_BIN='$(EX_BIN)' EX_HARNESS='$(EX_HARNESS)' EX_TIME_LIMIT='$(EXERCISE_TIME_LIMIT)' EX_FACTS_CHECK='$(EX_FACTS_CHECK)' \
            EX_WORK='$(BUILD)/exercise/$(if $(EX_SAN),asan,plain)' notebooks/grade

# $(1) = N, $(2) = NN, $(3) = NN-name of the chapter
define EXERCISE_RULES
$(if $(wildcard tests/test_ch$(2).c),,$(error notebooks/exercises/ex$(2)-*.c: chapter $(1) has no suite tests/test_ch$(2).c to grade it with))

## exerciseN: grade chapter N's exercises with its Check suite (EXERCISE=my.c grades your copy); one score line each
exercise$(1): $(call ex_inputs,$(2),$(3)) FORCE
	@$(ex_grade) $(1) $$(or $$(EXERCISE),$(filter notebooks/exercises/ex$(2)-%,$(EXERCISE_SOURCES)))

exercises-check-$(1): $(call ex_inputs,$(2),$(3)) FORCE
	@$(ex_grade) --check $(1) $(filter notebooks/exercises/ex$(2)-%,$(EXERCISE_SOURCES))
endef

$(foreach n,$(EXERCISE_NUMS),$(eval $(call EXERCISE_RULES,$(n),$(shell printf '%02d' $(n)),$(call chapter_name,$(n)))))

## exercises-check: every exercise: the skeleton fails, the book's function and the model answer pass, planted and wrong answers lose marks
exercises-check: $(EXERCISE_NUMS:%=exercises-check-%) FORCE
	@echo "Exercises: $(words $(EXERCISE_SOURCES)) checked"

# Every chapter that has a suite can grade a class's files.
GRADE_NUMS := $(foreach n,$(CHAPTER_NUMS),$(if $(wildcard tests/test_ch$(shell printf '%02d' $(n)).c),$(n)))
DIR ?=
CSV ?= $(BUILD)/grades.csv

## grade-class: grade every exNN-*.c in every student folder under DIR (DIR=submissions); writes CSV (build/grades.csv) and prints a table
grade-class: $(foreach n,$(GRADE_NUMS),$(call ex_inputs,$(shell printf '%02d' $(n)),$(call chapter_name,$(n)))) FORCE
	@if [ -z "$(DIR)" ]; then echo "make grade-class DIR=folder: a folder with one folder per student" >&2; exit 2; fi
	@$(ex_grade) --class "$(DIR)" "$(CSV)"

## grade-class-demo: write a class of five (notebooks/demo-class) to build/class-demo and grade it
grade-class-demo: FORCE
	@notebooks/demo-class "$(BUILD)/class-demo/submissions"
	@$(MAKE) --no-print-directory grade-class DIR="$(BUILD)/class-demo/submissions" CSV="$(BUILD)/class-demo/grades.csv"

## grading-facts: grade every exercise and the demo class, and write the numbers the teachers' page quotes (notebooks/grading-facts.tsv)
grading-facts: FORCE
	@$(MAKE) --no-print-directory exercises-check EXERCISE_ASAN=1 EX_FACTS_CHECK=0
	@$(MAKE) --no-print-directory grade-class-demo EXERCISE_ASAN=1
	@{ cat $(BUILD)/exercise/asan/facts/*.tsv $(BUILD)/exercise/asan/class-facts.tsv | sort -u; } > notebooks/grading-facts.tsv.tmp
	@mv notebooks/grading-facts.tsv.tmp notebooks/grading-facts.tsv
	@# The Markdown source shows the same numbers as the page: [N]{.fact key=K}.
	@while IFS=$$'\t' read -r key value; do \
	  sed -i -E "s|\[[^]]*\]\{\.fact key=$$key\}|[$$value]{.fact key=$$key}|g" $(BOOK_SRC)/TEACHING.md; \
	done < notebooks/grading-facts.tsv
	@echo "Wrote notebooks/grading-facts.tsv (and its numbers into $(BOOK_SRC)/TEACHING.md's source):"; \
	  cat notebooks/grading-facts.tsv
