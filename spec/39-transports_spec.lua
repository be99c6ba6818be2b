-- One policy, three transports: each scenario (a fault or an option set against the sandbox)
-- runs through libcurl easy (client:heat_pump), libcurl multi (client:fetch_heat_pumps with one
-- item) and nginx cosockets (client:heat_pump inside an nginx of our own, spec-nginx/nginx.sh,
-- handler /scenario), and must give the same result everywhere: success, or the same err.kind,
-- status, attempts, retry_after and message (for network/timeout/tls only the kind, and the
-- policy's own deadline wording), the same requests at the sandbox, and loosely the same time.
-- A known disagreement is marked with `disagree`: the case still runs its assertions and is
-- pending while they fail (it fails once they pass, so the marker cannot outlive the bug).
-- Only loopback traffic. The nginx transport is pending with PODERO_IN_PROCESS_ONLY=1 (the
-- ASan/valgrind runs) or without nginx.
local support = require("support")
local hard = require("servers.hardening")
local podero = require("podero")
local cjson = require("cjson")

local q = support.shell_quote
local MISSING = "00000000-0000-4000-8000-000000000000"
local TRANSPORT_WORDED = { network = true, timeout = true, tls = true }

local function nginx_unavailable()
  if os.getenv("PODERO_IN_PROCESS_ONLY") == "1" then
    return "PODERO_IN_PROCESS_ONLY=1: no nginx transport in the in-process (ASan/valgrind) runs"
  end
  local nginx = os.getenv("NGINX") or "nginx"
  if not support.execute("command -v " .. q(nginx) .. " >/dev/null 2>&1") then
    return "nginx is not installed (" .. nginx .. " not found): the nginx transport is not tested"
  end
  return nil
end

-- The scenarios. opts(ctx): overrides of support.client_opts (support.NONE removes one);
-- faults(ctx): what to queue; ids(ctx): org, user, heat pump (default: the demo heat pump);
-- expect: { ok = true } or { kind, status, attempts, retry_after, endpoint ("api" unless said),
-- find = substring of the
-- message }; requests: { api = n, token = n } counted by the sandbox; seconds: { min, max };
-- tls: needs the sandbox's TLS listeners; rep: calls per transport (each checked, the sandbox
-- reset between them); disagree: { transport = "what differs" }.
local SCENARIOS = {
  { name = "success",
    expect = { ok = true }, requests = { api = 1, token = 1 } },
  { name = "http 404 from the API (a heat pump that is not there)",
    ids = function(ctx) return { ctx.demo.org_id, ctx.demo.user_id, MISSING } end,
    expect = { kind = "http", status = 404, attempts = 1, find = "Not Found" }, requests = { api = 1 } },
  { name = "http 500 is not retried",
    faults = { status = 500, times = 2 },
    expect = { kind = "http", status = 500, attempts = 1, find = "Injected 500" }, requests = { api = 1 } },
  { name = "http 422 carries the server's msg",
    faults = { status = 422, json = { detail = { { type = "uuid_parsing", loc = { "path", "heat_pump_id" },
                                                   msg = "Input should be a valid UUID" } } } },
    expect = { kind = "http", status = 422, attempts = 1, find = "Input should be a valid UUID" },
    requests = { api = 1 } },
  { name = "auth: the token endpoint refuses the client credentials",
    opts = { client_secret = "wrong-secret" },
    expect = { kind = "auth", status = 401, attempts = 1, find = "client authentication failed", endpoint = "token" },
    requests = { api = 0, token = 1 } },
  { name = "auth: a static token refused (401), no renewal",
    opts = { token = "not-a-valid-token-0000", client_id = support.NONE, client_secret = support.NONE },
    expect = { kind = "auth", status = 401, attempts = 1 }, requests = { api = 1, token = 0 } },
  { name = "decode: a 200 body that is not JSON",
    faults = { status = 200, body = "<!DOCTYPE html><html><body>Maintenance</body></html>" },
    expect = { kind = "decode", status = 200, attempts = 1 }, requests = { api = 1 } },
  { name = "decode: a 200 body about another heat pump",
    faults = function(ctx) return { status = 200, body = ctx.other_body } end,
    expect = { kind = "decode", status = 200, attempts = 1, find = "not the" }, requests = { api = 1 } },
  { name = "too_large: the heat pump over max_response_bytes = 1000",
    opts = { max_response_bytes = 1000 },
    expect = { kind = "too_large", status = 200, attempts = 1 }, requests = { api = 1 } },
  { name = "timeout: an answer delayed past timeout = 0.3",
    opts = { timeout = 0.3, max_retries = 0 }, faults = { delay_ms = 2000 },
    expect = { kind = "timeout", attempts = 1 }, requests = { api = 1 }, seconds = { 0.25, 1.5 } },
  { name = "network: connection refused (a closed port), retried once",
    opts = function(ctx) return { base_url = ctx.closed_url, max_retries = 1 } end,
    expect = { kind = "network", attempts = 2, endpoint = "token" }, requests = { api = 0, token = 0 }, seconds = { 0, 2 } },
  { name = "network: the answer cut mid-body every time",
    opts = { max_retries = 1 }, faults = { truncate = true, times = 5 },
    expect = { kind = "network", status = 200, attempts = 2 }, requests = { api = 2 } },
  { name = "retries: 503 twice, then success",
    opts = { max_retries = 3 }, faults = { status = 503, times = 2 },
    expect = { ok = true }, requests = { api = 3, token = 1 } },
  { name = "retries: 503 more often than max_retries = 2",
    opts = { max_retries = 2 }, faults = { status = 503, times = 5 },
    expect = { kind = "http", status = 503, attempts = 3, find = "Injected 503" }, requests = { api = 3 } },
  { name = "retries: a reset connection, then success",
    faults = { reset = true },
    expect = { ok = true }, requests = { api = 2, token = 1 } },
  { name = "Retry-After: 1 s is waited for, then success",
    opts = { max_retry_wait = 5 }, faults = { status = 429, headers = { ["Retry-After"] = "1" } },
    expect = { ok = true }, requests = { api = 2 }, seconds = { 0.9, 4 } },
  { name = "Retry-After: 30 s over max_retry_wait = 2 is not waited for",
    opts = { max_retry_wait = 2, max_retries = 3 }, faults = { status = 503, headers = { ["Retry-After"] = "30" } },
    expect = { kind = "http", status = 503, attempts = 1, retry_after = 30 }, requests = { api = 1 },
    seconds = { 0, 1.5 } },
  { name = "deadline: 0.3 s against a 700 ms delay",
    opts = { deadline = 0.3, timeout = 5 }, faults = { delay_ms = 700, times = 3 },
    expect = { kind = "timeout", attempts = 1, find = "the deadline of 0.3 s ran out" },
    requests = { api = 1 }, seconds = { 0.25, 0.8 } },
  { name = "token: a 401 from the API renews the token once, and the call succeeds",
    faults = { status = 401, headers = { ["WWW-Authenticate"] = 'Bearer error="invalid_token"' } },
    expect = { ok = true }, requests = { api = 2, token = 2 } },
  { name = "TLS: verify_tls with the sandbox CA succeeds",
    tls = true,
    opts = function(ctx) return { base_url = ctx.tls_url, ca_file = ctx.ca, verify_tls = true } end,
    -- inside nginx (IP literal): the chain is verified against lua_ssl_trusted_certificate, no
    -- SNI, and no name check (nginx checks certificates against host names only; README)
    expect = { ok = true }, requests = { api = 1, token = 1 } },
  { name = "TLS: a certificate from an untrusted CA fails with kind tls (20 calls)",
    tls = true, rep = 20,   -- inside nginx, lua-resty-core's sslhandshake raised here 1 call in 3 (now a tls error)
    opts = function(ctx) return { base_url = ctx.tls_unknownca_url, ca_file = ctx.ca, verify_tls = true } end,
    expect = { kind = "tls", attempts = 1, endpoint = "token" }, requests = { api = 0, token = 0 } },
}

local function resolve(v, ctx)
  if type(v) == "function" then return v(ctx) end
  return v
end

-- a result in one shape: { ok, id, err = {...}, seconds, raised, failed }
local function err_fields(err)
  return err and { kind = err.kind, status = err.status, message = err.message,
                   retry_after = err.retry_after, attempts = err.attempts, method = err.method,
                   endpoint = err.endpoint, path = err.path, request_id = err.request_id }
end

-- every transport records what on_request saw: { endpoint, method, status, kind, attempt }
local function recorder(opts)
  local seen = {}
  opts.on_request = function(a)
    seen[#seen + 1] = { a.endpoint, a.method, a.status or 0, a.kind or "", a.attempt }
  end
  return seen
end

local TRANSPORTS = {
  { name = "easy", run = function(opts, ids)
      local seen = recorder(opts)
      local c = podero.new(opts)
      local t, okc, hp, err = support.timed(pcall, c.heat_pump, c, ids[1], ids[2], ids[3])
      c:close()
      if not okc then return { ok = false, raised = tostring(hp), seconds = t } end
      return { ok = hp ~= nil, id = hp and hp.id, err = err_fields(err), seconds = t, seen = seen }
    end },
  { name = "multi", run = function(opts, ids)
      local seen = recorder(opts)
      local c = podero.new(opts)
      local t, okc, got, errs, failed = support.timed(pcall, c.fetch_heat_pumps, c,
        { { ids[1], ids[2], ids[3] } }, { concurrency = 1 })
      c:close()
      if not okc then return { ok = false, raised = tostring(got), seconds = t } end
      local hp = got[1]
      return { ok = hp ~= nil, id = hp and hp.id, err = err_fields(errs[1]), seconds = t, failed = failed,
               seen = seen }
    end },
  { name = "nginx", nginx = true },
}

describe("one policy, three transports", function()
  local ctx = {}
  local ng_dir, ng_url
  local skip_nginx = nginx_unavailable()
  local results = {}   -- scenario name -> transport name -> result

  local function run_nginx(opts, ids)
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.ca_file = nil   -- inside nginx the CA is lua_ssl_trusted_certificate's (ca_file raises)
    local body, status = support.curl("/scenario", {
      url = ng_url .. "/scenario", method = "POST",
      body = cjson.encode({ opts = o, ids = ids }), headers = { "Content-Type: application/json" } })
    assert.equal(200, status, "nginx /scenario answered " .. tostring(status) .. ": " .. body)
    local r = cjson.decode(body)
    if r.err == cjson.null then r.err = nil end
    return r
  end

  setup(function()
    ctx.demo = support.demo()
    ctx.closed_url = "http://127.0.0.1:" .. hard.closed_port()
    local d = ctx.demo
    local other = select(3, support.find_hp(function(h, u) return u.id == d.user_id and not h.deleted
                                                                and h.id ~= d.heat_pump_id end))
    local body, status = support.api_get(support.hp_path(d.org_id, d.user_id, other))
    assert(status == 200, "the other heat pump answered " .. tostring(status))
    ctx.other_body = body
    if hard.have_extras() then
      ctx.tls_url = hard.sandbox_file("tls_url")
      ctx.tls_unknownca_url = hard.sandbox_file("tls_unknownca_url")
      ctx.ca = hard.ca_file()
    end
    if not skip_nginx then
      ng_dir = os.tmpname()
      os.remove(ng_dir)
      local env = "PODERO_BASE_URL=" .. q(support.url()) .. " PODERO_CLOSED_URL=" .. q(ctx.closed_url)
        .. (ctx.ca and " PODERO_TRUSTED_CA=" .. q(ctx.ca) or "")
      local p = assert(io.popen(support.CLEAN_ENV .. env .. " timeout 30 bash "
        .. q(support.ROOT .. "/spec-nginx/nginx.sh") .. " start " .. q(ng_dir) .. " 1 2>&1", "r"))
      local out = p:read("a")
      p:close()
      ng_url = out:match("(http://127%.0%.0%.1:%d+)%s*$")
      assert(ng_url, "spec-nginx/nginx.sh did not start nginx: " .. out)
    end
  end)

  teardown(function()
    if ng_dir then
      support.execute(support.CLEAN_ENV .. "timeout 30 bash " .. q(support.ROOT .. "/spec-nginx/nginx.sh")
        .. " stop " .. q(ng_dir) .. " >/dev/null 2>&1")
      support.execute("rm -rf " .. q(ng_dir))
    end
  end)

  before_each(function() support.reset() end)
  after_each(function() support.curl("/_sandbox/faults", { method = "DELETE" }) end)

  local function check(sc, tname, r, stats, rep)
    local e = sc.expect
    local what = tname .. (rep > 1 and " (repetition " .. rep .. ")" or "") .. ": " .. cjson.encode(r)
    assert.is_nil(r.raised, "the call raised: " .. what)
    if e.ok then
      assert.is_true(r.ok, what)
      assert.equal(ctx.demo.heat_pump_id, r.id, what)
      assert.is_nil(r.err, what)
      if r.failed ~= nil then assert.equal(0, r.failed, what) end
    else
      assert.is_false(r.ok, what)
      assert.is_table(r.err, what)
      assert.equal(e.kind, r.err.kind, what)
      assert.equal(e.status, r.err.status, what)
      assert.equal(e.attempts, r.err.attempts, what)
      assert.equal(e.retry_after, r.err.retry_after, what)
      assert.is_string(r.err.message, what)
      assert.is_true(#r.err.message > 0, what)
      if e.find then assert.truthy(r.err.message:find(e.find, 1, true), "message: " .. what) end
      if r.failed ~= nil then assert.equal(1, r.failed, what) end
      -- what was being done: the request that failed (the token endpoint's when it was that)
      assert.equal(e.endpoint or "api", r.err.endpoint, what)
      assert.equal(r.err.endpoint == "token" and "POST" or "GET", r.err.method, what)
      if r.err.endpoint == "api" then
        assert.equal(support.hp_path(ctx.demo.org_id, ctx.demo.user_id, r.err.path:match("[^/]+$")), r.err.path, what)
      else
        assert.equal("/api/partners/v2.0/auth/token", r.err.path, what)
      end
      if r.err.attempts > 0 then
        assert.truthy(tostring(r.err.request_id):match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"), "request_id: " .. what)
      end
    end
    for k, n in pairs(sc.requests or {}) do
      assert.equal(n, stats[k .. "_requests"], k .. " requests at the sandbox: " .. what)
    end
    if sc.seconds then
      assert.is_true(r.seconds >= sc.seconds[1] and r.seconds <= sc.seconds[2],
        ("took %.3f s, not within [%g, %g]: %s"):format(r.seconds, sc.seconds[1], sc.seconds[2], what))
    end
    -- the message is the policy's: the same through every transport (other than the
    -- transport-worded network/timeout/tls ones); compared with the first transport's
    results[sc.name] = results[sc.name] or {}
    results[sc.name][tname] = r
    -- on_request saw the same attempts, in the same order, through every transport
    assert.is_table(r.seen, what)
    for _, t in ipairs(TRANSPORTS) do
      local ref = results[sc.name][t.name]
      if t.name == tname then break end
      if ref and ref.seen then assert.same(ref.seen, r.seen, "on_request differs from " .. t.name .. "'s: " .. what) end
    end
    if r.err and not TRANSPORT_WORDED[r.err.kind] then
      for _, t in ipairs(TRANSPORTS) do
        local ref = results[sc.name][t.name]
        if t.name == tname then break end
        if ref and ref.err then
          assert.equal(ref.err.message, r.err.message, "message differs from " .. t.name .. "'s: " .. what)
        end
      end
    end
  end

  for _, sc in ipairs(SCENARIOS) do
    describe(sc.name, function()
      for _, tr in ipairs(TRANSPORTS) do
        it("via " .. tr.name, function()
          if tr.nginx and skip_nginx then return pending(skip_nginx) end
          if sc.tls and not ctx.tls_url then
            return pending("the sandbox runs without its TLS listeners (SANDBOX_TLS=0)")
          end
          local opts = support.client_opts(resolve(sc.opts, ctx))
          local ids = resolve(sc.ids, ctx) or { ctx.demo.org_id, ctx.demo.user_id, ctx.demo.heat_pump_id }
          local faults = resolve(sc.faults, ctx)
          local function once()
            for i = 1, sc.rep or 1 do
              if i > 1 then support.reset() end
              support.curl("/_sandbox/faults", { method = "DELETE" })
              if faults then support.fault(faults) end
              local r
              if tr.nginx then r = run_nginx(opts, ids) else r = tr.run(opts, ids) end
              check(sc, tr.name, r, support.stats(), i)
            end
          end
          local why = sc.disagree and sc.disagree[tr.name]
          if not why then return once() end
          local ok, failure = pcall(once)
          if ok then
            error("the transport disagreement marked for this case is gone (remove `disagree`): " .. why)
          end
          pending("transport disagreement: " .. why .. " | got: " .. tostring(failure and failure.message or failure))
        end)
      end
    end)
  end
end)
