-- parse.lua: scenario (d), parse only. Decodes the same 3.2 KB heat pump body K times and
-- reads three fields of each (connection_status, indoor_actual_temperature, owner.email).
--   lua5.4 bench/parse.lua podero|cjson K [BODY]
-- Run under callgrind with K and with 0: instructions per body = (I(K) - I(0)) / K.
-- Prints "RESULT mode=... k=K cpu=S" (cpu: os.clock, for the native timing).
local mode, k = arg[1], tonumber(arg[2])
local path = arg[3] or ((arg[0]:match("^(.*)/") or ".") .. "/heat_pump.json")
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

local sink = 0
local c0 = os.clock()
for _ = 1, k do
  local hp = decode(body)
  local status, temp, email = hp.connection_status, hp.indoor_actual_temperature, hp.owner.email
  if status == "ok" and temp and #email > 0 then sink = sink + 1 end
end
local cpu = os.clock() - c0
assert(k == 0 or sink == k, "three reads gave unexpected values")
io.write(string.format("RESULT mode=%s k=%d cpu=%.6f\n", mode, k, cpu))
