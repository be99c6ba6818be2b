#!/usr/bin/env lua5.4
--- fleet_status.lua: a readable table of the heat pumps of one user, or of a whole organisation.
--
-- usage: lua5.4 examples/fleet_status.lua ORG_ID [USER_ID]
--
-- Credentials come from the environment:
--   PODERO_BASE_URL       default https://app.podero.com
--   PODERO_CLIENT_ID, PODERO_CLIENT_SECRET        (client credentials), or
--   PODERO_USERNAME, PODERO_PASSWORD              (password grant)
-- ORG_ID and USER_ID may also come from PODERO_ORG_ID and PODERO_USER_ID.
local podero = require("podero")

local env = os.getenv
local org_id = arg[1] or env("PODERO_ORG_ID")
local user_id = arg[2] or env("PODERO_USER_ID")
if not org_id then
  io.stderr:write("usage: fleet_status.lua ORG_ID [USER_ID]  (or set PODERO_ORG_ID / PODERO_USER_ID)\n")
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
  io.stderr:write(tostring(client), "\n",
    "set PODERO_CLIENT_ID and PODERO_CLIENT_SECRET (or PODERO_USERNAME and PODERO_PASSWORD)\n")
  os.exit(2)
end

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

-- The users to show: one, or every user of the organisation.
local users = {}
if user_id then
  users[1] = { id = user_id }
else
  local list, err = client:users(org_id)
  if not list then fail(err) end
  for _, u in ipairs(list) do users[#users + 1] = { id = u.id, email = u.email } end
end

local function num(v, unit)
  if type(v) ~= "number" then return "-" end
  return string.format("%.1f%s", v, unit or "")
end

local function trunc(s, n)
  s = tostring(s or "-")
  if #s > n then return s:sub(1, n - 1) .. "~" end
  return s
end

local row = "%-36s  %-28s  %-7s  %-8s  %7s  %7s  %6s  %s\n"
io.write(string.format(row, "heat pump", "model", "conn", "steering", "indoor", "outdoor", "power", "pending actions"))
io.write(string.rep("-", 120), "\n")

local total, needing = 0, 0
for _, u in ipairs(users) do
  local pumps, err = client:heat_pumps(org_id, u.id)
  if not pumps then fail(err) end
  for _, hp in ipairs(pumps) do
    total = total + 1
    local model = "(no device model)"
    if hp.device_model then
      model = hp.device_model.manufacturer .. " " .. hp.device_model.model
    end
    local codes = {}
    for _, action in ipairs(hp.actions or {}) do codes[#codes + 1] = action.code end
    if #codes > 0 then needing = needing + 1 end
    io.write(string.format(row, hp.id or "?", trunc(model, 28), hp.connection_status,
      hp.steering_status, num(hp.indoor_actual_temperature, "C"), num(hp.outdoor_temperature, "C"),
      hp.current_power_consumption_w and (hp.current_power_consumption_w .. "W") or "-",
      #codes > 0 and table.concat(codes, ", ") or "-"))
  end
end
io.write(string.rep("-", 120), "\n")
io.write(string.format("%d heat pumps of %d user(s); %d with pending actions\n", total, #users, needing))
client:close()
