-- Entry points: init() from init_by_lua, handle() from content_by_lua.
local J = require("podero_sandbox.json")
local H = require("podero_sandbox.http")
local state = require("podero_sandbox.state")
local seed = require("podero_sandbox.seed")
local oauth = require("podero_sandbox.oauth")
local api = require("podero_sandbox.api")
local admin = require("podero_sandbox.admin")
local steering = require("podero_sandbox.steering")
local seed_devices = require("podero_sandbox.seed_devices")
local rest = require("podero_sandbox.rest")

local M = {}

local TOKEN_PATHS = { ["/api/partners/v2.0/auth/token"] = true, ["/oauth2/token/"] = true }

function M.init()
  local model = seed.build()
  seed_devices.build(model) -- own PRNG streams: the users and heat pumps above stay as they are
  -- random secret for token generation
  local secret
  local f = io.open("/dev/urandom", "rb")
  if f then
    secret = f:read(16)
    f:close()
  end
  state.set_secret((secret or "") .. tostring(ngx.now()) .. tostring(model))
  state.init_defaults()
  api.set_model(model)
  steering.set_model(model)
  rest.set_model(model)
  local creds = J.obj()
    :add("clients", J.array({
      J.obj():add("client_id", "sandbox-client"):add("client_secret", "sandbox-secret"),
      J.obj():add("client_id", "special client:1"):add("client_secret", "s3cr:t+/ü&%="),
    }))
    :add("password_grant", J.obj():add("username", "partner@example.com"):add("password", "sandbox-password"))
    :add("token_urls", J.array({ "/api/partners/v2.0/auth/token", "/oauth2/token/" }))
  admin.set_model(model, creds)
end

local function record(kind, body)
  local hdrs = ngx.req.get_headers(200)
  local names = {}
  for k in pairs(hdrs) do names[#names + 1] = k end
  table.sort(names)
  local ho = J.obj()
  for _, k in ipairs(names) do
    local v = hdrs[k]
    if type(v) == "table" then v = table.concat(v, ", ") end
    ho:add(k, v)
  end
  local e = J.obj()
    :add("method", ngx.req.get_method())
    :add("uri", ngx.var.request_uri)
    :add("headers", ho)
    :add("body", body or "")
    :add("kind", kind)
    :add("request_id", type(hdrs["x-request-id"]) == "string" and hdrs["x-request-id"] or "")
  state.log_request(J.encode(e))
end

-- n bytes of JSON-looking padding
local function padding(n)
  if n >= 14 then return '{"padding":"' .. string.rep("x", n - 14) .. '"}' end
  if n >= 2 then return "[" .. string.rep(" ", n - 2) .. "]" end
  return string.rep(" ", n)
end

local function send_padding(status, headers, n, chunked)
  ngx.status = status
  ngx.header["Content-Type"] = H.JSON
  for k, v in pairs(headers) do ngx.header[k] = v end
  local body = padding(n)
  if not chunked then
    ngx.header["Content-Length"] = n
    ngx.print(body)
    return ngx.exit(ngx.OK)
  end
  ngx.header["Content-Length"] = nil
  local step = 65536
  for i = 1, #body, step do
    ngx.print(body:sub(i, i + step - 1))
    local ok = ngx.flush(true)
    if not ok then return ngx.exit(ngx.OK) end
  end
  return ngx.exit(ngx.OK)
end

local function fault_headers(f)
  local h = {}
  local fh = J.get(f, "headers")
  if fh then
    for _, k in ipairs(fh.keys) do
      local v = fh.vals[k]
      h[k] = type(v) == "number" and J.encode_number(v) or v
    end
  end
  return h
end

local function apply_fault(f, normal)
  local delay = J.get(f, "delay_ms")
  if delay and delay > 0 then ngx.sleep(delay / 1000) end
  if J.get(f, "reset") then return ngx.exit(444) end

  local fh = fault_headers(f)
  local status = J.get(f, "status")
  local over = J.get(f, "oversize_bytes")
  local cover = J.get(f, "chunked_oversize_bytes")
  if over then return send_padding(status or 200, fh, over, false) end
  if cover then return send_padding(status or 200, fh, cover, true) end

  local resp
  local body, js = J.get(f, "body"), J.get(f, "json")
  if js ~= nil then
    resp = H.json(status or 200, J.encode(js))
  elseif body ~= nil then
    local ct = body:match("^%s*[%[{]") and H.JSON or "text/html; charset=utf-8"
    resp = { status = status or 200, headers = { ["Content-Type"] = ct }, body = body }
  elseif status then
    resp = H.detail(status, "Injected " .. status)
  else
    resp = normal()
  end
  for k, v in pairs(fh) do resp.headers[k] = v end

  if J.get(f, "truncate") then
    ngx.status = resp.status
    for k, v in pairs(resp.headers) do ngx.header[k] = v end
    local full = resp.body
    ngx.header["Content-Length"] = #full + (#full == 0 and 10 or 0)
    local part = full:sub(1, math.floor(#full / 2))
    if part ~= "" then ngx.print(part) end
    ngx.flush(true)
    return ngx.exit(444)
  end
  return H.send(resp)
end

function M.handle()
  local uri = ngx.var.uri
  if uri == "/_sandbox/expire_action_secrets" then return H.send(steering.admin_expire()) end
  if uri:sub(1, 10) == "/_sandbox/" then
    local r = rest.admin(uri) -- /_sandbox/seed/devices, /_sandbox/onboarding/{id}/complete
    if r then return H.send(r) end
    return H.send(admin.handle(uri))
  end

  local kind = TOKEN_PATHS[uri] and "token" or "api"
  state.incr(kind == "token" and "token_requests" or "api_requests")
  local body = H.read_body()
  record(kind, body)

  local normal
  if kind == "token" then
    normal = function() return oauth.handle(body) end
  else
    normal = api.handle
    local lat = state.config().latency_ms
    if lat and lat > 0 then ngx.sleep(lat / 1000) end
  end

  local f = state.take_fault(kind, ngx.var.uri)
  if f then return apply_fault(f, normal) end
  return H.send(normal())
end

return M
