-- Handlers of the nginx test server (spec-nginx/run.sh generates the nginx.conf that uses them).
-- Every answer is JSON. Credentials and URLs come from env directives.
local cjson = require("cjson")
local podero = require("podero")

local _M = {}

local BASE = os.getenv("PODERO_BASE_URL")
local ID = os.getenv("PODERO_CLIENT_ID") or "sandbox-client"
local SECRET = os.getenv("PODERO_CLIENT_SECRET") or "sandbox-secret"
local CLOSED = os.getenv("PODERO_CLOSED_URL")     -- a loopback port nobody listens on

local ORG = "c871d975-416e-4563-b526-5e1fc9c9e070"
local USER = "19c004ae-e335-471e-a7dc-909929f8b8e2"
local HP = "a82312a9-0252-415b-bc53-6146aff3f3af"
local MISSING = "00000000-0000-4000-8000-000000000000"

-- one client per case and worker, made on first use (clients hold no handle: fork-safe)
local clients = {}
local CASES = {
  shared = function() return { base_url = BASE, client_id = ID, client_secret = SECRET,
                                token_cache = ngx.shared.podero_tokens } end,
  local_token = function() return { base_url = BASE, client_id = ID, client_secret = SECRET } end,
  network = function() return { base_url = CLOSED, client_id = ID, client_secret = SECRET, max_retries = 0 } end,
  timeout = function() return { base_url = BASE, client_id = ID, client_secret = SECRET, timeout = 0.3, max_retries = 0 } end,
  http = function() return { base_url = BASE, client_id = ID, client_secret = SECRET } end,
  unauthorized = function() return { base_url = BASE, client_id = ID, client_secret = SECRET } end,
  auth = function() return { base_url = BASE, client_id = ID, client_secret = "wrong-secret" } end,
  decode = function() return { base_url = BASE, client_id = ID, client_secret = SECRET, max_retries = 0 } end,
  too_large = function() return { base_url = BASE, client_id = ID, client_secret = SECRET, max_response_bytes = 1000 } end,
  retry = function() return { base_url = BASE, client_id = ID, client_secret = SECRET, retry_base_delay = 0.05 } end,
  static = function() return { base_url = BASE, token = "not-a-valid-token" } end,
}

function _M.client(case)
  local c = clients[case]
  if not c then
    c = podero.new(CASES[case]())
    clients[case] = c
  end
  return c
end

local function reply(status, t)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(t))
end

local function err_table(err)
  return { kind = err.kind, status = err.status, attempts = err.attempts, message = err.message,
           retry_after = err.retry_after, text = tostring(err) }
end

-- GET /hp?case=shared[&id=...]: one heat pump; answers a few fields, the worker pid and timing
function _M.heat_pump()
  local args = ngx.req.get_uri_args()
  local t0 = ngx.now()
  local hp, err = _M.client(args.case or "shared"):heat_pump(args.org or ORG, args.user or USER, args.id or HP)
  ngx.update_time()
  if not hp then return reply(502, { error = err_table(err), pid = ngx.worker.pid() }) end
  reply(200, { id = hp.id, connection_status = hp.connection_status, email = hp.owner.email,
               indoor = hp.indoor_actual_temperature, raw_len = #hp:raw(),
               pid = ngx.worker.pid(), ms = (ngx.now() - t0) * 1000 })
end

-- GET /kind?case=...: calls the case's client and answers the error's fields (or ok)
function _M.kind()
  local case = ngx.var.arg_case
  local id = case == "http" and MISSING or HP
  local hp, err = _M.client(case):heat_pump(ORG, USER, id)
  if hp then return reply(200, { ok = true, id = hp.id }) end
  reply(200, err_table(err))
end

-- GET /lists: users, heat_pumps and fetch_heat_pumps through the nginx client
function _M.lists()
  local c = _M.client("shared")
  local users, err = c:users(ORG)
  if not users then return reply(502, { error = err_table(err) }) end
  local hps, err2 = c:heat_pumps(ORG, USER)
  if not hps then return reply(502, { error = err_table(err2) }) end
  local refs = {}
  for i = 1, #hps do refs[i] = { ORG, USER, hps[i].id } end
  refs[#refs + 1] = { org_id = ORG, user_id = USER, heat_pump_id = MISSING }
  local calls = 0
  local t0 = ngx.now()
  local got, errs, failed = c:fetch_heat_pumps(refs, { concurrency = 4, progress = function() calls = calls + 1 end })
  ngx.update_time()
  local ids = {}
  for i = 1, #refs - 1 do ids[i] = got[i] and got[i].id == refs[i][3] or false end
  -- heat pump objects as refs: the first two results fetched again
  local objs, oerrs, ofailed = c:fetch_heat_pumps({ got[1], got[2] })
  local objs_ok = ofailed == 0 and objs[1] and objs[1].id == refs[1][3] and objs[2].id == refs[2][3] or
    tostring(oerrs[1] or oerrs[2])
  -- a heat pump from a list refreshes through the same nginx client (steering's hp:refresh)
  local again, rerr = hps[1]:refresh()
  reply(200, { users = #users, heat_pumps = #hps, first_user_email = users[1].email,
               fetched_ok = ids, failed = failed, last_kind = errs[#refs] and errs[#refs].kind,
               last_status = errs[#refs] and errs[#refs].status, progress_calls = calls,
               refresh_id = again and again.id or tostring(rerr), fetch_ms = (ngx.now() - t0) * 1000,
               objects_as_refs = objs_ok })
end

-- GET /answers: raw() of list elements and nested values inside nginx (their own bytes)
function _M.answers()
  local c = _M.client("shared")
  local hps, err = c:heat_pumps(ORG, USER)
  if not hps then return reply(502, { error = err_table(err) }) end
  local whole = hps:raw()
  local slices, own = true, true
  for i = 1, #hps do
    local r = hps[i]:raw()
    slices = slices and whole:find(r, 1, true) ~= nil and #r < #whole
    own = own and cjson.decode(r).id == hps[i].id
    for j = 1, #hps do
      if j ~= i and r:find(hps[j].id, 1, true) then own = false end
    end
  end
  local owner = hps[1].owner
  reply(200, { n = #hps, slices = slices, own = own,
               owner_email = cjson.decode(podero.raw(owner)).email == owner.email })
end

-- GET /fleet: client:fleet and client:update_heat_pumps inside nginx (light threads)
function _M.fleet()
  local c = _M.client("shared")
  local users, lists, errs, failed = c:fleet(ORG, { concurrency = 8 })
  if not users then return reply(502, { error = err_table(lists) }) end
  local total, items = 0, {}
  for i = 1, #users do
    if lists[i] then
      total = total + #lists[i]
      for j = 1, #lists[i] do items[#items + 1] = { lists[i][j], { comment = "fleet " .. j } } end
    end
  end
  local res, uerrs, ufailed = c:update_heat_pumps(items, { concurrency = 16 })
  local aligned = true
  for i = 1, #items do aligned = aligned and res[i] ~= nil and res[i].id == items[i][1].id and uerrs[i] == nil end
  local refreshed = res[1] and res[1]:refresh()
  reply(200, { users = #users, heat_pumps = total, failed = failed, errs = errs[1] and err_table(errs[1]) or false,
               updated = #items, update_failed = ufailed, aligned = aligned,
               refreshed = refreshed and refreshed.comment or false })
end

-- GET /partner?ev=ID&charging=ID&inverter=ID: a compact partner's day inside nginx (issue 12):
-- electric vehicles (list, detail, update, boost 409, batch), inverters, savings, users (create,
-- read, update), a heat pump registered, a building, an energy contract and an onboarding
-- session, with the same results as outside nginx
function _M.partner()
  local a = ngx.req.get_uri_args()
  local c = _M.client("shared")
  local out = {}
  local evs, err = c:electric_vehicles(ORG, USER)
  if not evs then return reply(502, { error = err_table(err) }) end
  out.evs = #evs
  out.ev_kind = require("podero.core").kind(evs[1])
  local ev = c:electric_vehicle(ORG, USER, a.ev)
  out.ev_id = ev and ev.id
  out.battery_type = ev and type(ev.battery_level)
  out.battery_decimal = ev and ev:raw():find('"battery_level":"', 1, true) ~= nil
  out.battery_table = ev and ev:to_table().battery_level == ev.battery_level
  local up = ev and ev:update({ minimum_charge_limit = 42 })
  out.updated = up and up.minimum_charge_limit
  out.refreshed = up and up:refresh() and true
  local b, berr = c:boost_electric_vehicle(ORG, USER, a.charging)
  out.boost_409 = not b and berr.kind == "http" and berr.status == 409
    and berr.message:find("already charging or its battery is full", 1, true) ~= nil
  local got, errs, failed = c:fetch_electric_vehicles({ evs[1], { ORG, USER, MISSING } }, { concurrency = 2 })
  out.fetched = got[1] and got[1].id == evs[1].id and errs[2] and errs[2].status == 404 and failed == 1
  local ivs = c:inverters(ORG, USER)
  out.inverters = ivs and #ivs
  for i = 1, ivs and #ivs or 0 do
    if ivs[i].id == a.inverter then out.solar_type = type(ivs[i].current_solar_production_w) end
  end
  local sv, serr = c:savings(ORG, { start = 1764547200, finish = "2025-12-31T01:00:00+01:00" })
  out.savings_type = sv and type(sv.total_savings) or tostring(serr)
  local u, uerr = c:create_user(ORG, { role = "user", email = "nginx-" .. ngx.worker.pid() .. "@example.com" })
  out.created = u and u.email or tostring(uerr)
  local ok, msg = pcall(c.create_user, c, ORG, { role = "boss", email = "x@example.com" })
  out.misuse = not ok and msg
  -- the rest of the day: the user read and changed, a heat pump registered, a building, a
  -- contract and an onboarding session made and read back
  if not u then return reply(200, out) end
  local nu = c:user(ORG, u.id)
  out.user_read = nu and nu.id == u.id
  local uu = c:update_user(ORG, u.id, { first_name = "Nginx" })
  out.user_updated = uu and uu.first_name
  local hp, herr = c:register_heat_pump(ORG, u.id, { external_device_id = "nginx-hp", price_zone = "AT" })
  out.registered = hp and require("podero.core").kind(hp) or tostring(herr)
  local bd, berr2 = c:create_building(ORG, u.id, { name = "Nginx house" })
  out.building = bd and c:building(ORG, u.id, bd.id).name or tostring(berr2)
  if bd then
    local ct, cerr = c:create_energy_contract(ORG, u.id, { energy_contract_type = "monthly", building_id = bd.id })
    out.contract = ct and ct.energy_contract_type or tostring(cerr)
  end
  local os_, oerr = c:create_onboarding_session({ user_id = u.id, success_url = "https://partner.example/ok",
    cancel_url = "https://partner.example/cancel", language = "de" })
  out.onboarding = os_ and c:onboarding_session(os_.id).authentication_url or tostring(oerr)
  reply(200, out)
end

-- GET /walk?seed=N&steps=M starts the random walk (spec/walk.lua) in an ngx.timer with the
-- nginx client; GET /walk_status answers { done, ok, report } (one worker: nginx runs with 1)
local walk_state
function _M.walk()
  local args = ngx.req.get_uri_args()
  walk_state = { done = false }
  local ok, err = ngx.timer.at(0, function()
    local wok, pass, report = pcall(require("walk").run, {
      base_url = BASE, seed = tonumber(args.seed) or 1, steps = tonumber(args.steps) or 200,
      tcp = ngx.socket.tcp, sleep = ngx.sleep, max_batch = 100, check_counts = false,
    })
    walk_state = { done = true, ok = wok and pass, report = wok and report or tostring(pass) }
  end)
  reply(ok and 200 or 500, { started = ok, error = err })
end

function _M.walk_status()
  reply(200, walk_state or { done = false, error = "no walk started" })
end

-- GET /misuse: a bad id raises before anything is sent (no token request either)
function _M.misuse()
  local ok, msg = pcall(function() return _M.client("shared"):heat_pump(ORG, USER, "nope") end)
  local ok2, msg2 = pcall(function() return _M.client("shared"):heat_pump(ORG, USER, HP, { include_deleted = 1 }) end)
  local ok3, msg3 = pcall(function()
    return podero.new({ base_url = BASE, client_id = ID, client_secret = SECRET, ca_file = "/etc/hostname" })
      :heat_pump(ORG, USER, HP)
  end)
  local ok4, msg4 = pcall(podero.new, { base_url = BASE, client_id = ID, client_secret = SECRET,
                                         proxy = "http://127.0.0.1:3128" })
  local ok5 = pcall(podero.new, { base_url = BASE, client_id = ID, client_secret = SECRET, proxy = false })
  reply(200, { raised = not ok, message = msg, raised2 = not ok2, message2 = msg2, raised3 = not ok3, message3 = msg3,
               raised4 = not ok4, message4 = msg4, proxy_false_ok = ok5 })
end

-- GET /timer: a call from an ngx.timer callback
function _M.timer()
  local res
  ngx.timer.at(0, function()
    local hp, err = _M.client("shared"):heat_pump(ORG, USER, HP)
    res = hp and { ok = true, id = hp.id } or { ok = false, error = err_table(err) }
  end)
  for _ = 1, 200 do
    if res then break end
    ngx.sleep(0.02)
  end
  reply(200, res or { ok = false, error = "the timer did not finish in 4 s" })
end

-- the phase tests: a call made where podero cannot run stores its error message
function _M.try_in_phase(label)
  local ok, msg = pcall(function()
    return podero.new({ base_url = BASE, client_id = ID, client_secret = SECRET }):heat_pump(ORG, USER, HP)
  end)
  ngx.shared.podero_spec:set(label, ok and "no error" or tostring(msg))
end

function _M.phase_result()
  reply(200, { message = ngx.shared.podero_spec:get(ngx.var.arg_label) })
end

-- POST /scenario (spec/39-transports_spec.lua): a JSON body { opts = {...podero.new options...},
-- ids = { org, user, hp } }; makes a client inside nginx (a new one per request), calls heat_pump
-- and answers { ok, id, err = { kind, status, message, retry_after, attempts }, seconds }
-- (or { ok = false, raised = message } when the call raised)
function _M.scenario()
  ngx.req.read_body()
  local okj, req = pcall(cjson.decode, ngx.req.get_body_data() or "")
  if not okj or type(req) ~= "table" or type(req.opts) ~= "table" or type(req.ids) ~= "table" then
    return reply(400, { ok = false, error = "bad request body: " .. tostring(req) })
  end
  -- what on_request sees, as spec/39-transports_spec.lua records it outside nginx
  local seen = {}
  req.opts.on_request = function(a)
    seen[#seen + 1] = { a.endpoint, a.method, a.status or 0, a.kind or "", a.attempt }
  end
  local okc, c = pcall(podero.new, req.opts)
  if not okc then return reply(400, { ok = false, error = "podero.new raised: " .. tostring(c) }) end
  ngx.update_time()
  local t0 = ngx.now()
  local okh, hp, err = pcall(c.heat_pump, c, req.ids[1], req.ids[2], req.ids[3])
  ngx.update_time()
  local seconds = ngx.now() - t0
  -- a raise is no answer of the policy: reported as such, so the spec can tell it apart
  if not okh then return reply(200, { ok = false, raised = tostring(hp), seconds = seconds }) end
  if hp then return reply(200, { ok = true, id = hp.id, seconds = seconds, seen = seen }) end
  reply(200, { ok = false, seconds = seconds, seen = seen, err = { kind = err.kind, status = err.status, message = err.message,
                                                     retry_after = err.retry_after, attempts = err.attempts,
                                                     method = err.method, endpoint = err.endpoint, path = err.path,
                                                     request_id = err.request_id } })
end

-- GET /blocking: the same call with the plain C client in the handler (blocks the worker):
-- only for the measurement in examples/openresty/README.md, never do this
local blocking
function _M.blocking()
  blocking = blocking or require("podero.core").new({ base_url = BASE, client_id = ID, client_secret = SECRET,
    token_url = BASE .. "/api/partners/v2.0/auth/token", grant = "client_credentials", user_agent = "podero-lua" })
  local t0 = ngx.now()
  local hp, err = blocking:heat_pump(ORG, USER, HP)
  ngx.update_time()
  reply(hp and 200 or 502, { id = hp and hp.id, error = err and err_table(err), ms = (ngx.now() - t0) * 1000 })
end

return _M
