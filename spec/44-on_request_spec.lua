-- Seeing what happens (issue 11): the on_request option is called after every attempt (token
-- requests too) with { method, path, endpoint, status, attempt, elapsed, request_id, kind }, never
-- a secret; what it raises is caught and does not break the call; PODERO_DEBUG=1 prints the same.
local support = require("support")

local UUID4 = support.UUID4

describe("on_request", function()
  local d
  before_each(function()
    support.reset()
    d = support.demo()
  end)
  after_each(function() support.reset() end)

  it("sees every attempt, the token request first, a retried 503 and the success", function()
    local seen = {}
    support.fault({ status = 503, times = 1 })
    local c = support.new_client({ on_request = function(a) seen[#seen + 1] = a end, retry_base_delay = 0.01 })
    assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    assert.equal(3, #seen)
    assert.equal("token", seen[1].endpoint)
    assert.equal("POST", seen[1].method)
    assert.equal("/api/partners/v2.0/auth/token", seen[1].path)
    assert.equal(200, seen[1].status)
    assert.is_nil(seen[1].kind)
    local path = support.hp_path(d.org_id, d.user_id, d.heat_pump_id)
    assert.same({ "api", "GET", path, 503, "http", 1 },
      { seen[2].endpoint, seen[2].method, seen[2].path, seen[2].status, seen[2].kind, seen[2].attempt })
    assert.same({ "api", "GET", path, 200, 2 },
      { seen[3].endpoint, seen[3].method, seen[3].path, seen[3].status, seen[3].attempt })
    assert.is_nil(seen[3].kind)
    local api = support.requests_of("api")
    for i = 2, 3 do
      assert.truthy(seen[i].request_id:match(UUID4))
      assert.equal(api[i - 1].request_id, seen[i].request_id)
      assert.is_true(seen[i].elapsed >= 0 and seen[i].elapsed < 5)
    end
  end)

  it("reports a transport failure with its kind and no status", function()
    local seen = {}
    local c = support.new_client({ base_url = "http://127.0.0.1:9", token_url = "http://127.0.0.1:9/t",
      max_retries = 1, retry_base_delay = 0.01, on_request = function(a) seen[#seen + 1] = a end })
    assert.is_nil(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    assert.equal(2, #seen)
    assert.equal("network", seen[1].kind)
    assert.is_nil(seen[1].status)
    assert.equal(2, seen[2].attempt)
  end)

  it("never carries a secret, and fetch_heat_pumps reports each item", function()
    local strings = {}
    local c = support.new_client({ on_request = function(a)
      for _, v in pairs(a) do strings[#strings + 1] = tostring(v) end
    end })
    local hps, _, failed = c:fetch_heat_pumps({ { d.org_id, d.user_id, d.heat_pump_id },
      { d.org_id, d.user_id, "00000000-0000-4000-8000-000000000000" } })
    assert.equal(1, failed)
    assert.truthy(hps[1])
    local tok = c:token()
    for _, s in ipairs(strings) do
      assert.is_nil(s:find("sandbox-secret", 1, true))
      assert.is_nil(s:find(tok, 1, true))
    end
    local n404 = 0
    for _, s in ipairs(strings) do if s == "404" then n404 = n404 + 1 end end
    assert.equal(1, n404)
  end)

  it("what it raises is ignored, and it cannot call back into its client", function()
    local c
    local tries = 0
    c = support.new_client({ on_request = function()
      tries = tries + 1
      if tries == 1 then error("boom") end
      c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)    -- raises: the client is busy
    end })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(err)
    assert.equal(d.heat_pump_id, hp.id)
    assert.equal(2, tries)
    assert.equal(1, support.stats().api_requests)
  end)

  it("PODERO_DEBUG=1 prints each attempt on stderr", function()
    if os.getenv("PODERO_IN_PROCESS_ONLY") == "1" then
      return pending("PODERO_IN_PROCESS_ONLY=1: no child process")
    end
    local ok, text = support.lua_child(([[
local support = require("support")
local c = support.new_client()
assert(c:heat_pump(%q, %q, %q))
]]):format(d.org_id, d.user_id, d.heat_pump_id), "PODERO_DEBUG=1")
    assert.is_true(ok, text)
    assert.truthy(text:find("podero: token POST /api/partners/v2.0/auth/token -> 200 (attempt 1", 1, true), text)
    assert.truthy(text:find("podero: api GET " .. support.hp_path(d.org_id, d.user_id, d.heat_pump_id) .. " -> 200", 1, true), text)
    assert.is_nil(text:find("sandbox-secret", 1, true))
  end)
end)
