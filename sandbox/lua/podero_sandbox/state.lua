-- Sandbox state kept in the lua_shared_dict "sandbox" (one worker, so plain get/set is race-free).
local J = require("podero_sandbox.json")

local M = {}
local dict = ngx.shared.sandbox

M.DEFAULTS = { token_ttl = 36000, latency_ms = 0 }
M.MAX_LOGGED = 50


function M.init_defaults()
  dict:flush_all()
  dict:flush_expired()
  dict:set("cfg:token_ttl", M.DEFAULTS.token_ttl)
  dict:set("cfg:latency_ms", M.DEFAULTS.latency_ms)
  dict:set("faults", "[]")
  dict:set("faults_pending", 0)
  dict:set("tok:seq", 0)
  dict:set("tok:expired_upto", 0)
end

function M.config()
  return { token_ttl = dict:get("cfg:token_ttl") or M.DEFAULTS.token_ttl,
           latency_ms = dict:get("cfg:latency_ms") or M.DEFAULTS.latency_ms }
end

function M.set_config(k, v) dict:set("cfg:" .. k, v) end

function M.incr(name) dict:incr("n:" .. name, 1, 0) end
function M.count(name) return dict:get("n:" .. name) or 0 end

---------------------------------------------------------------------------
-- tokens
---------------------------------------------------------------------------
local secret
local local_counter = 0

function M.set_secret(s) secret = s end

local function hex(bin)
  return (bin:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function new_token(kind, seq)
  local_counter = local_counter + 1
  return hex(ngx.sha1_bin(table.concat({ secret or "", kind, seq, local_counter,
                                          string.format("%.6f", ngx.now()), ngx.worker.pid() }, ":")))
end

-- returns access_token, expires_in
function M.issue_access_token()
  local seq = dict:incr("tok:seq", 1, 0)
  local ttl = M.config().token_ttl
  local tok = new_token("at", seq)
  local exp = ngx.now() + ttl
  local ok, err = dict:set("at:" .. tok, string.format("%d %.3f", seq, exp), ttl + 600)
  if not ok then ngx.log(ngx.ERR, "sandbox: cannot store token: ", err) end
  return tok, ttl
end

function M.issue_refresh_token()
  local seq = dict:incr("tok:rseq", 1, 0)
  local tok = new_token("rt", seq)
  dict:set("rt:" .. tok, 1)
  return tok
end

-- consume a refresh token: true if it existed and was unused
function M.use_refresh_token(tok)
  if type(tok) ~= "string" or tok == "" then return false end
  local key = "rt:" .. tok
  if dict:get(key) then
    dict:delete(key)
    return true
  end
  return false
end

-- true if the access token is known, not expired, not force-expired
function M.check_access_token(tok)
  if type(tok) ~= "string" or tok == "" then return false end
  local v = dict:get("at:" .. tok)
  if not v then return false end
  local seq, exp = v:match("^(%d+) ([%d%.]+)$")
  seq, exp = tonumber(seq), tonumber(exp)
  if not seq then return false end
  if seq <= (dict:get("tok:expired_upto") or 0) then return false end
  if ngx.now() >= exp then return false end
  return true
end

function M.expire_all_tokens()
  local seq = dict:get("tok:seq") or 0
  dict:set("tok:expired_upto", seq)
  return seq
end

---------------------------------------------------------------------------
-- faults: a JSON array (encoded with our encoder) of fault objects
---------------------------------------------------------------------------
local function load_faults()
  local s = dict:get("faults") or "[]"
  local v = J.decode(s)
  if not J.is_array(v) then v = J.array({}) end
  return v
end

local function store_faults(list)
  dict:set("faults", J.encode(list))
  local n = 0
  for _, f in ipairs(list) do n = n + (J.get(f, "times") or 1) end
  dict:set("faults_pending", n)
end

function M.faults() return load_faults() end

function M.add_faults(new)
  local list = load_faults()
  for _, f in ipairs(new) do list[#list + 1] = f end
  store_faults(list)
  return #new
end

function M.clear_faults() store_faults(J.array({})) end

function M.faults_pending() return dict:get("faults_pending") or 0 end

-- take the first queued fault whose target matches kind ("api"|"token") and, when it has a
-- path_contains, whose text is in the request's path (uri)
function M.take_fault(kind, uri)
  if (dict:get("faults_pending") or 0) == 0 then return nil end
  local list = load_faults()
  for i, f in ipairs(list) do
    local target = J.get(f, "target") or "api"
    local within = J.get(f, "path_contains")
    if (target == "any" or target == kind) and (within == nil or (uri or ""):find(within, 1, true)) then
      local times = J.get(f, "times") or 1
      if times <= 1 then
        table.remove(list, i)
      else
        f:set("times", times - 1)
      end
      store_faults(list)
      return f
    end
  end
  return nil
end

---------------------------------------------------------------------------
-- request log (list in the shared dict, newest at the tail)
---------------------------------------------------------------------------
function M.log_request(entry_json)
  local len, err = dict:rpush("reqlog", entry_json)
  if not len then
    ngx.log(ngx.WARN, "sandbox: cannot log request: ", err)
    return
  end
  while len > M.MAX_LOGGED do
    dict:lpop("reqlog")
    len = len - 1
  end
end

function M.requests()
  local n = dict:llen("reqlog") or 0
  local out = {}
  for _ = 1, n do
    local v = dict:lpop("reqlog")
    if v then out[#out + 1] = v end
  end
  for _, v in ipairs(out) do dict:rpush("reqlog", v) end
  return out
end

return M
