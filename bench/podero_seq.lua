-- podero_seq.lua: podero, sequential client:heat_pump calls (one client, one token).
--   lua5.4 bench/podero_seq.lua REFS N
local B = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local podero = require("podero")

local refs = B.refs(arg[1], tonumber(arg[2]))
local st, tally = B.tally()
local client = podero.new({ base_url = B.url, client_id = B.client_id, client_secret = B.client_secret })

local r1 = refs.warm
assert(client:heat_pump(r1[1], r1[2], r1[3]))  -- warm-up: the token and the connection
local w0, c0 = B.now(), B.cpu()
for i = 1, #refs do
  local r = refs[i]
  local hp, err = client:heat_pump(r[1], r[2], r[3])
  if not hp then error(tostring(err)) end
  tally(hp.connection_status, hp.indoor_actual_temperature, hp.owner.email)
end
B.report("podero_seq", #refs, B.now() - w0, B.cpu() - c0, st)
client:close()
