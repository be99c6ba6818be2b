-- Token endpoint: POST /api/partners/v2.0/auth/token and POST /oauth2/token/
local J = require("podero_sandbox.json")
local H = require("podero_sandbox.http")
local state = require("podero_sandbox.state")

local M = {}

M.CLIENTS = {
  ["sandbox-client"] = "sandbox-secret",
  ["special client:1"] = "s3cr:t+/ü&%=",
}
M.USERS = { ["partner@example.com"] = "sandbox-password" }
M.SCOPE = "read write"

local NO_STORE = { ["Cache-Control"] = "no-store", ["Pragma"] = "no-cache" }

local function err(status, code, desc, extra_headers)
  local h = { ["Cache-Control"] = "no-store", ["Pragma"] = "no-cache" }
  for k, v in pairs(extra_headers or {}) do h[k] = v end
  return H.json(status, J.obj():add("error", code):add("error_description", desc), h)
end

-- application/x-www-form-urlencoded component decoding ('+' is a space)
local function form_decode(s)
  return ngx.unescape_uri((s:gsub("+", " ")))
end
M.form_decode = form_decode

local FIELDS = { "grant_type", "username", "password", "refresh_token", "client_id", "client_secret", "scope" }

-- returns fields table (string values) or nil, error description
local function parse_body(body)
  local mt = H.media_type()
  body = body or ""
  if mt == "" then
    if body:match("^%s*$") then return {} end
    mt = body:match("^%s*{") and "application/json" or "application/x-www-form-urlencoded"
  end
  local out = {}
  if mt == "application/json" then
    if body:match("^%s*$") then return nil, "empty JSON body" end
    local v, e = J.decode(body)
    if v == nil then return nil, "malformed JSON body: " .. e end
    if not J.is_obj(v) then return nil, "JSON body must be an object" end
    for _, k in ipairs(FIELDS) do
      local x = v:get(k)
      if x ~= nil and x ~= J.null then
        if type(x) ~= "string" then return nil, "field '" .. k .. "' must be a string" end
        out[k] = x
      end
    end
    return out
  elseif mt == "application/x-www-form-urlencoded" then
    local args, e = ngx.decode_args(body, 0)
    if not args then return nil, "malformed form body: " .. tostring(e) end
    for _, k in ipairs(FIELDS) do
      local x = args[k]
      if type(x) == "table" then return nil, "parameter '" .. k .. "' given more than once" end
      if x == true then x = "" end
      if x ~= nil then out[k] = x end
    end
    return out
  end
  return nil, "unsupported Content-Type '" .. mt .. "' (use application/json or application/x-www-form-urlencoded)"
end

-- returns client_id, basic_used, error_response
local function authenticate_client(fields)
  local auth = ngx.var.http_authorization
  local basic_used = false
  local id, secret
  local scheme, cred
  if auth then scheme, cred = auth:match("^%s*(%S+)%s*(.-)%s*$") end
  if scheme and scheme:lower() == "basic" then
    basic_used = true
    local b64 = cred:match("^%S+$")
    local decoded = b64 and ngx.decode_base64(b64)
    local raw_id, raw_secret
    if decoded then raw_id, raw_secret = decoded:match("^([^:]*):(.*)$") end
    if not raw_id then
      return nil, true, err(401, "invalid_client", "malformed Basic credentials",
        { ["WWW-Authenticate"] = 'Basic realm="podero"' })
    end
    id, secret = form_decode(raw_id), form_decode(raw_secret)
  end
  local body_creds = fields.client_id ~= nil or fields.client_secret ~= nil
  if basic_used and body_creds then
    return nil, true, err(400, "invalid_request", "client credentials given both in the Authorization header and in the body")
  end
  if body_creds then id, secret = fields.client_id, fields.client_secret end
  if id == nil then return nil, false, nil end -- no client authentication attempted
  if secret ~= nil and M.CLIENTS[id] ~= nil and M.CLIENTS[id] == secret then
    return id, basic_used, nil
  end
  return nil, basic_used, err(401, "invalid_client", "client authentication failed",
    basic_used and { ["WWW-Authenticate"] = 'Basic realm="podero"' } or nil)
end

local function grant(kind, with_refresh)
  local tok, ttl = state.issue_access_token()
  local o = J.obj()
    :add("access_token", tok)
    :add("expires_in", ttl)
    :add("token_type", "Bearer")
    :add("scope", M.SCOPE)
  if with_refresh then o:add("refresh_token", state.issue_refresh_token()) end
  state.incr("grant:" .. kind)
  return H.json(200, o, NO_STORE)
end

-- returns a response table
function M.handle(body)
  if ngx.req.get_method() ~= "POST" then
    return err(405, "invalid_request", "the token endpoint only accepts POST", { Allow = "POST" })
  end
  local fields, e = parse_body(body)
  if not fields then return err(400, "invalid_request", e) end

  local client, _, cerr = authenticate_client(fields)
  if cerr and cerr.status == 400 then return cerr end

  local gt = fields.grant_type
  if gt == nil or gt == "" then return err(400, "invalid_request", "missing grant_type") end
  if gt ~= "client_credentials" and gt ~= "password" and gt ~= "refresh_token" then
    return err(400, "unsupported_grant_type", "grant_type '" .. gt .. "' is not supported")
  end
  if cerr then return cerr end

  if gt == "client_credentials" then
    if not client then
      return err(401, "invalid_client", "client authentication required for the client_credentials grant")
    end
    return grant(gt, false)
  elseif gt == "password" then
    if not fields.username or fields.username == "" or not fields.password then
      return err(400, "invalid_request", "username and password are required for the password grant")
    end
    if M.USERS[fields.username] ~= fields.password then
      return err(400, "invalid_grant", "invalid username or password")
    end
    return grant(gt, true)
  else
    if not fields.refresh_token or fields.refresh_token == "" then
      return err(400, "invalid_request", "refresh_token is required for the refresh_token grant")
    end
    if not state.use_refresh_token(fields.refresh_token) then
      return err(400, "invalid_grant", "refresh token is invalid, expired or already used")
    end
    return grant(gt, true)
  end
end

return M
