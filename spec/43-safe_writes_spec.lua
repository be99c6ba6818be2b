-- Writes that cannot go wrong silently (issue 11): a heating policy is checked against what the
-- heat pump holds and against plausible ranges before anything is sent; clear_heating_policy().
local support = require("support")

describe("safe heating policy writes", function()
  local d, c, hp
  before_each(function()
    support.reset()
    d = support.demo()
    c = support.new_client()
    hp = assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
    hp = assert(hp:set_heating_policy({ min = 19, max = 23 }))
  end)
  after_each(function() support.reset() end)

  local function refused(f, needle)
    local before = support.stats().api_requests
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(needle, 1, true), tostring(err))
    assert.equal(before, support.stats().api_requests, "nothing was sent")
  end

  it("refuses a min above the max the heat pump holds, and a max below its min", function()
    assert.equal(23, hp.maximum_temperature_limit)
    refused(function() return hp:set_heating_policy({ min = 30 }) end,
      "policy.min (30) is above policy.max (23, the heat pump's)")
    refused(function() return hp:set_heating_policy({ max = 18 }) end,
      "policy.min (19, the heat pump's) is above policy.max (18)")
    local ok = assert(hp:set_heating_policy({ min = 21 }))
    assert.equal(21, ok.minimum_temperature_limit)
  end)

  it("refuses implausible limits unless allow_outside_range", function()
    refused(function() return hp:set_heating_policy({ max = 70 }) end,
      "policy.max = 70 is outside the plausible indoor range 5..35 C")
    refused(function() return hp:set_heating_policy({ min_dhw = 95 }) end,
      "policy.min_dhw = 95 is outside the plausible hot water range 20..80 C")
    refused(function() return hp:set_away_mode({ start = 2000000000, finish = 2000086400, min_temperature = 1 }) end,
      "away.min_temperature = 1 is outside the plausible indoor range")
    refused(function() return hp:set_heating_policy({ max = 30, allow_outside_range = "yes" }) end,
      "policy.allow_outside_range must be a boolean")
    local ok = assert(hp:set_heating_policy({ min_dhw = 85, allow_outside_range = true }))
    assert.equal(85, ok.minimum_dhw_temperature_limit)
    local sent = support.requests_of("api")
    assert.is_nil(sent[#sent].body:find("allow_outside_range", 1, true), "the option is not sent")
  end)

  it("clear_heating_policy() turns the policy off and removes its limits", function()
    local cleared = assert(hp:clear_heating_policy())
    assert.is_false(cleared.is_heating_policy_enabled)
    assert.is_nil(cleared.minimum_temperature_limit)
    assert.is_nil(cleared.maximum_temperature_limit)
    assert.is_nil(cleared.minimum_dhw_temperature_limit)
    assert.is_nil(cleared.heating_policy_name)
  end)
end)
