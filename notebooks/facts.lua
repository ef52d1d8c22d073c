--[[
facts.lua - puts numbers from a run into a page.

A span with the class `fact` and a key, [14]{.fact key=tests.ch02}, is
replaced by the value of that key in the TSV file named by the metadata
field `facts` (key<TAB>value lines; notebooks/grading-facts.tsv, written by
make grading-facts). The span's own text is only what a reader of the
Markdown source sees. A key the file does not have stops the build.
--]]

local values = {}

local function load(path)
  local f = io.open(path, 'r')
  if not f then error('facts.lua: cannot read ' .. path, 0) end
  for line in f:lines() do
    local k, v = line:match('^([^\t]+)\t(.*)$')
    if k then values[k] = v end
  end
  f:close()
end

return {
  {Meta = function(meta)
    if not meta.facts then error('facts.lua: no facts file (-M facts=FILE)', 0) end
    load(pandoc.utils.stringify(meta.facts))
  end},
  {Span = function(span)
    if not span.classes:includes('fact') then return nil end
    local key = span.attributes.key
    local v = key and values[key]
    if not v then error('facts.lua: no fact "' .. tostring(key) .. '" in the facts file', 0) end
    return pandoc.Str(v)
  end},
}
