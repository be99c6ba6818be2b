#!/usr/bin/env lua5.4
--- partners_day.lua: the day of a partner that signs up a customer.
--
-- usage: lua5.4 examples/partners_day.lua ORG_ID [EMAIL]
--
-- 1. creates a user (EMAIL, default a new partners-day-<time>@example.com address),
-- 2. a building for them, 3. an energy contract for the building,
-- 4. a device onboarding session, and prints the URL the customer opens to connect a device;
-- 5. SANDBOX ONLY (a loopback PODERO_BASE_URL, i.e. `make sandbox`): completes the onboarding
--    through the sandbox's control endpoint POST /_sandbox/onboarding/{id}/complete, as if the
--    customer had connected an electric vehicle (the real Podero has no such endpoint: there the
--    customer does it, and the partner polls client:onboarding_session until object_id is set);
-- 6. reads the session again, and prints the user's electric vehicles, inverters and heat pumps.
--
-- Credentials come from the environment:
--   PODERO_BASE_URL       default https://app.podero.com
--   PODERO_CLIENT_ID, PODERO_CLIENT_SECRET        (client credentials), or
--   PODERO_USERNAME, PODERO_PASSWORD              (password grant)
-- Exit status: 0 done, 1 an API error (one line on stderr), 2 bad usage.
local podero = require("podero")

local env, fmt = os.getenv, string.format
local org_id = arg[1] or env("PODERO_ORG_ID")
if not org_id then
  io.stderr:write("usage: partners_day.lua ORG_ID [EMAIL]  (or set PODERO_ORG_ID)\n")
  os.exit(2)
end
local email = arg[2] or fmt("partners-day-%d-%d@example.com", os.time(), math.floor(os.clock() * 1e6))

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

-- every step: the answer, or one line naming the step and the error, and exit 1
local function step(what, value, err)
  if value == nil then
    io.stderr:write(what, " failed: ", tostring(err), "\n")
    if type(err) == "table" and err.status == 422 then
      io.stderr:write("(the server refused the fields: see the message above)\n")
    end
    os.exit(1)
  end
  return value
end

-- 1-3: the customer, their home and their energy contract
local user = step("create_user", client:create_user(org_id, {
  role = "user", email = email, first_name = "Ada", last_name = "Lovelace",
  street_and_number = "Hauptstrasse 1", zip_code = "1010", town = "Wien", country = "AT",
}))
print(fmt("user       %s  %s", user.id, user.email))

local building = step("create_building", client:create_building(org_id, user.id, {
  name = "Home", property_type = "house", num_occupants = 3, photovoltaic = true,
  street_and_number = "Hauptstrasse 1", zip_code = "1010", town = "Wien", country = "AT",
}))
print(fmt("building   %s  %s", building.id, building.name))

local now = os.time()
local contract = step("create_energy_contract", client:create_energy_contract(org_id, user.id, {
  energy_contract_type = "spot_hourly", building_id = building.id, supplier = "Example Energie",
  currency_energy_price = "EUR", energy_price_includes_external_components = false,
  energy_prices = { { price = 0.21, timestamp = now - now % 3600 }, { price = 0.19, timestamp = now - now % 3600 + 3600 } },
}))
print(fmt("contract   %s  %s", contract.id, contract.energy_contract_type))

-- 4: the onboarding session: the customer opens authentication_url and connects a device
local session = step("create_onboarding_session", client:create_onboarding_session({
  user_id = user.id, building_id = building.id, device_type = "ev", language = "de",
  success_url = "https://partner.example/podero/done", cancel_url = "https://partner.example/podero/cancel",
}))
print(fmt("onboarding %s  open %s", session.id, podero.redact(session.authentication_url)))

-- 5: SANDBOX ONLY: the local sandbox's control endpoint plays the customer
local base = opts.base_url or ""
if base:match("^https?://127%.0%.0%.1[:/]") or base:match("^https?://localhost[:/]") or base:match("^https?://127%.0%.0%.1$") then
  local cmd = fmt("curl --noproxy '*' -sS -o /dev/null -w '%%{http_code}' -X POST -H 'Content-Type: application/json' "
    .. "-d '{\"device_type\":\"ev\"}' '%s/_sandbox/onboarding/%s/complete'", base, session.id)
  local p = io.popen(cmd)
  local code = p and p:read("a") or ""
  if p then p:close() end
  if code ~= "200" and code ~= "201" then
    io.stderr:write("sandbox: completing the onboarding answered HTTP ", code, "\n")
    os.exit(1)
  end
  print("sandbox    onboarding completed by the sandbox's control endpoint (an electric vehicle)")
else
  print("(not a local sandbox: the customer connects the device; poll client:onboarding_session)")
end

-- 6: what the user has now
session = step("onboarding_session", client:onboarding_session(session.id))
print(fmt("onboarding %s  device %s", session.id, tostring(session.object_id or "not connected yet")))

local evs = step("electric_vehicles", client:electric_vehicles(org_id, user.id))
for _, ev in podero.ipairs(evs) do
  print(fmt("ev         %s  battery %s %%, plugged in %s, boost %s", ev.id, tostring(ev.battery_level),
    tostring(ev.is_plugged_in), tostring(ev.boost_state)))
end
local inverters = step("inverters", client:inverters(org_id, user.id))
for _, iv in podero.ipairs(inverters) do
  print(fmt("inverter   %s  solar %s W", iv.id, tostring(iv.current_solar_production_w)))
end
local hps = step("heat_pumps", client:heat_pumps(org_id, user.id))
for _, hp in podero.ipairs(hps) do
  print(fmt("heat pump  %s  %s", hp.id, tostring(hp.connection_status)))
end
print(fmt("devices    %d electric vehicles, %d inverters, %d heat pumps", #evs, #inverters, #hps))
client:close()
