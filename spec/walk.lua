-- The random walk: a seeded, stateful test of podero's public API (issue 9).
--
-- Long-lived clients are driven through random sequences of every public call (heat_pump,
-- users, heat_pumps, fetch_heat_pumps with 0..300 refs and concurrency 1..64, the steering
-- writes, refresh, statistics, close and a new client, token expiry, faults, deadlines,
-- collectgarbage at random points). A random sample of the objects it got (heat pumps, lists,
-- nested values) is kept and read again many steps later. Every answer is checked against what
-- the sandbox holds, read through an independent "oracle" (a plain HTTP/1.0 client on a
-- LuaSocket or nginx cosocket, with its own token): the exact body bytes, ids, error kinds and
-- statuses, aligned batch results, and request counts.
--
-- Used by scripts/walk.lua (Lua 5.4 and LuaJIT, also under ASan and valgrind) and by the nginx
-- driver (spec-nginx: a walk run from an ngx.timer). One step = one action; a failed check stops
-- the walk and reports the seed, the step and the last actions, so that
--   PODERO_WALK_SEED=N make walk
-- replays it. The walk resets the sandbox it is given: never point it at a shared one.
local cjson = require("cjson")
local podero = require("podero")

local M = {}

local fmt, concat = string.format, table.concat
local floor = math.floor
local null = cjson.null
-- podero.raw(v) (any object or array); the core's own before it existed, for walking old trees
local raw_of = podero.raw or require("podero.core").raw

---------------------------------------------------------------------------------------------
-- a deterministic PRNG (Park-Miller; exact in doubles, so the same walk under 5.4 and LuaJIT)
---------------------------------------------------------------------------------------------
local function new_rng(seed)
  local s = floor(seed) % 2147483646 + 1
  local r = {}
  function r.next()
    s = (s * 16807) % 2147483647
    return s
  end
  function r.int(a, b) -- a..b inclusive
    return a + r.next() % (b - a + 1)
  end
  function r.chance(p) return (r.next() / 2147483647) < p end
  function r.pick(t) return t[r.int(1, #t)] end
  function r.hex(n)
    local out = {}
    for i = 1, n do out[i] = fmt("%x", r.int(0, 15)) end
    return concat(out)
  end
  function r.uuid()
    return r.hex(8) .. "-" .. r.hex(4) .. "-4" .. r.hex(3) .. "-a" .. r.hex(3) .. "-" .. r.hex(12)
  end
  return r
end

---------------------------------------------------------------------------------------------
-- the oracle: HTTP/1.0 over a socket with the LuaSocket/cosocket API (connect, send,
-- receive("*a"), close); never podero
---------------------------------------------------------------------------------------------
local function new_oracle(base_url, tcp)
  local host, port = base_url:match("^http://([^:/]+):(%d+)")
  assert(host, "the walk needs a plain http:// sandbox URL, got " .. tostring(base_url))
  port = tonumber(port)
  local o = { api_requests = 0, token_requests = 0 }
  local token

  local function request(method, path, body, headers)
    local sock = tcp()
    sock:settimeout(rawget(_G, "ngx") and 30000 or 30)  -- ms for cosockets, s for LuaSocket
    local ok, err = sock:connect(host, port)
    if not ok then error("oracle: connect " .. host .. ":" .. port .. ": " .. tostring(err), 0) end
    local h = { method .. " " .. path .. " HTTP/1.0", "Host: " .. host, "Connection: close" }
    for _, l in ipairs(headers or {}) do h[#h + 1] = l end
    if body then
      h[#h + 1] = "Content-Type: application/json"
      h[#h + 1] = "Content-Length: " .. #body
    end
    assert(sock:send(concat(h, "\r\n") .. "\r\n\r\n" .. (body or "")))
    local data, rerr, partial = sock:receive("*a")
    sock:close()
    data = data or partial
    if not data then error("oracle: receive: " .. tostring(rerr), 0) end
    local head, rest = data:match("^(.-)\r\n\r\n(.*)$")
    local status = tonumber((head or ""):match("^HTTP/1%.%d (%d%d%d)"))
    if not status then error("oracle: no HTTP answer to " .. method .. " " .. path, 0) end
    return status, rest
  end

  function o.control(method, path, tbl)
    local status, body = request(method, path, tbl ~= nil and cjson.encode(tbl) or (method == "POST" and "" or nil))
    if status ~= 200 then error(fmt("oracle: %s %s answered %d: %s", method, path, status, body), 0) end
    return cjson.decode(body)
  end

  local function renew()
    o.token_requests = o.token_requests + 1
    local status, body = request("POST", "/api/partners/v2.0/auth/token",
      cjson.encode({ grant_type = "client_credentials", client_id = "sandbox-client",
                     client_secret = "sandbox-secret" }))
    if status ~= 200 then error("oracle: token endpoint answered " .. status, 0) end
    token = cjson.decode(body).access_token
  end

  -- GET an API path: status, body (renews its own token on 401)
  function o.get(path)
    if not token then renew() end
    for _ = 1, 2 do
      o.api_requests = o.api_requests + 1
      local status, body = request("GET", path, nil, { "Authorization: Bearer " .. token })
      if status ~= 401 then return status, body end
      renew()
    end
    error("oracle: 401 twice for " .. path, 0)
  end

  function o.forget_token() token = nil end
  return o
end

---------------------------------------------------------------------------------------------
-- the walk
---------------------------------------------------------------------------------------------
local API = "/api/partners/v2.0"
local function hp_path(org, user, hp) return fmt("%s/org/%s/users/%s/heat-pumps/%s", API, org, user, hp) end

local DECIMAL = {}
for f in ([[away_mode_minimum_temperature_limit consumption_last_day_kwh consumption_last_month_kwh
  consumption_last_week_kwh dhw_standard_temperature dhw_temperature indoor_actual_temperature
  indoor_target_temperature indoor_target_temperature_offset inlet_temperature
  maximum_temperature_limit minimum_dhw_temperature_limit minimum_temperature_limit
  outdoor_temperature outlet_temperature]]):gmatch("%S+") do DECIMAL[f] = true end

local EV_DECIMAL = { battery_level = true, charge_rate_w = true, charge_target_min = true,
  charge_target_max = true, minimum_charge_limit = true }
local INVERTER_DECIMAL = {}
for f in ([[solar_power_rating_kw battery_capacity_kwh battery_charge_level_percent
  battery_charge_discharge_power_w current_solar_production_w household_consumption_w
  current_power_to_grid_w solar_surplus_w]]):gmatch("%S+") do INVERTER_DECIMAL[f] = true end

local function is_number_literal(s)
  return s:match("^%-?%d+%.?%d*[eE]?[+-]?%d*$") ~= nil and s:match("^%-?0%d") == nil
    and s:match("%.$") == nil and s:match("%.[eE]") == nil and s:match("[eE][+-]?$") == nil
end

--- Runs one walk. opts:
--   base_url (required), seed, steps, tcp (socket constructor),
--   sleep (function(seconds)), check_counts (compare the sandbox's request counters with the
--   clients' and the oracle's; off inside nginx, where podero.ngx counts differently),
--   max_batch (300), light (half as many batch steps: for valgrind)
-- Returns true, summary; or false, report (seed, step, what failed, the last actions).
function M.run(opts)
  local seed = opts.seed or 1
  local steps = opts.steps or 500
  local rng = new_rng(seed)
  local oracle = new_oracle(opts.base_url, opts.tcp)
  local max_batch = opts.max_batch or 300
  local checks, step = 0, 0
  -- requests the sandbox may see that no client counts: libcurl resends a request once, on a
  -- new connection, when a reused one is closed without an answer (the "reset" fault)
  local count_slack = 0
  local trail = {}

  local function note(s)
    trail[#trail + 1] = fmt("step %d: %s", step, s)
    if #trail > 25 then table.remove(trail, 1) end
  end

  local function fail(msg, ...)
    error({ walk_failure = fmt(msg, ...) }, 0)
  end
  local function check(cond, msg, ...)
    checks = checks + 1
    if not cond then fail(msg, ...) end
  end

  -- the sandbox, from its seed description
  oracle.control("POST", "/_sandbox/reset")
  local seeddesc = oracle.control("GET", "/_sandbox/seed")
  local orgs, hps_all, users_all = {}, {}, {}
  for _, org in ipairs(seeddesc.orgs) do
    orgs[#orgs + 1] = org
    for _, user in ipairs(org.users) do
      users_all[#users_all + 1] = { org = org.id, user = user.id, deleted = user.deleted }
      for _, hp in ipairs(user.heat_pumps) do
        hps_all[#hps_all + 1] = { org = org.id, user = user.id, id = hp.id,
          deleted = hp.deleted or user.deleted }
      end
    end
  end
  local live_hps = {}
  for _, h in ipairs(hps_all) do if not h.deleted then live_hps[#live_hps + 1] = h end end
  -- the electric vehicles and inverters of the seed (issue 12)
  local devices = oracle.control("GET", "/_sandbox/seed/devices")
  local live_evs, inverter_users = {}, {}
  for _, ev in ipairs(devices.electric_vehicles) do
    if not ev.deleted and not ev.user_deleted then live_evs[#live_evs + 1] = ev end
  end
  for _, iv in ipairs(devices.inverters) do inverter_users[#inverter_users + 1] = iv end

  -- truth: detail bodies by heat pump id, read through the oracle, forgotten on writes
  local truth = {}
  local function truth_of(ref, include_deleted)
    local byid = truth[ref.id]
    if not byid then byid = {}; truth[ref.id] = byid end
    local key = ref.org .. "/" .. ref.user .. (include_deleted and "+d" or "")
    local t = byid[key]
    if not t then
      local status, body = oracle.get(hp_path(ref.org, ref.user, ref.id) ..
        (include_deleted and "?include_deleted=true" or ""))
      t = { status = status, body = body }
      byid[key] = t
    end
    return t
  end
  local function forget(id) truth[id] = nil end

  -- clients: one long-lived "main" client, replaced now and then
  local clients_made = 0
  local function client_opts(extra)
    local o = {
      base_url = opts.base_url, client_id = "sandbox-client", client_secret = "sandbox-secret",
      retry_base_delay = 0.005, max_retry_wait = 1, timeout = 20, connect_timeout = 5,
      max_retries = rng.int(1, 3),
    }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end
  local main, main_opts
  local track = function() end -- counts the requests of a client in this step (set below)
  local closed = setmetatable({}, { __mode = "k" }) -- clients closed by the walk
  local function new_main()
    main_opts = client_opts()
    main = podero.new(main_opts)
    clients_made = clients_made + 1
    note(fmt("new client #%d (max_retries %d)", clients_made, main_opts.max_retries))
  end
  new_main()

  -- kept objects: { obj, raw, what, ... } read again later
  local kept, KEEP = {}, 120
  local function keep(entry)
    if #kept < KEEP then kept[#kept + 1] = entry else kept[rng.int(1, KEEP)] = entry end
  end

  -- compares a podero value with a decoded JSON value, by the plain rules (no Decimal rule)
  -- hp: pv is a heat pump (its top-level Decimal fields read numeric strings as numbers)
  local function same(pv, jv, depth, hp)
    local dec = type(hp) == "table" and hp or DECIMAL
    if jv == null then return pv == nil end
    if type(jv) ~= "table" then
      if type(pv) == "number" and type(jv) == "number" then return pv == jv end
      return pv == jv
    end
    if not podero.is_object(pv) then return false end
    if depth > 3 then return true end
    if #jv > 0 or next(jv) == nil then
      if #pv ~= #jv then return false end
      for i = 1, #jv do if not same(pv[i], jv[i], depth + 1) then return false end end
      return true
    end
    for k, v in pairs(jv) do
      if hp and dec[k] and type(v) == "string" and is_number_literal(v) then v = tonumber(v) end
      if not same(pv[k], v, depth + 1) then return false end
    end
    return true
  end

  local function check_hp(hp, ref, t, what)
    check(podero.is_object(hp), "%s: not a podero object: %s", what, tostring(hp))
    local raw = raw_of(hp)
    check(raw == t.body, "%s: hp:raw() is not the sandbox's body for %s (%d bytes, sandbox %d)",
      what, ref.id, #raw, #t.body)
    check(hp.id == ref.id, "%s: hp.id is %s, asked for %s", what, tostring(hp.id), ref.id)
    local d = cjson.decode(t.body)
    -- a few fields, by the field rules: null -> nil, Decimal numeric strings -> numbers
    local names = { "connection_status", "steering_status", "comment", "optimization_level",
      "is_pause_power_active", "minimum_temperature_limit", "outlet_temperature", "dhw_temperature" }
    for _ = 1, 2 do
      local k = rng.pick(names)
      local want, got = d[k], hp[k]
      if want == null then want = nil end
      if DECIMAL[k] and type(want) == "string" and is_number_literal(want) then want = tonumber(want) end
      check(got == want, "%s: hp.%s is %s, the sandbox says %s", what, k, tostring(got), tostring(want))
    end
    local owner = hp.owner
    check(owner ~= nil and owner.email == d.owner.email, "%s: hp.owner.email differs", what)
    return d
  end

  local function keep_hp(hp, ref, t, client)
    local d = cjson.decode(t.body)
    keep({ obj = hp, raw = t.body, what = "heat pump " .. ref.id, id = ref.id, client = client or main })
    if rng.chance(0.3) then
      -- a nested value, kept without its parent
      local k = rng.pick({ "owner", "device_type", "actions", "device_model" })
      local v = hp[k]
      if v ~= nil then
        local r = raw_of(v)
        check(t.body:find(r, 1, true) ~= nil and #r < #t.body, "raw() of hp.%s is not a slice of the body", k)
        check(same(v, d[k], 0), "hp.%s differs from the sandbox's", k)
        keep({ obj = v, nested = k, raw = r, want = d[k], what = "nested " .. k .. " of " .. ref.id })
      end
    end
  end

  local function reread_kept()
    if #kept == 0 then return end
    for _ = 1, rng.int(1, 6) do
      local e = kept[rng.int(1, #kept)]
      if e.nested then
        local dec = e.nested == "element" or (e.nested == "ev" and EV_DECIMAL) or
          (e.nested == "inverter" and INVERTER_DECIMAL) or nil
        check(same(e.obj, e.want, 0, dec), "kept %s: its values changed since it was read", e.what)
        check(raw_of(e.obj) == e.raw, "kept %s: raw() changed since it was read", e.what)
      else
        local raw = raw_of(e.obj)
        check(raw == e.raw, "kept %s: raw() changed since it was read (%d bytes, was %d)", e.what, #raw, #e.raw)
        local d = cjson.decode(e.raw)
        if e.list then
          check(#e.obj == #d, "kept %s: length %d, was %d", e.what, #e.obj, #d)
          if #d > 0 then
            local i = rng.int(1, #d)
            check(e.obj[i].id == d[i].id, "kept %s: [%d].id changed", e.what, i)
          end
        else
          check(e.obj.id == d.id, "kept %s: id changed", e.what)
          check(e.obj.connection_status == d.connection_status, "kept %s: connection_status changed", e.what)
        end
      end
    end
    note("reread kept objects")
  end

  local function pick_ref()
    local r = rng.next() % 20
    if r < 15 then return rng.pick(live_hps), "live" end
    if r < 17 then return rng.pick(hps_all), "any" end
    if r < 19 then
      local u = rng.pick(users_all)
      return { org = u.org, user = u.user, id = rng.uuid(), missing = true }, "missing"
    end
    local h = rng.pick(live_hps)
    local other = rng.pick(users_all)
    return { org = h.org, user = other.user, id = h.id, wrong_user = other.user ~= h.user }, "wrong user"
  end

  local function expect_error(err, kind, status, what)
    check(type(err) == "table", "%s: expected an error, got %s", what, tostring(err))
    check(err.kind == kind, "%s: err.kind is %s (%s), expected %s", what, tostring(err.kind),
      tostring(err.message), kind)
    if status then
      check(err.status == status, "%s: err.status is %s, expected %d", what, tostring(err.status), status)
    end
    check(type(err.message) == "string" and #err.message > 0, "%s: the error has no message", what)
    check(tostring(err):find("podero:", 1, true) == 1, "%s: tostring(err) does not start with podero:", what)
  end

  -- an answer for ref: either an object equal to the truth, or the error the truth predicts
  local function check_answer(hp, err, ref, include_deleted, what)
    local t = truth_of(ref, include_deleted)
    if t.status == 200 then
      check(hp ~= nil, "%s: %s failed: %s", what, ref.id, tostring(err))
      check_hp(hp, ref, t, what)
      return true, t
    end
    check(hp == nil, "%s: got an object where the sandbox answers %d", what, t.status)
    expect_error(err, "http", t.status, what)
    return false, t
  end

  ------------------------------------------------------------------------------------------
  -- actions
  ------------------------------------------------------------------------------------------
  local actions = {}

  actions[#actions + 1] = { 14, "heat_pump", function()
    local ref, why = pick_ref()
    local del = rng.chance(0.2)
    note(fmt("heat_pump %s (%s%s)", ref.id, why, del and ", include_deleted" or ""))
    local hp, err = main:heat_pump(ref.org, ref.user, ref.id, del and { include_deleted = true } or nil)
    local ok, t = check_answer(hp, err, ref, del, "heat_pump")
    if ok and rng.chance(0.5) then keep_hp(hp, ref, t) end
  end }

  actions[#actions + 1] = { 4, "users", function()
    local org = rng.pick(orgs)
    local del = rng.chance(0.3)
    note(fmt("users %s%s", org.id, del and " (include_deleted)" or ""))
    local list, err = main:users(org.id, del and { include_deleted = true } or nil)
    local status, body = oracle.get(fmt("%s/org/%s/users%s", API, org.id, del and "?include_deleted=true" or ""))
    check(list ~= nil, "users: failed: %s", tostring(err))
    check(status == 200 and raw_of(list) == body, "users: raw() is not the sandbox's list body")
    local d = cjson.decode(body)
    check(#list == #d, "users: %d users, the sandbox has %d", #list, #d)
    for i = 1, #d do check(list[i].id == d[i].id, "users: [%d].id differs", i) end
    if rng.chance(0.3) then keep({ obj = list, raw = body, list = true, what = "users of " .. org.id }) end
  end }

  actions[#actions + 1] = { 5, "heat_pumps", function()
    local u = rng.pick(users_all)
    local del = rng.chance(0.3)
    note(fmt("heat_pumps %s/%s%s", u.org, u.user, del and " (include_deleted)" or ""))
    local list, err = main:heat_pumps(u.org, u.user, del and { include_deleted = true } or nil)
    local status, body = oracle.get(fmt("%s/org/%s/users/%s/heat-pumps%s", API, u.org, u.user,
      del and "?include_deleted=true" or ""))
    if status ~= 200 then
      check(list == nil, "heat_pumps: an object where the sandbox answers %d", status)
      expect_error(err, "http", status, "heat_pumps")
      return
    end
    check(list ~= nil, "heat_pumps: failed: %s", tostring(err))
    check(raw_of(list) == body, "heat_pumps: raw() is not the sandbox's list body")
    local d = cjson.decode(body)
    check(#list == #d, "heat_pumps: %d heat pumps, the sandbox has %d", #list, #d)
    for i = 1, #d do
      check(list[i].id == d[i].id, "heat_pumps: [%d].id differs", i)
    end
    if #d > 0 and rng.chance(0.4) then
      local i = rng.int(1, #d)
      local el = list[i]
      local r = raw_of(el)
      check(body:find(r, 1, true) ~= nil, "heat_pumps: raw() of [%d] is not a slice of the list body", i)
      check(same(el, d[i], 0, true) and cjson.decode(r).id == d[i].id, "heat_pumps: [%d] differs from its raw()", i)
      keep({ obj = el, nested = "element", raw = r, want = d[i], what = fmt("element %d of the heat pumps of %s", i, u.user) })
    end
    if rng.chance(0.3) then keep({ obj = list, raw = body, list = true, what = "heat pumps of " .. u.user }) end
  end }

  actions[#actions + 1] = { 8, "fetch_heat_pumps", function()
    local n
    local r = rng.next() % 10
    if r < 3 then n = rng.int(0, 4) elseif r < 8 then n = rng.int(5, 60) else n = rng.int(61, max_batch) end
    local conc = rng.chance(0.5) and rng.int(1, 64) or nil
    local del = rng.chance(0.15)
    local refs, exp = {}, {}
    for i = 1, n do
      local ref = pick_ref()
      exp[i] = ref
      if rng.chance(0.5) then
        refs[i] = { ref.org, ref.user, ref.id }
      else
        refs[i] = { org_id = ref.org, user_id = ref.user, heat_pump_id = ref.id }
      end
    end
    note(fmt("fetch_heat_pumps n=%d concurrency=%s%s", n, tostring(conc), del and " include_deleted" or ""))
    local o = {}
    if conc then o.concurrency = conc end
    if del then o.include_deleted = true end
    local calls = 0
    if rng.chance(0.3) then o.progress = function(done, total) calls = calls + 1 end end
    local hps, errs, failed = main:fetch_heat_pumps(refs, o)
    check(type(hps) == "table" and type(errs) == "table", "fetch_heat_pumps: no result tables")
    local nfail = 0
    for i = 1, n do
      local ok = check_answer(hps[i], errs[i], exp[i], del, fmt("fetch_heat_pumps[%d/%d]", i, n))
      if not ok then nfail = nfail + 1 end
      if ok and rng.chance(0.05) then keep_hp(hps[i], exp[i], truth_of(exp[i], del)) end
    end
    check(failed == nfail, "fetch_heat_pumps: failed is %s, %d items failed", tostring(failed), nfail)
    check(hps[n + 1] == nil and errs[n + 1] == nil, "fetch_heat_pumps: results past n")
    if o.progress then check(calls == n, "fetch_heat_pumps: progress called %d times for %d refs", calls, n) end
  end }

  -- a batch of live heat pumps with faults queued: retryable ones are absorbed, others counted
  actions[#actions + 1] = { 3, "fetch_heat_pumps with faults", function()
    local n = rng.int(4, 40)
    local refs, exp = {}, {}
    for i = 1, n do exp[i] = rng.pick(live_hps); refs[i] = { exp[i].org, exp[i].user, exp[i].id } end
    local k = rng.int(1, 3)
    local retryable = rng.chance(0.5) and main_opts.max_retries >= 1
    local fault = retryable and { status = 503, times = k } or { status = rng.pick({ 500, 404, 400 }), times = k }
    if retryable and rng.chance(0.5) then fault = { reset = true, times = k }; count_slack = k end
    oracle.control("POST", "/_sandbox/faults", fault)
    note(fmt("fetch_heat_pumps n=%d with fault %s x%d", n, fault.reset and "reset" or tostring(fault.status), k))
    local hps, errs, failed = main:fetch_heat_pumps(refs, { concurrency = rng.int(1, 64) })
    local pend = oracle.control("GET", "/_sandbox/stats").faults_pending
    check(pend == 0, "fetch_heat_pumps with faults: %d faults left unconsumed", pend)
    local nfail = 0
    for i = 1, n do
      if errs[i] then
        nfail = nfail + 1
        check(hps[i] == nil, "fetch_heat_pumps with faults: [%d] has both an object and an error", i)
        expect_error(errs[i], "http", fault.status, fmt("fetch_heat_pumps with faults[%d]", i))
      else
        check_hp(hps[i], exp[i], truth_of(exp[i]), fmt("fetch_heat_pumps with faults[%d]", i))
      end
    end
    check(nfail == (retryable and 0 or k), "fetch_heat_pumps with faults: %d failed, expected %d",
      nfail, retryable and 0 or k)
    check(failed == nfail, "fetch_heat_pumps with faults: failed is %s, %d errors", tostring(failed), nfail)
  end }

  local function bound_hp()
    -- a kept heat pump (top level, live) to act on, or a fresh one
    local cands = {}
    for _, e in ipairs(kept) do
      if e.id and not e.nested and not e.list then
        for _, h in ipairs(live_hps) do if h.id == e.id then cands[#cands + 1] = { e = e, ref = h } break end end
      end
    end
    if #cands > 0 and rng.chance(0.6) then
      local c = rng.pick(cands)
      if not closed[c.e.client] then
        track(c.e.client)
        return c.e.obj, c.ref, c.e.client
      end
      -- an object of a closed client: its bound methods raise, naming the cause
      local ok, msg = pcall(c.e.obj.refresh, c.e.obj)
      check(not ok and tostring(msg):find("client is closed", 1, true),
        "hp:refresh on an object of a closed client: %s", tostring(msg))
      note("hp:refresh on an object of a closed client raised")
    end
    local ref = rng.pick(live_hps)
    local hp, err = main:heat_pump(ref.org, ref.user, ref.id)
    check(hp ~= nil, "heat_pump before a write: %s", tostring(err))
    return hp, ref, main
  end

  actions[#actions + 1] = { 6, "write", function()
    local hp, ref, owner = bound_hp()
    local kind = rng.int(1, 9)
    local res, err, want
    if kind == 1 then
      local c = fmt("walk %d/%d W\195\164rme %s", seed, step, rng.hex(6))
      note("hp:update comment of " .. ref.id)
      res, err = hp:update({ comment = c })
      want = { comment = c }
    elseif kind == 2 then
      note("hp:pause_power of " .. ref.id)
      res, err = hp:pause_power(os.time() + rng.int(600, 86400))
      want = { is_pause_power_active = true }
    elseif kind == 3 then
      note("hp:resume_power of " .. ref.id)
      res, err = hp:resume_power()
      want = { is_pause_power_active = false }
    elseif kind == 4 then
      local lvl = rng.pick({ "Low", "Mid", "Max" })
      note("hp:set_optimization_level " .. lvl .. " of " .. ref.id)
      res, err = hp:set_optimization_level(lvl)
      want = { optimization_level = lvl }
    elseif kind == 5 then
      local lo = rng.int(16, 20)
      local hi = lo + rng.int(1, 5)
      note(fmt("hp:set_heating_policy %d..%d of %s", lo, hi, ref.id))
      res, err = hp:set_heating_policy({ min = lo, max = hi, enabled = true })
      want = { minimum_temperature_limit = lo, maximum_temperature_limit = hi }
    elseif kind == 7 then
      local t0 = os.time() + rng.int(3600, 86400)
      note("hp:set_away_mode of " .. ref.id)
      res, err = hp:set_away_mode({ start = t0, finish = t0 + rng.int(3600, 7 * 86400), min_temperature = rng.int(10, 16) })
      want = { is_away_mode_enabled = true }
    elseif kind == 8 then
      note("hp:clear_away_mode of " .. ref.id)
      res, err = hp:clear_away_mode()
      want = { is_away_mode_enabled = false }
    elseif kind == 9 then
      note("hp:pause_power_for of " .. ref.id)
      res, err = hp:pause_power_for(rng.int(60, 86400))
      want = { is_pause_power_active = true }
    else
      note("client:update_heat_pump external_device_id of " .. ref.id)
      local x = rng.hex(10)
      res, err = owner:update_heat_pump(ref.org, ref.user, ref.id, { external_device_id = x })
      want = { external_device_id = x }
    end
    forget(ref.id)
    check(res ~= nil, "write on %s failed: %s", ref.id, tostring(err))
    if kind == 8 and res then
      check(res.away_mode_start == nil and res.away_mode_end == nil, "clear_away_mode on %s left times", ref.id)
    end
    for k, v in pairs(want) do
      check(res[k] == v, "write on %s: %s is %s, expected %s", ref.id, k, tostring(res[k]), tostring(v))
    end
    -- the PUT answer is the heat pump as it now is: the same bytes as a GET
    check_hp(res, ref, truth_of(ref), "the answer of a write")
    if rng.chance(0.5) then keep_hp(res, ref, truth_of(ref), owner) end
  end }

  -- client:fleet of an organisation, then some of its heat pumps updated at once
  -- (client:update_heat_pumps), and one written out with to_json()
  actions[#actions + 1] = { 2, "fleet and batch update", function()
    local org = rng.pick(orgs)
    local del = rng.chance(0.3)
    local conc = rng.int(1, 32)
    note(fmt("fleet %s concurrency=%d%s", org.id, conc, del and " include_deleted" or ""))
    local users, lists, errs, failed = main:fleet(org.id, { concurrency = conc, include_deleted = del })
    check(users ~= nil, "fleet: failed: %s", tostring(lists))
    check(failed == 0, "fleet: %d users failed", tostring(failed))
    local q = del and "?include_deleted=true" or ""
    local _, ubody = oracle.get(fmt("%s/org/%s/users%s", API, org.id, q))
    check(raw_of(users) == ubody, "fleet: the users are not the sandbox's list")
    local live = {}
    for i = 1, #users do
      check(errs[i] == nil, "fleet: user %d: %s", i, tostring(errs[i]))
      local _, body = oracle.get(fmt("%s/org/%s/users/%s/heat-pumps%s", API, org.id, users[i].id, q))
      check(raw_of(lists[i]) == body, "fleet: the heat pumps of user %d are not the sandbox's list", i)
      for j = 1, #lists[i] do
        if lists[i][j].deleted_at == nil and users[i].deleted_at == nil then live[#live + 1] = lists[i][j] end
      end
    end
    if #live == 0 then return end
    local one = rng.pick(live)
    local j = cjson.decode(one:to_json())
    check(j.id == one.id and j.owner.email == one.owner.email, "to_json() of %s differs", tostring(one.id))
    local items, refs = {}, {}
    for k = 1, rng.int(1, math.min(12, #live)) do
      local hp = live[rng.int(1, #live)]
      items[k] = { hp, { comment = fmt("walk %d/%d batch %d %s", seed, step, k, rng.hex(4)) } }
      refs[k] = { org = org.id, user = hp.owner.id, id = hp.id }
    end
    note(fmt("update_heat_pumps of %d heat pumps", #items))
    local res, uerrs, ufailed = main:update_heat_pumps(items, { concurrency = rng.int(1, 16) })
    check(ufailed == 0, "update_heat_pumps: %s failed", tostring(ufailed))
    -- the same heat pump may be in several items: the last write is what the sandbox holds
    local last = {}
    for k = 1, #items do
      check(uerrs[k] == nil, "update_heat_pumps [%d]: %s", k, tostring(uerrs[k]))
      check(res[k].id == refs[k].id, "update_heat_pumps [%d]: the answer is about %s", k, tostring(res[k].id))
      forget(refs[k].id)
      last[refs[k].id] = k
    end
    for id, k in pairs(last) do
      check(type(res[k].comment) == "string" and res[k].comment:find("^walk "),
        "update_heat_pumps: comment of %s is %s", id, tostring(res[k].comment))
      if rng.chance(0.3) then keep_hp(res[k], refs[k], truth_of(refs[k]), main) end
    end
  end }

  -- electric vehicles (issue 12): a user's list and one vehicle, compared with the sandbox
  -- byte for byte and by the Decimal rule of vehicles; a write of the charge policy; a boost,
  -- whose answer (200, or 409 with a reason) the vehicle's state just before predicts
  actions[#actions + 1] = { 3, "electric vehicles", function()
    local ref = rng.pick(live_evs)
    local base = fmt("%s/org/%s/users/%s/electric-vehicles", API, ref.org, ref.user)
    note(fmt("electric_vehicles %s/%s", ref.user, ref.id))
    local list, err = main:electric_vehicles(ref.org, ref.user)
    local status, body = oracle.get(base)
    check(list ~= nil and status == 200, "electric_vehicles: failed: %s", tostring(err))
    check(raw_of(list) == body, "electric_vehicles: raw() is not the sandbox's list body")
    local d = cjson.decode(body)
    check(#list == #d, "electric_vehicles: %d vehicles, the sandbox has %d", #list, #d)
    for i = 1, #d do check(same(list[i], d[i], 0, EV_DECIMAL), "electric_vehicles: [%d] differs", i) end
    local ev, eerr = main:electric_vehicle(ref.org, ref.user, ref.id)
    local _, ebody = oracle.get(base .. "/" .. ref.id)
    check(ev ~= nil, "electric_vehicle %s: failed: %s", ref.id, tostring(eerr))
    check(raw_of(ev) == ebody, "electric_vehicle: raw() is not the sandbox's body")
    local e = cjson.decode(ebody)
    check(same(ev, e, 0, EV_DECIMAL), "electric_vehicle %s differs from the sandbox's", ref.id)
    if rng.chance(0.3) then keep({ obj = ev, nested = "ev", raw = ebody, want = e, what = "vehicle " .. ref.id }) end
    local r = rng.next() % 3
    if r == 0 then
      local limit = rng.int(0, 100)
      note(fmt("ev:update minimum_charge_limit = %d", limit))
      local up, uerr = ev:update({ minimum_charge_limit = limit })
      check(up ~= nil, "ev:update: failed: %s", tostring(uerr))
      check(up.minimum_charge_limit == limit, "ev:update: minimum_charge_limit is %s, wrote %d",
        tostring(up.minimum_charge_limit), limit)
      local _, after = oracle.get(base .. "/" .. ref.id)
      check(raw_of(up) == after, "ev:update: the answer is not the vehicle the sandbox now holds")
    elseif r == 1 then
      local full = e.battery_level and e.charge_target_max and tonumber(e.battery_level) >= tonumber(e.charge_target_max)
      local refused = e.is_charging or e.boost_state == "ongoing" or e.boost_state == "unavailable" or full
      note(fmt("ev:boost (state %s, charging %s)", tostring(e.boost_state), tostring(e.is_charging)))
      local b, berr = ev:boost()
      if refused then
        check(b == nil, "ev:boost: an answer where the sandbox refuses (state %s)", tostring(e.boost_state))
        expect_error(berr, "http", 409, "ev:boost")
      else
        check(b ~= nil, "ev:boost: failed: %s", tostring(berr))
        check(b.boost_state == "requested", "ev:boost: boost_state is %s", tostring(b.boost_state))
      end
    else
      local iv = rng.pick(inverter_users)
      note(fmt("inverters %s", iv.user))
      local invs, ierr = main:inverters(iv.org, iv.user)
      local istatus, ibody = oracle.get(fmt("%s/org/%s/users/%s/inverters", API, iv.org, iv.user))
      if istatus ~= 200 then
        check(invs == nil, "inverters: a list where the sandbox answers %d", istatus)
        expect_error(ierr, "http", istatus, "inverters")
        return
      end
      check(invs ~= nil, "inverters: failed: %s", tostring(ierr))
      check(raw_of(invs) == ibody, "inverters: raw() is not the sandbox's list body")
      local di = cjson.decode(ibody)
      for i = 1, #di do check(same(invs[i], di[i], 0, INVERTER_DECIMAL), "inverters: [%d] differs", i) end
      if #di > 0 and rng.chance(0.3) then
        local i = rng.int(1, #di)
        keep({ obj = invs[i], nested = "inverter", raw = raw_of(invs[i]), want = di[i], what = "inverter " .. di[i].id })
      end
    end
  end }

  actions[#actions + 1] = { 4, "refresh", function()
    local hp, ref = bound_hp()
    note("hp:refresh " .. ref.id)
    local fresh, err = hp:refresh()
    check(fresh ~= nil, "hp:refresh failed: %s", tostring(err))
    check_hp(fresh, ref, truth_of(ref), "hp:refresh")
  end }

  actions[#actions + 1] = { 3, "statistics", function()
    local hp, ref = bound_hp()
    local o = rng.chance(0.5) and { resolution = rng.pick({ "1DAY", "1HOUR", { "1WEEK", "1MONTH" } }) } or nil
    note("hp:statistics " .. ref.id)
    local st, err = hp:statistics(o)
    check(st ~= nil, "hp:statistics failed: %s", tostring(err))
    local q = ""
    if o then q = "?resolution=" .. (type(o.resolution) == "table" and concat(o.resolution, ",") or o.resolution) end
    local status, body = oracle.get(hp_path(ref.org, ref.user, ref.id) .. "/statistics" .. q)
    check(status == 200 and raw_of(st) == body, "hp:statistics: raw() is not the sandbox's body")
  end }

  actions[#actions + 1] = { 3, "token expiry", function()
    oracle.control("POST", "/_sandbox/expire_tokens")
    oracle.forget_token()
    local ref = rng.pick(live_hps)
    local before = main:stats().token_requests
    note("expire tokens, then heat_pump " .. ref.id)
    local hp, err = main:heat_pump(ref.org, ref.user, ref.id)
    check(hp ~= nil, "heat_pump after token expiry: %s", tostring(err))
    check_hp(hp, ref, truth_of(ref), "heat_pump after token expiry")
    local d = main:stats().token_requests - before
    check(d <= 1, "heat_pump after token expiry: %d token requests, expected at most 1", d)
  end }

  actions[#actions + 1] = { 3, "fault", function()
    local ref = rng.pick(live_hps)
    local retries = main_opts.max_retries
    local cases = {
      { f = { status = 503 }, ok = retries >= 1 },
      { f = { status = 503, headers = { ["Retry-After"] = "0" } }, ok = retries >= 1 },
      { f = { reset = true }, ok = retries >= 1, kind = "network" },
      { f = { truncate = true }, ok = retries >= 1, kind = "network" },
      { f = { status = 500 }, ok = false, kind = "http", status = 500 },
      { f = { status = 404 }, ok = false, kind = "http", status = 404 },
      { f = { status = 401 }, ok = true },
      { f = { oversize_bytes = 20000000 }, ok = false, kind = "too_large" },
      { f = { body = "[1,2" }, ok = false, kind = "decode" },
      { f = { json = { detail = "not a heat pump" }, status = 200 }, ok = false, kind = "decode" },
      { f = { body = "OTHER" }, ok = false, kind = "decode" }, -- another heat pump's body
    }
    local c = rng.pick(cases)
    if c.f.body == "OTHER" then
      local other = live_hps[(rng.int(1, #live_hps))]
      if other.id == ref.id then return end
      c = { f = { status = 200, body = truth_of(other).body }, ok = false, kind = "decode" }
    end
    if c.f.reset then count_slack = 1 end
    oracle.control("POST", "/_sandbox/faults", c.f)
    note(fmt("fault %s, then heat_pump %s", cjson.encode(c.f), ref.id))
    local hp, err = main:heat_pump(ref.org, ref.user, ref.id)
    local pend = oracle.control("GET", "/_sandbox/stats").faults_pending
    check(pend == 0, "fault: it was not consumed")
    if c.ok then
      check(hp ~= nil, "after fault %s: %s", cjson.encode(c.f), tostring(err))
      check_hp(hp, ref, truth_of(ref), "after a fault")
    else
      check(hp == nil, "after fault %s: an object", cjson.encode(c.f))
      expect_error(err, c.kind, c.status, "after fault " .. cjson.encode(c.f))
    end
  end }

  actions[#actions + 1] = { 1, "deadline", function()
    local c = podero.new(client_opts({ deadline = 0.25, max_retries = 0 }))
    local ref = rng.pick(live_hps)
    oracle.control("POST", "/_sandbox/faults", { delay_ms = 700 })
    note("deadline 0.25 s against a 700 ms answer: " .. ref.id)
    local hp, err = c:heat_pump(ref.org, ref.user, ref.id)
    check(hp == nil, "deadline: an object despite the deadline")
    expect_error(err, "timeout", nil, "deadline")
    c:close()
    local ok = pcall(c.heat_pump, c, ref.org, ref.user, ref.id)
    check(not ok, "deadline: a closed client did not raise")
    -- the sandbox still answers the delayed request: let it finish before counting again
    if opts.sleep then opts.sleep(0.5) end
  end }

  actions[#actions + 1] = { 2, "new client", function()
    if rng.chance(0.5) then
      main:close()
      closed[main] = true
      if rng.chance(0.5) then main:close() end -- twice is harmless
    end
    new_main()
  end }

  actions[#actions + 1] = { 3, "collectgarbage", function()
    if rng.chance(0.5) then
      note("collectgarbage()")
      collectgarbage()
    else
      note("collectgarbage('step')")
      collectgarbage("step")
    end
  end }

  actions[#actions + 1] = { 5, "reread", reread_kept }

  actions[#actions + 1] = { 2, "drop kept", function()
    note("drop half of the kept objects")
    for i = #kept, 1, -1 do if rng.chance(0.5) then table.remove(kept, i) end end
  end }

  local total_weight = 0
  for _, a in ipairs(actions) do
    if opts.light and a[2]:match("^fetch") then a[1] = math.max(1, floor(a[1] / 2)) end
    total_weight = total_weight + a[1]
  end

  local function choose()
    local r = rng.int(1, total_weight)
    for _, a in ipairs(actions) do
      r = r - a[1]
      if r <= 0 then return a end
    end
  end

  local counts = {}
  -- the clients a step uses, with their counters at its start
  local tracked = {}
  track = function(c)
    if tracked[c] == nil and not closed[c] then
      local st = c:stats()
      tracked[c] = { st.api_requests, st.token_requests }
    end
  end
  local function sandbox_counts()
    local s = oracle.control("GET", "/_sandbox/stats")
    return s.api_requests, s.token_requests
  end

  local ok, err = pcall(function()
    for i = 1, steps do
      step = i
      local a = choose()
      local check_counts = opts.check_counts and a[2] ~= "deadline" and a[2] ~= "new client"
      local sa, st, oa, ot
      tracked = {}
      if check_counts then
        sa, st = sandbox_counts()
        track(main)
        oa, ot = oracle.api_requests, oracle.token_requests
      end
      count_slack = 0
      a[3]()
      counts[a[2]] = (counts[a[2]] or 0) + 1
      if check_counts then
        local sa2, st2 = sandbox_counts()
        local ca, ct = 0, 0
        for c, v in pairs(tracked) do
          local s = c:stats()
          ca, ct = ca + s.api_requests - v[1], ct + s.token_requests - v[2]
        end
        local want_a = ca + (oracle.api_requests - oa)
        local want_t = ct + (oracle.token_requests - ot)
        check(sa2 - sa >= want_a and sa2 - sa <= want_a + count_slack, "%s: the sandbox counted %d API requests, the clients %d and the oracle %d",
          a[2], sa2 - sa, ca, oracle.api_requests - oa)
        check(st2 - st == want_t, "%s: the sandbox counted %d token requests, the clients %d and the oracle %d",
          a[2], st2 - st, ct, oracle.token_requests - ot)
      end
      if opts.on_step then opts.on_step(i) end
    end
    reread_kept()
    main:close()
    kept = {}
    collectgarbage()
  end)
  if ok then
    local parts = {}
    for _, a in ipairs(actions) do
      if counts[a[2]] then parts[#parts + 1] = fmt("%s %d", a[2], counts[a[2]]) end
    end
    return true, fmt("seed %d: %d steps, %d checks, %d clients (%s)", seed, steps, checks,
      clients_made, concat(parts, ", "))
  end
  local msg = type(err) == "table" and err.walk_failure or ("raised: " .. tostring(err))
  return false, fmt("seed %d failed at step %d: %s\nlast actions:\n  %s\nreplay: PODERO_WALK_SEED=%d make walk",
    seed, step, msg, concat(trail, "\n  "), seed)
end

M.new_rng = new_rng
return M
