-- Steering: partial PUT of a heat pump, statistics, cue resolve/state, expiring cue secrets.
--
-- State lives in the shared dict (so /_sandbox/reset, which flushes it, restores the seed):
--   hpbody:<hp id>   the current body of a heat pump that was changed (else the seed's body)
--   hpdirty:<user>   1 when one of the user's heat pumps changed (lists are then re-rendered)
--   cuedone:<cue id> 1 when the cue was reported "success" (its action is gone)
--   cue:gen          the secret generation; /_sandbox/expire_action_secrets increments it
-- Bodies in the dict always carry the seed's secrets; the current generation's secrets are
-- substituted when a body is served.
local J = require("podero_sandbox.json")
local H = require("podero_sandbox.http")
local prng = require("podero_sandbox.prng")

local M = {}
local dict = ngx.shared.sandbox
local format, floor, concat, sub = string.format, math.floor, table.concat, string.sub

local model
local cues = {}       -- cue id -> { org =, user =, hp = (seed info), secret = (seed secret), verb = }
local helpers = {}    -- from api.lua: bearer_ok, unauthorized, validate_ids

local PREFIX = "/api/partners/v2.0"
local CUE_PAT = "/api/partners/v2%.0/cues/(%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x)/(%a+)%?secret=(%x+)"

function M.set_model(m)
  model = m
  for _, org in ipairs(m.orgs) do
    for _, user in ipairs(org.users) do
      for _, hp in ipairs(user.heat_pumps) do
        for id, verb, secret in hp.body:gmatch(CUE_PAT) do
          cues[id] = { org = org, user = user, hp = hp, secret = secret, verb = verb }
        end
      end
    end
  end
end

function M.set_helpers(h) helpers = h end

---------------------------------------------------------------------------
-- secrets
---------------------------------------------------------------------------
local function hex(bin)
  return (bin:gsub(".", function(c) return format("%02x", c:byte()) end))
end

local function gen() return dict:get("cue:gen") or 0 end

local function secret_of(orig, g)
  if g == 0 then return orig end
  return sub(hex(ngx.sha1_bin(orig .. ":" .. g)) .. hex(ngx.sha1_bin(g .. ":" .. orig)), 1, 64)
end

local function with_current_secrets(body)
  local g = gen()
  if g == 0 then return body end
  return (body:gsub("(%?secret=)(%x+)", function(p, s) return p .. secret_of(s, g) end))
end

---------------------------------------------------------------------------
-- bodies
---------------------------------------------------------------------------
local function stored_body(hp) return dict:get("hpbody:" .. hp.id) or hp.body end

-- the body of a heat pump as served now
function M.body(hp) return with_current_secrets(stored_body(hp)) end

-- the list of a user's heat pumps as served now
function M.list(user, incl)
  if not dict:get("hpdirty:" .. user.id) then
    return with_current_secrets(incl and user.list_all or user.list_live)
  end
  local parts = {}
  for _, h in ipairs(user.heat_pumps) do
    if incl or not h.deleted then parts[#parts + 1] = stored_body(h) end
  end
  return with_current_secrets("[" .. concat(parts, ",") .. "]")
end

local function store(user, hp, obj)
  dict:set("hpbody:" .. hp.id, J.encode(obj))
  dict:set("hpdirty:" .. user.id, 1)
end

-- a heat pump body with every string and number kept as its literal text (J.raw), so that
-- re-encoding it changes nothing but the fields that were set
local function parse_raw(s)
  return assert(J.decode(s, 64, true))
end

local function raw_value(v)
  if J.is_raw(v) then return J.decode(v.text) end
  return v
end

---------------------------------------------------------------------------
-- date-times
---------------------------------------------------------------------------
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- ISO 8601 string or epoch number -> epoch seconds (integer part), or nil
local function parse_time(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return nil end
    return floor(v)
  end
  if type(v) ~= "string" then return nil end
  local y, mo, d, h, mi, se, rest = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(se)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or se > 59 then return nil end
  rest = rest:gsub("^%.%d+", "")
  local off = 0
  if rest ~= "Z" and rest ~= "z" then
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off
end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

local function now_iso()
  local t = ngx.now()
  return os.date("!%Y-%m-%dT%H:%M:%S", floor(t)) .. format(".%06dZ", floor((t % 1) * 1e6))
end

---------------------------------------------------------------------------
-- PUT .../heat-pumps/{id}: partial update
---------------------------------------------------------------------------
local PRICE_ZONES = { "AT", "AT_HOURLY", "BE", "CH", "EE", "DE_LU", "HU", "IT_CNOR", "IT_CSUD", "IT_NORD",
  "IT_PUN", "IT_SARD", "IT_SICI", "IT_SUD", "PT", "RO", "SE_1", "SE_2", "SE_3", "SE_4", "UK" }
local LEVELS = { "Low", "Mid", "Max" }

-- field -> { type, nullable, extra }
-- types: bool, number (number or numeric string), int, string (max length), datetime, enum
local WRITABLE = {
  price_zone = { "enum", false, PRICE_ZONES },
  pause_power_until = { "datetime", true },
  is_pause_power_active = { "bool", false },
  external_device_id = { "string", true, 255 },
  is_smart_optimization_active = { "bool", false },
  comment = { "string", true, 300 },
  is_inverter_forced_mode_enabled = { "bool", false },
  is_trading_enabled = { "bool", false },
  indoor_target_temperature_offset = { "number", true },
  dhw_standard_temperature = { "number", true },
  is_hot_water_heating_enabled = { "bool", true },
  is_space_heating_enabled = { "bool", true },
  is_pool_heating_enabled = { "bool", true },
  is_space_cooling_enabled = { "bool", true },
  heating_policy_name = { "string", true, 100 },
  maximum_temperature_limit = { "number", true },
  minimum_temperature_limit = { "number", true },
  minimum_dhw_temperature_limit = { "number", true },
  is_heating_policy_enabled = { "bool", true },
  away_mode_start = { "datetime", true },
  away_mode_end = { "datetime", true },
  is_away_mode_enabled = { "bool", true },
  away_mode_minimum_temperature_limit = { "number", true },
  min_solar_power_w = { "int", false },
  operational_mode = { "string", true, 100 },
  optimization_level = { "enum", true, LEVELS },
  temperature_delta_override_for_slight_change = { "int", true },
  temperature_delta_override_for_significant_change = { "int", true },
}
M.WRITABLE = WRITABLE

local POLICY = { heating_policy_name = true, maximum_temperature_limit = true, minimum_temperature_limit = true,
  minimum_dhw_temperature_limit = true, is_heating_policy_enabled = true }
local AWAY = { away_mode_start = true, away_mode_end = true, is_away_mode_enabled = true,
  away_mode_minimum_temperature_limit = true }

local function err_entry(typ, loc, msg, input, ctx)
  local e = J.obj():add("type", typ):add("loc", J.array(loc)):add("msg", msg)
  if input ~= nil then e:add("input", input) end
  if ctx then e:add("ctx", ctx) end
  return e
end

local function enum_msg(list)
  local q = {}
  for i, v in ipairs(list) do q[i] = "'" .. v .. "'" end
  if #q == 1 then return q[1] end
  return concat(q, ", ", 1, #q - 1) .. " or " .. q[#q]
end

local function is_num_literal(s)
  return type(s) == "string" and s:match("^%s*-?%d+%.?%d*[eE]?[-+]?%d*%s*$") ~= nil and tonumber(s) ~= nil
end

-- validates one field: returns the JSON value to store, or nil, error entry
local function check_field(name, v)
  local spec = WRITABLE[name]
  local typ, nullable, extra = spec[1], spec[2], spec[3]
  local loc = { "body", "payload", name }
  if v == J.null then
    if nullable then return J.null end
    if typ == "bool" then return nil, err_entry("bool_type", loc, "Input should be a valid boolean", v) end
    if typ == "int" then return nil, err_entry("int_type", loc, "Input should be a valid integer", v) end
    if typ == "enum" then
      return nil, err_entry("enum", loc, "Input should be " .. enum_msg(extra), v,
        J.obj():add("expected", enum_msg(extra)))
    end
    return nil, err_entry("string_type", loc, "Input should be a valid string", v)
  end
  if typ == "bool" then
    if type(v) ~= "boolean" then return nil, err_entry("bool_type", loc, "Input should be a valid boolean", v) end
    return v
  elseif typ == "int" then
    if type(v) ~= "number" or v ~= floor(v) then
      return nil, err_entry("int_type", loc, "Input should be a valid integer", v)
    end
    return v
  elseif typ == "number" then
    if type(v) == "number" then return v end
    if is_num_literal(v) then return v end
    return nil, err_entry("decimal_parsing", loc, "Input should be a valid decimal", v)
  elseif typ == "string" then
    if type(v) ~= "string" then return nil, err_entry("string_type", loc, "Input should be a valid string", v) end
    local n = 0
    for _ in v:gmatch("[^\128-\191]") do n = n + 1 end
    if n > extra then
      return nil, err_entry("string_too_long", loc, format("String should have at most %d characters", extra), v,
        J.obj():add("max_length", extra))
    end
    return v
  elseif typ == "enum" then
    for _, x in ipairs(extra) do if v == x then return v end end
    return nil, err_entry("enum", loc, "Input should be " .. enum_msg(extra), v,
      J.obj():add("expected", enum_msg(extra)))
  elseif typ == "datetime" then
    local t = parse_time(v)
    if not t then
      return nil, err_entry("datetime_parsing", loc, "Input should be a valid datetime", type(v) == "table" and nil or v)
    end
    return iso(t), t
  end
end

local function unprocessable(errs) return H.json(422, J.obj():add("detail", errs)) end

local function json_body()
  local body = H.read_body() or ""
  local v, e = J.decode(body)
  if v == nil then
    return nil, unprocessable(J.array({ err_entry("json_invalid", { "body", 0 }, "JSON decode error",
      nil, J.obj():add("error", e or "empty body")) }))
  end
  if not J.is_obj(v) then
    return nil, unprocessable(J.array({ err_entry("model_attributes_type", { "body", "payload" },
      "Input should be a valid dictionary or object to extract fields from") }))
  end
  return v
end

-- PUT on a heat pump the caller may see (org, user, hp from api.lua)
function M.update(_, user, hp) -- (org, user, hp): the org is already checked
  local payload, resp = json_body()
  if not payload then return resp end
  local errs = J.array({})
  local set = {}
  for _, k in ipairs(payload.keys) do
    if WRITABLE[k] then -- unknown and read-only fields are ignored, as pydantic does
      local v, e = check_field(k, payload.vals[k])
      if v == nil then errs[#errs + 1] = e else set[#set + 1] = { k, v } end
    end
  end
  if #errs > 0 then return unprocessable(errs) end
  local obj = parse_raw(stored_body(hp))
  local now = now_iso()
  local touched_policy, touched_away, touched_pause_flag = false, false, false
  for _, kv in ipairs(set) do
    local k, v = kv[1], kv[2]
    obj:set(k, v)
    if POLICY[k] then touched_policy = true end
    if AWAY[k] then touched_away = true end
    if k == "is_pause_power_active" then touched_pause_flag = true end
  end
  for _, kv in ipairs(set) do
    if kv[1] == "pause_power_until" and not touched_pause_flag then
      local t = kv[2] ~= J.null and parse_time(kv[2])
      obj:set("is_pause_power_active", (t and t > ngx.now()) and true or false)
    end
  end
  if touched_policy then obj:set("heating_policy_last_updated_at", now) end
  if touched_away then obj:set("away_mode_last_updated_at", now) end
  obj:set("updated_at", now)
  store(user, hp, obj)
  return H.json(200, M.body(hp))
end

---------------------------------------------------------------------------
-- GET .../heat-pumps/{id}/statistics
---------------------------------------------------------------------------
local NOW = 1763640000 -- the seed's "now": 2025-11-20T12:00:00Z
local RESOLUTIONS = { "1HOUR", "1DAY", "1WEEK", "1MONTH" }
local RES_SECONDS = { ["1HOUR"] = 3600, ["1DAY"] = 86400, ["1WEEK"] = 7 * 86400, ["1MONTH"] = 30 * 86400 }
local KEYWORDS = { "savings", "consumption" }

local function list_arg(args, name, allowed, default)
  local v = args[name]
  if v == nil then return default end
  if type(v) == "table" then v = concat(v, ",") end
  if v == true then v = "" end
  local out, ok = {}, {}
  for _, a in ipairs(allowed) do ok[a] = true end
  for item in (v .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if not ok[item] then
      return nil, err_entry("enum", { "query", name }, "Input should be " .. enum_msg(allowed), item,
        J.obj():add("expected", enum_msg(allowed)))
    end
    out[#out + 1] = item
  end
  return out
end

local function hp_seed(id)
  local parts = {}
  for i = 1, 32, 8 do parts[#parts + 1] = tonumber(id:gsub("%-", ""):sub(i, i + 7), 16) % 65536 end
  return prng.seed_of(9, parts[1], parts[2], parts[3], parts[4])
end

function M.statistics(hp)
  local args = ngx.req.get_uri_args(100)
  local errs = J.array({})
  local res, e1 = list_arg(args, "resolution", RESOLUTIONS, { "1DAY" })
  if e1 then errs[#errs + 1] = e1 end
  local kws, e2 = list_arg(args, "keywords", KEYWORDS, KEYWORDS)
  if e2 then errs[#errs + 1] = e2 end
  if #errs > 0 then return unprocessable(errs) end
  local P = prng.new(hp_seed(hp.id))
  local day_wh = P:range(3000, 42000)     -- Wh per day
  local rate = P:range(4, 16)             -- euro cents saved per kWh
  local data = J.array({})
  for _, r in ipairs(res) do
    local len = RES_SECONDS[r]
    local stop = floor(NOW / 86400) * 86400
    if r == "1HOUR" then stop = floor(NOW / 3600) * 3600 end
    local kwh = floor(day_wh * len / 86400 + 0.5) / 1000
    local e = J.obj():add("resolution", r):add("start", iso(stop - len)):add("end", iso(stop))
    for _, k in ipairs(kws) do
      if k == "savings" then
        e:add("savings", J.obj():add("total", J.raw(format("%.2f", kwh * rate / 100))):add("currency", "EUR"))
      else
        e:add("consumption", J.obj():add("total_kwh", J.raw(format("%.3f", kwh))))
      end
    end
    data[#data + 1] = e
  end
  return H.json(200, J.obj():add("heat_pump_id", hp.id):add("data", data))
end

---------------------------------------------------------------------------
-- POST /api/partners/v2.0/cues/{cue_id}/resolve|state?secret=...
---------------------------------------------------------------------------
local function not_found() return H.detail(404, "Not Found") end

local function form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return format("%%%02X", c:byte()) end))
end

local function cue_lookup(id, secret)
  local c = cues[id]
  if not c or dict:get("cuedone:" .. id) then return nil end
  if secret ~= secret_of(c.secret, gen()) then return nil end
  return c
end

local function handle_cue(id, verb)
  local method = ngx.req.get_method()
  if method ~= "POST" then return H.detail(405, "Method Not Allowed", { Allow = "POST" }) end
  if not helpers.bearer_ok() then return helpers.unauthorized() end
  local errs = helpers.validate_ids({ "cue_id" }, { id })
  local args = ngx.req.get_uri_args(100)
  local secret = args.secret
  if type(secret) == "table" then secret = secret[#secret] end
  if secret == nil or secret == true then
    errs[#errs + 1] = err_entry("missing", { "query", "secret" }, "Field required")
  end
  local payload
  if #errs == 0 then
    local resp
    payload, resp = json_body()
    if not payload then return resp end
    if verb == "resolve" then
      for _, f in ipairs({ "successUrl", "cancelUrl" }) do
        local v = payload:get(f)
        if v == nil then
          errs[#errs + 1] = err_entry("missing", { "body", "payload", f }, "Field required")
        elseif type(v) ~= "string" then
          errs[#errs + 1] = err_entry("string_type", { "body", "payload", f }, "Input should be a valid string", v)
        end
      end
    else
      local v = payload:get("state")
      if v == nil then
        errs[#errs + 1] = err_entry("missing", { "body", "payload", "state" }, "Field required")
      elseif v ~= "success" and v ~= "fail" then
        errs[#errs + 1] = err_entry("enum", { "body", "payload", "state" }, "Input should be 'success' or 'fail'", v,
          J.obj():add("expected", "'success' or 'fail'"))
      end
    end
  end
  if #errs > 0 then return unprocessable(errs) end
  local c = cue_lookup(id:lower(), secret)
  if not c then return not_found() end

  if verb == "resolve" then
    local url = format("https://sandbox-app.podero.com/cues/%s/authorize?success_url=%s&cancel_url=%s",
      id:lower(), form_escape(payload:get("successUrl")), form_escape(payload:get("cancelUrl")))
    return H.json(200, J.obj():add("redirect_url", url))
  end

  local state = payload:get("state")
  if state == "success" then
    local obj = parse_raw(stored_body(c.hp))
    local actions = obj:get("actions")
    local kept = J.array({})
    local has_info, code = false, nil
    for _, a in ipairs(actions) do
      local link = a:get("resolution_link")
      local url = link and raw_value(link:get("url")) or ""
      local this = type(url) == "string" and url:find("/cues/" .. id:lower() .. "/", 1, true)
      if this then
        code = raw_value(a:get("code"))
      else
        kept[#kept + 1] = a
        if raw_value(a:get("code")) == "information" then has_info = true end
      end
    end
    obj:set("actions", kept)
    obj:set("action_needed", #kept > 0)
    obj:set("has_notification", has_info)
    if code == "reauthenticate" then
      obj:set("is_authenticated", true)
      obj:set("lifecycle_state", "authenticated")
    end
    obj:set("updated_at", now_iso())
    store(c.user, c.hp, obj)
    dict:set("cuedone:" .. id:lower(), 1)
  end
  return H.json(200, J.obj():add("cue_id", id:lower()):add("state", state))
end

---------------------------------------------------------------------------
-- routing (called by api.lua for paths it does not know)
---------------------------------------------------------------------------
-- returns a response, or nil when the path is none of ours
function M.handle_path(uri)
  if sub(uri, 1, #PREFIX) ~= PREFIX then return nil end
  local rest = sub(uri, #PREFIX + 1)
  local id, verb = rest:match("^/cues/([^/]+)/(%a+)$")
  if id and (verb == "resolve" or verb == "state") then return handle_cue(id, verb) end
  local org, user, hpid = rest:match("^/org/([^/]+)/users/([^/]+)/heat%-pumps/([^/]+)/statistics$")
  if not org then return nil end
  if ngx.req.get_method() ~= "GET" then return H.detail(405, "Method Not Allowed", { Allow = "GET" }) end
  if not helpers.bearer_ok() then return helpers.unauthorized() end
  local errs = helpers.validate_ids({ "org_id", "user_id", "heat_pump_id" }, { org, user, hpid })
  if #errs > 0 then return unprocessable(errs) end
  local o = model.orgs_by_id[org:lower()]
  local u = o and (helpers.find_user and helpers.find_user(o, user) or o.users_by_id[user:lower()])
  local h = u and not u.deleted and u.hps_by_id[hpid:lower()]
  if not h or h.deleted then return not_found() end
  return M.statistics(h)
end

-- shared with rest.lua (issue 12)
M.err_entry, M.enum_msg, M.json_body, M.unprocessable = err_entry, enum_msg, json_body, unprocessable
M.parse_time, M.iso, M.now_iso, M.parse_raw, M.raw_value = parse_time, iso, now_iso, parse_raw, raw_value
M.check_field, M.PRICE_ZONES, M.is_num_literal = check_field, PRICE_ZONES, is_num_literal

-- POST /_sandbox/expire_action_secrets
function M.admin_expire()
  if ngx.req.get_method() ~= "POST" then
    return H.json(405, J.obj():add("detail", "Method Not Allowed"), { Allow = "POST" })
  end
  local g = dict:incr("cue:gen", 1, 0)
  return H.json(200, J.obj():add("ok", true):add("generation", g))
end

return M
