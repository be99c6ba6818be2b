-- Test support: talks to the sandbox's control endpoints with the curl command line (never
-- with the library under test), and builds clients pointed at the sandbox.
--
-- Env (set by scripts/run-tests.sh): PODERO_SANDBOX_URL, PODERO_SANDBOX_DIR.
local cjson = require("cjson")

local M = {}

M.CLIENT_ID = "sandbox-client"
M.CLIENT_SECRET = "sandbox-secret"
M.SPECIAL_ID = "special client:1"
M.SPECIAL_SECRET = "s3cr:t+/\195\188&%="
M.USERNAME = "partner@example.com"
M.PASSWORD = "sandbox-password"
M.TOKEN_PATH = "/api/partners/v2.0/auth/token"
M.ALT_TOKEN_PATH = "/oauth2/token/"

-- Lua 5.4 vs LuaJIT. The suite runs under both (`make test`). Lua 5.4 has integers and floats
-- (math.type); LuaJIT has only doubles, so there a JSON integer reads as a whole float.
-- M.num_type(v) is math.type(v) under 5.4 and "number" for any number under LuaJIT (nil for a
-- non-number); M.is_integer(v) is math.type(v) == "integer" under 5.4 and "a whole, finite
-- number" under LuaJIT; M.is_float(v) is math.type(v) == "float" under 5.4 and "a number" under
-- LuaJIT. Podero objects are userdata: LuaJIT's ipairs/pairs accept only tables, so specs
-- iterate podero arrays with podero.ipairs and objects with podero.fields (or M.ipairs/M.pairs,
-- which are ipairs/pairs under 5.4, so the 5.4 run keeps checking the __index/__pairs path).
M.LUAJIT = rawget(_G, "jit") ~= nil
M.HAS_INTEGERS = math.type ~= nil
function M.num_type(v)
  if math.type then return math.type(v) end
  return type(v) == "number" and "number" or nil
end
function M.is_integer(v)
  if math.type then return math.type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v) and v - v == 0
end
function M.is_float(v)
  if math.type then return math.type(v) == "float" end
  return type(v) == "number"
end
function M.ipairs(arr)
  if M.LUAJIT then return require("podero").ipairs(arr) end
  return ipairs(arr)
end
function M.pairs(obj)
  if M.LUAJIT and require("podero").is_object(obj) then return require("podero").fields(obj) end
  return pairs(obj)
end
-- The interpreter running the suite and the build directory of its podero.core, for child
-- processes that test the library itself (not the lua5.4 scripts bin/podero and examples/).
-- The repository's top directory (the parent of spec/).
M.ROOT = (debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/spec/[^/]*$")) or "."

-- The contents of a file, which is then removed ("" when it cannot be read).
function M.slurp(path)
  local f = io.open(path, "rb")
  local s = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(path)
  return s
end

M.LUA_BIN = M.LUAJIT and "luajit" or "lua5.4"
M.CORE_DIR = M.LUAJIT and "luajit" or "5.4"
-- os.execute(cmd) -> ok, exit code: Lua 5.4 returns (true|nil, "exit", code); LuaJIT (5.1
-- semantics) returns the raw wait status (code * 256).
function M.execute(cmd)
  local r, _, code = os.execute(cmd)
  if type(r) == "number" then
    code = r >= 256 and math.floor(r / 256) or r
    return code == 0, code
  end
  return r == true, code
end

-- A value for new_client overrides that removes the option.
M.NONE = setmetatable({}, { __tostring = function() return "support.NONE" end })

function M.url()
  local u = os.getenv("PODERO_SANDBOX_URL")
  if not u or u == "" then
    error("PODERO_SANDBOX_URL is not set: start a sandbox (bash sandbox/sandbox.sh start DIR)", 2)
  end
  return (u:gsub("/+$", ""))
end

-- Child processes (curl, sleep, luarocks) run without the sanitizer preload of `make asan`
-- (an ASan-preloaded curl hangs) and without the suite's Lua paths.
M.CLEAN_ENV = "env -u LD_PRELOAD -u ASAN_OPTIONS -u LSAN_OPTIONS -u UBSAN_OPTIONS "

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local q = M.shell_quote

local function tmpfile(content)
  local name = os.tmpname()
  local f = assert(io.open(name, "wb"))
  f:write(content)
  f:close()
  return name
end

-- Runs curl; returns body, status (number; 0 when no answer).
-- opts: method, body (string), headers (list of "Name: value"), url (absolute; else path).
function M.curl(path, opts)
  opts = opts or {}
  local url = opts.url or (M.url() .. path)
  local args = { M.CLEAN_ENV .. "curl", "--noproxy", "'*'", "-s", "-m", "30", "-o", "-", "-w", q("\n%{http_code}") }
  if opts.method then args[#args + 1] = "-X " .. q(opts.method) end
  for _, h in ipairs(opts.headers or {}) do args[#args + 1] = "-H " .. q(h) end
  local tmp
  if opts.body then
    tmp = tmpfile(opts.body)
    args[#args + 1] = "--data-binary @" .. q(tmp)
  end
  args[#args + 1] = q(url)
  local p = assert(io.popen(table.concat(args, " "), "r"))
  local out = p:read("a")
  p:close()
  if tmp then os.remove(tmp) end
  local body, status = out:match("^(.*)\n(%d%d%d)$")
  if not body then return out, 0 end
  return body, tonumber(status)
end

local function check_json(body, status, what)
  if status < 200 or status > 299 then
    error(string.format("sandbox %s answered %d: %s", what, status, body), 3)
  end
  return cjson.decode(body)
end

function M.get_json(path)
  local body, status = M.curl(path)
  return check_json(body, status, "GET " .. path)
end

function M.post(path, tbl)
  local body, status = M.curl(path, {
    method = "POST",
    body = tbl == nil and "" or cjson.encode(tbl),
    headers = { "Content-Type: application/json" },
  })
  return check_json(body, status, "POST " .. path)
end

-- Back to a fresh state: config defaults, no faults, no tokens, counters and log cleared.
function M.reset() return M.post("/_sandbox/reset") end

-- Queues one fault (table) or several (array of tables).
function M.fault(f) return M.post("/_sandbox/faults", f) end

function M.config(c) return M.post("/_sandbox/config", c) end
function M.expire_tokens() return M.post("/_sandbox/expire_tokens") end
function M.stats() return M.get_json("/_sandbox/stats") end
function M.requests() return M.get_json("/_sandbox/requests") end

-- The logged requests of one kind ("api" or "token"), oldest first.
function M.requests_of(kind)
  local out = {}
  for _, r in ipairs(M.requests()) do
    if r.kind == kind then out[#out + 1] = r end
  end
  return out
end

-- A random (version 4) UUID, as podero sends in X-Request-Id
M.UUID4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

-- Runs Lua code in a child interpreter (the same Lua, the same paths) with env prefixed to the
-- command line ("NAME=value ..."). Returns ok, its stdout and stderr together.
function M.lua_child(code, env)
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local ok = M.execute(("%s %s %s >%s 2>&1"):format(env or "", M.LUA_BIN, script, out))
  os.remove(script)
  return ok, M.slurp(out)
end

local seed_cache
function M.seed()
  if not seed_cache then seed_cache = M.get_json("/_sandbox/seed") end
  return seed_cache
end

function M.demo() return M.seed().demo end

-- The first heat pump (with its org and user) for which pred(hp, user, org) is true.
function M.find_hp(pred)
  for _, org in ipairs(M.seed().orgs) do
    for _, user in ipairs(org.users) do
      for _, hp in ipairs(user.heat_pumps) do
        if pred(hp, user, org) then return org.id, user.id, hp.id, hp end
      end
    end
  end
  error("no heat pump in the seed matches", 2)
end

function M.hp_path(org, user, hp)
  return string.format("/api/partners/v2.0/org/%s/users/%s/heat-pumps/%s", org, user, hp)
end

-- A fresh access token obtained with curl (client credentials, Basic).
function M.token()
  local body, status = M.curl(M.TOKEN_PATH, {
    method = "POST",
    body = '{"grant_type":"client_credentials"}',
    headers = {
      "Content-Type: application/json",
      "Authorization: Basic " .. M.base64(M.CLIENT_ID .. ":" .. M.CLIENT_SECRET),
    },
  })
  return check_json(body, status, "token").access_token
end

-- GET an API path with curl and a fresh token: body, status.
function M.api_get(path)
  return M.curl(path, { headers = { "Authorization: Bearer " .. M.token() } })
end

function M.client_opts(overrides)
  local o = {
    base_url = M.url(),
    client_id = M.CLIENT_ID,
    client_secret = M.CLIENT_SECRET,
    retry_base_delay = 0.01,
    max_retry_wait = 2,
    timeout = 10,
    connect_timeout = 5,
  }
  for k, v in pairs(overrides or {}) do
    if v == M.NONE then o[k] = nil else o[k] = v end
  end
  return o
end

-- podero.new with the sandbox URL and sandbox-client credentials; overrides win
-- (support.NONE removes an option).
function M.new_client(overrides)
  return require("podero").new(M.client_opts(overrides))
end

-- Options for a password-grant client (no client credentials).
function M.password_overrides(extra)
  local o = { client_id = M.NONE, client_secret = M.NONE, username = M.USERNAME, password = M.PASSWORD }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- Seconds, sub-second resolution (wall clock; only for generous bounds).
local clock
do
  local ok, system = pcall(require, "system")
  if ok and system.monotime then
    clock = system.monotime
  else
    local ok2, socket = pcall(require, "socket")
    if ok2 and socket.gettime then
      clock = socket.gettime
    else
      clock = function()
        local p = io.popen(M.CLEAN_ENV .. "date +%s.%N")
        local s = p:read("a")
        p:close()
        return tonumber(s)
      end
    end
  end
end
M.now = clock

function M.sleep(s)
  os.execute(M.CLEAN_ENV .. "sleep " .. string.format("%.3f", s))
end

-- Runs f() and returns the elapsed seconds followed by f's results.
function M.timed(f, ...)
  local t0 = clock()
  local r = table.pack(f(...))
  return clock() - t0, table.unpack(r, 1, r.n)
end

-- base64 (RFC 4648) encode / decode
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.base64(s)
  return ((s:gsub(".", function(c)
    local b, r = c:byte(), ""
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return B64:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

function M.unbase64(s)
  s = s:gsub("[^%w%+/=]", "")
  return (s:gsub(".", function(x)
    if x == "=" then return "" end
    local r, f = "", (B64:find(x, 1, true) - 1)
    for i = 6, 1, -1 do r = r .. (f % 2 ^ i - f % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end):gsub("%d%d%d?%d?%d?%d?%d?%d?", function(x)
    if #x ~= 8 then return "" end
    local c = 0
    for i = 1, 8 do c = c + (x:sub(i, i) == "1" and 2 ^ (8 - i) or 0) end
    return string.char(c)
  end))
end

-- application/x-www-form-urlencoded decoding of one component
function M.form_decode(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- name -> value of a form body
function M.form_fields(body)
  local t = {}
  for pair in body:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    t[M.form_decode(k)] = M.form_decode(v)
  end
  return t
end

-- Every string reachable from v (tables, podero error tables), for secret checks.
function M.strings_of(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      M.strings_of(k, out, seen)
      M.strings_of(x, out, seen)
    end
  end
  return out
end

-- true when some needle occurs in some string reachable from err, or in tostring(err)
function M.leaks(err, needles)
  local hay = M.strings_of(err)
  hay[#hay + 1] = tostring(err)
  for _, h in ipairs(hay) do
    for _, n in ipairs(needles) do
      if h:find(n, 1, true) then return n end
    end
  end
  return false
end

-- podero.ERROR_KINDS as a set: every err.kind a spec sees must be in it
M.KINDS = {}
for _, k in ipairs(require("podero").ERROR_KINDS) do M.KINDS[k] = true end

return M
