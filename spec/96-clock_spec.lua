-- Issue 3, "Tokens": token expiry runs on a monotonic clock, so a jump of the wall clock
-- changes nothing. A child process runs with libfaketime (Debian's faketime) moving its wall
-- clock while CLOCK_MONOTONIC stays real (FAKETIME_DONT_FAKE_MONOTONIC=1).
local support = require("support")

local LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

local ROOT = support.ROOT

-- The child: one call, then the wall clock jumps by `jump` (a faketime offset such as "+3d"),
-- real time passes (`pause` s), one more call. Prints "wall <s> token <n> api <n>".
local CHILD = [[
local podero = require("podero")
local d = { org = arg[1], user = arg[2], hp = arg[3] }
local c = podero.new{ base_url = arg[4], client_id = arg[5], client_secret = arg[6] }
local t0 = os.time()
assert(c:heat_pump(d.org, d.user, d.hp))
local f = assert(io.open(os.getenv("FAKETIME_TIMESTAMP_FILE"), "w"))
f:write(arg[7], "\n")
f:close()
os.execute("sleep " .. arg[8])
local t1 = os.time()
assert(c:heat_pump(d.org, d.user, d.hp))
local s = c:stats()
print(("wall %d token %d api %d"):format(t1 - t0, s.token_requests, s.api_requests))
]]

local function run_child(jump, pause)
  local dm = support.demo()
  local script, stamp, out = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w")); f:write(CHILD); f:close()
  f = assert(io.open(stamp, "w")); f:write("+0\n"); f:close()
  local q = support.shell_quote
  local cmd = table.concat({
    support.CLEAN_ENV,
    "LD_PRELOAD=" .. LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE=" .. q(stamp),
    "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1",
    "LUA_PATH=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
    "LUA_CPATH=" .. q(ROOT .. "/build/" .. support.CORE_DIR .. "/?.so;;"),
    support.LUA_BIN, q(script), dm.org_id, dm.user_id, dm.heat_pump_id, q(support.url()),
    q(support.CLIENT_ID), q(support.CLIENT_SECRET), q(jump), tostring(pause),
    ">" .. q(out), "2>&1",
  }, " ")
  local ok, code = support.execute(cmd)
  local r = io.open(out):read("*a")
  os.remove(script); os.remove(stamp); os.remove(out)
  assert(ok, "child failed (" .. tostring(code) .. "): " .. r)
  local wall, token, api = r:match("wall (%-?%d+) token (%d+) api (%d+)")
  assert(wall, "no result line: " .. r)
  return tonumber(wall), tonumber(token), tonumber(api)
end

local have_faketime = io.open(LIBFAKETIME) ~= nil

describe("token expiry and the wall clock", function()
  before_each(function() support.reset() end)

  if not have_faketime then
    pending("libfaketime is not installed (Debian package faketime)")
    return
  end

  it("a wall clock jump of 3 days forward does not renew a 10-hour token", function()
    local wall, token, api = run_child("+3d", 0.2)
    assert.truthy(wall >= 3 * 86400 - 5, "the wall clock did not jump: " .. wall)
    assert.equal(1, token)
    assert.equal(2, api)
  end)

  it("a wall clock jump back by a day does not keep an expired token: renewed before use", function()
    -- tokens live 2 s; 2.5 s pass in real time while the wall clock goes back a day. The
    -- client renews before the second call (2 token requests) and does not need a 401 for
    -- it (2 API requests, not 3)
    support.config({ token_ttl = 2 })
    local wall, token, api = run_child("-1d", 2.5)
    assert.truthy(wall <= -86400 + 10, "the wall clock did not jump back: " .. wall)
    assert.equal(2, token)
    assert.equal(2, api)
  end)
end)
