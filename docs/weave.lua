--[[
weave.lua - a pandoc custom reader that weaves a literate C chapter.

  pandoc -f docs/weave.lua chapters/01-lookup-table.c -o 01-lookup-table.html

A chapter is one C file that compiles as it stands. Prose lives in block
comments that open with `/**` at column 0 (followed by a space, a tab or the
end of the line) and end at the first `*/`, as the C compiler ends them.
Everything else - `//` comments and ordinary `/* */` comments included - is
code and is shown as code. docs/WEAVE.md states the rules for authors.

What the reader produces, per source file:

  * the prose, parsed as pandoc Markdown (with `$...$` maths);
  * one CodeBlock per run of code lines, with classes {"c", "numberLines"}
    and startFrom = the 1-based line number, in the .c file, of the
    listing's first line, so the numbers beside the listing are the ones
    the compiler prints in its messages. Blank lines at either end of a run
    are trimmed (startFrom moves with them); a run of blank lines is dropped.

All the prose of one file is parsed as ONE Markdown document, with a
placeholder where each listing goes, so footnotes, reference links and
heading identifiers work across prose blocks exactly as in one .md file.

Figures: a chapter's program draws its figures into build/chNN/, and the
prose names them relative to that folder: ![caption](fig-loss.png). In a file
called NN-name.c the reader rewrites every relative image path P to chNN/P
(paths that are URLs, absolute, or already start with chNN/ are left alone).
The book build copies build/chNN/ to build/book/chNN/ for the HTML pages, and
gives the EPUB build --resource-path=build, so chNN/P resolves in both.

Numbers from runs: in the prose of a file called NN-name.c, {{key}} is
replaced by the value of key in the chapter's run file build/chNN/values.tsv
(written by the chapter's program; the folder is $EMB_VALUES_DIR/chNN when
that is set), and {{bench:key}} by the value in tests/bench/values.tsv (or
$EMB_BENCH_VALUES), and {{NAME:key}} by the value in a committed experiment's
experiments/chNN/NAME/values.tsv. Keys are [a-z0-9_.]+. A missing key or file stops the
build with NN-name.c:LINE. Only the book's reader substitutes: weave_source
called without its third argument (titles for the navigation bars and the
notebooks) leaves the placeholders alone.

Several sources in one run (the EPUB: preface.md plus every chapter) are
woven one by one and concatenated. Sources ending in .md are plain Markdown.
Heading identifiers that repeat across sources ("summary", "exercises") get
a -1, -2 ... suffix in later sources, and links between pages of the book
(`02-gradient-flow.html#backward`) become links inside the one document.

The functions are also exported as the global table `weave`, so a Lua filter
can `dofile` this file and weave a chapter itself (docs/book.lua does, to
read chapter titles).
--]]

local weave = {}

local CODE_CLASSES = {'c', 'numberLines'}
local PLACEHOLDER = 'weave-code'

-- Splits text into lines (without their line ends; \r\n is accepted).
local function split_lines(text)
  local lines = {}
  for line in (text .. '\n'):gmatch('(.-)\r?\n') do
    lines[#lines + 1] = line
  end
  -- A final newline does not start another (empty) line.
  if text:sub(-1) == '\n' then lines[#lines] = nil end
  return lines
end

local function is_blank(s) return s:match('^%s*$') ~= nil end

-- True if the line opens a prose block: `/**` at column 0, then a space, a
-- tab or the end of the line (so `/***...` banners and `/**/` are code).
local function opens_prose(line)
  return line:match('^/%*%*$') ~= nil or line:match('^/%*%*[ \t]') ~= nil
end

-- If every non-empty line of a prose block starts with the " * " decoration
-- (or is just " *"), strips it; otherwise returns the lines unchanged.
local function strip_decoration(lines)
  local seen = false
  for _, l in ipairs(lines) do
    if l ~= '' then
      if not (l == ' *' or l:match('^ %* ')) then return lines end
      seen = true
    end
  end
  if not seen then return lines end
  local out = {}
  for i, l in ipairs(lines) do out[i] = l:gsub('^ %* ?', '', 1) end
  return out
end

--[[ Splits C source text into segments, in file order:
       {kind = 'prose', text = <markdown>, line = <line of the /**>,
        first = <line of the text's first line>}
       {kind = 'code',  text = <code>,     line = <line of its first line>}
     Code segments are trimmed of blank lines at both ends; empty ones are
     dropped. Raises an error naming name:line for an unclosed prose block or
     code after the `*/` that closes one. ]]
function weave.split(text, name)
  name = name or '<input>'
  local lines = split_lines(text)
  local segments = {}
  local code, code_start = {}, nil

  local function flush_code()
    if code_start == nil then return end
    local first, last = 1, #code
    while first <= last and is_blank(code[first]) do first = first + 1 end
    while last >= first and is_blank(code[last]) do last = last - 1 end
    if first <= last then
      segments[#segments + 1] = {
        kind = 'code',
        text = table.concat(code, '\n', first, last),
        line = code_start + first - 1,
      }
    end
    code, code_start = {}, nil
  end

  -- Returns the prose before `*/` on line i, or nil if the line has no `*/`.
  local function before_close(s, i)
    local at = s:find('*/', 1, true)
    if not at then return nil end
    if not is_blank(s:sub(at + 2)) then
      error(string.format('%s:%d: code after the */ that closes a prose block;' ..
        ' put it on the next line', name, i), 0)
    end
    return (s:sub(1, at - 1):gsub('%s+$', ''))
  end

  local i = 1
  while i <= #lines do
    local line = lines[i]
    if opens_prose(line) then
      flush_code()
      local start = i
      local rest = line:sub(4)          -- after `/**`
      local head = rest:gsub('^[ \t]', '', 1)
      local body = {}
      local closed = before_close(rest, i)
      if closed then
        head = closed:gsub('^[ \t]', '', 1)
      else
        i = i + 1
        while i <= #lines do
          local last = before_close(lines[i], i)
          if last then
            if last ~= '' and not is_blank(last) then body[#body + 1] = last end
            closed = true
            break
          end
          body[#body + 1] = lines[i]
          i = i + 1
        end
        if not closed then
          error(string.format('%s:%d: prose block opened here is never closed with */',
            name, start), 0)
        end
      end
      body = strip_decoration(body)
      -- The file line of the text's first line: the /** line when text
      -- follows it there (or the block closes on it), else the next one.
      local first = (not is_blank(head) or i == start) and start or start + 1
      if not is_blank(head) then table.insert(body, 1, head) end
      segments[#segments + 1] = {kind = 'prose', text = table.concat(body, '\n'), line = start,
        first = first}
    else
      if code_start == nil then code_start = i end
      code[#code + 1] = line
    end
    i = i + 1
  end
  flush_code()
  return segments
end

-- The chapter number "NN" of a file named NN-name.c (any folder), or nil.
function weave.chapter_number(name)
  local base = (name or ''):match('([^/\\]*)$')
  return base:match('^(%d%d)%-')
end

-- The page name of a source: chapters/01-lookup-table.c -> 01-lookup-table.
function weave.page_name(name)
  local base = (name or ''):match('([^/\\]*)$')
  return (base:gsub('%.[^.]*$', ''))
end

-- Rewrites relative image paths P to chNN/P (see the top of this file).
local function figure_filter(nn)
  local prefix = 'ch' .. nn .. '/'
  return {
    Image = function(img)
      local src = img.src
      if src:match('^%a[%w+.-]*:') or src:match('^/') or src:match('^#')
          or src:match('^ch%d%d/') or src == '' then
        return nil
      end
      img.src = prefix .. src
      return img
    end,
  }
end

-- A chapter's own header, shown where the chapter includes it: the
-- listing of chapters/NN-name.h (numbered from 1, as the compiler numbers
-- it) under a caption naming the file. nil if the code does not include it.
function weave.own_header(name, code)
  local base = name:match('([^/]*)%.c$')
  if not base or not code:find('#include "' .. base .. '.h"', 1, true) then return nil end
  local path = name:gsub('%.c$', '.h')
  local f = io.open(path, 'r')
  if not f then return nil end
  local text = f:read('a'):gsub('\n+$', '')
  f:close()
  local caption = pandoc.Para({pandoc.Str('The'), pandoc.Space(), pandoc.Str('header,'),
    pandoc.Space(), pandoc.Code('chapters/' .. base .. '.h'), pandoc.Str(':')})
  return pandoc.Div({caption, pandoc.CodeBlock(text,
    pandoc.Attr('', CODE_CLASSES, {{'startFrom', '1'}}))}, pandoc.Attr('', {'header-listing'}))
end

-- ---- Links to chapters ------------------------------------------------------
-- "chapter 4" (or "Chapter 4") in the prose becomes a link to chapter 4's
-- page once chapters/04-*.c exists; until then it stays plain text, so a
-- forward reference turns into a link the day its chapter lands. Headings,
-- existing links, image captions and a chapter's references to itself are
-- left alone. The links are ordinary page links (04-optimizers.html), which
-- the EPUB build turns into links inside the one document.

local chapter_pages_cache = nil

-- {["4"] = "04-optimizers", ...}: the chapters in chapters/ (run from the
-- top of the repository, as docs/book.mk does).
function weave.chapter_pages()
  if chapter_pages_cache then return chapter_pages_cache end
  local pages = {}
  local ls = io.popen('ls chapters 2>/dev/null')
  if ls then
    for f in ls:lines() do
      local base, nn = f:match('^((%d%d)%-[%w_%-]+)%.c$')
      if base then pages[tostring(tonumber(nn))] = base end
    end
    ls:close()
  end
  chapter_pages_cache = pages
  return pages
end

local function link_chapter_refs(inlines, own)
  local pages = weave.chapter_pages()
  local out = pandoc.List()
  local i = 1
  while i <= #inlines do
    local a, gap, b = inlines[i], inlines[i + 1], inlines[i + 2]
    local lead, word = '', nil
    if a.t == 'Str' then lead, word = a.text:match('^(%p*)([Cc]hapter)$') end
    if word and gap and (gap.t == 'Space' or gap.t == 'SoftBreak') and b and b.t == 'Str' then
      local num, tail = b.text:match('^(%d+)(.*)$')
      local plain_tail = tail and (tail:match('^%p*$') or tail:match("^'s%p*$") or tail:match('^’s%p*$'))
      if num and plain_tail and pages[num] and num ~= own then
        if lead ~= '' then out:insert(pandoc.Str(lead)) end
        out:insert(pandoc.Link({pandoc.Str(word), pandoc.Space(), pandoc.Str(num)},
          pages[num] .. '.html', '', pandoc.Attr('', {'chapter-ref'})))
        if tail ~= '' then out:insert(pandoc.Str(tail)) end
        i = i + 3
        goto continue
      end
    end
    out:insert(a)
    i = i + 1
    ::continue::
  end
  return out
end

local function unlink_chapter_refs(inlines)
  return pandoc.walk_inline(pandoc.Span(inlines), {
    Link = function(l)
      if l.classes:includes('chapter-ref') then return l.content end
    end,
  }).content
end

-- Links "chapter N" in a document's prose; `own` is the chapter's own
-- number ("2") or nil.
function weave.link_chapters(blocks, own)
  local linked = pandoc.walk_block(pandoc.Div(blocks), {
    Inlines = function(inlines) return link_chapter_refs(inlines, own) end,
  })
  return pandoc.walk_block(linked, {
    Header = function(h) h.content = unlink_chapter_refs(h.content); return h end,
    Link = function(l) l.content = unlink_chapter_refs(l.content); return l end,
    Image = function(img) img.caption = unlink_chapter_refs(img.caption); return img end,
  }).content
end

-- ---- Built pages ------------------------------------------------------------
-- The EPUB and the printable book also carry pages that are not woven from
-- a source but built by running something: the lab notebooks, whose cells
-- ran when their pages were built (build/book/notebooks/NN-name.html). Such
-- a source ends in .html and is read back with pandoc's HTML reader: the
-- content of its <main>, with its relative links and images rewritten. A
-- link becomes relative to the book's folder (the nearest folder above the
-- page that holds index.html): ../01-lookup-table.html becomes
-- 01-lookup-table.html, and the page's own key is notebooks/01-lookup-table,
-- so links between pages join up as they do for woven pages. An image
-- becomes relative to the folder pandoc runs in (build/book/notebooks/01/
-- fig.png); docs/reader.lua then strips the figure root.

local built_keys = {}   -- source name -> key ("notebooks/01-lookup-table")

local function dirname(path) return path:match('^(.*)/[^/]*$') or '.' end

local function normalize_path(path)
  local parts = {}
  for part in path:gmatch('[^/]+') do
    if part == '..' and #parts > 0 and parts[#parts] ~= '..' then
      parts[#parts] = nil
    elseif part ~= '.' then
      parts[#parts + 1] = part
    end
  end
  return table.concat(parts, '/')
end

local function file_exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

-- The book's folder of a built page: the nearest folder above it with an index.html.
local function book_folder(page)
  local dir = dirname(page)
  for _ = 1, 4 do
    if file_exists(dir .. '/index.html') then return dir end
    if dir == '.' or not dir:find('/') then break end
    dir = dirname(dir)
  end
  return dirname(page)
end

local function is_relative(target)
  return target ~= '' and not target:match('^%a[%w+.-]*:') and not target:match('^/')
    and not target:match('^#')
end

function weave.read_built_page(src, opts)
  local name, text = src.name, src.text
  local main = text:match('<main[^>]*>(.*)</main>') or text
  local doc = pandoc.read(main, 'html', opts)
  local page_dir, book = dirname(name), book_folder(name)
  local function from_book(target)
    local path = normalize_path(page_dir .. '/' .. target)
    if path:sub(1, #book + 1) == book .. '/' then return path:sub(#book + 2) end
    return path
  end
  built_keys[name] = (from_book(name:match('([^/]*)$')):gsub('%.html$', ''))
  -- The writer numbers code blocks itself (cb1, cb2 ...): drop the old
  -- numbers with the sourceCode wrapper; other ids of divs and spans get the
  -- page's key in front, so two built pages cannot share one.
  local prefix = built_keys[name]:gsub('[^%w]', '-') .. '-'
  local renamed = {}
  local function own_id(el)
    if el.identifier ~= '' then
      renamed[el.identifier] = prefix .. el.identifier
      el.identifier = prefix .. el.identifier
    end
    return el
  end
  doc = pandoc.Pandoc(pandoc.walk_block(pandoc.Div(doc.blocks), {
    Div = function(div)
      if div.classes:includes('sourceCode') then return div.content end
      return own_id(div)
    end,
    Span = own_id,
    CodeBlock = function(cb) cb.identifier = ''; return cb end,
  }).content, doc.meta)
  local blocks = pandoc.walk_block(pandoc.Div(doc.blocks), {
    Link = function(l)
      local id = l.target:match('^#(.+)$')
      if id and renamed[id] then l.target = '#' .. renamed[id] end
      if is_relative(l.target) then l.target = from_book(l.target) end
      return l
    end,
    Image = function(img)
      if is_relative(img.src) then img.src = normalize_path(page_dir .. '/' .. img.src) end
      return img
    end,
  }).content
  return pandoc.Pandoc(blocks, doc.meta)
end

-- The name other pages link to a source by: its page name (02-gradient-flow),
-- or, for a built page, its path in the book without .html.
function weave.page_key(name)
  return built_keys[name] or weave.page_name(name)
end

-- The key-value files of the runs, read once each: path -> table, or false
-- if the file does not exist. Lines starting with # are comments.
local values_files = {}
local function read_values(path)
  if values_files[path] == nil then
    local f = io.open(path, 'r')
    if not f then
      values_files[path] = false
    else
      local t = {}
      for line in f:lines() do
        local key, value = line:match('^([a-z0-9_.]+)\t(.*)$')
        if key and not line:match('^#') then t[key] = value end
      end
      f:close()
      values_files[path] = t
    end
  end
  return values_files[path]
end

-- Where the values of chapter NN and of the benchmarks are.
function weave.values_paths(nn)
  local dir = os.getenv('EMB_VALUES_DIR') or 'build'
  return dir .. '/ch' .. nn .. '/values.tsv',
    os.getenv('EMB_BENCH_VALUES') or 'tests/bench/values.tsv'
end

-- The values of chapter NN's committed experiment NAME (make experimentN).
function weave.experiment_path(nn, name)
  return 'experiments/ch' .. nn .. '/' .. name .. '/values.tsv'
end

-- Replaces every {{key}}, {{bench:key}} and {{NAME:key}} in a prose text whose first line
-- is line `first` of `name` (chapter nn); errors name the file and line.
function weave.substitute(text, name, first, nn)
  if not text:find('{{', 1, true) then return text end
  local run_path, bench_path = weave.values_paths(nn)
  local out, lineno = {}, first
  for line in (text .. '\n'):gmatch('(.-)\n') do
    out[#out + 1] = line:gsub('{{([a-z0-9_.:]+)}}', function(ref)
      local key, path = ref, run_path
      local exp, exp_key = ref:match('^([a-z0-9_]+):(.*)$')
      if exp == 'bench' then
        key, path = exp_key, bench_path
      elseif exp then  -- a committed experiment of this chapter
        key, path = exp_key, weave.experiment_path(nn, exp)
      end
      local where = string.format('%s:%d: {{%s}}: ', name, lineno, ref)
      if not key:match('^[a-z0-9_.]+$') then
        error(where .. 'write {{key}}, {{bench:key}} or {{NAME:key}}, keys in [a-z0-9_.]+',
              0)
      end
      local values = read_values(path)
      if not values then
        error(where .. path .. ' is missing (the run that writes it has not run)', 0)
      end
      if values[key] == nil then
        error(where .. 'no key "' .. key .. '" in ' .. path, 0)
      end
      return values[key]
    end)
    lineno = lineno + 1
  end
  return table.concat(out, '\n')
end

-- Weaves one source into a Pandoc document; with_values: replace the
-- placeholders of numbers from runs (the book does; titles need not).
function weave.weave_source(src, opts, with_values)
  if (src.name or ''):match('%.html$') then return weave.read_built_page(src, opts) end
  local doc = weave.weave_one(src, opts, with_values)
  local nn = weave.chapter_number(src.name or '')
  return pandoc.Pandoc(weave.link_chapters(doc.blocks, nn and tostring(tonumber(nn))),
    doc.meta)
end

-- Weaves one source into a Pandoc document (without the chapter links).
function weave.weave_one(src, opts, with_values)
  local name, text = src.name or '', src.text or ''
  if name:match('%.md$') or name:match('%.markdown$') then
    return pandoc.read(text, 'markdown', opts)
  end

  local segments = weave.split(text, name)
  local nn = weave.chapter_number(name)
  local md, listings = {}, {}
  for _, seg in ipairs(segments) do
    if seg.kind == 'prose' then
      md[#md + 1] = (with_values and nn) and weave.substitute(seg.text, name, seg.first, nn)
        or seg.text
    else
      listings[#listings + 1] = seg
      -- A fenced div at column 0 after a blank line closes any list or
      -- paragraph the prose before it left open.
      md[#md + 1] = string.format('::: {.%s n="%d"}\n:::', PLACEHOLDER, #listings)
    end
  end
  local doc = pandoc.read(table.concat(md, '\n\n') .. '\n', 'markdown', opts)

  local placed = {}
  local blocks = pandoc.walk_block(pandoc.Div(doc.blocks), {
    Div = function(div)
      if not div.classes:includes(PLACEHOLDER) then return nil end
      local n = tonumber(div.attributes.n)
      local seg = listings[n]
      placed[n] = true
      local code = pandoc.CodeBlock(seg.text,
        pandoc.Attr('', CODE_CLASSES, {{'startFrom', tostring(seg.line)}}))
      local header = weave.own_header(name, seg.text)
      if not header then return code end
      return {code, header}
    end,
  }).content
  doc = pandoc.Pandoc(blocks, doc.meta)

  for n, seg in ipairs(listings) do
    if not placed[n] then
      error(string.format('%s:%d: this code listing was swallowed by the prose before it' ..
        ' (an unclosed ``` fence, $$ or ::: div?)', name, seg.line), 0)
    end
  end

  if nn then
    doc = pandoc.Pandoc(pandoc.walk_block(pandoc.Div(doc.blocks), figure_filter(nn)).content,
      doc.meta)
  end
  return doc
end

-- The first level-1 heading of a document, or nil.
function weave.first_title(doc)
  for _, b in ipairs(doc.blocks) do
    if b.t == 'Header' and b.level == 1 then return b end
  end
  return nil
end

--[[ Makes heading ids unique across sources and turns links between the
     book's pages into links inside the one document. `docs` is a list of
     {name=..., doc=...}; their blocks are rewritten in place. ]]
local function join_documents(docs)
  local used = {}
  local first_id = {}   -- page name -> id of its first level-1 heading
  local renamed = {}    -- per source: old id -> new id
  for k, d in ipairs(docs) do
    renamed[k] = {}
    d.doc = pandoc.Pandoc(pandoc.walk_block(pandoc.Div(d.doc.blocks), {
      Header = function(h)
        if h.identifier == '' then return nil end
        local id = h.identifier
        if used[id] then
          local n = 1
          while used[id .. '-' .. n] do n = n + 1 end
          renamed[k][id] = id .. '-' .. n
          id = id .. '-' .. n
        end
        used[id] = true
        h.identifier = id
        if h.level == 1 and not first_id[weave.page_key(d.name)] then
          first_id[weave.page_key(d.name)] = id
        end
        return h
      end,
    }).content, d.doc.meta)
  end
  for k, d in ipairs(docs) do
    d.doc = pandoc.Pandoc(pandoc.walk_block(pandoc.Div(d.doc.blocks), {
      Link = function(link)
        local t = link.target
        local local_id = t:match('^#(.+)$')
        if local_id then
          if renamed[k][local_id] then
            link.target = '#' .. renamed[k][local_id]
            return link
          end
          return nil
        end
        local page, frag = t:match('^([%w_%-/]+)%.html#?(.*)$')
        if page and first_id[page] then
          local j
          for m, other in ipairs(docs) do
            if weave.page_key(other.name) == page then j = m end
          end
          if frag == '' then
            link.target = '#' .. first_id[page]
          else
            link.target = '#' .. (renamed[j][frag] or frag)
          end
          return link
        end
        return nil
      end,
    }).content, d.doc.meta)
  end
end

-- The custom reader: weaves every source and concatenates them.
function weave.read(input, opts)
  local docs = {}
  for _, src in ipairs(input) do
    docs[#docs + 1] = {name = src.name, doc = weave.weave_source(src, opts, true)}
  end
  if #docs == 1 then return docs[1].doc end
  join_documents(docs)
  local blocks, meta = pandoc.List(), {}
  for _, d in ipairs(docs) do
    blocks:extend(d.doc.blocks)
    for key, value in pairs(d.doc.meta) do
      if meta[key] == nil then meta[key] = value end
    end
  end
  return pandoc.Pandoc(blocks, meta)
end

_G.weave = weave

function Reader(input, opts)
  return weave.read(input, opts)
end
