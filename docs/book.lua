--[[
book.lua - the pandoc Lua filter that frames a page of the book.

docs/book.mk runs it on every HTML page (and on the EPUB). It reads these
metadata fields, all optional, all set with -M by book.mk:

  prev-source, next-source   the source files of the previous and next page
                             (docs/preface.md, chapters/02-gradient-flow.c);
                             the filter sets `prev` and `next` to
                             {href = "02-gradient-flow.html", title = <its first # heading>}
                             for the template's navigation bars.
  book-pages                 a space-separated list of every page's source, in
                             reading order. A Div with id `contents` in the
                             document (docs/index.md has one) is filled with the
                             table of contents: each page's first # heading, and
                             under it the page's ## headings.
  figure-root                the folder the page's image paths are relative to
                             (build/book for a page, build for the EPUB). Every
                             image that is not there gets a warning naming it.
  strict-figures             if true, a missing figure is an error instead.
  source                     the page's source file, named in messages.

It also sets `pagetitle` (the browser tab's title) to the text of the
page's first level-1 heading when the page has no title of its own.

Titles are read by weaving each source with docs/weave.lua, the same reader
that builds the pages, so the contents always show exactly the headings the
chapters have.
--]]

local script_dir = (PANDOC_SCRIPT_FILE or ''):match('^(.*[/\\])') or './'
dofile(script_dir .. 'weave.lua')
local weave = _G.weave

local stringify = pandoc.utils.stringify

local function meta_string(meta, key)
  local v = meta[key]
  if v == nil then return nil end
  local s = stringify(v)
  if s == '' then return nil end
  return s
end

local function read_file(path)
  local f, err = io.open(path, 'rb')
  if not f then error('book.lua: cannot read ' .. path .. ': ' .. tostring(err), 0) end
  local text = f:read('a')
  f:close()
  return text
end

-- Heading inlines made safe to put inside a link: no footnotes, no links.
local function link_safe(inlines)
  local out = pandoc.walk_block(pandoc.Plain(inlines), {
    Note = function() return {} end,
    Link = function(l) return l.content end,
  })
  return out.content
end

local outline_cache = {}

--[[ The outline of a page source: {href, title = inlines, sections = list of
     {id, title}}. Markdown sources and chapters alike go through the weave. ]]
local function outline(path)
  if outline_cache[path] then return outline_cache[path] end
  local doc = weave.weave_source({name = path, text = read_file(path)}, PANDOC_READER_OPTIONS)
  local o = {href = weave.page_key(path) .. '.html', sections = {}}
  for _, b in ipairs(doc.blocks) do
    if b.t == 'Header' and b.level == 1 and o.title == nil then
      o.title = link_safe(b.content)
    elseif b.t == 'Header' and b.level == 2 then
      o.sections[#o.sections + 1] = {id = b.identifier, title = link_safe(b.content)}
    end
  end
  if o.title == nil then
    io.stderr:write('[book] ' .. path .. ' has no level-1 heading; its title is its file name\n')
    o.title = {pandoc.Str(weave.page_name(path))}
  end
  outline_cache[path] = o
  return o
end

local function nav_entry(path)
  local o = outline(path)
  return {href = pandoc.MetaString(o.href), title = pandoc.MetaInlines(o.title)}
end

-- The table of contents: a list of pages, each with its sections under it.
local function contents(pages)
  local items = {}
  for _, path in ipairs(pages) do
    local o = outline(path)
    local item = {pandoc.Plain({pandoc.Link(o.title, o.href)})}
    if #o.sections > 0 then
      local subs = {}
      for _, s in ipairs(o.sections) do
        local href = o.href .. (s.id ~= '' and ('#' .. s.id) or '')
        subs[#subs + 1] = {pandoc.Plain({pandoc.Link(s.title, href)})}
      end
      item[#item + 1] = pandoc.BulletList(subs)
    end
    items[#items + 1] = item
  end
  return pandoc.OrderedList(items, pandoc.ListAttributes(1, 'DefaultStyle', 'DefaultDelim'))
end

local function split_words(s)
  local out = {}
  for w in (s or ''):gmatch('%S+') do out[#out + 1] = w end
  return out
end

local function file_exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

local function check_figures(doc, root, strict, source)
  local missing = {}
  pandoc.walk_block(pandoc.Div(doc.blocks), {
    Image = function(img)
      local src = img.src
      if src:match('^%a[%w+.-]*:') or src:match('^/') then return nil end
      local path = root .. '/' .. src
      if not file_exists(path) then missing[#missing + 1] = path end
    end,
  })
  for _, path in ipairs(missing) do
    local msg = string.format('%s: figure %s is missing: did the chapter\'s run draw it?',
      source or 'book', path)
    if strict then error(msg, 0) end
    io.stderr:write('[book] warning: ' .. msg .. '\n')
  end
end

function Pandoc(doc)
  local meta = doc.meta

  if meta.pagetitle == nil and meta.title == nil then
    local h = weave.first_title(doc)
    if h then meta.pagetitle = pandoc.MetaString(stringify(link_safe(h.content))) end
  end

  local prev, next = meta_string(meta, 'prev-source'), meta_string(meta, 'next-source')
  if prev then meta.prev = nav_entry(prev) end
  if next then meta.next = nav_entry(next) end

  local pages = split_words(meta_string(meta, 'book-pages'))
  if #pages > 0 then
    doc.blocks = pandoc.walk_block(pandoc.Div(doc.blocks), {
      Div = function(div)
        if div.identifier ~= 'contents' then return nil end
        div.classes:insert('book-toc')
        div.content = {contents(pages)}
        return div
      end,
    }).content
  end

  local root = meta_string(meta, 'figure-root')
  if root then
    check_figures(doc, root, meta['strict-figures'] == true or
      meta_string(meta, 'strict-figures') == 'true', meta_string(meta, 'source'))
  end

  doc.meta = meta
  return doc
end
