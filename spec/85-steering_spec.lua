-- Steering (issue 6): partial update, pause/resume, heating policy, away mode, optimization
-- level, statistics, actions (cues); validation before sending; the retry rule of each call.
local podero = require("podero")
local support = require("support")
local cjson = require("cjson")

local function ids()
  local d = support.demo()
  return d.org_id, d.user_id, d.heat_pump_id, d.heat_pump_all_actions_id
end

-- the last logged API request
local function last_api()
  local r = support.requests_of("api")
  return r[#r]
end

local function check_raises_naming(f, name)
  local ok, err = pcall(f)
  assert.is_false(ok, "should have raised")
  assert.truthy(tostring(err):find(name, 1, true), "error does not name " .. name .. ": " .. tostring(err))
end

describe("client:update_heat_pump", function()
  local client, org, user, hp_id
  before_each(function()
    support.reset()
    client = support.new_client()
    org, user, hp_id = ids()
  end)
  after_each(function() client:close() end)

  it("sends only the given fields with PUT and answers the updated heat pump", function()
    local hp, err = client:update_heat_pump(org, user, hp_id, {
      is_smart_optimization_active = false, optimization_level = "Low", comment = "new buffer tank",
    })
    assert.is_nil(err)
    assert.equal("Low", hp.optimization_level)
    assert.is_false(hp.is_smart_optimization_active)
    assert.equal("new buffer tank", hp.comment)
    local r = last_api()
    assert.equal("PUT", r.method)
    assert.equal(support.hp_path(org, user, hp_id), r.uri)
    assert.equal("application/json", r.headers["content-type"])
    assert.same({ is_smart_optimization_active = false, optimization_level = "Low", comment = "new buffer tank" },
      cjson.decode(r.body))
  end)

  it("persists: a later read sees the change, in the list too", function()
    assert(client:update_heat_pump(org, user, hp_id, { comment = "persisted" }))
    local hp = assert(client:heat_pump(org, user, hp_id))
    assert.equal("persisted", hp.comment)
    local list = assert(client:heat_pumps(org, user))
    local found
    for _, h in support.ipairs(list) do if h.id == hp_id then found = h end end
    assert.equal("persisted", found.comment)
  end)

  it("leaves the other fields as they were", function()
    local before = assert(client:heat_pump(org, user, hp_id)):to_table()
    local after = assert(client:update_heat_pump(org, user, hp_id, { min_solar_power_w = 2500 })):to_table()
    assert.equal(2500, after.min_solar_power_w)
    for k, v in pairs(before) do
      if k ~= "min_solar_power_w" and k ~= "updated_at" then assert.same(v, after[k], k) end
    end
  end)

  it("accepts upper-case ids and sends them in lower case", function()
    assert(client:update_heat_pump(org:upper(), user:upper(), hp_id:upper(), { comment = "x" }))
    assert.equal(support.hp_path(org, user, hp_id), last_api().uri)
  end)

  it("sends podero.null as JSON null", function()
    local hp = assert(client:update_heat_pump(org, user, hp_id, { comment = podero.null }))
    assert.is_nil(hp.comment)
    assert.equal('{"comment":null}', last_api().body)
  end)

  it("sends times as UTC ISO 8601, from epoch seconds or any ISO 8601 string", function()
    local hp = assert(client:update_heat_pump(org, user, hp_id, {
      away_mode_start = 1893456000, away_mode_end = "2030-01-10T12:00:00+02:00" }))
    local body = cjson.decode(last_api().body)
    assert.equal("2030-01-01T00:00:00Z", body.away_mode_start)
    assert.equal("2030-01-10T10:00:00Z", body.away_mode_end)
    assert.equal("2030-01-01T00:00:00Z", hp.away_mode_start)
  end)

  it("sends numbers exactly (integers as integers, floats round-trip)", function()
    assert(client:update_heat_pump(org, user, hp_id, { maximum_temperature_limit = 23,
      minimum_temperature_limit = 0.1 + 0.2, min_solar_power_w = 3000.0 }))
    local body = last_api().body
    assert.truthy(body:find('"maximum_temperature_limit":23[,}]'), body)
    assert.truthy(body:find('"minimum_temperature_limit":0.30000000000000004', 1, true), body)
    assert.truthy(body:find('"min_solar_power_w":3000[,}]'), body)
  end)

  it("binds the answer to its client: hp:update works on it", function()
    local hp = assert(client:update_heat_pump(org, user, hp_id, { comment = "a" }))
    local hp2 = assert(hp:update({ comment = "b" }))
    assert.equal("b", hp2.comment)
  end)

  -- The context of an answer ({client, org_id, user_id}) is kept as its parts and made into a
  -- table only when a method needs it: the ids come back lowercased and whole, the object keeps
  -- its client alive, and a context made once is the same table afterwards.
  it("keeps the answer's context until it is needed, with the ids as given (lowercased)", function()
    local core = require("podero.core")
    local c = support.new_client()
    local hp = assert(c:heat_pump(org:upper(), user:upper(), hp_id:upper()))
    local list = assert(c:heat_pumps(org, user))
    c = nil  -- luacheck: ignore 311 (the objects keep their client)
    for _ = 1, 2 do collectgarbage() end
    local ctx = core.context(hp)
    assert.equal(org:lower(), ctx.org_id)
    assert.equal(user:lower(), ctx.user_id)
    assert.is_true(core.context(hp) == ctx)
    local h2 = assert(hp:update({ comment = "context kept" }))
    assert.equal("context kept", h2.comment)
    assert.equal(org:lower(), core.context(h2).org_id)
    -- an element of a list shares the list's context
    local first = list[1]
    list = nil  -- luacheck: ignore 311
    collectgarbage()
    assert.equal(user:lower(), core.context(first).user_id)
    assert(first:refresh())
    core.context(hp).client:close()
  end)

  it("answers nil, err for a heat pump that is not the user's (404)", function()
    local other = support.demo().deleted_heat_pump_id
    local hp, err = client:update_heat_pump(org, user, other, { comment = "x" })
    assert.is_nil(hp)
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
  end)

  it("is retried on 503 like a GET (PUT is idempotent)", function()
    support.fault({ status = 503, times = 2 })
    local before = support.stats().api_requests
    local hp, err = client:update_heat_pump(org, user, hp_id, { comment = "after 503" })
    assert.is_nil(err)
    assert.equal("after 503", hp.comment)
    assert.equal(before + 3, support.stats().api_requests)
  end)

  it("gives up on 503 after 1 + max_retries attempts", function()
    support.fault({ status = 503, times = 5 })
    local hp, err = client:update_heat_pump(org, user, hp_id, { comment = "x" })
    assert.is_nil(hp)
    assert.equal(503, err.status)
    assert.equal(3, err.attempts)
  end)

  it("is not retried after a timeout", function()
    local c = support.new_client({ timeout = 0.5, max_retries = 2 })
    assert(c:heat_pump(org, user, hp_id)) -- token first
    support.fault({ delay_ms = 1500 })
    local before = support.stats().api_requests
    local hp, err = c:update_heat_pump(org, user, hp_id, { comment = "x" })
    assert.is_nil(hp)
    assert.equal("timeout", err.kind)
    assert.equal(1, err.attempts)
    assert.equal(before + 1, support.stats().api_requests)
    c:close()
  end)
end)

describe("update validation (raises naming the field, sends nothing)", function()
  local client, org, user, hp_id, hp, before
  setup(function()
    support.reset()
    client = support.new_client()
    org, user, hp_id = ids()
    hp = assert(client:heat_pump(org, user, hp_id))
  end)
  teardown(function() client:close() end)
  before_each(function() before = support.stats() end)
  after_each(function()
    local after = support.stats()
    assert.equal(before.api_requests, after.api_requests, "an API request was sent")
    assert.equal(before.token_requests, after.token_requests, "a token request was sent")
  end)

  local CASES = {
    { { optimisation_level = "Low" }, "optimisation_level", "a typo" },
    { { connection_status = "ok" }, "connection_status", "a read-only field" },
    { { id = "x" }, "id", "the id" },
    { { optimization_level = "High" }, "optimization_level", "an unknown level" },
    { { optimization_level = "low" }, "optimization_level", "a level in the wrong case" },
    { { optimization_level = 1 }, "optimization_level", "a level that is a number" },
    { { maximum_temperature_limit = "23" }, "maximum_temperature_limit", "a temperature string" },
    { { minimum_temperature_limit = 0 / 0 }, "minimum_temperature_limit", "NaN" },
    { { away_mode_minimum_temperature_limit = math.huge }, "away_mode_minimum_temperature_limit", "inf" },
    { { dhw_standard_temperature = true }, "dhw_standard_temperature", "a boolean temperature" },
    { { minimum_temperature_limit = 24, maximum_temperature_limit = 20 }, "minimum_temperature_limit", "min above max" },
    { { is_smart_optimization_active = "false" }, "is_smart_optimization_active", "a boolean as a string" },
    { { is_smart_optimization_active = podero.null }, "is_smart_optimization_active", "null where not nullable" },
    { { min_solar_power_w = 1.5 }, "min_solar_power_w", "a fraction for an integer" },
    { { pause_power_until = "tomorrow" }, "pause_power_until", "a time that is not ISO 8601" },
    { { pause_power_until = "2030-01-01T00:00:00" }, "pause_power_until", "a time without a zone" },
    { { pause_power_until = "2030-02-30T00:00:00Z" }, "pause_power_until", "an impossible date" },
    { { pause_power_until = true }, "pause_power_until", "a boolean time" },
    { { away_mode_start = "2030-01-10T00:00:00Z", away_mode_end = "2030-01-01T00:00:00Z" }, "away_mode_end", "an away mode that ends before it starts" },
    { { comment = string.rep("x", 301) }, "comment", "a comment over 300 characters" },
    { { comment = 12345 }, "comment", "a number for a string" },
    { { price_zone = "XX" }, "price_zone", "an unknown price zone" },
    { {}, "fields", "an empty table" },
  }
  for _, case in ipairs(CASES) do
    it("rejects " .. case[3], function()
      check_raises_naming(function() client:update_heat_pump(org, user, hp_id, case[1]) end, case[2])
      check_raises_naming(function() hp:update(case[1]) end, case[2])
    end)
  end

  it("rejects fields that are not a table", function()
    check_raises_naming(function() client:update_heat_pump(org, user, hp_id, "comment=x") end, "fields")
    check_raises_naming(function() client:update_heat_pump(org, user, hp_id) end, "fields")
  end)

  it("rejects bad ids naming them", function()
    check_raises_naming(function() client:update_heat_pump("x", user, hp_id, { comment = "x" }) end, "org_id")
    check_raises_naming(function() client:update_heat_pump(org, 42, hp_id, { comment = "x" }) end, "user_id")
    check_raises_naming(function() client:update_heat_pump(org, user, nil, { comment = "x" }) end, "heat_pump_id")
  end)

  it("pause_power: needs a valid time", function()
    check_raises_naming(function() hp:pause_power() end, "until_")
    check_raises_naming(function() hp:pause_power("soon") end, "until_")
    check_raises_naming(function() hp:pause_power({}) end, "until_")
  end)

  it("pause_power: a duration passed as a time, or a past time, raises and points at pause_power_for", function()
    local n0 = support.stats().api_requests
    for _, case in ipairs({
      { 7200, "before 2000" }, { "1999-12-31T23:00:00Z", "before 2000" },
      { os.time() - 3600, "in the past" }, { os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 600), "in the past" },
    }) do
      local ok, err = pcall(hp.pause_power, hp, case[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
      assert.truthy(tostring(err):find("pause_power_for", 1, true), tostring(err))
    end
    assert.equal(n0, support.stats().api_requests)
  end)

  it("pause_power_for: bad durations raise naming seconds", function()
    for _, bad in ipairs({ 0, -5, 0 / 0, math.huge, "2h", 400 * 86400 }) do
      check_raises_naming(function() hp:pause_power_for(bad) end, "seconds")
    end
  end)

  it("set_heating_policy: checks each key", function()
    check_raises_naming(function() hp:set_heating_policy({ min = "19" }) end, "min")
    check_raises_naming(function() hp:set_heating_policy({ max = 0 / 0 }) end, "max")
    check_raises_naming(function() hp:set_heating_policy({ min_dhw = {} }) end, "min_dhw")
    check_raises_naming(function() hp:set_heating_policy({ enabled = "yes" }) end, "enabled")
    check_raises_naming(function() hp:set_heating_policy({ name = 7 }) end, "name")
    check_raises_naming(function() hp:set_heating_policy({ min = 24, max = 23 }) end, "policy.min")
    check_raises_naming(function() hp:set_heating_policy({ minimum = 19 }) end, "minimum")
    check_raises_naming(function() hp:set_heating_policy({}) end, "policy")
    check_raises_naming(function() hp:set_heating_policy() end, "policy")
  end)

  it("set_away_mode: checks times, order and temperature", function()
    check_raises_naming(function() hp:set_away_mode({ finish = 2000000000 }) end, "away.start")
    check_raises_naming(function() hp:set_away_mode({ start = 2000000000 }) end, "away.finish")
    check_raises_naming(function() hp:set_away_mode({ start = "x", finish = 2000000000 }) end, "start")
    check_raises_naming(function() hp:set_away_mode({ start = 2000000000, finish = 1999999999 }) end, "away.finish")
    check_raises_naming(function() hp:set_away_mode({ start = 1, finish = 2, min_temperature = "16" }) end, "min_temperature")
    check_raises_naming(function() hp:set_away_mode({ start = 1, finish = 2, end_ = 3 }) end, "end_")
  end)

  it("set_optimization_level: only Low, Mid, Max", function()
    for _, bad in ipairs({ "High", "mid", "", 2 }) do
      check_raises_naming(function() hp:set_optimization_level(bad) end, "optimization_level")
    end
    check_raises_naming(function() hp:set_optimization_level() end, "optimization_level")
  end)

  it("statistics: checks its options", function()
    check_raises_naming(function() hp:statistics({ resolutions = "1DAY" }) end, "resolutions")
    check_raises_naming(function() hp:statistics({ resolution = { "1DAY", "x,y" } }) end, "resolution")
    check_raises_naming(function() hp:statistics({ resolution = {} }) end, "resolution")
    check_raises_naming(function() hp:statistics({ keywords = { 1 } }) end, "keywords")
    check_raises_naming(function() hp:statistics("1DAY") end, "opts")
  end)

  it("methods on an object that did not come from a client raise", function()
    local loose = podero.is_object(hp) and require("podero.core").parse(hp:raw(), "heat_pump")
    check_raises_naming(function() loose:update({ comment = "x" }) end, "client")
    check_raises_naming(function() loose:pause_power(2000000000) end, "client")
  end)

  it("a closed client raises", function()
    local c = support.new_client()
    local h = assert(c:heat_pump(org, user, hp_id))
    before = support.stats()
    c:close()
    check_raises_naming(function() h:update({ comment = "x" }) end, "closed")
  end)
end)

describe("heat pump steering methods", function()
  local client, org, user, hp_id, hp
  before_each(function()
    support.reset()
    client = support.new_client()
    org, user, hp_id = ids()
    hp = assert(client:heat_pump(org, user, hp_id))
  end)
  after_each(function() client:close() end)

  it("hp:update and hp:refresh", function()
    local h2 = assert(hp:update({ comment = "new buffer tank" }))
    assert.equal("new buffer tank", h2.comment)
    assert.are_not.equal("new buffer tank", hp.comment) -- objects are snapshots
    local h3 = assert(hp:refresh())
    assert.equal("new buffer tank", h3.comment)
    assert.equal("GET", last_api().method)
  end)

  it("hp:refresh of a soft-deleted heat pump reads it with include_deleted", function()
    local d = support.demo()
    local del = assert(client:heat_pump(org, user, d.deleted_heat_pump_id, { include_deleted = true }))
    local again = assert(del:refresh())
    assert.equal(d.deleted_heat_pump_id, again.id)
  end)

  it("hp:pause_power_for(seconds) pauses from now; a time up to a minute ago is still taken", function()
    local p = assert(hp:pause_power_for(7200))
    assert.is_true(p.is_pause_power_active)
    assert.is_true(math.abs(podero.time(p.pause_power_until) - (os.time() + 7200)) <= 5)
    assert.is_not_nil(hp:pause_power(os.time() - 30)) -- clocks differ
  end)

  it("hp:pause_power with epoch seconds and with an ISO string; hp:resume_power", function()
    local t = os.time() + 3600
    local p = assert(hp:pause_power(t))
    assert.equal(os.date("!%Y-%m-%dT%H:%M:%SZ", t), p.pause_power_until)
    assert.is_true(p.is_pause_power_active)
    assert.same({ pause_power_until = os.date("!%Y-%m-%dT%H:%M:%SZ", t), is_pause_power_active = true },
      cjson.decode(last_api().body))
    p = assert(hp:pause_power("2099-06-01T14:00:00+02:00"))
    assert.equal("2099-06-01T12:00:00Z", p.pause_power_until)
    local r = assert(p:resume_power())
    assert.is_nil(r.pause_power_until)
    assert.is_false(r.is_pause_power_active)
    local body = last_api().body
    assert.truthy(body:find('"pause_power_until":null', 1, true), body)
    assert.truthy(body:find('"is_pause_power_active":false', 1, true), body)
  end)

  it("hp:set_heating_policy", function()
    local h = assert(hp:set_heating_policy({ enabled = true, name = "Comfort", min = 19.5, max = 23, min_dhw = 42 }))
    assert.is_true(h.is_heating_policy_enabled)
    assert.equal("Comfort", h.heating_policy_name)
    assert.equal(19.5, h.minimum_temperature_limit)
    assert.equal(23, h.maximum_temperature_limit)
    assert.equal(42, h.minimum_dhw_temperature_limit)
    assert.same({ is_heating_policy_enabled = true, heating_policy_name = "Comfort", minimum_temperature_limit = 19.5,
      maximum_temperature_limit = 23, minimum_dhw_temperature_limit = 42 }, cjson.decode(last_api().body))
  end)

  it("hp:set_away_mode and hp:clear_away_mode", function()
    local t1, t2 = 1893456000, "2030-01-15T00:00:00Z"
    local h = assert(hp:set_away_mode({ start = t1, finish = t2, min_temperature = 16 }))
    assert.equal("2030-01-01T00:00:00Z", h.away_mode_start)
    assert.equal("2030-01-15T00:00:00Z", h.away_mode_end)
    assert.equal(16, h.away_mode_minimum_temperature_limit)
    assert.is_true(h.is_away_mode_enabled)
    local c = assert(h:clear_away_mode())
    assert.is_false(c.is_away_mode_enabled)
    assert.is_nil(c.away_mode_start)
    assert.is_nil(c.away_mode_end)
    assert.same({ is_away_mode_enabled = false, away_mode_start = cjson.null, away_mode_end = cjson.null },
      cjson.decode(last_api().body))
  end)

  it("hp:set_optimization_level", function()
    for _, level in ipairs({ "Low", "Mid", "Max" }) do
      local h = assert(hp:set_optimization_level(level))
      assert.equal(level, h.optimization_level)
    end
    assert.equal('{"optimization_level":"Max"}', last_api().body)
  end)

  it("hp:statistics answers lazy objects", function()
    local stats, err = hp:statistics({ resolution = { "1DAY", "1WEEK" }, keywords = { "savings", "consumption" } })
    assert.is_nil(err)
    assert.is_true(podero.is_object(stats))
    assert.equal(2, #stats.data)
    assert.equal("1DAY", stats.data[1].resolution)
    assert.equal("1WEEK", stats.data[2].resolution)
    assert.equal("number", type(stats.data[1].savings.total))
    assert.equal("EUR", stats.data[1].savings.currency)
    assert.equal("number", type(stats.data[2].consumption.total_kwh))
    assert.is_true(stats.data[2].consumption.total_kwh > stats.data[1].consumption.total_kwh)
    assert.equal(support.hp_path(org, user, hp_id) .. "/statistics?resolution=1DAY,1WEEK&keywords=savings,consumption",
      last_api().uri)
    -- deterministic
    local again = assert(hp:statistics({ resolution = { "1DAY", "1WEEK" }, keywords = { "savings", "consumption" } }))
    assert.same(podero.to_table(stats), podero.to_table(again))
    -- a single string, and no options
    local one = assert(hp:statistics({ resolution = "1WEEK", keywords = "savings" }))
    assert.equal(1, #one.data)
    assert.is_nil(one.data[1].consumption)
    assert(hp:statistics())
  end)

  it("hp:statistics: an unknown resolution is the server's 422", function()
    local stats, err = hp:statistics({ resolution = "2DAYS" })
    assert.is_nil(stats)
    assert.equal("http", err.kind)
    assert.equal(422, err.status)
  end)

  it("statistics is retried on 503 (GET)", function()
    support.fault({ status = 503 })
    assert(hp:statistics())
    assert.equal(2, #support.requests_of("api") - 1)
  end)
end)

describe("actions", function()
  local client, org, user, hp_id, hp
  before_each(function()
    support.reset()
    client = support.new_client()
    local _
    org, user, _, hp_id = ids()
    hp = assert(client:heat_pump(org, user, hp_id))
  end)
  after_each(function() client:close() end)

  local function action(h, code)
    for _, a in support.ipairs(h.actions) do if a.code == code then return a end end
  end

  it("the whole flow: resolve, report success, the action is gone", function()
    local a = action(hp, "reauthenticate")
    local url, err = client:resolve_action(a, { success_url = "https://partner.example/ok?x=1", cancel_url = "https://partner.example/no" })
    assert.is_nil(err)
    assert.equal("string", type(url))
    assert.truthy(url:match("^https://"))
    local r = last_api()
    assert.equal("POST", r.method)
    assert.equal(a.resolution_link.url, r.uri)
    assert.same({ successUrl = "https://partner.example/ok?x=1", cancelUrl = "https://partner.example/no" }, cjson.decode(r.body))

    local ok, err2 = client:report_action(a, "success")
    assert.is_nil(err2)
    assert.is_true(ok)
    r = last_api()
    assert.equal(a.resolution_link.url:gsub("/resolve%?", "/state?"), r.uri)
    assert.same({ state = "success" }, cjson.decode(r.body))

    local h2 = assert(hp:refresh())
    assert.is_nil(action(h2, "reauthenticate"))
    assert.equal(#hp.actions - 1, #h2.actions)
    assert.is_true(h2.action_needed) -- the information action is still there
    -- the last one
    assert(client:report_action(action(h2, "information"), "success"))
    local h3 = assert(h2:refresh())
    assert.equal(0, #h3.actions)
    assert.is_false(h3.action_needed)
    assert.is_false(h3.has_notification)
  end)

  it("report fail keeps the action", function()
    local a = action(hp, "information")
    assert.is_true(client:report_action(a, "fail"))
    local h2 = assert(hp:refresh())
    assert.truthy(action(h2, "information"))
  end)

  it("accepts a plain table or the url itself", function()
    local url = action(hp, "information").resolution_link.url
    assert.is_true(client:report_action({ resolution_link = { url = url } }, "fail"))
    assert.is_true(client:report_action(url, "fail"))
  end)

  it("an expired secret is an http error 404 that says to re-read the heat pump", function()
    local a = action(hp, "reauthenticate")
    support.post("/_sandbox/expire_action_secrets")
    local url, err = client:resolve_action(a, { success_url = "https://a/ok", cancel_url = "https://a/no" })
    assert.is_nil(url)
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    assert.equal(1, err.attempts)
    assert.truthy(err.message:find("re-read the heat pump", 1, true), err.message)
    assert.truthy(tostring(err):find("HTTP 404", 1, true))
    assert.equal(getmetatable(err), require("podero.core").error_mt)
    local ok, err2 = client:report_action(a, "success")
    assert.is_nil(ok)
    assert.equal(404, err2.status)
    assert.truthy(err2.message:find("expired", 1, true))
    -- re-reading gives a fresh secret that works
    local h2 = assert(hp:refresh())
    local fresh = action(h2, "reauthenticate")
    assert.are_not.equal(a.resolution_link.url, fresh.resolution_link.url)
    assert(client:resolve_action(fresh, { success_url = "https://a/ok", cancel_url = "https://a/no" }))
  end)

  it("an action already reported success is 404 too", function()
    local a = action(hp, "information")
    assert(client:report_action(a, "success"))
    local ok, err = client:report_action(a, "success")
    assert.is_nil(ok)
    assert.equal(404, err.status)
  end)

  it("POST cues are not retried on 503", function()
    support.fault({ status = 503, times = 3 })
    local before = support.stats().api_requests
    local url, err = client:resolve_action(action(hp, "reauthenticate"), { success_url = "https://a/ok", cancel_url = "https://a/no" })
    assert.is_nil(url)
    assert.equal(503, err.status)
    assert.equal(1, err.attempts)
    assert.equal(before + 1, support.stats().api_requests)
    local ok, err2 = client:report_action(action(hp, "information"), "fail")
    assert.is_nil(ok)
    assert.equal(503, err2.status)
    assert.equal(1, err2.attempts)
    support.post("/_sandbox/reset")
  end)

  it("POST cues are not retried after a timeout", function()
    local c = support.new_client({ timeout = 0.5 })
    assert(c:heat_pump(org, user, hp_id))
    support.fault({ delay_ms = 1500, times = 3 })
    local before = support.stats().api_requests
    local ok, err = c:report_action(action(hp, "information"), "fail")
    assert.is_nil(ok)
    assert.equal("timeout", err.kind)
    assert.equal(1, err.attempts)
    assert.equal(before + 1, support.stats().api_requests)
    c:close()
  end)

  it("POST cues are retried when the connection is refused", function()
    local c = podero.new({ base_url = "http://127.0.0.1:1", token = "static-token-for-refused-test",
      retry_base_delay = 0.01, max_retries = 2, connect_timeout = 2 })
    local ok, err = c:report_action(action(hp, "information"), "fail")
    assert.is_nil(ok)
    assert.equal("network", err.kind)
    assert.equal(3, err.attempts)
    local url, err2 = c:resolve_action(action(hp, "reauthenticate"), { success_url = "https://a/ok", cancel_url = "https://a/no" })
    assert.is_nil(url)
    assert.equal(3, err2.attempts)
    c:close()
  end)

  describe("validation (nothing sent)", function()
    local before
    before_each(function() before = support.stats() end)
    after_each(function() assert.equal(before.api_requests, support.stats().api_requests, "an API request was sent") end)

    it("rejects actions without a usable resolution link", function()
      local opts = { success_url = "https://a/ok", cancel_url = "https://a/no" }
      check_raises_naming(function() client:resolve_action(nil, opts) end, "action")
      check_raises_naming(function() client:resolve_action({}, opts) end, "resolution_link.url")
      check_raises_naming(function() client:resolve_action("https://evil.example/api/partners/v2.0/cues/e5e217c6-d02b-47dc-9a57-1f489b5bcc32/resolve?secret=ab", opts) end, "resolution_link.url")
      check_raises_naming(function() client:resolve_action("/api/partners/v2.0/cues/not-a-uuid/resolve?secret=ab", opts) end, "resolution_link.url")
      check_raises_naming(function() client:resolve_action("/api/partners/v2.0/cues/e5e217c6-d02b-47dc-9a57-1f489b5bcc32/delete?secret=ab", opts) end, "resolution_link.url")
      check_raises_naming(function() client:resolve_action("/api/partners/v2.0/cues/e5e217c6-d02b-47dc-9a57-1f489b5bcc32/resolve", opts) end, "resolution_link.url")
      check_raises_naming(function() client:resolve_action("/api/partners/v2.0/cues/e5e217c6-d02b-47dc-9a57-1f489b5bcc32/resolve?secret=a b", opts) end, "secret")
    end)

    it("rejects bad resolve options", function()
      local a = action(hp, "reauthenticate")
      check_raises_naming(function() client:resolve_action(a) end, "success_url")
      check_raises_naming(function() client:resolve_action(a, { cancel_url = "https://a/no" }) end, "success_url")
      check_raises_naming(function() client:resolve_action(a, { success_url = "https://a/ok" }) end, "cancel_url")
      check_raises_naming(function() client:resolve_action(a, { success_url = "https://a/ok", cancel_url = 3 }) end, "cancel_url")
      check_raises_naming(function() client:resolve_action(a, { successUrl = "https://a/ok", cancel_url = "https://a/no" }) end, "successUrl")
    end)

    it("rejects a state other than success or fail", function()
      local a = action(hp, "information")
      for _, bad in ipairs({ "ok", "SUCCESS", true }) do
        check_raises_naming(function() client:report_action(a, bad) end, "state")
      end
      check_raises_naming(function() client:report_action(a) end, "state")
    end)
  end)
end)

describe("the heat pump schema (csrc/schema.c, core.heat_pump_fields)", function()
  local core = require("podero.core")

  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end

  it("has the writable fields of the sandbox's own table, field by field", function()
    -- the sandbox's table (sandbox/lua/podero_sandbox/steering.lua) is written independently;
    -- its text is evaluated here with the two lists it refers to
    local src = read(support.ROOT .. "/sandbox/lua/podero_sandbox/steering.lua")
    local env = {}
    for _, name in ipairs({ "PRICE_ZONES", "LEVELS" }) do
      local list = assert(src:match("local " .. name .. " = (%b{})"), name)
      env[name] = assert(load("return " .. list, name, "t", {}))()
    end
    local tbl = assert(src:match("local WRITABLE = (%b{})"), "no WRITABLE table in the sandbox")
    local sandbox = assert(load("return " .. tbl, "WRITABLE", "t", env))()
    local TYPES = { bool = "boolean", datetime = "time", int = "integer", number = "number", string = "string", enum = "enum" }
    local ours, n = {}, 0
    for _, f in ipairs(core.heat_pump_fields) do
      if f.type then ours[f.name] = f; n = n + 1 end
    end
    local m = 0
    for name, s in pairs(sandbox) do
      m = m + 1
      local f = ours[name]
      assert.is_not_nil(f, "not writable in the schema: " .. name)
      assert.equal(TYPES[s[1]], f.type, name)
      assert.equal(s[2], f.nullable, name)
      if s[1] == "string" then assert.equal(s[3], f.max_length, name) end
      if s[1] == "enum" then assert.same(s[3], f.values, name) end
    end
    assert.equal(m, n)
    local names = {}
    for name in pairs(ours) do names[#names + 1] = name end
    table.sort(names)
    assert.same(names, podero.WRITABLE_HEAT_PUMP_FIELDS)
  end)

  it("has as Decimals exactly the fields the OpenAPI contract types number | string | null", function()
    local yaml = read(support.ROOT .. "/../shared/spec/podero-heat-pump.openapi.yaml")
    local start = assert(yaml:find("\n    HeatPumpDetailOutput:\n", 1, true))
    local stop = yaml:find("\n    %a+:\n", start + 10) or #yaml
    local block = yaml:sub(start, stop)
    -- each property starts at 8 spaces; its anyOf lists the types below it
    local types, order, cur = {}, {}, nil
    for line in block:gmatch("[^\n]+") do
      local name = line:match("^        ([%w_]+):$")
      if name then
        cur = name
        order[#order + 1] = name
        types[name] = {}
      elseif cur then
        local t = line:match("^            %- type: '?([%w]+)'?$")
        if t then types[cur][t] = true end
      end
    end
    local want = {}
    for _, name in ipairs(order) do
      if types[name].number and types[name].string then want[#want + 1] = name end
    end
    table.sort(want)
    assert.equal(15, #want)
    assert.same(want, podero.DECIMAL_FIELDS)
  end)
end)
