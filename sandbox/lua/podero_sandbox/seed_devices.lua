-- Deterministic seed of the rest of the API (issue 12): electric vehicles, inverters, buildings,
-- energy contracts, device-onboarding sessions. Pure Lua like seed.lua.
--
-- Everything here comes from its own PRNG streams (prng.seed_of(21..29, ...)); nothing is drawn
-- from the streams of seed.lua, so the users and heat pumps stay byte for byte as they were.
-- build(model) adds to the model seed.build() made:
--   user.evs / user.evs_by_id, user.ivs / user.ivs_by_id, user.blds / user.blds_by_id,
--   user.ecs (energy contracts), model.sessions / model.sessions_by_id, model.devices_demo
-- Each item is an info table { id =, body = (rendered JSON), deleted =, ... }.
local J = require("podero_sandbox.json")
local prng = require("podero_sandbox.prng")
local seed = require("podero_sandbox.seed")

local format, floor = string.format, math.floor
local null = J.null
local U = seed.util
local ts, rts, dec, NOW = U.ts, U.rts, U.dec, U.NOW

local M = {}

local EV_MODELS = {
  { "Tesla", "Model 3 Long Range", 2021, "Tesla", "https://www.tesla.com/support/tesla-app" },
  { "Volkswagen", "ID.4 Pro", 2022, "We Connect ID.", "https://www.volkswagen.de/de/konnektivitaet.html" },
  { "BMW", "i4 eDrive40", 2023, "My BMW", "https://www.bmw.de/de/topics/faszination-bmw/connecteddrive/my-bmw-app.html" },
  { "Hyundai", "IONIQ 5", 2022, "Bluelink", "https://www.hyundai.com/eu/bluelink.html" },
  { "Renault", "Zoe R135", 2020, "My Renault", "https://www.renault.de/my-renault.html" },
  { "Kia", "EV6", 2023, "Kia Connect", "https://www.kia.com/eu/kia-connect/" },
  { "Škoda", "Enyaq iV 80", 2021, nil, nil },
  { "Volvo", "EX30", nil, "Volvo Cars", "https://www.volvocars.com/app" },
}

local IV_MODELS = {
  { "Fronius", "Symo GEN24 10.0 Plus", 2022, "Solar.web", "https://www.solarweb.com/" },
  { "SMA", "Sunny Tripower X 15", 2023, "Sunny Portal", "https://www.sunnyportal.com/" },
  { "Huawei", "SUN2000-8KTL-M1", 2021, "FusionSolar", "https://eu5.fusionsolar.huawei.com/" },
  { "SolarEdge", "SE10K", 2019, "mySolarEdge", "https://monitoring.solaredge.com/" },
  { "Kostal", "Plenticore plus 8.5", 2020, nil, nil },
  { "GoodWe", "GW10K-ET", nil, "SEMS Portal", "https://www.semsportal.com/" },
}

local STATUS = { { "ok", 75 }, { "warning", 12 }, { "error", 6 }, { "unknown", 7 } }
local STREETS = { "Hauptstraße 12", "Sonnenweg 3a", "Storgatan 45", "Via Roma 7", "Kärntner Ring 5",
                  "Lindenallee 100", "Åsgatan 2" }
local CITIES = { { "Graz", "8010", "AT" }, { "Linz", "4020", "AT" }, { "Uppsala", "753 20", "SE" },
                 { "Freiburg im Breisgau", "79098", "DE" }, { "Zürich", "8001", "CH" }, { "Bolzano", "39100", "IT" } }
local SUPPLIERS = { "Tibber", "Wien Energie", "Vattenfall", "E.ON Energie Deutschland", "aWATTar", "Octopus Energy" }
local CURRENCIES = { AT = "EUR", DE = "EUR", IT = "EUR", SE = "SEK", CH = "CHF" }

local function device_model(kind, list, ix)
  if not ix then return null end
  local m = list[ix]
  local dt = kind == "ev" and J.obj():add("short_name", "electric_vehicle"):add("long_name", "Electric vehicle")
    or J.obj():add("short_name", "inverter"):add("long_name", "Inverter")
  return J.obj()
    :add("device_type", dt)
    :add("cloud_service_instructions", m[4] and ("Open the " .. m[4] .. " app, sign in with the account of the "
      .. (kind == "ev" and "vehicle" or "installation") .. ", then come back here and press \"Connect\".") or null)
    :add("cloud_service_signup_link", m[5] or null)
    :add("manufacturer", m[1])
    :add("model", m[2])
    :add("year", m[3] or null)
    :add("cloud_service", m[4] and prng.new(prng.seed_of(kind == "ev" and 27 or 28, ix)):uuid() or null)
end

local function owner_obj(owner)
  return J.obj()
    :add("id", owner.id)
    :add("email", owner.email)
    :add("first_name", owner.first_name)
    :add("last_name", owner.last_name)
    :add("external_id", owner.external_id)
end

-- the fields every device has, in this order (as the heat pumps start)
-- opts: deleted, building (id or nil), zone, created (seconds), created_at/updated_at (strings,
--   override), status, model (index or false), lifecycle, authenticated
local function common(P, o, kind, id, owner, opts, info)
  local deleted = opts.deleted or false
  local created = opts.created or P:range(U.BASE + 86400 * 60, NOW - 20 * 86400)
  local updated_sec = P:range(created + 3600, NOW - 600)
  local function st() return opts.status or P:wpick(STATUS) end
  o:add("connection_status", st())
  o:add("monitoring_status", st())
  o:add("steering_status", st())
  local list = kind == "ev" and EV_MODELS or IV_MODELS
  local mix = opts.model
  if mix == nil then mix = P:chance(8) and false or (P:int(#list) + 1) end
  o:add("device_model", device_model(kind, list, mix or nil))
  o:add("owner", owner_obj(owner))
  o:add("price_zone", opts.zone or owner.zone or "AT")
  o:add("id", id)
  o:add("created_at", opts.created_at or ts(created, P:range(1, 999999)))
  o:add("updated_at", opts.updated_at or ts(updated_sec, P:range(1, 999999)))
  o:add("deleted_at", deleted and rts(P, updated_sec, NOW - 60) or null)
  local lifecycle = opts.lifecycle or P:wpick({ { "authenticated", 90 }, { "onboarding", 5 }, { "error", 5 } })
  o:add("lifecycle_state", lifecycle)
  o:add("lifecycle_error", lifecycle == "error" and "upstream returned HTTP 401 while refreshing the vehicle token" or null)
  local ext = P:wpick({ { "fmt", 55 }, { "num", 15 }, { "null", 20 }, { "007", 10 } })
  if ext == "fmt" then o:add("external_device_id", format(kind == "ev" and "ev-%05d" or "pv-%05d", P:range(1, 99999)))
  elseif ext == "num" then o:add("external_device_id", format("%d", P:range(10000, 99999)))
  elseif ext == "null" then o:add("external_device_id", null)
  else o:add("external_device_id", "007") end
  o:add("building", opts.building or null)
  local authn = opts.authenticated
  if authn == nil then authn = lifecycle == "authenticated" end
  o:add("is_authenticated", authn)
  local smart = opts.smart
  if smart == nil then smart = P:chance(75) end
  o:add("is_smart_optimization_active", smart)
  o:add("optimization_score", P:chance(20) and null or J.raw(format("0.%02d", P:range(10, 99))))
  info.id, info.deleted, info.has_device_model = id, deleted, mix and true or false
end

---------------------------------------------------------------------------
-- electric vehicle
-- opts (besides common's): state = boost_state, full (bool), strings (bool)
---------------------------------------------------------------------------
function M.make_ev(P, id, owner, opts)
  local info = {}
  local o = J.obj()
  common(P, o, "ev", id, owner, opts, info)
  local strings = opts.strings
  if strings == nil then strings = P:chance(50) end
  local function D(h, dp) if strings then return dec(h, dp) end return dec(h, false) end

  local state = opts.state or P:wpick({ { "available", 35 }, { "requested", 10 }, { "ongoing", 25 }, { "unavailable", 30 } })
  local full = opts.full
  if full == nil then full = state == "unavailable" and P:chance(40) end
  local tmax = P:pick({ 80, 90, 100 })
  local tmin = P:pick({ 10, 20 })
  local plugged, charging, rate, level
  if state == "ongoing" then
    plugged, charging, rate = true, true, P:pick({ 370000, 740000, 1100000, 2200000 })
    level = P:range(tmin * 100, tmax * 100 - 500)
  elseif state == "unavailable" and not full then
    plugged, charging, rate = false, false, 0
    level = P:range(1500, tmax * 100 - 100)
  elseif full then
    plugged, charging, rate = true, false, 0
    level = tmax * 100
  else -- available, requested
    plugged, charging, rate = true, false, 0
    level = P:range(tmin * 100, tmax * 100 - 1000)
  end
  o:add("battery_level", D(level, 2))
  o:add("is_plugged_in", plugged)
  o:add("is_charging", charging)
  o:add("charge_rate_w", D(rate, 0))
  o:add("charge_target_min", D(tmin * 100, 0))
  o:add("charge_target_max", D(tmax * 100, 0))
  local policy = P:chance(70)
  o:add("minimum_charge_limit", D(P:pick({ 2000, 3000, 4000, 5000 }), 0))
  o:add("charge_deadline_at", policy and P:pick({ "06:30", "07:00", "07:15", "08:00" }) or null)
  o:add("is_charge_policy_enabled", policy)
  o:add("charge_policy_last_updated_at", policy and rts(P, NOW - 40 * 86400, NOW - 3600) or null)
  o:add("boost_state", state)
  info.boost_state, info.is_charging, info.is_plugged_in, info.full = state, charging, plugged, full
  info.decimal_strings = strings
  info.battery_level, info.charge_target_max = level / 100, tmax
  return o, info
end

---------------------------------------------------------------------------
-- inverter
-- opts (besides common's): battery (bool), strings (bool)
---------------------------------------------------------------------------
function M.make_inverter(P, id, owner, opts)
  local info = {}
  local o = J.obj()
  common(P, o, "iv", id, owner, opts, info)
  local strings = opts.strings
  if strings == nil then strings = P:chance(50) end
  local function D(h, dp) if strings then return dec(h, dp) end return dec(h, false) end
  local battery = opts.battery
  if battery == nil then battery = P:chance(60) end
  local rating = P:pick({ 500, 800, 980, 1000, 1200, 1500 }) -- hundredths of kW
  local solar = P:range(0, rating * 8) -- W (rating kW * 80 % at most)
  local house = P:range(250, 3200)
  local batt_w = 0
  o:add("solar_power_rating_kw", D(rating, 2))
  o:add("battery_capacity_kwh", battery and D(P:pick({ 512, 768, 1024, 1380 }), 2) or null)
  o:add("is_battery_connected", battery)
  o:add("battery_charge_level_percent", battery and D(P:range(500, 10000), 1) or null)
  if battery then
    batt_w = P:range(-2500, 2500) -- positive = discharging
    o:add("battery_charge_discharge_power_w", D(batt_w * 100, 0))
  else
    o:add("battery_charge_discharge_power_w", null)
  end
  o:add("current_solar_production_w", D(solar * 100, 0))
  o:add("household_consumption_w", D(house * 100, 0))
  o:add("current_power_to_grid_w", D((solar + batt_w - house) * 100, 0)) -- positive = export
  o:add("solar_surplus_w", D((solar > house and solar - house or 0) * 100, 0))
  info.has_battery, info.decimal_strings = battery, strings
  return o, info
end

---------------------------------------------------------------------------
-- building and energy contract
---------------------------------------------------------------------------
local function make_building(P, id, name)
  local city = P:pick(CITIES)
  local strings = P:chance(50)
  local o = J.obj()
    :add("id", id)
    :add("name", name)
    :add("property_type", P:pick({ "single_family_house", "apartment", "terraced_house", "holiday_home" }))
    :add("property_size_m2", P:chance(10) and null or (strings and dec(P:range(60, 240) * 100 + P:pick({ 0, 50 }), 2)
      or dec(P:range(60, 240) * 100, false)))
    :add("property_age", P:chance(15) and null or P:range(1, 80))
    :add("num_occupants", P:range(1, 6))
    :add("occupant_type", P:pick({ "family", "couple", "single", "shared" }))
    :add("space_heating", P:pick({ "heat_pump", "gas", "district_heating", "oil" }))
    :add("water_heating", P:pick({ "heat_pump", "electric_boiler", "gas" }))
    :add("photovoltaic", P:chance(45))
    :add("street_and_number", P:pick(STREETS))
    :add("street_add_info", P:chance(70) and null or format("Top %d", P:range(1, 20)))
    :add("zip_code", city[2])
    :add("town", city[1])
    :add("country", city[3])
  return o, { id = id, name = name, country = city[3] }
end

local function make_contract(P, id, building_obj, country)
  local typ = P:pick({ "spot_hourly", "monthly", "yearly" })
  local prices = J.array({})
  local n = typ == "spot_hourly" and 4 or (typ == "monthly" and 2 or 1)
  local start = floor(NOW / 86400) * 86400
  for i = 1, n do
    local step = typ == "spot_hourly" and 3600 or (typ == "monthly" and 30 * 86400 or 365 * 86400)
    local p = P:range(800, 4200) -- ten-thousandths
    prices[i] = J.obj():add("price", format("%d.%04d", floor(p / 10000), p % 10000))
                       :add("timestamp", ts(start + (i - 1) * step, 0))
  end
  local o = J.obj()
    :add("id", id)
    :add("energy_contract_type", typ)
    :add("energy_prices", prices)
    :add("building_id", building_obj and building_obj:get("id") or null)
    :add("meter_id", P:chance(20) and null or format("AT00%015d", P:range(1, 999999999)))
    :add("supplier", P:pick(SUPPLIERS))
    :add("currency_energy_price", CURRENCIES[country] or "EUR")
    :add("energy_price_includes_external_components", P:chance(50))
    :add("building", building_obj or null)
  return o, { id = id, energy_contract_type = typ, building_id = building_obj and building_obj:get("id") or nil }
end

---------------------------------------------------------------------------
-- onboarding session (meta is kept apart from the answer: device_type etc.)
---------------------------------------------------------------------------
function M.auth_url(id) return "https://connect.podero.com?onboarding_session_id=" .. id end

function M.session_obj(id, user_id, success, cancel, expiration, object_id, external_metadata)
  return J.obj()
    :add("id", id)
    :add("user", user_id)
    :add("authentication_url", M.auth_url(id))
    :add("success_url", success)
    :add("cancel_url", cancel)
    :add("expiration_date", expiration)
    :add("object_id", object_id or null)
    :add("external_metadata", external_metadata or null)
end

-- end of the day after t (UTC), ISO 8601 with Z
function M.end_of_next_day(t) return ts(floor(t / 86400) * 86400 + 2 * 86400 - 1) end

---------------------------------------------------------------------------
-- build
---------------------------------------------------------------------------
local function uuid(...) return prng.new(prng.seed_of(...)):uuid() end

local function add_item(user, list, map, info)
  user[list][#user[list] + 1] = info
  user[map][info.id] = info
end

function M.build(model)
  local demo = {}
  model.sessions, model.sessions_by_id = {}, {}
  for oi, org in ipairs(model.orgs) do
    for ui, user in ipairs(org.users) do
      user.evs, user.evs_by_id, user.ivs, user.ivs_by_id = {}, {}, {}, {}
      user.blds, user.blds_by_id, user.ecs = {}, {}, {}
      local P = prng.new(prng.seed_of(21, oi, ui))
      local is_demo = (org.id == model.demo.org_id and user.id == model.demo.user_id)
      local owner = user

      -- buildings
      local nb = is_demo and 2 or (P:chance(40) and (P:chance(20) and 2 or 1) or 0)
      for bi = 1, nb do
        local BP = prng.new(prng.seed_of(22, oi, ui, bi))
        local name = is_demo and ({ "Einfamilienhaus Graz", "Ferienhaus am See" })[bi]
          or BP:pick({ "Home", "Haus", "Villa Sonnenschein", "Stuga", "Wohnung Top 4", "Casa" })
        local o, info = make_building(BP, uuid(23, oi, ui, bi), name)
        info.body = J.encode(o)
        info.obj = o
        add_item(user, "blds", "blds_by_id", info)
        -- one energy contract per building
        local co, cinfo = make_contract(BP, uuid(24, oi, ui, bi), o, info.country)
        cinfo.body = J.encode(co)
        user.ecs[#user.ecs + 1] = cinfo
      end
      local function building_id()
        if #user.blds == 0 or P:chance(30) then return nil end
        return user.blds[P:int(#user.blds) + 1].id
      end

      -- electric vehicles
      local plans = {}
      if is_demo then
        plans = {
          { state = "available", full = false, strings = true, status = "ok", lifecycle = "authenticated", model = 1, tag = "ev_boostable_id" },
          { state = "ongoing", strings = false, status = "ok", lifecycle = "authenticated", model = 2, tag = "ev_charging_id" },
          { state = "unavailable", full = true, strings = true, status = "ok", lifecycle = "authenticated", model = 3, tag = "ev_full_id" },
          { state = "requested", full = false, strings = false, status = "ok", lifecycle = "authenticated", model = 4, tag = "ev_requested_id" },
          { state = "unavailable", full = false, strings = false, status = "warning", lifecycle = "authenticated", model = 5, tag = "ev_unplugged_id" },
          { state = "available", full = false, strings = true, deleted = true, model = 6, tag = "ev_deleted_id" },
        }
      elseif oi <= 3 and P:chance(35) then
        for _ = 1, (P:chance(25) and 2 or 1) do plans[#plans + 1] = { deleted = user.deleted or P:chance(8) } end
      end
      for ei, plan in ipairs(plans) do
        local EP = prng.new(prng.seed_of(25, oi, ui, ei))
        plan.building = is_demo and (ei <= 2 and user.blds[1].id or nil) or building_id()
        local o, info = M.make_ev(EP, uuid(26, oi, ui, ei), owner, plan)
        info.body = J.encode(o)
        add_item(user, "evs", "evs_by_id", info)
        if plan.tag then demo[plan.tag] = info.id end
      end

      -- inverters
      plans = {}
      if is_demo then
        plans = {
          { battery = true, strings = true, status = "ok", lifecycle = "authenticated", model = 1, tag = "inverter_battery_id" },
          { battery = false, strings = false, status = "ok", lifecycle = "authenticated", model = 2, tag = "inverter_no_battery_id" },
        }
      elseif oi <= 3 and P:chance(25) then
        plans[1] = { deleted = user.deleted or P:chance(8) }
      end
      for ii, plan in ipairs(plans) do
        local IP = prng.new(prng.seed_of(29, oi, ui, ii))
        plan.building = is_demo and user.blds[1].id or building_id()
        local o, info = M.make_inverter(IP, uuid(30, oi, ui, ii), owner, plan)
        info.body = J.encode(o)
        add_item(user, "ivs", "ivs_by_id", info)
        if plan.tag then demo[plan.tag] = info.id end
      end

      if is_demo then
        demo.org_id, demo.user_id = org.id, user.id
        demo.building_id = user.blds[1].id
        demo.energy_contract_id = user.ecs[1].id
      end
    end
  end

  -- onboarding sessions
  local demo_org = model.orgs_by_id[model.demo.org_id]
  local demo_user = demo_org.users_by_id[model.demo.user_id]
  local other_org = model.orgs[2]
  local other_user = other_org.users[1]
  local exp = M.end_of_next_day(NOW - 3600)
  local SESS = {
    { demo_org, demo_user, "ev", nil, nil, "session_pending_ev_id" },
    { demo_org, demo_user, "hp", demo_user.blds[1].id, nil, "session_pending_hp_id" },
    { demo_org, demo_user, "ev", nil, demo.ev_boostable_id, "session_completed_id" },
    { other_org, other_user, "iv", nil, nil, "session_pending_iv_id" },
    { demo_org, demo_user, "wb", nil, nil, "session_pending_wb_id" },
    { demo_org, demo_user, nil, nil, nil, "session_no_type_id" },
  }
  for si, s in ipairs(SESS) do
    local id = uuid(31, si)
    local o = M.session_obj(id, s[2].id, "https://partner.example/onboarding/done?n=" .. si,
      "https://partner.example/onboarding/cancel?n=" .. si, exp, s[5], nil)
    local info = { id = id, org = s[1], user = s[2], device_type = s[3], building_id = s[4],
                   price_zone_default = nil, smart_default = nil, language = "de",
                   completed = s[5] ~= nil, object_id = s[5], body = J.encode(o) }
    model.sessions[#model.sessions + 1] = info
    model.sessions_by_id[id] = info
    demo[s[6]] = id
  end
  model.devices_demo = demo
  return model
end

-- the answer of GET /_sandbox/seed/devices (seed state, not the live state)
function M.describe(model)
  local evs, ivs, blds, ecs, sess = J.array({}), J.array({}), J.array({}), J.array({}), J.array({})
  for _, org in ipairs(model.orgs) do
    for _, u in ipairs(org.users) do
      for _, e in ipairs(u.evs) do
        local expect = "200"
        if e.is_charging or e.boost_state == "ongoing" then expect = "409 already charging"
        elseif e.full then expect = "409 battery is full"
        elseif e.boost_state == "unavailable" then expect = "409 unavailable" end
        if e.deleted or u.deleted then expect = "404" end
        evs[#evs + 1] = J.obj():add("org", org.id):add("user", u.id):add("id", e.id)
          :add("boost_state", e.boost_state):add("is_charging", e.is_charging):add("is_plugged_in", e.is_plugged_in)
          :add("battery_level", e.battery_level):add("charge_target_max", e.charge_target_max)
          :add("deleted", e.deleted):add("user_deleted", u.deleted):add("decimal_strings", e.decimal_strings)
          :add("has_device_model", e.has_device_model):add("boost_expect", expect)
      end
      for _, v in ipairs(u.ivs) do
        ivs[#ivs + 1] = J.obj():add("org", org.id):add("user", u.id):add("id", v.id)
          :add("has_battery", v.has_battery):add("deleted", v.deleted):add("user_deleted", u.deleted)
          :add("decimal_strings", v.decimal_strings):add("has_device_model", v.has_device_model)
      end
      for _, b in ipairs(u.blds) do
        blds[#blds + 1] = J.obj():add("org", org.id):add("user", u.id):add("id", b.id):add("name", b.name)
          :add("user_deleted", u.deleted)
      end
      for _, c in ipairs(u.ecs) do
        ecs[#ecs + 1] = J.obj():add("org", org.id):add("user", u.id):add("id", c.id)
          :add("energy_contract_type", c.energy_contract_type):add("building_id", c.building_id or null)
      end
    end
  end
  for _, s in ipairs(model.sessions) do
    sess[#sess + 1] = J.obj():add("org", s.org.id):add("user", s.user.id):add("id", s.id)
      :add("device_type", s.device_type or null):add("completed", s.completed):add("object_id", s.object_id or null)
  end
  local d = model.devices_demo
  local demo = J.obj()
  for _, k in ipairs({ "org_id", "user_id", "ev_boostable_id", "ev_charging_id", "ev_full_id", "ev_requested_id",
                       "ev_unplugged_id", "ev_deleted_id", "inverter_battery_id", "inverter_no_battery_id",
                       "building_id", "energy_contract_id", "session_pending_ev_id", "session_pending_hp_id",
                       "session_completed_id", "session_pending_iv_id", "session_pending_wb_id", "session_no_type_id" }) do
    demo:add(k, d[k])
  end
  return J.obj()
    :add("electric_vehicles", evs)
    :add("inverters", ivs)
    :add("buildings", blds)
    :add("energy_contracts", ecs)
    :add("onboarding_sessions", sess)
    :add("demo", demo)
    :add("totals", J.obj():add("electric_vehicles", #evs):add("inverters", #ivs):add("buildings", #blds)
      :add("energy_contracts", #ecs):add("onboarding_sessions", #sess))
end

return M
