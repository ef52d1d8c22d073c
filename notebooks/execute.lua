--[[
execute.lua - the pandoc Lua filter that executes a lab notebook.

notebooks/notebooks.mk runs it on notebooks/NN-name.md, before docs/book.lua,
and pandoc writes the page with the book's template. Every fenced code block
with the class `cell` is run, in document order, and its output (or its
figure) is put under it on the page:

  ```{.sh .cell}        bash -eo pipefail, in the notebook's work folder, with
                        the chapter programs (build/bin) first on PATH
  ```{.c .cell}         compiled with the book's CFLAGS against build/obj/libbook.a
                        (#include "02-gradient-flow.h" works), then run
  ```{.gnuplot .cell}   gnuplot, after chapters/style.gp; the figure it draws is
                        shown under it

Options, as attributes of the block (see notebooks/README.md):

  .expect-fail          the cell must exit with a non-zero status (a C cell must
                        still compile)
  must="a|b"            each of the |-separated strings must be in the output
  must-not="nan|NaN"    none of them may be in the output; the notebook's
                        metadata field `must-not` applies to every cell
  timeout=60            seconds before the cell is stopped (and fails)
  name=NAME             the file name of the cell in the work folder: NAME.sh,
                        NAME.c and the program NAME, NAME.gp and NAME.png;
                        default cell-LINE
  args="--x 1"          a C cell's program arguments
  caption="..."         a gnuplot cell's figure caption (Markdown)
  lines=80              the most output lines shown on the page (the rest is
                        cut from the middle; the work folder keeps all of it)

A cell that fails - non-zero status without .expect-fail, zero status with
it, a timeout, a compiler error, a forbidden or missing string, a gnuplot cell
that draws nothing - stops the run with the notebook's name and the line of
the cell's opening fence, and shows the end of its output. The page is still
written, with that cell marked FAILED (its message and output under it) and
the cells after it marked as not run; the file FAILED in the work folder
tells make to fail the run.

Environment (set by notebooks/notebooks.mk):
  NOTEBOOK_ROOT      the repository's top folder (absolute)
  NOTEBOOK_WORK      the work folder, absolute; emptied by make before the run
  NOTEBOOK_FIGS      where the figures go (absolute), next to the page
  NOTEBOOK_FIG_HREF  the figures' folder as the page links it ("01/")
  and those read by notebooks/run-cell.

Metadata (-M): chapter-source (chapters/NN-name.c, the chapter the notebook
goes with) and next-source (the next chapter's source), for the navigation
bars, which link ../NN-name.html; root (set to ../ here) prefixes the
template's links to the front page.
--]]

local stringify = pandoc.utils.stringify

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == '' then
    if default ~= nil then return default end
    error('execute.lua: the environment variable ' .. name .. ' is not set' ..
      ' (run notebooks through make: make notebookN)', 0)
  end
  return v
end

local root = env('NOTEBOOK_ROOT')
local work = env('NOTEBOOK_WORK')
local figs = env('NOTEBOOK_FIGS')
local fig_href = env('NOTEBOOK_FIG_HREF')
local source = PANDOC_STATE.input_files[1] or 'notebook'

local KINDS = {
  sh = {ext = 'sh', label = 'shell', lang = 'bash'},
  c = {ext = 'c', label = 'C', lang = 'c'},
  gnuplot = {ext = 'gp', label = 'gnuplot', lang = 'gnuplot'},
}

local DEFAULT_TIMEOUT = 60
local DEFAULT_LINES = 80

-- ---------------------------------------------------------------- helpers

local function read_file(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local text = f:read('a')
  f:close()
  return text
end

local function write_file(path, text)
  local f, err = io.open(path, 'wb')
  if not f then error('execute.lua: cannot write ' .. path .. ': ' .. tostring(err), 0) end
  f:write(text)
  f:close()
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function split_bar(s)
  local out = {}
  if s == nil or s == '' then return out end
  for part in (s .. '|'):gmatch('(.-)|') do
    if part ~= '' then out[#out + 1] = part end
  end
  return out
end

local function lines_of(text)
  local out = {}
  for line in (text .. '\n'):gmatch('(.-)\n') do out[#out + 1] = line end
  if out[#out] == '' then out[#out] = nil end
  return out
end

-- What a terminal would show: text after the last carriage return of a line.
local function as_terminal(text)
  local out = {}
  for _, line in ipairs(lines_of(text)) do
    out[#out + 1] = line:match('([^\r]*)\r*$') or line
  end
  return out
end

-- At most `max` lines: the start and the end, with a note where lines were cut.
local function shorten(lines, max, whole)
  if #lines <= max then return table.concat(lines, '\n') end
  local head = math.floor(max * 3 / 4)
  local tail = max - head
  local out = {}
  for i = 1, head do out[#out + 1] = lines[i] end
  out[#out + 1] = string.format('[... %d lines not shown; all of them are in %s ...]',
    #lines - max, whole)
  for i = #lines - tail + 1, #lines do out[#out + 1] = lines[i] end
  return table.concat(out, '\n')
end

-- The line of each cell's opening fence, in order: a line starting with ```
-- or ~~~ whose attributes contain the class .cell.
local function cell_lines(path)
  local text = read_file(path)
  if not text then error('execute.lua: cannot read ' .. path, 0) end
  local found, n = {}, 0
  for line in (text .. '\n'):gmatch('(.-)\n') do
    n = n + 1
    local attrs = line:match('^%s*```+%s*(%b{})') or line:match('^%s*~~~+%s*(%b{})')
    if attrs and (' ' .. attrs:sub(2, -2) .. ' '):match('[%s]%.cell[%s]') then
      found[#found + 1] = n
    end
  end
  return found
end

-- Progress lines, printed together when the notebook ends (or fails), so
-- that notebooks executed side by side (make -j) do not interleave.
local progress = {}
local function flush_progress(summary)
  io.stderr:write(string.format('Notebook %s: %s\n', source, summary) .. table.concat(progress))
  progress = {}
end

local function relative(path)
  if path:sub(1, #root + 1) == root .. '/' then return path:sub(#root + 2) end
  return path
end

-- A failing cell: the message goes to stderr at once (with the end of the
-- cell's output) and into the file FAILED in the work folder, which the
-- make rule reads after pandoc has written the page; the page shows the cell
-- marked as failed, with the message and its output, and the cells after it
-- as not run. fail() raises the message; the walker below catches it.
local failure = nil

local function fail(line, what, out_path)
  local msg = string.format('%s:%d: %s', source, line, what)
  flush_progress('FAILED')
  io.stderr:write('\n' .. msg .. '\n')
  local text = out_path and read_file(out_path)
  if text and text ~= '' then
    local lines = as_terminal(text)
    local first = math.max(1, #lines - 39)
    io.stderr:write(string.format('--- the cell\'s output%s (all of it: %s) ---\n',
      first > 1 and ', last 40 lines' or '', relative(out_path)))
    for i = first, #lines do io.stderr:write(lines[i], '\n') end
    io.stderr:write('---\n')
  end
  io.stderr:flush()
  write_file(work .. '/FAILED', msg .. '\n')
  error({cell_failure = msg, line = line, output = text}, 0)
end

-- ------------------------------------------------------------- the cells

local seen_names = {}
local notebook_must_not = {}
local cells_run, seconds_total = 0, 0.0

local function cell_kind(block)
  for _, c in ipairs(block.classes) do
    if KINDS[c] then return c end
  end
  return nil
end

local function inline_markdown(text)
  local doc = pandoc.read(text, 'markdown')
  if #doc.blocks == 0 then return {} end
  return pandoc.utils.blocks_to_inlines(doc.blocks)
end

-- Runs one cell and returns the blocks that replace it on the page.
local function run_cell(block, line)
  local kind = cell_kind(block)
  if not kind then
    fail(line, 'a cell needs one of the classes .sh, .c or .gnuplot (got ' ..
      table.concat(block.classes, ' ') .. ')')
  end
  local k = KINDS[kind]
  local a = block.attributes
  local name = a.name or ('cell-' .. line)
  if not name:match('^[%w_%-]+$') then
    fail(line, 'name="' .. name .. '": use letters, digits, - and _ only')
  end
  if seen_names[name] then
    fail(line, 'name="' .. name .. '" is already used by the cell at line ' .. seen_names[name])
  end
  seen_names[name] = line
  local timeout = tonumber(a.timeout or DEFAULT_TIMEOUT)
  local max_lines = tonumber(a.lines or DEFAULT_LINES)
  if not timeout or timeout <= 0 then fail(line, 'timeout must be a positive number of seconds') end
  if not max_lines or max_lines < 4 then fail(line, 'lines must be a number >= 4') end
  local expect_fail = block.classes:includes('expect-fail')

  local code = block.text
  local file = work .. '/' .. name .. '.' .. k.ext
  local png = name .. '.png'
  if kind == 'gnuplot' then
    write_file(file, string.format("load %s\nset output %s\n%s\nset output\n",
      quote(root .. '/chapters/style.gp'), quote(png), code))
    os.remove(work .. '/' .. png)
  else
    write_file(file, code .. '\n')
  end

  local cmd = {quote(root .. '/notebooks/run-cell'), kind, quote(work), name, tostring(timeout)}
  if kind == 'c' and a.args then
    for word in a.args:gmatch('%S+') do cmd[#cmd + 1] = quote(word) end
  end
  local p = io.popen(table.concat(cmd, ' '), 'r')
  local report = p:read('a')
  p:close()
  local status, seconds, phase = report:match('(%d+) ([%d.]+) (%a+)%s*$')
  status, seconds = tonumber(status), tonumber(seconds)
  local out_path = work .. '/' .. name .. '.out'
  if not status then fail(line, 'notebooks/run-cell did not report a status: ' .. report, out_path) end
  local output = read_file(out_path) or ''

  progress[#progress + 1] = string.format('  %s:%-4d %-8s %-10s %6.2f s\n', source, line,
    k.label, (status == 0) and 'ok' or ('exit ' .. status), seconds)

  if phase == 'compile' then fail(line, 'the C cell does not compile', out_path) end
  if status == 124 then fail(line, string.format('the %s cell timed out after %g s', k.label, timeout), out_path) end
  if expect_fail and status == 0 then
    fail(line, 'the ' .. k.label .. ' cell was expected to fail (.expect-fail) but exited with status 0', out_path)
  elseif not expect_fail and status ~= 0 then
    fail(line, string.format('the %s cell failed: exit status %d', k.label, status), out_path)
  end
  for _, s in ipairs(split_bar(a.must)) do
    if not output:find(s, 1, true) then
      fail(line, 'the output does not contain "' .. s .. '" (must="' .. a.must .. '")', out_path)
    end
  end
  local forbidden = {}
  for _, s in ipairs(notebook_must_not) do forbidden[#forbidden + 1] = s end
  for _, s in ipairs(split_bar(a['must-not'])) do forbidden[#forbidden + 1] = s end
  for _, s in ipairs(forbidden) do
    if output:find(s, 1, true) then
      fail(line, 'the output contains "' .. s .. '", which this notebook says it must not print', out_path)
    end
  end

  cells_run = cells_run + 1
  seconds_total = seconds_total + seconds

  -- The page: a label, the code, then the output and/or the figure.
  local head = {pandoc.Span({pandoc.Str(k.label)}, pandoc.Attr('', {'cell-kind'}))}
  if expect_fail then
    head[#head + 1] = pandoc.Space()
    head[#head + 1] = pandoc.Span({pandoc.Str(string.format('exit status %d, as expected', status))},
      pandoc.Attr('', {'cell-status'}))
  end
  head[#head + 1] = pandoc.Space()
  head[#head + 1] = pandoc.Span({pandoc.Str(string.format('%.2f s', seconds))},
    pandoc.Attr('', {'cell-time'}))
  local blocks = {
    pandoc.Div({pandoc.Plain(head)}, pandoc.Attr('', {'cell-head'})),
    pandoc.CodeBlock(code, pandoc.Attr('', {k.lang})),
  }

  local shown = as_terminal(output)
  if #shown > 0 then
    blocks[#blocks + 1] = pandoc.Div({pandoc.CodeBlock(shorten(shown, max_lines, relative(out_path)))},
      pandoc.Attr('', {'cell-output'}))
  end

  if kind == 'gnuplot' then
    local drawn = read_file(work .. '/' .. png)
    if not drawn or #drawn == 0 then
      fail(line, 'the gnuplot cell drew nothing (no ' .. png .. ')', out_path)
    end
    write_file(figs .. '/' .. png, drawn)
    local caption = a.caption and inline_markdown(a.caption) or {}
    -- A Para holding one image whose title starts with "fig:" is a figure.
    blocks[#blocks + 1] = pandoc.Para({pandoc.Image(caption, fig_href .. png, 'fig:')})
  end
  return {pandoc.Div(blocks, pandoc.Attr('cell-' .. name, {'cell', 'cell-' .. kind}))}
end

-- A cell after a failed one: its code, marked as not run.
local function not_run(block)
  local kind = cell_kind(block)
  local label = kind and KINDS[kind].label or 'cell'
  local head = {pandoc.Span({pandoc.Str(label)}, pandoc.Attr('', {'cell-kind'})), pandoc.Space(),
    pandoc.Span({pandoc.Str('not run: a cell above failed')}, pandoc.Attr('', {'cell-status'}))}
  return {pandoc.Div({pandoc.Div({pandoc.Plain(head)}, pandoc.Attr('', {'cell-head'})),
    pandoc.CodeBlock(block.text, pandoc.Attr('', {kind and KINDS[kind].lang or ''}))},
    pandoc.Attr('', {'cell', 'cell-not-run'}))}
end

-- The failed cell: its code, the failure, and the end of its output.
local function failed_cell(block, f)
  local kind = cell_kind(block)
  local label = kind and KINDS[kind].label or 'cell'
  local head = {pandoc.Span({pandoc.Str(label)}, pandoc.Attr('', {'cell-kind'})), pandoc.Space(),
    pandoc.Span({pandoc.Str('FAILED')}, pandoc.Attr('', {'cell-status', 'cell-failed-status'}))}
  local blocks = {
    pandoc.Div({pandoc.Plain(head)}, pandoc.Attr('', {'cell-head'})),
    pandoc.CodeBlock(block.text, pandoc.Attr('', {kind and KINDS[kind].lang or ''})),
    pandoc.Div({pandoc.Para({pandoc.Strong({pandoc.Str('This cell failed:')}), pandoc.Space(),
      pandoc.Code(f.cell_failure)})}, pandoc.Attr('', {'cell-error'})),
  }
  local shown = as_terminal(f.output or '')
  if #shown > 0 then
    blocks[#blocks + 1] = pandoc.Div({pandoc.CodeBlock(shorten(shown, 80, 'the work folder'))},
      pandoc.Attr('', {'cell-output'}))
  end
  return {pandoc.Div(blocks, pandoc.Attr('', {'cell', 'cell-failed'}))}
end

-- ------------------------------------------------------------ navigation

local weave_loaded = false
local function page_title(path)
  if not weave_loaded then
    dofile(root .. '/docs/weave.lua')
    weave_loaded = true
  end
  local text = read_file(path)
  if not text then error('execute.lua: cannot read ' .. path, 0) end
  local doc = _G.weave.weave_source({name = path, text = text}, PANDOC_READER_OPTIONS)
  local h = _G.weave.first_title(doc)
  if h then return h.content end
  return {pandoc.Str(_G.weave.page_name(path))}
end

local function nav_entry(path)
  local base = path:match('([^/]*)%.[^./]*$')
  return {href = pandoc.MetaString('../' .. base .. '.html'),
          title = pandoc.MetaInlines(page_title(path))}
end

-- ------------------------------------------------------------------ main

function Pandoc(doc)
  local meta = doc.meta
  notebook_must_not = split_bar(meta['must-not'] and stringify(meta['must-not']))

  local lines = cell_lines(source)
  local index = 0
  local blocks = pandoc.walk_block(pandoc.Div(doc.blocks), {
    CodeBlock = function(block)
      if not block.classes:includes('cell') then return nil end
      index = index + 1
      local line = lines[index]
      if not line then
        error(string.format('%s: cell %d has no opening fence of its own at column 0' ..
          ' (write cells as ```{.sh .cell}, one per fence)', source, index), 0)
      end
      if failure then return not_run(block) end
      local ok, result = pcall(run_cell, block, line)
      if ok then return result end
      if type(result) ~= 'table' or not result.cell_failure then error(result, 0) end
      failure = result
      return failed_cell(block, result)
    end,
  }).content
  if index ~= #lines then
    error(string.format('%s: %d cell fences in the file but %d cells in the document' ..
      ' (is a cell inside another block?)', source, #lines, index), 0)
  end

  local footer = {pandoc.Str('Executed'), pandoc.Space(), pandoc.Str('from'), pandoc.Space(),
    pandoc.Code(source), pandoc.Str(':'), pandoc.Space()}
  local said = failure
    and string.format('%d cells ran in %.1f s; the cell at line %d failed, and the cells' ..
      ' after it did not run.', cells_run, seconds_total, failure.line)
    or string.format('its %d cells ran in %.1f s, and every output and figure on this page' ..
      ' is what they printed and drew.', cells_run, seconds_total)
  footer = pandoc.List(footer) .. pandoc.List(inline_markdown(said))
  blocks[#blocks + 1] = pandoc.Div({pandoc.Para(footer)}, pandoc.Attr('', {'notebook-footer'}))

  local chapter = meta['chapter-source'] and stringify(meta['chapter-source'])
  local next_source = meta['next-source'] and stringify(meta['next-source'])
  if chapter and chapter ~= '' then meta.prev = nav_entry(chapter) end
  if next_source and next_source ~= '' then
    meta.next = nav_entry(next_source)
    meta['next-source'] = nil  -- book.lua would link it from this folder
  end
  if not failure then
    flush_progress(string.format('%d cells ran in %.1f s, every one passed', cells_run, seconds_total))
  end
  return pandoc.Pandoc(blocks, meta)
end
