-- Transport faults, status codes, retries and the deadline, each injected for real: against
-- the sandbox (faults), its hostile listener (sandbox/lua/podero_sandbox/hostile.lua: stalls,
-- drips, short bodies, huge declared bodies, endless chunked streams, odd Retry-After), a
-- closed port, a .invalid name, and a listener whose accept queue is full.
-- Only loopback traffic: nothing here leaves 127.0.0.1.
local support = require("support")
local hard = require("servers.hardening")
local podero = require("podero")

local describe_t = hard.have_extras() and describe or pending

describe_t("transport", function()
  local demo, hostile

  setup(function()
    demo = support.demo()
    hostile = hard.hostile_url()
  end)

  before_each(function()
    support.reset()
    hard.hostile_clear()
  end)

  local function call(c)
    return c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id)
  end

  -- a client with a static token for base_url (so the first request is the API call)
  local function static_client(base_url, extra)
    local o = { base_url = base_url, token = "static-token-0123456789",
                client_id = support.NONE, client_secret = support.NONE,
                max_retries = 2, retry_base_delay = 0.01 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return support.new_client(o)
  end

  local function hostile_requests(prefix)
    local out = {}
    for _, r in ipairs(hard.hostile_log()) do
      if not prefix or r.uri:sub(1, #prefix) == prefix then out[#out + 1] = r end
    end
    return out
  end

  describe("connection failures", function()
    it("connection refused is network, retried: attempts = 1 + max_retries", function()
      local port = hard.closed_port()
      local c = static_client("http://127.0.0.1:" .. port, { max_retries = 2 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("network", err.kind)
      assert.equal(3, err.attempts)
      assert.equal(3, c:stats().api_requests)
      assert.is_true(t < 3)
    end)

    it("connection refused at the token endpoint is network, retried", function()
      local port = hard.closed_port()
      local c = support.new_client({ base_url = "http://127.0.0.1:" .. port, max_retries = 1 })
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal("network", err.kind)
      assert.equal(2, err.attempts)
      assert.equal(2, c:stats().token_requests)
      assert.equal(0, c:stats().api_requests)
    end)

    it("a DNS failure (a name under .invalid) is network, retried", function()
      local c = static_client("http://podero-hardening-test.invalid", { max_retries = 1 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("network", err.kind)
      assert.equal(2, err.attempts)
      assert.is_true(t < 15, "DNS failure took " .. t .. " s")
    end)

    it("a black-holed address fails within connect_timeout as timeout", function()
      -- Only loopback traffic is allowed, so no unroutable address: a listener with a full
      -- accept queue (backlog 0, one connection queued and never accepted) makes Linux drop
      -- further SYNs, which is what a black hole looks like to the client.
      local socket = require("socket")
      local srv = assert(socket.tcp())
      assert(srv:bind("127.0.0.1", 0))
      assert(srv:listen(0))
      local _, port = srv:getsockname()
      local fillers = {}
      for _ = 1, 3 do
        local f = socket.tcp()
        f:settimeout(0.2)
        f:connect("127.0.0.1", port)
        fillers[#fillers + 1] = f
      end
      finally(function()
        for _, f in ipairs(fillers) do f:close() end
        srv:close()
      end)
      local c = static_client("http://127.0.0.1:" .. port, { connect_timeout = 1, timeout = 10 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("timeout", err.kind)
      assert.equal(1, err.attempts)          -- the time allowed is spent: not retried
      assert.is_true(t >= 0.9 and t < 2.5, "took " .. t .. " s")
    end)
  end)

  describe("stalls", function()
    it("a server that never answers: timeout within timeout, not retried, client usable afterwards", function()
      local c = static_client(hostile .. "/stall/once", { timeout = 1 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("timeout", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(t >= 0.9 and t < 2.5, "took " .. t .. " s")
      local ok, err2 = call(c)
      assert.is_nil(err2)
      assert.equal("ok", ok.hostile)
    end)

    it("headers then a stalled body: timeout within timeout, client usable afterwards", function()
      local c = static_client(hostile .. "/stallbody/once", { timeout = 1 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("timeout", err.kind)
      assert.equal(200, err.status)
      assert.equal(1, err.attempts)
      assert.is_true(t >= 0.9 and t < 2.5, "took " .. t .. " s")
      local ok, err2 = call(c)
      assert.is_nil(err2)
      assert.equal("ok", ok.hostile)
    end)

    it("a 1 byte/s drip: timeout within timeout (a whole-transfer limit), client usable afterwards", function()
      local c = static_client(hostile .. "/drip/once", { timeout = 2 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("timeout", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(t >= 1.9 and t < 3.5, "took " .. t .. " s")
      local ok, err2 = call(c)
      assert.is_nil(err2)
      assert.equal("ok", ok.hostile)
    end)

    it("a slow sandbox answer: timeout, then the same client succeeds", function()
      local c = support.new_client({ timeout = 1 })
      assert.truthy(call(c))
      support.fault({ delay_ms = 3000 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("timeout", err.kind)
      assert.is_true(t < 2.5)
      local hp2, err2 = call(c)
      assert.is_nil(err2)
      assert.equal(demo.heat_pump_id, hp2.id)
    end)
  end)

  describe("cut connections", function()
    it("a reset after the request was sent is retried; success is returned normally", function()
      local c = support.new_client()
      assert.truthy(call(c))
      support.fault({ reset = true })
      local hp, err = call(c)
      assert.is_nil(err)
      assert.equal(demo.heat_pump_id, hp.id)
      assert.equal(3, support.stats().api_requests)
    end)

    it("Content-Length larger than what arrives, then close: network, retried", function()
      local c = static_client(hostile .. "/short", { max_retries = 2 })
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal("network", err.kind)
      assert.equal(3, err.attempts)
      assert.equal(3, #hostile_requests("/short"))
    end)

    it("a short body is never parsed as complete, and the retry succeeds", function()
      local c = static_client(hostile .. "/short/once")
      local hp, err = call(c)
      assert.is_nil(err)
      assert.equal("ok", hp.hostile)
      assert.equal(2, #hostile_requests("/short"))
    end)

    it("a truncated real heat pump body (sandbox truncate fault) is network, never decode", function()
      local c = support.new_client({ max_retries = 1 })
      support.fault({ truncate = true, times = 2 })
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal("network", err.kind)
      assert.equal(2, err.attempts)
    end)
  end)

  describe("size limits", function()
    it("a declared Content-Length over max_response_bytes is too_large before the body is read", function()
      -- the hostile server waits 5 s after the headers before it sends any body byte
      local c = static_client(hostile .. "/declared", { max_response_bytes = 1024 * 1024 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("too_large", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(t < 1, "took " .. t .. " s: the body was waited for")
    end)

    it("an endless chunked stream is too_large with bounded memory", function()
      collectgarbage("collect")
      local rss0, lua0 = hard.rss_kib(), collectgarbage("count")
      local c = static_client(hostile .. "/endless", { max_response_bytes = 1024 * 1024, timeout = 10 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("too_large", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(t < 5)
      local grown = hard.rss_kib() - rss0
      assert.is_true(grown < 16 * 1024, "RSS grew by " .. grown .. " KiB")
      assert.is_true(collectgarbage("count") - lua0 < 1024)
    end)

    it("the sandbox's chunked oversize answer is too_large too", function()
      local c = support.new_client({ max_response_bytes = 100000 })
      support.fault({ chunked_oversize_bytes = 5000000 })
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal("too_large", err.kind)
    end)
  end)

  describe("redirects", function()
    local targets

    setup(function()
      local port = tonumber(hostile:match(":(%d+)$"))
      targets = {
        { 302, hostile .. "/capture/other-port" },
        { 301, "http://localhost:" .. port .. "/capture/other-host" },
        { 307, hard.sandbox_file("tls_url") .. "/capture/other-scheme" },
        { 308, hostile .. "/capture/308" },
        { 303, "file:///etc/passwd" },
        { 302, "//127.0.0.1:" .. port .. "/capture/scheme-relative" },
        { 302, "/capture/same-origin-path" },
      }
    end)

    it("the capture server does record an Authorization header (control)", function()
      support.curl("", { url = hostile .. "/capture/control", headers = { "Authorization: Bearer control" } })
      local log = hostile_requests("/capture/")
      assert.equal(1, #log)
      assert.equal("Bearer control", log[1].authorization)
    end)

    it("3xx from the API is never followed: http error, one attempt, nothing sent anywhere", function()
      local c = support.new_client()
      assert.truthy(call(c))
      local api_before = support.stats().api_requests
      for _, t in ipairs(targets) do
        support.fault({ status = t[1], headers = { Location = t[2] }, body = "" })
        local hp, err = call(c)
        assert.is_nil(hp)
        assert.equal("http", err.kind)
        assert.equal(t[1], err.status)
        assert.equal(1, err.attempts)
      end
      assert.equal(api_before + #targets, support.stats().api_requests)
      assert.same({}, hostile_requests())
      -- the TLS listener saw nothing either (it shares the sandbox's request log)
      for _, r in ipairs(support.requests()) do
        assert.is_nil(r.uri:find("capture", 1, true))
      end
    end)

    it("3xx from the token endpoint is never followed and never sends the credentials", function()
      for _, t in ipairs(targets) do
        local c = support.new_client()
        support.fault({ target = "token", status = t[1], headers = { Location = t[2] } })
        local hp, err = call(c)
        assert.is_nil(hp)
        assert.is_truthy(err.kind == "http" or err.kind == "auth")
        assert.equal(t[1], err.status)
        assert.equal(1, err.attempts)
        c:close()
      end
      assert.same({}, hostile_requests())
    end)
  end)

  describe("Retry-After", function()
    local function retry_case(mode, max_retries, base)
      local c = static_client(hostile .. "/retry/" .. mode,
        { max_retries = max_retries, retry_base_delay = base or 0.1, max_retry_wait = 3 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("http", err.kind)
      assert.equal(429, err.status)
      local log = hostile_requests("/retry/")
      local gaps = {}
      for i = 2, #log do gaps[#gaps + 1] = log[i].t - log[i - 1].t end
      return err, t, gaps, #log
    end

    for _, mode in ipairs({ "date_past", "negative", "garbage", "empty", "fraction" }) do
      it("'" .. mode .. "' does not crash and falls back to backoff", function()
        local err, t, gaps, n = retry_case(mode, 2)
        assert.equal(3, err.attempts)
        assert.equal(3, n)
        assert.is_true(t < 2, "took " .. t .. " s")
        -- backoff with base 0.1: [0.05, 0.1] then [0.1, 0.2]; never a tight loop
        assert.is_true(gaps[1] >= 0.04 and gaps[1] < 0.5, "gap 1 " .. gaps[1])
        assert.is_true(gaps[2] >= 0.09 and gaps[2] < 0.7, "gap 2 " .. gaps[2])
      end)
    end

    it("an HTTP date one second ahead is waited for (at most about 1 s)", function()
      local err, t, gaps = retry_case("date_future", 1, 0.01)
      assert.equal(2, err.attempts)
      assert.is_true(gaps[1] < 2.2, "gap " .. gaps[1])
      assert.is_true(t < 3)
    end)

    it("repeated Retry-After headers (1 and 1000) do not crash; the first counts", function()
      local err, t, gaps = retry_case("repeated", 1)
      assert.equal(2, err.attempts)
      assert.is_true(gaps[1] >= 0.9 and gaps[1] < 2, "gap " .. gaps[1])
      assert.is_true(t < 3)
    end)

    it("' 1 ' with spaces is one second", function()
      local err, _, gaps = retry_case("spaces", 1)
      assert.equal(2, err.attempts)
      assert.is_true(gaps[1] >= 0.9 and gaps[1] < 2, "gap " .. gaps[1])
    end)

    it("an absurd value (20 digits) is over max_retry_wait: returned at once with retry_after", function()
      local err, t = retry_case("huge", 2)
      assert.equal(1, err.attempts)
      assert.is_true(err.retry_after > 3)
      assert.is_true(t < 0.5)
    end)
  end)

  describe("statuses", function()
    it("503 three times: attempts 3 with growing jittered waits, then http 503", function()
      local c = static_client(hostile .. "/status/503", { max_retries = 2, retry_base_delay = 0.2 })
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal("http", err.kind)
      assert.equal(503, err.status)
      assert.equal(3, err.attempts)
      assert.matches("503", tostring(err))
      local log = hostile_requests("/status/503")
      assert.equal(3, #log)
      local g1, g2 = log[2].t - log[1].t, log[3].t - log[2].t
      -- equal jitter: [0.1, 0.2] then [0.2, 0.4] (log times have 1 ms resolution)
      assert.is_true(g1 >= 0.09 and g1 <= 0.35, "gap 1 " .. g1)
      assert.is_true(g2 >= 0.19 and g2 <= 0.55, "gap 2 " .. g2)
      assert.is_true(g2 >= g1 - 0.01, "waits did not grow: " .. g1 .. ", " .. g2)
    end)

    for _, code in ipairs({ 400, 403, 404, 422 }) do
      it(code .. " is one attempt, no retry, message capped (100 KB and 20 KB detail)", function()
        for _, n in ipairs({ 100000, 20000 }) do
          hard.hostile_clear()
          local c = static_client(hostile .. "/bigdetail/" .. code .. "/" .. n, { max_retries = 3 })
          local hp, err = call(c)
          assert.is_nil(hp)
          assert.equal("http", err.kind)
          assert.equal(code, err.status)
          assert.equal(1, err.attempts)
          assert.equal(1, #hostile_requests("/bigdetail/"))
          assert.is_true(#err.message <= 512, "message of " .. #err.message .. " bytes")
          assert.is_true(#tostring(err) <= 700)
          assert.is_nil(err.message:find("\n", 1, true))
        end
      end)
    end

    it("a 403 does not renew the token", function()
      local c = support.new_client()
      assert.truthy(call(c))
      support.fault({ status = 403 })
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal(403, err.status)
      assert.equal(1, err.attempts)
      assert.equal(1, support.stats().token_requests)
    end)
  end)

  describe("deadline", function()
    it("503 with Retry-After 2 and deadline 1: returns in < 1.5 s", function()
      local c = support.new_client({ deadline = 1, max_retry_wait = 5 })
      support.fault({ status = 503, times = 3, headers = { ["Retry-After"] = "2" } })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal(503, err.status)
      assert.is_true(t < 1.5, "took " .. t .. " s")
    end)

    it("bounds retries with backoff (10 retries of 0.4 s base, deadline 1)", function()
      local c = static_client(hostile .. "/status/503", { deadline = 1, max_retries = 10, retry_base_delay = 0.4,
                                                           max_retry_wait = 5 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.is_truthy(err.kind == "http" or err.kind == "timeout")
      assert.is_true(t < 1.5, "took " .. t .. " s")
    end)

    it("bounds a stalled transfer below timeout", function()
      local c = static_client(hostile .. "/stall", { deadline = 1, timeout = 10 })
      local t, hp, err = support.timed(call, c)
      assert.is_nil(hp)
      assert.equal("timeout", err.kind)
      assert.is_true(t < 1.5, "took " .. t .. " s")
      assert.matches("deadline", err.message)
    end)

    it("is per call: the next call has its full deadline again", function()
      local c = support.new_client({ deadline = 1 })
      support.fault({ delay_ms = 700 })
      assert.truthy(call(c))
      support.fault({ delay_ms = 700 })
      local hp, err = call(c)
      assert.is_nil(err)
      assert.truthy(hp)
    end)
  end)

  -- The libcurl client hands libcurl each URL parsed (CURLOPT_CURLU); a URL that libcurl's URL
  -- API refuses goes as a plain string, so libcurl's own error comes back, and the same handle
  -- then serves a good URL (the token endpoint) and the bad one again.
  it("a base_url libcurl cannot parse is a network error, call after call, beside a good token_url", function()
    local c = support.new_client({ base_url = "http://127.0.0.1:99999", token_url = support.url() ..
      "/api/partners/v2.0/auth/token", max_retries = 0 })
    for _ = 1, 3 do
      local hp, err = call(c)
      assert.is_nil(hp)
      assert.equal("network", err.kind)
      assert.truthy(err.message:find("URL", 1, true), err.message)
    end
    assert.is_true(support.stats().token_requests >= 1)
    local good = support.new_client()
    assert.truthy(call(good))
    c:close()
    good:close()
  end)

  it("podero.new refuses a file:// base_url (only http and https)", function()
    assert.has_error(function() podero.new({ base_url = "file:///etc", token = "x" }) end)
    assert.has_error(function() podero.new({ base_url = "ftp://127.0.0.1", token = "x" }) end)
  end)
end)
