-- podero.encode(v) and v:to_json() (issue 11): exact JSON exports, the writer of request bodies.
local podero = require("podero")
local core = require("podero.core")
local cjson = require("cjson")
local support = require("support")

describe("v:to_json()", function()
  it("writes numbers as their shortest exact text, integers as integers", function()
    local v = core.parse('{"x":0.8700000000000001,"i":-0,"n":12345678901234567,"e":1E-8,"f":2.50}')
    assert.equal('{"x":0.8700000000000001,"i":0,"n":12345678901234567,"e":1e-08,"f":2.5}', v:to_json())
  end)

  it("keeps empty arrays and objects, nulls, and escapes strings as JSON requires", function()
    local v = core.parse('{"a":[],"b":{},"c":null,"s":"a\\u0000b\\n\\"/\\u00fc"}')
    assert.equal('{"a":[],"b":{},"c":null,"s":"a\\u0000b\\n\\"/ü"}', v:to_json())
    assert.equal("[]", core.parse("[]", "array"):to_json())
  end)

  it("a nested value writes itself only", function()
    local v = core.parse('{"o":{"k":[1,{"z":true}]},"p":1}')
    assert.equal('{"k":[1,{"z":true}]}', v.o:to_json())
    assert.equal('[1,{"z":true}]', v.o.k:to_json())
  end)

  it("reads a heat pump's Decimal strings as numbers, as to_table() does, and nothing else", function()
    local f = assert(io.open("bench/heat_pump.json", "rb"))
    local body = f:read("*a")
    f:close()
    body = body:gsub('"indoor_actual_temperature":%s*[^,}]+', '"indoor_actual_temperature":"21.50"', 1)
      :gsub('"comment":%s*[^,}]+', '"comment":"21.50"', 1)
    local hp = assert(core.parse(body, "heat_pump"))
    local t = cjson.decode(hp:to_json())
    assert.equal(21.5, t.indoor_actual_temperature)
    assert.equal("21.50", t.comment)
    assert.equal(hp.indoor_actual_temperature, t.indoor_actual_temperature)
    -- field by field the same values as to_table()
    local plain = hp:to_table()
    for k, v in pairs(plain) do
      if type(v) ~= "table" and v ~= podero.null then assert.equal(v, t[k], k) end
    end
  end)

  it("of a real answer decodes to the same document as raw() except the Decimal rule", function()
    local d = support.demo()
    local c = support.new_client()
    local hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    assert.same(cjson.decode(hp:raw()).owner, cjson.decode(hp:to_json()).owner)
    assert.equal(podero.encode(hp), hp:to_json())
    local list = assert(c:heat_pumps(d.org_id, d.user_id))
    assert.equal(#cjson.decode(list:raw()), #cjson.decode(list:to_json()))
  end)
end)

describe("podero.encode", function()
  it("writes Lua values: sorted keys, arrays, nulls, exact numbers", function()
    assert.equal('{"a":[1,2.5,"x"],"b":null,"c":true,"d":0.8700000000000001,"e":{}}',
      podero.encode({ e = {}, d = 0.8700000000000001, c = true, b = podero.null, a = { 1, 2.5, "x" } }))
    assert.equal("[]", podero.encode(setmetatable({}, podero.array_mt)))
    assert.equal('"a\\"\\\\\\n\\u0001/"', podero.encode('a"\\\n\1/'))
    assert.equal("null", podero.encode(nil))
  end)

  it("writes podero objects inside tables from their documents", function()
    local v = core.parse('{"x":[],"y":0.1}')
    assert.equal('{"doc":{"x":[],"y":0.1},"n":1}', podero.encode({ n = 1, doc = v }))
  end)

  it("refuses what JSON cannot say, naming it", function()
    local cases = {
      { 0 / 0, "NaN" }, { math.huge, "infinity" }, { { f = print }, "function" },
      { { [true] = 1 }, "key must be a string" }, { { 1, 2, x = 3 }, "key must be a string" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(podero.encode, c[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), tostring(err))
    end
    local t = {}
    t.self = t
    local ok, err = pcall(podero.encode, t)
    assert.is_false(ok)
    assert.truthy(err:find("contains itself", 1, true), err)
  end)

  it("reads back with cjson to the same values", function()
    local t = { users = { { id = "a", n = 3 }, { id = "b", n = 1e-7 } }, total = 2 }
    assert.same(t, cjson.decode(podero.encode(t)))
  end)
end)
