-- mem.lua: scenario (c), memory. Holds K heat pumps (the same 3.2 KB body parsed K times),
-- three fields read from each, then measures after a full collection:
--   lua_kb  collectgarbage("count") minus the count before (the Lua heap only; podero's
--           parsed documents are malloc'd in C and are NOT in this number)
--   rss_kb  VmRSS minus VmRSS before (everything held: Lua heap + C heap)
--   hwm_kb  VmHWM (peak RSS of the process, absolute)
--   lua5.4 bench/mem.lua podero|cjson K [READS [BODY]]
-- READS: "3" (default: connection_status, indoor_actual_temperature, owner.email) or "all" (every
-- field of the heat pump read once more with pairs(), so every nested object is made too).
local mode, k, reads = arg[1], tonumber(arg[2]), arg[3] or "3"
local path = arg[4] or ((arg[0]:match("^(.*)/") or ".") .. "/heat_pump.json")
local f = assert(io.open(path, "rb"))
local body = f:read("a")
f:close()

local decode
if mode == "podero" then
  local parse = require("podero.core").parse
  decode = function(s) return parse(s, "heat_pump") end
elseif mode == "cjson" then
  decode = require("cjson").decode
else
  error("mode must be podero or cjson")
end

local function status_kb(name)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. name .. ":%s+(%d+) kB")
    if v then return tonumber(v) end
  end
end

local held = {}
for i = 1, k do held[i] = false end   -- the array itself is in the baseline
collectgarbage("collect"); collectgarbage("collect")
local lua0, rss0 = collectgarbage("count"), status_kb("VmRSS")

local sink = 0
for i = 1, k do
  local hp = decode(body)
  local status, temp, email = hp.connection_status, hp.indoor_actual_temperature, hp.owner.email
  if status == "ok" and temp and #email > 0 then sink = sink + 1 end
  if reads == "all" then
    local n = 0
    for name in pairs(hp) do
      local _ = hp[name]           -- read by name, as a script does: nested objects are kept
      n = n + 1
    end
    assert(n >= 60, "pairs() gave too few fields")
  end
  held[i] = hp
end
collectgarbage("collect"); collectgarbage("collect")
local lua1, rss1, hwm = collectgarbage("count"), status_kb("VmRSS"), status_kb("VmHWM")
assert(sink == k and #held == k)
io.write(string.format("RESULT mode=%s k=%d reads=%s lua_kb=%.1f rss_kb=%d hwm_kb=%d\n",
  mode, k, reads, lua1 - lua0, rss1 - rss0, hwm))
