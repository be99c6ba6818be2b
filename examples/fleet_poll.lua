#!/usr/bin/env lua5.4
--- fleet_poll.lua: one polling pass over an organisation's fleet.
--
-- Lists the users of an organisation and their heat pumps, fetches every heat pump's
-- details concurrently (client:fetch_heat_pumps), and prints a summary: counts by
-- connection and steering status, and the devices that need an action. A progress line
-- goes to stderr while it runs.
--
-- usage: lua5.4 examples/fleet_poll.lua ORG_ID [CONCURRENCY]
-- credentials: PODERO_BASE_URL, PODERO_CLIENT_ID + PODERO_CLIENT_SECRET
--              (or PODERO_USERNAME + PODERO_PASSWORD); ORG_ID may come from PODERO_ORG_ID.
local podero = require("podero")

local env = os.getenv
local org_id = arg[1] or env("PODERO_ORG_ID")
local concurrency = tonumber(arg[2] or "32")
if not org_id or not concurrency then
  io.stderr:write("usage: fleet_poll.lua ORG_ID [CONCURRENCY]\n")
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

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local started = os.time()

-- 1. who is there: the users, then the ids of their heat pumps
local users, err = client:users(org_id)
if not users then fail(err) end
local refs = {}
for i, user in ipairs(users) do
  local pumps, perr = client:heat_pumps(org_id, user.id)
  if not pumps then fail(perr) end
  for _, hp in ipairs(pumps) do
    refs[#refs + 1] = { org_id = org_id, user_id = user.id, heat_pump_id = hp.id }
  end
  io.stderr:write(string.format("\rlisting users %d/%d", i, #users))
end
io.stderr:write("\n")

-- 2. every heat pump's details, concurrently
local hps, errs, failed = client:fetch_heat_pumps(refs, {
  concurrency = concurrency,
  progress = function(done, total)
    io.stderr:write(string.format("\rfetching heat pumps %d/%d", done, total))
  end,
})
io.stderr:write("\n")

-- 3. the summary
local by_connection, by_steering, needing = {}, {}, {}
for i = 1, #refs do
  local hp = hps[i]
  if hp then
    by_connection[hp.connection_status] = (by_connection[hp.connection_status] or 0) + 1
    by_steering[hp.steering_status] = (by_steering[hp.steering_status] or 0) + 1
    if hp.action_needed or #hp.actions > 0 then
      local codes = {}
      for _, action in ipairs(hp.actions) do codes[#codes + 1] = action.code end
      needing[#needing + 1] = string.format("  %s  %-24s %s", hp.id,
        hp.owner.email or "-", table.concat(codes, ", "))
    end
  end
end

local function counts(t)
  local parts = {}
  for _, status in ipairs({ "ok", "warning", "error", "unknown" }) do
    parts[#parts + 1] = string.format("%s %d", status, t[status] or 0)
  end
  return table.concat(parts, ", ")
end

print(string.format("organisation %s: %d users, %d heat pumps (%d failed) in %d s",
  org_id, #users, #refs, failed, os.time() - started))
print("connection: " .. counts(by_connection))
print("steering:   " .. counts(by_steering))
print(string.format("needing action: %d", #needing))
for _, line in ipairs(needing) do print(line) end
for i = 1, #refs do
  if errs[i] then print(string.format("  failed %s: %s", refs[i].heat_pump_id, tostring(errs[i]))) end
end
client:close()
