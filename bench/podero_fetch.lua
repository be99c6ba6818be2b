-- podero_fetch.lua: podero, client:fetch_heat_pumps(refs, { concurrency = C }).
--   lua5.4 bench/podero_fetch.lua REFS N C
local B = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local podero = require("podero")

local refs = B.refs(arg[1], tonumber(arg[2]))
local conc = tonumber(arg[3] or 32)
local st, tally = B.tally()
local client = podero.new({ base_url = B.url, client_id = B.client_id, client_secret = B.client_secret })
if type(client.fetch_heat_pumps) ~= "function" then
  B.na("podero_fetch", "client.fetch_heat_pumps is nil")
  os.exit(0)
end

local r1 = refs.warm
assert(client:heat_pump(r1[1], r1[2], r1[3]))  -- warm-up: the token (connections: in the run, as c_multi)
local w0, c0 = B.now(), B.cpu()
local hps, errs, failed = client:fetch_heat_pumps(refs, { concurrency = conc })
if failed ~= 0 then
  for i = 1, #refs do if errs[i] then error("podero_fetch: " .. failed .. " failed; first: " .. tostring(errs[i])) end end
end
for i = 1, #refs do
  local hp = hps[i]
  tally(hp.connection_status, hp.indoor_actual_temperature, hp.owner.email)
end
B.report("podero_fetch", #refs, B.now() - w0, B.cpu() - c0, st)
client:close()
