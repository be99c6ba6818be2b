-- The examples of the README and issue texts, run as subprocesses against the sandbox.
local support = require("support")

local ROOT, slurp = support.ROOT, support.slurp

-- runs an example with the sandbox credentials; returns stdout, stderr, exit code.
-- The examples are lua5.4 scripts (their #! line), so they run under lua5.4 with the 5.4 core
-- whichever interpreter runs the suite (under LuaJIT the inherited LUA_CPATH is LuaJIT's).
local function run_example(name, args)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = table.concat({
    support.CLEAN_ENV or "",
    "env -u PODERO_USERNAME -u PODERO_PASSWORD",
    "PODERO_BASE_URL=" .. support.shell_quote(support.url()),
    "PODERO_CLIENT_ID=" .. support.shell_quote(support.CLIENT_ID),
    "PODERO_CLIENT_SECRET=" .. support.shell_quote(support.CLIENT_SECRET),
    "LUA_CPATH=" .. support.shell_quote(ROOT .. "/build/5.4/?.so;;"),
    "lua5.4", support.shell_quote(ROOT .. "/examples/" .. name),
    table.concat(args, " "),
    ">" .. out, "2>" .. err, "</dev/null",
  }, " ")
  local ok, code = support.execute(cmd)
  return slurp(out), slurp(err), ok and 0 or code
end

describe("examples", function()
  before_each(function() support.reset() end)

  it("fleet_status.lua prints a table of the organisation's heat pumps", function()
    local demo = support.seed().demo
    local out, err, code = run_example("fleet_status.lua", { demo.org_id })
    assert.equal(0, code, err)
    assert.truthy(out:find("pending actions", 1, true))
    assert.truthy(out:find(demo.heat_pump_id, 1, true))
    local total, users = out:match("(%d+) heat pumps of (%d+) user")
    assert.truthy(tonumber(total) > 0)
    assert.truthy(tonumber(users) > 1)
  end)

  it("fleet_status.lua with a user id shows that user's heat pumps only", function()
    local demo = support.seed().demo
    local out, err, code = run_example("fleet_status.lua", { demo.org_id, demo.user_id })
    assert.equal(0, code, err)
    assert.truthy(out:find(demo.heat_pump_id, 1, true))
    assert.truthy(out:find("of 1 user", 1, true))
  end)

  it("fleet_poll.lua fetches every heat pump concurrently and summarises", function()
    local demo = support.seed().demo
    local out, err, code = run_example("fleet_poll.lua", { demo.org_id, "8" })
    assert.equal(0, code, err)
    local users, pumps, failed = out:match("(%d+) users, (%d+) heat pumps %((%d+) failed%)")
    assert.truthy(tonumber(pumps) > 0, out)
    assert.equal("0", failed)
    assert.truthy(out:find("connection: ok %d+"))
    assert.truthy(out:find("needing action: %d+"))
    -- the progress line went to stderr and reached the end
    assert.truthy(err:find("fetching heat pumps " .. pumps .. "/" .. pumps, 1, true), err)
    assert.truthy(tonumber(users) > 1)
  end)

  it("fleet_watch.lua runs passes on one long-lived client: one token, every heat pump each pass", function()
    local demo = support.seed().demo
    -- two 502s: the first listing call is retried past them
    support.fault({ { status = 502, times = 2 } })
    local out, err, code = run_example("fleet_watch.lua", { demo.org_id, "3", "0", "16" })
    assert.equal(0, code, err)
    local n = 0
    for line in out:gmatch("pass %d+: [^\n]*") do
      n = n + 1
      local pumps, failed = line:match("(%d+) heat pumps, .*, (%d+) failed")
      assert.truthy(tonumber(pumps) > 0, line)
      assert.equal("0", failed, out)
    end
    assert.equal(3, n, out)
    assert.truthy(out:find("3 passes: %d+ API requests, 1 token requests"), out)
  end)

  it("partners_day.lua creates a user, building, contract and onboarding, then lists the new device", function()
    local demo = support.seed().demo
    local out, err, code = run_example("partners_day.lua", { demo.org_id })
    assert.equal(0, code, err)
    for _, what in ipairs({ "user", "building", "contract", "onboarding" }) do
      assert.truthy(out:find("\n?" .. what .. " +%x+%-"), what .. ": " .. out)
    end
    assert.truthy(out:find("connect.podero.com", 1, true), out)
    assert.truthy(out:find("completed by the sandbox's control endpoint", 1, true), out)
    local device = out:match("device (%x+%-[%x-]+)")
    assert.truthy(device, out)
    assert.truthy(out:find(device .. "  battery", 1, true), out)
    assert.truthy(out:find("1 electric vehicles, 0 inverters, 0 heat pumps", 1, true), out)
  end)

  it("an example without credentials exits 2 with a message, not a stack trace", function()
    local out, err = os.tmpname(), os.tmpname()
    local ok, code = support.execute(table.concat({ support.CLEAN_ENV or "",
      "env -u PODERO_CLIENT_ID -u PODERO_CLIENT_SECRET -u PODERO_USERNAME -u PODERO_PASSWORD",
      "LUA_CPATH=" .. support.shell_quote(ROOT .. "/build/5.4/?.so;;"),
      "lua5.4", support.shell_quote(ROOT .. "/examples/fleet_poll.lua"),
      "00000000-0000-0000-0000-000000000000", ">" .. out, "2>" .. err }, " "))
    local e = slurp(err); slurp(out)
    assert.falsy(ok)
    assert.equal(2, code)
    assert.truthy(e:find("no credentials", 1, true), e)
    assert.falsy(e:find("stack traceback", 1, true))
  end)

  it("examples/openresty serves no secret: page and JSON are redacted (podero.redact)", function()
    -- the example starts its own sandbox, with the same deterministic seed as ours: the secrets
    -- it would leak are the ones of our copy of the Daikin heat pump it shows
    local demo = support.seed().demo
    local body = assert(support.api_get(support.hp_path(demo.org_id, demo.user_id, demo.heat_pump_all_actions_id)))
    local secrets = {}
    for v in body:gmatch("[?&]secret=(%x+)") do secrets[#secrets + 1] = v end
    for v in body:gmatch("[?&]token=(%x+)") do secrets[#secrets + 1] = v end
    assert.is_true(#secrets >= 2, "the sandbox's heat pump should carry a cue secret and a token")
    local out = os.tmpname()
    local ok = support.execute(support.CLEAN_ENV .. "env -u PODERO_BASE_URL bash "
      .. support.shell_quote(ROOT .. "/examples/openresty/run.sh") .. " --once >" .. out .. " 2>&1 </dev/null")
    local text = slurp(out)
    assert.is_true(ok, text)
    local _, pages = text:gsub("%[HTTP 200%]", "")
    assert.equal(2, pages, text)
    assert.truthy(text:find(demo.heat_pump_all_actions_id, 1, true), "the JSON should be the whole heat pump")
    assert.truthy(text:find("secret=<redacted>", 1, true), text)
    for _, v in ipairs(secrets) do
      assert.falsy(text:find(v, 1, true), "a secret was served: " .. v:sub(1, 8) .. "...")
    end
  end)
end)
