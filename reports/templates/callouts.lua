-- Quarto-style callouts (::: {.callout-note title="..."}) for the embedded renderer.
-- HTML: a div with classes callout + callout-KIND and a title paragraph.
-- Typst: the #callout(kind, title)[...] function of report.typ.
local KINDS = { note = true, tip = true, important = true, warning = true, caution = true }

local function typst_string(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

function Div(el)
  local kind
  for _, c in ipairs(el.classes) do
    local k = c:match("^callout%-(%a+)$")
    if k and KINDS[k] then kind = k end
  end
  if not kind then return nil end
  local blocks = el.content
  local title = el.attributes["title"]
  if not title and #blocks > 0 and blocks[1].t == "Header" then
    title = pandoc.utils.stringify(blocks[1])
    blocks:remove(1)
  end
  if FORMAT:match("typst") then
    local open = '#callout(kind: "' .. kind .. '"'
    if title then open = open .. ', title: ' .. typst_string(title) end
    local out = { pandoc.RawBlock("typst", open .. ")[") }
    for _, b in ipairs(blocks) do table.insert(out, b) end
    table.insert(out, pandoc.RawBlock("typst", "]"))
    return out
  end
  if not el.classes:includes("callout") then el.classes:insert(1, "callout") end
  el.attributes["title"] = nil
  if title then
    blocks:insert(1, pandoc.Div({ pandoc.Plain({ pandoc.Str(title) }) }, pandoc.Attr("", { "callout-title" })))
  end
  el.content = blocks
  return el
end
