-- Errors a person can act on (issue 11): every failure says what was being done (err.method,
-- err.path without the query, err.endpoint), every attempt carries its own X-Request-Id
-- (err.request_id: the last one, or the server's own), and tostring(err) says each thing once.
-- The nginx transport is checked field by field in spec/39-transports_spec.lua.
local support = require("support")

local UUID4 = support.UUID4
local TOKEN_PATH = "/api/partners/v2.0/auth/token"

describe("error context", function()
  local d
  before_each(function()
    support.reset()
    d = support.demo()
  end)
  after_each(function() support.reset() end)

  local MISSING = "00000000-0000-4000-8000-000000000000"

  it("an API error names the method, the path, the endpoint and the request id", function()
    local c = support.new_client()
    local hp, err = c:heat_pump(d.org_id, d.user_id, MISSING)
    assert.is_nil(hp)
    assert.equal("GET", err.method)
    assert.equal("api", err.endpoint)
    assert.equal(support.hp_path(d.org_id, d.user_id, MISSING), err.path)
    assert.truthy(err.request_id:match(UUID4), err.request_id)
    local api = support.requests_of("api")
    assert.equal(err.request_id, api[#api].request_id)
    assert.equal(err.request_id, api[#api].headers["x-request-id"])
  end)

  it("tostring(err) names the request and says the status once", function()
    local c = support.new_client()
    local _, err = c:heat_pump(d.org_id, d.user_id, MISSING)
    local s = tostring(err)
    assert.equal(("podero: http error: GET %s: the API answered HTTP 404 Not Found [request %s]")
      :format(support.hp_path(d.org_id, d.user_id, MISSING), err.request_id), s)
    local _, n = s:gsub("HTTP 404", "")
    assert.equal(1, n)
    assert.is_nil(s:find("Not Found: Not Found", 1, true))
  end)

  it("every attempt carries a new X-Request-Id; err.request_id is the last", function()
    support.fault({ status = 503, times = 3 })
    local c = support.new_client({ max_retries = 2, retry_base_delay = 0.01 })
    local _, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.equal(503, err.status)
    assert.equal(3, err.attempts)
    local api, seen = support.requests_of("api"), {}
    assert.equal(3, #api)
    for _, r in ipairs(api) do
      assert.truthy(r.request_id:match(UUID4), r.request_id)
      assert.is_nil(seen[r.request_id], "a request id was sent twice")
      seen[r.request_id] = true
    end
    assert.equal(api[3].request_id, err.request_id)
    assert.truthy(tostring(err):find("[3 attempts, request " .. err.request_id .. "]", 1, true), tostring(err))
    -- and the token request had its own
    local tok = support.requests_of("token")
    assert.truthy(tok[1].request_id:match(UUID4))
    assert.is_nil(seen[tok[1].request_id])
  end)

  it("the server's own X-Request-Id is the one reported", function()
    support.fault({ status = 500, headers = { ["X-Request-Id"] = "srv-7f3a-0001" } })
    local c = support.new_client()
    local _, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.equal(500, err.status)
    assert.equal("srv-7f3a-0001", err.request_id)
  end)

  it("a failure at the token endpoint says so: POST, the token path, endpoint token", function()
    support.fault({ target = "token", delay_ms = 1500 })
    local c = support.new_client({ timeout = 0.3, max_retries = 0 })
    local _, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.equal("timeout", err.kind)
    assert.equal("token", err.endpoint)
    assert.equal("POST", err.method)
    assert.equal(TOKEN_PATH, err.path)
    assert.truthy(tostring(err):find("POST " .. TOKEN_PATH .. ": ", 1, true), tostring(err))
  end)

  it("a connection failure names the request too", function()
    local c = support.new_client({ base_url = "http://127.0.0.1:9", token_url = "http://127.0.0.1:9/t",
                                   max_retries = 0 })
    local _, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.equal("network", err.kind)
    assert.equal("token", err.endpoint)
    assert.equal("/t", err.path)
    assert.truthy(err.request_id:match(UUID4))
  end)

  it("a decode error after a 200 names the request", function()
    support.fault({ body = "<html>oops</html>" })
    local c = support.new_client()
    local _, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.equal("decode", err.kind)
    assert.equal("GET", err.method)
    assert.equal(support.hp_path(d.org_id, d.user_id, d.heat_pump_id), err.path)
    assert.truthy(err.request_id:match(UUID4))
  end)

  it("the path never carries the query (a cue's secret lives there)", function()
    local c = support.new_client()
    local hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_all_actions_id))
    local action
    for i = 1, #hp.actions do
      if hp.actions[i].code == "reauthenticate" then action = hp.actions[i] end
    end
    assert(action, "the demo heat pump has a reauthenticate action")
    local secret = action.resolution_link.url:match("secret=([^&]+)")
    support.fault({ status = 500, times = 1 })
    local url, err = c:resolve_action(action, { success_url = "https://a/ok", cancel_url = "https://a/no" })
    assert.is_nil(url)
    assert.equal("POST", err.method)
    assert.is_nil(err.path:find("?", 1, true), err.path)
    assert.is_nil(tostring(err):find(secret, 1, true), tostring(err))
    assert.truthy(err.path:match("^/api/partners/v2%.0/cues/[%x-]+/resolve$"), err.path)
  end)

  it("fetch_heat_pumps' errors carry the same context", function()
    local c = support.new_client()
    local _, errs, failed = c:fetch_heat_pumps({ { d.org_id, d.user_id, MISSING } })
    assert.equal(1, failed)
    assert.equal("GET", errs[1].method)
    assert.equal("api", errs[1].endpoint)
    assert.equal(support.hp_path(d.org_id, d.user_id, MISSING), errs[1].path)
    assert.truthy(errs[1].request_id:match(UUID4))
  end)

  it("misuse messages say each thing once, and call NaN NaN", function()
    local c = support.new_client()
    local hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    local function msg(f, ...)
      local ok, e = pcall(f, ...)
      assert.is_false(ok)
      return e
    end
    assert.equal("podero: hp:set_heating_policy: policy.min must be a finite number, got string",
      msg(hp.set_heating_policy, hp, { min = "x" }))
    assert.equal("podero: hp:set_heating_policy: policy.max must be a finite number, got NaN",
      msg(hp.set_heating_policy, hp, { max = 0 / 0 }))
    assert.equal("podero: hp:set_heating_policy: policy.max must be a finite number, got infinity",
      msg(hp.set_heating_policy, hp, { max = math.huge }))
    assert.equal("podero: hp:update: dhw_standard_temperature must be a finite number, got NaN",
      msg(hp.update, hp, { dhw_standard_temperature = 0 / 0 }))
    assert.equal("podero: hp:set_away_mode: away.start must be a time: epoch seconds (number) or an "
      .. "ISO 8601 string, got NaN", msg(hp.set_away_mode, hp, { start = 0 / 0, finish = 1 }))
  end)
end)
