-- Errors: the shape of err, decode and size failures, and secrets never shown.
local podero = require("podero")
local support = require("support")

local d
local function get(c)
  return c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
end

local function check_shape(err, kind, status)
  assert.equal("table", type(err))
  assert.truthy(getmetatable(err), "err has a metatable")
  assert.equal(kind, err.kind)
  assert.is_true(support.KINDS[err.kind] == true)
  if status then assert.equal(status, err.status) end
  if err.status ~= nil then assert.is_true(support.is_integer(err.status), "status is an integer") end
  assert.equal("string", type(err.message))
  assert.is_true(#err.message > 0, "empty message")
  assert.falsy(err.message:find("[\r\n]"), "message is not one line: " .. err.message)
  assert.is_true(support.is_integer(err.attempts), "attempts is an integer")
  local s = tostring(err)
  assert.equal("string", type(s))
  assert.falsy(s:find("[\r\n]"), "tostring is not one line: " .. s)
  assert.falsy(s:find("^table: "), "tostring is not readable: " .. s)
  if status then
    assert.truthy(s:find(tostring(status), 1, true), "tostring does not name the status: " .. s)
  end
  return s
end

describe("error values", function()
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("http: kind, status, message with the server's detail, attempts, readable tostring", function()
    support.fault({ status = 403, json = { detail = "You do not have permission to perform this action." } })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    local s = check_shape(err, "http", 403)
    assert.equal(1, err.attempts)
    assert.truthy(err.message:find("You do not have permission", 1, true), err.message)
    assert.truthy(s:find("You do not have permission", 1, true))
    assert.is_nil(err.retry_after)
  end)

  it("http 404 names 'Not Found'", function()
    local other = support.find_hp(function(h, u, o) return o.id ~= d.org_id and not h.deleted end)
    local hp, err = support.new_client():heat_pump(other, d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    check_shape(err, "http", 404)
    assert.truthy(err.message:find("Not Found", 1, true))
  end)

  it("http 422 carries the Django Ninja msg", function()
    support.fault({ status = 422, json = { detail = { { type = "uuid_parsing", loc = { "path", "heat_pump_id" },
                                                       msg = "Input should be a valid UUID" } } } })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    check_shape(err, "http", 422)
    assert.truthy(err.message:find("Input should be a valid UUID", 1, true), err.message)
  end)

  it("http 500 with an HTML body gives a one-line message", function()
    support.fault({ status = 500, body = "<html>\n<body>\n<h1>Server Error (500)</h1>\n</body>\n</html>\n" })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    check_shape(err, "http", 500)
  end)

  it("http with a huge detail keeps the message bounded", function()
    support.fault({ status = 400, json = { detail = string.rep("x", 100000) } })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    check_shape(err, "http", 400)
    assert.is_true(#err.message < 2000)
  end)

  it("auth: status and the server's error_description", function()
    local hp, err = get(support.new_client({ client_secret = "wrong-secret" }))
    assert.is_nil(hp)
    check_shape(err, "auth", 401)
    assert.truthy(err.message:find("client authentication failed", 1, true), err.message)
  end)

  it("network: no status", function()
    local hp, err = get(support.new_client({ base_url = "http://127.0.0.1:1", max_retries = 0 }))
    assert.is_nil(hp)
    check_shape(err, "network")
    assert.is_nil(err.status)
  end)

  it("timeout: no status", function()
    support.fault({ delay_ms = 3000 })
    local hp, err = get(support.new_client({ timeout = 0.5 }))
    assert.is_nil(hp)
    check_shape(err, "timeout")
  end)

  it("tostring(err) says the kind", function()
    support.fault({ status = 404 })
    local _, err = get(support.new_client())
    assert.truthy(tostring(err):find("http", 1, true))
    assert.truthy(tostring(err):find("404", 1, true))
  end)

  it("err can be raised with error() and caught with its fields intact", function()
    support.fault({ status = 409 })
    local _, err = get(support.new_client())
    local ok, caught = pcall(error, err)
    assert.is_false(ok)
    assert.equal(err, caught)
    assert.equal(409, caught.status)
  end)
end)

describe("decode errors (a 2xx answer that is not a JSON object)", function()
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  local cases = {
    { "an empty body", "" },
    { "HTML", "<!DOCTYPE html><html><body>Maintenance</body></html>" },
    { "a JSON array", "[1,2,3]" },
    { "a JSON string", '"hello"' },
    { "JSON null", "null" },
    { "truncated JSON", '{"connection_status":"ok","owner":{"id":' },
    { "invalid JSON", "{'connection_status': 'ok'}" },
    { "trailing garbage", '{"connection_status":"ok"} {"x":1}' },
    { "a trailing comma", '{"connection_status":"ok",}' },
    { "100000 nested arrays", string.rep("[", 100000) .. string.rep("]", 100000) },
    { "100000 nested objects", string.rep('{"a":', 100000) .. "1" .. string.rep("}", 100000) },
    { "100000 unclosed arrays", string.rep("[", 100000) },
  }
  for _, case in ipairs(cases) do
    it(("%s is a decode error, not retried"):format(case[1]), function()
      support.fault({ status = 200, body = case[2] })
      local hp, err = get(support.new_client())
      assert.is_nil(hp)
      check_shape(err, "decode", 200)
      assert.equal(1, err.attempts)
      assert.equal(1, support.stats().api_requests)
    end)
  end

  it("a decode error does not break the client", function()
    local c = support.new_client()
    support.fault({ status = 200, body = "[[[[" })
    local hp, err = get(c)
    assert.is_nil(hp)
    assert.equal("decode", err.kind)
    hp, err = get(c)
    assert.is_nil(err and tostring(err))
    assert.equal(d.heat_pump_id, hp.id)
  end)

  it("a token answer that is not JSON is an error, not a crash", function()
    support.fault({ target = "token", status = 200, body = "<html>login</html>" })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    assert.truthy(err.kind == "decode" or err.kind == "auth", err.kind)
    check_shape(err, err.kind)
  end)

  it("a token answer without access_token is an error", function()
    support.fault({ target = "token", status = 200, json = { token_type = "Bearer", expires_in = 3600 } })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    assert.truthy(err.kind == "decode" or err.kind == "auth", err.kind)
    assert.equal(0, support.stats().api_requests)
  end)
end)

describe("too_large", function()
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("an answer over max_response_bytes (Content-Length) is too_large", function()
    support.fault({ oversize_bytes = 200000 })
    local hp, err = get(support.new_client({ max_response_bytes = 100000 }))
    assert.is_nil(hp)
    check_shape(err, "too_large")
    assert.equal(1, err.attempts)
  end)

  it("a chunked answer over max_response_bytes is too_large", function()
    support.fault({ chunked_oversize_bytes = 300000 })
    local hp, err = get(support.new_client({ max_response_bytes = 100000 }))
    assert.is_nil(hp)
    check_shape(err, "too_large")
    assert.equal(1, err.attempts)
  end)

  it("the real heat pump over a tiny max_response_bytes is too_large", function()
    local hp, err = get(support.new_client({ max_response_bytes = 1000 }))
    assert.is_nil(hp)
    assert.equal("too_large", err.kind)
  end)

  it("an answer just under the limit is accepted", function()
    support.fault({ oversize_bytes = 50000 })
    local hp, err = support.new_client({ max_response_bytes = 100000 }):users(d.org_id)
    -- the padding is {"padding":"xxx"}: an object where the list call wants an array
    assert.is_nil(hp)
    assert.equal("decode", err.kind)
  end)

  it("a max_response_bytes beyond any size is accepted as 'no practical limit' or refused", function()
    for _, n in ipairs({ 2 ^ 53, 2 ^ 64, 1e30 }) do
      local ok, c = pcall(support.new_client, { max_response_bytes = n })
      if ok then
        local hp, err = get(c)
        assert.is_nil(err and tostring(err), "max_response_bytes = " .. n)
        assert.truthy(hp)
      else
        assert.truthy(tostring(c):find("max_response_bytes", 1, true))
      end
    end
  end)

  it("an oversized token answer is an error", function()
    support.fault({ target = "token", oversize_bytes = 3 * 1024 * 1024 })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    assert.equal("too_large", err.kind)
  end)
end)

describe("secrets", function()
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("the client secret is not in an error when the token endpoint echoes it", function()
    support.fault({ target = "token", status = 401,
                    json = { error = "invalid_client", error_description = "secret sandbox-secret is revoked" } })
    local hp, err = get(support.new_client())
    assert.is_nil(hp)
    assert.equal("auth", err.kind)
    assert.is_false(support.leaks(err, { "sandbox-secret" }))
  end)

  it("the client secret is not in a 5xx error of the token endpoint", function()
    support.fault({ target = "token", status = 500, json = { detail = "db error for sandbox-secret" } })
    local _, err = get(support.new_client())
    assert.equal("http", err.kind)
    assert.is_false(support.leaks(err, { "sandbox-secret" }))
  end)

  it("the password is not in an error", function()
    local pw = "canary-Passw0rd-31337"
    support.fault({ target = "token", status = 400,
                    json = { error = "invalid_grant", error_description = "password " .. pw .. " is wrong" } })
    local _, err = get(support.new_client(support.password_overrides({ password = pw })))
    assert.equal("auth", err.kind)
    assert.is_false(support.leaks(err, { pw }))
  end)

  it("a static token is not in an error that echoes it", function()
    local tok = "canary-static-token-4242"
    support.fault({ status = 403, json = { detail = "token " .. tok .. " lacks scope" } })
    local _, err = get(support.new_client({ client_id = support.NONE, client_secret = support.NONE, token = tok }))
    assert.equal("http", err.kind)
    assert.is_false(support.leaks(err, { tok }))
  end)

  it("a static token is not in a 401 error that echoes it", function()
    local tok = "canary-static-token-4343"
    support.fault({ status = 401, json = { detail = "unknown token " .. tok } })
    local _, err = get(support.new_client({ client_id = support.NONE, client_secret = support.NONE, token = tok }))
    assert.equal("auth", err.kind)
    assert.is_false(support.leaks(err, { tok }))
  end)

  it("the access token from the grant is not in an error that echoes it", function()
    local c = support.new_client()
    assert.truthy(get(c))
    local token = support.requests_of("api")[1].headers.authorization:match("^Bearer (%S+)$")
    assert.truthy(token)
    support.fault({ status = 404, json = { detail = "no heat pump for " .. token } })
    local _, err = get(c)
    assert.equal(404, err.status)
    assert.is_false(support.leaks(err, { token }))
  end)

  it("the refresh token is not in an error that echoes it", function()
    local cjson = require("cjson")
    local c = support.new_client(support.password_overrides({ max_retries = 0 }))
    assert.truthy(get(c))
    -- the access token expires; renewing with the refresh token meets a 503: the call fails
    -- and the client keeps its refresh token, which the sandbox logged
    support.expire_tokens()
    support.fault({ target = "token", status = 503 })
    local hp, err = get(c)
    assert.is_nil(hp)
    assert.equal(503, err.status)
    local toks = support.requests_of("token")
    local rt = cjson.decode(toks[#toks].body).refresh_token
    assert.truthy(rt, "the last token request should be a refresh grant")
    -- the next renewal sends that refresh token again, and the server echoes it
    support.fault({ target = "token", status = 500, json = { detail = "refresh token " .. rt .. " unknown" } })
    hp, err = get(c)
    assert.is_nil(hp)
    assert.equal(500, err.status)
    toks = support.requests_of("token")
    assert.equal(rt, cjson.decode(toks[#toks].body).refresh_token)
    assert.is_false(support.leaks(err, { rt }))
  end)

  it("no secret appears in any error across the failure kinds", function()
    local secret, pw = "canary-secret-aaaa", "canary-password-bbbb"
    local runs = {
      function() return get(support.new_client({ client_secret = secret })) end,
      function() return get(support.new_client(support.password_overrides({ password = pw }))) end,
      function()
        return get(support.new_client({ client_secret = secret, base_url = "http://127.0.0.1:1", max_retries = 0 }))
      end,
      function()
        support.fault({ target = "token", delay_ms = 2000 })
        return get(support.new_client({ client_secret = secret, timeout = 0.5 }))
      end,
      function()
        support.fault({ target = "token", status = 200, body = "not json " .. secret })
        return get(support.new_client({ client_secret = secret }))
      end,
    }
    for i, run in ipairs(runs) do
      local hp, err = run()
      assert.is_nil(hp, "run " .. i)
      assert.is_false(support.leaks(err, { secret, pw }), "run " .. i)
    end
  end)

  it("tostring of a client that has a token shows no token", function()
    local c = support.new_client()
    assert.truthy(get(c))
    local token = support.requests_of("api")[1].headers.authorization:match("^Bearer (%S+)$")
    assert.falsy(tostring(c):find(token, 1, true))
    assert.falsy(tostring(c):find(support.CLIENT_SECRET, 1, true))
  end)

  it("podero.null and errors are distinct from objects", function()
    support.fault({ status = 404 })
    local _, err = get(support.new_client())
    assert.is_false(podero.is_object(err))
  end)
end)

describe("podero.ERROR_KINDS", function()
  it("is the closed list of err.kind, as documented", function()
    assert.same({ "network", "timeout", "tls", "http", "auth", "decode", "too_large", "memory" }, podero.ERROR_KINDS)
  end)

  it("names every kind of the README's table, and no other", function()
    local f = assert(io.open(support.ROOT .. "/README.md", "rb"))
    local text = f:read("*a")
    f:close()
    local documented = {}
    for k in text:gmatch("\n| `\"([%w_]+)\"` |") do documented[#documented + 1] = k end
    assert.same(podero.ERROR_KINDS, documented)
  end)
end)
