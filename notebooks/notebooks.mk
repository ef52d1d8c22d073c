# notebooks/notebooks.mk - lab notebooks and graded exercises.
#
# Included by the top-level Makefile after docs/book.mk. See notebooks/README.md
# for the notebook format and how grading works, docs/TEACHING.md for teachers.
#
#   make notebookN                 execute notebook N: build/book/notebooks/NN-name.html
#   make notebooks                 execute every notebook (make test does too)
#   make exerciseN                 grade chapter N's exercises, notebooks/exercises/exNN-*.c
#   make exerciseN EXERCISE=F.c    grade a student's copy F.c instead
#   make exercises-check           every exercise both ways: the skeleton fails its
#                                  chapter's tests, the book's function (and the model
#                                  answer in notebooks/answers/) passes them
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
	@NOTEBOOK_ROOT='$(CURDIR)' NOTEBOOK_WORK='$(CURDIR)/$(BUILD)/notebooks/$(3)' \
	  NOTEBOOK_FIGS='$(CURDIR)/$(BOOK_DIR)/notebooks/$(3)' NOTEBOOK_FIG_HREF='$(3)/' \
	  NOTEBOOK_BIN='$(CURDIR)/$(BUILD)/bin' NOTEBOOK_CC='$(CC)' NOTEBOOK_CFLAGS='$(NOTEBOOK_CFLAGS)' \
	  NOTEBOOK_LIB='$(CURDIR)/$(LIB)' NOTEBOOK_LDLIBS='$(LDLIBS)' NOTEBOOK_GNUPLOT='$(GNUPLOT)' \
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

## notebookN: execute lab notebook N (its cells run, its page is built: build/book/notebooks/NN-name.html)
notebook$(1): $(BOOK_DIR)/notebooks/$(2).html FORCE
	@echo "Page: $(BOOK_DIR)/notebooks/$(2).html"
endef

$(foreach s,$(NOTEBOOK_SOURCES),$(eval $(call NOTEBOOK_RULES,$(patsubst 0%,%,$(call nb_nn,$(s))),$(call nb_name,$(s)),$(call nb_nn,$(s)))))

## notebooks: execute every lab notebook (make test does too)
notebooks: $(NOTEBOOK_PAGES) FORCE
	@echo "Notebooks: $(words $(NOTEBOOK_PAGES)) executed, every cell passed"

# The front page lists the notebooks and links the teachers' page.
$(BOOK_DIR)/index.html: BOOK_PANDOC_HTML += --lua-filter notebooks/list.lua -M notebook-pages="$(NOTEBOOK_SOURCES)"
$(BOOK_DIR)/index.html: $(NOTEBOOK_SOURCES) notebooks/list.lua

$(BOOK_DIR)/teaching.html: $(BOOK_SRC)/TEACHING.md $(BOOK_TOOLS) | $(BOOK_DIR)/book.css $(BOOK_DIR)/index.html
	@mkdir -p $(BOOK_DIR)
	$(BOOK_PANDOC_HTML) $< -o $@.tmp
	@mv $@.tmp $@

docs: $(NOTEBOOK_PAGES) $(BOOK_DIR)/teaching.html

# The EPUB and the printable book end with the teachers' page and the lab
# notebooks as run (docs/weave.lua reads a built page back).
BOOK_APPENDICES += $(BOOK_SRC)/TEACHING.md $(NOTEBOOK_PAGES)
$(BOOK_EPUB): $(BOOK_SRC)/TEACHING.md $(NOTEBOOK_PAGES)

# ---------------------------------------------------------------------------
# Exercises. notebooks/grade compiles the student's file, finds which of
# chapter N's functions it defines, weakens those symbols in a copy of the
# chapter's object (compiled with -fPIC, so that calls inside the chapter go
# through the symbol too), links chapter N's Check suite and program with the
# student's functions in place of the book's, runs the suite in a folder of
# its own, and prints "exerciseN FILE: P/T tests passed".
# EXERCISE_ASAN=1 grades under AddressSanitizer + UBSan.
# ---------------------------------------------------------------------------

EXERCISE ?=
EXERCISE_ASAN ?=
EX_OBJ      := $(if $(EXERCISE_ASAN),$(BUILD)/asan/obj,$(BUILD)/obj)
EX_PIC      := $(BUILD)/exercise/pic$(if $(EXERCISE_ASAN),-asan)
EX_LIB      := $(if $(EXERCISE_ASAN),$(ASAN_LIB),$(LIB))
EX_PROGRAMS := $(if $(EXERCISE_ASAN),$(ASAN_PROGRAMS),$(PROGRAMS))
EX_BIN      := $(if $(EXERCISE_ASAN),$(BUILD)/asan/bin,$(BUILD)/bin)
EX_CFLAGS   = $(filter-out -MMD -MP,$(CFLAGS)) $(if $(EXERCISE_ASAN),$(SANITIZE))

# Chapter objects with -fPIC: GCC then neither inlines a chapter's global
# function into its callers nor binds calls to it inside the file, so a
# weakened copy really hands every call to the student's function.
$(BUILD)/exercise/pic/lib/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -DEMB_LIBRARY -c $< -o $@
$(BUILD)/exercise/pic/prog/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@
$(BUILD)/exercise/pic-asan/lib/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -fPIC -DEMB_LIBRARY -c $< -o $@
$(BUILD)/exercise/pic-asan/prog/%.o: chapters/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -fPIC -c $< -o $@

# $(1) = N, $(2) = NN, $(3) = NN-name of the chapter
ex_inputs = $(EX_LIB) $(EX_OBJ)/tests/test_ch$(2).o $(EX_PROGRAMS) $(EX_PIC)/lib/$(3).o $(EX_PIC)/prog/$(3).o
ex_grade  = CC='$(CC)' CFLAGS='$(EX_CFLAGS)' LDLIBS='$(LDLIBS)' CHECK_LIBS='$(CHECK_LIBS)' \
            EX_LIB='$(EX_LIB)' EX_TEST='$(EX_OBJ)/tests/test_ch$(2).o' EX_BIN='$(EX_BIN)' \
            EX_PIC_LIB='$(EX_PIC)/lib/$(3).o' EX_PIC_PROG='$(EX_PIC)/prog/$(3).o' \
            EX_SUITE_SOURCE='tests/test_ch$(2).c' EX_WORK='$(BUILD)/exercise/$(2)$(if $(EXERCISE_ASAN),-asan)' \
            notebooks/grade

define EXERCISE_RULES
$(if $(wildcard tests/test_ch$(2).c),,$(error notebooks/exercises/ex$(2)-*.c: chapter $(1) has no suite tests/test_ch$(2).c to grade it with))

## exerciseN: grade chapter N's exercises with its Check suite (EXERCISE=my.c grades your copy); one score line each
exercise$(1): $(call ex_inputs,$(1),$(2),$(3)) FORCE
	@$(call ex_grade,$(1),$(2),$(3)) $(1) $$(or $$(EXERCISE),$(filter notebooks/exercises/ex$(2)-%,$(EXERCISE_SOURCES)))

exercises-check-$(1): $(call ex_inputs,$(1),$(2),$(3)) FORCE
	@$(call ex_grade,$(1),$(2),$(3)) --check $(1) $(filter notebooks/exercises/ex$(2)-%,$(EXERCISE_SOURCES))
endef

$(foreach n,$(EXERCISE_NUMS),$(eval $(call EXERCISE_RULES,$(n),$(shell printf '%02d' $(n)),$(call chapter_name,$(n)))))

## exercises-check: every exercise both ways: its skeleton fails the chapter's tests, the book's own function passes
exercises-check: $(EXERCISE_NUMS:%=exercises-check-%) FORCE
	@echo "Exercises: $(words $(EXERCISE_SOURCES)) checked both ways"
