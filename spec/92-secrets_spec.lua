-- Secrets never leak: unique canary strings as client secret, password and static token, and
-- the access and refresh tokens the sandbox issues (read back from its request log), are
-- driven through every error path; no canary may appear in any error (message, fields,
-- tostring), in tostring(client), or in anything written to stdout/stderr (checked in a
-- child process, at the file descriptor level).
local support = require("support")
local hard = require("servers.hardening")

local function canary(what)
  local f = assert(io.open("/dev/urandom", "rb"))
  local r = f:read(8)
  f:close()
  return "CANARY" .. what .. r:gsub(".", function(ch) return string.format("%02x", ch:byte()) end)
end

describe("secrets", function()
  local demo, hostile
  local C = {}

  setup(function()
    demo = support.demo()
    hostile = hard.sandbox_file("hostile_url")
    C.secret = canary("secret")
    C.password = canary("password")
    C.token = canary("token")
  end)

  before_each(function() support.reset() end)

  local function call(c)
    return c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id)
  end

  -- Every leak found in the current test (all paths are driven, then the test fails listing them).
  local leaks = {}
  local function it_(name, fn)
    it(name, function()
      leaks = {}
      fn()
      local found = leaks
      leaks = {}
      assert(#found == 0, #found .. " leak(s):\n  " .. table.concat(found, "\n  "))
    end)
  end

  local function no_leak(err, client, needles, where)
    assert.truthy(err, where .. ": expected an error")
    local leaked = support.leaks(err, needles)
    if leaked then
      leaks[#leaks + 1] = where .. ": error (" .. tostring(err.kind) .. ", HTTP " .. tostring(err.status)
        .. ") leaks " .. leaked:sub(1, 20) .. "..."
    end
    local s = tostring(client)
    for _, n in ipairs(needles) do
      if s:find(n, 1, true) then leaks[#leaks + 1] = where .. ": tostring(client) leaks" end
    end
    for k, v in pairs(client:stats()) do
      for _, n in ipairs(needles) do
        if tostring(v):find(n, 1, true) or tostring(k):find(n, 1, true) then
          leaks[#leaks + 1] = where .. ": stats leak"
        end
      end
    end
  end

  -- a JSON body that echoes every needle in each field the client reads messages from
  local function echo_json(needles)
    local all = table.concat(needles, " ")
    return { error = "invalid_client " .. all, error_description = "echo " .. all,
             detail = "echo " .. all, message = all }
  end

  -- the faults each client is driven through (api, then token endpoint)
  local function faults_for(needles)
    local all = table.concat(needles, " ")
    local echo = echo_json(needles)
    return {
      { status = 400, json = echo },
      { status = 401, json = echo, times = 2 },
      { status = 403, json = echo },
      { status = 404, json = echo },
      { status = 422, json = { detail = { { loc = { "path", all }, msg = all, type = all } } } },
      { status = 500, json = echo },
      { status = 503, json = echo, times = 3, headers = { ["Retry-After"] = "0" } },
      { status = 429, json = echo, headers = { ["Retry-After"] = "100000" } },
      { status = 200, body = "<html>" .. all .. "</html>" },
      { status = 200, json = { "not", "an", "object", all } },
      { status = 302, json = echo, headers = { Location = "http://127.0.0.1:1/" .. needles[1] } },
      { status = 200, body = '{"detail":"' .. all .. '"' },   -- truncated JSON
      { reset = true, times = 3 },
      { truncate = true, times = 3, json = echo },
      { oversize_bytes = 200000 },
      { status = 418, body = all },
    }
  end

  local function drive(c, needles, where)
    local seen = 0
    for _, f in ipairs(faults_for(needles)) do
      support.reset()
      support.fault(f)
      local hp, err = call(c)
      if not hp then
        no_leak(err, c, needles, where .. " api fault " .. require("cjson").encode(f):sub(1, 80))
        seen = seen + 1
      end
      local tf = {}
      for k, v in pairs(f) do tf[k] = v end
      tf.target = "token"
      support.reset()
      support.fault(tf)
      hp, err = call(c)
      if not hp then
        no_leak(err, c, needles, where .. " token fault " .. require("cjson").encode(f):sub(1, 80))
        seen = seen + 1
      end
    end
    return seen
  end

  it_("a canary client secret (refused, then through every fault)", function()
    local needles = { C.secret }
    local c = support.new_client({ client_secret = C.secret, max_response_bytes = 100000, max_retry_wait = 1 })
    local hp, err = call(c)
    assert.is_nil(hp)
    assert.equal("auth", err.kind)
    no_leak(err, c, needles, "refused secret")
    assert.is_true(drive(c, needles, "secret") >= 20)
    -- body client auth too
    c = support.new_client({ client_secret = C.secret, client_auth = "body", token_format = "form" })
    hp, err = call(c)
    no_leak(err, c, needles, "refused secret (body, form)")
    c:close()
    no_leak(err, c, needles, "closed client")
  end)

  it_("a canary password (refused, then through every fault)", function()
    local needles = { C.password }
    local c = support.new_client(support.password_overrides({ password = C.password,
      max_response_bytes = 100000, max_retry_wait = 1 }))
    local hp, err = call(c)
    assert.is_nil(hp)
    assert.equal("auth", err.kind)
    no_leak(err, c, needles, "refused password")
    assert.is_true(drive(c, needles, "password") >= 20)
  end)

  it_("a canary static token (refused: 401 is auth, then through every fault)", function()
    local needles = { C.token }
    local c = support.new_client({ token = C.token, client_id = support.NONE, client_secret = support.NONE,
                                   max_response_bytes = 100000, max_retry_wait = 1 })
    local hp, err = call(c)
    assert.is_nil(hp)
    assert.equal("auth", err.kind)
    no_leak(err, c, needles, "refused static token")
    drive(c, needles, "static token")
    -- the token really was sent (so it is a real canary)
    support.reset()
    call(c)
    local sent = support.requests_of("api")[1].headers.authorization
    assert.equal("Bearer " .. C.token, sent)
  end)

  -- the secrets of the sandbox's request log: password, then the Bearer tokens and the
  -- refresh tokens in the order they were used (duplicates removed)
  local function logged_secrets()
    local out, seen = {}, {}
    for _, r in ipairs(support.requests()) do
      local auth = r.headers.authorization
      local v = r.kind == "api" and auth and auth:match("^Bearer (.+)$") or r.body:match('"refresh_token":"([^"]+)"')
      if v and not seen[v] then seen[v] = true; out[#out + 1] = v end
    end
    return out
  end

  it_("the sandbox-issued access token in use, echoed back by every API fault", function()
    -- (401 faults renew the token, so the echoed one is no longer in use: see the tests below)
    local c = support.new_client(support.password_overrides({ max_response_bytes = 100000, max_retry_wait = 1 }))
    assert.truthy(call(c))
    local seen, n_faults = 0, #faults_for({ "x" })
    for k = 1, n_faults do
      local secrets = logged_secrets()
      local needles = { support.PASSWORD, secrets[#secrets] }   -- the token the client uses now
      local f = faults_for(needles)[k]
      if f.status ~= 401 then
        support.fault(f)
        local hp, err = call(c)
        if not hp then
          no_leak(err, c, needles, "issued token, api fault " .. require("cjson").encode(f):sub(1, 60))
          seen = seen + 1
        end
        support.curl("/_sandbox/faults", { method = "DELETE" })
      end
    end
    assert.is_true(seen >= 10)
  end)

  it_("canary access and refresh tokens (from a token answer) in every error path", function()
    local A, R = canary("access"), canary("refresh")
    local needles = { A, R, C.password }
    local seen = 0
    for _, f in ipairs(faults_for(needles)) do
      for _, target in ipairs({ "api", "token" }) do
        support.reset()
        local c = support.new_client(support.password_overrides({ password = C.password,
          max_response_bytes = 100000, max_retry_wait = 1 }))
        -- the client's first token answer carries the canaries
        support.fault({ target = "token", status = 200, json = { access_token = A, token_type = "Bearer",
                        expires_in = 3600, refresh_token = R } })
        local tf = {}
        for k, v in pairs(f) do tf[k] = v end
        tf.target = "api"
        support.fault(tf)
        if target == "token" then
          -- the API asks for a renewal (401): the refresh grant carries R and meets the fault
          support.fault({ status = 401 })
          tf.target = "token"
          support.curl("/_sandbox/faults", { method = "DELETE" })
          support.fault({ target = "token", status = 200, json = { access_token = A, token_type = "Bearer",
                          expires_in = 3600, refresh_token = R } })
          support.fault({ status = 401 })
          support.fault(tf)
        end
        local hp, err = call(c)
        if not hp then
          no_leak(err, c, needles, target .. " fault " .. require("cjson").encode(f):sub(1, 60))
          seen = seen + 1
        end
        c:close()
      end
    end
    assert.is_true(seen >= 25)
    -- the canaries really were used: the last refresh grant sent R
    local found = false
    for _, r in ipairs(support.requests()) do
      if r.body:find(R, 1, true) or (r.headers.authorization or ""):find(A, 1, true) then found = true end
    end
    assert.is_true(found)
  end)

  it_("tokens replaced by a renewal, echoed back later, are not shown either", function()
    local c = support.new_client(support.password_overrides({ max_response_bytes = 100000, max_retry_wait = 1 }))
    assert.truthy(call(c))
    support.expire_tokens()
    assert.truthy(call(c))
    support.expire_tokens()
    assert.truthy(call(c))
    local needles = logged_secrets()
    assert.equal(5, #needles)   -- A1, R1, A2, R2, A3 (R3 is held, not yet used)
    support.fault({ status = 404, json = { detail = "seen before: " .. table.concat(needles, " ") } })
    local hp, err = call(c)
    assert.is_nil(hp)
    no_leak(err, c, needles, "old tokens echoed")
  end)

  it_("an echo cut at the message cap does not leak a prefix of a secret", function()
    -- the server's detail is cut at 300 bytes: a secret that straddles the cut must not
    -- leave its first bytes in the message
    local c = support.new_client({ client_secret = C.secret })
    for pad = 270, 300, 3 do
      support.reset()
      support.fault({ target = "token", status = 401,
                      json = { error = "invalid_client", error_description = string.rep("x", pad) .. C.secret } })
      local _, err = call(c)
      local prefix = C.secret:sub(1, 12)
      if err.message:find(prefix, 1, true) then
        leaks[#leaks + 1] = "padding " .. pad .. ": message keeps a prefix of the secret: ..." .. err.message:sub(-30)
      end
    end
  end)

  it_("nothing is written to stdout or stderr on any error path (child process)", function()
    local root = hard.repo_root()
    local script = string.format([[
      package.path = %q .. ";" .. package.path
      package.cpath = %q .. ";" .. package.cpath
      local podero = require("podero")
      local base, hostile, ca = %q, %q, %q
      local org, user, hp = %q, %q, %q
      local secret, password, token = %q, %q, %q
      local function try(o)
        o.max_retries = 1; o.retry_base_delay = 0.01; o.timeout = 2; o.connect_timeout = 2
        local ok, c = pcall(podero.new, o)
        if ok then
          local h, e = c:heat_pump(org, user, hp)
          local _ = tostring(e), tostring(c)
          c:close()
        end
      end
      try({ base_url = base, client_id = "sandbox-client", client_secret = secret })
      try({ base_url = base, username = "partner@example.com", password = password })
      try({ base_url = base, token = token })
      try({ base_url = hostile .. "/status/503", token = token })
      try({ base_url = hostile .. "/short", token = token })
      try({ base_url = hostile .. "/stall", token = token })
      try({ base_url = "http://127.0.0.1:1", client_id = "x", client_secret = secret })
      try({ base_url = "http://" .. secret .. ".invalid", client_id = "x", client_secret = secret })
      if ca then try({ base_url = ca, token = token }) end
      pcall(podero.new, { base_url = base, client_secret = secret })
      pcall(podero.new, { base_url = base, password = password })
      pcall(podero.new, { base_url = "http://u:" .. secret .. "@x", client_id = "a", client_secret = secret })
      collectgarbage("collect")
    ]], root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua",
        os.getenv("PODERO_CPATH") or (root .. "/build/" .. support.CORE_DIR .. "/?.so"),
        support.url(), hostile or "http://127.0.0.1:1", hard.sandbox_file("tls_expired_url") or "",
        demo.org_id, demo.user_id, demo.heat_pump_id, C.secret, C.password, C.token)
    local out = hard.run_lua(script, { CURL_VERBOSE = "1" })
    for _, n in ipairs({ C.secret, C.password, C.token }) do
      assert(not out:find(n, 1, true), "output leaks a canary: " .. out:sub(1, 300))
    end
    -- sanitizers (PODERO_SANITIZE) may print their own reports; otherwise nothing at all
    if not os.getenv("LD_PRELOAD") then assert.equal("", out) end
  end)
end)
