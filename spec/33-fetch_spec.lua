-- client:fetch_heat_pumps, as users call it: batches of every size on one long-lived client,
-- growing after shrinking, with token renewals in the middle, progress callbacks that misbehave.
local support = require("support")

-- every live heat pump of the seed as { org, user, id }, in seed order
local function live_refs()
  local out = {}
  for _, org in ipairs(support.seed().orgs) do
    for _, user in ipairs(org.users) do
      for _, hp in ipairs(user.heat_pumps) do
        if not hp.deleted and not user.deleted then out[#out + 1] = { org.id, user.id, hp.id } end
      end
    end
  end
  return out
end

local function first(refs, n)
  local out = {}
  for i = 1, n do out[i] = refs[(i - 1) % #refs + 1] end
  return out
end

-- every result is the heat pump asked for, no error, failed == 0
local function assert_all_ok(refs, hps, errs, failed)
  assert.equal(0, failed)
  for i = 1, #refs do
    assert.is_nil(errs[i], "refs[" .. i .. "]: " .. tostring(errs[i]))
    assert.equal(refs[i][3], hps[i].id)
  end
  assert.is_nil(hps[#refs + 1])
end

describe("client:fetch_heat_pumps on a long-lived client", function()
  local refs
  setup(function()
    support.reset()
    refs = live_refs()
  end)

  -- the sequences of the use-after-free of issue 9: a later batch runs more transfers at once
  -- than an earlier one did
  local SEQUENCES = {
    { "concurrency 1 then 2", { { 3, 1 }, { 6, 2 } } },
    { "concurrency 16 then 17", { { 20, 16 }, { 40, 17 } } },
    { "default options, 2 refs then 94", { { 2 }, { 94 } } },
    { "a small retry pass, then a full pass, then a small one", { { 5, 4 }, { 150, 64 }, { 1, 1 }, { 200, 64 } } },
    { "shrinking then growing again", { { 100, 50 }, { 3, 2 }, { 120, 60 } } },
  }
  for _, case in ipairs(SEQUENCES) do
    it("answers every batch of a sequence right: " .. case[1], function()
      local c = support.new_client()
      for _, b in ipairs(case[2]) do
        local batch = first(refs, b[1])
        local hps, errs, failed = c:fetch_heat_pumps(batch, b[2] and { concurrency = b[2] } or nil)
        assert_all_ok(batch, hps, errs, failed)
        collectgarbage()
      end
      c:close()
    end)
  end

  it("keeps the heat pumps of earlier batches readable after later, larger ones", function()
    local c = support.new_client()
    local a = c:fetch_heat_pumps(first(refs, 2), { concurrency = 1 })
    local b = c:fetch_heat_pumps(first(refs, 64), { concurrency = 64 })
    collectgarbage()
    assert.equal(refs[1][3], a[1].id)
    assert.equal(refs[2][3], a[2].id)
    assert.equal(refs[64][3], b[64].id)
    assert.equal(a[1]:raw(), b[1]:raw())
  end)

  it("renews the token in the middle of a batch without disturbing the transfers in flight", function()
    support.reset()
    support.config({ token_ttl = 1, latency_ms = 60 })
    local c = support.new_client()
    local batch = first(refs, 48)
    local hps, errs, failed = c:fetch_heat_pumps(batch, { concurrency = 3 })
    assert_all_ok(batch, hps, errs, failed)
    -- 48 answers of 60 ms, 3 at a time: about 1 s, with a token that lives 1 s (renewed at 0.9 s)
    assert.is_true(c:stats().token_requests >= 2, "expected a renewal during the batch")
    -- and a later, wider batch on the same client
    hps, errs, failed = c:fetch_heat_pumps(first(refs, 30), { concurrency = 30 })
    assert_all_ok(first(refs, 30), hps, errs, failed)
    support.reset()
  end)

  it("answers a wave of 401 (tokens expired) with one renewal, then succeeds", function()
    support.reset()
    local c = support.new_client()
    assert.is_not_nil(c:heat_pump(refs[1][1], refs[1][2], refs[1][3]))
    support.expire_tokens()
    local batch = first(refs, 40)
    local hps, errs, failed = c:fetch_heat_pumps(batch, { concurrency = 8 })
    assert_all_ok(batch, hps, errs, failed)
    assert.equal(2, c:stats().token_requests)
  end)

  it("accepts an empty batch at any point of a sequence", function()
    local c = support.new_client()
    local hps, errs, failed = c:fetch_heat_pumps({}, { concurrency = 64 })
    assert.same({}, hps)
    assert.same({}, errs)
    assert.equal(0, failed)
    assert_all_ok(first(refs, 5), c:fetch_heat_pumps(first(refs, 5)))
  end)
end)

describe("client:fetch_heat_pumps progress callbacks", function()
  local refs
  setup(function()
    support.reset()
    refs = live_refs()
  end)

  it("is called once per heat pump with (done, total)", function()
    local c = support.new_client()
    local seen = {}
    local batch = first(refs, 10)
    local hps, errs, failed = c:fetch_heat_pumps(batch, {
      concurrency = 4, progress = function(done, total) seen[#seen + 1] = { done, total } end,
    })
    assert_all_ok(batch, hps, errs, failed)
    assert.equal(10, #seen)
    for i, s in ipairs(seen) do assert.same({ i, 10 }, s) end
  end)

  it("raises 'client is busy' when it calls a method of the same client, and the batch raises it", function()
    local c = support.new_client()
    local inner
    local ok, err = pcall(c.fetch_heat_pumps, c, first(refs, 6), {
      concurrency = 2,
      progress = function()
        local pok, perr = pcall(c.heat_pump, c, refs[1][1], refs[1][2], refs[1][3])
        inner = perr
        if not pok then error(perr, 0) end
      end,
    })
    assert.is_false(ok)
    assert.truthy(tostring(inner):find("client is busy", 1, true), tostring(inner))
    assert.truthy(tostring(err):find("client is busy", 1, true), tostring(err))
    -- the client works afterwards, with a larger batch
    assert_all_ok(first(refs, 30), c:fetch_heat_pumps(first(refs, 30), { concurrency = 30 }))
  end)

  it("cannot close the client or start a nested batch on it", function()
    local c = support.new_client()
    for _, f in ipairs({
      function() c:close() end,
      function() c:fetch_heat_pumps(first(refs, 80), { concurrency = 80 }) end,
      function() c:token() end,
    }) do
      local ok, err = pcall(c.fetch_heat_pumps, c, first(refs, 3), { concurrency = 1, progress = f })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("client is busy", 1, true), tostring(err))
    end
    assert.is_not_nil(c:heat_pump(refs[1][1], refs[1][2], refs[1][3]))
    c:close()
  end)

  it("may use another client, and collect garbage", function()
    local c, other = support.new_client(), support.new_client()
    local got = {}
    local batch = first(refs, 8)
    local hps, errs, failed = c:fetch_heat_pumps(batch, {
      concurrency = 3,
      progress = function(done)
        collectgarbage()
        local hp = other:heat_pump(refs[done][1], refs[done][2], refs[done][3])
        got[#got + 1] = hp and hp.id
      end,
    })
    assert_all_ok(batch, hps, errs, failed)
    assert.equal(8, #got)
  end)

  it("stops the batch when it raises, and the client works afterwards", function()
    local c = support.new_client()
    local ok, err = pcall(c.fetch_heat_pumps, c, first(refs, 40), {
      concurrency = 8, progress = function(done) if done == 3 then error("stop here", 0) end end,
    })
    assert.is_false(ok)
    assert.equal("stop here", err)
    assert_all_ok(first(refs, 50), c:fetch_heat_pumps(first(refs, 50), { concurrency = 50 }))
  end)

  it("is also called for items that fail without a transfer (an expired deadline)", function()
    support.reset()
    support.config({ latency_ms = 150 })
    local c = support.new_client({ deadline = 0.2 })
    local calls = 0
    local batch = first(refs, 6)
    local hps, errs, failed = c:fetch_heat_pumps(batch, { concurrency = 1, progress = function() calls = calls + 1 end })
    support.reset()
    assert.equal(6, calls)
    assert.is_true(failed >= 4, "failed: " .. tostring(failed))
    for i = 1, 6 do
      assert.is_true((hps[i] ~= nil) ~= (errs[i] ~= nil))
      if errs[i] then assert.equal("timeout", errs[i].kind) end
    end
  end)
end)

describe("client:fetch_heat_pumps with heat pump objects as refs", function()
  it("refreshes a set of heat pumps, mixed with plain refs, in order", function()
    support.reset()
    local d = support.demo()
    local c = support.new_client()
    local list = assert(c:heat_pumps(d.org_id, d.user_id))
    local one = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    local refs = { one, { d.org_id, d.user_id, d.heat_pump_all_actions_id } }
    for i = 1, #list do refs[#refs + 1] = list[i] end
    local hps, errs, failed = c:fetch_heat_pumps(refs, { concurrency = 4 })
    assert.equal(0, failed, tostring(errs[1]))
    assert.equal(d.heat_pump_id, hps[1].id)
    assert.equal(d.heat_pump_all_actions_id, hps[2].id)
    for i = 1, #list do assert.equal(list[i].id, hps[2 + i].id) end
    -- and the results of a batch are refs for the next one
    local again, _, failed2 = c:fetch_heat_pumps(hps)
    assert.equal(0, failed2)
    assert.equal(hps[#hps].id, again[#hps].id)
  end)

  it("raises naming the ref for an object that knows no client, or a nested value", function()
    local c = support.new_client()
    local d = support.demo()
    local loose = require("podero.core").parse('{"id":"' .. d.heat_pump_id .. '"}', "heat_pump")
    local ok, err = pcall(c.fetch_heat_pumps, c, { loose })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("refs[1]", 1, true) and tostring(err):find("not a heat pump of a client", 1, true), tostring(err))
    local hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    ok, err = pcall(c.fetch_heat_pumps, c, { hp, hp.owner })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("refs[2]", 1, true), tostring(err))
  end)
end)

describe("read-only objects", function()
  it("name the index a script tried to assign, or the field", function()
    local podero = require("podero")
    local l = require("podero.core").parse('[{"a":1},{"a":2},{"a":3}]', "array")
    local ok, err = pcall(function() l[3] = 1 end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("cannot assign index 3", 1, true), tostring(err))
    ok, err = pcall(function() l[1].a = 5 end)
    assert.truthy(tostring(err):find("cannot assign field 'a'", 1, true), tostring(err))
    assert.equal(3, #podero.to_table(l))
  end)
end)
