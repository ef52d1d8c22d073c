# docs/book.mk - builds the book: one HTML page per chapter, a front page,
# a preface and an EPUB. The top-level Makefile includes this file:
#
#     CHAPTER_SOURCES := $(wildcard chapters/[0-9][0-9]-*.c)
#     include docs/book.mk
#
# What the includer provides
#   CHAPTER_SOURCES   the chapters, chapters/NN-name.c. Define it BEFORE the
#                     include: the per-page rules below are made from it when
#                     this file is read.
#   a rule for $(BOOK_BUILD)/stamps/chNN.figures per chapter, which runs the
#                     chapter's program (which writes $(BOOK_BUILD)/chNN/values.tsv,
#                     the numbers the prose quotes), draws its figures as
#                     $(BOOK_BUILD)/chNN/*.png and then touches the stamp. A
#                     chapter without figures still needs the stamp.
#
# What it may set (before the include, or on the command line; all have
# defaults; PANDOC and BOOK_STRICT may also be set after it)
#   PANDOC            pandoc 2.17 or later                  [pandoc]
#   BOOK_BUILD        the build folder        [$(BUILD) if set, else build]
#   BOOK_DIR          where the book goes                   [$(BOOK_BUILD)/book]
#   BOOK_STRICT       set to 1 to make a missing figure an error, not a warning
#
# Targets
#   docs                           every page, the EPUB; prints where the book is
#   $(BOOK_DIR)/index.html         front page: docs/index.md + contents
#   $(BOOK_DIR)/preface.html       docs/preface.md
#   $(BOOK_DIR)/NN-name.html       chapters/NN-name.c, woven by docs/weave.lua
#   $(BOOK_DIR)/appendix-changes.html  the diffs of the chapters' extending functions
#   $(BOOK_DIR)/book.epub          preface + every chapter + the appendix + $(BOOK_APPENDICES), figures inside
#   docs-clean                     removes $(BOOK_DIR)
# Variables it defines for the includer: BOOK_PAGES (every .html page),
# BOOK_EPUB, BOOK_CHAPTERS (CHAPTER_SOURCES, sorted), BOOK_CHANGES (the
# appendix's Markdown source, made under $(BOOK_BUILD)/appendix/).
#
# Figures. A chapter's prose names a figure relative to the chapter's figure
# folder, ![..](fig-loss.png); the weave rewrites that to ch02/fig-loss.png.
# A chapter page's rule copies $(BOOK_BUILD)/chNN/ (png, svg, gif, jpg) to
# $(BOOK_DIR)/chNN/, so the pages are plain files that link their CSS and
# images and work from file://. (--self-contained was not used: it would
# copy the CSS and every figure into every page, and one page is rebuilt
# when one chapter changes anyway.) The EPUB build finds the same paths with
# --resource-path=$(BOOK_BUILD) and embeds the images.
#
# Every output is written to a .tmp file and renamed, so a failed pandoc
# run never leaves a half-written page. The rules share no outputs, so
# `make -j` is safe.

# The folder this file is in (docs), so the fragment works from any Makefile.
BOOK_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# Keep the includer's default goal: nothing here should become `make`'s.
BOOK_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

PANDOC     ?= pandoc
BOOK_BUILD ?= $(if $(BUILD),$(BUILD),build)
BOOK_DIR   ?= $(BOOK_BUILD)/book
BOOK_STRICT ?=

ifeq ($(origin CHAPTER_SOURCES),undefined)
$(warning docs/book.mk: CHAPTER_SOURCES is not defined; define it before including book.mk)
endif

BOOK_CHAPTERS := $(sort $(CHAPTER_SOURCES))
BOOK_PREFACE  := $(BOOK_SRC)/preface.md
# The appendix of code changes, made from the chapters (see below).
BOOK_CHANGES  := $(BOOK_BUILD)/appendix/appendix-changes.md
# Every page's source, in reading order (the front page is not in it).
BOOK_PAGE_SOURCES := $(BOOK_PREFACE) $(BOOK_CHAPTERS) $(BOOK_CHANGES)

# $(call book_page,chapters/01-lookup-table.c) -> build/book/01-lookup-table.html
book_page = $(BOOK_DIR)/$(basename $(notdir $(1))).html
# $(call book_nn,01-lookup-table) -> 01
book_nn = $(firstword $(subst -, ,$(notdir $(1))))
# $(call book_stamp,chapters/01-lookup-table.c) -> build/stamps/ch01.figures
book_stamp = $(BOOK_BUILD)/stamps/ch$(call book_nn,$(1)).figures

BOOK_PAGES := $(BOOK_DIR)/index.html $(foreach s,$(BOOK_PAGE_SOURCES),$(call book_page,$(s)))
BOOK_EPUB  := $(BOOK_DIR)/book.epub

# What every page is made with.
BOOK_TOOLS := $(BOOK_SRC)/weave.lua $(BOOK_SRC)/book.lua $(BOOK_SRC)/reader.lua \
              $(BOOK_SRC)/template.html \
              $(BOOK_SRC)/book.css $(BOOK_SRC)/book.yaml $(BOOK_SRC)/book.theme \
              $(lastword $(MAKEFILE_LIST))

# The weave reads the numbers a chapter's prose quotes from the chapter's run
# ($(BOOK_BUILD)/chNN/values.tsv) and from tests/bench/values.tsv.
BOOK_BENCH_VALUES := $(wildcard tests/bench/values.tsv)

BOOK_PANDOC_HTML = EMB_VALUES_DIR=$(BOOK_BUILD) $(PANDOC) --from $(BOOK_SRC)/weave.lua --to html5 --standalone \
    --template $(BOOK_SRC)/template.html \
    --metadata-file $(BOOK_SRC)/book.yaml \
    --lua-filter $(BOOK_SRC)/reader.lua --lua-filter $(BOOK_SRC)/book.lua \
    --css book.css --mathml --highlight-style $(BOOK_SRC)/book.theme \
    -M figure-root=$(BOOK_DIR) $(if $(BOOK_STRICT),-M strict-figures=true)

# ---- Navigation -------------------------------------------------------------
# Each page gets prev/next from the sorted list: preface, 01, 02, ... The
# pages' titles are read from their sources by docs/book.lua, so a page also
# depends on its neighbours' sources (their titles are in its bars).

_book_prevs := NONE $(filter-out $(lastword $(BOOK_PAGE_SOURCES)),$(BOOK_PAGE_SOURCES))
_book_nexts := $(wordlist 2,$(words $(BOOK_PAGE_SOURCES)),$(BOOK_PAGE_SOURCES)) NONE
# "src@prev@next" triples
_book_triples := $(join $(join $(BOOK_PAGE_SOURCES),$(addprefix @,$(_book_prevs))),$(addprefix @,$(_book_nexts)))

# $(1) source, $(2) previous page's source or NONE, $(3) next page's or NONE
define book_page_rules
$(call book_page,$(1)): $(1) $(filter-out NONE,$(2) $(3))
$(call book_page,$(1)): BOOK_NAV := $(if $(filter-out NONE,$(2)),-M prev-source=$(2)) $(if $(filter-out NONE,$(3)),-M next-source=$(3))
endef
$(foreach t,$(_book_triples),$(eval $(call book_page_rules,$(word 1,$(subst @, ,$(t))),$(word 2,$(subst @, ,$(t))),$(word 3,$(subst @, ,$(t))))))

# A chapter page shows the chapter's header where the chapter includes it.
$(foreach c,$(BOOK_CHAPTERS),$(eval $(call book_page,$(c)): $(wildcard $(c:.c=.h))))

# A chapter page also waits for the chapter's figures, and is woven again
# when the numbers of its run or of the benchmarks change. values.tsv is made
# by the run that touches the stamp.
$(foreach c,$(BOOK_CHAPTERS),$(eval $(call book_page,$(c)): $(call book_stamp,$(c))))
$(foreach c,$(BOOK_CHAPTERS),$(eval $(call book_page,$(c)): \
    $(BOOK_BUILD)/ch$(call book_nn,$(c))/values.tsv $(BOOK_BENCH_VALUES) \
    $(wildcard experiments/ch$(call book_nn,$(c))/*/values.tsv)))
$(BOOK_BUILD)/ch%/values.tsv: $(BOOK_BUILD)/stamps/ch%.figures ;

# A page opened on its own (after `make chapter3`) needs its style sheet and
# the pages its bars link to that need no chapter run: a chapter page waits
# for the preface, the preface for the front page, the front page for the
# style sheet (order-only: they are not inputs of the page).
$(foreach c,$(BOOK_CHAPTERS),$(eval $(call book_page,$(c)): | $(call book_page,$(BOOK_PREFACE))))
$(call book_page,$(BOOK_PREFACE)): | $(BOOK_DIR)/index.html
$(BOOK_DIR)/index.html: | $(BOOK_DIR)/book.css

# "chapter N" in any page's prose links to chapter N once it exists
# (docs/weave.lua), so every page depends on the list of chapters. The list
# is rewritten only when it changes, so adding a chapter rebuilds every page
# and nothing else does.
BOOK_CHAPTER_LIST := $(BOOK_BUILD)/stamps/chapter-list
$(BOOK_CHAPTER_LIST): _book_chapter_list_check
	@mkdir -p $(@D)
	@echo '$(BOOK_CHAPTERS)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: _book_chapter_list_check
_book_chapter_list_check:

$(filter-out $(BOOK_DIR)/index.html,$(BOOK_PAGES)) $(BOOK_EPUB): $(BOOK_CHAPTER_LIST)

# ---- Pages ------------------------------------------------------------------

# A chapter page: copy the chapter's figures next to the page, then weave.
$(BOOK_DIR)/%.html: chapters/%.c $(BOOK_TOOLS)
	@mkdir -p $(BOOK_DIR)
	@rm -rf $(BOOK_DIR)/ch$(call book_nn,$*)
	@mkdir -p $(BOOK_DIR)/ch$(call book_nn,$*)
	@for f in $(BOOK_BUILD)/ch$(call book_nn,$*)/*.png $(BOOK_BUILD)/ch$(call book_nn,$*)/*.svg \
	          $(BOOK_BUILD)/ch$(call book_nn,$*)/*.gif $(BOOK_BUILD)/ch$(call book_nn,$*)/*.jpg; do \
	    if [ -f "$$f" ]; then cp "$$f" $(BOOK_DIR)/ch$(call book_nn,$*)/ || exit 1; fi; \
	done
	$(BOOK_PANDOC_HTML) $(BOOK_NAV) -M source=$< $< -o $@.tmp
	@mv $@.tmp $@

$(BOOK_DIR)/preface.html: $(BOOK_PREFACE) $(BOOK_TOOLS)
	@mkdir -p $(BOOK_DIR)
	$(BOOK_PANDOC_HTML) $(BOOK_NAV) $< -o $@.tmp
	@mv $@.tmp $@

# The front page: its contents list is every page's first heading, read
# from the sources by docs/book.lua, so it depends on all of them.
$(BOOK_DIR)/index.html: $(BOOK_SRC)/index.md $(BOOK_PAGE_SOURCES) $(BOOK_TOOLS)
	@mkdir -p $(BOOK_DIR)
	$(BOOK_PANDOC_HTML) -M index=true -M next-source=$(BOOK_PREFACE) \
	    -M book-pages="$(BOOK_PAGE_SOURCES)" $< -o $@.tmp
	@mv $@.tmp $@

# ---- The appendix: what each chapter changed ---------------------------------
# Every function a chapter marks `// extends: NAME` shown as a unified diff
# against the earlier function, written by docs/chapter-diff.sh (the same
# diffs `make diffs` prints). An appendix rather than a section in each
# chapter: docs/WEAVE.md says why.

$(BOOK_CHANGES): $(BOOK_CHAPTERS) $(BOOK_SRC)/chapter-diff.sh
	$(BOOK_SRC)/chapter-diff.sh --appendix $@ $(BOOK_CHAPTERS)

# (No source footer: the page is made, not written, and its listings have no line numbers.)
$(BOOK_DIR)/appendix-changes.html: $(BOOK_CHANGES) $(BOOK_TOOLS)
	@mkdir -p $(BOOK_DIR)
	$(BOOK_PANDOC_HTML) $(BOOK_NAV) $< -o $@.tmp
	@mv $@.tmp $@

$(BOOK_DIR)/book.css: $(BOOK_SRC)/book.css
	@mkdir -p $(BOOK_DIR)
	cp $< $@

# ---- EPUB -------------------------------------------------------------------
# One pandoc run over the preface, every chapter and the appendices; a new
# EPUB file per level-1 heading (one per chapter). Images are looked up under
# $(BOOK_BUILD) (ch01/fig.png -> build/ch01/fig.png) and embedded.
# BOOK_APPENDICES: sources that follow the chapters, added to by the
# includer after this file (notebooks/notebooks.mk adds the teachers' page
# and the built lab notebooks, and makes the EPUB depend on them).
# BOOK_APPENDIX_FILTERS: pandoc options those sources need (a Lua filter
# and its metadata), given to the EPUB's and the printable book's run.
BOOK_APPENDICES ?=
BOOK_APPENDIX_FILTERS ?=

$(BOOK_EPUB): $(BOOK_PAGE_SOURCES) $(foreach c,$(BOOK_CHAPTERS),$(call book_stamp,$(c))) \
              $(BOOK_TOOLS) $(BOOK_SRC)/epub.css $(BOOK_BENCH_VALUES) \
              $(foreach c,$(BOOK_CHAPTERS),$(BOOK_BUILD)/ch$(call book_nn,$(c))/values.tsv)
	@mkdir -p $(BOOK_DIR)
	EMB_VALUES_DIR=$(BOOK_BUILD) $(PANDOC) --from $(BOOK_SRC)/weave.lua --to epub3 \
	    --metadata-file $(BOOK_SRC)/book.yaml \
	    --lua-filter $(BOOK_SRC)/reader.lua --lua-filter $(BOOK_SRC)/book.lua \
	    $(BOOK_APPENDIX_FILTERS) -M figure-root=$(BOOK_BUILD) \
	    $(if $(BOOK_STRICT),-M strict-figures=true) \
	    --css $(BOOK_SRC)/epub.css --mathml --highlight-style $(BOOK_SRC)/book.theme \
	    --toc --toc-depth=2 --epub-chapter-level=1 \
	    --resource-path=$(BOOK_BUILD):. \
	    $(BOOK_PAGE_SOURCES) $(BOOK_APPENDICES) -o $@.tmp
	@mv $@.tmp $@

# ---- Phony targets ------------------------------------------------------------

.PHONY: docs docs-clean
docs: $(BOOK_PAGES) $(BOOK_DIR)/book.css $(BOOK_EPUB)
	@echo "Book: $(BOOK_DIR)/index.html"

docs-clean:
	rm -rf $(BOOK_DIR)

.DEFAULT_GOAL := $(BOOK_SAVED_DEFAULT_GOAL)
