# docs/pdf.mk - the printable book, build/book/book.pdf. Included by the
# top-level Makefile after docs/book.mk and notebooks/notebooks.mk.
#
#   make pdf      the whole book as one PDF: front page, preface, every
#                 chapter, then the teachers' page and the lab notebooks as
#                 appendices; then tests/check-pdf checks it
#
# How: one pandoc run weaves every page's source into one HTML document,
# build/book/print.html (docs/print.html, book.css, docs/print.css), exactly
# as the EPUB is made; headless Chromium prints it to PDF. Chromium, and
# poppler-utils for the check, are needed by this target only: the Makefile
# runs `tests/deps pdf` when `pdf` is among the goals.
#
# What it uses from book.mk and notebooks.mk: PANDOC, BOOK_SRC, BOOK_BUILD,
# BOOK_DIR, BOOK_TOOLS, BOOK_PAGE_SOURCES, BOOK_CHAPTERS, BOOK_APPENDICES,
# BOOK_APPENDIX_DEPS, BOOK_APPENDIX_FILTERS, BOOK_CHAPTER_LIST, book_page,
# NOTEBOOK_SOURCES.

CHROMIUM ?= chromium
BOOK_PDF   := $(BOOK_DIR)/book.pdf
BOOK_PRINT := $(BOOK_DIR)/print.html

$(BOOK_DIR)/print.css: $(BOOK_SRC)/print.css
	@mkdir -p $(BOOK_DIR)
	cp $< $@

# The one HTML document. Figures are the chapter pages' copies next to it
# (build/book/chNN/), so it waits for the chapter pages.
$(BOOK_PRINT): $(BOOK_SRC)/index.md $(BOOK_PAGE_SOURCES) $(BOOK_APPENDIX_DEPS) \
               $(BOOK_TOOLS) $(BOOK_SRC)/print.html $(BOOK_CHAPTER_LIST) \
               $(foreach c,$(BOOK_CHAPTERS),$(call book_page,$(c))) \
               | $(BOOK_DIR)/book.css $(BOOK_DIR)/print.css
	@mkdir -p $(BOOK_DIR)
	EMB_VALUES_DIR=$(BOOK_BUILD) $(PANDOC) --from $(BOOK_SRC)/weave.lua --to html5 --standalone \
	    --template $(BOOK_SRC)/print.html --metadata-file $(BOOK_SRC)/book.yaml \
	    --lua-filter $(BOOK_SRC)/reader.lua --lua-filter $(BOOK_SRC)/book.lua \
	    $(BOOK_APPENDIX_FILTERS) --css book.css --css print.css --mathml --highlight-style $(BOOK_SRC)/book.theme \
	    -M figure-root=$(BOOK_DIR) -M strict-figures=true -M print=true \
	    -M book-pages="$(BOOK_PAGE_SOURCES) $(BOOK_APPENDICES)" \
	    $(BOOK_SRC)/index.md $(BOOK_PAGE_SOURCES) $(BOOK_APPENDICES) -o $@.tmp
	@mv $@.tmp $@

# Chromium prints the document; its profile is a fresh folder of its own, so
# two builds never share one. --no-sandbox: Chromium refuses to start as
# root without it, and it only ever opens this file.
$(BOOK_PDF): $(BOOK_PRINT) $(BOOK_DIR)/book.css $(BOOK_DIR)/print.css tests/check-pdf
	@rm -f $@.tmp.pdf
	@profile=$$(mktemp -d) && trap 'rm -rf "$$profile"' EXIT && \
	  echo "$(CHROMIUM) --headless --print-to-pdf $(BOOK_PRINT)" && \
	  if ! $(CHROMIUM) --headless --no-sandbox --disable-gpu --user-data-dir="$$profile" \
	      --no-pdf-header-footer --print-to-pdf="$(CURDIR)/$@.tmp.pdf" \
	      "file://$(CURDIR)/$(BOOK_PRINT)" > "$$profile/log" 2>&1 \
	      || [ ! -s $@.tmp.pdf ]; then \
	    cat "$$profile/log" >&2; echo "Chromium did not print $(BOOK_PRINT)" >&2; exit 1; \
	  fi
	tests/check-pdf $@.tmp.pdf $(BOOK_PAGE_SOURCES) $(BOOK_SRC)/TEACHING.md $(NOTEBOOK_SOURCES)
	@mv $@.tmp.pdf $@

## pdf: the whole book as one PDF (build/book/book.pdf), printed by headless Chromium, then checked
pdf: $(BOOK_PDF) FORCE
	@echo "PDF: $(BOOK_PDF)"
