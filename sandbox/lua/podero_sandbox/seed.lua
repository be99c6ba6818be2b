-- Deterministic seed data for the sandbox (pure Lua: no ngx, no math.random).
-- build() returns the model with every JSON body pre-rendered.
local J = require("podero_sandbox.json")
local prng = require("podero_sandbox.prng")

local format, floor, concat = string.format, math.floor, table.concat
local null = J.null

local M = {}

local NOW = 1763640000 -- 2025-11-20T12:00:00Z, the seed's notion of "now"
local BASE = 1704067200 -- 2024-01-01T00:00:00Z

local function ts(sec, usec)
  local s = os.date("!%Y-%m-%dT%H:%M:%S", sec)
  if usec and usec > 0 then s = s .. format(".%06d", usec) end
  return s .. "Z"
end

-- random timestamp in [a, b] seconds, with microseconds
local function rts(P, a, b)
  return ts(P:range(a, b), P:range(1, 999999))
end

-- decimal value given in hundredths
-- mode: false -> JSON number literal (shortest), number of dp -> decimal string
local function dec(h, dp)
  local neg = h < 0
  local a = neg and -h or h
  local ip, fp = floor(a / 100), a % 100
  local sign = neg and "-" or ""
  if not dp then
    if fp == 0 then return J.raw(sign .. format("%d", ip)) end
    if fp % 10 == 0 then return J.raw(sign .. format("%d.%d", ip, floor(fp / 10))) end
    return J.raw(sign .. format("%d.%02d", ip, fp))
  end
  if dp == 0 then
    if fp == 0 then return sign .. format("%d", ip) end
    dp = 2
  end
  if dp == 1 then
    if fp % 10 == 0 then return sign .. format("%d.%d", ip, floor(fp / 10)) end
    dp = 2
  end
  if dp == 2 then return sign .. format("%d.%02d", ip, fp) end
  return sign .. format("%d.%02d0", ip, fp) -- dp 3
end

---------------------------------------------------------------------------
-- catalogue
---------------------------------------------------------------------------
local MODELS = {
  { "Viessmann", "Vitocal 250-A", 2022, "viessmann" },
  { "Viessmann", "Vitocal 200-S", 2019, "viessmann" },
  { "Daikin", "Altherma 3 H HT", 2020, "daikin" },
  { "Daikin", "Altherma 3 R", 2019, "daikin" },
  { "NIBE", "F2120", 2018, "nibe" },
  { "NIBE", "S2125", 2022, "nibe" },
  { "Vaillant", "aroTHERM plus", 2021, "vaillant" },
  { "Mitsubishi Electric", "Ecodan PUZ-WM85VAA", 2021, "mitsubishi" },
  { "Stiebel Eltron", "WPL 25", 2017, "stiebel" },
  { "Bosch", "Compress 7000i AW", 2020, "bosch" },
  { "Panasonic", "Aquarea J Generation", nil, "panasonic" },
  { "Samsung", "EHS Mono HT Quiet", 2023, "samsung" },
  { "Wolf", "CHA-Monoblock 10", 2020, nil },
  { "Lambda", "EU13L", 2022, nil },
}

local CLOUD = {
  viessmann = { "ViCare", "https://www.viessmann.de/de/vicare-app.html" },
  daikin = { "Daikin Onecta", "https://www.daikin.eu/en_us/product-group/onecta.html" },
  nibe = { "myUplink", "https://myuplink.com/register" },
  vaillant = { "myVAILLANT", "https://www.vaillant.de/myvaillant" },
  mitsubishi = { "MELCloud", "https://app.melcloud.com/" },
  stiebel = { "SERVICEWELT", "https://www.stiebel-eltron.de/servicewelt" },
  bosch = { "HomeCom Easy", "https://www.bosch-homecomfort.com/homecom" },
  panasonic = { "Panasonic Comfort Cloud", "https://aquarea-smart.panasonic.com/" },
  samsung = { "SmartThings", "https://www.smartthings.com/" },
}

local FIRST = {
  { "Anna", "anna" }, { "Jürgen", "juergen" }, { "Zoë", "zoe" }, { "Lukas", "lukas" },
  { "Åsa", "asa" }, { "Łukasz", "lukasz" }, { "Chloé", "chloe" }, { "Søren", "soren" },
  { "Maria", "maria" }, { "Thomas", "thomas" }, { "Elena", "elena" }, { "Niklas", "niklas" },
  { "Sophie", "sophie" }, { "David", "david" }, { "Laura", "laura" }, { "Matteo", "matteo" },
  { "Ingrid", "ingrid" }, { "Péter", "peter" }, { "Sarah", "sarah" }, { "Fabian", "fabian" },
}
local LAST = {
  { "Müller", "mueller" }, { "Gruber", "gruber" }, { "Huber", "huber" }, { "Öberg", "oberg" },
  { "Nowak", "nowak" }, { "Lindqvist", "lindqvist" }, { "Rossi", "rossi" }, { "O'Brien", "obrien" },
  { "Wagner", "wagner" }, { "Pichler", "pichler" }, { "Nagy", "nagy" }, { "Tamm", "tamm" },
  { "Bauer", "bauer" }, { "Steiner", "steiner" }, { "Dubois", "dubois" }, { "Moser", "moser" },
}

local ORGS = {
  { "Alpenstrom Energie GmbH", "alpenstrom.example", 25, "AT" },
  { "Nordwind Utilities AB", "nordwind.example", 20, "SE_3" },
  { "Solaris Partner Test", "solaris.example", 15, "DE_LU" },
  { "Empty Org Ltd", "empty.example", 0, "UK" },
}

local ZONES = { "AT", "AT_HOURLY", "DE_LU", "CH", "BE", "SE_3", "SE_4", "IT_NORD", "HU", "EE", "UK", "PT", "RO" }
local STATUS = { { "ok", 72 }, { "warning", 12 }, { "error", 8 }, { "unknown", 8 } }
local INFO_MESSAGES = {
  { "Your heat pump lost its internet connection.", "warning" },
  { "Die Verbindung zu Ihrer Wärmepumpe wurde unterbrochen.", "warning" },
  { "Scheduled maintenance of the manufacturer cloud on 2025-12-01.", "info" },
  { "The outdoor unit reported a defrost error (E-31).", "error" },
}
local CITIES = { { "Graz", "8010", "AT" }, { "Linz", "4020", "AT" }, { "Uppsala", "753 20", "SE" },
                 { "Freiburg im Breisgau", "79098", "DE" }, { "Zürich", "8001", "CH" } }

local function cue_url(P, verb)
  return "/api/partners/v2.0/cues/" .. P:uuid() .. "/" .. verb .. "?secret=" .. P:hex(64)
end

local function reauth_action(P)
  return J.obj()
    :add("code", "reauthenticate")
    :add("resolution_link", J.obj()
      :add("url", cue_url(P, "resolve"))
      :add("required_parameters", J.array({ "successUrl", "cancelUrl" })))
end

local function info_action(P, sent, msg)
  msg = msg or P:pick(INFO_MESSAGES)
  return J.obj()
    :add("code", "information")
    :add("resolution_link", J.obj()
      :add("url", cue_url(P, "state"))
      :add("required_parameters", J.array({ "state" })))
    :add("metadata", J.obj():add("message", msg[1]):add("severity", msg[2]))
    :add("sent_at", sent)
end

local function future_action(P, sent)
  return J.obj()
    :add("code", "firmware_update")
    :add("resolution_link", J.obj()
      :add("url", cue_url(P, "resolve"))
      :add("required_parameters", J.array({})))
    :add("firmware", J.obj():add("current", "4.2.1"):add("available", "4.3.0-rc.2"))
    :add("deadline", "2025-12-31T23:59:59Z")
    :add("priority", 2)
    :add("sent_at", sent)
end

---------------------------------------------------------------------------
-- heat pump
-- opts (all optional): deleted, model (index or false = null), actions = {"reauthenticate",...},
--   strings (bool), status, extra (bool), special = name of a hand-made variant
---------------------------------------------------------------------------
local function make_heat_pump(P, id, owner, created, opts)
  local info = { id = id, deleted = false, action_codes = {}, non_numeric_fields = {} }

  -- decide traits
  local model_ix = opts.model
  if model_ix == nil then
    if P:chance(8) then model_ix = false else model_ix = P:int(#MODELS) + 1 end
  end
  local strings = opts.strings
  if strings == nil then strings = P:chance(45) end
  local deleted = opts.deleted
  if deleted == nil then deleted = P:chance(10) end
  local codes = opts.actions
  if codes == nil then
    codes = P:wpick({ { {}, 70 }, { { "reauthenticate" }, 12 }, { { "information" }, 10 },
                      { { "reauthenticate", "information" }, 5 }, { { "information", "firmware_update" }, 3 } })
  end
  local extra = opts.extra
  if extra == nil then extra = P:chance(5) end
  local sp = opts.special

  info.deleted = deleted
  info.has_device_model = model_ix and true or false
  info.decimal_strings = strings
  info.extra_fields = extra

  local updated_sec = P:range(created + 3600, NOW - 600)
  local updated = ts(updated_sec, P:range(1, 999999))
  local has_reauth, has_info = false, false
  for _, c in ipairs(codes) do
    if c == "reauthenticate" then has_reauth = true end
    if c == "information" then has_info = true end
  end

  local function st()
    if deleted then return P:chance(50) and "unknown" or P:wpick(STATUS) end
    return P:wpick(STATUS)
  end
  local conn = opts.status or (has_reauth and P:pick({ "error", "warning" })) or st()
  local mon = opts.status or st()
  local steer = opts.status or st()

  -- decimal helpers: numbers or strings, with per-field decimal places in string mode
  local function D(h, dp)
    if strings then return dec(h, dp) end
    return dec(h, false)
  end
  local function maybe(pct, v) if P:chance(pct) then return null end return v end

  local o = J.obj()
  o:add("connection_status", conn)
  o:add("monitoring_status", mon)
  o:add("steering_status", steer)

  local model = model_ix and MODELS[model_ix]
  if model then
    local cloud = model[4] and CLOUD[model[4]]
    local dm = J.obj()
      :add("device_type", J.obj():add("short_name", "heat_pump"):add("long_name", "Heat pump"))
      :add("cloud_service_instructions", cloud and ("Open the " .. cloud[1] .. " app, sign in with the account used during installation, "
        .. "make sure the heat pump shows as online, then come back here and press \"Connect\". "
        .. "If the heat pump is not listed, pair the internet gateway first (see the installer's manual, section 4.2).") or null)
      :add("cloud_service_signup_link", cloud and cloud[2] or null)
      :add("manufacturer", model[1])
      :add("model", model[2])
      :add("year", model[3] or null)
      :add("cloud_service", cloud and prng.new(prng.seed_of(7, model_ix)):uuid() or null)
    o:add("device_model", dm)
  else
    o:add("device_model", null)
  end

  o:add("owner", J.obj()
    :add("id", owner.id)
    :add("email", owner.email)
    :add("first_name", owner.first_name)
    :add("last_name", owner.last_name)
    :add("external_id", owner.external_id))
  o:add("price_zone", opts.zone or P:wpick({ { owner.zone, 70 }, { P:pick(ZONES), 30 } }))
  o:add("id", id)
  o:add("created_at", ts(created, P:range(1, 999999)))
  o:add("updated_at", updated)
  if deleted then
    o:add("deleted_at", rts(P, updated_sec, NOW - 60))
  else
    o:add("deleted_at", null)
  end

  local lifecycle = has_reauth and "reauth_required" or P:wpick({ { "authenticated", 85 }, { "onboarding", 8 }, { "error", 7 } })
  o:add("lifecycle_state", lifecycle)
  o:add("lifecycle_error", lifecycle == "error" and "upstream returned HTTP 503 while fetching device list (attempt 3/3)" or null)

  local pause = P:chance(10)
  o:add("pause_power_until", pause and rts(P, NOW + 600, NOW + 7200) or null)
  o:add("is_pause_power_active", pause)

  local ext = P:wpick({ { "hp-%06d", 50 }, { "", 15 }, { "num", 15 }, { "null", 10 }, { "007", 10 } })
  if sp == "numbers_as_strings" then ext = "007" end
  if ext == "null" then o:add("external_device_id", null)
  elseif ext == "num" then o:add("external_device_id", format("%d", P:range(10000, 99999)))
  elseif ext == "hp-%06d" then o:add("external_device_id", format(ext, P:range(1, 999999)))
  else o:add("external_device_id", ext) end

  local authn = P:wpick({ { true, 85 }, { false, 8 }, { null, 7 } })
  if has_reauth then authn = false elseif sp == "float_roundtrip" then authn = true end
  o:add("is_authenticated", authn)
  o:add("is_smart_optimization_active", P:chance(70))
  if sp == "float_roundtrip" then
    o:add("optimization_score", J.raw("0.8700000000000001"))
  else
    o:add("optimization_score", maybe(20, J.raw(format("0.%02d", P:range(10, 99)))))
  end
  o:add("current_mode", P:wpick({ { "heating", 40 }, { "dhw", 15 }, { "standby", 20 }, { "cooling", 5 }, { null, 20 } }))

  local comment = P:wpick({ { null, 50 }, { "", 10 }, { "txt", 25 }, { "num", 15 } })
  if sp == "numbers_as_strings" then
    o:add("comment", "12345")
  elseif sp == "escapes" or sp == "tiny_exponent" then
    o:add("comment", "Installed by \"Wärme & Co\" \\ Keller/Raum 2\nTel.\t+43 316 12345 — 🔥 ok")
  elseif comment == "txt" then
    o:add("comment", P:pick({ "Basement, next to the boiler", "Outdoor unit on the north wall",
      "Customer prefers 21 °C", "Replaced gateway in 2024", "Ferienhaus – nur im Winter bewohnt" }))
  elseif comment == "num" then
    o:add("comment", format("%d", P:range(100, 99999)))
  else
    o:add("comment", comment)
  end

  o:add("current_state_last_updated_at", maybe(5, rts(P, NOW - 900, NOW - 60)))
  o:add("last_monitoring_executed_at", maybe(10, rts(P, NOW - 3600, NOW - 60)))
  local inv_en = P:chance(20)
  local inv_act = inv_en and P:chance(40)
  o:add("is_inverter_forced_mode_enabled", inv_en)
  o:add("is_inverter_forced_mode_active", inv_act)
  o:add("inverter_forced_mode_since", inv_act and rts(P, NOW - 7200, NOW - 60) or (P:chance(90) and "0001-01-01T00:00:00Z" or null))
  o:add("is_trading_enabled", P:chance(30))
  o:add("actual_steering_state", P:wpick({ { "unknown", 30 }, { "normal", 40 }, { "boost", 10 }, { "reduced", 12 }, { "off", 8 } }))

  -- setpoints (hundredths)
  local target = P:pick({ 2000, 2050, 2100, 2150, 2200, 2250 })
  o:add("indoor_target_temperature_offset", sp == "tiny_exponent" and "1E-8" or maybe(30, D(P:pick({ -200, -100, -50, 0, 50, 100, 150 }), 2)))
  o:add("dhw_standard_temperature", maybe(10, D(P:pick({ 4500, 4700, 4800, 5000, 5250, 5500 }), 0)))
  o:add("is_hot_water_heating_enabled", P:wpick({ { true, 75 }, { false, 15 }, { null, 10 } }))
  o:add("is_space_heating_enabled", P:wpick({ { true, 85 }, { false, 10 }, { null, 5 } }))
  o:add("is_pool_heating_enabled", P:wpick({ { false, 80 }, { true, 5 }, { null, 15 } }))
  o:add("is_space_cooling_enabled", P:wpick({ { false, 70 }, { true, 15 }, { null, 15 } }))
  local policy = P:chance(60)
  o:add("heating_policy_name", policy and P:pick({ "Comfort", "Eco", "Balanced", "Custom policy", "Nachtabsenkung" }) or null)
  o:add("maximum_temperature_limit", policy and D(target + P:pick({ 100, 150, 200 }), 2) or null)
  o:add("minimum_temperature_limit", policy and D(target - P:pick({ 100, 150, 200 }), 2) or null)
  o:add("minimum_dhw_temperature_limit", policy and D(P:pick({ 4000, 4200, 4500 }), 2) or null)
  o:add("is_heating_policy_enabled", policy and P:chance(80) or P:wpick({ { false, 70 }, { null, 30 } }))
  o:add("heating_policy_last_updated_at", policy and rts(P, created, NOW - 3600) or null)

  local away = P:chance(15)
  local away_start = NOW + P:range(-5 * 86400, 10 * 86400)
  o:add("away_mode_start", away and ts(away_start, 0) or null)
  o:add("away_mode_end", away and ts(away_start + P:range(2, 14) * 86400, 0) or null)
  o:add("is_away_mode_enabled", away and true or P:wpick({ { true, 60 }, { false, 30 }, { null, 10 } }))
  o:add("away_mode_minimum_temperature_limit", away and D(P:pick({ 1200, 1500, 1650 }), 2) or null)
  o:add("away_mode_last_updated_at", away and rts(P, created, NOW - 3600) or null)
  o:add("min_solar_power_w", P:wpick({ { 2000, 70 }, { 1500, 10 }, { 3000, 15 }, { 0, 5 } }))
  o:add("operational_mode", P:wpick({ { "heating", 40 }, { "auto", 25 }, { "eco", 10 }, { "heating+dhw", 10 }, { null, 15 } }))
  local running = P:chance(55)
  o:add("current_power_consumption_w", P:chance(10) and null or (running and P:range(350, 4200) or P:range(0, 40)))

  -- measurements
  local outdoor = P:range(-1500, 1800)
  local inlet = P:range(2500, 4500)
  o:add("inlet_temperature", maybe(8, D(inlet, 1)))
  o:add("outlet_temperature", maybe(8, D(inlet + P:range(300, 800), 1)))
  o:add("dhw_temperature", maybe(12, D(P:range(3800, 5600), 1)))
  o:add("outdoor_temperature", maybe(5, D(sp == "numbers_as_strings" and -350 or outdoor, 1)))
  o:add("indoor_actual_temperature", maybe(15, D(target + P:range(-150, 120), 1)))
  o:add("indoor_target_temperature", maybe(10, D(target, 2)))
  local day = P:range(300, 4200)
  o:add("consumption_last_day_kwh", maybe(10, D(day, 3)))
  o:add("consumption_last_week_kwh", maybe(10, D(day * 7 + P:range(-900, 900), 3)))
  o:add("consumption_last_month_kwh", maybe(10, D(day * 30 + P:range(-5000, 5000), 3)))
  o:add("consumption_last_updated_at", maybe(10, rts(P, NOW - 86400, NOW - 3600)))
  o:add("optimization_level", P:wpick({ { "Mid", 50 }, { "Low", 15 }, { "Max", 20 }, { null, 15 } }))
  o:add("needs_gateway", P:wpick({ { false, 70 }, { true, 15 }, { null, 15 } }))
  o:add("temperature_delta_override_for_slight_change", P:chance(80) and null or P:range(1, 2))
  o:add("temperature_delta_override_for_significant_change", P:chance(80) and null or P:range(2, 5))
  o:add("embeddable_url", P:chance(25) and null
    or ("https://sandbox-app.podero.com/embed/onboarding/" .. P:uuid() .. "?lang=de&token=" .. P:hex(48)))
  o:add("authorization_url", (model and P:chance(75))
    and ("https://sandbox-app.podero.com/api/partners/v2.0/auth/" .. (model[4] or "generic") .. "/authorize?device=" .. id)
    or null)

  -- non-number strings in number|string fields
  if sp == "odd_strings" then
    o:set("outlet_temperature", "n/a")
    o:set("dhw_temperature", "")
    info.non_numeric_fields = { "outlet_temperature", "dhw_temperature" }
  elseif strings and not sp and P:chance(6) then
    local f = P:pick({ "inlet_temperature", "outdoor_temperature", "indoor_actual_temperature" })
    o:set(f, P:pick({ "n/a", "" }))
    info.non_numeric_fields = { f }
  end

  local actions = J.array({})
  for _, c in ipairs(codes) do
    local sent = rts(P, NOW - 3 * 86400, NOW - 600)
    if c == "reauthenticate" then actions[#actions + 1] = reauth_action(P)
    elseif c == "information" then actions[#actions + 1] = info_action(P, sent, sp == "all_actions" and INFO_MESSAGES[1] or nil)
    else actions[#actions + 1] = future_action(P, sent) end
    info.action_codes[#info.action_codes + 1] = c
  end
  o:add("action_needed", #actions > 0)
  o:add("has_notification", has_info)
  o:add("actions", actions)

  if extra then
    local city = P:pick(CITIES)
    o:add("installation_site", J.obj()
      :add("city", city[1]):add("postal_code", city[2]):add("country", city[3])
      :add("geo", J.obj():add("lat", J.raw(format("%d.%04d", P:range(46, 60), P:range(0, 9999))))
                         :add("lon", J.raw(format("%d.%04d", P:range(8, 18), P:range(0, 9999))))))
    o:add("firmware_version", format("%d.%d.%d", P:range(1, 5), P:range(0, 9), P:range(0, 20)))
  end

  return o, info
end

---------------------------------------------------------------------------
-- users and orgs
---------------------------------------------------------------------------
local function make_user(P, id, org, ix, fixed)
  local u = {}
  u.id = id
  local f, l
  if fixed then f, l = fixed.first, fixed.last
  else f, l = P:pick(FIRST), P:pick(LAST) end
  u.first_name, u.last_name = f[1], l[1]
  u.email = fixed and fixed.email or format("%s.%s%d@%s", f[2], l[2], ix, org.domain)
  local ext = P:wpick({ { "crm", 60 }, { "num", 15 }, { "null", 15 }, { "007", 10 } })
  if fixed then ext = fixed.external_id end
  if ext == "crm" then u.external_id = format("CRM-%05d", P:range(1, 99999))
  elseif ext == "num" then u.external_id = format("%d", P:range(1000, 999999))
  elseif ext == "null" then u.external_id = null
  else u.external_id = ext end
  u.zone = org.zone
  u.created_sec = fixed and (BASE + 86400 * 30) or P:range(BASE, NOW - 60 * 86400)
  u.deleted = fixed and fixed.deleted or false
  local o = J.obj()
    :add("id", u.id)
    :add("email", u.email)
    :add("first_name", u.first_name)
    :add("last_name", u.last_name)
    :add("external_id", u.external_id)
    :add("language", P:pick({ "de", "en", "sv", "it" }))
    :add("created_at", ts(u.created_sec, P:range(1, 999999)))
    :add("updated_at", rts(P, u.created_sec + 60, NOW - 86400))
    :add("deleted_at", u.deleted and rts(P, NOW - 20 * 86400, NOW - 86400) or null)
  u.obj = o
  return u
end

function M.build()
  local model = { orgs = {}, orgs_by_id = {}, demo = {} }
  local total_hp = 0

  for oi, od in ipairs(ORGS) do
    local org = { index = oi, name = od[1], domain = od[2], zone = od[4], users = {}, users_by_id = {} }
    org.id = prng.new(prng.seed_of(1, oi)):uuid()
    model.orgs[#model.orgs + 1] = org
    model.orgs_by_id[org.id] = org

    for ui = 1, od[3] do
      local P = prng.new(prng.seed_of(2, oi, ui))
      local uid = prng.new(prng.seed_of(3, oi, ui)):uuid()
      local fixed
      local demo = (oi == 1 and ui == 1)
      if demo then
        fixed = { first = { "Demo", "demo" }, last = { "Müller", "mueller" }, email = "demo.user@alpenstrom.example", external_id = "007" }
      elseif oi == 2 and ui == 5 then
        fixed = { first = { "Gelöscht", "geloescht" }, last = { "Nutzer", "nutzer" }, email = "deleted.user@nordwind.example",
                  external_id = "crm", deleted = true }
      end
      local user = make_user(P, uid, org, ui, fixed)
      user.heat_pumps, user.hps_by_id = {}, {}
      org.users[#org.users + 1] = user
      org.users_by_id[uid] = user

      local plans = {}
      if demo then
        plans = {
          { model = 1, strings = false, deleted = false, actions = {}, status = "ok", extra = false, zone = "AT", special = "float_roundtrip" },
          { model = 3, strings = true, deleted = false, actions = { "reauthenticate", "information" }, extra = false, special = "all_actions" },
          { model = false, strings = true, deleted = false, actions = { "information", "firmware_update" }, extra = true, special = "numbers_as_strings" },
          { model = 5, strings = false, deleted = true, actions = {}, extra = false },
          { model = 7, strings = true, deleted = false, actions = { "reauthenticate" }, extra = false, special = "odd_strings" },
          { model = 9, strings = true, deleted = false, actions = {}, extra = false, special = "tiny_exponent" },
        }
      else
        local n = P:range(0, 8)
        for _ = 1, n do plans[#plans + 1] = user.deleted and { deleted = true } or {} end
      end

      for hi, plan in ipairs(plans) do
        local HP = prng.new(prng.seed_of(4, oi, ui, hi))
        local hid = prng.new(prng.seed_of(5, oi, ui, hi)):uuid()
        local created = HP:range(user.created_sec, NOW - 30 * 86400)
        local obj, info = make_heat_pump(HP, hid, user, created, plan)
        info.body = J.encode(obj)
        info.special = plan.special
        user.heat_pumps[#user.heat_pumps + 1] = info
        user.hps_by_id[hid] = info
        total_hp = total_hp + 1
      end

      -- pre-rendered lists
      local all, live = {}, {}
      for _, h in ipairs(user.heat_pumps) do
        all[#all + 1] = h.body
        if not h.deleted then live[#live + 1] = h.body end
      end
      user.list_all = "[" .. concat(all, ",") .. "]"
      user.list_live = "[" .. concat(live, ",") .. "]"
      user.body = J.encode(user.obj)

      if demo then
        model.demo.org_id = org.id
        model.demo.user_id = uid
        model.demo.heat_pump_id = user.heat_pumps[1].id
        model.demo.heat_pump_all_actions_id = user.heat_pumps[2].id
        model.demo.heat_pump_no_model_id = user.heat_pumps[3].id
        model.demo.deleted_heat_pump_id = user.heat_pumps[4].id
        model.demo.heat_pump_odd_strings_id = user.heat_pumps[5].id
        model.demo.heat_pump_tiny_exponent_id = user.heat_pumps[6].id
      end
    end

    local all, live = {}, {}
    for _, u in ipairs(org.users) do
      all[#all + 1] = u.body
      if not u.deleted then live[#live + 1] = u.body end
    end
    org.list_all = "[" .. concat(all, ",") .. "]"
    org.list_live = "[" .. concat(live, ",") .. "]"
  end
  model.total_heat_pumps = total_hp
  return model
end

-- JSON description of the seed (for tests); credentials are passed in by the caller
function M.describe(model, credentials)
  local orgs = J.array({})
  local users_n, deleted_n = 0, 0
  for _, org in ipairs(model.orgs) do
    local users = J.array({})
    for _, u in ipairs(org.users) do
      users_n = users_n + 1
      local hps = J.array({})
      for _, h in ipairs(u.heat_pumps) do
        if h.deleted then deleted_n = deleted_n + 1 end
        hps[#hps + 1] = J.obj()
          :add("id", h.id)
          :add("deleted", h.deleted)
          :add("has_device_model", h.has_device_model)
          :add("action_codes", J.array(h.action_codes))
          :add("decimal_strings", h.decimal_strings)
          :add("non_numeric_fields", J.array(h.non_numeric_fields))
          :add("extra_fields", h.extra_fields)
          :add("bytes", #h.body)
      end
      users[#users + 1] = J.obj()
        :add("id", u.id)
        :add("email", u.email)
        :add("deleted", u.deleted)
        :add("heat_pumps", hps)
    end
    orgs[#orgs + 1] = J.obj():add("id", org.id):add("name", org.name):add("users", users)
  end
  local d = model.demo
  return J.obj()
    :add("orgs", orgs)
    :add("demo", J.obj()
      :add("org_id", d.org_id)
      :add("user_id", d.user_id)
      :add("heat_pump_id", d.heat_pump_id)
      :add("deleted_heat_pump_id", d.deleted_heat_pump_id)
      :add("heat_pump_all_actions_id", d.heat_pump_all_actions_id)
      :add("heat_pump_no_model_id", d.heat_pump_no_model_id)
      :add("heat_pump_odd_strings_id", d.heat_pump_odd_strings_id)
      :add("heat_pump_tiny_exponent_id", d.heat_pump_tiny_exponent_id))
    :add("totals", J.obj()
      :add("orgs", #model.orgs)
      :add("users", users_n)
      :add("heat_pumps", model.total_heat_pumps)
      :add("deleted_heat_pumps", deleted_n))
    :add("credentials", credentials or null)
end

-- helpers for the device seed (seed_devices.lua) and for heat pumps made at run time
-- (registration, onboarding); exporting them changes nothing in build()
M.util = { ts = ts, rts = rts, dec = dec, NOW = NOW, BASE = BASE, ZONES = ZONES, FIRST = FIRST, LAST = LAST,
           CITIES = CITIES, make_heat_pump = make_heat_pump }

return M
