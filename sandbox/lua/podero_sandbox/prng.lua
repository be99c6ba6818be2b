-- Deterministic integer PRNG (32-bit LCG, Numerical Recipes constants), exact on
-- Lua 5.1/LuaJIT doubles and Lua 5.3+/5.4 integers alike (all products < 2^53).
-- Only the high 16 bits of the state are used.
local floor, format = math.floor, string.format
local M = {}
local P = {}
P.__index = P

local MOD = 4294967296

-- mix a list of small non-negative integers into a 32-bit seed
function M.seed_of(...)
  local s = 2166136261
  local n = select("#", ...)
  for i = 1, n do
    local v = select(i, ...) % MOD
    s = (s * 31 + v) % MOD          -- s*31 < 2^37
    s = (s * 69069 + 12345) % MOD    -- < 2^49
  end
  return s
end

function M.new(seed)
  local self = setmetatable({ s = seed % MOD }, P)
  for _ = 1, 4 do self:next16() end
  return self
end

function P:next16()
  self.s = (self.s * 1664525 + 1013904223) % MOD
  return floor(self.s / 65536)
end

-- integer in [0, n), n <= 65536
function P:int(n)
  return floor(self:next16() * n / 65536)
end

-- integer in [a, b]
function P:range(a, b)
  local n = b - a + 1
  if n <= 65536 then return a + self:int(n) end
  local hi = self:next16() * 65536 + self:next16() -- 32 bits
  return a + hi % n
end

function P:chance(pct) return self:int(100) < pct end
function P:pick(t) return t[self:int(#t) + 1] end

-- weighted pick: list of {value, weight}
function P:wpick(t)
  local total = 0
  for _, e in ipairs(t) do total = total + e[2] end
  local r = self:int(total)
  for _, e in ipairs(t) do
    if r < e[2] then return e[1] end
    r = r - e[2]
  end
  return t[#t][1]
end

function P:hex(n)
  local out = {}
  for i = 1, n do out[i] = format("%x", self:int(16)) end
  return table.concat(out)
end

-- RFC 4122 version-4-looking UUID, lower case
function P:uuid()
  local h = self:hex(32)
  local variant = ({ "8", "9", "a", "b" })[self:int(4) + 1]
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-" .. variant
      .. h:sub(18, 20) .. "-" .. h:sub(21, 32)
end

return M
