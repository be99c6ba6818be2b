--- podero.partner: the rest of the Partner API around heat pumps: users, buildings, energy
-- contracts, heat pump registration, electric vehicles (read, update, boost), inverters, device
-- onboarding sessions and savings.
--
-- Installed by `require("podero")`: this module returns a function(podero, core, client_methods,
-- helpers) that adds client methods (`create_user`, `update_user`, `register_heat_pump`,
-- `create_building`, `create_energy_contract`, `update_electric_vehicle`,
-- `boost_electric_vehicle`, `create_onboarding_session`, `onboarding_session`, `savings`,
-- `fetch_electric_vehicles`) and the methods of electric vehicle objects (`update`, `boost`,
-- `refresh`). The plain reads (`user`, `building`, `electric_vehicles`, `electric_vehicle`,
-- `inverters`) are endpoints of the C core (csrc/api.c), like `heat_pump`.
--
-- Every call goes through `client:_request` / `client:_batch`, so both clients (libcurl and
-- nginx) serve the same methods with the same results. Bodies are checked before anything is
-- sent (unknown keys, types, enums, lengths, required fields): a bad one raises naming the field.
-- Retry rules are the C core's: PUT and GET are idempotent; every POST here (the creates, the
-- registration, the onboarding session, boost) is retried only when the request certainly never
-- left (connection refused, DNS), never after a 5xx, a 429 or a timeout.
--
-- @module podero.partner

local cjson = require("cjson")

local type, pairs, ipairs, tostring, setmetatable = type, pairs, ipairs, tostring, setmetatable
local fmt, sort = string.format, table.sort

local API = "/api/partners/v2.0"

return function(podero, core, client_methods, h)
  local null = cjson.null
  local raise, check_uuid, check_typed, to_epoch, iso = h.raise, h.check_uuid, h.check_typed, h.to_epoch, h.iso
  local shown, is_finite_number, send = h.shown, h.is_finite_number, h.send
  local ev_methods = core.electric_vehicle_methods

  local function sorted(t) sort(t); return t end
  local function quoted(v) return type(v) == "string" and fmt("%q", v:sub(1, 40)) or type(v) end

  ---------------------------------------------------------------------------
  -- the field tables of csrc/schema.c: Decimal fields per kind, writable EV fields
  ---------------------------------------------------------------------------
  local function read_schema(list)
    local decimal, writable = {}, {}
    for _, f in ipairs(list) do
      if f.decimal then decimal[#decimal + 1] = f.name end
      if f.type then
        local extra = f.max_length
        if f.values then
          extra = {}
          for _, v in ipairs(f.values) do extra[v] = true end
        end
        writable[f.name] = { f.type, f.nullable, extra, f.hint }
      end
    end
    return sorted(decimal), writable
  end

  -- podero.DECIMAL_FIELDS stays the sorted list of the heat pump's Decimal fields (as before);
  -- .heat_pump, .electric_vehicle and .inverter are the lists per kind (through its metatable,
  -- so that ipairs/pairs/# see only the heat pump's, as before)
  local hp_decimal = read_schema(core.heat_pump_fields)
  local ev_decimal, EV_WRITABLE = read_schema(core.electric_vehicle_fields)
  local iv_decimal = read_schema(core.inverter_fields)
  setmetatable(podero.DECIMAL_FIELDS, { __index = {
    heat_pump = hp_decimal, electric_vehicle = ev_decimal, inverter = iv_decimal } })
  podero.WRITABLE_ELECTRIC_VEHICLE_FIELDS = {}
  for k in pairs(EV_WRITABLE) do podero.WRITABLE_ELECTRIC_VEHICLE_FIELDS[#podero.WRITABLE_ELECTRIC_VEHICLE_FIELDS + 1] = k end
  sort(podero.WRITABLE_ELECTRIC_VEHICLE_FIELDS)

  -- percentages the update may set: 0..100
  local EV_PERCENT = { minimum_charge_limit = true }

  local PRICE_ZONE
  for _, f in ipairs(core.heat_pump_fields) do if f.name == "price_zone" then PRICE_ZONE = f end end
  local function enum(values, hint, nullable)
    local set = {}
    for v in values:gmatch("%S+") do set[v] = true end
    return { "enum", nullable, set, hint }
  end
  local ZONES = {}
  for _, v in ipairs(PRICE_ZONE.values) do ZONES[#ZONES + 1] = v end
  ZONES = table.concat(ZONES, " ")

  ---------------------------------------------------------------------------
  -- body checks: spec = { type, nullable, extra, hint } (steering's check_typed) or a function
  -- fn(fn, name, v) -> the value to send
  ---------------------------------------------------------------------------
  local ANY = 1e9     -- a string without a documented limit
  local function str(max, nullable) return { "string", nullable ~= false, max or ANY } end
  local function num(lo, hi, nullable)
    return function(fn, name, v)
      if v == null and nullable ~= false then return null end
      if not is_finite_number(v) then raise(fn, "%s must be a finite number, got %s", name, shown(v)) end
      if (lo and v < lo) or (hi and v > hi) then
        if not hi then raise(fn, "%s must be at least %s, got %s", name, tostring(lo), shown(v)) end
        raise(fn, "%s must be from %s to %s, got %s", name, tostring(lo), tostring(hi), shown(v))
      end
      return v
    end
  end
  local function whole(lo)
    local f = num(lo, nil)
    return function(fn, name, v)
      v = f(fn, name, v)
      if v ~= null and v ~= math.floor(v) then raise(fn, "%s must be a whole number, got %s", name, shown(v)) end
      return v
    end
  end
  local BOOL = { "boolean", false }
  local function uuid(nullable)
    return function(fn, name, v)
      if v == null and nullable then return null end
      return check_uuid(fn, name, v)
    end
  end
  -- a URL the user is sent back to: non-empty, no control characters, at most 8000 characters
  local function url(fn, name, v)
    local s = check_typed(fn, { "string", false, 8000 }, v, name)
    if s == "" or s:find("%c") then raise(fn, "%s must be a non-empty URL without control characters", name) end
    return s
  end
  local function email(fn, name, v)
    local s = check_typed(fn, { "string", false, 254 }, v, name)
    if not s:match("^[^%s@]+@[^%s@]+$") then raise(fn, "%s must be an e-mail address, got %s", name, quoted(s)) end
    return s
  end
  local function letters(n, what)
    return function(fn, name, v)
      if v == null then return null end
      if type(v) ~= "string" or #v ~= n or not v:match("^%u+$") then
        raise(fn, "%s must be %s (%d upper-case letters), got %s", name, what, n, quoted(v))
      end
      return v
    end
  end
  -- energy_prices: a list of { price = number, timestamp = time }
  local function prices(fn, name, v)
    if type(v) ~= "table" or podero.is_object(v) then raise(fn, "%s must be a list of { price, timestamp }, got %s", name, type(v)) end
    local out = setmetatable({}, podero.array_mt)
    for k, p in pairs(v) do
      if type(k) ~= "number" or k < 1 or k > #v or k ~= math.floor(k) then
        raise(fn, "%s must be a list (keys 1..n), got a key %s", name, tostring(k))
      end
      local at = fmt("%s[%d]", name, k)
      if type(p) ~= "table" then raise(fn, "%s must be a table { price =, timestamp = }, got %s", at, type(p)) end
      for pk in pairs(p) do
        if pk ~= "price" and pk ~= "timestamp" then raise(fn, "unknown key %s in %s", quoted(pk), at) end
      end
      if not is_finite_number(p.price) then raise(fn, "%s.price must be a finite number, got %s", at, shown(p.price)) end
      if p.timestamp == nil then raise(fn, "%s.timestamp is required", at) end
      out[k] = { price = p.price, timestamp = iso(to_epoch(fn, at .. ".timestamp", p.timestamp)) }
    end
    return out
  end

  local USER = {
    role = enum("admin staff user", "\"admin\", \"staff\" or \"user\"", false), email = email,
    external_user_id = str(255), first_name = str(), last_name = str(), street_and_number = str(),
    street_add_info = str(), zip_code = str(), town = str(), country = str(),
    country_iso2 = letters(2, "an ISO 3166-1 alpha-2 country code"),
    latitude = num(-90, 90), longitude = num(-180, 180),
  }
  local BUILDING = {
    name = str(100, false), property_type = str(50), property_size_m2 = num(0, nil), property_age = whole(0),
    num_occupants = whole(0), occupant_type = str(), space_heating = str(), water_heating = str(),
    photovoltaic = BOOL, street_and_number = str(), street_add_info = str(), zip_code = str(20), town = str(),
    country = str(),
  }
  local CONTRACT = {
    energy_contract_type = enum("spot_hourly monthly yearly", "\"spot_hourly\", \"monthly\" or \"yearly\"", false),
    energy_prices = prices, building_id = uuid(true), meter_id = str(19), supplier = str(100),
    currency_energy_price = letters(3, "an ISO 4217 currency code"),
    energy_price_includes_external_components = BOOL,
  }
  local ONBOARDING = {
    user_id = uuid(false), success_url = url, cancel_url = url,
    language = enum("sv de en hu it et pl ro", "one of sv, de, en, hu, it, et, pl, ro", false),
    price_zone_default = enum(ZONES, PRICE_ZONE.hint, false),
    is_smart_optimization_active_default = BOOL, building_id = uuid(false),
    device_type = enum("ev iv wb hp", "\"ev\", \"iv\", \"wb\" or \"hp\"", false),
  }
  -- a heat pump's registration: the writable fields of its update, and is_forecasting_enabled
  local REGISTRATION = { is_forecasting_enabled = BOOL }
  for _, f in ipairs(core.heat_pump_fields) do
    if f.type then
      local extra = f.max_length
      if f.values then
        extra = {}
        for _, v in ipairs(f.values) do extra[v] = true end
      end
      REGISTRATION[f.name] = { f.type, f.nullable, extra, f.hint }
    end
  end

  -- checks a body against specs; required: names that must be there (not null); empty_ok: an
  -- empty table is allowed. Returns the table to send (times as UTC ISO strings).
  local function check_body(fn, what, fields, specs, required, empty_ok, listname)
    if type(fields) ~= "table" then raise(fn, "%s must be a table, got %s", what, type(fields)) end
    if podero.is_object(fields) then raise(fn, "%s must be a plain table (use obj:to_table() for a copy)", what) end
    local out, n = {}, 0
    for k, v in pairs(fields) do
      if type(k) ~= "string" then raise(fn, "field names must be strings, got %s", type(k)) end
      local spec = specs[k]
      if not spec then
        raise(fn, "unknown %sfield %q%s", listname and "or read-only " or "", k,
          listname and (" (writable: see " .. listname .. ")") or "")
      end
      if type(spec) == "function" then out[k] = spec(fn, k, v) else out[k] = (check_typed(fn, spec, v, k)) end
      n = n + 1
    end
    for _, k in ipairs(required or {}) do
      if fields[k] == nil or fields[k] == null then raise(fn, "%s.%s is required", what, k) end
    end
    if n == 0 and not empty_ok then raise(fn, "%s is empty: give at least one field", what) end
    return out
  end

  local function user_path(org, user) return fmt("%s/org/%s/users/%s", API, org, user) end
  local function ev_path(org, user, id) return fmt("%s/electric-vehicles/%s", user_path(org, user), id) end

  ---------------------------------------------------------------------------
  -- users, buildings, energy contracts, heat pump registration
  ---------------------------------------------------------------------------

  --- client:create_user(org_id, fields) -> the user, or nil, err. POST /org/{org}/users;
  -- fields.role ("admin" | "staff" | "user") and fields.email are required.
  function client_methods.create_user(client, org_id, fields)
    local fn = "create_user"
    local org = check_uuid(fn, "org_id", org_id)
    local body = check_body(fn, "fields", fields, USER, { "role", "email" })
    return send(client, "POST", fmt("%s/org/%s/users", API, org), body)
  end

  --- client:update_user(org_id, user_id, changes) -> the user, or nil, err. A partial PUT.
  function client_methods.update_user(client, org_id, user_id, changes)
    local fn = "update_user"
    local org = check_uuid(fn, "org_id", org_id)
    local user = check_uuid(fn, "user_id", user_id)
    local body = check_body(fn, "changes", changes, USER)
    return send(client, "PUT", user_path(org, user), body, "object", user)
  end

  --- client:register_heat_pump(org_id, user_id, fields) -> the heat pump (bound: hp:update,
  -- hp:refresh, ...), or nil, err. POST .../heat-pumps with the writable fields of
  -- update_heat_pump and is_forecasting_enabled.
  function client_methods.register_heat_pump(client, org_id, user_id, fields)
    local fn = "register_heat_pump"
    local org = check_uuid(fn, "org_id", org_id)
    local user = check_uuid(fn, "user_id", user_id)
    local body = check_body(fn, "fields", fields, REGISTRATION, nil, true)
    return send(client, "POST", user_path(org, user) .. "/heat-pumps", body, "heat_pump", nil, org, user)
  end

  --- client:create_building(org_id, user_id, fields) -> the building, or nil, err.
  -- POST .../buildings; fields.name (at most 100 characters) is required.
  function client_methods.create_building(client, org_id, user_id, fields)
    local fn = "create_building"
    local org = check_uuid(fn, "org_id", org_id)
    local user = check_uuid(fn, "user_id", user_id)
    local body = check_body(fn, "fields", fields, BUILDING, { "name" })
    return send(client, "POST", user_path(org, user) .. "/buildings", body)
  end

  --- client:create_energy_contract(org_id, user_id, fields) -> the contract, or nil, err.
  -- POST .../energy-contracts; fields.energy_contract_type is required.
  function client_methods.create_energy_contract(client, org_id, user_id, fields)
    local fn = "create_energy_contract"
    local org = check_uuid(fn, "org_id", org_id)
    local user = check_uuid(fn, "user_id", user_id)
    local body = check_body(fn, "fields", fields, CONTRACT, { "energy_contract_type" })
    return send(client, "POST", user_path(org, user) .. "/energy-contracts", body)
  end

  ---------------------------------------------------------------------------
  -- electric vehicles
  ---------------------------------------------------------------------------
  local function check_ev_changes(fn, changes)
    local body = check_body(fn, "changes", changes, EV_WRITABLE, nil, false, "podero.WRITABLE_ELECTRIC_VEHICLE_FIELDS")
    for k in pairs(EV_PERCENT) do
      local v = body[k]
      if type(v) == "number" and (v < 0 or v > 100) then raise(fn, "changes.%s must be a percentage from 0 to 100, got %s", k, shown(v)) end
    end
    return body
  end

  --- client:update_electric_vehicle(org_id, user_id, electric_vehicle_id, changes) -> the updated
  -- vehicle (bound), or nil, err. A partial PUT of the writable fields.
  function client_methods.update_electric_vehicle(client, org_id, user_id, ev_id, changes)
    local fn = "update_electric_vehicle"
    local org = check_uuid(fn, "org_id", org_id)
    local user = check_uuid(fn, "user_id", user_id)
    local id = check_uuid(fn, "electric_vehicle_id", ev_id)
    local body = check_ev_changes(fn, changes)
    return send(client, "PUT", ev_path(org, user, id), body, "electric_vehicle", id, org, user)
  end

  local BOOST_409 = "the vehicle cannot be boosted now: it is already charging or its battery is full, "
    .. "or boost is unavailable (HTTP 409)"

  local function boost(client, org, user, id)
    local ev, err = send(client, "POST", ev_path(org, user, id) .. "/boost", nil, "electric_vehicle", id, org, user)
    if not ev and type(err) == "table" and err.kind == "http" and err.status == 409 then
      local e = {}
      for k, v in pairs(err) do e[k] = v end
      -- the server's own words (after "the API answered HTTP 409 Conflict: ") stay at the end
      local detail = type(e.message) == "string" and e.message:match("^the API answered HTTP 409[^:]*: (.+)$")
      e.message = BOOST_409 .. (detail and (": " .. detail) or "")
      err = core.error(e)
    end
    return ev, err
  end

  --- client:boost_electric_vehicle(org_id, user_id, electric_vehicle_id) -> the vehicle as the
  -- answer has it, or nil, err (HTTP 409 when it is already charging or full). Never retried
  -- after a 5xx or a timeout.
  function client_methods.boost_electric_vehicle(client, org_id, user_id, ev_id)
    local fn = "boost_electric_vehicle"
    return boost(client, check_uuid(fn, "org_id", org_id), check_uuid(fn, "user_id", user_id),
      check_uuid(fn, "electric_vehicle_id", ev_id))
  end

  local function bound(fn, ev)
    local ctx = core.kind(ev) == "electric_vehicle" and core.context(ev)
    if not ctx or not ctx.user_id then
      raise(fn, "this object did not come from client:electric_vehicle / client:electric_vehicles (it knows no client)")
    end
    local id = ev.id
    if type(id) ~= "string" or not pcall(core.check_uuid, id, "id", fn) then raise(fn, "this electric vehicle has no id") end
    return ctx.client, ctx.org_id, ctx.user_id, id:lower()
  end

  --- ev:update(changes) -> the updated vehicle (a new object), or nil, err: update_electric_vehicle
  -- with the ids of ev (an object from electric_vehicle(s), fetch_electric_vehicles, an update).
  function ev_methods.update(ev, changes)
    local fn = "ev:update"
    local client, org, user, id = bound(fn, ev)
    return send(client, "PUT", ev_path(org, user, id), check_ev_changes(fn, changes), "electric_vehicle", id, org, user)
  end

  --- ev:boost() -> the vehicle as the answer has it, or nil, err (409: charging or full).
  function ev_methods.boost(ev)
    return boost(bound("ev:boost", ev))
  end

  --- ev:refresh() -> the vehicle read again (a new object), or nil, err.
  function ev_methods.refresh(ev)
    local client, org, user, id = bound("ev:refresh", ev)
    if ev.deleted_at ~= nil then return client:electric_vehicle(org, user, id, { include_deleted = true }) end
    return client:electric_vehicle(org, user, id)
  end

  --- client:fetch_electric_vehicles(refs [, opts]) -> evs, errs, failed: many vehicles at once,
  -- as fetch_heat_pumps: refs[i] is { org_id, user_id, electric_vehicle_id } (positional or named)
  -- or an electric vehicle object; opts: concurrency (1..256), include_deleted, progress.
  function client_methods.fetch_electric_vehicles(client, refs, opts)
    local fn = "fetch_electric_vehicles"
    if type(refs) ~= "table" then raise(fn, "refs must be a table, got %s", type(refs)) end
    local pass, own = h.batch_opts(fn, opts, { include_deleted = "boolean" })
    local c = pass.concurrency
    if c ~= nil and (type(c) ~= "number" or c ~= math.floor(c) or c < 1 or c > 256) then
      raise(fn, "opts.concurrency must be an integer from 1 to 256")
    end
    if pass.progress ~= nil and type(pass.progress) ~= "function" then
      raise(fn, "opts.progress must be a function, got %s", type(pass.progress))
    end
    local q = own.include_deleted and "?include_deleted=true" or ""
    local reqs = {}
    for i = 1, #refs do
      local r, org, user, id = refs[i]
      local ctx = core.kind(r) == "electric_vehicle" and core.context(r)
      if ctx and ctx.user_id then
        org = check_uuid(fn, fmt("refs[%d].org_id", i), ctx.org_id)
        user = check_uuid(fn, fmt("refs[%d].user_id", i), ctx.user_id)
        id = check_uuid(fn, fmt("refs[%d].id", i), r.id)
      elseif type(r) == "table" then
        local function get(k, j)
          local v = r[k]
          if v == nil then v = r[j] end
          return check_uuid(fn, fmt("refs[%d].%s", i, k), v)
        end
        org, user, id = get("org_id", 1), get("user_id", 2), get("electric_vehicle_id", 3)
      else
        raise(fn, "refs[%d] must be a table { org_id, user_id, electric_vehicle_id } or an electric vehicle object, got %s",
          i, core.is_object(r) and "a podero object that is not an electric vehicle of a client" or type(r))
      end
      reqs[i] = { "GET", ev_path(org, user, id) .. q, nil, "electric_vehicle", id, org_id = org, user_id = user }
    end
    return client:_batch(reqs, pass)
  end

  ---------------------------------------------------------------------------
  -- device onboarding, savings
  ---------------------------------------------------------------------------

  --- client:create_onboarding_session(fields) -> the session (its authentication_url is where
  -- the user connects a device), or nil, err. POST /device-onboarding; user_id, success_url and
  -- cancel_url are required.
  function client_methods.create_onboarding_session(client, fields)
    local fn = "create_onboarding_session"
    local body = check_body(fn, "fields", fields, ONBOARDING, { "user_id", "success_url", "cancel_url" })
    return send(client, "POST", API .. "/device-onboarding", body)
  end

  --- client:onboarding_session(id) -> the session, or nil, err. GET /device-onboarding/{id}.
  function client_methods.onboarding_session(client, session_id)
    local id = check_uuid("onboarding_session", "session_id", session_id)
    return client:_request("GET", API .. "/device-onboarding/" .. id, nil, "object")
  end

  -- a query value: ISO text with its '+' and ':' percent-encoded
  local function query_value(s)
    return (s:gsub("[^%w%-%._~]", function(c) return fmt("%%%02X", c:byte()) end))
  end

  --- client:savings(org_id, { start = t, finish = t }) -> { total_savings, heat_pump_savings,
  -- electric_vehicle_savings, inverter_savings }, or nil, err. Times: epoch seconds or ISO 8601
  -- with a zone (as hp:pause_power takes them), sent as UTC.
  function client_methods.savings(client, org_id, period)
    local fn = "savings"
    local org = check_uuid(fn, "org_id", org_id)
    if type(period) ~= "table" then raise(fn, "period must be a table { start = t, finish = t }, got %s", type(period)) end
    for k in pairs(period) do
      if k ~= "start" and k ~= "finish" then raise(fn, "unknown key %s in period", quoted(k)) end
    end
    if period.start == nil then raise(fn, "period.start is required") end
    if period.finish == nil then raise(fn, "period.finish is required") end
    local t1 = to_epoch(fn, "period.start", period.start)
    local t2 = to_epoch(fn, "period.finish", period.finish)
    if t2 < t1 then raise(fn, "period.finish (%s) is before period.start (%s)", iso(t2), iso(t1)) end
    return client:_request("GET", fmt("%s/org/%s/devices/savings?start_datetime=%s&end_datetime=%s", API, org,
      query_value(iso(t1)), query_value(iso(t2))), nil, "object")
  end
end
