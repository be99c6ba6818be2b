#!/usr/bin/env lua5.4
--- fleet_watch.lua: a service that watches a fleet with one long-lived client.
--
-- Every pass: lists the organisation's heat pumps, fetches them all concurrently, retries the
-- few that failed in a small second batch, and prints one line: how many are ok, in error,
-- need an action, and which changed their connection status since the last pass. Between
-- passes it sleeps. One client serves every pass (its connections and token are reused), as a
-- service would run for days. Stops after PASSES passes (0: until interrupted).
--
-- usage: lua5.4 examples/fleet_watch.lua ORG_ID [PASSES [INTERVAL_SECONDS [CONCURRENCY]]]
-- credentials: PODERO_BASE_URL, PODERO_CLIENT_ID + PODERO_CLIENT_SECRET
--              (or PODERO_USERNAME + PODERO_PASSWORD); ORG_ID may come from PODERO_ORG_ID.
local podero = require("podero")

local env, fmt = os.getenv, string.format
local org_id = arg[1] or env("PODERO_ORG_ID")
local passes = tonumber(arg[2] or "3")
local interval = tonumber(arg[3] or "10")
local concurrency = tonumber(arg[4] or "32")
if not org_id or not passes or not interval or not concurrency then
  io.stderr:write("usage: fleet_watch.lua ORG_ID [PASSES [INTERVAL_SECONDS [CONCURRENCY]]]\n")
  os.exit(2)
end

local opts = { base_url = env("PODERO_BASE_URL") }
if env("PODERO_USERNAME") then
  opts.username, opts.password = env("PODERO_USERNAME"), env("PODERO_PASSWORD")
else
  opts.client_id, opts.client_secret = env("PODERO_CLIENT_ID"), env("PODERO_CLIENT_SECRET")
end
local ok, client = pcall(podero.new, opts)
if not ok then
  io.stderr:write(tostring(client), "\n")
  os.exit(2)
end

-- the references of every live heat pump of the organisation, or nil, err
local function fleet()
  local users, err = client:users(org_id)
  if not users then return nil, err end
  local refs = {}
  for _, user in ipairs(users) do
    local pumps, perr = client:heat_pumps(org_id, user.id)
    if not pumps then return nil, perr end
    for _, hp in ipairs(pumps) do refs[#refs + 1] = { org_id, user.id, hp.id } end
  end
  return refs
end

local last_status = {} -- heat pump id -> connection_status at the last pass
local pass = 0
while passes == 0 or pass < passes do
  pass = pass + 1
  local t0 = os.time()
  local refs, err = fleet()
  if not refs then
    print(fmt("pass %d: listing failed: %s", pass, tostring(err)))
  else
    local hps, errs, failed = client:fetch_heat_pumps(refs, { concurrency = concurrency })
    -- the few failures again, in a small batch (a busy or restarting server)
    local retry, at = {}, {}
    for i = 1, #refs do
      if errs[i] and errs[i].kind ~= "http" then retry[#retry + 1], at[#retry + 1] = refs[i], i end
    end
    if #retry > 0 then
      local again, errs2 = client:fetch_heat_pumps(retry, { concurrency = 2 })
      for k, i in ipairs(at) do
        if again[k] then hps[i], errs[i], failed = again[k], nil, failed - 1 else errs[i] = errs2[k] end
      end
    end
    local n_ok, n_error, n_action, changed = 0, 0, 0, {}
    for i = 1, #refs do
      local hp = hps[i]
      if hp then
        if hp.connection_status == "ok" then n_ok = n_ok + 1 end
        if hp.connection_status == "error" then n_error = n_error + 1 end
        if hp.action_needed then n_action = n_action + 1 end
        local before = last_status[hp.id]
        if before and before ~= hp.connection_status then
          changed[#changed + 1] = fmt("%s %s->%s", hp.id:sub(1, 8), before, hp.connection_status)
        end
        last_status[hp.id] = hp.connection_status
      end
    end
    print(fmt("pass %d: %d heat pumps, %d ok, %d in error, %d need an action, %d failed (%d retried)%s [%d s]",
      pass, #refs, n_ok, n_error, n_action, failed, #retry,
      #changed > 0 and ("; changed: " .. table.concat(changed, ", ")) or "", os.time() - t0))
    for i = 1, #refs do
      if errs[i] then print(fmt("  failed %s: %s", refs[i][3], tostring(errs[i]))) end
    end
  end
  io.stdout:flush()
  if passes == 0 or pass < passes then
    os.execute(fmt("sleep %g", interval))
  end
end
local st = client:stats()
print(fmt("%d passes: %d API requests, %d token requests", pass, st.api_requests, st.token_requests))
client:close()
