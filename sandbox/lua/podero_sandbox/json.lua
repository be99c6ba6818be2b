-- Minimal ordered JSON encoder/decoder (pure Lua, works on Lua 5.1/LuaJIT and 5.4).
--
-- Values:
--   strings, booleans, numbers            -> as usual (integral numbers print as integers)
--   M.null                                -> null
--   M.raw("21.50")                        -> the literal text, verbatim (used for number literals)
--   M.obj()  (ordered object, o:add(k,v)) -> {"k":v,...} in insertion order
--   M.array({...}) or a plain sequence    -> [...]
--   a plain table with string keys        -> object with keys sorted (deterministic)
--   an empty plain table                  -> []
local M = {}

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local format, char, sub, gsub, find = string.format, string.char, string.sub, string.gsub, string.find
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge

local NULL = setmetatable({}, { __tostring = function() return "null" end })
M.null = NULL

local RAW_MT, OBJ_MT, ARR_MT = {}, {}, {} -- luacheck: ignore 231 (OBJ_MT: reserved, unused)

function M.raw(s) return setmetatable({ text = s }, RAW_MT) end
function M.is_raw(v) return type(v) == "table" and getmetatable(v) == RAW_MT end

local Obj = {}
Obj.__index = Obj
OBJ_MT = Obj
function M.obj() return setmetatable({ keys = {}, vals = {} }, Obj) end
function M.is_obj(v) return type(v) == "table" and getmetatable(v) == Obj end
function Obj:add(k, v)
  if v == nil then error("json.obj:add(" .. tostring(k) .. ", nil): use json.null", 2) end
  if self.vals[k] == nil then self.keys[#self.keys + 1] = k end
  self.vals[k] = v
  return self
end
Obj.set = Obj.add
function Obj:get(k) return self.vals[k] end
function Obj:len() return #self.keys end

function M.array(t) return setmetatable(t or {}, ARR_MT) end
function M.is_array(v) return type(v) == "table" and getmetatable(v) == ARR_MT end

local esc = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
              ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
for i = 0, 31 do
  local c = char(i)
  if not esc[c] then esc[c] = format("\\u%04x", i) end
end
esc[char(127)] = "\\u007f"

local function enc_string(s)
  return '"' .. gsub(s, '[%c"\\]', esc) .. '"'
end
M.encode_string = enc_string

local function enc_number(n)
  if n ~= n or n == huge or n == -huge then error("json: cannot encode NaN/inf") end
  if floor(n) == n and n > -9007199254740992 and n < 9007199254740992 then
    return format("%d", n)
  end
  for p = 14, 17 do
    local s = format("%." .. p .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end
M.encode_number = enc_number

local encode

local function enc_table(v, buf)
  local mt = getmetatable(v)
  if v == NULL then buf[#buf + 1] = "null"; return end
  if mt == RAW_MT then buf[#buf + 1] = v.text; return end
  if mt == Obj then
    buf[#buf + 1] = "{"
    for i, k in ipairs(v.keys) do
      if i > 1 then buf[#buf + 1] = "," end
      buf[#buf + 1] = enc_string(k)
      buf[#buf + 1] = ":"
      encode(v.vals[k], buf)
    end
    buf[#buf + 1] = "}"
    return
  end
  if mt == ARR_MT or next(v) == nil or v[1] ~= nil then
    buf[#buf + 1] = "["
    for i = 1, #v do
      if i > 1 then buf[#buf + 1] = "," end
      encode(v[i], buf)
    end
    buf[#buf + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  buf[#buf + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then buf[#buf + 1] = "," end
    buf[#buf + 1] = enc_string(k)
    buf[#buf + 1] = ":"
    encode(v[k], buf)
  end
  buf[#buf + 1] = "}"
end

encode = function(v, buf)
  local t = type(v)
  if t == "string" then buf[#buf + 1] = enc_string(v)
  elseif t == "number" then buf[#buf + 1] = enc_number(v)
  elseif t == "boolean" then buf[#buf + 1] = v and "true" or "false"
  elseif t == "table" then enc_table(v, buf)
  elseif t == "nil" then buf[#buf + 1] = "null"
  else error("json: cannot encode " .. t) end
end

function M.encode(v)
  local buf = {}
  encode(v, buf)
  return concat(buf)
end

---------------------------------------------------------------------------
-- Decoder: objects -> M.obj() (order kept), arrays -> M.array(), null -> M.null.
-- Returns value or nil, error message.
---------------------------------------------------------------------------
local function utf8_char(cp)
  if cp < 0x80 then return char(cp)
  elseif cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
  elseif cp < 0x10000 then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  else
    return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
                0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
end

local unesc = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

-- keep_literals: strings and numbers come back as M.raw(literal text), so that re-encoding a
-- document changes nothing but what was set in it (the sandbox's partial PUT)
function M.decode(s, max_depth, keep_literals)
  if type(s) ~= "string" then return nil, "body is not a string" end
  max_depth = max_depth or 64
  local pos = 1
  local len = #s
  local function fail(msg) error({ msg = msg .. " at byte " .. pos }, 0) end
  local function ws()
    local _, e = find(s, "^[ \t\r\n]*", pos)
    pos = e + 1
  end
  local value
  local function str()
    pos = pos + 1 -- opening quote
    local parts = {}
    while true do
      local a, b = find(s, '^[^"\\%z\1-\31]+', pos)
      if a then parts[#parts + 1] = sub(s, a, b); pos = b + 1 end
      local c = sub(s, pos, pos)
      if c == '"' then pos = pos + 1; return concat(parts)
      elseif c == "\\" then
        local e = sub(s, pos + 1, pos + 1)
        if unesc[e] then parts[#parts + 1] = unesc[e]; pos = pos + 2
        elseif e == "u" then
          local h = sub(s, pos + 2, pos + 5)
          if not find(h, "^%x%x%x%x$") then fail("bad \\u escape") end
          local cp = tonumber(h, 16)
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF and sub(s, pos, pos + 1) == "\\u" then
            local h2 = sub(s, pos + 2, pos + 5)
            local lo = find(h2, "^%x%x%x%x$") and tonumber(h2, 16)
            if lo and lo >= 0xDC00 and lo <= 0xDFFF then
              cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
              pos = pos + 6
            end
          end
          parts[#parts + 1] = utf8_char(cp)
        else fail("bad escape") end
      elseif c == "" then fail("unterminated string")
      else fail("control character in string") end
    end
  end
  value = function(depth)
    if depth > max_depth then fail("too deeply nested") end
    ws()
    local c = sub(s, pos, pos)
    if c == "{" then
      pos = pos + 1
      local o = M.obj()
      ws()
      if sub(s, pos, pos) == "}" then pos = pos + 1; return o end
      while true do
        ws()
        if sub(s, pos, pos) ~= '"' then fail("expected string key") end
        local k = str()
        ws()
        if sub(s, pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        o:add(k, value(depth + 1))
        ws()
        local d = sub(s, pos, pos)
        pos = pos + 1
        if d == "}" then return o end
        if d ~= "," then pos = pos - 1; fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      pos = pos + 1
      local a = M.array()
      ws()
      if sub(s, pos, pos) == "]" then pos = pos + 1; return a end
      while true do
        a[#a + 1] = value(depth + 1)
        ws()
        local d = sub(s, pos, pos)
        pos = pos + 1
        if d == "]" then return a end
        if d ~= "," then pos = pos - 1; fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      if not keep_literals then return str() end
      local start = pos
      str()
      return M.raw(sub(s, start, pos - 1))
    elseif sub(s, pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif sub(s, pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif sub(s, pos, pos + 3) == "null" then pos = pos + 4; return NULL
    else
      local a, b = find(s, "^-?%d+", pos)
      if not a then fail("unexpected token") end
      if find(sub(s, a, b), "^-?0%d") then fail("leading zero in number") end
      local p = b + 1
      local a2, b2 = find(s, "^%.%d+", p)
      if a2 then p = b2 + 1 elseif sub(s, p, p) == "." then fail("bad number") end
      local a3, b3 = find(s, "^[eE][-+]?%d+", p)
      if a3 then p = b3 + 1 elseif find(s, "^[eE]", p) then fail("bad number") end
      local lit = sub(s, pos, p - 1)
      pos = p
      if keep_literals then return M.raw(lit) end
      return tonumber(lit)
    end
  end
  local ok, res = pcall(function()
    local v = value(1)
    ws()
    if pos <= len then fail("trailing garbage") end
    return v
  end)
  if ok then return res end
  if type(res) == "table" then return nil, res.msg end
  return nil, tostring(res)
end

-- Convert a decoded value to plain Lua (objects -> plain tables, null -> nil). Used for config.
function M.get(o, k)
  if M.is_obj(o) then
    local v = o.vals[k]
    if v == NULL then return nil end
    return v
  end
  return nil
end

return M
