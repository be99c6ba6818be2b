-- The rest of the Partner API (issue 12): users (get, create, update), heat pump registration,
-- buildings, energy contracts, electric vehicles (list, get, update, boost), inverters,
-- device onboarding, savings; and the control endpoints /_sandbox/seed/devices and
-- /_sandbox/onboarding/{id}/complete.
--
-- The seed lives in the model (seed.lua, seed_devices.lua). Everything created or changed at run
-- time lives in the shared dict, so /_sandbox/reset (which flushes it) restores the seed:
--   idseq                  counter behind the ids of created objects (deterministic after a reset)
--   ubody:<user>           current body of a user created or changed through the API
--   uorg:<user>            org id of a user created through the API
--   unew:<org>             ids of the users created in the org (comma-separated, in order)
--   udirty:<org>           1 when the org's user list must be re-rendered
--   hpnew:<user>           ids of heat pumps registered or onboarded (bodies in hpbody:<id>, steering.lua)
--   ev:<id>, iv:<id>, bld:<id>, ec:<id>   current bodies (overrides of seed items, or new items)
--   evnew:<user>, ivnew:<user>, bldnew:<user>, ecnew:<user>   ids of new items of a user
--   obs:<id>, obsmeta:<id>, obsnew   onboarding sessions (body, hidden meta, ids of new ones)
local J = require("podero_sandbox.json")
local H = require("podero_sandbox.http")
local prng = require("podero_sandbox.prng")
local seed = require("podero_sandbox.seed")
local SD = require("podero_sandbox.seed_devices")
local steering = require("podero_sandbox.steering")

local M = {}
local dict = ngx.shared.sandbox
local format, floor, concat = string.format, math.floor, table.concat
local null = J.null

local model, describe_body
local helpers = {} -- from api.lua: bearer_ok, unauthorized, validate_ids, uuid_error, include_deleted

local err_entry, enum_msg, unprocessable = steering.err_entry, steering.enum_msg, steering.unprocessable
local parse_time, iso, now_iso = steering.parse_time, steering.iso, steering.now_iso
local parse_raw = steering.parse_raw

local PREFIX = "/api/partners/v2.0"
local UUID_PAT = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

function M.set_model(m)
  model = m
  describe_body = J.encode(SD.describe(m))
end

function M.set_helpers(h) helpers = h end

local function not_found() return H.detail(404, "Not Found") end
local function method_not_allowed(allow) return H.detail(405, "Method Not Allowed", { Allow = allow }) end

---------------------------------------------------------------------------
-- small dict helpers
---------------------------------------------------------------------------
local function id_list(key)
  local s = dict:get(key)
  local t = {}
  if s then for id in s:gmatch("[^,]+") do t[#t + 1] = id end end
  return t
end

local function id_push(key, id)
  local s = dict:get(key)
  dict:set(key, s and (s .. "," .. id) or id)
end

local function new_seq() return dict:incr("idseq", 1, 0) end
local function new_id(seq) return prng.new(prng.seed_of(40, seq or new_seq())):uuid() end

---------------------------------------------------------------------------
-- validation: spec = list of { name, type, opts }
--   types: string (opts.max), bool, int, decimal, enum (opts.values), uuid, datetime, hhmm, email,
--          currency, prices
--   opts: required, nullable, min, max (numbers), default
---------------------------------------------------------------------------
local function chars(s)
  local n = 0
  for _ in s:gmatch("[^\128-\191]") do n = n + 1 end
  return n
end

local function bounds(v, opts, loc, input)
  if opts.ge and v < opts.ge then
    return err_entry("greater_than_equal", loc, "Input should be greater than or equal to " .. opts.ge, input,
      J.obj():add("ge", opts.ge))
  end
  if opts.le and v > opts.le then
    return err_entry("less_than_equal", loc, "Input should be less than or equal to " .. opts.le, input,
      J.obj():add("le", opts.le))
  end
end

-- returns value (Lua/JSON value to store) or nil, error
local function check(typ, opts, v, loc)
  if v == null then
    if opts.nullable then return null end
    if typ == "bool" then return nil, err_entry("bool_type", loc, "Input should be a valid boolean", v) end
    if typ == "int" then return nil, err_entry("int_type", loc, "Input should be a valid integer", v) end
    if typ == "enum" then
      return nil, err_entry("enum", loc, "Input should be " .. enum_msg(opts.values), v,
        J.obj():add("expected", enum_msg(opts.values)))
    end
    if typ == "decimal" then return nil, err_entry("decimal_type", loc, "Decimal input should be an integer, float, string or Decimal object", v) end
    if typ == "prices" then return nil, err_entry("list_type", loc, "Input should be a valid list", v) end
    return nil, err_entry("string_type", loc, "Input should be a valid string", v)
  end
  if typ == "bool" then
    if type(v) ~= "boolean" then return nil, err_entry("bool_type", loc, "Input should be a valid boolean", v) end
    return v
  elseif typ == "int" then
    if type(v) ~= "number" or v ~= floor(v) then return nil, err_entry("int_type", loc, "Input should be a valid integer", v) end
    local e = bounds(v, opts, loc, v)
    if e then return nil, e end
    return v
  elseif typ == "decimal" then
    local n
    if type(v) == "number" then n = v
    elseif steering.is_num_literal(v) then n = tonumber(v) end
    if not n then return nil, err_entry("decimal_parsing", loc, "Input should be a valid decimal", v) end
    local e = bounds(n, opts, loc, v)
    if e then return nil, e end
    if opts.places then
      local fixed = format("%." .. opts.places .. "f", n)
      local txt = type(v) == "string" and v:match("^%s*(.-)%s*$") or J.encode_number(v)
      local frac = txt:match("%.(%d+)$")
      if (txt:find("[eE]") and tonumber(fixed) ~= n) or (frac and #frac > opts.places) then
        return nil, err_entry("decimal_max_places", loc,
          format("Decimal input should have no more than %d decimal places", opts.places), v,
          J.obj():add("decimal_places", opts.places))
      end
      return fixed
    end
    -- sent back as a Decimal string, as the backend does
    if type(v) == "string" then return (v:match("^%s*(.-)%s*$")) end
    return J.encode_number(v)
  elseif typ == "string" or typ == "email" or typ == "currency" or typ == "hhmm" then
    if type(v) ~= "string" then return nil, err_entry("string_type", loc, "Input should be a valid string", v) end
    if opts.max and chars(v) > opts.max then
      return nil, err_entry("string_too_long", loc, format("String should have at most %d characters", opts.max), v,
        J.obj():add("max_length", opts.max))
    end
    if typ == "email" and not v:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
      local why = v:find("@", 1, true) and "The part after the @-sign is not valid." or "An email address must have an @-sign."
      return nil, err_entry("value_error", loc, "value is not a valid email address: " .. why, v,
        J.obj():add("reason", why))
    end
    if typ == "currency" and not v:match("^[A-Z][A-Z][A-Z]$") then
      return nil, err_entry("string_pattern_mismatch", loc, "String should match pattern '^[A-Z]{3}$'", v,
        J.obj():add("pattern", "^[A-Z]{3}$"))
    end
    if typ == "hhmm" then
      local h, m = v:match("^(%d%d):(%d%d)$")
      if not h or tonumber(h) > 23 or tonumber(m) > 59 then
        return nil, err_entry("string_pattern_mismatch", loc, "String should match pattern '^([01]\\d|2[0-3]):[0-5]\\d$'", v,
          J.obj():add("pattern", "^([01]\\d|2[0-3]):[0-5]\\d$"))
      end
    end
    return v
  elseif typ == "enum" then
    for _, x in ipairs(opts.values) do if v == x then return v end end
    return nil, err_entry("enum", loc, "Input should be " .. enum_msg(opts.values), v,
      J.obj():add("expected", enum_msg(opts.values)))
  elseif typ == "uuid" then
    if type(v) ~= "string" then return nil, err_entry("uuid_type", loc, "UUID input should be a string, bytes or UUID object", v) end
    if not v:match(UUID_PAT) then
      local e = helpers.uuid_error(v)
      return nil, err_entry("uuid_parsing", loc, "Input should be a valid UUID, " .. e, v, J.obj():add("error", e))
    end
    return v:lower()
  elseif typ == "datetime" then
    local t = type(v) ~= "table" and parse_time(v)
    if not t then return nil, err_entry("datetime_parsing", loc, "Input should be a valid datetime", type(v) ~= "table" and v or nil) end
    return iso(t)
  elseif typ == "prices" then
    if not J.is_array(v) then return nil, err_entry("list_type", loc, "Input should be a valid list", not J.is_obj(v) and v or nil) end
    local out, errs = J.array({}), {}
    for i, item in ipairs(v) do
      local iloc = { loc[1], loc[2], loc[3], i - 1 }
      if not J.is_obj(item) then
        errs[#errs + 1] = err_entry("model_attributes_type", iloc,
          "Input should be a valid dictionary or object to extract fields from", not J.is_array(item) and item or nil)
      else
        local p, t
        for _, f in ipairs({ { "price", "decimal", { places = 4 } }, { "timestamp", "datetime", {} } }) do
          local floc = { loc[1], loc[2], loc[3], i - 1, f[1] }
          local x = item.vals[f[1]]
          if x == nil then
            errs[#errs + 1] = err_entry("missing", floc, "Field required")
          else
            local val, e = check(f[2], f[3], x, floc)
            if val == nil then errs[#errs + 1] = e elseif f[1] == "price" then p = val else t = val end
          end
        end
        if p and t then out[#out + 1] = J.obj():add("price", p):add("timestamp", t) end
      end
    end
    if #errs > 0 then return nil, errs end
    return out
  end
  error("rest.check: unknown type " .. tostring(typ))
end

-- validates payload against spec; returns map name -> value (only fields given), list of errors
-- unknown keys: ignored, or refused with extra_forbidden when forbid is true
local function validate(payload, spec, creating, forbid, aliases)
  local errs, set = J.array({}), {}
  local known = {}
  for _, f in ipairs(spec) do known[f[1]] = f end
  for _, k in ipairs(payload.keys) do
    local name = aliases and aliases[k] or k
    local f = known[name]
    if f and not (aliases and aliases[k] and payload.vals[name] ~= nil) then
      local v, e = check(f[2], f[3], payload.vals[k], { "body", "payload", k })
      if v == nil then
        if J.is_obj(e) then errs[#errs + 1] = e else for _, x in ipairs(e) do errs[#errs + 1] = x end end
      else
        set[name] = v
      end
    elseif not f and forbid then
      errs[#errs + 1] = err_entry("extra_forbidden", { "body", "payload", k }, "Extra inputs are not permitted",
        payload.vals[k])
    end
  end
  if creating then
    for _, f in ipairs(spec) do
      if f[3].required and payload.vals[f[1]] == nil and set[f[1]] == nil then
        errs[#errs + 1] = err_entry("missing", { "body", "payload", f[1] }, "Field required")
      end
    end
  end
  return set, errs
end

---------------------------------------------------------------------------
-- users
---------------------------------------------------------------------------
local USER_SPEC = {
  { "role", "enum", { required = true, values = { "admin", "staff", "user" } } },
  { "email", "email", { required = true, max = 254 } },
  { "external_user_id", "string", { nullable = true, max = 255 } },
  { "first_name", "string", { nullable = true, max = 150 } },
  { "last_name", "string", { nullable = true, max = 150 } },
  { "street_and_number", "string", { nullable = true, max = 255 } },
  { "street_add_info", "string", { nullable = true, max = 255 } },
  { "zip_code", "string", { nullable = true, max = 20 } },
  { "town", "string", { nullable = true, max = 100 } },
  { "country", "string", { nullable = true, max = 100 } },
  { "latitude", "decimal", { nullable = true, ge = -90, le = 90 } },
  { "longitude", "decimal", { nullable = true, ge = -180, le = 180 } },
}
local USER_ALIASES = { country_iso2 = "country" }
-- appended to the list fields once a user was created or changed through the API
local USER_EXTRA = { "role", "street_and_number", "street_add_info", "zip_code", "town", "country", "latitude", "longitude" }

local function user_body(u)
  return dict:get("ubody:" .. u.id) or u.body
end

local function empty_user(org, uid)
  return { id = uid, dynamic = true, deleted = false, zone = org.zone, org = org,
           heat_pumps = {}, hps_by_id = {}, list_all = "[]", list_live = "[]",
           evs = {}, evs_by_id = {}, ivs = {}, ivs_by_id = {}, blds = {}, blds_by_id = {}, ecs = {} }
end

-- the seed user, or a user created through the API, with heat pumps registered at run time added
function M.find_user(org, uid)
  uid = uid:lower()
  local u = org.users_by_id[uid]
  if not u then
    if dict:get("uorg:" .. uid) ~= org.id then return nil end
    u = empty_user(org, uid)
    u.body = dict:get("ubody:" .. uid)
  end
  local ids = id_list("hpnew:" .. uid)
  if #ids == 0 then return u end
  local p = setmetatable({}, { __index = u })
  p.heat_pumps, p.hps_by_id = {}, setmetatable({}, { __index = u.hps_by_id })
  for _, h in ipairs(u.heat_pumps) do p.heat_pumps[#p.heat_pumps + 1] = h end
  for _, id in ipairs(ids) do
    local info = { id = id, body = dict:get("hpbody:" .. id), deleted = false, action_codes = {} }
    p.heat_pumps[#p.heat_pumps + 1] = info
    p.hps_by_id[id] = info
  end
  return p
end

-- any org: returns org, user
local function find_user_anywhere(uid)
  uid = uid:lower()
  for _, org in ipairs(model.orgs) do
    if org.users_by_id[uid] then return org, M.find_user(org, uid) end
  end
  local oid = dict:get("uorg:" .. uid)
  local org = oid and model.orgs_by_id[oid]
  if org then return org, M.find_user(org, uid) end
  return nil
end

function M.users_list(org, incl)
  if not dict:get("udirty:" .. org.id) then return incl and org.list_all or org.list_live end
  local parts = {}
  for _, u in ipairs(org.users) do
    if incl or not u.deleted then parts[#parts + 1] = user_body(u) end
  end
  for _, id in ipairs(id_list("unew:" .. org.id)) do parts[#parts + 1] = dict:get("ubody:" .. id) end
  return "[" .. concat(parts, ",") .. "]"
end

-- the owner fields of a device, from the user's current body
local function owner_of(u)
  local o = J.decode(user_body(u))
  return { id = u.id, email = o:get("email"), first_name = o:get("first_name"), last_name = o:get("last_name"),
           external_id = o:get("external_id"), zone = u.zone }
end

local function apply_user_fields(obj, set)
  for _, k in ipairs(USER_EXTRA) do
    if obj:get(k) == nil then obj:add(k, k == "role" and "user" or null) end
  end
  for _, f in ipairs(USER_SPEC) do
    local k = f[1]
    local v = set[k]
    if v ~= nil then
      if k == "external_user_id" then obj:set("external_id", v) else obj:set(k, v) end
    end
  end
end

local function json_payload()
  return steering.json_body()
end

local function org_and_user(ids, incl)
  local org = model.orgs_by_id[ids[1]:lower()]
  if not org then return nil end
  local u = M.find_user(org, ids[2])
  if not u or (u.deleted and not incl) then return nil end
  return org, u
end

-- POST /org/{org}/users (api.lua checked method, token, ids)
function M.create_user(ids)
  local payload, resp = json_payload()
  if not payload then return resp end
  local set, errs = validate(payload, USER_SPEC, true, false, USER_ALIASES)
  if #errs > 0 then return unprocessable(errs) end
  local org = model.orgs_by_id[ids[1]:lower()]
  if not org then return not_found() end
  local id = new_id()
  local now = now_iso()
  local obj = J.obj()
    :add("id", id):add("email", set.email):add("first_name", null):add("last_name", null)
    :add("external_id", null):add("language", "en"):add("created_at", now):add("updated_at", now)
    :add("deleted_at", null)
  apply_user_fields(obj, set)
  dict:set("ubody:" .. id, J.encode(obj))
  dict:set("uorg:" .. id, org.id)
  id_push("unew:" .. org.id, id)
  dict:set("udirty:" .. org.id, 1)
  return H.json(201, dict:get("ubody:" .. id))
end

local function user_route(method, ids, incl)
  if method == "GET" then
    local _, u = org_and_user(ids, incl)
    if not u then return not_found() end
    return H.json(200, user_body(u))
  end
  local payload, resp = json_payload()
  if not payload then return resp end
  local set, errs = validate(payload, USER_SPEC, false, false, USER_ALIASES)
  if #errs > 0 then return unprocessable(errs) end
  local org, u = org_and_user(ids, incl)
  if not u then return not_found() end
  local obj = parse_raw(user_body(u))
  apply_user_fields(obj, set)
  obj:set("updated_at", now_iso())
  dict:set("ubody:" .. u.id, J.encode(obj))
  dict:set("udirty:" .. org.id, 1)
  return H.json(200, dict:get("ubody:" .. u.id))
end

---------------------------------------------------------------------------
-- heat pump registration: POST .../heat-pumps
---------------------------------------------------------------------------
local HP_NULL_ON_REGISTER = { "current_state_last_updated_at", "last_monitoring_executed_at", "inlet_temperature",
  "outlet_temperature", "dhw_temperature", "outdoor_temperature", "indoor_actual_temperature",
  "consumption_last_day_kwh", "consumption_last_week_kwh", "consumption_last_month_kwh",
  "consumption_last_updated_at", "current_power_consumption_w", "current_mode", "pause_power_until" }
local POLICY = { heating_policy_name = true, maximum_temperature_limit = true, minimum_temperature_limit = true,
  minimum_dhw_temperature_limit = true, is_heating_policy_enabled = true }
local AWAY = { away_mode_start = true, away_mode_end = true, is_away_mode_enabled = true,
  away_mode_minimum_temperature_limit = true }

-- a heat pump made at run time; returns its body object
local function new_heat_pump(u, id, seq, opts)
  local P = prng.new(prng.seed_of(41, seq))
  local NOW = seed.util.NOW
  local obj = seed.util.make_heat_pump(P, id, owner_of(u), NOW - 30 * 86400,
    { deleted = false, actions = {}, extra = false, status = opts.status, zone = opts.zone })
  local now = now_iso()
  obj:set("created_at", now)
  obj:set("updated_at", now)
  obj:set("lifecycle_state", opts.lifecycle)
  obj:set("lifecycle_error", null)
  obj:set("is_authenticated", opts.lifecycle == "authenticated")
  if opts.smart ~= nil then obj:set("is_smart_optimization_active", opts.smart) end
  return obj
end

local function store_new_hp(u, id, obj)
  dict:set("hpbody:" .. id, J.encode(obj))
  id_push("hpnew:" .. u.id, id)
  dict:set("hpdirty:" .. u.id, 1)
end

function M.register_heat_pump(ids, incl)
  local payload, resp = json_payload()
  if not payload then return resp end
  local errs = J.array({})
  local set = {}
  for _, k in ipairs(payload.keys) do
    local v, e
    if k == "is_forecasting_enabled" then
      v, e = check("bool", {}, payload.vals[k], { "body", "payload", k })
    elseif steering.WRITABLE[k] then
      v, e = steering.check_field(k, payload.vals[k])
    end
    if v ~= nil then set[#set + 1] = { k, v } elseif e then errs[#errs + 1] = e end
  end
  if #errs > 0 then return unprocessable(errs) end
  local _, u = org_and_user(ids, incl)
  if not u then return not_found() end
  local seq = new_seq()
  local id = new_id(seq)
  local obj = new_heat_pump(u, id, seq, { status = "unknown", lifecycle = "onboarding" })
  for _, k in ipairs(HP_NULL_ON_REGISTER) do obj:set(k, null) end
  obj:set("is_pause_power_active", false)
  local now = now_iso()
  local flag_given = false
  for _, kv in ipairs(set) do
    if kv[1] ~= "is_forecasting_enabled" then obj:set(kv[1], kv[2]) end -- not part of the answer
    if kv[1] == "is_pause_power_active" then flag_given = true end
    if POLICY[kv[1]] then obj:set("heating_policy_last_updated_at", now) end
    if AWAY[kv[1]] then obj:set("away_mode_last_updated_at", now) end
  end
  for _, kv in ipairs(set) do
    if kv[1] == "pause_power_until" and not flag_given then
      local t = kv[2] ~= null and parse_time(kv[2])
      obj:set("is_pause_power_active", (t and t > ngx.now()) and true or false)
    end
  end
  store_new_hp(u, id, obj)
  return H.json(201, steering.body({ id = id, body = dict:get("hpbody:" .. id) }))
end

---------------------------------------------------------------------------
-- items of a user: ev, iv, bld (seed items in u.evs / u.ivs / u.blds, new ones in the dict)
---------------------------------------------------------------------------
local function items(u, kind)
  local out = {}
  for _, it in ipairs(u[kind .. "s"] or {}) do out[#out + 1] = { id = it.id, deleted = it.deleted, seed = it } end
  for _, id in ipairs(id_list(kind .. "new:" .. u.id)) do out[#out + 1] = { id = id, deleted = false } end
  return out
end

local function item_body(kind, it) return dict:get(kind .. ":" .. it.id) or (it.seed and it.seed.body) end

local function find_item(u, kind, id)
  id = id:lower()
  local s = (u[kind .. "s_by_id"] or {})[id]
  if s then return { id = id, deleted = s.deleted, seed = s } end
  for _, x in ipairs(id_list(kind .. "new:" .. u.id)) do
    if x == id then return { id = id, deleted = false } end
  end
  return nil
end

local function list_body(u, kind, incl)
  local parts = {}
  for _, it in ipairs(items(u, kind)) do
    if incl or not it.deleted then parts[#parts + 1] = item_body(kind, it) end
  end
  return "[" .. concat(parts, ",") .. "]"
end

local function store_new_item(u, kind, id, obj)
  dict:set(kind .. ":" .. id, J.encode(obj))
  id_push(kind .. "new:" .. u.id, id)
end

---------------------------------------------------------------------------
-- buildings
---------------------------------------------------------------------------
local BUILDING_SPEC = {
  { "name", "string", { required = true, max = 100 } },
  { "property_type", "string", { nullable = true, max = 50 } },
  { "property_size_m2", "decimal", { nullable = true, ge = 0 } },
  { "property_age", "int", { nullable = true, ge = 0 } },
  { "num_occupants", "int", { nullable = true, ge = 0 } },
  { "occupant_type", "string", { nullable = true, max = 50 } },
  { "space_heating", "string", { nullable = true, max = 50 } },
  { "water_heating", "string", { nullable = true, max = 50 } },
  { "photovoltaic", "bool", { default = false } },
  { "street_and_number", "string", { nullable = true, max = 255 } },
  { "street_add_info", "string", { nullable = true, max = 255 } },
  { "zip_code", "string", { nullable = true, max = 20 } },
  { "town", "string", { nullable = true, max = 100 } },
  { "country", "string", { nullable = true, max = 100 } },
}

local function create_building(ids, incl)
  local payload, resp = json_payload()
  if not payload then return resp end
  local set, errs = validate(payload, BUILDING_SPEC, true, false)
  if #errs > 0 then return unprocessable(errs) end
  local _, u = org_and_user(ids, incl)
  if not u then return not_found() end
  local id = new_id()
  local obj = J.obj():add("id", id)
  for _, f in ipairs(BUILDING_SPEC) do
    local v = set[f[1]]
    if v == nil then v = f[3].default end
    if v == nil then v = null end
    obj:add(f[1], v)
  end
  store_new_item(u, "bld", id, obj)
  return H.json(201, dict:get("bld:" .. id))
end

---------------------------------------------------------------------------
-- energy contracts
---------------------------------------------------------------------------
local CONTRACT_SPEC = {
  { "energy_contract_type", "enum", { required = true, values = { "spot_hourly", "monthly", "yearly" } } },
  { "energy_prices", "prices", { default = true } },
  { "building_id", "uuid", { nullable = true } },
  { "meter_id", "string", { nullable = true, max = 19 } },
  { "supplier", "string", { nullable = true, max = 100 } },
  { "currency_energy_price", "currency", { default = "EUR" } },
  { "energy_price_includes_external_components", "bool", { default = false } },
}

local function create_contract(ids, incl)
  local payload, resp = json_payload()
  if not payload then return resp end
  local set, errs = validate(payload, CONTRACT_SPEC, true, false)
  if #errs > 0 then return unprocessable(errs) end
  local _, u = org_and_user(ids, incl)
  if not u then return not_found() end
  local building = null
  if set.building_id and set.building_id ~= null then
    local b = find_item(u, "bld", set.building_id)
    if not b then return not_found() end
    building = J.decode(item_body("bld", b), 64, true)
  end
  local id = new_id()
  local obj = J.obj():add("id", id)
  for _, f in ipairs(CONTRACT_SPEC) do
    local v = set[f[1]]
    if v == nil then
      if f[1] == "energy_prices" then v = J.array({}) else v = f[3].default end
    end
    if v == nil then v = null end
    obj:add(f[1], v)
  end
  obj:add("building", building)
  store_new_item(u, "ec", id, obj)
  return H.json(201, dict:get("ec:" .. id))
end

---------------------------------------------------------------------------
-- electric vehicles
---------------------------------------------------------------------------
local EV_SPEC = {
  { "minimum_charge_limit", "decimal", { ge = 0, le = 100 } },
  { "charge_deadline_at", "hhmm", { nullable = true } },
  { "is_charge_policy_enabled", "bool", {} },
  { "is_smart_optimization_active", "bool", {} },
  { "external_device_id", "string", { nullable = true, max = 255 } },
  { "price_zone", "enum", { values = steering.PRICE_ZONES } },
}
local EV_POLICY = { minimum_charge_limit = true, charge_deadline_at = true, is_charge_policy_enabled = true }

local function num_of(v)
  if type(v) == "number" then return v end
  if type(v) == "string" then return tonumber(v) end
  return nil
end

local function update_ev(it)
  local payload, resp = json_payload()
  if not payload then return resp end
  local set, errs = validate(payload, EV_SPEC, false, true)
  if #errs > 0 then return unprocessable(errs) end
  local obj = parse_raw(item_body("ev", it))
  local now = now_iso()
  local policy = false
  for _, f in ipairs(EV_SPEC) do
    local k, v = f[1], set[f[1]]
    if v ~= nil then
      if k == "minimum_charge_limit" then
        -- kept in the vehicle's style: a Decimal string, or a JSON number
        local cur = obj:get(k)
        local as_string = J.is_raw(cur) and cur.text:sub(1, 1) == '"'
        local n = tonumber(v)
        v = as_string and J.encode_number(n) or J.raw(J.encode_number(n))
      end
      obj:set(k, v)
      if EV_POLICY[k] then policy = true end
    end
  end
  if policy then obj:set("charge_policy_last_updated_at", now) end
  obj:set("updated_at", now)
  dict:set("ev:" .. it.id, J.encode(obj))
  return H.json(200, dict:get("ev:" .. it.id))
end

local function boost_ev(it)
  local body = item_body("ev", it)
  local cur = J.decode(body)
  local state = cur:get("boost_state")
  local level, cap = num_of(cur:get("battery_level")), num_of(cur:get("charge_target_max"))
  if cur:get("is_charging") == true or state == "ongoing" then
    return H.detail(409, "Vehicle is already charging.")
  end
  if level and cap and level >= cap then
    return H.detail(409, "Vehicle battery is full.")
  end
  if state == "unavailable" then
    if cur:get("is_plugged_in") == false then
      return H.detail(409, "Boost is unavailable: the vehicle is not plugged in.")
    end
    return H.detail(409, "Boost is unavailable for this vehicle.")
  end
  local obj = parse_raw(body)
  obj:set("boost_state", "requested")
  obj:set("updated_at", now_iso())
  dict:set("ev:" .. it.id, J.encode(obj))
  return H.json(200, dict:get("ev:" .. it.id))
end

---------------------------------------------------------------------------
-- device onboarding
---------------------------------------------------------------------------
local LANGS = { "sv", "de", "en", "hu", "it", "et", "pl", "ro" }
local DEVICE_TYPES = { "ev", "iv", "wb", "hp" }
local ONBOARDING_SPEC = {
  { "user_id", "uuid", { required = true } },
  { "success_url", "string", { required = true, max = 8000 } },
  { "cancel_url", "string", { required = true, max = 8000 } },
  { "language", "enum", { nullable = true, values = LANGS } },
  { "price_zone_default", "enum", { nullable = true, values = steering.PRICE_ZONES } },
  { "is_smart_optimization_active_default", "bool", { nullable = true } },
  { "building_id", "uuid", { nullable = true } },
  { "device_type", "enum", { nullable = true, values = DEVICE_TYPES } },
}

-- session info: { id, body, org, user, device_type, building_id, price_zone_default, smart_default }
local function find_session(id)
  id = id:lower()
  local s = model.sessions_by_id[id]
  if s then
    return { id = id, body = dict:get("obs:" .. id) or s.body, org = s.org, user_id = s.user.id,
             device_type = s.device_type, building_id = s.building_id }
  end
  local meta = dict:get("obsmeta:" .. id)
  if not meta then return nil end
  local m = J.decode(meta)
  local function g(k) local v = m:get(k); if v == null then return nil end return v end
  return { id = id, body = dict:get("obs:" .. id), org = model.orgs_by_id[g("org")], user_id = g("user"),
           device_type = g("device_type"), building_id = g("building_id"),
           price_zone_default = g("price_zone_default"), smart_default = g("smart_default") }
end

local function create_session()
  local payload, resp = json_payload()
  if not payload then return resp end
  local set, errs = validate(payload, ONBOARDING_SPEC, true, false)
  if #errs > 0 then return unprocessable(errs) end
  local org, u = find_user_anywhere(set.user_id)
  if not u or u.deleted then return not_found() end
  if set.building_id and set.building_id ~= null and not find_item(u, "bld", set.building_id) then
    return not_found()
  end
  local id = new_id()
  local function nn(v) if v == nil then return null end return v end
  local obj = SD.session_obj(id, u.id, set.success_url, set.cancel_url, SD.end_of_next_day(ngx.time()), nil, nil)
  dict:set("obs:" .. id, J.encode(obj))
  dict:set("obsmeta:" .. id, J.encode(J.obj():add("org", org.id):add("user", u.id)
    :add("device_type", nn(set.device_type)):add("building_id", nn(set.building_id))
    :add("price_zone_default", nn(set.price_zone_default))
    :add("smart_default", nn(set.is_smart_optimization_active_default))
    :add("language", nn(set.language))))
  id_push("obsnew", id)
  return H.json(201, dict:get("obs:" .. id))
end

---------------------------------------------------------------------------
-- savings
---------------------------------------------------------------------------
local function query_time(args, name, errs)
  local v = args[name]
  if type(v) == "table" then v = v[#v] end
  local loc = { "query", name }
  if v == nil then errs[#errs + 1] = err_entry("missing", loc, "Field required"); return nil end
  if v == true then v = "" end
  local t = parse_time(v)
  if t then return t end
  if v:match("^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d%.?%d*$") then
    errs[#errs + 1] = err_entry("timezone_aware", loc, "Input should have timezone info", v)
  else
    errs[#errs + 1] = err_entry("datetime_parsing", loc, "Input should be a valid datetime", v)
  end
  return nil
end

local function savings(org_id)
  local args = ngx.req.get_uri_args(100)
  local errs = J.array({})
  local s = query_time(args, "start_datetime", errs)
  local e = query_time(args, "end_datetime", errs)
  if s and e and e < s then
    errs[#errs + 1] = err_entry("value_error", { "query", "end_datetime" },
      "Value error, end_datetime must not be before start_datetime", args.end_datetime)
  end
  if #errs > 0 then return unprocessable(errs) end
  local org = model.orgs_by_id[org_id:lower()]
  if not org then return not_found() end
  -- cents per day and device, from the org's own stream; device counts from the seed
  local P = prng.new(prng.seed_of(32, org.index))
  local nhp, nev, niv = 0, 0, 0
  for _, u in ipairs(org.users) do
    if not u.deleted then
      for _, h in ipairs(u.heat_pumps) do if not h.deleted then nhp = nhp + 1 end end
      for _, x in ipairs(u.evs or {}) do if not x.deleted then nev = nev + 1 end end
      for _, x in ipairs(u.ivs or {}) do if not x.deleted then niv = niv + 1 end end
    end
  end
  local secs = e - s
  local function cents(rate, n) return floor(rate * n * secs / 86400 + 0.5) end
  local hp, ev, iv = cents(P:range(20, 90), nhp), cents(P:range(10, 60), nev), cents(P:range(5, 40), niv)
  local function money(c) return J.raw(format("%d.%02d", floor(c / 100), c % 100)) end
  return H.json(200, J.obj()
    :add("total_savings", money(hp + ev + iv))
    :add("heat_pump_savings", money(hp))
    :add("electric_vehicle_savings", money(ev))
    :add("inverter_savings", money(iv)))
end

---------------------------------------------------------------------------
-- routing (api.lua calls handle_path for paths it does not know)
---------------------------------------------------------------------------
local ROUTES = {
  { "^/org/([^/]+)/users/([^/]+)$", "user", "GET, PUT", { "org_id", "user_id" } },
  { "^/org/([^/]+)/users/([^/]+)/buildings$", "buildings", "POST", { "org_id", "user_id" } },
  { "^/org/([^/]+)/users/([^/]+)/buildings/([^/]+)$", "building", "GET", { "org_id", "user_id", "building_id" } },
  { "^/org/([^/]+)/users/([^/]+)/energy%-contracts$", "contracts", "POST", { "org_id", "user_id" } },
  { "^/org/([^/]+)/users/([^/]+)/electric%-vehicles$", "evs", "GET", { "org_id", "user_id" } },
  { "^/org/([^/]+)/users/([^/]+)/electric%-vehicles/([^/]+)$", "ev", "GET, PUT", { "org_id", "user_id", "ev_id" } },
  { "^/org/([^/]+)/users/([^/]+)/electric%-vehicles/([^/]+)/boost$", "boost", "POST", { "org_id", "user_id", "ev_id" } },
  { "^/org/([^/]+)/users/([^/]+)/inverters$", "ivs", "GET", { "org_id", "user_id" } },
  { "^/device%-onboarding$", "sessions", "POST", {} },
  { "^/device%-onboarding/([^/]+)$", "session", "GET", { "session_id" } },
  { "^/org/([^/]+)/devices/savings$", "savings", "GET", { "org_id" } },
}

function M.handle_path(uri)
  if uri:sub(1, #PREFIX) ~= PREFIX then return nil end
  local rest = uri:sub(#PREFIX + 1)
  local route, ids
  for _, r in ipairs(ROUTES) do
    local m = { rest:match(r[1]) }
    if m[1] or (#r[4] == 0 and rest:match(r[1])) then route, ids = r, m; break end
  end
  if not route then return nil end
  local method = ngx.req.get_method()
  local allowed = false
  for m in route[3]:gmatch("[A-Z]+") do if m == method then allowed = true end end
  if not allowed then return method_not_allowed(route[3]) end
  if not helpers.bearer_ok() then return helpers.unauthorized() end

  local kind = route[2]
  local errs = helpers.validate_ids(route[4], ids)
  local incl = false
  if route[4][2] == "user_id" then
    local qerr
    incl, qerr = helpers.include_deleted()
    if qerr then errs[#errs + 1] = qerr end
  end
  if #errs > 0 then return unprocessable(errs) end

  if kind == "user" then return user_route(method, ids, incl) end
  if kind == "buildings" then return create_building(ids, incl) end
  if kind == "contracts" then return create_contract(ids, incl) end
  if kind == "sessions" then return create_session() end
  if kind == "savings" then return savings(ids[1]) end
  if kind == "session" then
    local s = find_session(ids[1])
    if not s then return not_found() end
    return H.json(200, s.body)
  end

  local _, u = org_and_user(ids, incl)
  if kind == "ev" and method == "PUT" then
    -- the body is checked before what it names is looked up
    local payload, resp = json_payload()
    if not payload then return resp end
    local _, verrs = validate(payload, EV_SPEC, false, true)
    if #verrs > 0 then return unprocessable(verrs) end
  end
  if not u then return not_found() end
  if kind == "evs" then return H.json(200, list_body(u, "ev", incl)) end
  if kind == "ivs" then return H.json(200, list_body(u, "iv", incl)) end
  local ikind = kind == "building" and "bld" or "ev"
  local it = find_item(u, ikind, ids[3])
  if not it or (it.deleted and not incl) then return not_found() end
  if kind == "building" then return H.json(200, item_body("bld", it)) end
  if kind == "boost" then return boost_ev(it) end
  if method == "PUT" then return update_ev(it) end
  return H.json(200, item_body("ev", it))
end

---------------------------------------------------------------------------
-- control: GET /_sandbox/seed/devices, POST /_sandbox/onboarding/{id}/complete
---------------------------------------------------------------------------
local function bad(msg) return H.json(400, J.obj():add("error", "bad_request"):add("message", msg)) end

local function complete_session(id)
  local s = id:match(UUID_PAT) and find_session(id)
  if not s then return H.json(404, J.obj():add("detail", "Not Found")) end
  local body = H.read_body() or ""
  local typ = s.device_type or "hp"
  if not body:match("^%s*$") then
    local v, e = J.decode(body)
    if v == nil then return bad("malformed JSON: " .. e) end
    if not J.is_obj(v) then return bad("body must be a JSON object") end
    for _, k in ipairs(v.keys) do
      if k ~= "device_type" then return bad("unknown key '" .. k .. "'") end
    end
    local t = v:get("device_type")
    if t ~= nil and t ~= null then
      if t ~= "ev" and t ~= "iv" and t ~= "hp" then return bad("'device_type' must be \"ev\", \"iv\" or \"hp\"") end
      typ = t
    end
  end
  if typ ~= "ev" and typ ~= "iv" and typ ~= "hp" then
    return bad("the session's device_type is '" .. typ .. "': give {\"device_type\":\"ev\"|\"iv\"|\"hp\"}")
  end
  local cur = J.decode(s.body)
  if cur:get("object_id") ~= null then
    return H.json(409, J.obj():add("error", "conflict"):add("message", "the session is already completed"))
  end
  local u = s.org and M.find_user(s.org, s.user_id)
  if not u then return H.json(404, J.obj():add("detail", "Not Found")) end

  local seq = new_seq()
  local did = new_id(seq)
  local owner = owner_of(u)
  local device
  local opts = { deleted = false, status = "ok", lifecycle = "authenticated", authenticated = true,
                 building = s.building_id, zone = s.price_zone_default or u.zone, smart = s.smart_default,
                 created_at = now_iso() }
  opts.updated_at = opts.created_at
  if typ == "hp" then
    device = new_heat_pump(u, did, seq, { status = "ok", lifecycle = "authenticated", zone = opts.zone,
                                          smart = s.smart_default })
    store_new_hp(u, did, device)
  elseif typ == "ev" then
    opts.state, opts.full = "available", false
    device = SD.make_ev(prng.new(prng.seed_of(42, seq)), did, owner, opts)
    store_new_item(u, "ev", did, device)
  else
    opts.battery = (seq % 2) == 1
    device = SD.make_inverter(prng.new(prng.seed_of(43, seq)), did, owner, opts)
    store_new_item(u, "iv", did, device)
  end
  local obj = parse_raw(s.body)
  obj:set("object_id", did)
  dict:set("obs:" .. s.id, J.encode(obj))
  return H.json(200, J.encode(device))
end

-- returns a response for the control paths of this module, or nil
function M.admin(uri)
  local method = ngx.req.get_method()
  if uri == "/_sandbox/seed/devices" then
    if method ~= "GET" and method ~= "HEAD" then
      return H.json(405, J.obj():add("detail", "Method Not Allowed"), { Allow = "GET" })
    end
    return H.json(200, describe_body)
  end
  local id = uri:match("^/_sandbox/onboarding/([^/]+)/complete$")
  if id then
    if method ~= "POST" then
      return H.json(405, J.obj():add("detail", "Method Not Allowed"), { Allow = "POST" })
    end
    return complete_session(id)
  end
  return nil
end

return M
