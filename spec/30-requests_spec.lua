-- Requests: argument checks, ids, include_deleted, list calls, closing, User-Agent.
local podero = require("podero")
local support = require("support")
local cjson = require("cjson")

local GOOD = "c871d975-416e-4563-b526-5e1fc9c9e070"

local BAD_IDS = {
  { nil, "nil" }, { 42, "a number" }, { true, "a boolean" }, { {}, "a table" },
  { "", "an empty string" }, { "c871d975-416e-4563-b526-5e1fc9c9e07", "35 characters" },
  { "c871d975-416e-4563-b526-5e1fc9c9e0700", "37 characters" },
  { "c871d975416e4563b5265e1fc9c9e070", "no dashes" },
  { "{c871d975-416e-4563-b526-5e1fc9c9e070}", "braces" },
  { "urn:uuid:c871d975-416e-4563-b526-5e1fc9c9e070", "a urn prefix" },
  { "c871d975-416e-4563-b526-5e1fc9c9e07g", "a non-hex digit" },
  { "c871d975_416e-4563-b526-5e1fc9c9e070", "a wrong separator" },
  { "c871d9754-16e-4563-b526-5e1fc9c9e070", "misplaced dashes" },
  { string.rep("../", 12), "../ path segments" },
  { "c871d975-416e-4563-b526-5e1fc9c9e07\n", "a LF" },
  { "c871d975-416e-4563-b526-5e1fc9c9e07\r", "a CR" },
  { "c871d975-416e-4563-b526-5e1fc9c9\r\nX:", "CR LF" },
  { "c871d975-416e-4563-b526-5e1fc9c9e07\0", "a NUL" },
  { "c871d975-416e-4563-b526-5e1fc9c9e070\0", "a trailing NUL" },
  { " c871d975-416e-4563-b526-5e1fc9c9e070", "a leading space" },
  { "c871d975-416e-4563-b526-5e1fc9c9e0%2F", "percent-encoding" },
  { "c871d975-416e-4563-b526-5e1fc9c9e0?x", "a query" },
  { string.rep("a", 1024 * 1024), "a 1 MB string" },
}

local function check_raises_naming(f, name)
  local ok, err = pcall(f)
  assert.is_false(ok, "should have raised")
  assert.truthy(tostring(err):find(name, 1, true), "error does not name " .. name .. ": " .. tostring(err))
  assert.is_true(#tostring(err) < 1000, "the error message should not echo a huge argument")
end

describe("client:heat_pump argument checks", function()
  local client, before
  before_each(function()
    support.reset()
    client = support.new_client()
    before = support.stats()
  end)
  after_each(function()
    local after = support.stats()
    assert.equal(before.api_requests, after.api_requests, "an API request was sent")
    assert.equal(before.token_requests, after.token_requests, "a token request was sent")
  end)

  for _, case in ipairs(BAD_IDS) do
    local bad, what = case[1], case[2]
    it(("raises naming org_id for %s, before anything is sent"):format(what), function()
      check_raises_naming(function() return client:heat_pump(bad, GOOD, GOOD) end, "org_id")
    end)
    it(("raises naming user_id for %s, before anything is sent"):format(what), function()
      check_raises_naming(function() return client:heat_pump(GOOD, bad, GOOD) end, "user_id")
    end)
    it(("raises naming heat_pump_id for %s, before anything is sent"):format(what), function()
      check_raises_naming(function() return client:heat_pump(GOOD, GOOD, bad) end, "heat_pump_id")
    end)
  end

  it("raises for a non-boolean include_deleted", function()
    for _, v in ipairs({ "true", 1, {} }) do
      check_raises_naming(function() return client:heat_pump(GOOD, GOOD, GOOD, { include_deleted = v }) end,
        "include_deleted")
    end
  end)

  it("raises for an unknown key in opts and names it", function()
    check_raises_naming(function() return client:heat_pump(GOOD, GOOD, GOOD, { include_delted = true }) end,
      "include_delted")
  end)

  it("raises when opts is not a table", function()
    assert.has_error(function() return client:heat_pump(GOOD, GOOD, GOOD, "include_deleted") end)
    assert.has_error(function() return client:heat_pump(GOOD, GOOD, GOOD, true) end)
  end)

  it("raises when called as a function instead of a method", function()
    assert.has_error(function() return client.heat_pump(GOOD, GOOD, GOOD) end)
  end)

  it("checks the ids of the list calls the same way", function()
    check_raises_naming(function() return client:users("nope") end, "org_id")
    check_raises_naming(function() return client:heat_pumps(GOOD, "nope") end, "user_id")
    check_raises_naming(function() return client:heat_pumps(42, GOOD) end, "org_id")
  end)
end)

describe("client:heat_pump", function()
  local d
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("gets the demo heat pump", function()
    local hp, err = support.new_client():heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(err)
    assert.equal(d.heat_pump_id, hp.id)
  end)

  it("accepts upper-case ids and sends them lower-case", function()
    local hp, err = support.new_client():heat_pump(d.org_id:upper(), d.user_id:upper(), d.heat_pump_id:upper())
    assert.is_nil(err)
    assert.equal(d.heat_pump_id, hp.id)
    local api = support.requests_of("api")
    assert.equal(1, #api)
    assert.equal(support.hp_path(d.org_id, d.user_id, d.heat_pump_id), api[1].uri)
  end)

  it("sends Authorization: Bearer and Accept: application/json", function()
    assert.truthy(support.new_client():heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    local api = support.requests_of("api")[1]
    assert.truthy(api.headers.authorization:match("^Bearer %S+$"))
    assert.truthy(api.headers.accept:find("application/json", 1, true))
    assert.equal("GET", api.method)
  end)

  it("gets a soft-deleted heat pump only with include_deleted = true", function()
    local c = support.new_client()
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.deleted_heat_pump_id)
    assert.is_nil(hp)
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    hp, err = c:heat_pump(d.org_id, d.user_id, d.deleted_heat_pump_id, { include_deleted = false })
    assert.is_nil(hp)
    assert.equal(404, err and err.status)
    hp, err = c:heat_pump(d.org_id, d.user_id, d.deleted_heat_pump_id, { include_deleted = true })
    assert.is_nil(err)
    assert.equal(d.deleted_heat_pump_id, hp.id)
    assert.equal("string", type(hp.deleted_at))
    local api = support.requests_of("api")
    assert.truthy(api[#api].uri:find("include_deleted=true", 1, true))
    assert.falsy(api[1].uri:find("include_deleted", 1, true))
  end)

  it("answers another user's heat pump with an http 404 'Not Found', one attempt", function()
    local org, user, hp_id = support.find_hp(function(h, u, o)
      return o.id == d.org_id and u.id ~= d.user_id and not h.deleted and not u.deleted
    end)
    assert.equal(d.org_id, org)
    local hp, err = support.new_client():heat_pump(d.org_id, d.user_id, hp_id)
    assert.is_nil(hp)
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    assert.truthy(err.message:find("Not Found", 1, true))
    assert.equal(1, err.attempts)
    assert.truthy(user)
  end)

  it("answers an unknown organisation with 404", function()
    local hp, err = support.new_client():heat_pump("00000000-0000-4000-8000-000000000000", d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    assert.equal(404, err.status)
  end)

  it("works for many calls in a row on one client", function()
    local c = support.new_client()
    for _ = 1, 20 do
      local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
      assert.is_nil(err)
      assert.equal(d.heat_pump_id, hp.id)
    end
  end)

  it("keeps earlier objects valid after later calls", function()
    local c = support.new_client()
    local a = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    local b = c:heat_pump(d.org_id, d.user_id, d.heat_pump_all_actions_id)
    collectgarbage()
    assert.equal(d.heat_pump_id, a.id)
    assert.equal(d.heat_pump_all_actions_id, b.id)
    assert.equal(d.heat_pump_id, a:to_table().id)
    assert.truthy(a:raw():find(d.heat_pump_id, 1, true))
    assert.truthy(b:raw():find(d.heat_pump_all_actions_id, 1, true))
    assert.not_equal(a:raw(), b:raw())
  end)

  it("uses a long base_url whole, or refuses it in podero.new (never a truncated URL)", function()
    for _, n in ipairs({ 900, 1000, 3000 }) do
      support.reset()
      local long = support.url() .. "/" .. string.rep("p", n)
      -- a static token, so that the only request is the API call
      local ok, c = pcall(support.new_client, { base_url = long, client_id = support.NONE,
                                                client_secret = support.NONE, token = "static-token-1" })
      if ok then
        local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
        assert.is_nil(hp)
        assert.equal(404, err and err.status)
        local reqs = support.requests()
        assert.equal(1, #reqs)
        local want = "/" .. string.rep("p", n) .. support.hp_path(d.org_id, d.user_id, d.heat_pump_id)
        assert.is_true(reqs[1].uri == want,
          ("base_url of %d bytes: the request went to a URI of %d bytes ending in %q, not to %d bytes ending in the heat pump id")
            :format(#long, #reqs[1].uri, reqs[1].uri:sub(-20), #want))
      else
        assert.truthy(tostring(c):find("base_url", 1, true))
      end
    end
  end)

  it("accepts a base_url with a trailing slash and sends no double slash", function()
    assert.truthy(support.new_client({ base_url = support.url() .. "/" }):heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    for _, r in ipairs(support.requests()) do
      assert.falsy(r.uri:find("//", 1, true), r.uri)
    end
  end)

  it("can be used after a failed call", function()
    local c = support.new_client()
    support.fault({ status = 500 })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    assert.equal(500, err.status)
    hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(err)
    assert.equal(d.heat_pump_id, hp.id)
  end)
end)

describe("client:close", function()
  local d
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("makes later calls raise 'client is closed'", function()
    local c = support.new_client()
    assert.truthy(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    c:close()
    local ok, err = pcall(c.heat_pump, c, d.org_id, d.user_id, d.heat_pump_id)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("client is closed", 1, true))
    ok, err = pcall(c.users, c, d.org_id)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("client is closed", 1, true))
  end)

  it("is harmless twice, and tostring still works", function()
    local c = support.new_client()
    c:close()
    assert.has_no_error(function() c:close() end)
    assert.equal("string", type(tostring(c)))
  end)

  it("leaves objects read before it readable", function()
    local c = support.new_client()
    local hp = c:heat_pump(d.org_id, d.user_id, d.heat_pump_all_actions_id)
    c:close()
    collectgarbage()
    assert.equal(d.heat_pump_all_actions_id, hp.id)
    assert.equal("string", type(hp.actions[1].code))
  end)

  it("a client that is garbage collected frees itself (no crash, others keep working)", function()
    for _ = 1, 20 do
      local c = support.new_client()
      assert.truthy(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    end
    collectgarbage()
    collectgarbage()
    assert.truthy(support.new_client():heat_pump(d.org_id, d.user_id, d.heat_pump_id))
  end)
end)

describe("User-Agent", function()
  local d
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("is 'podero-lua/0.1.0 ...' by default, on the API and the token endpoint", function()
    assert.truthy(support.new_client():heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    local reqs = support.requests()
    assert.equal(2, #reqs)
    for _, r in ipairs(reqs) do
      assert.truthy(r.headers["user-agent"]:match("^podero%-lua/0%.1%.0 %S"), r.headers["user-agent"])
    end
  end)

  it("is the user_agent option when given", function()
    assert.truthy(support.new_client({ user_agent = "fleet-monitor/2.3 (ops@example.com)" })
      :heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    for _, r in ipairs(support.requests()) do
      assert.equal("fleet-monitor/2.3 (ops@example.com)", r.headers["user-agent"])
    end
  end)
end)

describe("client:users and client:heat_pumps", function()
  local d, org, user
  setup(function()
    d = support.demo()
    for _, o in ipairs(support.seed().orgs) do
      if o.id == d.org_id then
        org = o
        for _, u in ipairs(o.users) do if u.id == d.user_id then user = u end end
      end
    end
  end)
  before_each(function() support.reset() end)

  it("client:users returns an array of lazy objects, the organisation's live users", function()
    local list, err = support.new_client():users(d.org_id)
    assert.is_nil(err)
    assert.is_true(podero.is_object(list))
    local live = 0
    for _, u in ipairs(org.users) do if not u.deleted then live = live + 1 end end
    assert.equal(live, #list)
    local ids = {}
    for i, u in support.ipairs(list) do
      assert.is_true(podero.is_object(u))
      assert.equal("string", type(u.id))
      ids[u.id] = i
    end
    assert.truthy(ids[d.user_id])
    assert.has_error(function() list[1] = 1 end)
  end)

  it("client:users with include_deleted lists the deleted users too", function()
    local list, err = support.new_client():users(d.org_id, { include_deleted = true })
    assert.is_nil(err)
    assert.equal(#org.users, #list)
  end)

  it("client:heat_pumps returns the user's heat pumps as heat pump objects", function()
    local list, err = support.new_client():heat_pumps(d.org_id, d.user_id)
    assert.is_nil(err)
    local live = 0
    for _, h in ipairs(user.heat_pumps) do if not h.deleted then live = live + 1 end end
    assert.equal(live, #list)
    local by_id = {}
    for _, hp in support.ipairs(list) do by_id[hp.id] = hp end
    assert.truthy(by_id[d.heat_pump_id])
    assert.is_nil(by_id[d.deleted_heat_pump_id])
    -- decimal strings read as numbers in list elements too, and so does their to_table()
    local el = by_id[d.heat_pump_all_actions_id]
    local sent = cjson.decode(el:raw()).outlet_temperature
    assert.equal("string", type(sent))
    assert.equal(tonumber(sent), el.outlet_temperature)
    assert.equal("number", type(el.outlet_temperature))
    assert.equal(el.outlet_temperature, el:to_table().outlet_temperature)
    assert.is_true(support.is_integer(by_id[d.heat_pump_id].min_solar_power_w))
    assert.has_error(function() by_id[d.heat_pump_id].comment = "x" end)
  end)

  it("client:heat_pumps with include_deleted lists the deleted one too", function()
    local list, err = support.new_client():heat_pumps(d.org_id, d.user_id, { include_deleted = true })
    assert.is_nil(err)
    assert.equal(#user.heat_pumps, #list)
    local found = false
    for _, hp in support.ipairs(list) do if hp.id == d.deleted_heat_pump_id then found = true end end
    assert.is_true(found)
  end)

  it("a list element's methods work (fields, to_table)", function()
    local list = support.new_client():heat_pumps(d.org_id, d.user_id)
    local n = 0
    for _ in podero.fields(list[1]) do n = n + 1 end
    assert.is_true(n >= 60)
    assert.equal(list[1].id, podero.to_table(list[1]).id)
  end)

  it("a list answer that is an object is a decode error", function()
    support.fault({ status = 200, body = '{"detail":"not a list"}' })
    local list, err = support.new_client():heat_pumps(d.org_id, d.user_id)
    assert.is_nil(list)
    assert.equal("decode", err.kind)
  end)
end)
