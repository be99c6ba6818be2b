-- Issue 3, "Tokens": the checks on a token endpoint's answer (golang.org/x/oauth2 style), and
-- that no odd expires_in leads to a tight renewal loop. The answers are injected with the
-- sandbox's token faults.
local support = require("support")
local cjson_null = require("cjson").null

local d
local function get(client)
  return client:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
end

-- a token answer with the given fields; access_token and token_type default to valid ones
local function answer(fields)
  local t = { access_token = "tok-" .. tostring(math.random(1e9)), token_type = "Bearer", expires_in = 3600 }
  for k, v in pairs(fields) do
    if v == support.NONE then t[k] = nil else t[k] = v end
  end
  return t
end

describe("token answers", function()
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  local refused = {
    { "a 200 that carries an error field", { error = "invalid_client", error_description = "nope" } },
    { "access_token missing", { access_token = support.NONE } },
    { "access_token empty", { access_token = "" } },
    { "access_token a number", { access_token = 12345 } },
    { "access_token an object", { access_token = { value = "x" } } },
    { "token_type mac", { token_type = "mac" } },
    { "token_type empty", { token_type = "" } },
    { "token_type a number", { token_type = 1 } },
  }
  for _, case in ipairs(refused) do
    it(case[1] .. " is refused as auth, after one token request, with no API request", function()
      support.fault({ target = "token", status = 200, json = answer(case[2]) })
      local hp, err = get(support.new_client())
      assert.is_nil(hp)
      assert.equal("auth", err.kind)
      assert.equal(1, err.attempts)
      local s = support.stats()
      assert.equal(1, s.token_requests)
      assert.equal(0, s.api_requests)
    end)
  end

  for _, tt in ipairs({ "Bearer", "bearer", "BEARER", "bEaReR" }) do
    it(("token_type %q is accepted (any case)"):format(tt), function()
      -- the injected token is unknown to the sandbox: the API answers 401, and the client
      -- renews (a real sandbox token) and retries once: the answer was accepted
      support.fault({ target = "token", status = 200, json = answer({ token_type = tt }) })
      local hp, err = get(support.new_client())
      assert.is_nil(err)
      assert.truthy(hp)
      assert.equal(2, support.stats().token_requests)
    end)
  end

  it("a missing token_type is accepted as Bearer", function()
    support.fault({ target = "token", status = 200, json = answer({ token_type = support.NONE }) })
    local hp = get(support.new_client())
    assert.truthy(hp)
  end)

  -- expires_in that is not a sensible lifetime: the documented default (3600 s) or a clamp to
  -- a year; in every case the token is used for many calls, not renewed before each one
  local lifetimes = {
    { "missing", support.NONE },
    { "a string", "3600" },
    { "zero", 0 },
    { "negative", -100 },
    { "fractional below one", 0.5 },
    { "fractional", 3600.75 },
    { "absurdly large", 1e300 },
    { "an object", { seconds = 10 } },
    { "null", cjson_null },
  }
  for _, case in ipairs(lifetimes) do
    if case[2] ~= nil then
      it(("expires_in %s: the token is kept for later calls, no renewal loop"):format(case[1]), function()
        local client = support.new_client()
        -- first a real token from the sandbox, but with the odd expires_in: inject the answer
        -- the sandbox would give, with a sandbox-issued token
        local real = support.token()
        local s0 = support.stats()
        support.fault({ target = "token", status = 200, json = answer({ access_token = real, expires_in = case[2] }) })
        for _ = 1, 5 do
          local hp, err = get(client)
          assert.is_nil(err)
          assert.truthy(hp)
        end
        local s = support.stats()
        assert.equal(1, s.token_requests - s0.token_requests)
        assert.equal(5, s.api_requests - s0.api_requests)
      end)
    end
  end

  it("a token endpoint that hangs is a timeout, not retried", function()
    support.fault({ target = "token", delay_ms = 3000 })
    local t0 = support.now()
    local hp, err = get(support.new_client({ timeout = 0.5 }))
    local elapsed = support.now() - t0
    assert.is_nil(hp)
    assert.equal("timeout", err.kind)
    assert.equal(1, err.attempts)
    assert.truthy(elapsed < 2.5, "took " .. elapsed .. " s")
  end)

  it("credentials refused (invalid_client) are auth after one request, and stay so without a loop", function()
    local client = support.new_client({ client_secret = "wrong" })
    for _ = 1, 3 do
      local hp, err = get(client)
      assert.is_nil(hp)
      assert.equal("auth", err.kind)
      assert.equal(1, err.attempts)
    end
    -- one token request per call: never retried in a loop
    assert.equal(3, support.stats().token_requests)
  end)

  for _, code in ipairs({ "invalid_grant", "unsupported_grant_type", "invalid_client" }) do
    it(("a 400 %s is auth, one attempt"):format(code), function()
      support.fault({ target = "token", status = 400, json = { error = code } })
      local hp, err = get(support.new_client())
      assert.is_nil(hp)
      assert.equal("auth", err.kind)
      assert.equal(400, err.status)
      assert.equal(1, err.attempts)
      assert.truthy(err.message:find(code, 1, true), err.message)
    end)
  end
end)
