-- Partner API: users and heat pumps (read-only, served from the pre-rendered seed)
local J = require("podero_sandbox.json")
local H = require("podero_sandbox.http")
local state = require("podero_sandbox.state")
local steering = require("podero_sandbox.steering") -- PUT, statistics, cues (issue 6)
local rest_api = require("podero_sandbox.rest") -- the rest of the API (issue 12)

local M = {}
local model -- set by init

function M.set_model(m) model = m end

local PREFIX = "/api/partners/v2.0"

local function not_found() return H.detail(404, "Not Found") end

local function unauthorized()
  return H.detail(401, "Unauthorized", { ["WWW-Authenticate"] = 'Bearer error="invalid_token"' })
end

local UUID_PAT = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

-- pydantic-like message for a bad UUID
local function uuid_error(s)
  local bad = s:find("[^%x%-]")
  local e
  if bad then
    e = string.format("invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `%s` at %d",
      s:sub(bad, bad), bad)
  elseif #s ~= 36 then
    e = string.format("invalid length: expected length 32 for simple format, found %d", #(s:gsub("%-", "")))
  else
    e = "invalid group count: expected 5, found " .. select(2, s:gsub("%-", "")) + 1
  end
  return e
end

local function validate_ids(names, values)
  local errs = J.array({})
  for i, name in ipairs(names) do
    local v = values[i]
    if not v:match(UUID_PAT) then
      local e = uuid_error(v)
      errs[#errs + 1] = J.obj()
        :add("type", "uuid_parsing")
        :add("loc", J.array({ "path", name }))
        :add("msg", "Input should be a valid UUID, " .. e)
        :add("ctx", J.obj():add("error", e))
    end
  end
  return errs
end

local TRUE = { ["true"] = true, ["1"] = true, yes = true, on = true, t = true, y = true }
local FALSE = { ["false"] = true, ["0"] = true, no = true, off = true, f = true, n = true }

-- returns include_deleted (bool) and an error entry or nil
local function include_deleted()
  local args = ngx.req.get_uri_args(100)
  local v = args.include_deleted
  if v == nil then return false end
  if type(v) == "table" then v = v[#v] end -- last one wins, as in Django
  if v == true then v = "" end
  local l = v:lower()
  if TRUE[l] then return true end
  if FALSE[l] then return false end
  return false, J.obj()
    :add("type", "bool_parsing")
    :add("loc", J.array({ "query", "include_deleted" }))
    :add("msg", "Input should be a valid boolean, unable to interpret input")
end

local function bearer_ok()
  local auth = ngx.var.http_authorization
  if not auth then return false end
  local scheme, tok = auth:match("^%s*(%S+)%s+(%S+)%s*$")
  if not scheme or scheme:lower() ~= "bearer" then return false end
  return state.check_access_token(tok)
end

-- route: returns kind, ids or nil
local function route(uri)
  if uri:sub(1, #PREFIX) ~= PREFIX then return nil end
  local rest = uri:sub(#PREFIX + 1)
  local org, user, hp
  org, user, hp = rest:match("^/org/([^/]+)/users/([^/]+)/heat%-pumps/([^/]+)$")
  if org then return "heat_pump", { org, user, hp } end
  org, user = rest:match("^/org/([^/]+)/users/([^/]+)/heat%-pumps$")
  if org then return "heat_pumps", { org, user } end
  org = rest:match("^/org/([^/]+)/users$")
  if org then return "users", { org } end
  return nil
end

local NAMES = {
  users = { "org_id" },
  heat_pumps = { "org_id", "user_id" },
  heat_pump = { "org_id", "user_id", "heat_pump_id" },
}

function M.handle()
  local kind, ids = route(ngx.var.uri)
  if not kind then return steering.handle_path(ngx.var.uri) or rest_api.handle_path(ngx.var.uri) or not_found() end
  local method = ngx.req.get_method()
  local put = kind == "heat_pump" and method == "PUT"
  local post = kind ~= "heat_pump" and method == "POST" -- create a user, register a heat pump (rest.lua)
  if method ~= "GET" and not put and not post then
    return H.detail(405, "Method Not Allowed", { Allow = kind == "heat_pump" and "GET, PUT" or "GET, POST" })
  end
  if not bearer_ok() then return unauthorized() end

  local errs = validate_ids(NAMES[kind], ids)
  local incl, qerr = include_deleted()
  if qerr then errs[#errs + 1] = qerr end
  if #errs > 0 then return H.json(422, J.obj():add("detail", errs)) end
  if post and kind == "users" then return rest_api.create_user(ids) end
  if post then return rest_api.register_heat_pump(ids, incl) end

  local org = model.orgs_by_id[ids[1]:lower()]
  if not org then return not_found() end
  if kind == "users" then
    return H.json(200, rest_api.users_list(org, incl))
  end
  local user = rest_api.find_user(org, ids[2])
  if not user or (user.deleted and not incl) then return not_found() end
  if kind == "heat_pumps" then
    return H.json(200, steering.list(user, incl))
  end
  local hp = user.hps_by_id[ids[3]:lower()]
  if not hp or (hp.deleted and not incl) then return not_found() end
  if put then return steering.update(org, user, hp) end
  return H.json(200, steering.body(hp))
end

local helpers = { bearer_ok = bearer_ok, unauthorized = unauthorized, validate_ids = validate_ids,
                  uuid_error = uuid_error, include_deleted = include_deleted, find_user = rest_api.find_user }
steering.set_helpers(helpers)
rest_api.set_helpers(helpers)

return M
