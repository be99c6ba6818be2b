-- The nginx tests: a sandbox Podero, then a real nginx (spec-nginx/nginx.sh) with podero in its
-- handlers, once with 1 worker and once with 4, driven with curl. Prints "ok N - ..." /
-- "not ok N - ..." and "N passed, N failed"; exits 1 on any failure. Loopback only; it stops
-- everything it started, also on an error.
--   lua5.4 spec-nginx/driver.lua        (scripts/test-nginx.sh sets the paths)
local cjson = require("cjson")

local TOP = os.getenv("PODERO_TOP") or "."
local HERE = TOP .. "/spec-nginx"
local passed, failed, n = 0, 0, 0

local function num(x) return tostring(math.tointeger(x) or x) end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = io.popen(cmd, "r")
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function ok(cond, desc, diag)
  n = n + 1
  if cond then
    passed = passed + 1
    print(("ok %d - %s"):format(n, desc))
  else
    failed = failed + 1
    print(("not ok %d - %s"):format(n, desc))
    if diag then print("#   " .. tostring(diag):gsub("\n", "\n#   ")) end
  end
  io.stdout:flush()
end

local function get(url)
  local body = sh("curl --noproxy '*' -s -m 30 " .. q(url))
  local okj, t = pcall(cjson.decode, body)
  return okj and t or { _raw = body }
end

local function post(url, body, method)
  return sh(("curl --noproxy '*' -s -m 10 -X %s -H 'Content-Type: application/json' --data-binary %s %s")
    :format(method or "POST", q(body or ""), q(url)))
end

local tmp = sh("mktemp -d ${TMPDIR:-/tmp}/podero-nginx-test.XXXXXX")
local sbdir, ngdir = tmp .. "/sandbox", tmp .. "/nginx"
local SB, NG, CLOSED
local nginx_running = false

local function stop_all()
  if nginx_running then sh("bash " .. q(HERE .. "/nginx.sh") .. " stop " .. q(ngdir) .. " 2>&1") end
  nginx_running = false
  sh("bash " .. q(TOP .. "/sandbox/sandbox.sh") .. " stop " .. q(sbdir) .. " >/dev/null 2>&1")
end

local function start_nginx(workers)
  if nginx_running then sh("bash " .. q(HERE .. "/nginx.sh") .. " stop " .. q(ngdir)) end
  NG = sh(("PODERO_BASE_URL=%s PODERO_CLOSED_URL=%s bash %s start %s %d 2>&1")
    :format(q(SB), q(CLOSED), q(HERE .. "/nginx.sh"), q(ngdir), workers))
  nginx_running = NG:match("^http://127%.0%.0%.1:%d+$") ~= nil
  return nginx_running
end

local function stats() return get(SB .. "/_sandbox/stats") end

local function faults(json)
  post(SB .. "/_sandbox/faults", "", "DELETE")
  if json then post(SB .. "/_sandbox/faults", json) end
end

-- a loopback port nobody listens on
local function closed_port()
  for _ = 1, 50 do
    local p = math.random(20000, 60000)
    if sh(("(exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null && echo used || echo free"):format(p)) == "free" then
      return p
    end
  end
  return 9
end

local function main()
  math.randomseed(os.time())
  SB = sh("SANDBOX_TLS=0 bash " .. q(TOP .. "/sandbox/sandbox.sh") .. " start " .. q(sbdir) .. " 2>&1")
  if not SB:match("^http://") then error("sandbox did not start: " .. SB) end
  CLOSED = "http://127.0.0.1:" .. closed_port()

  ---------------------------------------------------------------- 1 worker
  if not start_nginx(1) then error("nginx (1 worker) did not start: " .. NG) end
  print("# nginx with 1 worker at " .. NG .. ", sandbox at " .. SB)

  local hp = get(NG .. "/hp")
  ok(hp.id == "a82312a9-0252-415b-bc53-6146aff3f3af" and hp.connection_status == "ok" and hp.email ~= nil
     and hp.raw_len and hp.raw_len > 1000, "a heat pump read inside a content handler", cjson.encode(hp))

  local l = get(NG .. "/lists")
  local all = l.fetched_ok and #l.fetched_ok > 0
  for _, v in ipairs(l.fetched_ok or {}) do all = all and v end
  ok(l.users and l.users > 0 and l.heat_pumps and l.heat_pumps > 0, "users and heat_pumps inside nginx", cjson.encode(l))
  ok(all and l.failed == 1 and l.last_kind == "http" and l.last_status == 404 and l.progress_calls == l.heat_pumps + 1,
     "fetch_heat_pumps with ngx.thread.spawn: every heat pump, a 404 for the missing one, progress per item", cjson.encode(l))
  ok(l.refresh_id == "a82312a9-0252-415b-bc53-6146aff3f3af" or l.refresh_id ~= nil and #l.refresh_id == 36,
     "a heat pump from a list refreshes through the nginx client", cjson.encode(l))
  ok(l.objects_as_refs == true, "fetch_heat_pumps takes heat pump objects as refs inside nginx", cjson.encode(l))

  local before = stats()
  local m = get(NG .. "/misuse")
  local after = stats()
  ok(m.raised and m.message:find("heat_pump_id must be a UUID", 1, true) and m.raised2
     and m.message2:find("include_deleted must be a boolean", 1, true),
     "bad ids and options raise inside nginx with the C core's messages", cjson.encode(m))
  ok(m.raised3 and tostring(m.message3):find("ca_file does not apply inside nginx: set lua_ssl_trusted_certificate", 1, true),
     "ca_file inside nginx raises, naming nginx's own setting", cjson.encode(m))
  ok(m.raised4 and tostring(m.message4):find("proxy does not apply inside nginx", 1, true) and m.proxy_false_ok,
     "a proxy URL inside nginx raises (cosockets connect directly); proxy = false is fine", cjson.encode(m))
  ok(after.api_requests == before.api_requests and after.token_requests == before.token_requests,
     "misuse reaches no endpoint", cjson.encode({ before, after }))

  local t = get(NG .. "/timer")
  ok(t.ok and t.id, "a call from an ngx.timer callback", cjson.encode(t))

  for _, ph in ipairs({ { "init", "init_by_lua" }, { "log", "log_by_lua" }, { "header_filter", "header_filter_by_lua" } }) do
    if ph[1] ~= "init" then sh("curl --noproxy '*' -s -o /dev/null " .. q(NG .. "/" .. ph[1])); sh("sleep 0.1") end
    local r = get(NG .. "/phase?label=" .. ph[1])
    ok(type(r.message) == "string" and r.message:find(('cannot run in nginx\'s "%s" phase'):format(ph[1]), 1, true)
       and r.message:find(ph[2], 1, true),
       ("a call in %s raises an error naming the phase"):format(ph[2]), cjson.encode(r))
  end

  -- every error kind, inside nginx and outside (lua5.4), with the same fault before each
  local CASE_FAULTS = {
    network = nil, timeout = '{"delay_ms":1500}', http = nil, auth = nil,
    decode = '{"status":200,"body":"<html><body>maintenance</body></html>"}', too_large = nil,
    retry = '{"status":503,"times":3}', static = nil,
    unauthorized = '{"status":401,"times":2}',     -- 401, renewal, 401 again: auth, 2 attempts
  }
  local EXPECT = { network = "network", timeout = "timeout", http = "http", auth = "auth", decode = "decode",
                   too_large = "too_large", retry = "http", static = "auth",
                   unauthorized = "auth" }
  for _, case in ipairs({ "network", "timeout", "http", "auth", "decode", "too_large", "retry", "static", "unauthorized" }) do
    faults(CASE_FAULTS[case])
    local inside = get(NG .. "/kind?case=" .. case)
    faults(CASE_FAULTS[case])
    local outside = sh(("cd %s && lua5.4 spec-nginx/outside.lua %s %s %s"):format(q(TOP), q(SB), q(CLOSED), case))
    local okj, out = pcall(cjson.decode, outside)
    out = okj and out or { _raw = outside }
    faults(nil)
    local same = inside.kind == EXPECT[case] and inside.kind == out.kind and inside.status == out.status
      and inside.attempts == out.attempts and inside.retry_after == out.retry_after
    ok(same, ("error kind %s: the same inside nginx as outside (kind %s, status %s, attempts %s)")
      :format(case, tostring(inside.kind), num(inside.status), num(inside.attempts)),
      "inside:  " .. cjson.encode(inside) .. "\noutside: " .. cjson.encode(out))
    if inside.message and out.message and inside.message:gsub("%d+", "#") ~= out.message:gsub("%d+", "#") then
      print("# note: messages differ for " .. case .. ": inside " .. tostring(inside.message) .. " | outside " .. tostring(out.message))
    end
  end

  -- 20 concurrent requests whose Podero call takes 500 ms, 1 worker; a trivial location meanwhile
  get(NG .. "/hp")  -- the token is there
  post(SB .. "/_sandbox/config", '{"latency_ms":500}')
  local script = ([[
    t0=$(date +%%s%%N)
    curl --noproxy '*' -s --no-progress-meter --parallel --parallel-immediate --parallel-max 20 -m 10 -o /dev/null \
      -w '%%{http_code} %%{time_total}\n' '%s/hp?n=[1-20]' > %s/slow.txt &
    p=$!
    sleep 0.1
    i=0
    while kill -0 $p 2>/dev/null && [ $i -lt 40 ]; do
      curl --noproxy '*' -s -o /dev/null -w '%%{http_code} %%{time_total}\n' '%s/trivial' >> %s/trivial.txt
      i=$((i+1)); sleep 0.02
    done
    wait $p
    t1=$(date +%%s%%N)
    echo $(( (t1 - t0) / 1000000 ))
  ]]):format(NG, tmp, NG, tmp)
  local wall = tonumber(sh("bash -c " .. q(script)))
  post(SB .. "/_sandbox/config", '{"latency_ms":0}')
  local n200, slowest = 0, 0
  for line in io.lines(tmp .. "/slow.txt") do
    local code, tt = line:match("^(%d+) ([%d.]+)")
    if code == "200" then n200 = n200 + 1 end
    slowest = math.max(slowest, tonumber(tt) or 99)
  end
  ok(n200 == 20 and wall and wall < 1500,
     ("20 concurrent 500 ms calls on 1 worker: all 200 in %s ms (slowest %.0f ms, limit 1500)"):format(tostring(wall), slowest * 1000),
     sh("cat " .. q(tmp .. "/slow.txt")))
  local tn, tmax = 0, 0
  for line in io.lines(tmp .. "/trivial.txt") do
    local code, tt = line:match("^(%d+) ([%d.]+)")
    if code == "200" then tn = tn + 1; tmax = math.max(tmax, tonumber(tt)) end
  end
  ok(tn >= 5 and tmax < 0.05,
     ("meanwhile the trivial location answered %d times, slowest %.1f ms (limit 50)"):format(tn, tmax * 1000),
     sh("cat " .. q(tmp .. "/trivial.txt")))

  -- issue 11: client:fleet and client:update_heat_pumps inside nginx
  local fleet_seed = get(SB .. "/_sandbox/seed")
  local nu, nh = 0, 0
  for _, o in ipairs(fleet_seed.orgs or {}) do
    if o.id == "c871d975-416e-4563-b526-5e1fc9c9e070" then
      for _, u in ipairs(o.users) do
        if not u.deleted then
          nu = nu + 1
          for _, h in ipairs(u.heat_pumps) do if not h.deleted then nh = nh + 1 end end
        end
      end
    end
  end
  local fl = get(NG .. "/fleet")
  ok(fl.users == nu and fl.heat_pumps == nh and fl.failed == 0 and fl.errs == false,
     "client:fleet inside nginx lists every user's heat pumps", cjson.encode({ fl, nu, nh }))
  ok(fl.updated == nh and fl.update_failed == 0 and fl.aligned == true and type(fl.refreshed) == "string"
     and fl.refreshed:find("^fleet "), "client:update_heat_pumps inside nginx: aligned, bound results", cjson.encode(fl))

  -- issue 12: a compact partner's day inside nginx
  local dev = get(SB .. "/_sandbox/seed/devices").demo or {}
  local pd = get(("%s/partner?ev=%s&charging=%s&inverter=%s"):format(NG, tostring(dev.ev_boostable_id),
    tostring(dev.ev_charging_id), tostring(dev.inverter_battery_id)))
  ok(type(pd.evs) == "number" and pd.evs >= 3 and pd.ev_kind == "electric_vehicle" and pd.ev_id == dev.ev_boostable_id
     and pd.battery_type == "number" and pd.battery_decimal and pd.battery_table,
     "electric vehicles inside nginx: list, detail, the Decimal rule of their kind", cjson.encode(pd))
  ok(pd.updated == 42 and pd.refreshed and pd.boost_409 and pd.fetched,
     "ev:update, ev:refresh, boost's 409 and fetch_electric_vehicles inside nginx", cjson.encode(pd))
  ok(type(pd.inverters) == "number" and pd.inverters >= 1 and pd.solar_type == "number" and pd.savings_type == "number"
     and type(pd.created) == "string" and pd.created:find("^nginx%-") and type(pd.misuse) == "string"
     and pd.misuse:find("podero: create_user: role must be", 1, true),
     "inverters, savings, create_user and its checks inside nginx", cjson.encode(pd))
  ok(pd.user_read == true and pd.user_updated == "Nginx" and pd.registered == "heat_pump"
     and pd.building == "Nginx house" and pd.contract == "monthly" and type(pd.onboarding) == "string"
     and pd.onboarding:find("^https://connect%.podero%.com%?onboarding_session_id="),
     "user, update_user, register_heat_pump, create_building, building, create_energy_contract, "
     .. "create_onboarding_session and onboarding_session inside nginx", cjson.encode(pd))

  -- issue 9: raw() of elements and nested values, and the detail answer rule, inside nginx
  local a = get(NG .. "/answers")
  ok(a.n and a.n >= 3 and a.slices and a.own and a.owner_email,
     "raw() of a list element or nested value is its own bytes inside nginx", cjson.encode(a))
  local demo = get(SB .. "/_sandbox/seed").demo
  for _, case in ipairs({
    { '{"status":200,"json":{}}', "lacks the required field connection_status", "{} as a heat pump" },
    { '{"status":200,"json":{"id":"' .. demo.heat_pump_all_actions_id .. '","connection_status":"ok"}}',
      demo.heat_pump_all_actions_id, "another heat pump's answer" },
  }) do
    faults(case[1])
    local r = get(NG .. "/hp")
    faults(nil)
    ok(r.error and r.error.kind == "decode" and tostring(r.error.message):find(case[2], 1, true),
       "a detail answer that is not the heat pump asked for is a decode error inside nginx: " .. case[3],
       cjson.encode(r))
  end

  -- the random walk, driven from an ngx.timer (it resets the sandbox: run last on this nginx)
  local seed = tonumber(os.getenv("PODERO_WALK_SEED") or "") or os.time() % 1000000
  local steps = tonumber(os.getenv("PODERO_NGINX_WALK_STEPS") or "") or 250
  get(NG .. "/walk?seed=" .. seed .. "&steps=" .. steps)
  local w
  for _ = 1, 1200 do -- at most 240 s
    w = get(NG .. "/walk_status")
    if w.done then break end
    sh("sleep 0.2")
  end
  ok(w and w.done and w.ok, ("the random walk inside nginx (seed %d, %d steps, from an ngx.timer)"):format(seed, steps),
     w and tostring(w.report) or "no answer")
  if w and w.ok then print("# " .. tostring(w.report)) end

  ---------------------------------------------------------------- 4 workers
  if not start_nginx(4) then error("nginx (4 workers) did not start: " .. NG) end
  print("# nginx with 4 workers at " .. NG)

  local function burst(case, count)
    sh(("rm -f %s/b_*.json; curl --noproxy '*' -s --no-progress-meter --parallel --parallel-immediate --parallel-max %d -m 30 "
      .. "-o '%s/b_#1.json' '%s/hp?case=%s&n=[1-%d]'"):format(q(tmp), count, tmp, NG, case, count))
    local good, pids, npids = 0, {}, 0
    for i = 1, count do
      local f = io.open(("%s/b_%d.json"):format(tmp, i))
      local body = f and f:read("a") or ""
      if f then f:close() end
      local okj, r = pcall(cjson.decode, body)
      if okj and r.id then good = good + 1 end
      if okj and r.pid and not pids[r.pid] then pids[r.pid] = true; npids = npids + 1 end
    end
    return good, npids
  end

  -- warm every worker's view of the shared token, then expire it at the server (401 path)
  burst("shared", 40) -- warm-up: every worker has its client
  local good, npids
  local s0 = stats()
  post(SB .. "/_sandbox/expire_tokens", "")
  good, npids = burst("shared", 200)
  local s1 = stats()
  ok(good == 200 and s1.token_requests - s0.token_requests == 1,
     ("shared dict: 200 concurrent requests after the token was revoked (401), over %d workers: %d ok, %d token request(s)")
       :format(npids, good, s1.token_requests - s0.token_requests), cjson.encode({ s0, s1 }))
  ok(npids >= 2, ("the requests were spread over several workers (%d of 4)"):format(npids))

  -- expiry by time: the cached token runs out (dict TTL), then 200 arrive at once
  post(SB .. "/_sandbox/config", '{"token_ttl":3}')
  post(SB .. "/_sandbox/expire_tokens", "")
  burst("shared", 20)                              -- a 3 s token in the dict (renewal due after 2.7 s)
  sh("sleep 3")
  s0 = stats()
  good, npids = burst("shared", 200)
  s1 = stats()
  post(SB .. "/_sandbox/config", '{"token_ttl":36000}')
  ok(good == 200 and s1.token_requests - s0.token_requests == 1,
     ("shared dict: 200 concurrent requests after the token's lifetime ran out, over %d workers: %d ok, %d token request(s)")
       :format(npids, good, s1.token_requests - s0.token_requests), cjson.encode({ s0, s1 }))

  -- without a shared dict: one renewal per worker at most
  burst("local_token", 40)
  post(SB .. "/_sandbox/expire_tokens", "")
  s0 = stats()
  good, npids = burst("local_token", 200)
  s1 = stats()
  local d = s1.token_requests - s0.token_requests
  ok(good == 200 and d >= 1 and d <= 4,
     ("no shared dict: 200 concurrent requests after revocation, over %d workers: %d ok, %d token request(s) (at most one per worker)")
       :format(npids, good, d), cjson.encode({ s0, s1 }))

  local errs = sh("grep -c -E '\\[(alert|crit|emerg)\\]' " .. q(ngdir .. "/logs/error.log") .. " || true")
  ok(errs == "0", "no alert/crit in nginx's error log", sh("tail -n 20 " .. q(ngdir .. "/logs/error.log")))
end

local okm, err = xpcall(main, debug.traceback)
stop_all()
sh("rm -rf " .. q(tmp))
if not okm then
  failed = failed + 1
  print("not ok " .. (n + 1) .. " - the test run stopped: " .. tostring(err):gsub("\n", "\n#   "))
end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
