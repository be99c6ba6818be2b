-- The gateway benchmark's handlers (bench/gateway.sh): each request fetches one heat pump from
-- the fixed-body upstream and answers three of its fields. One module, three contenders.
local cjson = require("cjson")

local _M = {}

local UP = os.getenv("GW_UPSTREAM")         -- http://127.0.0.1:PORT (bench/fixed_server.sh)
local TOKEN = os.getenv("GW_TOKEN")         -- the upstream's fixed token (for resty.http)
local ORG = "c871d975-416e-4563-b526-5e1fc9c9e070"
local USER = "19c004ae-e335-471e-a7dc-909929f8b8e2"
local HP = "fdbcff62-b5fa-4d2d-8dff-7f1a1468001a"
local PATH = "/api/partners/v2.0/org/" .. ORG .. "/users/" .. USER .. "/heat-pumps/" .. HP

local function answer(status, temp, email)
  ngx.say(status, " ", tostring(temp), " ", email)
end

-- lua-resty-http request_uri (keep-alive pool) + cjson.decode: what OpenResty users write
function _M.resty()
  local httpc = require("resty.http").new()
  local res, err = httpc:request_uri(UP .. PATH, {
    headers = { ["Authorization"] = "Bearer " .. TOKEN, ["Accept"] = "application/json" },
    keepalive_timeout = 60000, keepalive_pool = 64,
  })
  if not res then ngx.status = 502; return ngx.say(err) end
  local t = cjson.decode(res.body)
  answer(t.connection_status, t.indoor_actual_temperature, t.owner.email)
end

-- podero (inside nginx: podero.ngx)
local client
function _M.podero()
  client = client or require("podero").new({ base_url = UP, client_id = "bench", client_secret = "bench",
    token_cache = ngx.shared.podero_tokens })
  local hp, err = client:heat_pump(ORG, USER, HP)
  if not hp then ngx.status = 502; return ngx.say(tostring(err)) end
  answer(hp.connection_status, hp.indoor_actual_temperature, hp.owner.email)
end

-- GET /fleet?n=1000&c=32: fetch_heat_pumps of n heat pumps of the sandbox (50 ms each) from a
-- handler; answers the seconds it took and the failures
local fleet_client
function _M.fleet()
  local sb = os.getenv("GW_SANDBOX")
  fleet_client = fleet_client or require("podero").new({ base_url = sb, client_id = "sandbox-client",
    client_secret = "sandbox-secret", token_cache = ngx.shared.podero_tokens })
  local n, c = tonumber(ngx.var.arg_n) or 1000, tonumber(ngx.var.arg_c) or 32
  local refs, all = {}, {}
  local f = assert(io.open(os.getenv("GW_REFS"), "r"))
  for line in f:lines() do
    local o, u, h = line:match("^(%S+)%s+(%S+)%s+(%S+)")
    if o then all[#all + 1] = { o, u, h } end
  end
  f:close()
  for i = 1, n do refs[i] = all[(i - 1) % #all + 1] end
  assert(fleet_client:heat_pump(refs[1][1], refs[1][2], refs[1][3])) -- the token, outside the timing
  ngx.update_time()
  local t0 = ngx.now()
  local _, _, failed = fleet_client:fetch_heat_pumps(refs, { concurrency = c })
  ngx.update_time()
  ngx.say(cjson.encode({ seconds = ngx.now() - t0, failed = failed, n = n, concurrency = c }))
end

return _M
