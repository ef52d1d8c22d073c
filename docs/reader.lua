--[[
reader.lua - a pandoc Lua filter for the reader's side of every page: what
a phone, a screen reader and a printer need. docs/book.mk runs it on the
HTML pages, the EPUB and the printable book; notebooks/notebooks.mk on the
lab notebooks. It runs before docs/book.lua.

  * Figures. Alt text is plain words: maths in a caption ($10 \times 4$,
    $\mathcal{N}(0,1)$) is spelled out for the alt attribute (10 × 4,
    N(0,1)), so a screen reader reads no backslashes; the visible caption
    keeps its maths. In HTML (not the EPUB) a figure's image is a link to
    the full-size file, and sits in a box that scrolls sideways on a phone
    rather than shrinking the figure's text below reading size.
  * Display maths. A paragraph holding display maths is put in a box that
    scrolls sideways, with the same shadow hint as wide listings and
    tables (docs/book.css), instead of being cut off on a narrow screen.
  * Inline code. Each word of an inline command is kept on one line, so
    `--indices` never breaks after its `--`; lines still break at the
    spaces between words. Words longer than 30 characters may break.

Metadata it reads: figure-root (as docs/book.lua does), to strip a prefix
from image paths that the printable book passes with their build folder;
print (true for the printable book), to say where the notebooks are.
--]]

local stringify = pandoc.utils.stringify
local is_html = FORMAT:match('html') ~= nil
local is_epub = FORMAT:match('epub') ~= nil

-- ---- Plain words for TeX -------------------------------------------------

local TEX_WORDS = {
  times = '×', cdot = '·', le = '≤', leq = '≤', ge = '≥', geq = '≥', ne = '≠',
  neq = '≠', approx = '≈', infty = '∞', to = '→', rightarrow = '→',
  leftarrow = '←', pm = '±', ldots = '…', dots = '…', cdots = '⋯', sum = '∑',
  alpha = 'α', beta = 'β', gamma = 'γ', delta = 'δ', epsilon = 'ε',
  varepsilon = 'ε', eta = 'η', theta = 'θ', lambda = 'λ', mu = 'μ', pi = 'π',
  sigma = 'σ', tau = 'τ', varphi = 'φ', phi = 'φ', ell = 'ℓ', lVert = '‖',
  rVert = '‖', Vert = '‖', top = 'ᵀ', log = 'log', ln = 'ln', exp = 'exp',
  max = 'max', min = 'min', sqrt = '√',
}

-- A TeX formula as plain text: commands become their symbols, font
-- commands (\mathcal, \mathrm, \text ...) their argument, spacing commands
-- a space; braces, ^ and _ are dropped.
local function tex_to_words(tex)
  local s = tex
  s = s:gsub('\\(%a+)%s*', function(cmd)
    if TEX_WORDS[cmd] then return TEX_WORDS[cmd] .. ' ' end
    return ''  -- \mathcal, \mathrm, \text, \operatorname, \left, \right ...
  end)
  s = s:gsub('\\[,;:! ]', ' '):gsub('\\([{}%%$&_#])', '%1')
  s = s:gsub('[{}]', ''):gsub('[%^_]', '')
  s = s:gsub('%s+', ' '):gsub('%s+([,.;:)])', '%1'):gsub('%(%s+', '(')
  s = s:gsub('%s+×', ' ×'):gsub('^%s+', ''):gsub('%s+$', '')
  return s
end

-- Inlines as plain words: maths through tex_to_words, code as its text.
local function plain_words(inlines)
  local out = pandoc.walk_inline(pandoc.Span(inlines), {
    Math = function(m) return pandoc.Str(tex_to_words(m.text)) end,
  })
  return stringify(out.content)
end

local function escape_html(s)
  return (s:gsub('&', '&amp;'):gsub('<', '&lt;'):gsub('>', '&gt;'):gsub('"', '&quot;'))
end

-- ---- Figures --------------------------------------------------------------

local figure_root = nil

local function strip_root(src)
  if figure_root and src:sub(1, #figure_root + 1) == figure_root .. '/' then
    return src:sub(#figure_root + 2)
  end
  return src
end

-- An image alone in a paragraph, with a caption: pandoc's implicit figure.
local function figure_image(para)
  if #para.content ~= 1 or para.content[1].t ~= 'Image' then return nil end
  local img = para.content[1]
  if #img.caption == 0 then return nil end
  return img
end

-- <figure><img alt="plain words"><figcaption>caption</figcaption></figure>;
-- in HTML the image is a link to the full-size file, in a box that scrolls.
-- (The image has no caption inlines of its own, so the writer takes the
-- alt attribute as given; an image in a Plain is not made a figure again.)
local function figure_blocks(img, with_link)
  local picture = pandoc.Image({}, img.src, '', pandoc.Attr(img.identifier, img.classes,
    img.attributes))
  picture.attributes.alt = plain_words(img.caption)
  local inlines = {picture}
  if with_link then
    inlines = {
      pandoc.RawInline('html', '<span class="figure-scroll"><a class="figure-link" href="' ..
        escape_html(img.src) .. '" title="The figure at full size">'),
      picture,
      pandoc.RawInline('html', '</a></span>'),
    }
  end
  return {
    pandoc.RawBlock('html', '<figure>'),
    pandoc.Plain(inlines),
    pandoc.RawBlock('html', '<figcaption>'),
    pandoc.Plain(img.caption),
    pandoc.RawBlock('html', '</figcaption></figure>'),
  }
end

-- ---- Inline code ------------------------------------------------------------

local NOBREAK_MAX = 30

-- `make chapter2 --indices 1,4` as <code> with each word in a nowrap span.
local function html_code(code)
  if #code.classes > 0 or not code.text:find('%S%s+%S') and not code.text:find('-', 1, true) then
    return nil
  end
  local parts = {}
  local pos = 1
  local text = code.text
  while pos <= #text do
    local s, e = text:find('%s+', pos)
    local word = s and text:sub(pos, s - 1) or text:sub(pos)
    if #word > 0 then
      if #word <= NOBREAK_MAX and word:find('[-/=.,]') then
        parts[#parts + 1] = '<span class="nobr">' .. escape_html(word) .. '</span>'
      else
        parts[#parts + 1] = escape_html(word)
      end
    end
    if not s then break end
    parts[#parts + 1] = text:sub(s, e)
    pos = e + 1
  end
  local id = code.identifier ~= '' and (' id="' .. escape_html(code.identifier) .. '"') or ''
  return pandoc.RawInline('html', '<code' .. id .. '>' .. table.concat(parts) .. '</code>')
end

-- ---- The filter -------------------------------------------------------------

local function Para(para)
  local img = figure_image(para)
  if img then
    if is_html or is_epub then return figure_blocks(img, is_html and not is_epub) end
    return nil
  end
  local has_display = false
  for _, x in ipairs(para.content) do
    if x.t == 'Math' and x.mathtype == 'DisplayMath' then has_display = true end
  end
  if has_display and is_html then
    return pandoc.Div({para}, pandoc.Attr('', {'math-scroll'}))
  end
  return nil
end

-- The printable book (-M print=true) carries the lab notebooks after the
-- chapters: the front page's list of notebook pages (docs/index.md's div
-- #notebooks, filled for the HTML book by notebooks/list.lua) says so.
local function print_notebook_list(blocks)
  return pandoc.walk_block(pandoc.Div(blocks), {
    Div = function(div)
      if div.identifier ~= 'notebooks' then return nil end
      div.content = {pandoc.Para(pandoc.read('In this printed book the lab notebooks come ' ..
        'after the chapters, as appendices, with every cell as it ran when the book was ' ..
        'built; the contents above list them.', 'markdown').blocks[1].content)}
      return div
    end,
  }).content
end

function Pandoc(doc)
  local root = doc.meta['figure-root']
  figure_root = root and stringify(root) or nil
  if doc.meta['print'] and stringify(doc.meta['print']) == 'true' then
    doc.blocks = print_notebook_list(doc.blocks)
  end
  local blocks = pandoc.walk_block(pandoc.Div(doc.blocks), {
    Image = function(img)
      img.src = strip_root(img.src)
      return img
    end,
  }).content
  -- Figures first, so that an alt text is made from the caption's code as
  -- written, before the code becomes raw HTML.
  blocks = pandoc.walk_block(pandoc.Div(blocks), {Para = Para}).content
  if is_html or is_epub then
    blocks = pandoc.walk_block(pandoc.Div(blocks), {Code = html_code}).content
  end
  doc.blocks = blocks
  return doc
end

-- Exported for a check: tex_to_words('\\mathcal{N}(0,1)') == 'N(0,1)'.
_G.reader_tex_to_words = tex_to_words
