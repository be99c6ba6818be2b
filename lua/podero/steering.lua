--- podero.steering: acting on heat pumps (partial update, pause power, heating policy, away
-- mode, optimization level, statistics) and resolving the actions Podero asks for.
--
-- Installed by `require("podero")`: this module returns a function(podero, core) that adds
-- methods to the client (`update_heat_pump`, `resolve_action`, `report_action`) and to heat
-- pump objects (`update`, `refresh`, `pause_power`, `resume_power`, `set_heating_policy`,
-- `set_away_mode`, `clear_away_mode`, `set_optimization_level`, `statistics`).
--
-- Every call goes through `client:_request` (the C core: token, retries, lazy objects).
-- Values are checked before anything is sent; a bad one raises a Lua error naming the field.
-- Retry rules: PUT and GET are idempotent (connection failures, 429, 502, 503, 504 are
-- retried); the cue POSTs are retried only when the request never left (refused, DNS).
--
-- @module podero.steering

local cjson = require("cjson")

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local floor, huge = math.floor, math.huge
local fmt, concat, sort, byte = string.format, table.concat, table.sort, string.byte

-- Lua 5.4 has integers (math.type, math.tointeger) and utf8.len; LuaJIT (Lua 5.1) has only
-- floats and no utf8 library, so there whole numbers stay floats and UTF-8 is checked below.
local tointeger = math.tointeger or function(v) return v end

-- The number of characters of s when it is valid UTF-8 (RFC 3629: no overlong forms, no
-- surrogates, nothing above U+10FFFF), else nil: what Lua 5.4's utf8.len(s) answers.
local UTF8_MIN = { 0x80, 0x800, 0x10000 }
local utf8_len = utf8 and utf8.len or function(s)
  local n, i, len = 0, 1, #s
  while i <= len do
    local c = byte(s, i)
    if c >= 0x80 then
      local need, cp
      if c >= 0xF8 then return nil
      elseif c >= 0xF0 then need, cp = 3, c - 0xF0
      elseif c >= 0xE0 then need, cp = 2, c - 0xE0
      elseif c >= 0xC0 then need, cp = 1, c - 0xC0
      else return nil end -- a continuation byte where a character starts
      for j = i + 1, i + need do
        local cc = byte(s, j)
        if not cc or cc < 0x80 or cc > 0xBF then return nil end
        cp = cp * 64 + (cc - 0x80)
      end
      if cp < UTF8_MIN[need] or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
      i = i + need
    end
    i = i + 1
    n = n + 1
  end
  return n
end

return function(podero, core, client_methods)
  local null = cjson.null
  local hp_methods = core.heat_pump_methods

  local function raise(fn, msg, ...)
    error("podero: " .. fn .. ": " .. fmt(msg, ...), 0)
  end

  -- the C core's UUID check (csrc/api.c): the same rule and message everywhere
  local function check_uuid(fn, name, v) return core.check_uuid(v, name, fn) end

  -- request bodies: podero.encode (keys sorted for a stable body; see lua/podero/init.lua)
  local function encode_object(fields) return podero.encode(fields) end

  ---------------------------------------------------------------------------
  -- value checks
  ---------------------------------------------------------------------------
  local function is_finite_number(v) return type(v) == "number" and v == v and v ~= huge and v ~= -huge end

  -- how a message shows a value that is not what was asked: NaN as NaN, numbers as numbers,
  -- anything else by its type
  local function shown(v)
    if type(v) ~= "number" then return type(v) end
    if v ~= v then return "NaN" end
    if v == huge then return "infinity" end
    if v == -huge then return "-infinity" end
    return tostring(v)
  end

  -- epoch seconds (number) or ISO 8601 string -> epoch seconds (integer), or raise
  local function to_epoch(fn, name, v)
    if is_finite_number(v) then
      if v < 0 or v >= 253402300800 then raise(fn, "%s is out of range (epoch seconds): %s", name, shown(v)) end
      return floor(v)
    end
    if type(v) == "string" then
      local t = podero.time(v)
      if not t then raise(fn, "%s must be an ISO 8601 date-time with a time zone, got %q", name, v:sub(1, 40)) end
      if t < 0 or t >= 253402300800 then raise(fn, "%s is out of range: %q", name, v:sub(1, 40)) end
      return floor(t)
    end
    raise(fn, "%s must be a time: epoch seconds (number) or an ISO 8601 string, got %s", name, shown(v))
  end

  local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

  -- The writable fields of HeatPumpDetailOutput: name -> { type, nullable, extra, hint }, from
  -- the C core's schema (csrc/schema.c: written once, also the source of the Decimal rule).
  -- extra: a string's maximum length, or an enum's set of values.
  local WRITABLE = {}
  podero.DECIMAL_FIELDS = {}
  for _, f in ipairs(core.heat_pump_fields) do
    if f.decimal then podero.DECIMAL_FIELDS[#podero.DECIMAL_FIELDS + 1] = f.name end
    if f.type then
      local extra = f.max_length
      if f.values then
        extra = {}
        for _, v in ipairs(f.values) do extra[v] = true end
      end
      WRITABLE[f.name] = { f.type, f.nullable, extra, f.hint }
    end
  end
  sort(podero.DECIMAL_FIELDS)
  local LEVELS = WRITABLE.optimization_level[3]
  podero.WRITABLE_HEAT_PUMP_FIELDS = {}
  for k in pairs(WRITABLE) do podero.WRITABLE_HEAT_PUMP_FIELDS[#podero.WRITABLE_HEAT_PUMP_FIELDS + 1] = k end
  sort(podero.WRITABLE_HEAT_PUMP_FIELDS)

  -- checks one value of a writable field; returns the value to send (times as ISO strings)
  -- and, for times, the epoch seconds. label: how messages name it (default: the field's name)
  -- spec: { type, nullable, extra, hint } (WRITABLE's shape; podero.partner's fields too)
  local function check_typed(fn, spec, v, name)
    local typ, nullable, extra = spec[1], spec[2], spec[3]
    if v == null then
      if nullable then return null end
      raise(fn, "%s cannot be null", name)
    end
    if typ == "boolean" then
      if type(v) ~= "boolean" then raise(fn, "%s must be a boolean, got %s", name, type(v)) end
      return v
    elseif typ == "number" then
      if not is_finite_number(v) then raise(fn, "%s must be a finite number, got %s", name, shown(v)) end
      return v
    elseif typ == "integer" then
      if not is_finite_number(v) or v ~= floor(v) then
        raise(fn, "%s must be a whole number, got %s", name, shown(v))
      end
      return tointeger(v) or v
    elseif typ == "string" then
      if type(v) ~= "string" then raise(fn, "%s must be a string, got %s", name, type(v)) end
      local n = utf8_len(v)
      if not n then raise(fn, "%s must be valid UTF-8", name) end
      if n > extra then raise(fn, "%s must be at most %d characters, got %d", name, extra, n) end
      return v
    elseif typ == "enum" then
      if type(v) ~= "string" or not extra[v] then
        raise(fn, "%s must be %s, got %s", name, spec[4],
          type(v) == "string" and fmt("%q", v:sub(1, 40)) or type(v))
      end
      return v
    elseif typ == "clock" then
      local h, m
      if type(v) == "string" then h, m = v:match("^(%d%d):(%d%d)$") end
      if not h or tonumber(h) > 23 or tonumber(m) > 59 then
        raise(fn, "%s must be a time of day \"HH:MM\" (00:00 to 23:59), got %s", name,
          type(v) == "string" and fmt("%q", v:sub(1, 40)) or type(v))
      end
      return v
    else -- time
      local t = to_epoch(fn, name, v)
      return iso(t), t
    end
  end

  local function check_value(fn, field, v, label)
    return check_typed(fn, WRITABLE[field], v, label or field)
  end

  -- checks an update table: returns the fields to send
  local function check_fields(fn, fields)
    if type(fields) ~= "table" then raise(fn, "fields must be a table, got %s", type(fields)) end
    if podero.is_object(fields) then raise(fn, "fields must be a plain table (use hp:to_table() for a copy)") end
    local out, times, n = {}, {}, 0
    for k, v in pairs(fields) do
      if type(k) ~= "string" then raise(fn, "field names must be strings, got %s", type(k)) end
      if not WRITABLE[k] then
        raise(fn, "unknown or read-only field %q (writable: see podero.WRITABLE_HEAT_PUMP_FIELDS)", k)
      end
      local sv, t = check_value(fn, k, v)
      out[k], times[k] = sv, t
      n = n + 1
    end
    if n == 0 then raise(fn, "fields is empty: give at least one field to change") end
    local lo, hi = out.minimum_temperature_limit, out.maximum_temperature_limit
    if type(lo) == "number" and type(hi) == "number" and lo > hi then
      raise(fn, "minimum_temperature_limit (%s) is above maximum_temperature_limit (%s)", tostring(lo), tostring(hi))
    end
    if times.away_mode_start and times.away_mode_end and times.away_mode_end < times.away_mode_start then
      raise(fn, "away_mode_end (%s) is before away_mode_start (%s)", out.away_mode_end, out.away_mode_start)
    end
    return out
  end

  ---------------------------------------------------------------------------
  -- client:update_heat_pump
  ---------------------------------------------------------------------------
  local function hp_path(org, user, id)
    return fmt("/api/partners/v2.0/org/%s/users/%s/heat-pumps/%s", org, user, id)
  end

  -- client:_request, and an answer bound to where it came from (so that its methods, such as
  -- hp:update() or ev:boost(), know their client and ids) when org is given
  local function send(client, method, path, body, kind, expect, org, user)
    local obj, err = client:_request(method, path, body and encode_object(body) or nil, kind or "object", expect)
    if not obj then return nil, err end
    if org then core.set_context(obj, { client = client, org_id = org, user_id = user }) end
    return obj
  end

  local function put_fields(client, org, user, id, body)
    return send(client, "PUT", hp_path(org, user, id), body, "heat_pump", id, org, user)
  end

  --- Partial update of a heat pump: only the given fields are sent.
  -- @return the updated heat pump, or nil, err
  function client_methods.update_heat_pump(client, org_id, user_id, heat_pump_id, fields)
    local fn = "update_heat_pump"
    local org = check_uuid(fn, "org_id", org_id)
    local user = check_uuid(fn, "user_id", user_id)
    local id = check_uuid(fn, "heat_pump_id", heat_pump_id)
    local body = check_fields(fn, fields)
    return put_fields(client, org, user, id, body)
  end

  -- the options of a batch method: concurrency and progress go to client:_batch
  local function batch_opts(fn, opts, allowed)
    if opts == nil then return {}, {} end
    if type(opts) ~= "table" then raise(fn, "opts must be a table, got %s", type(opts)) end
    local pass, own = {}, {}
    for k, v in pairs(opts) do
      if k == "concurrency" or k == "progress" then pass[k] = v
      elseif allowed[k] then
        if type(v) ~= allowed[k] then raise(fn, "opts.%s must be a %s, got %s", k, allowed[k], type(v)) end
        own[k] = v
      else raise(fn, "unknown option '%s' in opts", tostring(k)) end
    end
    return pass, own
  end

  --- client:fleet(org_id [, opts]) -> users, lists, errs, failed: every heat pump of an
  -- organisation from the list endpoints: the users, then each user's heat pumps, concurrently
  -- (client:_batch). lists[i] is the heat pump list of users[i] (its heat pumps are bound: they
  -- refresh and steer), or errs[i] its error; failed counts the users whose list failed.
  -- opts: include_deleted, concurrency (default 16), progress = function(done, total). nil, err
  -- when the user list itself fails.
  function client_methods.fleet(client, org_id, opts)
    local fn = "fleet"
    local org = check_uuid(fn, "org_id", org_id)
    local pass, own = batch_opts(fn, opts, { include_deleted = "boolean" })
    local users, err = client:users(org, own.include_deleted and { include_deleted = true } or nil)
    if not users then return nil, err end
    local reqs, where, errs = {}, {}, {}
    local q = own.include_deleted and "?include_deleted=true" or ""
    for i = 1, #users do
      local uid = users[i].id
      if type(uid) == "string" and pcall(core.check_uuid, uid, "id", fn) then
        reqs[#reqs + 1] = { "GET", fmt("/api/partners/v2.0/org/%s/users/%s/heat-pumps%s", org, uid:lower(), q),
                            nil, "heat_pump_list", nil, org_id = org, user_id = uid:lower() }
        where[#reqs] = i
      else
        errs[i] = core.error({ kind = "decode", attempts = 0,
          message = fmt("user %d of the list has no id that is a UUID: its heat pumps cannot be listed", i) })
      end
    end
    local lists, berrs, failed = client:_batch(reqs, pass)
    local out = {}
    for k = 1, #reqs do
      out[where[k]] = lists[k]
      errs[where[k]] = berrs[k]
    end
    for i = 1, #users do if errs[i] and not where[i] then failed = failed + 1 end end
    return users, out, errs, failed
  end

  --- client:update_heat_pumps(items [, opts]) -> hps, errs, failed: partial updates of many heat
  -- pumps at once. items[i] = { ref, changes }: ref a heat pump object or { org_id, user_id,
  -- heat_pump_id }, changes the fields as for update_heat_pump. Every item is checked before
  -- anything is sent; results are aligned with items, as for fetch_heat_pumps; the retry rule
  -- of a PUT. opts: concurrency (default 16), progress.
  function client_methods.update_heat_pumps(client, items, opts)
    local fn = "update_heat_pumps"
    if type(items) ~= "table" then raise(fn, "items must be a table, got %s", type(items)) end
    local pass = batch_opts(fn, opts, {})
    local reqs = {}
    for i = 1, #items do
      local it = items[i]
      if type(it) ~= "table" then raise(fn, "items[%d] must be a table { ref, changes }, got %s", i, type(it)) end
      local ref, org, user, id = it[1]
      local ctx = core.is_heat_pump(ref) and core.context(ref)
      if ctx and ctx.user_id then
        org, user = ctx.org_id, ctx.user_id
        id = check_uuid(fn, fmt("items[%d][1].id", i), ref.id)
      elseif type(ref) == "table" and not core.is_object(ref) then
        org = check_uuid(fn, fmt("items[%d][1].org_id", i), ref.org_id or ref[1])
        user = check_uuid(fn, fmt("items[%d][1].user_id", i), ref.user_id or ref[2])
        id = check_uuid(fn, fmt("items[%d][1].heat_pump_id", i), ref.heat_pump_id or ref[3])
      else
        raise(fn, "items[%d][1] must be a heat pump object or { org_id, user_id, heat_pump_id }, got %s", i,
          core.is_object(ref) and "a podero object that is not a heat pump of a client" or type(ref))
      end
      local ok, body = pcall(check_fields, fn, it[2])
      if not ok then
        raise(fn, "items[%d]: %s", i, (tostring(body):gsub("^podero: update_heat_pumps: ", "")))
      end
      reqs[i] = { "PUT", hp_path(org, user, id), encode_object(body), "heat_pump", id, org_id = org, user_id = user }
    end
    return client:_batch(reqs, pass)
  end

  ---------------------------------------------------------------------------
  -- heat pump methods
  ---------------------------------------------------------------------------
  local function bound(fn, hp)
    local ctx = core.is_object(hp) and core.context(hp)
    if not ctx or not ctx.user_id then
      raise(fn, "this object did not come from client:heat_pump / client:heat_pumps (it knows no client)")
    end
    local id = hp.id
    if type(id) ~= "string" or not pcall(core.check_uuid, id, "id", fn) then raise(fn, "this heat pump has no id") end
    return ctx.client, ctx.org_id, ctx.user_id, id:lower()
  end

  local function hp_put(fn, hp, body)
    local client, org, user, id = bound(fn, hp)
    return put_fields(client, org, user, id, body)
  end

  function hp_methods.update(hp, fields)
    local fn = "hp:update"
    local client, org, user, id = bound(fn, hp)
    return put_fields(client, org, user, id, check_fields(fn, fields))
  end

  function hp_methods.refresh(hp)
    local client, org, user, id = bound("hp:refresh", hp)
    if hp.deleted_at ~= nil then
      return client:heat_pump(org, user, id, { include_deleted = true })
    end
    return client:heat_pump(org, user, id)
  end

  local Y2000 = 946684800 -- 2000-01-01T00:00:00Z

  --- Pauses the power until a time (epoch seconds or ISO 8601 with a zone). A time before
  -- 2000 (a duration passed by mistake: pause_power(7200)) or more than a minute in the past
  -- raises, pointing at hp:pause_power_for(seconds).
  function hp_methods.pause_power(hp, until_)
    local fn = "hp:pause_power"
    if until_ == nil then raise(fn, "until_ is required: epoch seconds (number) or an ISO 8601 string") end
    local t = to_epoch(fn, "until_", until_)
    if t < Y2000 then
      raise(fn, "until_ is %s, before 2000: it looks like a duration; to pause for %s seconds use "
        .. "hp:pause_power_for(%s)", iso(t), tostring(until_), tostring(until_))
    end
    if t < os.time() - 60 then
      raise(fn, "until_ is %s, in the past: give a time to come, or a duration with "
        .. "hp:pause_power_for(seconds)", iso(t))
    end
    return hp_put(fn, hp, { pause_power_until = iso(t), is_pause_power_active = true })
  end

  --- Pauses the power for `seconds` from now (a positive number, at most a year).
  function hp_methods.pause_power_for(hp, seconds)
    local fn = "hp:pause_power_for"
    if not is_finite_number(seconds) or seconds <= 0 or seconds > 366 * 86400 then
      raise(fn, "seconds must be a number of seconds from 1 to one year (31622400), got %s",
        type(seconds) == "number" and tostring(seconds) or type(seconds))
    end
    return hp_put(fn, hp, { pause_power_until = iso(os.time() + math.ceil(seconds)), is_pause_power_active = true })
  end

  function hp_methods.resume_power(hp)
    return hp_put("hp:resume_power", hp, { pause_power_until = null, is_pause_power_active = false })
  end

  local POLICY_KEYS = {
    enabled = "is_heating_policy_enabled", name = "heating_policy_name",
    min = "minimum_temperature_limit", max = "maximum_temperature_limit",
    min_dhw = "minimum_dhw_temperature_limit",
  }

  local function map_opts(fn, what, opts, keys)
    if type(opts) ~= "table" then raise(fn, "%s must be a table, got %s", what, type(opts)) end
    local out, n = {}, 0
    for k, v in pairs(opts) do
      local field = keys[k]
      if not field then raise(fn, "unknown key %q in %s", tostring(k), what) end
      check_value(fn, field, v, what .. "." .. k)
      out[field] = v
      n = n + 1
    end
    return out, n
  end

  -- Plausible limits (degrees C): a value outside them is almost surely a mistake (Fahrenheit,
  -- a typo); `allow_outside_range = true` in the options table sends it anyway.
  local RANGES = {
    minimum_temperature_limit = { 5, 35, "indoor" }, maximum_temperature_limit = { 5, 35, "indoor" },
    away_mode_minimum_temperature_limit = { 5, 35, "indoor" },
    minimum_dhw_temperature_limit = { 20, 80, "hot water" },
  }

  local function check_ranges(fn, what, opts, keys, fields)
    if opts.allow_outside_range then return end
    for k, field in pairs(keys) do
      local v, r = fields[field], RANGES[field]
      if r and type(v) == "number" and (v < r[1] or v > r[2]) then
        raise(fn, "%s.%s = %s is outside the plausible %s range %g..%g C (allow_outside_range = true sends it anyway)",
          what, k, shown(v), r[3], r[1], r[2])
      end
    end
  end

  -- the value a field will have: the new one, else the one the heat pump object holds
  local function after(hp, fields, field)
    local v = fields[field]
    if v == nil then v = hp[field] end
    return type(v) == "number" and v or nil
  end

  local function strip(opts, extra)
    local t = {}
    for k, v in pairs(opts) do if k ~= extra then t[k] = v end end
    return t
  end

  function hp_methods.set_heating_policy(hp, policy)
    local fn = "hp:set_heating_policy"
    if type(policy) ~= "table" then raise(fn, "policy must be a table, got %s", type(policy)) end
    local force = policy.allow_outside_range
    if force ~= nil and type(force) ~= "boolean" then
      raise(fn, "policy.allow_outside_range must be a boolean, got %s", type(force))
    end
    local fields, n = map_opts(fn, "policy", strip(policy, "allow_outside_range"), POLICY_KEYS)
    if n == 0 then raise(fn, "policy is empty") end
    check_ranges(fn, "policy", policy, POLICY_KEYS, fields)
    bound(fn, hp)
    -- min <= max, with what the heat pump holds for the one not given
    local lo = after(hp, fields, "minimum_temperature_limit")
    local hi = after(hp, fields, "maximum_temperature_limit")
    if lo and hi and lo > hi then
      raise(fn, "policy.min (%s%s) is above policy.max (%s%s)", shown(lo),
        fields.minimum_temperature_limit == nil and ", the heat pump's" or "", shown(hi),
        fields.maximum_temperature_limit == nil and ", the heat pump's" or "")
    end
    return hp_put(fn, hp, check_fields(fn, fields))
  end

  --- hp:clear_heating_policy(): the heating policy off and its limits removed (null), as
  -- clear_away_mode() does for away mode.
  function hp_methods.clear_heating_policy(hp)
    return hp_put("hp:clear_heating_policy", hp,
      { is_heating_policy_enabled = false, heating_policy_name = null, minimum_temperature_limit = null,
        maximum_temperature_limit = null, minimum_dhw_temperature_limit = null })
  end

  local AWAY_KEYS = {
    start = "away_mode_start", finish = "away_mode_end",
    min_temperature = "away_mode_minimum_temperature_limit", enabled = "is_away_mode_enabled",
  }

  function hp_methods.set_away_mode(hp, away)
    local fn = "hp:set_away_mode"
    if type(away) ~= "table" then raise(fn, "away must be a table, got %s", type(away)) end
    local force = away.allow_outside_range
    if force ~= nil and type(force) ~= "boolean" then
      raise(fn, "away.allow_outside_range must be a boolean, got %s", type(force))
    end
    local fields = map_opts(fn, "away", strip(away, "allow_outside_range"), AWAY_KEYS)
    check_ranges(fn, "away", away, AWAY_KEYS, fields)
    if away.start == nil then raise(fn, "away.start is required") end
    if away.finish == nil then raise(fn, "away.finish is required") end
    local t1 = to_epoch(fn, "away.start", away.start)
    local t2 = to_epoch(fn, "away.finish", away.finish)
    if t2 <= t1 then raise(fn, "away.finish (%s) must be after away.start (%s)", iso(t2), iso(t1)) end
    if fields.is_away_mode_enabled == nil then fields.is_away_mode_enabled = true end
    bound(fn, hp)
    return hp_put(fn, hp, check_fields(fn, fields))
  end

  function hp_methods.clear_away_mode(hp)
    return hp_put("hp:clear_away_mode", hp,
      { is_away_mode_enabled = false, away_mode_start = null, away_mode_end = null })
  end

  function hp_methods.set_optimization_level(hp, level)
    local fn = "hp:set_optimization_level"
    if type(level) ~= "string" or not LEVELS[level] then
      raise(fn, "optimization_level must be \"Low\", \"Mid\" or \"Max\", got %s",
        type(level) == "string" and fmt("%q", level:sub(1, 40)) or type(level))
    end
    return hp_put(fn, hp, { optimization_level = level })
  end

  local function list_param(fn, name, v)
    if v == nil then return nil end
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" or #v == 0 then
      raise(fn, "opts.%s must be a string or a non-empty list of strings", name)
    end
    for i, s in ipairs(v) do
      if type(s) ~= "string" or not s:match("^[%w_]+$") then
        raise(fn, "opts.%s[%d] must be a word such as %s, got %s", name, i,
          name == "resolution" and "\"1DAY\"" or "\"savings\"",
          type(s) == "string" and fmt("%q", s:sub(1, 40)) or type(s))
      end
    end
    return concat(v, ",")
  end

  --- Statistics of a heat pump: GET .../statistics?resolution=..&keywords=..
  function hp_methods.statistics(hp, opts)
    local fn = "hp:statistics"
    opts = opts == nil and {} or opts
    if type(opts) ~= "table" then raise(fn, "opts must be a table, got %s", type(opts)) end
    for k in pairs(opts) do
      if k ~= "resolution" and k ~= "keywords" then raise(fn, "unknown option %q in opts", tostring(k)) end
    end
    local res = list_param(fn, "resolution", opts.resolution)
    local kw = list_param(fn, "keywords", opts.keywords)
    local client, org, user, id = bound(fn, hp)
    local q = {}
    if res then q[#q + 1] = "resolution=" .. res end
    if kw then q[#q + 1] = "keywords=" .. kw end
    local path = hp_path(org, user, id) .. "/statistics" .. (#q > 0 and "?" .. concat(q, "&") or "")
    return send(client, "GET", path, nil, "object", nil, org, user)
  end

  ---------------------------------------------------------------------------
  -- actions (cues)
  ---------------------------------------------------------------------------
  local CUE = "^/api/partners/v2%.0/cues/(%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x)/(%a+)%?(.*)$"

  -- the cue id and secret of an action (object or table with resolution_link.url, or the url)
  local function parse_action(fn, action)
    local url
    if type(action) == "string" then
      url = action
    elseif type(action) == "table" or core.is_object(action) then
      local link = action.resolution_link
      url = (type(link) == "table" or core.is_object(link)) and link.url or nil
      if type(url) ~= "string" then raise(fn, "action has no resolution_link.url string") end
    else
      raise(fn, "action must be an action (from hp.actions) or its resolution_link.url, got %s", type(action))
    end
    local id, verb, query = url:match(CUE)
    if not id or (verb ~= "resolve" and verb ~= "state") then
      raise(fn, "action.resolution_link.url is not a relative /api/partners/v2.0/cues/<uuid>/resolve?secret=... URL")
    end
    local secret
    for pair in query:gmatch("[^&]+") do
      local k, v = pair:match("^([^=]*)=(.*)$")
      if k == "secret" then secret = v end
    end
    if not secret or secret == "" or not secret:match("^[%w%-%._~%%]+$") then
      raise(fn, "action.resolution_link.url has no usable secret parameter")
    end
    return id:lower(), secret
  end

  local EXPIRED = "the action's secret has expired or the action is already resolved (HTTP 404): "
    .. "re-read the heat pump for a fresh resolution_link"

  local function wrap_404(err)
    if type(err) == "table" and err.kind == "http" and err.status == 404 then
      local e = {}
      for k, v in pairs(err) do e[k] = v end
      e.message = EXPIRED
      return core.error(e)
    end
    return err
  end

  local function check_url_opt(fn, name, v)
    if type(v) ~= "string" or v == "" then raise(fn, "opts.%s must be a non-empty string (a URL), got %s", name, type(v)) end
    if v:find("%c") then raise(fn, "opts.%s must not contain control characters", name) end
    return v
  end

  --- Resolves an action: POST /cues/{id}/resolve?secret=... with successUrl/cancelUrl.
  -- @return the redirect_url to send the user to, or nil, err
  function client_methods.resolve_action(client, action, opts)
    local fn = "resolve_action"
    local id, secret = parse_action(fn, action)
    if type(opts) ~= "table" then raise(fn, "opts must be a table with success_url and cancel_url, got %s", type(opts)) end
    for k in pairs(opts) do
      if k ~= "success_url" and k ~= "cancel_url" then raise(fn, "unknown option %q in opts", tostring(k)) end
    end
    local body = encode_object({
      successUrl = check_url_opt(fn, "success_url", opts.success_url),
      cancelUrl = check_url_opt(fn, "cancel_url", opts.cancel_url),
    })
    local ans, err = client:_request("POST", fmt("/api/partners/v2.0/cues/%s/resolve?secret=%s", id, secret), body, "object")
    if not ans then return nil, wrap_404(err) end
    local url = ans.redirect_url
    if type(url) ~= "string" then
      return nil, core.error({ kind = "decode", status = 200, attempts = 1,
        message = "the resolve answer has no redirect_url string" })
    end
    return url
  end

  --- Reports the outcome of an action: POST /cues/{id}/state?secret=... {"state": ...}
  -- @return true, or nil, err
  function client_methods.report_action(client, action, state)
    local fn = "report_action"
    local id, secret = parse_action(fn, action)
    if state ~= "success" and state ~= "fail" then
      raise(fn, "state must be \"success\" or \"fail\", got %s",
        type(state) == "string" and fmt("%q", state:sub(1, 40)) or type(state))
    end
    local ok, err = client:_request("POST", fmt("/api/partners/v2.0/cues/%s/state?secret=%s", id, secret),
      encode_object({ state = state }), "none")
    if not ok then return nil, wrap_404(err) end
    return true
  end

  -- what podero.partner (the rest of the Partner API) builds on: the same checks and messages
  return {
    raise = raise, check_uuid = check_uuid, check_typed = check_typed, to_epoch = to_epoch, iso = iso,
    shown = shown, is_finite_number = is_finite_number, batch_opts = batch_opts, utf8_len = utf8_len,
    send = send,
  }
end
