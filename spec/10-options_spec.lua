-- podero.new: options, their types and the configurations that cannot work.
local podero = require("podero")
local cjson = require("cjson")
local support = require("support")

local BASE = { base_url = "http://127.0.0.1:9", client_id = "id", client_secret = "secret-value-1" }

local function opts(extra)
  local o = {}
  for k, v in pairs(BASE) do o[k] = v end
  for k, v in pairs(extra or {}) do
    if v == support.NONE then o[k] = nil else o[k] = v end
  end
  return o
end

local function raises(o, pattern)
  local ok, err = pcall(podero.new, o)
  assert.is_false(ok, "podero.new should have raised")
  if pattern then
    assert.truthy(tostring(err):find(pattern), "error " .. tostring(err) .. " does not match " .. pattern)
  end
  return err
end

describe("podero module", function()
  it("has VERSION 0.1.0", function()
    assert.equal("0.1.0", podero.VERSION)
  end)

  it("has null, which is cjson.null", function()
    assert.equal(cjson.null, podero.null)
  end)

  it("exposes new, time, fields, to_table", function()
    for _, name in ipairs({ "new", "time", "fields", "to_table" }) do
      assert.equal("function", type(podero[name]), name)
    end
  end)
end)

describe("podero.new", function()
  it("builds a client from client credentials", function()
    local c = podero.new(opts())
    assert.truthy(c)
    assert.equal("function", type(c.heat_pump))
    c:close()
  end)

  it("builds a client from username and password alone", function()
    local c = podero.new(opts({ client_id = support.NONE, client_secret = support.NONE,
                                username = "u@example.com", password = "pw" }))
    assert.truthy(c)
  end)

  it("builds a client from username and password plus client credentials", function()
    assert.truthy(podero.new(opts({ username = "u@example.com", password = "pw" })))
  end)

  it("builds a client from a static token", function()
    assert.truthy(podero.new(opts({ client_id = support.NONE, client_secret = support.NONE, token = "abc" })))
  end)

  it("uses https://app.podero.com when base_url is not given", function()
    local c = podero.new(opts({ base_url = support.NONE }))
    assert.truthy(tostring(c):find("https://app.podero.com", 1, true))
  end)

  it("accepts every documented option with a value of the right type", function()
    local c = podero.new(opts({
      token_url = "/oauth2/token/", token_format = "form", client_auth = "body",
      timeout = 5, connect_timeout = 2, max_retries = 0, max_retry_wait = 1,
      max_response_bytes = 1024, verify_tls = false, user_agent = "x/1",
      retry_base_delay = 0.1,
    }))
    assert.truthy(c)
  end)

  it("accepts ca_file naming a readable file", function()
    local name = os.tmpname()
    assert.truthy(podero.new(opts({ ca_file = name })))
    os.remove(name)
  end)

  it("raises for a ca_file that cannot be read", function()
    raises(opts({ ca_file = "/nonexistent/ca.pem" }), "ca_file")
  end)

  it("raises when opts is not a table", function()
    for _, v in ipairs({ "x", 1, true }) do
      assert.has_error(function() podero.new(v) end)
    end
    assert.has_error(function() podero.new() end)
  end)

  it("raises for an unknown option and names it (a typo is not ignored)", function()
    raises(opts({ timout = 5 }), "timout")
    raises(opts({ clientid = "x" }), "clientid")
  end)

  describe("option types", function()
    local cases = {
      { "base_url", 42 }, { "client_id", 1 }, { "client_secret", true },
      { "token_url", {} }, { "token_format", 1 }, { "client_auth", false },
      { "timeout", "30" }, { "connect_timeout", "10" }, { "max_retries", "2" },
      { "max_retry_wait", {} }, { "max_response_bytes", "8M" },
      { "verify_tls", "yes" }, { "verify_tls", 1 }, { "ca_file", 7 }, { "user_agent", 1 },
    }
    for _, case in ipairs(cases) do
      it(("raises for %s = %s (%s) and names the option"):format(case[1], tostring(case[2]), type(case[2])), function()
        raises(opts({ [case[1]] = case[2] }), case[1])
      end)
    end
  end)

  describe("credentials", function()
    it("raises when there are none", function()
      raises(opts({ client_id = support.NONE, client_secret = support.NONE }), "credential")
    end)

    it("raises for client_id without client_secret", function()
      raises(opts({ client_secret = support.NONE }))
    end)

    it("raises for client_secret without client_id", function()
      raises(opts({ client_id = support.NONE }))
    end)

    it("raises for username without password", function()
      raises(opts({ client_id = support.NONE, client_secret = support.NONE, username = "u" }))
    end)

    it("raises for password without username", function()
      raises(opts({ client_id = support.NONE, client_secret = support.NONE, password = "p" }))
    end)

    it("raises when token is mixed with client credentials", function()
      raises(opts({ token = "abc" }))
    end)

    it("raises when token is mixed with username/password", function()
      raises(opts({ client_id = support.NONE, client_secret = support.NONE, token = "abc",
                    username = "u", password = "p" }))
    end)

    it("raises for an empty token", function()
      raises(opts({ client_id = support.NONE, client_secret = support.NONE, token = "" }))
    end)

    it("raises for a token with a line break (header injection)", function()
      raises(opts({ client_id = support.NONE, client_secret = support.NONE, token = "abc\r\nX-Evil: 1" }))
    end)

    it("does not put the secret into the error message of a bad configuration", function()
      local err = raises(opts({ client_secret = "canary-secret-9876", timout = 1 }))
      assert.falsy(tostring(err):find("canary-secret-9876", 1, true))
    end)
  end)

  describe("base_url", function()
    local bad = {
      "ftp://example.com", "file:///etc/passwd", "example.com", "//example.com",
      "http://", "http://user:pw@example.com", "https://user@example.com/",
      "https://example.com/?a=1", "https://example.com/#frag", "https://exa mple.com",
      "https://example.com/\n", "gopher://example.com", "",
    }
    for _, u in ipairs(bad) do
      it(("raises for %q and names base_url"):format(u), function()
        raises(opts({ base_url = u }), "base_url")
      end)
    end

    local good = { "http://127.0.0.1:8080", "https://app.podero.com", "https://sandbox-app.podero.com/",
                   "HTTPS://APP.PODERO.COM", "http://[::1]:8080", "https://example.com/prefix" }
    for _, u in ipairs(good) do
      it(("accepts %q"):format(u), function()
        assert.truthy(podero.new(opts({ base_url = u })))
      end)
    end
  end)

  describe("token_url", function()
    it("accepts a path relative to base_url", function()
      assert.truthy(podero.new(opts({ token_url = "/oauth2/token/" })))
    end)

    it("accepts an absolute http(s) URL", function()
      assert.truthy(podero.new(opts({ token_url = "https://auth.example.com/oauth2/token/" })))
    end)

    for _, u in ipairs({ "ftp://example.com/token", "https://u:p@example.com/token",
                         "/token?x=1", "/token#f", "file:///token" }) do
      it(("raises for %q and names token_url"):format(u), function()
        raises(opts({ token_url = u }), "token_url")
      end)
    end
  end)

  describe("token_format and client_auth", function()
    it("accept json/form and basic/body", function()
      for _, f in ipairs({ "json", "form" }) do
        for _, a in ipairs({ "basic", "body" }) do
          assert.truthy(podero.new(opts({ token_format = f, client_auth = a })))
        end
      end
    end)

    for _, case in ipairs({ { "token_format", "xml" }, { "token_format", "JSON " },
                            { "client_auth", "digest" }, { "client_auth", "" } }) do
      it(("raise for %s = %q and name the option"):format(case[1], case[2]), function()
        raises(opts({ [case[1]] = case[2] }), case[1])
      end)
    end
  end)

  describe("numeric options", function()
    local names = { "timeout", "connect_timeout", "max_retries", "max_retry_wait", "max_response_bytes" }
    local bad = { { -1, "negative" }, { 0 / 0, "NaN" }, { math.huge, "infinite" } }
    for _, name in ipairs(names) do
      for _, b in ipairs(bad) do
        it(("raise for a %s %s and name it"):format(b[2], name), function()
          raises(opts({ [name] = b[1] }), name)
        end)
      end
    end

    it("raise for a fractional max_retries", function()
      raises(opts({ max_retries = 1.5 }), "max_retries")
    end)

    it("raise for a zero timeout", function()
      raises(opts({ timeout = 0 }), "timeout")
    end)

    it("raise for a zero max_response_bytes", function()
      raises(opts({ max_response_bytes = 0 }), "max_response_bytes")
    end)

    it("accept max_retries = 0", function()
      assert.truthy(podero.new(opts({ max_retries = 0 })))
    end)
  end)

  describe("user_agent", function()
    it("raises for a user_agent with a line break", function()
      raises(opts({ user_agent = "x\r\nX-Evil: 1" }), "user_agent")
    end)
  end)
end)

describe("tostring(client)", function()
  it("names the client and contains no secret", function()
    local c = podero.new(opts({ client_secret = "canary-secret-1234" }))
    local s = tostring(c)
    assert.truthy(s:find("podero", 1, true))
    assert.falsy(s:find("canary-secret-1234", 1, true))
  end)

  it("contains no password and no static token", function()
    local a = podero.new(opts({ username = "u", password = "canary-password-77" }))
    assert.falsy(tostring(a):find("canary-password-77", 1, true))
    local b = podero.new(opts({ client_id = support.NONE, client_secret = support.NONE,
                                token = "canary-token-5555" }))
    assert.falsy(tostring(b):find("canary-token-5555", 1, true))
  end)
end)
