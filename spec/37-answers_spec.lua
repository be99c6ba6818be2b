-- What an answer is: raw() gives each value's own bytes, and a detail answer must be the heat
-- pump asked for (issue 9, parts 3 and 4).
local podero = require("podero")
local core = require("podero.core")
local cjson = require("cjson")
local support = require("support")

-- s with the first occurrence of the plain text a replaced by b
local function replace(s, a, b)
  local i, j = s:find(a, 1, true)
  assert(i, "not found: " .. a)
  return s:sub(1, i - 1) .. b .. s:sub(j + 1)
end

local function detail_body(org, user, id)
  local body, status = support.api_get(support.hp_path(org, user, id))
  assert(status == 200, "sandbox answered " .. tostring(status))
  return body
end

describe("raw()", function()
  local d
  setup(function()
    support.reset()
    d = support.demo()
  end)

  it("of a whole answer is the whole body as received", function()
    local c = support.new_client()
    local hp = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.equal(detail_body(d.org_id, d.user_id, d.heat_pump_id), hp:raw())
    assert.equal(hp:raw(), podero.raw(hp))
  end)

  it("of an element of client:heat_pumps() is that heat pump's bytes only", function()
    local c = support.new_client()
    local list = c:heat_pumps(d.org_id, d.user_id)
    assert.is_true(#list >= 3)
    local whole = list:raw()
    local decoded = cjson.decode(whole)
    local total = 0
    for i = 1, #list do
      local r = list[i]:raw()
      total = total + #r
      assert.equal(list[i].id, cjson.decode(r).id)
      assert.same(decoded[i], cjson.decode(r))
      assert.truthy(whole:find(r, 1, true), "not a slice of the list body")
      assert.equal("{", r:sub(1, 1))
      assert.equal("}", r:sub(-1))
      -- no other heat pump (nor its cue secrets) in it
      for j = 1, #list do
        if j ~= i then assert.falsy(r:find(list[j].id, 1, true), "holds heat pump " .. j) end
      end
    end
    assert.is_true(total < #whole)
  end)

  it("of an element of client:users() is that user's bytes, and users have to_table/fields", function()
    local c = support.new_client()
    local users = c:users(d.org_id)
    local u = users[1]
    assert.same(cjson.decode(users:raw())[1], cjson.decode(u:raw()))
    assert.equal(u.id, u:to_table().id)
    local n = 0
    for _ in u:fields() do n = n + 1 end
    assert.is_true(n > 0)
    assert.equal(users:raw(), podero.raw(users))
    assert.equal(#users, #users:to_table())
  end)

  it("of a nested value is its exact bytes, whitespace inside kept, none around", function()
    local body = ' { "a" : 1 , "owner" :  { "email" : "x@y" ,\n "n" : [ 1 , 2 ] }  , "l": [ {"k":"]}\\""} , [ ] ] } '
    local obj = core.parse(body)
    assert.equal(body, obj:raw())
    assert.equal('{ "email" : "x@y" ,\n "n" : [ 1 , 2 ] }', obj.owner:raw())
    assert.equal("[ 1 , 2 ]", podero.raw(obj.owner.n))
    assert.equal('[ {"k":"]}\\""} , [ ] ]', obj.l:raw())
    assert.equal('{"k":"]}\\""}', obj.l[1]:raw())
    assert.equal("[ ]", obj.l[2]:raw())
  end)

  it("of a nested value outlives its parent", function()
    local c = support.new_client()
    local hp = c:heat_pump(d.org_id, d.user_id, d.heat_pump_all_actions_id)
    local owner, actions = hp.owner, hp.actions
    local want_owner = cjson.decode(hp:raw()).owner
    hp = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.same(want_owner, cjson.decode(owner:raw()))
    assert.is_true(#actions >= 1)
    assert.same(cjson.decode(actions:raw())[1], cjson.decode(actions[1]:raw()))
  end)

  it("podero.raw raises naming obj for anything that is not a podero object", function()
    for _, v in ipairs({ 1, "s", {}, true }) do
      local ok, err = pcall(podero.raw, v)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("podero.raw: obj must be a podero object", 1, true), tostring(err))
    end
  end)

  it("methods come before fields of the same name on every object; fields() still shows them", function()
    local obj = core.parse('{"raw":"field","to_table":1,"x":{"fields":2}}')
    assert.equal('{"raw":"field","to_table":1,"x":{"fields":2}}', obj:raw())
    assert.equal("function", type(obj.x.fields))
    local seen = {}
    for k, v in podero.fields(obj) do seen[k] = v end
    assert.equal("field", seen.raw)
    assert.equal(1, seen.to_table)
    assert.equal("field", podero.to_table(obj).raw)
  end)
end)

describe("a detail answer about another heat pump", function()
  local d
  before_each(function()
    support.reset()
    d = support.demo()
  end)

  local function other_body()
    return detail_body(d.org_id, d.user_id, d.heat_pump_all_actions_id)
  end

  it("is a decode error naming the id received and the one asked for", function()
    local c = support.new_client()
    support.fault({ status = 200, body = other_body() })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    assert.equal("decode", err.kind)
    assert.equal(200, err.status)
    assert.truthy(err.message:find(d.heat_pump_all_actions_id, 1, true), err.message)
    assert.truthy(err.message:find(d.heat_pump_id, 1, true), err.message)
  end)

  it("{} (a proxy's empty object) is a decode error naming the first missing field", function()
    local c = support.new_client()
    support.fault({ status = 200, json = {} })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    assert.equal("decode", err.kind)
    assert.truthy(err.message:find("lacks the required field connection_status", 1, true), err.message)
  end)

  for _, field in ipairs({ "connection_status", "monitoring_status", "steering_status", "device_model",
                           "owner", "created_at", "updated_at" }) do
    it("without the required field " .. field .. " is a decode error naming it", function()
      local t = cjson.decode(detail_body(d.org_id, d.user_id, d.heat_pump_id))
      t[field] = nil
      local c = support.new_client()
      support.fault({ status = 200, body = cjson.encode(t) })
      local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
      assert.is_nil(hp)
      assert.equal("decode", err.kind)
      assert.truthy(err.message:find("field " .. field, 1, true), err.message)
    end)
  end

  it("is accepted with the id in upper case, null or absent (the contract allows both)", function()
    local body = detail_body(d.org_id, d.user_id, d.heat_pump_id)
    local id_json = '"id":"' .. d.heat_pump_id .. '"'
    for _, variant in ipairs({
      replace(body, id_json, '"id":"' .. d.heat_pump_id:upper() .. '"'),
      replace(body, id_json, '"id":null'),
      body:find(id_json .. ",", 1, true) and replace(body, id_json .. ",", "") or replace(body, "," .. id_json, ""),
    }) do
      local c = support.new_client()
      support.fault({ status = 200, body = variant })
      local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
      assert.is_nil(err)
      assert.equal(variant, hp:raw())
    end
  end)

  it("is accepted with device_model null (required, nullable)", function()
    local c = support.new_client()
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_no_model_id)
    assert.is_nil(err)
    assert.is_nil(hp.device_model)
  end)

  it("with a non-string id is a decode error", function()
    local body = detail_body(d.org_id, d.user_id, d.heat_pump_id)
    local c = support.new_client()
    support.fault({ status = 200, body = replace(body, '"id":"' .. d.heat_pump_id .. '"', '"id":42') })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    assert.equal("decode", err.kind)
    assert.truthy(err.message:find("id is not a string", 1, true), err.message)
  end)

  it("fails that item only in fetch_heat_pumps", function()
    local c = support.new_client()
    local refs = {}
    for i = 1, 6 do refs[i] = { d.org_id, d.user_id, d.heat_pump_id } end
    support.fault({ status = 200, body = other_body() })
    local hps, errs, failed = c:fetch_heat_pumps(refs, { concurrency = 1 })
    assert.equal(1, failed)
    assert.is_nil(hps[1])
    assert.equal("decode", errs[1].kind)
    assert.truthy(errs[1].message:find(d.heat_pump_all_actions_id, 1, true), errs[1].message)
    for i = 2, 6 do assert.equal(d.heat_pump_id, hps[i].id) end
  end)

  it("to a write is a decode error too (the write's answer is checked)", function()
    local c = support.new_client()
    local hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    support.fault({ status = 200, body = other_body() })
    local res, err = hp:update({ comment = "checked" })
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    assert.truthy(err.message:find(d.heat_pump_all_actions_id, 1, true), err.message)
    support.fault({ status = 200, json = { ok = true } })
    res, err = c:update_heat_pump(d.org_id, d.user_id, d.heat_pump_id, { comment = "checked" })
    assert.is_nil(res)
    assert.equal("decode", err.kind)
  end)

  it("via refresh() is a decode error", function()
    local c = support.new_client()
    local hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    support.fault({ status = 200, body = other_body() })
    local fresh, err = hp:refresh()
    assert.is_nil(fresh)
    assert.equal("decode", err.kind)
  end)
end)

describe("podero.redact", function()
  local d
  setup(function()
    support.reset()
    d = support.demo()
  end)

  it("replaces the cue secrets and onboarding tokens of a heat pump, and keeps everything else", function()
    local c = support.new_client()
    local hp = c:heat_pump(d.org_id, d.user_id, d.heat_pump_all_actions_id)
    local raw = hp:raw()
    local red = podero.redact(hp)
    local text = cjson.encode(red)
    local n = 0
    for v in raw:gmatch("[?&]secret=(%x+)") do n = n + 1; assert.falsy(text:find(v, 1, true)) end
    for v in raw:gmatch("[?&]token=(%x+)") do n = n + 1; assert.falsy(text:find(v, 1, true)) end
    assert.is_true(n >= 2)
    assert.equal(hp.id, red.id)
    assert.equal(#hp.actions, #red.actions)
    assert.truthy(red.actions[1].resolution_link.url:find("?secret=<redacted>", 1, true))
    -- the same on the plain table and on the raw JSON text (whose Decimal strings stay strings)
    assert.same(red, podero.redact(hp:to_table()))
    local rtext = podero.redact(raw)
    assert.falsy(rtext:find("secret=%x"))
    local rdoc = cjson.decode(rtext)
    assert.equal(red.embeddable_url, rdoc.embeddable_url)
    for i, a in ipairs(red.actions) do
      assert.same(a.resolution_link, rdoc.actions[i].resolution_link)
    end
  end)

  it("leaves a table without secrets equal, copies it, and keeps other query parameters", function()
    local t = { a = { "https://x/y?lang=de&token=abc#f", 1 }, b = "no secret here", [3] = true }
    local r = podero.redact(t)
    assert.equal("https://x/y?lang=de&token=<redacted>#f", r.a[1])
    assert.equal("no secret here", r.b)
    assert.is_true(r[3])
    assert.not_equal(t, r)
    assert.equal("https://x/y?lang=de&token=abc#f", t.a[1])
  end)

  it("raises naming v for anything else", function()
    for _, v in ipairs({ 1, true }) do
      local ok, err = pcall(podero.redact, v)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("podero.redact: v must be", 1, true), tostring(err))
    end
  end)
end)
