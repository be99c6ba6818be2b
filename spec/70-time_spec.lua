-- podero.time: ISO 8601 / RFC 3339 date-times to UTC seconds.
local podero = require("podero")
local support = require("support")

describe("podero.time", function()
  it("converts the documentation's example", function()
    local t = podero.time("2025-03-14T09:26:53.589793Z")
    assert.equal("number", type(t))
    assert.is_true(math.abs(t - 1741944413.589793) < 1e-6, tostring(t))
  end)

  local exact = {
    { "1970-01-01T00:00:00Z", 0 },
    { "2025-03-14T09:26:53Z", 1741944413 },
    { "0001-01-01T00:00:00Z", -62135596800 },
    { "2000-02-29T12:00:00Z", 951825600 },
    { "2024-12-31T23:59:59Z", 1735689599 },
    { "1969-12-31T23:59:59Z", -1 },
    { "2038-01-19T03:14:08Z", 2147483648 },
    { "9999-12-31T23:59:59Z", 253402300799 },
    { "2025-03-14T11:26:53+02:00", 1741944413 },
    { "2025-03-14T03:56:53-05:30", 1741944413 },
    { "2025-03-14T09:26:53+00:00", 1741944413 },
    { "2025-03-14T09:26:53-00:00", 1741944413 },
    { "2025-03-14t09:26:53z", 1741944413 },
    { "2025-03-14 09:26:53Z", 1741944413 },
    { "2024-02-29T00:00:00Z", 1709164800 },
  }
  for _, case in ipairs(exact) do
    it(("converts %s to the integer %d"):format(case[1], case[2]), function()
      local t, err = podero.time(case[1])
      assert.is_nil(err)
      assert.equal(case[2], t)
      assert.is_true(support.is_integer(t), "an integer")
    end)
  end

  local fractional = {
    { "2024-02-06T09:57:00.796500Z", 1707213420.7965 },
    { "2025-03-14T11:26:53.5+02:00", 1741944413.5 },
    { "1970-01-01T00:00:00.000001Z", 0.000001 },
    { "1969-12-31T23:59:59.5Z", -0.5 },
    { "2025-03-14T09:26:53.0Z", 1741944413.0 },
  }
  for _, case in ipairs(fractional) do
    it(("converts %s to %.6f"):format(case[1], case[2]), function()
      local t, err = podero.time(case[1])
      assert.is_nil(err)
      assert.is_true(support.is_float(t), "a float")
      assert.is_true(math.abs(t - case[2]) < 1e-6, tostring(t))
    end)
  end

  it("converts the seed's inverter_forced_mode_since default", function()
    assert.equal(-62135596800, podero.time("0001-01-01T00:00:00Z"))
  end)

  local invalid = {
    "", "now", "2025-03-14", "2025-03-14T09:26:53", "2025-03-14T09:26Z", "2025-13-01T00:00:00Z",
    "2025-00-10T00:00:00Z", "2025-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2025-03-32T00:00:00Z",
    "2025-03-14T24:00:00Z", "2025-03-14T23:60:00Z", "2025-03-14T09:26:61Z", "2025-03-14T09:26:53.Z",
    "2025-03-14T09:26:53+2:00", "2025-03-14T09:26:53+0200", "2025-03-14T09:26:53+24:00",
    "2025-03-14T09:26:53+02:60", "2025-03-14T09:26:53ZZ", " 2025-03-14T09:26:53Z",
    "2025-03-14T09:26:53Z ", "2025/03/14T09:26:53Z", "25-03-14T09:26:53Z", "2025-3-14T09:26:53Z",
    "2025-03-14T09:26:53Z\0", "2025-03-14X09:26:53Z", "2025-03-14T09:26:53 UTC",
  }
  for _, s in ipairs(invalid) do
    it(("returns nil and a message for %q"):format(s), function()
      local t, err = podero.time(s)
      assert.is_nil(t)
      assert.equal("string", type(err))
      assert.is_true(#err > 0)
    end)
  end

  it("raises for a non-string", function()
    for _, v in ipairs({ 0, true, {} }) do
      assert.has_error(function() podero.time(v) end)
    end
    assert.has_error(function() podero.time() end)
    assert.has_error(function() podero.time(nil) end)
  end)

  it("orders date-times like the instants they name", function()
    local a = podero.time("2025-11-20T11:48:51.996080Z")
    local b = podero.time("2025-11-20T12:48:51.996081+01:00")
    assert.is_true(b > a)
    assert.is_true(b - a < 1e-5)
  end)
end)
