--[[
list.lua - pandoc Lua filter: the front page's list of lab notebooks.

notebooks/notebooks.mk adds it to the front page's pandoc run, after
docs/book.lua, with -M notebook-pages="notebooks/01-lookup-table.md ...".
It fills the Div with id `notebooks` in docs/index.md with one entry per
notebook: its first # heading, linked to notebooks/NN-name.html, and the
chapter it goes with. Without the metadata the Div is left as it is.
--]]

local function read_file(path)
  local f, err = io.open(path, 'rb')
  if not f then error('list.lua: cannot read ' .. path .. ': ' .. tostring(err), 0) end
  local text = f:read('a')
  f:close()
  return text
end

local function entry(path)
  local doc = pandoc.read(read_file(path), 'markdown')
  local title
  for _, b in ipairs(doc.blocks) do
    if b.t == 'Header' and b.level == 1 then title = b.content break end
  end
  local base = path:match('([^/]*)%.md$')
  title = title or {pandoc.Str(base)}
  local inlines = {pandoc.Link(title, 'notebooks/' .. base .. '.html')}
  local nn = base:match('^(%d%d)%-')
  if nn then
    inlines[#inlines + 1] = pandoc.Str(' (with ')
    inlines[#inlines + 1] = pandoc.Link({pandoc.Str('chapter ' .. tonumber(nn))}, base .. '.html')
    inlines[#inlines + 1] = pandoc.Str(')')
  end
  return {pandoc.Plain(inlines)}
end

function Pandoc(doc)
  local pages = {}
  local v = doc.meta['notebook-pages']
  for w in (v and pandoc.utils.stringify(v) or ''):gmatch('%S+') do pages[#pages + 1] = w end
  if #pages == 0 then return nil end
  local items = {}
  for _, path in ipairs(pages) do items[#items + 1] = entry(path) end
  doc.blocks = pandoc.walk_block(pandoc.Div(doc.blocks), {
    Div = function(div)
      if div.identifier ~= 'notebooks' then return nil end
      div.classes:insert('notebook-list')
      div.content = {pandoc.BulletList(items)}
      return div
    end,
  }).content
  return doc
end
