-- lua_socket.lua: what a Lua 5.4 user writes with Debian's lua-socket + lua-cjson.
-- socket.http has no keep-alive: every request opens a new connection ("Connection: close").
--   lua5.4 bench/lua_socket.lua REFS N
local B = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local http = require("socket.http")
local ltn12 = require("ltn12")
local cjson = require("cjson")

local refs = B.refs(arg[1], tonumber(arg[2]))
local headers = { ["Authorization"] = "Bearer " .. assert(B.token, "BENCH_TOKEN"), ["Accept"] = "application/json" }
local st, tally = B.tally()

local function get(r)
  local chunks = {}
  local ok, code = http.request({ url = B.url .. B.path(r), headers = headers, sink = ltn12.sink.table(chunks) })
  if ok ~= 1 or code ~= 200 then error("lua_socket: " .. tostring(code)) end
  return cjson.decode(table.concat(chunks))
end

get(refs.warm)  -- warm-up (same as the others; no connection survives here)
local w0, c0 = B.now(), B.cpu()
for i = 1, #refs do
  local hp = get(refs[i])
  tally(hp.connection_status, hp.indoor_actual_temperature, hp.owner.email)
end
B.report("lua_socket", #refs, B.now() - w0, B.cpu() - c0, st)
