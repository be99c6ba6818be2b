-- The rest of the Partner API (issue 12): users, buildings, energy contracts, heat pump
-- registration, electric vehicles (read, update, boost, batch), inverters, device onboarding and
-- savings, against the sandbox: answers, the Decimal rule per kind, bound objects, the checks
-- before sending, 422 and 409 as errors, and no retry of a create.
local podero = require("podero")
local support = require("support")
local cjson = require("cjson")
local core = require("podero.core")

local devices_cache
local function devices()
  devices_cache = devices_cache or support.get_json("/_sandbox/seed/devices")
  return devices_cache
end
local function demo() return devices().demo end

-- the seed's description of a device (its decimal_strings, boost_expect, ...)
local function seed_of(list, id)
  for _, d in ipairs(devices()[list]) do if d.id == id then return d end end
end

local function raises(f, text)
  local ok, err = pcall(f)
  assert.is_false(ok, "should have raised")
  assert.truthy(tostring(err):find(text, 1, true), "error lacks '" .. text .. "': " .. tostring(err))
end

local function last_api()
  local r = support.requests_of("api")
  return r[#r]
end

local MISSING = "00000000-0000-4000-8000-000000000000"
local OK_URL, CANCEL_URL = "https://partner.example/ok", "https://partner.example/cancel"

describe("partner API (issue 12)", function()
  local client, org, user
  before_each(function()
    support.reset()
    client = support.new_client()
    org, user = demo().org_id, demo().user_id
  end)
  after_each(function() client:close() end)

  describe("users", function()
    it("client:user reads one user; create_user and update_user write one", function()
      local u, err = client:user(org, user)
      assert.is_nil(err)
      assert.equal(user, u.id)
      assert.equal("object", core.kind(u))
      local email = "ada-" .. tostring(os.time()) .. "@example.com"
      local new = assert(client:create_user(org, { role = "user", email = email, first_name = "Ada",
                                                   country_iso2 = "AT", latitude = 48.2 }))
      assert.equal(email, new.email)
      assert.equal("Ada", new.first_name)
      local req = last_api()
      assert.equal("POST", req.method)
      assert.equal("/api/partners/v2.0/org/" .. org .. "/users", req.uri)
      assert.same({ country_iso2 = "AT", email = email, first_name = "Ada", latitude = 48.2, role = "user" },
        cjson.decode(req.body))
      local changed = assert(client:update_user(org, new.id, { last_name = "Lovelace", first_name = podero.null }))
      assert.equal("Lovelace", changed.last_name)
      assert.is_nil(changed.first_name)
      assert.equal("PUT", last_api().method)
      assert.equal("Lovelace", assert(client:user(org, new.id)).last_name)
    end)

    it("checks a user's fields before sending anything", function()
      local before = support.stats().api_requests
      raises(function() client:create_user(org, { email = "a@example.com" }) end, "podero: create_user: fields.role is required")
      raises(function() client:create_user(org, { role = "user" }) end, "fields.email is required")
      raises(function() client:create_user(org, { role = "boss", email = "a@example.com" }) end,
        'role must be "admin", "staff" or "user", got "boss"')
      raises(function() client:create_user(org, { role = "user", email = "not an address" }) end, "email must be an e-mail address")
      raises(function() client:create_user(org, { role = "user", email = "a@example.com", emial = "x" }) end,
        'unknown field "emial"')
      raises(function() client:create_user(org, { role = "user", email = "a@example.com", latitude = 91 }) end,
        "latitude must be from -90 to 90")
      raises(function() client:update_user(org, user, {}) end, "podero: update_user: changes is empty")
      raises(function() client:update_user(org, user, { email = podero.null }) end, "email cannot be null")
      raises(function() client:user(org, "nope") end, "podero: user: user_id must be a UUID")
      assert.equal(before, support.stats().api_requests)
    end)

    it("a body the server refuses is a 422 error naming the field", function()
      local u, err = client:create_user(org, { role = "user", email = "long@example.com", first_name = ("x"):rep(151) })
      assert.is_nil(u)
      assert.equal("http", err.kind)
      assert.equal(422, err.status)
      assert.truthy(err.message:find("first_name", 1, true), err.message)
    end)

    it("a create is not retried after a 503 (one request, the error at once)", function()
      support.fault({ status = 503, path_contains = "/org/" .. org .. "/users", times = 3 })
      local before = support.stats().api_requests
      local u, err = client:create_user(org, { role = "user", email = "once@example.com" })
      assert.is_nil(u)
      assert.equal(503, err.status)
      assert.equal(1, err.attempts)
      assert.equal(before + 1, support.stats().api_requests)
      -- an update (PUT) is retried past the same faults
      support.reset()
      support.fault({ status = 503, path_contains = "/users/" .. user, times = 2 })
      assert.truthy(client:update_user(org, user, { town = "Graz" }))
    end)
  end)

  describe("buildings, energy contracts, heat pump registration", function()
    it("create_building and building(); create_energy_contract with prices", function()
      local b = assert(client:create_building(org, user, { name = "Home", zip_code = "8010", photovoltaic = true,
                                                           num_occupants = 3 }))
      assert.equal("Home", b.name)
      assert.equal(b.id, assert(client:building(org, user, b.id)).id)
      local t = 1767225600  -- 2026-01-01T00:00:00Z
      local c = assert(client:create_energy_contract(org, user, {
        energy_contract_type = "spot_hourly", building_id = b.id, currency_energy_price = "EUR",
        energy_prices = { { price = 0.21, timestamp = t }, { price = 0.19, timestamp = "2026-01-01T02:00:00+01:00" } },
      }))
      assert.equal("spot_hourly", c.energy_contract_type)
      assert.equal(b.id, c.building.id)
      assert.same({ { price = 0.21, timestamp = "2026-01-01T00:00:00Z" }, { price = 0.19, timestamp = "2026-01-01T01:00:00Z" } },
        cjson.decode(last_api().body).energy_prices)
      local _, err = client:building(org, user, MISSING)
      assert.equal(404, err.status)
    end)

    it("checks buildings and contracts before sending", function()
      raises(function() client:create_building(org, user, { zip_code = "1" }) end, "fields.name is required")
      raises(function() client:create_building(org, user, { name = ("x"):rep(101) }) end, "name must be at most 100 characters, got 101")
      raises(function() client:create_building(org, user, { name = "a", zip_code = ("1"):rep(21) }) end, "zip_code must be at most 20")
      raises(function() client:create_building(org, user, { name = "a", num_occupants = 1.5 }) end, "num_occupants must be a whole number")
      raises(function() client:create_building(org, user, { name = "a", property_size_m2 = -1 }) end, "property_size_m2 must be at least 0")
      raises(function() client:create_energy_contract(org, user, {}) end, "fields.energy_contract_type is required")
      raises(function() client:create_energy_contract(org, user, { energy_contract_type = "daily" }) end,
        'energy_contract_type must be "spot_hourly", "monthly" or "yearly"')
      raises(function() client:create_energy_contract(org, user, { energy_contract_type = "monthly", currency_energy_price = "eur" }) end,
        "currency_energy_price must be an ISO 4217 currency code")
      raises(function() client:create_energy_contract(org, user, { energy_contract_type = "monthly", meter_id = ("1"):rep(20) }) end,
        "meter_id must be at most 19")
      raises(function() client:create_energy_contract(org, user, { energy_contract_type = "monthly", energy_prices = { { price = 1 } } }) end,
        "energy_prices[1].timestamp is required")
    end)

    it("register_heat_pump answers a heat pump bound to the client", function()
      local hp, err = client:register_heat_pump(org, user, { price_zone = "AT", is_forecasting_enabled = true,
                                                              comment = "registered" })
      assert.is_nil(err)
      assert.is_true(core.is_heat_pump(hp))
      assert.equal("registered", hp.comment)
      assert.equal(hp.id, assert(hp:refresh()).id)
      raises(function() client:register_heat_pump(org, user, { optimisation_level = "Low" }) end, 'unknown field "optimisation_level"')
    end)
  end)

  describe("electric vehicles", function()
    it("lists and reads vehicles with the Decimal rule of their kind", function()
      local evs = assert(client:electric_vehicles(org, user))
      local n = 0
      for _, d in ipairs(devices().electric_vehicles) do
        if d.org == org and d.user == user and not d.deleted then n = n + 1 end
      end
      assert.equal(n, #evs)
      local id = demo().ev_boostable_id
      local ev = assert(client:electric_vehicle(org, user, id))
      assert.equal(id, ev.id)
      assert.equal("electric_vehicle", core.kind(ev))
      assert.is_true(seed_of("electric_vehicles", id).decimal_strings)
      assert.truthy(ev:raw():find('"battery_level":"', 1, true), "the seed sends a Decimal string")
      assert.equal("number", type(ev.battery_level))
      assert.equal(ev.battery_level, ev:to_table().battery_level)
      assert.equal(ev.battery_level, cjson.decode(ev:to_json()).battery_level)
      assert.equal("string", type(ev.charge_deadline_at or ""))
      assert.truthy(tostring(ev):find("^podero.electric_vehicle"))
      for _, name in ipairs(podero.DECIMAL_FIELDS.electric_vehicle) do
        local v = ev[name]
        assert.is_true(v == nil or type(v) == "number", name)
      end
      -- a list element follows the same rule
      for i = 1, #evs do
        assert.is_true(evs[i].battery_level == nil or type(evs[i].battery_level) == "number")
      end
      -- a deleted one only with include_deleted
      local del = demo().ev_deleted_id
      local _, err = client:electric_vehicle(org, user, del)
      assert.equal(404, err.status)
      assert.equal(del, assert(client:electric_vehicle(org, user, del, { include_deleted = true })).id)
    end)

    it("update_electric_vehicle and ev:update: a partial PUT, a new bound object", function()
      local id = demo().ev_boostable_id
      local ev = assert(client:update_electric_vehicle(org, user, id, { minimum_charge_limit = 30 }))
      assert.equal(30, ev.minimum_charge_limit)
      assert.same({ minimum_charge_limit = 30 }, cjson.decode(last_api().body))
      local ev2 = assert(ev:update({ charge_deadline_at = "07:30", is_charge_policy_enabled = true }))
      assert.equal("07:30", ev2.charge_deadline_at)
      assert.equal(30, ev.minimum_charge_limit)
      assert.equal("07:30", assert(ev2:refresh()).charge_deadline_at)
      raises(function() ev:update({ battery_level = 50 }) end, 'unknown or read-only field "battery_level"')
      raises(function() ev:update({ minimum_charge_limit = 101 }) end, "minimum_charge_limit must be a percentage from 0 to 100")
      raises(function() ev:update({ charge_deadline_at = "7:30" }) end, 'charge_deadline_at must be a time of day "HH:MM"')
      raises(function() ev:update({}) end, "changes is empty")
      raises(function() client:update_electric_vehicle(org, user, "x", { minimum_charge_limit = 1 }) end,
        "electric_vehicle_id must be a UUID")
    end)

    it("boost: the vehicle with boost requested; 409 when charging or full; never retried", function()
      local ev = assert(client:electric_vehicle(org, user, demo().ev_boostable_id))
      local boosted, err = ev:boost()
      assert.is_nil(err)
      assert.equal("requested", boosted.boost_state)
      assert.equal("POST", last_api().method)
      for _, id in ipairs({ demo().ev_charging_id, demo().ev_full_id }) do
        local b, e = client:boost_electric_vehicle(org, user, id)
        assert.is_nil(b)
        assert.equal("http", e.kind)
        assert.equal(409, e.status)
        assert.truthy(e.message:find("already charging or its battery is full", 1, true), e.message)
      end
      support.fault({ status = 503, path_contains = "/boost", times = 3 })
      local before = support.stats().api_requests
      local b, e = ev:boost()
      assert.is_nil(b)
      assert.equal(503, e.status)
      assert.equal(1, e.attempts)
      assert.equal(before + 1, support.stats().api_requests)
      raises(function() core.parse(ev:raw(), "electric_vehicle"):boost() end,
        "podero: ev:boost: this object did not come from client:electric_vehicle")
    end)

    it("fetch_electric_vehicles: the contract of fetch_heat_pumps", function()
      local evs = assert(client:electric_vehicles(org, user))
      local refs = { evs[1], { org, user, evs[2].id }, { org_id = org, user_id = user, electric_vehicle_id = MISSING } }
      local progress = 0
      local got, errs, failed = client:fetch_electric_vehicles(refs, { concurrency = 2, progress = function() progress = progress + 1 end })
      assert.equal(1, failed)
      assert.equal(evs[1].id, got[1].id)
      assert.equal(evs[2].id, got[2].id)
      assert.is_nil(got[3])
      assert.equal(404, errs[3].status)
      assert.equal(3, progress)
      assert.equal("electric_vehicle", core.kind(got[1]))
      assert.truthy(got[2]:refresh())
      local before = support.stats().api_requests
      raises(function() client:fetch_electric_vehicles({ refs[1], { org, user, "nope" } }) end,
        "podero: fetch_electric_vehicles: refs[2].electric_vehicle_id must be a UUID")
      raises(function() client:fetch_electric_vehicles(refs, { concurrency = 0 }) end, "opts.concurrency must be an integer from 1 to 256")
      raises(function() client:fetch_electric_vehicles(refs, { include_deleted = 1 }) end, "opts.include_deleted must be a boolean")
      assert.equal(before, support.stats().api_requests)
    end)
  end)

  describe("inverters", function()
    it("lists inverters with the Decimal rule; battery fields null without a battery", function()
      local ivs = assert(client:inverters(org, user))
      local with, without
      for i = 1, #ivs do
        if ivs[i].id == demo().inverter_battery_id then with = ivs[i] end
        if ivs[i].id == demo().inverter_no_battery_id then without = ivs[i] end
      end
      assert.truthy(with and without)
      assert.equal("inverter", core.kind(with))
      for _, name in ipairs(podero.DECIMAL_FIELDS.inverter) do
        local v = with[name]
        assert.is_true(v == nil or type(v) == "number", name)
        assert.equal(v, with:to_table()[name] ~= podero.null and with:to_table()[name] or nil, name)
      end
      assert.is_true(seed_of("inverters", with.id).decimal_strings)
      assert.is_nil(without.battery_capacity_kwh)
      assert.is_nil(without.battery_charge_level_percent)
      assert.equal(#podero.DECIMAL_FIELDS.inverter, 8)
      assert.equal(15, #podero.DECIMAL_FIELDS)
      local hp = {}
      for i, name in ipairs(podero.DECIMAL_FIELDS) do hp[i] = name end
      assert.same(hp, podero.DECIMAL_FIELDS.heat_pump)
    end)
  end)

  describe("device onboarding and savings", function()
    it("create_onboarding_session and onboarding_session", function()
      local s = assert(client:create_onboarding_session({ user_id = user, success_url = OK_URL, cancel_url = CANCEL_URL,
                                                          language = "de", device_type = "ev" }))
      assert.truthy(s.authentication_url:find(s.id, 1, true))
      assert.equal(OK_URL, s.success_url)
      local again = assert(client:onboarding_session(s.id))
      assert.equal(s.id, again.id)
      local _, err = client:onboarding_session(MISSING)
      assert.equal(404, err.status)
      raises(function() client:create_onboarding_session({ success_url = OK_URL, cancel_url = CANCEL_URL }) end,
        "fields.user_id is required")
      raises(function() client:create_onboarding_session({ user_id = user, success_url = OK_URL, cancel_url = CANCEL_URL,
                                                           language = "fr" }) end, "language must be one of sv, de, en")
      raises(function() client:create_onboarding_session({ user_id = user, success_url = OK_URL, cancel_url = CANCEL_URL,
                                                           device_type = "car" }) end, 'device_type must be "ev", "iv", "wb" or "hp"')
      raises(function() client:create_onboarding_session({ user_id = user, success_url = ("u"):rep(8001), cancel_url = CANCEL_URL }) end,
        "success_url must be at most 8000 characters")
      raises(function() client:create_onboarding_session({ user_id = user, success_url = OK_URL, cancel_url = CANCEL_URL,
                                                           price_zone_default = "XX" }) end, "price_zone_default must be a price zone")
      raises(function() client:onboarding_session("nope") end, "podero: onboarding_session: session_id must be a UUID")
    end)

    it("savings of a period: epoch seconds or ISO 8601 with a zone, sent as UTC", function()
      local s = assert(client:savings(org, { start = 1764547200, finish = "2025-12-31T01:00:00+01:00" }))
      assert.equal("number", type(s.total_savings))
      assert.equal("number", type(s.inverter_savings))
      assert.equal("/api/partners/v2.0/org/" .. org .. "/devices/savings?start_datetime=2025-12-01T00%3A00%3A00Z"
        .. "&end_datetime=2025-12-31T00%3A00%3A00Z", last_api().uri)
      raises(function() client:savings(org, { start = 1 }) end, "period.finish is required")
      raises(function() client:savings(org, { start = 10, finish = 5 }) end, "is before period.start")
      raises(function() client:savings(org, { start = "2025-12-01T00:00:00", finish = 5 }) end,
        "period.start must be an ISO 8601 date-time with a time zone")
      raises(function() client:savings(org, { from = 1, finish = 5 }) end, 'unknown key "from" in period')
    end)
  end)
end)
