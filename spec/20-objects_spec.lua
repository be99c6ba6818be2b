-- Heat pump objects: lazy, read-only views of the JSON answer.
local podero = require("podero")
local core = require("podero.core")
local cjson = require("cjson")
local support = require("support")

-- HeatPumpDetailOutput: name -> the Lua types a field may read as ("nil" for null).
local FIELDS = {
  { "connection_status", "string" }, { "monitoring_status", "string" }, { "steering_status", "string" },
  { "device_model", "object|nil" }, { "owner", "object" }, { "price_zone", "string" },
  { "id", "string|nil" }, { "created_at", "string" }, { "updated_at", "string" },
  { "deleted_at", "string|nil" }, { "lifecycle_state", "string" }, { "lifecycle_error", "string|nil" },
  { "pause_power_until", "string|nil" }, { "is_pause_power_active", "boolean" },
  { "external_device_id", "string|nil" }, { "is_authenticated", "boolean|nil" },
  { "is_smart_optimization_active", "boolean" }, { "optimization_score", "number|nil" },
  { "current_mode", "string|nil" }, { "comment", "string|nil" },
  { "current_state_last_updated_at", "string|nil" }, { "last_monitoring_executed_at", "string|nil" },
  { "is_inverter_forced_mode_enabled", "boolean" }, { "is_inverter_forced_mode_active", "boolean" },
  { "inverter_forced_mode_since", "string|nil" }, { "is_trading_enabled", "boolean" },
  { "actual_steering_state", "string" },
  { "indoor_target_temperature_offset", "decimal" }, { "dhw_standard_temperature", "decimal" },
  { "is_hot_water_heating_enabled", "boolean|nil" }, { "is_space_heating_enabled", "boolean|nil" },
  { "is_pool_heating_enabled", "boolean|nil" }, { "is_space_cooling_enabled", "boolean|nil" },
  { "heating_policy_name", "string|nil" }, { "maximum_temperature_limit", "decimal" },
  { "minimum_temperature_limit", "decimal" }, { "minimum_dhw_temperature_limit", "decimal" },
  { "is_heating_policy_enabled", "boolean|nil" }, { "heating_policy_last_updated_at", "string|nil" },
  { "away_mode_start", "string|nil" }, { "away_mode_end", "string|nil" },
  { "is_away_mode_enabled", "boolean|nil" }, { "away_mode_minimum_temperature_limit", "decimal" },
  { "away_mode_last_updated_at", "string|nil" }, { "min_solar_power_w", "integer" },
  { "operational_mode", "string|nil" }, { "current_power_consumption_w", "integer|nil" },
  { "inlet_temperature", "decimal" }, { "outlet_temperature", "decimal" },
  { "dhw_temperature", "decimal" }, { "outdoor_temperature", "decimal" },
  { "indoor_actual_temperature", "decimal" }, { "indoor_target_temperature", "decimal" },
  { "consumption_last_day_kwh", "decimal" }, { "consumption_last_week_kwh", "decimal" },
  { "consumption_last_month_kwh", "decimal" }, { "consumption_last_updated_at", "string|nil" },
  { "optimization_level", "string|nil" }, { "needs_gateway", "boolean|nil" },
  { "temperature_delta_override_for_slight_change", "integer|nil" },
  { "temperature_delta_override_for_significant_change", "integer|nil" },
  { "embeddable_url", "string|nil" }, { "authorization_url", "string|nil" },
  { "action_needed", "boolean" }, { "has_notification", "boolean" }, { "actions", "object" },
}
assert(#FIELDS == 66)

local DECIMAL = {}
for _, f in ipairs(FIELDS) do if f[2] == "decimal" then DECIMAL[f[1]] = true end end

-- A JSON number literal (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
local function is_json_number(s)
  local i = 1
  if s:sub(i, i) == "-" then i = i + 1 end
  if s:sub(i, i) == "0" then
    i = i + 1
  else
    local a, b = s:find("^[1-9]%d*", i)
    if not a then return false end
    i = b + 1
  end
  local a, b = s:find("^%.%d+", i)
  if a then i = b + 1 end
  a, b = s:find("^[eE][+-]?%d+", i)
  if a then i = b + 1 end
  return i == #s + 1
end

-- What a field of a heat pump must read as, given its cjson-decoded JSON value.
local function expected(name, v)
  if v == cjson.null then return nil end
  if DECIMAL[name] and type(v) == "string" and is_json_number(v) then return tonumber(v) end
  return v
end

local function lua_type_of(v)
  if v == nil then return "nil" end
  if podero.is_object and podero.is_object(v) then return "object" end
  if support.is_integer(v) then return "integer" end -- LuaJIT (doubles only): a whole number
  return type(v)
end

local function type_ok(spec, v)
  local t = lua_type_of(v)
  if spec == "decimal" then return t == "nil" or t == "integer" or t == "number" or t == "string" end
  for alt in spec:gmatch("[^|]+") do
    if alt == t or (alt == "number" and t == "integer") then return true end
  end
  return false
end

local function parse_hp(tbl_or_json)
  local s = type(tbl_or_json) == "string" and tbl_or_json or cjson.encode(tbl_or_json)
  local hp, err = core.parse(s, "heat_pump")
  assert.is_nil(err)
  return hp
end

-- the demo user's heat pumps, fetched with the library, plus their bodies fetched with curl
local function fetch(hp_id)
  local d = support.demo()
  local c = support.new_client()
  local hp, err = c:heat_pump(d.org_id, d.user_id, hp_id)
  assert.is_nil(err and tostring(err))
  local body, status = support.api_get(support.hp_path(d.org_id, d.user_id, hp_id))
  assert.equal(200, status)
  return hp, body, c
end

local function has_metatable_anywhere(t, seen)
  seen = seen or {}
  if type(t) ~= "table" or seen[t] then return false end
  seen[t] = true
  if getmetatable(t) ~= nil then return true end
  for k, v in pairs(t) do
    if type(k) == "table" and has_metatable_anywhere(k, seen) then return true end
    if has_metatable_anywhere(v, seen) then return true end
  end
  return false
end

describe("a heat pump from the sandbox", function()
  local d
  setup(function() d = support.demo() end)
  before_each(function() support.reset() end)

  it("reads every field of HeatPumpDetailOutput as the body says, on every heat pump of the demo user", function()
    local user
    for _, org in ipairs(support.seed().orgs) do
      for _, u in ipairs(org.users) do if u.id == d.user_id then user = u end end
    end
    assert.truthy(user)
    local checked = 0
    for _, h in ipairs(user.heat_pumps) do
      if not h.deleted then
        local hp, body = fetch(h.id)
        local doc = cjson.decode(body)
        for _, f in ipairs(FIELDS) do
          local name, spec = f[1], f[2]
          local v = hp[name]
          assert.is_true(type_ok(spec, v), ("%s of %s reads as %s (%s)"):format(name, h.id, lua_type_of(v), tostring(v)))
          local want = expected(name, doc[name])
          if type(want) ~= "table" then
            assert.equal(want, v, ("%s of %s"):format(name, h.id))
            if type(want) == "number" and DECIMAL[name] and type(doc[name]) == "string" then
              assert.equal(support.num_type(want), support.num_type(v), name .. " number subtype")
            end
          end
          checked = checked + 1
        end
      end
    end
    assert.is_true(checked >= 66 * 3)
  end)

  it("reads nested objects: device_model.device_type.long_name, owner.email", function()
    local hp, body = fetch(d.heat_pump_id)
    local doc = cjson.decode(body)
    assert.equal(doc.device_model.device_type.long_name, hp.device_model.device_type.long_name)
    assert.equal(doc.device_model.manufacturer, hp.device_model.manufacturer)
    assert.equal(doc.owner.email, hp.owner.email)
    assert.equal("string", type(hp.owner.email))
    assert.is_true(support.is_integer(hp.device_model.year))
  end)

  it("reads actions: actions[1].resolution_link.url and actions[2].metadata.message", function()
    local hp, body = fetch(d.heat_pump_all_actions_id)
    local doc = cjson.decode(body)
    assert.equal(#doc.actions, #hp.actions)
    assert.is_true(#hp.actions >= 2)
    assert.equal(doc.actions[1].resolution_link.url, hp.actions[1].resolution_link.url)
    assert.equal(doc.actions[2].metadata.message, hp.actions[2].metadata.message)
    assert.equal(doc.actions[1].code, hp.actions[1].code)
    assert.equal(#doc.actions[1].resolution_link.required_parameters, #hp.actions[1].resolution_link.required_parameters)
    assert.equal(doc.actions[1].resolution_link.required_parameters[1], hp.actions[1].resolution_link.required_parameters[1])
  end)

  it("iterates actions with ipairs and # (and an empty array too)", function()
    local hp = fetch(d.heat_pump_all_actions_id)
    local n = 0
    for i, a in support.ipairs(hp.actions) do
      n = n + 1
      assert.equal(i, n)
      assert.equal("string", type(a.code))
    end
    assert.equal(#hp.actions, n)
    local empty = fetch(d.heat_pump_id)
    assert.equal(0, #empty.actions)
    local count = 0
    for _ in support.ipairs(empty.actions) do count = count + 1 end
    assert.equal(0, count)
    assert.is_nil(empty.actions[1])
  end)

  it("reads fields the spec does not know, and unknown action codes, the same way", function()
    local hp, body = fetch(d.heat_pump_no_model_id)
    local doc = cjson.decode(body)
    assert.is_nil(hp.device_model)
    local found_extra = 0
    for k, v in pairs(doc) do
      local known = false
      for _, f in ipairs(FIELDS) do if f[1] == k then known = true end end
      if not known then
        found_extra = found_extra + 1
        if type(v) == "string" or type(v) == "boolean" then
          assert.equal(v, hp[k], k)
        elseif type(v) == "table" then
          assert.is_true(podero.is_object(hp[k]), k)
          assert.same(v, podero.to_table(hp[k]))
        end
      end
    end
    assert.is_true(found_extra > 0, "the seed promised extra fields on this heat pump")
    local codes = {}
    for i, a in support.ipairs(hp.actions) do
      codes[#codes + 1] = a.code
      assert.same(doc.actions[i], podero.to_table(a))
    end
    assert.truthy(table.concat(codes, ","):find("firmware_update", 1, true))
  end)

  it("reads decimal strings as numbers and other strings ('n/a', '') unchanged", function()
    local hp, body = fetch(d.heat_pump_odd_strings_id)
    local doc = cjson.decode(body)
    local odd = 0
    for name in pairs(DECIMAL) do
      local raw = doc[name]
      if type(raw) == "string" then
        if is_json_number(raw) then
          assert.equal(tonumber(raw), hp[name], name)
          assert.equal(support.num_type(tonumber(raw)), support.num_type(hp[name]), name)
        else
          odd = odd + 1
          assert.equal(raw, hp[name], name)
        end
      end
    end
    assert.is_true(odd >= 1, "the seed promised non-numeric strings in decimal fields")
  end)

  it("reads a tiny exponent decimal string ('1E-8') with tonumber", function()
    local hp, body = fetch(d.heat_pump_tiny_exponent_id)
    local doc = cjson.decode(body)
    local seen = false
    for name in pairs(DECIMAL) do
      local raw = doc[name]
      if type(raw) == "string" and raw:find("[eE]") then
        seen = true
        assert.equal(tonumber(raw), hp[name], name)
      end
    end
    assert.is_true(seen, "the seed promised an exponent in a decimal string")
  end)

  it("reads min_solar_power_w as an integer", function()
    local hp = fetch(d.heat_pump_id)
    assert.is_true(support.is_integer(hp.min_solar_power_w))
  end)

  it("reads numbers exactly (optimization_score as tonumber of the literal)", function()
    local hp, body = fetch(d.heat_pump_id)
    local lit = body:match('"optimization_score":([%-%d%.eE+]+)')
    assert.truthy(lit)
    assert.equal(tonumber(lit), hp.optimization_score)
  end)

  it("reads date-times as the strings sent", function()
    local hp, body = fetch(d.heat_pump_id)
    local doc = cjson.decode(body)
    for _, name in ipairs({ "created_at", "updated_at", "inverter_forced_mode_since" }) do
      assert.equal(doc[name], hp[name], name)
      assert.equal("string", type(hp[name]))
    end
  end)

  it("reads a missing field as nil and a null field as nil", function()
    local hp = fetch(d.heat_pump_id)
    assert.is_nil(hp.no_such_field_anywhere)
    assert.is_nil(hp.deleted_at)
  end)

  it("raises on assignment, at the top level and nested", function()
    local hp = fetch(d.heat_pump_all_actions_id)
    local before = hp.connection_status
    assert.has_error(function() hp.connection_status = "changed" end)
    assert.has_error(function() hp.brand_new = 1 end)
    assert.has_error(function() hp.owner.email = "x@example.com" end)
    assert.has_error(function() hp.device_model.device_type.long_name = "x" end)
    assert.has_error(function() hp.actions[1] = false end)
    assert.has_error(function() hp.actions[3] = {} end)
    assert.has_error(function() hp.actions[2].metadata.message = "x" end)
    assert.has_error(function() rawset(hp, "connection_status", "x") end)
    assert.equal(before, hp.connection_status)
    assert.is_nil(hp.brand_new)
  end)

  it("hp:fields() yields every field present, nulls included (with value nil)", function()
    local hp, body = fetch(d.heat_pump_id)
    local doc = cjson.decode(body)
    local n_body = 0
    for _ in pairs(doc) do n_body = n_body + 1 end
    local seen, n = {}, 0
    for name, value in hp:fields() do
      n = n + 1
      assert.is_nil(seen[name], "field yielded twice: " .. tostring(name))
      seen[name] = true
      assert.is_not_nil(doc[name], name)
      if doc[name] == cjson.null then
        assert.is_nil(value, name)
      elseif type(doc[name]) ~= "table" then
        assert.equal(expected(name, doc[name]), value, name)
      end
    end
    assert.equal(n_body, n)
    assert.is_true(seen.deleted_at)
  end)

  -- Lua 5.4 honours __pairs on the userdata; LuaJIT's pairs accepts only tables (by design:
  -- 5.1 semantics), so there the portable podero.fields(hp) is checked against hp:fields()
  -- and pairs(hp) must raise rather than iterate something else.
  it("pairs(hp) iterates like hp:fields() (LuaJIT: podero.fields(hp); pairs(hp) raises)", function()
    local hp = fetch(d.heat_pump_id)
    local a, b = {}, {}
    for k in hp:fields() do a[#a + 1] = k end
    if support.LUAJIT then
      assert.has_error(function() for _ in pairs(hp) do end end)
      for k in podero.fields(hp) do b[#b + 1] = k end
    else
      for k in pairs(hp) do b[#b + 1] = k end
    end
    assert.same(a, b)
  end)

  it("hp:raw() is the body as received", function()
    local hp, body = fetch(d.heat_pump_all_actions_id)
    assert.equal(body, hp:raw())
  end)

  it("hp:to_table() is plain tables: no metatables, podero.null for nulls, the lazy reader's Decimal rule", function()
    local hp, body = fetch(d.heat_pump_all_actions_id)
    local t = hp:to_table()
    assert.equal("table", type(t))
    assert.is_false(has_metatable_anywhere(t))
    assert.equal(podero.null, t.deleted_at)
    assert.equal("table", type(t.actions))
    assert.equal("table", type(t.owner))
    assert.equal(hp.owner.email, t.owner.email)
    local doc = cjson.decode(body)
    local converted = 0
    for name in pairs(DECIMAL) do
      if doc[name] ~= cjson.null then
        -- what to_table() holds is what the object reads: numeric strings as numbers
        assert.equal(hp[name], t[name], name)
        if type(doc[name]) == "string" and type(t[name]) == "number" then converted = converted + 1 end
      end
    end
    assert.is_true(converted > 0, "this heat pump has Decimal strings")
    assert.same(podero.DECIMAL_FIELDS, (function()
      local l = {}
      for name in pairs(DECIMAL) do l[#l + 1] = name end
      table.sort(l)
      return l
    end)())
    assert.is_true(support.is_integer(t.min_solar_power_w))
    assert.is_true(support.is_integer(t.device_model.year))
  end)

  it("cjson.encode(hp:to_table()) has the values of hp:raw() as the object reads them", function()
    -- lua-cjson writes at most 14 significant digits: numbers compare within 1e-13
    local function near(a, b, path)
      if type(a) == "number" and type(b) == "number" then
        assert(math.abs(a - b) <= 1e-13 * math.max(1, math.abs(a)), path .. ": " .. a .. " ~= " .. b)
      elseif type(a) == "table" and type(b) == "table" then
        for k, v in pairs(a) do near(v, b[k], path .. "." .. tostring(k)) end
        for k in pairs(b) do assert(a[k] ~= nil, path .. "." .. tostring(k) .. " is extra") end
      else
        assert(a == b, path .. ": " .. tostring(a) .. " ~= " .. tostring(b))
      end
    end
    for _, id in ipairs({ d.heat_pump_id, d.heat_pump_all_actions_id, d.heat_pump_no_model_id,
                          d.heat_pump_odd_strings_id }) do
      local hp = fetch(id)
      local want = cjson.decode(hp:raw())
      for name in pairs(DECIMAL) do
        if type(want[name]) == "string" and tonumber(want[name]) and want[name]:match("^%-?%d") then
          want[name] = tonumber(want[name])
        end
      end
      local ok, msg = pcall(near, want, cjson.decode(cjson.encode(hp:to_table())), "hp")
      assert.is_true(ok, msg)
    end
  end)

  it("podero.fields and podero.to_table work on nested objects (an action's metadata)", function()
    local hp, body = fetch(d.heat_pump_all_actions_id)
    local doc = cjson.decode(body)
    local meta = hp.actions[2].metadata
    local got = {}
    for k, v in podero.fields(meta) do got[k] = v end
    assert.same(doc.actions[2].metadata, got)
    assert.same(doc.actions[2].metadata, podero.to_table(meta))
    assert.is_false(has_metatable_anywhere(podero.to_table(hp.actions)))
    assert.same(doc.actions, podero.to_table(hp.actions))
  end)

  it("podero.fields over an array yields index, value", function()
    local hp = fetch(d.heat_pump_all_actions_id)
    local idx = {}
    for i, a in podero.fields(hp.actions) do
      idx[#idx + 1] = i
      assert.equal(hp.actions[i].code, a.code)
    end
    assert.same({ 1, 2 }, { idx[1], idx[2] })
    assert.equal(#hp.actions, #idx)
  end)

  it("podero.fields / podero.to_table raise for something that is not a podero object", function()
    assert.has_error(function() podero.fields({}) end)
    assert.has_error(function() podero.to_table("x") end)
    assert.has_error(function() podero.to_table(nil) end)
  end)

  it("a nested object outlives its heat pump", function()
    local owner
    do
      local hp = fetch(d.heat_pump_id)
      owner = hp.owner
    end
    collectgarbage()
    collectgarbage()
    assert.equal("string", type(owner.email))
    assert.equal("string", type(owner.id))
  end)
end)

describe("field rules (podero.core.parse of a heat pump)", function()
  describe("a string in a number|string field", function()
    local cases = {
      { "21.50", true }, { "47", true }, { "1E-8", true }, { "-7.28", true }, { "0", true },
      { "-0", true }, { "1.0", true }, { "0.30000000000000004", true }, { "1e400", true },
      { "123456789012345678901234567890", true }, { "2.5e+3", true }, { "9223372036854775807", true },
      { "n/a", false }, { "", false }, { " 21.5", false }, { "21.5 ", false }, { "21.", false },
      { ".5", false }, { "+1", false }, { "0x10", false }, { "01", false }, { "1e", false },
      { "NaN", false }, { "inf", false }, { "Infinity", false }, { "-", false }, { "1,5", false },
      { "21.50\0", false }, { "12abc", false },
    }
    for _, case in ipairs(cases) do
      local s, numeric = case[1], case[2]
      if numeric then
        it(("%q reads as tonumber(%q)"):format(s, s), function()
          local hp = parse_hp({ outdoor_temperature = s, indoor_target_temperature = s })
          local want = tonumber(s)
          assert.equal(want, hp.outdoor_temperature)
          assert.equal(support.num_type(want), support.num_type(hp.outdoor_temperature))
          assert.equal(want, hp.indoor_target_temperature)
        end)
      else
        it(("%q reads unchanged"):format(s), function()
          local hp = parse_hp({ outdoor_temperature = s })
          assert.equal(s, hp.outdoor_temperature)
        end)
      end
    end
  end)

  describe("a number-looking string in a string-only field stays a string", function()
    for _, name in ipairs({ "external_device_id", "comment", "current_mode", "heating_policy_name",
                            "lifecycle_state", "optimization_level", "id" }) do
      it(name, function()
        local hp = parse_hp({ [name] = "12345" })
        assert.equal("12345", hp[name])
        assert.equal("string", type(hp[name]))
      end)
    end

    it("optimization_score (number only) given as a string stays a string", function()
      local hp = parse_hp({ optimization_score = "0.5" })
      assert.equal("0.5", hp.optimization_score)
    end)

    it("nested objects do not get the decimal rule (owner.external_id, metadata)", function()
      local hp = parse_hp('{"owner":{"id":"x","external_id":"007","outdoor_temperature":"1.5"},'
        .. '"actions":[{"code":"information","metadata":{"message":"42"}}]}')
      assert.equal("007", hp.owner.external_id)
      assert.equal("1.5", hp.owner.outdoor_temperature)
      assert.equal("42", hp.actions[1].metadata.message)
    end)
  end)

  describe("numbers read as a correct decoder reads them", function()
    local lits = {
      "0", "-1", "2000", "0.1", "0.8700000000000001", "1E2", "1e21", "-2.5e-3",
      "123456789.123456789", "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308",
      "3.141592653589793238462643383279", "9007199254740993", "9223372036854775807",
      "-9223372036854775808", "9223372036854775808", "1.5e300", "0.000001", "100000000000000000000",
    }
    for _, lit in ipairs(lits) do
      it(lit, function()
        local hp = parse_hp('{"optimization_score":' .. lit .. ',"x":[' .. lit .. ']}')
        local want = tonumber(lit)
        assert.equal(want, hp.optimization_score)
        assert.equal(support.num_type(want), support.num_type(hp.optimization_score))
        assert.equal(want, hp.x[1])
      end)
    end

    it("keeps integers integers (min_solar_power_w, current_power_consumption_w)", function()
      local hp = parse_hp('{"min_solar_power_w":2000,"current_power_consumption_w":-3}')
      assert.is_true(support.is_integer(hp.min_solar_power_w))
      assert.equal(2000, hp.min_solar_power_w)
      assert.is_true(support.is_integer(hp.current_power_consumption_w))
      assert.equal(-3, hp.current_power_consumption_w)
    end)

    it("reads a number with a fraction or exponent as a float", function()
      local hp = parse_hp('{"a":2.0,"b":1e2}')
      assert.is_true(support.is_float(hp.a))
      assert.is_true(support.is_float(hp.b))
    end)
  end)

  it("reads null as nil, true/false as booleans", function()
    local hp = parse_hp('{"a":null,"b":true,"c":false}')
    assert.is_nil(hp.a)
    assert.is_true(hp.b)
    assert.is_false(hp.c)
  end)

  it("decodes string escapes and UTF-8", function()
    local hp = parse_hp([[{"s":"a\"b\\c\/d\n\u00fc\ud83d\ude00","t":"Müller"}]])
    assert.equal('a"b\\c/d\n\195\188\240\159\152\128', hp.s)
    assert.equal("Müller", hp.t)
  end)

  it("keeps a string with an embedded NUL whole", function()
    local hp = parse_hp('{"s":"a\\u0000b"}')
    assert.equal("a\0b", hp.s)
  end)

  it("an empty object has no fields and an empty array has length 0", function()
    local hp = parse_hp('{"actions":[]}')
    assert.equal(0, #hp.actions)
    local n = 0
    for _ in podero.fields(hp.actions) do n = n + 1 end
    assert.equal(0, n)
    local e = parse_hp("{}")
    for _ in e:fields() do n = n + 1 end
    assert.equal(0, n)
  end)

  it("nulls inside arrays keep the array's length", function()
    local hp = parse_hp('{"a":[1,null,3]}')
    assert.equal(3, #hp.a)
    assert.is_nil(hp.a[2])
    assert.equal(3, hp.a[3])
    assert.same({ 1, podero.null, 3 }, podero.to_table(hp.a))
  end)

  it("hp:raw() returns the parsed string", function()
    local s = '{"connection_status":"ok", "x" : [1, 2]}'
    assert.equal(s, parse_hp(s):raw())
  end)

  it("a field named like a method still shows in hp:fields() and to_table()", function()
    local hp = parse_hp('{"raw":"field value","fields":1}')
    assert.equal("function", type(hp.raw))
    local t = hp:to_table()
    assert.equal("field value", t.raw)
    local got = {}
    for k, v in hp:fields() do got[k] = v end
    assert.equal("field value", got.raw)
    assert.equal(1, got.fields)
  end)

  it("a repeated key: the last one wins, in indexing, fields() and to_table() alike", function()
    local hp = parse_hp('{"a":1,"b":true,"a":2}')
    assert.equal(2, hp.a)
    assert.equal(2, hp:to_table().a)
    local seen = {}
    for k, v in hp:fields() do
      assert.is_nil(seen[k], "fields() yields " .. k .. " twice")
      seen[k] = v
    end
    assert.equal(2, seen.a)
  end)

  it("reading the same field twice gives the same object", function()
    local hp = parse_hp('{"owner":{"id":"x"}}')
    assert.equal(hp.owner, hp.owner)
  end)

  describe("strict JSON: a decode error, not a crash", function()
    local bad = {
      "", " ", "{", "}", '{"a":1,}', "{'a':1}", '{"a":01}', '{"a":1} x', '{"a":NaN}',
      '{"a":"\\x"}', '{"a":"\1"}', '{"a":tru}', "[1,2]", '"str"', "42", "null",
      string.rep("[", 100000), string.rep('{"a":', 100000),
    }
    for _, s in ipairs(bad) do
      it(("rejects %q"):format(#s > 30 and (s:sub(1, 20) .. "...") or s), function()
        local hp, err = core.parse(s, "heat_pump")
        assert.is_nil(hp)
        assert.truthy(err)
        assert.equal("decode", err.kind)
        assert.equal("string", type(err.message))
        assert.falsy(err.message:find("\n"))
      end)
    end

    it("accepts deep nesting up to a sane depth (64 levels)", function()
      local s = '{"a":' .. string.rep("[", 64) .. string.rep("]", 64) .. "}"
      local hp, err = core.parse(s, "heat_pump")
      assert.is_nil(err)
      assert.equal(1, #hp.a)
    end)
  end)
end)
