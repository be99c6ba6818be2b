-- Test-control endpoints under /_sandbox/ (no auth, never faulted, never logged)
local J = require("podero_sandbox.json")
local H = require("podero_sandbox.http")
local state = require("podero_sandbox.state")
local seed = require("podero_sandbox.seed")

local M = {}
local model, seed_body, credentials -- luacheck: ignore 231 (kept for set_model callers)

function M.set_model(m, creds)
  model, credentials = m, creds
  seed_body = J.encode(seed.describe(m, creds))
end

local function bad(msg) return H.json(400, J.obj():add("error", "bad_request"):add("message", msg)) end
local function ok_obj() return J.obj():add("ok", true) end

local function config_obj()
  local c = state.config()
  return J.obj():add("token_ttl", c.token_ttl):add("latency_ms", c.latency_ms)
end

local function is_int(v) return type(v) == "number" and v == math.floor(v) end
local function nonneg(v) return type(v) == "number" and v >= 0 and v < 1e9 end

local function parse_json_body(required)
  local body = H.read_body() or ""
  if body:match("^%s*$") then
    if required then return nil, "a JSON body is required" end
    return nil
  end
  local v, e = J.decode(body)
  if v == nil then return nil, "malformed JSON: " .. e end
  return v
end

local FAULT_KEYS = {
  target = function(v) return v == "api" or v == "token" or v == "any", 'must be "api", "token" or "any"' end,
  path_contains = function(v) return type(v) == "string" and v ~= "", "must be a non-empty string" end,
  times = function(v) return is_int(v) and v >= 1, "must be an integer >= 1" end,
  status = function(v) return is_int(v) and v >= 100 and v <= 599, "must be an integer 100..599" end,
  headers = function(v)
    if not J.is_obj(v) then return false, "must be an object of header name -> string" end
    for _, k in ipairs(v.keys) do
      local x = v.vals[k]
      if type(x) ~= "string" and type(x) ~= "number" then return false, "header values must be strings" end
      if not k:match("^[%w!#$%%&'*+%-.^_`|~]+$") then return false, "bad header name '" .. k .. "'" end
    end
    return true
  end,
  body = function(v) return type(v) == "string", "must be a string" end,
  delay_ms = function(v) return nonneg(v), "must be a number >= 0" end,
  truncate = function(v) return type(v) == "boolean", "must be a boolean" end,
  oversize_bytes = function(v) return is_int(v) and v >= 0 and v <= 512 * 1024 * 1024, "must be an integer 0..536870912" end,
  chunked_oversize_bytes = function(v) return is_int(v) and v >= 0 and v <= 512 * 1024 * 1024, "must be an integer 0..536870912" end,
  reset = function(v) return type(v) == "boolean", "must be a boolean" end,
  json = function(v) return v ~= J.null or true, "" end,
}

local function validate_fault(f, i)
  if not J.is_obj(f) then return "fault #" .. i .. " is not an object" end
  for _, k in ipairs(f.keys) do
    local check = FAULT_KEYS[k]
    if not check then return "fault #" .. i .. ": unknown key '" .. k .. "'" end
    local ok, msg = check(f.vals[k])
    if not ok then return "fault #" .. i .. ": '" .. k .. "' " .. msg end
  end
  if f:get("body") ~= nil and f:get("json") ~= nil then
    return "fault #" .. i .. ": give either 'body' or 'json', not both"
  end
  return nil
end

local ROUTES = {}

ROUTES["/_sandbox/health"] = { GET = function()
  return { status = 200, headers = { ["Content-Type"] = "text/plain; charset=utf-8" }, body = "ok" }
end }

ROUTES["/_sandbox/reset"] = { POST = function()
  state.init_defaults()
  return H.json(200, ok_obj():add("config", config_obj()))
end }

ROUTES["/_sandbox/config"] = {
  GET = function() return H.json(200, config_obj()) end,
  POST = function()
    local v, e = parse_json_body(true)
    if not v then return bad(e) end
    if not J.is_obj(v) then return bad("config must be a JSON object") end
    for _, k in ipairs(v.keys) do
      local x = v.vals[k]
      if k ~= "token_ttl" and k ~= "latency_ms" then return bad("unknown config key '" .. k .. "'") end
      if not nonneg(x) then return bad("'" .. k .. "' must be a number >= 0") end
    end
    for _, k in ipairs(v.keys) do state.set_config(k, v.vals[k]) end
    return H.json(200, config_obj())
  end,
}

ROUTES["/_sandbox/expire_tokens"] = { POST = function()
  local n = state.expire_all_tokens()
  return H.json(200, ok_obj():add("expired_through_seq", n))
end }

ROUTES["/_sandbox/faults"] = {
  GET = function() return H.json(200, state.faults()) end,
  DELETE = function()
    state.clear_faults()
    return H.json(200, ok_obj():add("faults_pending", 0))
  end,
  POST = function()
    local v, e = parse_json_body(true)
    if not v then return bad(e) end
    local list
    if J.is_obj(v) then list = { v }
    elseif J.is_array(v) then list = v
    else return bad("expected a fault object or an array of fault objects") end
    for i, f in ipairs(list) do
      local msg = validate_fault(f, i)
      if msg then return bad(msg) end
    end
    local n = state.add_faults(list)
    return H.json(200, J.obj():add("queued", n):add("faults_pending", state.faults_pending()))
  end,
}

ROUTES["/_sandbox/stats"] = { GET = function()
  return H.json(200, J.obj()
    :add("token_requests", state.count("token_requests"))
    :add("api_requests", state.count("api_requests"))
    :add("grants", J.obj()
      :add("client_credentials", state.count("grant:client_credentials"))
      :add("password", state.count("grant:password"))
      :add("refresh_token", state.count("grant:refresh_token")))
    :add("faults_pending", state.faults_pending()))
end }

ROUTES["/_sandbox/requests"] = { GET = function()
  return H.json(200, "[" .. table.concat(state.requests(), ",") .. "]")
end }

ROUTES["/_sandbox/seed"] = { GET = function() return H.json(200, seed_body) end }

function M.handle(uri)
  local r = ROUTES[uri]
  if not r then
    return H.json(404, J.obj():add("detail", "Not Found"))
  end
  local method = ngx.req.get_method()
  local f = r[method]
  if not f and method == "HEAD" then f = r.GET end
  if not f then
    local allowed = {}
    for m in pairs(r) do allowed[#allowed + 1] = m end
    table.sort(allowed)
    return H.json(405, J.obj():add("detail", "Method Not Allowed"), { Allow = table.concat(allowed, ", ") })
  end
  return f()
end

return M
