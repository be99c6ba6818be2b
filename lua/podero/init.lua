--- podero: the Podero Partner API for Lua.
--
-- This module validates options, builds clients and documents the API. The network,
-- token, retry and JSON work happens in the C core (`podero.core`, libcurl).
--
-- Error rule: a call that cannot work as written (bad option, bad id, closed client) raises
-- a Lua error naming the argument; a failure at run time returns `nil, err`, where `err`
-- has `kind`, `status`, `message`, `retry_after` and `attempts` (see README "Errors").
--
-- @module podero
-- @usage
-- local podero = require("podero")
-- local client = podero.new({ client_id = ID, client_secret = SECRET })
-- local hp, err = client:heat_pump(org_id, user_id, heat_pump_id)
-- if not hp then error(tostring(err)) end
-- print(hp.connection_status, hp.indoor_actual_temperature, hp.owner.email)

local core = require("podero.core")
local cjson = require("cjson")

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local floor = math.floor
local fmt = string.format

local _M = {}

--- The version of this package.
_M.VERSION = core.VERSION

--- The JSON null sentinel (it is `cjson.null`); `to_table()` uses it for nulls.
_M.null = cjson.null

--- Every value `err.kind` can take, the closed list (README "Errors"): "network", "timeout",
-- "tls", "http", "auth", "decode", "too_large", "memory".
_M.ERROR_KINDS = core.ERROR_KINDS

local DEFAULT_BASE_URL = "https://app.podero.com"
local DEFAULT_TOKEN_PATH = "/api/partners/v2.0/auth/token"

-- option name -> expected Lua type
local OPTION_TYPES = {
  base_url = "string", client_id = "string", client_secret = "string",
  username = "string", password = "string", token = "string",
  token_url = "string", token_format = "string", client_auth = "string",
  timeout = "number", connect_timeout = "number",
  max_retries = "number", max_retry_wait = "number", retry_base_delay = "number",
  max_response_bytes = "number", deadline = "number",
  verify_tls = "boolean", ca_file = "string", user_agent = "string",
  on_request = "function", proxy = "string or false",
  token_cache = "table",   -- inside nginx only (podero.ngx)
}

-- PODERO_DEBUG=1: every attempt of every client on stderr (what on_request gets; no secret)
local function debug_line(a)
  io.stderr:write(fmt("podero: %s %s %s -> %s%s (attempt %d, %.3f s, request %s)\n", a.endpoint, a.method,
    a.path, a.status and tostring(a.status) or "no answer", a.kind and (" " .. a.kind) or "", a.attempt,
    a.elapsed, a.request_id or "-"))
end

local function config_error(msg, ...)
  error("podero.new: " .. fmt(msg, ...), 3)
end

-- http(s)://host[:port][/path] with no user info, query or fragment; trailing slash removed.
local function check_url(name, url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then
    config_error("%s must be an absolute http:// or https:// URL", name)
  end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then
    config_error("%s must use http or https, not %q", name, scheme)
  end
  if url:find("[%s%c]") then
    config_error("%s must not contain spaces or control characters", name)
  end
  local authority = rest:match("^([^/]*)")
  if authority == "" then config_error("%s has no host", name) end
  if authority:find("@", 1, true) then
    config_error("%s must not contain user info (put credentials in client_id/client_secret)", name)
  end
  if rest:find("[?#]") then
    config_error("%s must not contain a query or a fragment", name)
  end
  if #url > 512 then
    config_error("%s must be at most 512 bytes long, got %d", name, #url)
  end
  return (scheme .. "://" .. rest):gsub("/+$", "")
end

local function check_positive(opts, name, integer)
  local v = opts[name]
  if v == nil then return end
  if v ~= v or v < 0 or v == math.huge then
    config_error("%s must be a finite number >= 0, got %s", name, tostring(v))
  end
  if integer and floor(v) ~= v then
    config_error("%s must be a whole number, got %s", name, tostring(v))
  end
end

--- Creates a client.
-- Exactly one way to authenticate: `client_id` + `client_secret` (client credentials
-- grant), `username` + `password` (password grant; client id/secret optional), or `token`
-- (a bearer token obtained elsewhere, never renewed).
-- @tparam table opts see README "podero.new options"
-- @return client
-- @raise on an option that cannot work (unknown name, wrong type, bad URL, no credentials)
function _M.new(opts)
  if type(opts) ~= "table" then
    error("podero.new: opts must be a table, got " .. type(opts), 2)
  end
  for k, v in pairs(opts) do
    local want = OPTION_TYPES[k]
    if not want then
      config_error("unknown option %q", tostring(k))
    end
    if k == "proxy" then
      if v ~= false and type(v) ~= "string" then
        config_error("option proxy must be a URL string or false, got %s", type(v))
      end
    elseif type(v) ~= want then
      config_error("option %s must be a %s, got %s", k, want, type(v))
    end
  end

  local o = {}
  for k, v in pairs(opts) do o[k] = v end

  if os.getenv("PODERO_DEBUG") == "1" then
    local user = o.on_request
    o.on_request = user and function(a) debug_line(a); return user(a) end or debug_line
  end

  o.base_url = check_url("base_url", o.base_url or DEFAULT_BASE_URL)

  local has_client = o.client_id ~= nil or o.client_secret ~= nil
  local has_password = o.username ~= nil or o.password ~= nil
  local has_token = o.token ~= nil
  if has_token and (has_client or has_password) then
    config_error("give either token, or client_id/client_secret, or username/password; not several")
  end
  if has_token then
    if o.token == "" or o.token:find("[%c]") then
      config_error("token must be a non-empty string without control characters")
    end
    o.grant = "token"
  elseif has_password then
    if not o.username or not o.password then
      config_error("the password grant needs both username and password")
    end
    if (o.client_id == nil) ~= (o.client_secret == nil) then
      config_error("client_id and client_secret go together")
    end
    o.grant = "password"
  elseif has_client then
    if not o.client_id or not o.client_secret then
      config_error("client credentials need both client_id and client_secret")
    end
    o.grant = "client_credentials"
  else
    config_error("no credentials: give client_id and client_secret, username and password, or token")
  end
  if o.client_id == "" then config_error("client_id must not be empty") end

  if o.token_url == nil then
    o.token_url = o.base_url .. DEFAULT_TOKEN_PATH
  elseif o.token_url:sub(1, 1) == "/" then
    if o.token_url:find("[%s%c?#]") then
      config_error("token_url must not contain spaces, a query or a fragment")
    end
    o.token_url = o.base_url .. o.token_url
  else
    o.token_url = check_url("token_url", o.token_url)
    -- keep a trailing slash that the server asked for (/oauth2/token/)
    if opts.token_url:sub(-1) == "/" then o.token_url = o.token_url .. "/" end
  end

  if o.token_format ~= nil and o.token_format ~= "json" and o.token_format ~= "form" then
    config_error("token_format must be \"json\" or \"form\", got %q", o.token_format)
  end
  if o.client_auth ~= nil and o.client_auth ~= "basic" and o.client_auth ~= "body" then
    config_error("client_auth must be \"basic\" or \"body\", got %q", o.client_auth)
  end
  check_positive(o, "timeout")
  check_positive(o, "connect_timeout")
  check_positive(o, "max_retries", true)
  check_positive(o, "max_retry_wait")
  check_positive(o, "retry_base_delay")
  check_positive(o, "max_response_bytes", true)
  check_positive(o, "deadline")
  if o.timeout == 0 then config_error("timeout must be > 0") end
  if o.connect_timeout == 0 then config_error("connect_timeout must be > 0") end
  if o.max_response_bytes == 0 then config_error("max_response_bytes must be > 0") end
  if o.max_response_bytes and o.max_response_bytes > 2147483647 then
    config_error("max_response_bytes must be at most 2147483647 (2 GiB - 1), got %s", tostring(o.max_response_bytes))
  end
  if o.max_retries and o.max_retries > 10 then
    config_error("max_retries must be at most 10, got %d", o.max_retries)
  end
  if type(o.proxy) == "string" then
    local scheme = o.proxy:match("^(%a[%w+.-]*)://[^/%s]+/?$")
    scheme = scheme and scheme:lower()
    if not (scheme == "http" or scheme == "https" or scheme == "socks5" or scheme == "socks5h") then
      config_error("proxy must be an http://, https://, socks5:// or socks5h:// URL (host[:port]), got %q",
        (o.proxy:gsub("//[^@/]*@", "//<user info>@")):sub(1, 80))
    end
  end
  if o.ca_file ~= nil then
    local f = io.open(o.ca_file, "rb")
    if not f then config_error("ca_file %q cannot be read", o.ca_file) end
    f:close()
  end
  if o.user_agent == nil then
    o.user_agent = fmt("podero-lua/%s libcurl/%s", core.VERSION, (core.curl_version()))
  elseif o.user_agent:find("[%c]") then
    config_error("user_agent must not contain control characters")
  end
  -- inside nginx (lua-nginx-module: cosockets): podero.ngx
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.socket.tcp) == "function"
      and type(ngx.get_phase) == "function" then
    return require("podero.ngx").client(_M, core, o, _M._lua_methods)
  end
  if o.token_cache ~= nil then
    config_error("token_cache works only inside nginx (lua-nginx-module)")
  end
  return core.new(o)
end

-- podero.NAME(obj): f(obj), raising naming obj for anything that is not a podero object
local function object_function(name, f)
  return function(obj)
    if not core.is_object(obj) then
      error("podero." .. name .. ": obj must be a podero object, got " .. type(obj), 2)
    end
    return f(obj)
  end
end

--- Iterates `name, value` over every field of a podero object (index, value for arrays),
-- in the order sent; null fields come with value nil.
-- @function podero.fields
_M.fields = object_function("fields", core.fields)

--- The object as plain Lua tables (no metatables; nulls as `podero.null`, strings unchanged).
-- @function podero.to_table
_M.to_table = object_function("to_table", core.to_table)

--- Iterates `i, value` over an array (a podero array or a plain table) up to the first nil.
-- The same as `ipairs`, which works on podero arrays under Lua 5.4; LuaJIT's `ipairs`
-- accepts only plain tables, so portable scripts use this one.
function _M.ipairs(arr)
  local i = 0
  return function()
    i = i + 1
    local v = arr[i]
    if v ~= nil then return i, v end
  end
end

--- The bytes of a podero object or array exactly as received: the whole body for an answer;
-- for an element of a list or a nested value, that value's own bytes and nothing around it.
-- The same as `v:raw()`.
-- @function podero.raw
_M.raw = object_function("raw", core.raw)

--- True when v is an object (or array) made by podero.
_M.is_object = core.is_object

-- The URL query parameters that carry a secret in Podero's answers: the cue `secret` of an
-- action's resolution_link.url, the onboarding `token` of embeddable_url; and OAuth's own.
local SECRET_PARAMS = { "secret", "token", "access_token", "refresh_token", "client_secret", "password", "code" }

local function redact_string(s)
  if not s:find("=", 1, true) then return s end
  for _, p in ipairs(SECRET_PARAMS) do
    s = s:gsub("([?&]" .. p .. "=)[^&#\\\"%s]*", "%1<redacted>")
  end
  return s
end

local function redact_table(t, seen)
  if seen[t] then return seen[t] end
  local out = {}
  seen[t] = out
  for k, v in pairs(t) do
    local tv = type(v)
    if tv == "string" then v = redact_string(v)
    elseif tv == "table" then v = redact_table(v, seen) end
    out[k] = v
  end
  return setmetatable(out, getmetatable(t))
end

--- A copy with every secret query parameter value (`secret=`, `token=`, `access_token=`,
-- `refresh_token=`, `client_secret=`, `password=`, `code=`) replaced by `<redacted>`: for
-- showing or serving what podero read (an action's resolution_link.url carries a cue secret,
-- embeddable_url an onboarding token). Takes a podero object (redacts its to_table()), a
-- plain table (a deep copy; keys unchanged), or a string (a URL or a JSON text).
-- @function podero.redact
-- @usage ngx.say(cjson.encode(podero.redact(hp)))
function _M.redact(v)
  local tv = type(v)
  if tv == "string" then return redact_string(v) end
  if core.is_object(v) then return redact_table(core.to_table(v), {}) end
  if tv == "table" then return redact_table(v, {}) end
  error("podero.redact: v must be a podero object, a table or a string, got " .. tv, 2)
end

--- JSON text of a value: the writer podero uses for request bodies. Numbers as the shortest
-- text that reads back as the same number (integers as integers: an export keeps
-- 0.8700000000000001 where lua-cjson 2.1.0 writes 0.87), `podero.null` / `cjson.null` as null,
-- strings escaped as JSON requires (UTF-8 kept), object keys sorted. A podero object is written
-- from its document (`v:to_json()`: empty arrays stay `[]`, a heat pump's Decimal strings are
-- numbers as in `to_table()`). A Lua table is an array when it has a sequence 1..n and no other
-- key, or when its metatable is `podero.array_mt` (or lua-cjson's `array_mt`/`empty_array_mt`
-- where that build has them; an empty table without one
-- is `{}`; `setmetatable({}, podero.array_mt)` is `[]`). Raises for NaN, infinity, functions,
-- cycles and keys that are neither strings nor array indexes.
-- @usage io.write(podero.encode(hp), "\n")      -- or hp:to_json()
local math_type, huge = math.type, math.huge

local function enc_number(n)
  if n ~= n or n == huge or n == -huge then
    error("podero.encode: " .. (n ~= n and "NaN" or "infinity") .. " cannot be written as JSON", 0)
  end
  if math_type and math_type(n) == "integer" then return fmt("%d", n) end
  if n == floor(n) and n > -2^53 and n < 2^53 then return fmt("%d", n) end
  for p = 15, 17 do
    local s = fmt("%." .. p .. "g", n)
    if tonumber(s) == n then return s end
  end
  return fmt("%.17g", n)
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                  ["\r"] = "\\r", ["\t"] = "\\t" }
local function enc_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or (c:byte() < 32 and fmt("\\u%04x", c:byte()) or c)
  end) .. '"'
end

--- The metatable that makes podero.encode write a Lua table as a JSON array (even empty).
_M.array_mt = { __name = "podero.array" }

local function is_array_mt(mt)
  return mt ~= nil and (mt == _M.array_mt or mt == cjson.array_mt or mt == cjson.empty_array_mt)
end

local function encode(v, seen)
  local t = type(v)
  if v == nil or v == cjson.null then return "null" end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then return enc_number(v) end
  if t == "string" then return enc_string(v) end
  if core.is_object(v) then return core.to_json(v) end
  if t ~= "table" then error("podero.encode: a " .. t .. " cannot be written as JSON", 0) end
  if seen[v] then error("podero.encode: the table contains itself", 0) end
  seen[v] = true
  local mt = getmetatable(v)
  local n, count = #v, 0
  for _ in pairs(v) do count = count + 1 end
  local out = {}
  if is_array_mt(mt) or (n > 0 and count == n) then
    for i = 1, n do out[i] = encode(v[i], seen) end
    seen[v] = nil
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "string" then
      error("podero.encode: an object key must be a string, got " .. type(k) .. " " .. tostring(k), 0)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = enc_string(k) .. ":" .. encode(v[k], seen) end
  seen[v] = nil
  return "{" .. table.concat(out, ",") .. "}"
end

function _M.encode(v)
  return encode(v, {})
end

-- Methods of every object and array, and of heat pump and electric vehicle objects (they come
-- before fields of the same name; podero.fields and podero.to_table still show such a field).
local obj_methods = core.object_methods
obj_methods.fields = core.fields
obj_methods.raw = core.raw
obj_methods.to_table = core.to_table
obj_methods.to_json = core.to_json
for _, m in ipairs({ core.heat_pump_methods, core.electric_vehicle_methods }) do
  m.fields = core.fields
  m.raw = core.raw
  m.to_table = core.to_table
  m.to_json = core.to_json
end

local DAYS_BEFORE_MONTH = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 }

local function is_leap(y) return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 end

-- days from 1970-01-01 to y-m-d (proleptic Gregorian)
local function days_from_civil(y, m, d)
  local yy = y - 1
  local days = 365 * yy + floor(yy / 4) - floor(yy / 100) + floor(yy / 400)
  days = days + DAYS_BEFORE_MONTH[m] + (m > 2 and is_leap(y) and 1 or 0) + d - 1
  return days - 719162  -- days from 0001-01-01 to 1970-01-01
end

local MONTH_DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Converts an ISO 8601 / RFC 3339 date-time to UTC seconds since the epoch.
-- Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (also `t`/`z`, or a space for
-- `T`). The answer is an integer when there is no fraction, else a float.
-- @tparam string s
-- @return number, or nil and a message
function _M.time(s)
  if type(s) ~= "string" then
    error("podero.time: expected a string, got " .. type(s), 2)
  end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then return nil, "not an ISO 8601 date-time: " .. s:sub(1, 40) end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if frac == "." then return nil, "empty fraction in " .. s:sub(1, 40) end
  if mo < 1 or mo > 12 then return nil, "month out of range in " .. s end
  local mdays = MONTH_DAYS[mo] + ((mo == 2 and is_leap(y)) and 1 or 0)
  if d < 1 or d > mdays or h > 23 or mi > 59 or sec > 60 then
    return nil, "date or time out of range in " .. s
  end
  local offset = 0
  if zone ~= "Z" and zone ~= "z" then
    local sign, oh, om = zone:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil, "missing or bad time zone in " .. s:sub(1, 40) end
    oh, om = tonumber(oh), tonumber(om)
    if oh > 23 or om > 59 then return nil, "time zone out of range in " .. s end
    offset = (oh * 3600 + om * 60) * (sign == "+" and 1 or -1)
  end
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
  if frac ~= "" then
    return t + tonumber("0" .. frac)
  end
  return t
end

-- The methods written in Lua on top of the primitives (client:_request, client:heat_pump):
-- one table that both clients serve (the libcurl client's C method table gets a copy; the
-- nginx client reads it through its metatable).
local lua_methods = {}
local helpers = require("podero.steering")(_M, core, lua_methods)
require("podero.partner")(_M, core, lua_methods, helpers)
for k, f in pairs(lua_methods) do core.client_methods[k] = f end
_M._lua_methods = lua_methods

return _M
