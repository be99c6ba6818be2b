-- TLS against the sandbox's TLS listeners (sandbox/README.md "TLS"): a test CA made with
-- openssl at sandbox start, a valid certificate (HTTP/2 offered), an expired one, one for a
-- wrong host name and one from an unknown CA.
local support = require("support")
local hard = require("servers.hardening")
local podero = require("podero")
local core = require("podero.core")

local describe_tls = hard.have_extras() and describe or pending

describe_tls("TLS", function()
  local demo, tls_url, ca

  setup(function()
    demo = support.demo()
    tls_url = hard.sandbox_file("tls_url")
    ca = hard.ca_file()
  end)

  before_each(function() support.reset() end)

  local function call(c)
    return c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id)
  end

  local function tls_log_lines()
    local s = hard.read_file(hard.dir() .. "/logs/tls_access.log") or ""
    local out = {}
    for line in s:gmatch("[^\n]+") do
      local t, port, conn, creq, reused, proto, sproto, method, uri, status =
        line:match("^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$")
      if t then
        out[#out + 1] = { t = tonumber(t), port = port, conn = conn, creq = tonumber(creq),
                          reused = reused, proto = proto, http = sproto, method = method,
                          uri = uri, status = tonumber(status) }
      end
    end
    return out
  end

  it("succeeds with ca_file = the test CA, token and API over TLS", function()
    local c = support.new_client({ base_url = tls_url, ca_file = ca })
    local hp, err = call(c)
    assert.is_nil(err)
    assert.equal(demo.heat_pump_id, hp.id)
    assert.equal(1, c:stats().token_requests)
    c:close()
  end)

  it("reuses one connection (and its TLS session) for 50 calls, over HTTP/2 when libcurl has it", function()
    local before = #tls_log_lines()
    local c = support.new_client({ base_url = tls_url, ca_file = ca })
    local elapsed = support.timed(function()
      for _ = 1, 50 do
        local hp, err = call(c)
        assert.is_nil(err)
        assert.truthy(hp)
      end
    end)
    c:close()
    support.sleep(0.2)   -- nginx writes the access log line after the answer
    local lines = tls_log_lines()
    local conns, n = {}, 0
    for i = before + 1, #lines do
      local l = lines[i]
      if not conns[l.conn] then conns[l.conn] = true; n = n + 1 end
    end
    assert.equal(51, #lines - before)   -- 1 token + 50 API requests
    assert.equal(1, n)                  -- all on one connection: one handshake for 51 requests
    local _, h2 = core.curl_version()
    if h2 then assert.equal("HTTP/2.0", lines[#lines].http) end
    assert.is_true(elapsed < 10, "50 calls took " .. elapsed .. " s")
  end)

  it("resumes the TLS session on each new connection of the same client", function()
    -- the tls_close listener ends every connection after one answer (keepalive_timeout 0),
    -- so each call needs a new connection: after the first, each handshake resumes the session
    local before = #tls_log_lines()
    local c = support.new_client({ base_url = hard.sandbox_file("tls_close_url"), ca_file = ca })
    for _ = 1, 5 do
      local hp, err = call(c)
      assert.is_nil(err)
      assert.truthy(hp)
    end
    c:close()
    support.sleep(0.2)
    local lines = tls_log_lines()
    local conns, reused = {}, 0
    for i = before + 1, #lines do
      local l = lines[i]
      conns[#conns + 1] = l.conn
      if l.reused == "r" then reused = reused + 1 end
    end
    assert.equal(6, #conns)              -- 1 token + 5 API requests, each on its own connection
    assert.equal(".", lines[before + 1].reused)   -- the first handshake is a full one
    assert.equal(5, reused)              -- every later one resumed the session
  end)

  local function check_refused(name, url_file, overrides)
    it("refuses " .. name .. " as kind tls, one attempt, not retried", function()
      local o = { base_url = hard.sandbox_file(url_file), ca_file = ca, max_retries = 3,
                  token = "static-token-for-tls", client_id = support.NONE, client_secret = support.NONE }
      for k, v in pairs(overrides or {}) do o[k] = v end
      local c = support.new_client(o)
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("tls", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(1, c:stats().api_requests)
      assert.is_nil(err.status)
      assert.is_true(t < 3)
      assert.matches("tls", tostring(err))
      c:close()
    end)
  end
  check_refused("an unknown CA", "tls_unknownca_url")
  check_refused("an expired certificate", "tls_expired_url")
  check_refused("a certificate for a wrong host name", "tls_wronghost_url")
  check_refused("the test CA without ca_file (system store)", "tls_url", { ca_file = support.NONE })

  it("refuses at the token endpoint too, once (attempts = 1)", function()
    local c = support.new_client({ base_url = hard.sandbox_file("tls_expired_url"), ca_file = ca, max_retries = 3 })
    local hp, err = call(c)
    assert.is_nil(hp)
    assert.equal("tls", err.kind)
    assert.equal(1, err.attempts)
    assert.equal(1, c:stats().token_requests)
    assert.equal(0, c:stats().api_requests)
  end)

  it("connects to the unknown-CA listener only with verify_tls = false", function()
    local c = support.new_client({ base_url = hard.sandbox_file("tls_unknownca_url"), verify_tls = false })
    local hp, err = call(c)
    assert.is_nil(err)
    assert.equal(demo.heat_pump_id, hp.id)
    c:close()
    c = support.new_client({ base_url = hard.sandbox_file("tls_wronghost_url"), verify_tls = false })
    hp, err = call(c)
    assert.is_nil(err)
    assert.truthy(hp)
    c:close()
  end)

  it("keeps verifying when CURL_CA_BUNDLE, SSL_CERT_FILE or SSL_CERT_DIR point to the test CA", function()
    local root = hard.repo_root()
    local script = string.format([[
      package.path = %q .. ";" .. package.path
      package.cpath = %q .. ";" .. package.cpath
      local podero = require("podero")
      local c = podero.new({ base_url = %q, token = "static-token-for-tls", max_retries = 0,
                             timeout = 5, connect_timeout = 5 })
      local hp, err = c:heat_pump(%q, %q, %q)
      print(hp and "SUCCESS" or ("FAILED " .. err.kind))
    ]], root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua",
        os.getenv("PODERO_CPATH") or (root .. "/build/" .. support.CORE_DIR .. "/?.so"),
        tls_url, demo.org_id, demo.user_id, demo.heat_pump_id)
    -- a hashed certificate directory holding the test CA, for SSL_CERT_DIR
    local certdir = os.tmpname()
    os.remove(certdir)
    assert(os.execute("mkdir -p " .. support.shell_quote(certdir) .. " && cp " .. support.shell_quote(ca) .. " "
      .. support.shell_quote(certdir) .. "/ && openssl rehash " .. support.shell_quote(certdir) .. " 2>/dev/null"))
    finally(function() os.execute("rm -rf " .. support.shell_quote(certdir)) end)
    for _, env in ipairs({
      { CURL_CA_BUNDLE = ca },
      { SSL_CERT_FILE = ca },
      { SSL_CERT_DIR = certdir },
      { CURL_CA_BUNDLE = ca, SSL_CERT_FILE = ca, SSL_CERT_DIR = certdir },
    }) do
      local out = hard.run_lua(script, env)
      local names = {}
      for k in pairs(env) do names[#names + 1] = k end
      assert.truthy(out:find("FAILED tls", 1, true), table.concat(names, "+") .. " changed verification: " .. out)
    end
  end)

  it("rejects a ca_file that cannot be read when the client is made", function()
    assert.has_error(function()
      podero.new({ base_url = tls_url, token = "x", ca_file = hard.dir() .. "/no-such-ca.pem" })
    end)
  end)
end)
