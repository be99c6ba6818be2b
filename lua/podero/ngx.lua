--- podero.ngx: podero inside nginx (OpenResty, or Debian's nginx with libnginx-mod-http-lua).
--
-- `require("podero").new(opts)` comes here when it runs inside nginx. The client it returns has
-- the methods of the ordinary client (the endpoints of `core.endpoints`, `_request`,
-- `fetch_heat_pumps`, `token`, `close`, `stats`, and the methods written in Lua on top of them),
-- with the same checks, error kinds, messages and fields, and no call blocks nginx's event loop.
--
-- Division of labour: the C core (`core.policy`, csrc/cosock.c) holds the options, the secrets
-- and the token, checks the arguments, says what to send (the request bytes), reads what comes
-- back (HTTP/1.1 framing, csrc/http1.c), applies the one policy of podero (csrc/policy.c:
-- retries, Retry-After, deadline, size cap, the 401 rule, token answers) and parses the answer
-- into the lazy object. This file only moves bytes over nginx cosockets:
--
--   * `ngx.socket.tcp` with nginx's keepalive pool (one pool per host, port and TLS setting);
--     a reused connection the server had closed is retried once on a fresh one, uncounted;
--   * TLS with `sslhandshake`: session reuse, SNI, and verification per `verify_tls`, against
--     nginx's `lua_ssl_trusted_certificate` (the `ca_file` option does not apply in nginx);
--   * the token: one for all workers through `opts.token_cache` (an `ngx.shared.DICT`), renewed
--     single-flight (a lock key taken with `dict:add`, the others poll with `ngx.sleep`,
--     bounded); without a cache, per worker;
--   * `fetch_heat_pumps`: light threads (`ngx.thread.spawn`), at most `concurrency` at a time.
--
-- nginx.conf needs (see examples/openresty/README.md):
--   lua_package_path / lua_package_cpath reaching podero and the LuaJIT build of podero.core
--   lua_shared_dict podero_tokens 1m;                  (for token_cache)
--   resolver 127.0.0.53;                               (a host name in base_url: nginx resolves)
--   lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;   (https with verify_tls)
--
-- Phases: calls work in rewrite, access, content and ngx.timer callbacks. Anywhere else
-- (init_by_lua, init_worker_by_lua, set_by_lua, header/body filters, log_by_lua, ssl_*,
-- balancer) a call raises "podero: <method>: cannot run in nginx's <phase> phase ...";
-- creating the client works in every phase (it does no I/O and holds no connection, so a
-- client made at module level or in init_by_lua survives the fork of the workers).
--
-- @module podero.ngx

local _M = {}

local type, pairs, ipairs, tostring, tonumber, error, pcall, setmetatable =
  type, pairs, ipairs, tostring, tonumber, error, pcall, setmetatable
local fmt, concat = string.format, table.concat
local min, max, floor = math.min, math.max, math.floor
local tcp = ngx.socket.tcp
local ngx_now, ngx_sleep, get_phase = ngx.now, ngx.sleep, ngx.get_phase

local core, cjson

local ALLOWED_PHASES = { rewrite = true, access = true, content = true, timer = true }
local PHASE_DIRECTIVE = {
  init = "init_by_lua*", init_worker = "init_worker_by_lua*", set = "set_by_lua*",
  header_filter = "header_filter_by_lua*", body_filter = "body_filter_by_lua*",
  log = "log_by_lua*", balancer = "balancer_by_lua*", ssl_cert = "ssl_certificate_by_lua*",
  ssl_session_fetch = "ssl_session_fetch_by_lua*", ssl_session_store = "ssl_session_store_by_lua*",
  ssl_client_hello = "ssl_client_hello_by_lua*", exit_worker = "exit_worker_by_lua*",
}

local function check_phase(fn)
  local phase = get_phase()
  if not ALLOWED_PHASES[phase] then
    error(fmt("podero: %s: cannot run in nginx's %q phase (%s): podero calls need a phase that can "
      .. "yield (rewrite_by_lua*, access_by_lua*, content_by_lua*, or an ngx.timer callback; "
      .. "from here, start one with ngx.timer.at(0, fn))", fn, phase, PHASE_DIRECTIVE[phase] or phase), 0)
  end
end

local function misuse(fn, msg, ...)
  error("podero: " .. fn .. ": " .. fmt(msg, ...), 0)
end

-- A per-worker stand-in for a shared dict (no token_cache given): get/set/add/delete with TTL.
local function local_dict()
  local vals, exps = {}, {}
  local d = {}
  local function live(k)
    local e = exps[k]
    if e and e <= ngx_now() then vals[k], exps[k] = nil, nil end
    return vals[k]
  end
  function d.get(_, k) return live(k) end
  function d.set(_, k, v, ttl)
    vals[k], exps[k] = v, (ttl and ttl > 0) and ngx_now() + ttl or nil
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

local function live(self, fn)
  if self.closed then error("podero: client is closed", 0) end
  check_phase(fn)
end

--------------------------------------------------------------------------------------------
-- The transport: one request over a cosocket
--------------------------------------------------------------------------------------------

-- a socket error in the policy's terms
local function failure_class(err)
  if err == "timeout" then return "timeout" end
  return "network"
end

local function tls_message(self, err)
  local msg = "TLS handshake failed: " .. tostring(err)
  if self.verify and tostring(err):find("certificate", 1, true) then
    msg = msg .. " (inside nginx the trusted CAs are lua_ssl_trusted_certificate's)"
  end
  return msg
end

-- Sends bytes to the API (or the token endpoint) and feeds the answer to call; returns what
-- call:feed said when the answer settled the call ("done" or "fail"), else nil. Reports a
-- socket failure to the call. A reused connection that the server had closed before answering
-- is tried once more on a new one.
local function exchange(self, call, bytes, timeout_ms, connect_ms, to_token)
  local p = self.p
  local t = to_token and self.token_target or self.api_target
  for try = 1, 2 do
    local sock = tcp()
    sock:settimeouts(connect_ms, timeout_ms, timeout_ms)
    local ok, err = sock:connect(t.host, t.port, t.opts)
    if not ok then
      return call:failed(p, err == "timeout" and "timeout" or "unsent",
        fmt("cannot connect to %s:%d: %s", t.host, t.port, tostring(err)))
    end
    if t.tls and sock:getreusedtimes() == 0 then
      -- pcall: lua-resty-core's sslhandshake can raise (an assertion) on some failed handshakes
      local hok, sess, herr = pcall(sock.sslhandshake, sock, t.session, t.sni, self.verify)
      if not hok or not sess then
        sock:close()
        t.session = nil
        if hok and herr == "timeout" then return call:failed(p, "timeout", "TLS handshake timed out") end
        return call:failed(p, "tls", tls_message(self, hok and herr or tostring(sess):gsub("^[^:]*:%d+: ", "")))
      end
      if type(sess) == "userdata" then t.session = sess end
    end
    -- whether the connection came from the pool: asked only when it failed
    local stale_ok = try == 1
    local sent, serr = sock:send(bytes)
    if not sent then
      stale_ok = stale_ok and sock:getreusedtimes() > 0
      sock:close()
      if not stale_ok then
        return call:failed(p, failure_class(serr), "cannot send: " .. tostring(serr))
      end
    else
      local started
      while true do
        local data, rerr = sock:receiveany(65536)
        if data then
          local st, keep = call:feed(p, data)
          if st ~= "more" then
            if keep then sock:setkeepalive(self.keepalive_ms) else sock:close() end
            if st ~= "answered" then return st end
            return
          end
          -- the timeout bounds the whole attempt, as libcurl's does
          started = started or ngx_now()
          local left = timeout_ms - (ngx_now() - started) * 1000
          if left < 1 then
            sock:close()
            return call:failed(p, "timeout", fmt("the answer took longer than %d ms", timeout_ms))
          end
          sock:settimeouts(connect_ms, timeout_ms, left)
        elseif rerr == "closed" then
          stale_ok = stale_ok and sock:getreusedtimes() > 0
          sock:close()
          if call:eof(p, stale_ok) ~= "stale" then return end
          break                           -- stale keep-alive connection: once more, anew
        else
          sock:close()
          return call:failed(p, failure_class(rerr), rerr == "timeout"
            and fmt("the answer took longer than %d ms", timeout_ms) or ("cannot read: " .. tostring(rerr)))
        end
      end
    end
  end
end

-- on_request after an attempt; what it raises is logged and does not break the call
function Client:_report(call, t0)
  ngx.update_time()
  local ok, err = pcall(self.on_request, call:attempt(self.p, ngx_now() - t0))
  if not ok then ngx.log(ngx.WARN, "podero: on_request raised (ignored): ", tostring(err)) end
end

-- Drives call until it is done or failed, or needs a token it could not get. Returns
-- "done" | "fail", or nil, err (the token's error).
local function drive(self, call, park)
  local p = self.p
  while true do
    local act, bytes, timeout_ms, connect_ms, to_token = call:next(p)
    if act == "send" then
      local t0 = self.on_request and ngx_now()
      local st = exchange(self, call, bytes, timeout_ms, connect_ms, to_token)
      if t0 then self:_report(call, t0) end
      if st then return st end
    elseif act == "wait" then
      -- park: a batch gives the thread to another item and comes back (returns "wait", seconds)
      if park then return "wait", bytes end
      ngx_sleep(bytes)
    elseif act == "token" then
      local ok, err = self:_token(call)
      if not ok then return nil, err end
    else
      return act
    end
  end
end

-- One call made by p:call / p:request: its answer as the plain client gives it. The finished
-- call's memory is kept for the next call (self.spare).
local function finish(self, call)
  local act, err = drive(self, call)
  local a, b
  if act == "done" then a, b = call:result(self.p, self)
  elseif act == "fail" then a, b = nil, call:error()
  else a, b = nil, err end
  local spare = self.spare
  if #spare < 64 then spare[#spare + 1] = call end
  return a, b
end

--------------------------------------------------------------------------------------------
-- The token, shared by the workers of a host through the token cache
--------------------------------------------------------------------------------------------

local function make_error(t)
  local e = {}
  for k, v in pairs(t) do e[k] = v end
  return core.error(e)
end

-- Installs a cached "expires_at token" value into the policy. Returns true, or false when it
-- is not usable (expired, or the token just refused).
local function install(self, v, stale)
  if type(v) ~= "string" then return false end
  local sp = v:find(" ", 1, true)
  if not sp then return false end
  local exp, tok = tonumber(v:sub(1, sp - 1)), v:sub(sp + 1)
  local ttl = (exp or 0) - ngx_now()
  if tok == stale or ttl <= 0 then return false end
  self.p:set_token(tok, ttl)
  self.tok = tok
  return true
end

--- (internal) Makes the policy hold a valid token: from the cache, or by a single-flight
-- renewal that this request runs and the others wait for. for_call: the call that needs it
-- (its deadline bounds the renewal). Returns true, or nil, err.
function Client:_token(for_call, force)
  local dict, key, p = self.dict, self.key, self.p
  local stale = self.tok                    -- the token that expired or was just refused
  if force then dict:delete(key) end
  local lock, errkey = key .. ":lock", key .. ":err"
  local deadline = ngx_now() + self.wait_max
  local sleep = 0.002
  local seen_lock = false
  while true do
    if install(self, dict:get(key), stale) then return true end
    if seen_lock then
      -- the renewal we waited for failed: its error, for everybody who waited
      local e = dict:get(errkey)
      if e then
        local ok, t = pcall(cjson.decode, e)
        if ok and type(t) == "table" then return nil, make_error(t) end
      end
    end
    if dict:add(lock, 1, self.lock_ttl) then
      -- every write of the token happens under the lock: re-read, then renew
      if install(self, dict:get(key), stale) then
        dict:delete(lock)
        return true
      end
      local tc = p:token_call(for_call)
      local ok, act, err = pcall(drive, self, tc)
      if not ok then
        dict:delete(lock)
        error(act, 0)
      end
      if act == "done" then
        local tok, renew_in = p:token()
        dict:set(key, fmt("%.3f %s", ngx_now() + renew_in, tok), max(renew_in, 1))
        dict:delete(errkey)
        dict:delete(lock)
        self.tok = tok
        return true
      end
      err = err or tc:error()
      dict:set(errkey, cjson.encode({ kind = err.kind, status = err.status, message = err.message,
        retry_after = err.retry_after, attempts = err.attempts, method = err.method,
        endpoint = err.endpoint, path = err.path, request_id = err.request_id }), 1)
      dict:delete(lock)
      return nil, err
    end
    seen_lock = true
    if ngx_now() >= deadline then
      return nil, make_error({ kind = "timeout", attempts = 0,
        message = fmt("waited %g s for another request's token renewal", self.wait_max) })
    end
    ngx_sleep(sleep)
    sleep = min(sleep * 2, 0.05)
  end
end

--------------------------------------------------------------------------------------------
-- The methods: the endpoints of core.endpoints, described once in csrc/api.c
--------------------------------------------------------------------------------------------

local function endpoint(name)
  return function(self, ...)
    live(self, name)
    local spare = self.spare
    local n = #spare
    if n > 0 then
      local call = spare[n]
      spare[n] = nil
      return finish(self, self.p:recall(call, name, ...))
    end
    return finish(self, self.p:call(name, ...))
  end
end

--- client:_request(method, path [, json_body [, result [, expect_id]]]): the primitive of the
-- methods written in Lua (see csrc/client.c); the C core checks the arguments.
function Client:_request(...)
  live(self, "_request")
  return finish(self, self.p:request(...))
end

--- client:token([force]) -> access_token, renew_in (a secret: never log it)
function Client:token(force)
  live(self, "token")
  if not self.static then
    local tok = self.p:token()
    if force or not tok then
      local ok, err = self:_token(nil, force)
      if not ok then return nil, err end
    end
  end
  return self.p:token()
end

-- The options of a batch, checked as the C core checks them: concurrency, progress and (when
-- allowed) include_deleted. Returns concurrency, the include_deleted opts of a read, progress.
local function batch_opts(fn, opts, allow_deleted)
  local concurrency, include_deleted, progress = 16, nil, nil
  if opts == nil then return concurrency, include_deleted, progress end
  if type(opts) ~= "table" then misuse(fn, "opts must be a table, got %s", type(opts)) end
  for k, v in pairs(opts) do
    if k == "concurrency" then
      if type(v) ~= "number" or v ~= floor(v) or v < 1 or v > 256 then
        misuse(fn, "opts.concurrency must be an integer from 1 to 256")
      end
      concurrency = v
    elseif k == "include_deleted" and allow_deleted then
      if type(v) ~= "boolean" then misuse(fn, "opts.include_deleted must be a boolean, got %s", type(v)) end
      include_deleted = v and { include_deleted = true } or nil
    elseif k == "progress" then
      if type(v) ~= "function" then misuse(fn, "opts.progress must be a function, got %s", type(v)) end
      progress = v
    else
      misuse(fn, "unknown option '%s' in opts", type(k) == "string" and k or "?")
    end
  end
  return concurrency, include_deleted, progress
end

--- client:fetch_heat_pumps(refs [, opts]) -> hps, errs, failed
-- Light threads (ngx.thread.spawn), at most opts.concurrency at a time; every reference is
-- checked (core.check_uuid, the C core's check) before anything is sent.
function Client:fetch_heat_pumps(refs, opts)
  local fn = "fetch_heat_pumps"
  live(self, fn)
  if type(refs) ~= "table" then misuse(fn, "refs must be a table, got %s", type(refs)) end
  local concurrency, include_deleted, progress = batch_opts(fn, opts, true)
  local check_uuid = core.check_uuid
  local n = #refs
  local items = {}
  for i = 1, n do
    local r = refs[i]
    local ctx = core.is_heat_pump(r) and core.context(r)
    if ctx and ctx.user_id then
      -- a heat pump object: where it came from, and its id
      items[i] = { check_uuid(ctx.org_id, fmt("refs[%d].org_id", i), fn),
                   check_uuid(ctx.user_id, fmt("refs[%d].user_id", i), fn),
                   check_uuid(r.id, fmt("refs[%d].id", i), fn) }
    else
      if type(r) ~= "table" then
        misuse(fn, "refs[%d] must be a table { org_id, user_id, heat_pump_id } or a heat pump object, got %s", i,
          core.is_object(r) and "a podero object that is not a heat pump of a client" or type(r))
      end
      local function get(k, j)
        local v = r[k]
        if v == nil then v = r[j] end
        return check_uuid(v, fmt("refs[%d].%s", i, k), fn)
      end
      items[i] = { get("org_id", 1), get("user_id", 2), get("heat_pump_id", 3) }
    end
  end
  local p = self.p
  local calls = {}
  for i = 1, n do
    local it = items[i]
    calls[i] = p:call("heat_pump", it[1], it[2], it[3], include_deleted)
  end
  return self:_run_batch(calls, concurrency, progress)
end

--- (internal) Runs made calls on light threads, at most concurrency requests in flight; an item
-- waiting out a backoff or Retry-After frees its thread for another. -> results, errs, failed
function Client:_run_batch(calls, concurrency, progress)
  local p, n = self.p, #calls
  local results, errs, failed, done, next_i = {}, {}, 0, 0, 0
  local waiting = {}          -- calls in a backoff or Retry-After wait: { call, i, not_before }
  local abort
  -- one item is done: its answer, and progress
  local function settle(i, res, err)
    if res ~= nil then results[i] = res else errs[i], failed = err, failed + 1 end
    done = done + 1
    if progress and not abort then
      local pok, perr = pcall(progress, done, n)
      if not pok then abort = abort or perr end
    end
  end
  -- Steps call i until it is done or waits: a waiting item frees its thread for another, so
  -- that concurrency bounds the requests in flight, as on the multi interface. A batch's calls
  -- are not kept in self.spare (a batch would fill it with its concurrency).
  local function step(call, i)
    local act, x = drive(self, call, true)
    if act == "wait" then
      waiting[#waiting + 1] = { call, i, ngx_now() + x }
    elseif act == "done" then
      settle(i, call:result(p, self))
    elseif act == "fail" then
      settle(i, nil, call:error())
    else
      settle(i, nil, x)           -- the token could not be had
    end
  end
  local function worker()
    while not abort do
      local now, pick, soonest = ngx_now(), nil, nil
      for k = 1, #waiting do
        local w = waiting[k]
        if w[3] <= now then pick = k; break end
        soonest = soonest and min(soonest, w[3]) or w[3]
      end
      if pick then
        local w = table.remove(waiting, pick)
        step(w[1], w[2])
      elseif next_i < n then
        next_i = next_i + 1
        step(calls[next_i], next_i)
      elseif soonest then
        ngx_sleep(max(soonest - now, 0.001))
      else
        return
      end
    end
  end
  local threads = {}
  for k = 1, min(concurrency, n) do
    threads[k] = ngx.thread.spawn(function()
      local ok, err = pcall(worker)
      if not ok then abort = abort or err end
    end)
  end
  for k = 1, #threads do ngx.thread.wait(threads[k]) end
  if abort then error(abort, 0) end
  return results, errs, failed
end

--- client:_batch(reqs [, opts]) -> results, errs, failed: many client:_request calls at once
-- (see csrc/client.c); every request is checked (by the C core) before anything is sent.
function Client:_batch(reqs, opts)
  local fn = "_batch"
  live(self, fn)
  if type(reqs) ~= "table" then misuse(fn, "reqs must be a table, got %s", type(reqs)) end
  local concurrency, _, progress = batch_opts(fn, opts, false)
  local p, calls = self.p, {}
  for i = 1, #reqs do
    local r = reqs[i]
    if type(r) ~= "table" then misuse(fn, "reqs[%d] must be a table, got %s", i, type(r)) end
    calls[i] = p:request(r[1], r[2], r[3], r[4], r[5], r.org_id, r.user_id)
  end
  return self:_run_batch(calls, concurrency, progress)
end

function Client:close()
  if not self.closed then self.p:close() end
  self.closed = true
end

function Client:stats()
  local token_requests, api_requests, has_token = self.p:stats()
  return { token_requests = token_requests, api_requests = api_requests,
           has_token = not self.closed and has_token }
end

Client.__tostring = function(self)
  return fmt("podero.client %s (%s, nginx cosockets)%s", self.base_url, self.grant,
    self.closed and " (closed)" or "")
end

local TOKEN_KEY_FIELDS = { "base_url", "token_url", "grant", "client_id", "username", "token_format", "client_auth" }

-- where a URL's requests go: host, port, TLS, the connect options (the keepalive pool)
local function target(p, token, o)
  local host, port, tls = p:target(token)
  -- SNI and the name check need a host name: nginx checks a certificate against a name only, so
  -- for an IP address it checks the chain (verify_tls) but not that the certificate names the IP
  local ip = host:find("^%d+%.%d+%.%d+%.%d+$") or host:find(":", 1, true)
  return { host = host, port = port, tls = tls, sni = not ip and host or nil,
           opts = { pool = fmt("podero:%s:%d:%s", host, port, tls and (o.verify_tls ~= false and "tls" or "tls-noverify") or "tcp"),
                    pool_size = 64 } }
end

--- Builds the nginx client from the options podero.new validated (o is podero.new's copy).
-- lua_methods: the methods written in Lua on top of the primitives (lua/podero/steering.lua).
function _M.client(_, c, o, lua_methods)
  core, cjson = c, require("cjson")
  if o.ca_file ~= nil then
    error("podero.new: ca_file does not apply inside nginx: set lua_ssl_trusted_certificate in nginx.conf", 3)
  end
  if type(o.proxy) == "string" then
    error("podero.new: proxy does not apply inside nginx (cosockets connect directly); proxy = false or none", 3)
  end
  local tc = o.token_cache
  if tc ~= nil and not (type(tc.get) == "function" and type(tc.add) == "function"
      and type(tc.set) == "function" and type(tc.delete) == "function") then
    error("podero.new: token_cache must be an ngx.shared.DICT (lua_shared_dict podero_tokens 1m;)", 3)
  end
  if not Client.heat_pump then
    for _, ep in ipairs(core.endpoints) do Client[ep.name] = endpoint(ep.name) end
    setmetatable(Client, { __index = lua_methods })
  end
  local p = core.policy(o)
  local self = setmetatable({ p = p, base_url = o.base_url, grant = o.grant or "client_credentials",
    verify = o.verify_tls ~= false, keepalive_ms = 60000, spare = {}, on_request = o.on_request }, Client)
  self.api_target = target(p, false, o)
  self.token_target = target(p, true, o)
  if o.grant == "token" then
    self.static = true
  else
    local parts = {}
    for i, k in ipairs(TOKEN_KEY_FIELDS) do parts[i] = tostring(o[k]) end
    -- whose token it is (no secret in the key; the secret's hash keeps two secrets apart)
    self.key = "podero:token:" .. ngx.md5(concat(parts, "\0") .. "\0"
      .. ngx.md5(tostring(o.client_secret) .. "\0" .. tostring(o.password)))
    self.dict = tc or local_dict()
    -- how long a renewal may take: every attempt of the token request, and the waits between
    local attempts = 1 + (o.max_retries or 2)
    local per = (o.timeout or 30) + (o.connect_timeout or 10)
    self.lock_ttl = min(attempts * per + (attempts - 1) * (o.max_retry_wait or 10) + 1, 600)
    self.wait_max = self.lock_ttl + 1
  end
  return self
end

return _M
