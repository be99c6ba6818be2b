-- lua_curl.lua: Lua 5.1 + Debian's lua-curl (luacurl 0.3: require "curl"; Debian 12 ships
-- no Lua-cURLv3) + lua-cjson. One reused easy handle: keep-alive. The body is collected in a
-- table of chunks, concatenated and decoded.
--   lua5.1 bench/lua_curl.lua REFS N
local B = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local curl = require("curl")
local cjson = require("cjson")
local concat = table.concat

local refs = B.refs(arg[1], tonumber(arg[2]))
local st, tally = B.tally()

local h = curl.easy_init()
local chunks, nc = {}, 0
h:setopt(curl.OPT_HTTPHEADER, { "Authorization: Bearer " .. assert(B.token, "BENCH_TOKEN"), "Accept: application/json" })
h:setopt(curl.OPT_NOSIGNAL, 1)
h:setopt(curl.OPT_TCP_NODELAY, 1)
h:setopt(curl.OPT_FAILONERROR, 1)
h:setopt(curl.OPT_WRITEFUNCTION, function(buf, n)
  nc = nc + 1
  chunks[nc] = buf
  return n
end)

local function get(r)
  nc = 0
  h:setopt(curl.OPT_URL, B.url .. B.path(r))
  local code, msg = h:perform()
  if code ~= 0 then error("lua_curl: " .. tostring(code) .. " " .. tostring(msg)) end
  local body = concat(chunks, "", 1, nc)
  return cjson.decode(body)
end

get(refs.warm)  -- warm-up: the connection
local w0, c0 = B.now(), B.cpu()
for i = 1, #refs do
  local hp = get(refs[i])
  tally(hp.connection_status, hp.indoor_actual_temperature, hp.owner.email)
end
B.report("lua_curl", #refs, B.now() - w0, B.cpu() - c0, st)
