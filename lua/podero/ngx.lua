--- podero.ngx: podero inside nginx (OpenResty, or Debian's nginx with libnginx-mod-http-lua).
--
-- `require("podero").new(opts)` comes here when it runs inside nginx. The client it returns has
-- the methods of the ordinary client (heat_pump, users, heat_pumps, fetch_heat_pumps, close,
-- stats, the steering methods), with the same error kinds and fields, but no call blocks the
-- nginx event loop:
--
--   * the libcurl transfer (token, retries, Retry-After, size cap, strict parse: the policy of
--     the C core, written once) runs off the event loop, in a thread of an nginx thread pool,
--     with `ngx.run_worker_thread`. The thread's own Lua VM keeps a `podero.core` client per
--     configuration (module-level cache) and hands back plain values only: the body string,
--     or the error's fields;
--   * the request's VM builds the lazy object from that body (`core.parse`) and the error
--     object (`core.error`);
--   * the token lives in the request's side: in `opts.token_cache` (an `ngx.shared.DICT`: one
--     token for all workers of a host) or, without it, in a per-worker table. Renewal is
--     single-flight (a lock key taken with `dict:add`, the others poll with `ngx.sleep`,
--     bounded); the API call in the thread then uses a client with that static token. A 401
--     drops the token (if the cache still holds it), renews once and retries once.
--
-- nginx.conf needs (see examples/openresty/README.md):
--   thread_pool podero threads=32 max_queue=65536;     (main context; name: opts.thread_pool)
--   lua_package_path / lua_package_cpath reaching podero and the LuaJIT build of podero.core
--   lua_shared_dict podero_tokens 1m;                  (for token_cache)
--
-- Phases: calls work in rewrite, access, content and ngx.timer callbacks. Anywhere else
-- (init_by_lua, init_worker_by_lua, set_by_lua, header/body filters, log_by_lua, ssl_*,
-- balancer) a call raises "podero: <method>: cannot run in nginx's <phase> phase ...";
-- creating the client works in every phase (it does no I/O and holds no handle, so a client
-- made at module level or in init_by_lua survives the fork of the workers).
--
-- @module podero.ngx

local _M = {}

local type, pairs, ipairs, tostring, error, pcall, setmetatable =
  type, pairs, ipairs, tostring, error, pcall, setmetatable
local fmt, concat = string.format, table.concat
local min, max, floor = math.min, math.max, math.floor

local MODULE = "podero.ngx"

--------------------------------------------------------------------------------------------
-- Thread side: these functions run in a thread of the nginx thread pool, in that thread's
-- own Lua VM (ngx.run_worker_thread). Only plain values cross between the VMs.
--------------------------------------------------------------------------------------------

local tcore            -- podero.core in the thread VM
local api_clients = {} -- key -> { token = ..., client = ... }   (static-token clients)
local cred_clients = {} -- key -> client                          (clients with credentials)

local function err_fields(err)
  if type(err) ~= "table" then
    return { kind = "network", message = tostring(err), attempts = 0 }
  end
  return { kind = err.kind, status = err.status, message = err.message,
           retry_after = err.retry_after, attempts = err.attempts }
end

-- a core.new option table from the plain one the request VM sent
local function core_opts(t, token)
  local o = {}
  for k, v in pairs(t) do
    if k ~= "key" then o[k] = v end
  end
  if token then
    o.token, o.grant = token, "token"
    o.client_id, o.client_secret, o.username, o.password = nil, nil, nil, nil
  end
  return o
end

local function api_client(t, token)
  tcore = tcore or require("podero.core")
  local e = api_clients[t.key]
  if e and e.token == token then return e.client end
  if e then e.client:close() end
  local c = tcore.new(core_opts(t, token))
  api_clients[t.key] = { token = token, client = c }
  return c
end

--- (thread) One API call with a static token. Returns true, body (nil for result "none"), or
-- false, error fields. Raises (-> the caller raises) only for misuse the C core detects.
function _M._thread_call(t, token, op, a, b, c, d, e)
  local client = api_client(t, token)
  local res, err
  if op == "heat_pump" then
    res, err = client:heat_pump(a, b, c, d)
  elseif op == "users" then
    res, err = client:users(a, b)
  elseif op == "heat_pumps" then
    res, err = client:heat_pumps(a, b, c)
  elseif op == "_request" then
    res, err = client:_request(a, b, c, d, e)
    if res == true then return true, nil end
  else
    error("podero.ngx: unknown operation " .. tostring(op))
  end
  if not res then return false, err_fields(err) end
  return true, tcore.raw(res)
end

--- (thread) A fresh token for the credentials in t. Returns true, access_token, renew_in, or
-- false, error fields.
function _M._thread_token(t)
  tcore = tcore or require("podero.core")
  local c = cred_clients[t.key]
  if not c then
    c = tcore.new(core_opts(t))
    cred_clients[t.key] = c
  end
  local tok, renew_in = c:token(true)
  if not tok then return false, err_fields(renew_in) end
  return true, tok, renew_in
end

--------------------------------------------------------------------------------------------
-- Request side: runs in the VM of the request (or timer) that calls the client.
--------------------------------------------------------------------------------------------

local ALLOWED_PHASES = { rewrite = true, access = true, content = true, timer = true }
local PHASE_DIRECTIVE = {
  init = "init_by_lua*", init_worker = "init_worker_by_lua*", set = "set_by_lua*",
  header_filter = "header_filter_by_lua*", body_filter = "body_filter_by_lua*",
  log = "log_by_lua*", balancer = "balancer_by_lua*", ssl_cert = "ssl_certificate_by_lua*",
  ssl_session_fetch = "ssl_session_fetch_by_lua*", ssl_session_store = "ssl_session_store_by_lua*",
  ssl_client_hello = "ssl_client_hello_by_lua*", exit_worker = "exit_worker_by_lua*",
}

local function check_phase(fn)
  local phase = ngx.get_phase()
  if not ALLOWED_PHASES[phase] then
    error(fmt("podero: %s: cannot run in nginx's %q phase (%s): podero calls need a phase that can "
      .. "yield (rewrite_by_lua*, access_by_lua*, content_by_lua*, or an ngx.timer callback; "
      .. "from here, start one with ngx.timer.at(0, fn))", fn, phase, PHASE_DIRECTIVE[phase] or phase), 0)
  end
end

local function misuse(fn, msg, ...)
  error("podero: " .. fn .. ": " .. fmt(msg, ...), 0)
end

-- the same checks (and messages) as the C core's, made before anything is sent
local function check_uuid(fn, name, v)
  if type(v) ~= "string" then misuse(fn, "%s must be a UUID string, got %s", name, type(v)) end
  if #v ~= 36 or not v:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") then
    misuse(fn, "%s must be a UUID (8-4-4-4-12 hex digits), got a string of %d bytes that is not one", name, #v)
  end
  return v:lower()
end

local function check_request_opts(fn, opts)
  if opts == nil then return nil end
  if type(opts) ~= "table" then misuse(fn, "opts must be a table, got %s", type(opts)) end
  for k, v in pairs(opts) do
    if k ~= "include_deleted" then misuse(fn, "unknown option '%s' in opts", type(k) == "string" and k or type(k)) end
    if type(v) ~= "boolean" then misuse(fn, "opts.include_deleted must be a boolean, got %s", type(v)) end
  end
  return opts.include_deleted and { include_deleted = true } or nil
end

-- A per-worker stand-in for a shared dict (no token_cache given): get/set/add/delete with TTL.
local function local_dict()
  local vals, exps = {}, {}
  local d = {}
  local function live(k)
    local e = exps[k]
    if e and e <= ngx.now() then vals[k], exps[k] = nil, nil end
    return vals[k]
  end
  function d.get(_, k) return live(k) end
  function d.set(_, k, v, ttl)
    vals[k], exps[k] = v, (ttl and ttl > 0) and ngx.now() + ttl or nil
    return true
  end
  function d.add(self, k, v, ttl)
    if live(k) ~= nil then return false, "exists" end
    return self:set(k, v, ttl)
  end
  function d.delete(_, k) vals[k], exps[k] = nil, nil end
  return d
end

local Client = {}
Client.__index = Client

local function closed_check(self, fn)
  if self.closed then error("podero: client is closed", 0) end
  check_phase(fn)
end

-- ngx.run_worker_thread with the pool's failures turned into a raise (misconfiguration) or an
-- error object (an overloaded pool).
local function run(self, fn, func, ...)
  if func == "_thread_call" then self.api_requests = self.api_requests + 1 end
  local r = { ngx.run_worker_thread(self.pool, MODULE, func, ...) } -- luacheck: ignore 143 (newer than the std)
  if r[1] then return r[2], r[3], r[4] end
  local msg = tostring(r[2])
  if msg:find("not found", 1, true) then
    error(fmt("podero: %s: nginx has no thread pool %q: add `thread_pool %s threads=32 max_queue=65536;` "
      .. "to the main context of nginx.conf (%s)", fn, self.pool, self.pool, msg), 0)
  end
  if msg:find("queue", 1, true) then
    return false, { kind = "network", attempts = 0,
      message = fmt("the nginx thread pool %q is overloaded (%s)", self.pool, msg) }
  end
  error(fmt("podero: %s: %s", fn, (msg:gsub("^[^:]*:%d+: ", ""))), 0)
end

local STATIC_NOTE = " %(the static token was refused%)$"

local function make_error(t)
  local e = {}
  for k, v in pairs(t) do e[k] = v end
  return _M.core.error(e)
end

-- Single-flight token renewal through the cache (shared dict or per-worker table).
-- stale: the token that has just been refused (nil: none). Returns token, or nil, err.
function Client:_token(fn, stale)
  local dict, key = self.dict, self.key
  local lock, errkey = key .. ":lock", key .. ":err"
  local deadline = ngx.now() + self.wait_max
  local sleep = 0.002
  local seen_lock = false
  while true do
    local tok = dict:get(key)
    if tok and tok ~= stale then return tok end
    if seen_lock then
      -- the renewal we waited for failed: its error, for everybody who waited
      local e = dict:get(errkey)
      if e then
        local ok, t = pcall(_M.cjson.decode, e)
        if ok and type(t) == "table" then return nil, make_error(t) end
      end
    end
    if dict:add(lock, 1, self.lock_ttl) then
      -- every write of the token happens under the lock: re-read, and drop a refused one
      tok = dict:get(key)
      if tok and tok ~= stale then
        dict:delete(lock)
        return tok
      end
      if tok then dict:delete(key) end
      self.token_requests = self.token_requests + 1
      local rok, ok, a, b = pcall(run, self, fn, "_thread_token", self.copts)
      if not rok then
        dict:delete(lock)
        error(ok, 0)
      end
      if ok then
        dict:set(key, a, max(b or 0, 1))
        dict:delete(errkey)
        dict:delete(lock)
        return a
      end
      dict:set(errkey, _M.cjson.encode(a), 1)
      dict:delete(lock)
      return nil, make_error(a)
    end
    seen_lock = true
    if ngx.now() >= deadline then
      return nil, make_error({ kind = "timeout", attempts = 0,
        message = fmt("waited %g s for another request's token renewal", self.wait_max) })
    end
    ngx.sleep(sleep)
    sleep = min(sleep * 2, 0.05)
  end
end

-- One API operation: token, the call in a worker thread, one renewal + retry on a 401.
-- Returns body (string or nil for "none"), or nil, err.
function Client:_call(fn, op, a, b, c, d, e)
  if self.static then
    local ok, body = run(self, fn, "_thread_call", self.topts, self.static, op, a, b, c, d, e)
    if ok then return body or true end
    return nil, make_error(body)
  end
  local tok, err = self:_token(fn)
  if not tok then return nil, err end
  local ok, body = run(self, fn, "_thread_call", self.topts, tok, op, a, b, c, d, e)
  if ok then return body or true end
  -- the thread's client has a static token; this client's is renewable: say it as outside nginx
  if type(body.message) == "string" then body.message = body.message:gsub(STATIC_NOTE, "") end
  if body.kind ~= "auth" or body.status ~= 401 then return nil, make_error(body) end
  local attempts = body.attempts or 1
  tok, err = self:_token(fn, tok)
  if not tok then return nil, err end
  ok, body = run(self, fn, "_thread_call", self.topts, tok, op, a, b, c, d, e)
  if ok then return body or true end
  if type(body.message) == "string" then body.message = body.message:gsub(STATIC_NOTE, "") end
  body.attempts = (body.attempts or 0) + attempts
  return nil, make_error(body)
end

local function context(obj, client, org, user)
  _M.core.set_context(obj, { client = client, org_id = org, user_id = user })
  return obj
end

local function parse(body, kind, client, org, user)
  local obj, err = _M.core.parse(body, kind)
  if not obj then return nil, err end
  return context(obj, client, org, user)
end

function Client:heat_pump(org_id, user_id, heat_pump_id, opts)
  local fn = "heat_pump"
  closed_check(self, fn)
  local org = check_uuid(fn, "org_id", org_id)
  local user = check_uuid(fn, "user_id", user_id)
  local id = check_uuid(fn, "heat_pump_id", heat_pump_id)
  opts = check_request_opts(fn, opts)
  local body, err = self:_call(fn, "heat_pump", org, user, id, opts)
  if not body then return nil, err end
  return parse(body, "heat_pump", self, org, user)
end

function Client:users(org_id, opts)
  local fn = "users"
  closed_check(self, fn)
  local org = check_uuid(fn, "org_id", org_id)
  opts = check_request_opts(fn, opts)
  local body, err = self:_call(fn, "users", org, opts)
  if not body then return nil, err end
  return parse(body, "array", self, org, nil)
end

function Client:heat_pumps(org_id, user_id, opts)
  local fn = "heat_pumps"
  closed_check(self, fn)
  local org = check_uuid(fn, "org_id", org_id)
  local user = check_uuid(fn, "user_id", user_id)
  opts = check_request_opts(fn, opts)
  local body, err = self:_call(fn, "heat_pumps", org, user, opts)
  if not body then return nil, err end
  return parse(body, "heat_pump_list", self, org, user)
end

local RESULT_KIND = { object = "object", heat_pump = "heat_pump", array = "array",
                      heat_pump_list = "heat_pump_list" }

--- client:_request(method, path [, json_body [, result]]): the primitive of the steering
-- methods (see csrc/client.c); the C core in the thread checks the arguments.
function Client:_request(method, path, json, result, expect_id)
  local fn = "_request"
  closed_check(self, fn)
  result = result or "object"
  local body, err = self:_call(fn, "_request", method, path, json, result, expect_id)
  if not body then return nil, err end
  if result == "none" then return true end
  local kind = RESULT_KIND[result]
  if not kind then misuse(fn, "bad result %q", tostring(result)) end
  return (_M.core.parse(body, kind))
end

--- client:fetch_heat_pumps(refs [, opts]) -> hps, errs, failed
-- Inside nginx: light threads (ngx.thread.spawn), at most opts.concurrency at a time, each
-- running client:heat_pump (so each in-flight fetch takes one thread of the pool).
function Client:fetch_heat_pumps(refs, opts)
  local fn = "fetch_heat_pumps"
  closed_check(self, fn)
  if type(refs) ~= "table" then misuse(fn, "refs must be a table, got %s", type(refs)) end
  local concurrency, include_deleted, progress = 16, nil, nil
  if opts ~= nil then
    if type(opts) ~= "table" then misuse(fn, "opts must be a table, got %s", type(opts)) end
    for k, v in pairs(opts) do
      if k == "concurrency" then
        if type(v) ~= "number" or v ~= floor(v) or v < 1 or v > 256 then
          misuse(fn, "opts.concurrency must be an integer from 1 to 256")
        end
        concurrency = v
      elseif k == "include_deleted" then
        if type(v) ~= "boolean" then misuse(fn, "opts.include_deleted must be a boolean, got %s", type(v)) end
        include_deleted = v and { include_deleted = true } or nil
      elseif k == "progress" then
        if type(v) ~= "function" then misuse(fn, "opts.progress must be a function, got %s", type(v)) end
        progress = v
      else
        misuse(fn, "unknown option '%s' in opts", type(k) == "string" and k or "?")
      end
    end
  end
  local n = #refs
  local items = {}
  for i = 1, n do
    local r = refs[i]
    local ctx = _M.core.is_heat_pump(r) and _M.core.context(r)
    if ctx and ctx.user_id then
      -- a heat pump object: where it came from, and its id
      items[i] = { check_uuid(fn, fmt("refs[%d].org_id", i), ctx.org_id),
                   check_uuid(fn, fmt("refs[%d].user_id", i), ctx.user_id),
                   check_uuid(fn, fmt("refs[%d].id", i), r.id) }
    else
      if type(r) ~= "table" then
        misuse(fn, "refs[%d] must be a table { org_id, user_id, heat_pump_id } or a heat pump object, got %s", i,
          _M.core.is_object(r) and "a podero object that is not a heat pump of a client" or type(r))
      end
      local function get(k, j)
        local v = r[k]
        if v == nil then v = r[j] end
        return check_uuid(fn, fmt("refs[%d].%s", i, k), v)
      end
      items[i] = { get("org_id", 1), get("user_id", 2), get("heat_pump_id", 3) }
    end
  end
  local hps, errs, failed, done, next_i = {}, {}, 0, 0, 0
  local abort
  local function worker()
    while not abort do
      next_i = next_i + 1
      local i = next_i
      if i > n then return end
      local it = items[i]
      local ok, hp, err = pcall(self.heat_pump, self, it[1], it[2], it[3], include_deleted)
      if not ok then abort = abort or hp; return end
      if hp then hps[i] = hp else errs[i], failed = err, failed + 1 end
      done = done + 1
      if progress and not abort then
        local pok, perr = pcall(progress, done, n)
        if not pok then abort = abort or perr; return end
      end
    end
  end
  local threads = {}
  for k = 1, min(concurrency, n) do
    threads[k] = ngx.thread.spawn(worker)
  end
  for k = 1, #threads do ngx.thread.wait(threads[k]) end
  if abort then error(abort, 0) end
  return hps, errs, failed
end

function Client:close()
  self.closed = true
  self.copts, self.static = nil, nil
end

function Client:stats()
  return { token_requests = self.token_requests, api_requests = self.api_requests,
           has_token = self.static ~= nil or (self.dict and self.dict:get(self.key) ~= nil) or false }
end

Client.__tostring = function(self)
  return fmt("podero.client %s (%s, nginx thread pool %s)", self.base_url, self.grant, self.pool)
end

local TOKEN_KEY_FIELDS = { "base_url", "token_url", "grant", "client_id", "username", "token_format", "client_auth" }
local PLAIN_OPTS = { "base_url", "token_url", "token_format", "client_auth", "timeout", "connect_timeout",
  "max_retries", "max_retry_wait", "retry_base_delay", "max_response_bytes", "deadline", "verify_tls",
  "ca_file", "user_agent", "grant" }

--- Builds the nginx client from the options podero.new validated (o is podero.new's copy).
function _M.client(_, core, o)
  _M.core, _M.cjson = core, require("cjson")
  local tc = o.token_cache
  if tc ~= nil and not (type(tc.get) == "function" and type(tc.add) == "function"
      and type(tc.set) == "function" and type(tc.delete) == "function") then
    error("podero.new: token_cache must be an ngx.shared.DICT (lua_shared_dict podero_tokens 1m;)", 3)
  end
  local self = setmetatable({ pool = o.thread_pool or "podero", base_url = o.base_url, grant = o.grant,
    token_requests = 0, api_requests = 0 }, Client)
  -- the steering methods written in Lua (they only use client:_request / client:heat_pump)
  for k, f in pairs(core.client_methods) do
    if Client[k] == nil and type(f) == "function" and not k:match("^_") then
      local ok, info = pcall(debug.getinfo, f, "S")
      if ok and info and info.what == "Lua" then self[k] = f end
    end
  end
  local topts = {}
  for _, k in ipairs(PLAIN_OPTS) do topts[k] = o[k] end
  local parts = {}
  for i, k in ipairs(PLAIN_OPTS) do parts[i] = k .. "=" .. tostring(o[k]) end
  topts.key = ngx.md5(concat(parts, "\0"))        -- the thread VMs' client cache key
  parts = {}
  for i, k in ipairs(TOKEN_KEY_FIELDS) do parts[i] = tostring(o[k]) end
  local id = concat(parts, "\0")                 -- whose token it is (no secret in it)
  self.topts = topts
  if o.grant == "token" then
    self.static = o.token
  else
    local copts = {}
    for k, v in pairs(topts) do copts[k] = v end
    copts.client_id, copts.client_secret = o.client_id, o.client_secret
    copts.username, copts.password = o.username, o.password
    copts.key = topts.key .. ":" .. ngx.md5(tostring(o.client_secret) .. "\0" .. tostring(o.password))
    self.copts = copts
    self.key = "podero:token:" .. ngx.md5(id)
    self.dict = o.token_cache or local_dict()
    -- how long a renewal may take: every attempt of the token request, and the waits between
    local attempts = 1 + (o.max_retries or 2)
    local per = (o.timeout or 30) + (o.connect_timeout or 10)
    self.lock_ttl = min(attempts * per + (attempts - 1) * (o.max_retry_wait or 10) + 1, 600)
    self.wait_max = self.lock_ttl + 1
  end
  return self
end

return _M
