-- The call swept by failing_alloc.c: a client, a token, a heat pump, every field read, close.
-- Any error raised here (e.g. "not enough memory") ends the run; the script itself checks
-- that a returned error is a podero error (kind set), never a half-made value.
local url, org, user, hp_id = ...
local podero = require("podero")
local c = podero.new({ base_url = url, client_id = "sandbox-client", client_secret = "sandbox-secret",
                       max_retries = 0, timeout = 5, connect_timeout = 5 })
local hp, err = c:heat_pump(org, user, hp_id)
if hp then
  local _ = hp.owner.email, hp.device_model, hp.indoor_actual_temperature, #hp.actions
  for _, a in ipairs(hp.actions) do local _ = a.code, a.resolution_link end
  for _ in podero.fields(hp) do end
  local t = podero.to_table(hp)
  assert(type(t) == "table")
  local s = tostring(hp)
else
  assert(type(err) == "table" and err.kind, "a failed call returned no error table")
  local s = tostring(err)
end
-- an error path too: a heat pump that is not there (404 -> an error table)
local none, err2 = c:heat_pump(org, user, "00000000-0000-4000-8000-000000000000")
assert(none == nil and type(err2) == "table" and err2.kind == "http", "the 404 call did not fail as http")
local _ = tostring(err2)
-- and a parse of a body with nesting (lazy views made under failing allocations)
local doc = require("podero.core").parse('{"a":{"b":[1,2,{"c":"d"}]},"e":null}', "object")
if doc then local _ = doc.a.b[3].c end
local s = tostring(c)
c:close()
c:close()
