-- The `podero` command (bin/podero), run as a subprocess against the sandbox.
local support = require("support")
local cjson = require("cjson")

local q = support.shell_quote

local ROOT, slurp = support.ROOT, support.slurp
local BIN = ROOT .. "/bin/podero"

-- runs bin/podero with args (list) and env (name -> value or false to unset);
-- returns stdout, stderr, exit code
local function run(args, env)
  env = env or {}
  local e = {
    PODERO_BASE_URL = support.url(),
    PODERO_CLIENT_ID = support.CLIENT_ID,
    PODERO_CLIENT_SECRET = support.CLIENT_SECRET,
    PODERO_USERNAME = false, PODERO_PASSWORD = false,
  }
  for k, v in pairs(env) do e[k] = v end
  local parts = { "env" }
  for k, v in pairs(e) do
    if v == false then parts[#parts + 1] = "-u " .. k end
  end
  for k, v in pairs(e) do
    if v ~= false then parts[#parts + 1] = k .. "=" .. q(v) end
  end
  parts[#parts + 1] = "lua5.4 " .. q(BIN)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local out, err = os.tmpname(), os.tmpname()
  local cmd = table.concat(parts, " ") .. " >" .. q(out) .. " 2>" .. q(err) .. " </dev/null; echo $?"
  local p = io.popen(cmd)
  local code = tonumber(p:read("a"):match("(%d+)%s*$"))
  p:close()
  return slurp(out), slurp(err), code
end

local SECRETS = { support.CLIENT_SECRET, support.PASSWORD }

local function no_secret(...)
  for _, s in ipairs({ ... }) do
    for _, n in ipairs(SECRETS) do
      assert.is_nil(s:find(n, 1, true), "output contains a secret")
    end
    assert.is_nil(s:find("secret=%x%x%x%x%x%x%x%x"), "output contains a cue secret")
    assert.is_nil(s:find("stack traceback", 1, true), "output contains a stack trace")
  end
end

describe("podero command", function()
  local org, user, hp_id, actions_id
  setup(function()
    local d = support.demo()
    org, user, hp_id, actions_id = d.org_id, d.user_id, d.heat_pump_id, d.heat_pump_all_actions_id
  end)
  before_each(function() support.reset() end)

  it("--help lists the commands and exits 0", function()
    local out, err, code = run({ "--help" })
    assert.equal(0, code, err)
    for _, c in ipairs({ "heat-pump", "heat-pumps", "users", "pause", "resume", "fleet", "--sandbox", "user ORG USER",
                         "evs", "ev ORG", "boost", "inverters", "onboard", "savings" }) do
      assert.truthy(out:find(c, 1, true), c)
    end
  end)

  for _, c in ipairs({ "heat-pump", "heat-pumps", "users", "pause", "resume", "fleet", "user", "evs", "ev", "boost",
                       "inverters", "onboard", "savings" }) do
    it(c .. " --help describes the command and exits 0 without credentials", function()
      local out, err, code = run({ c, "--help" }, { PODERO_CLIENT_ID = false, PODERO_CLIENT_SECRET = false })
      assert.equal(0, code, err)
      assert.truthy(out:find("usage: podero " .. c, 1, true), out)
    end)
  end

  it("heat-pump prints a readable summary", function()
    local out, err, code = run({ "heat-pump", org, user, actions_id })
    assert.equal(0, code, err)
    assert.truthy(out:find(actions_id, 1, true))
    assert.truthy(out:find("Daikin Altherma 3 H HT", 1, true), out)
    assert.truthy(out:find("demo.user@alpenstrom.example", 1, true))
    assert.truthy(out:find("reauthenticate", 1, true))
    assert.truthy(out:find("information: ", 1, true))
    no_secret(out, err)
  end)

  it("heat-pump shows 'Paused until' only while the pause is to come", function()
    local c = support.new_client()
    assert(c:update_heat_pump(org, user, hp_id, { pause_power_until = "2001-01-01T00:00:00Z", is_pause_power_active = true }))
    local out, err, code = run({ "heat-pump", org, user, hp_id })
    assert.equal(0, code, err)
    assert.truthy(out:match("Paused%s+%- %(ended 2001%-01%-01T00:00:00Z%)"), out)
    assert(c:update_heat_pump(org, user, hp_id, { pause_power_until = "2099-01-01T00:00:00Z", is_pause_power_active = true }))
    out, err, code = run({ "heat-pump", org, user, hp_id })
    assert.equal(0, code, err)
    assert.truthy(out:match("Paused%s+until 2099%-01%-01T00:00:00Z"), out)
    assert(c:update_heat_pump(org, user, hp_id, { pause_power_until = require("podero").null, is_pause_power_active = false }))
    c:close()
  end)

  it("heat-pump --json prints the heat pump as JSON with secrets redacted", function()
    local out, err, code = run({ "heat-pump", org, user, actions_id, "--json" })
    assert.equal(0, code, err)
    local v = cjson.decode(out)
    assert.equal(actions_id, v.id)
    assert.equal(2, #v.actions)
    assert.truthy(v.actions[1].resolution_link.url:find("secret=<redacted>", 1, true))
    no_secret(out, err)
  end)

  it("heat-pump --include-deleted finds a soft-deleted heat pump; without it exit 1", function()
    local del = support.demo().deleted_heat_pump_id
    local out, err, code = run({ "heat-pump", org, user, del })
    assert.equal(1, code)
    assert.equal("", out)
    local lines = select(2, err:gsub("\n", "\n"))
    assert.equal(1, lines, err)
    assert.truthy(err:find("404", 1, true), err)
    no_secret(out, err)
    out, err, code = run({ "heat-pump", org, user, del, "--include-deleted" })
    assert.equal(0, code, err)
    assert.truthy(out:find("deleted", 1, true))
  end)

  it("heat-pumps prints a table", function()
    local out, err, code = run({ "heat-pumps", org, user })
    assert.equal(0, code, err)
    assert.truthy(out:match("^ID%s+MODEL"), out)
    assert.truthy(out:find(hp_id, 1, true))
    assert.is_nil(out:find(support.demo().deleted_heat_pump_id, 1, true))
    local _, n = out:gsub("\n", "")
    assert.equal(1 + 5, n)
    no_secret(out, err)
  end)

  it("users prints a table", function()
    local out, err, code = run({ "users", org })
    assert.equal(0, code, err)
    assert.truthy(out:match("^ID%s+EMAIL"), out)
    assert.truthy(out:find("demo.user@alpenstrom.example", 1, true))
  end)

  it("user, evs, ev, inverters, boost, onboard and savings (issue 12)", function()
    local d = support.get_json("/_sandbox/seed/devices").demo
    local out, err, code = run({ "user", org, user })
    assert.equal(0, code, err)
    assert.truthy(out:find("demo.user@alpenstrom.example", 1, true), out)
    out, err, code = run({ "evs", org, user })
    assert.equal(0, code, err)
    assert.truthy(out:match("^ID%s+MODEL%s+CONNECTION%s+BATTERY"), out)
    assert.truthy(out:find(d.ev_charging_id, 1, true))
    out, err, code = run({ "ev", org, user, d.ev_boostable_id, "--json" })
    assert.equal(0, code, err)
    assert.equal(d.ev_boostable_id, cjson.decode(out).id)
    out, err, code = run({ "ev", org, user, d.ev_boostable_id })
    assert.equal(0, code, err)
    assert.truthy(out:find("Boost%s+available"), out)
    out, err, code = run({ "inverters", org, user })
    assert.equal(0, code, err)
    assert.truthy(out:find(d.inverter_battery_id, 1, true), out)
    out, err, code = run({ "boost", org, user, d.ev_boostable_id })
    assert.equal(0, code, err)
    assert.truthy(out:find("boost requested for " .. d.ev_boostable_id, 1, true), out)
    out, err, code = run({ "boost", org, user, d.ev_charging_id })
    assert.equal(1, code)
    assert.truthy(err:find("already charging or its battery is full", 1, true), err)
    assert.equal(1, select(2, err:gsub("\n", "")))
    out, err, code = run({ "onboard", org, user, "--success-url", "https://p.example/ok", "--cancel-url", "https://p.example/no" })
    assert.equal(0, code, err)
    assert.truthy(out:match("^https://connect%.podero%.com%?onboarding_session_id=%x+"), out)
    out, err, code = run({ "onboard", org, user, "--success-url", "https://p.example/ok" })
    assert.equal(2, code)
    assert.truthy(err:find("--cancel-url", 1, true), err)
    out, err, code = run({ "savings", org, "--from", "2030-01-01T00:00:00Z", "--to", "30d" })
    assert.equal(2, code)
    assert.truthy(err:find("--to is before --from", 1, true), err)
    out, err, code = run({ "savings", org, "--from", "30d", "--to", "2030-01-01T00:00:00+01:00" })
    assert.equal(0, code, err)
    assert.truthy(out:find("total_savings%s+%d"), out)
    no_secret(out, err)
  end)

  it("pause --for and resume change the heat pump", function()
    local out, err, code = run({ "pause", org, user, hp_id, "--for", "2h" })
    assert.equal(0, code, err)
    assert.truthy(out:find("paused " .. hp_id .. " until ", 1, true), out)
    assert.truthy(out:match("until %d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ"), out)
    local hp = cjson.decode((support.api_get(support.hp_path(org, user, hp_id))))
    assert.is_true(hp.is_pause_power_active)
    local until_ = require("podero").time(hp.pause_power_until)
    assert.is_true(math.abs(until_ - (os.time() + 7200)) < 60)
    out, err, code = run({ "pause", org, user, hp_id, "--for=30m" })
    assert.equal(0, code, err)
    out, err, code = run({ "pause", org, user, hp_id, "--for", "1h30m" })
    assert.equal(0, code, err)
    hp = cjson.decode((support.api_get(support.hp_path(org, user, hp_id))))
    assert.is_true(math.abs(require("podero").time(hp.pause_power_until) - (os.time() + 5400)) < 60)
    out, err, code = run({ "pause", org, user, hp_id, "--until", "2099-12-24T18:00:00+01:00" })
    assert.equal(0, code, err)
    assert.truthy(out:find("until 2099-12-24T17:00:00Z", 1, true), out)
    out, err, code = run({ "resume", org, user, hp_id })
    assert.equal(0, code, err)
    assert.truthy(out:find("resumed", 1, true))
    hp = cjson.decode((support.api_get(support.hp_path(org, user, hp_id))))
    assert.is_false(hp.is_pause_power_active)
    assert.equal(cjson.null, hp.pause_power_until)
  end)

  it("fleet prints the heat pumps by status, with no progress line in a pipe", function()
    local out, err, code = run({ "fleet", org })
    assert.equal(0, code, err)
    assert.truthy(out:find("25 users", 1, true), out)
    assert.truthy(out:find("%s+ok%s+%d+"))
    assert.truthy(out:find("attention", 1, true))
    assert.is_nil(err:find("fetching heat pumps", 1, true), err)
    no_secret(out, err)
  end)

  it("fleet shows progress on a terminal, and not with --quiet", function()
    -- script(1) (util-linux, in every Debian) runs the command on a pseudo-terminal
    local function on_tty(extra)
      local cmd = ("PODERO_BASE_URL=%s PODERO_CLIENT_ID=%s PODERO_CLIENT_SECRET=%s lua5.4 %s fleet %s%s"):format(
        q(support.url()), q(support.CLIENT_ID), q(support.CLIENT_SECRET), q(BIN), q(org), extra)
      local p = io.popen("script -qec " .. q(cmd) .. " /dev/null </dev/null")
      local text = p:read("a")
      p:close()
      return text
    end
    local text = on_tty("")
    assert.truthy(text:find("fetching heat pumps: user 25/25", 1, true), text)
    assert.truthy(text:find("25 users", 1, true), text)
    text = on_tty(" --quiet")
    assert.is_nil(text:find("fetching heat pumps", 1, true), text)
    assert.truthy(text:find("25 users", 1, true), text)
  end)

  it("fleet --watch --count N runs N rounds", function()
    local out, err, code = run({ "fleet", org, "--watch", "1s", "--count", "2" })
    assert.equal(0, code, err)
    local _, rounds = out:gsub("organisation " .. org:gsub("%-", "%%-"), "")
    assert.equal(2, rounds)
  end)

  describe("exit codes", function()
    local USAGE = {
      { {}, "no command" },
      { { "frobnicate" }, "an unknown command" },
      { { "heat-pump", "x" }, "too few arguments" },
      { { "heat-pump", "not-a-uuid", "19c004ae-e335-471e-a7dc-909929f8b8e2", "a82312a9-0252-415b-bc53-6146aff3f3af" }, "a bad id" },
      { { "users", "c871d975-416e-4563-b526-5e1fc9c9e070", "--colour" }, "an unknown option" },
      { { "pause", "c871d975-416e-4563-b526-5e1fc9c9e070", "19c004ae-e335-471e-a7dc-909929f8b8e2", "a82312a9-0252-415b-bc53-6146aff3f3af" }, "pause without --for" },
      { { "pause", "c871d975-416e-4563-b526-5e1fc9c9e070", "19c004ae-e335-471e-a7dc-909929f8b8e2", "a82312a9-0252-415b-bc53-6146aff3f3af", "--for", "soon" }, "a bad duration" },
      { { "pause", "c871d975-416e-4563-b526-5e1fc9c9e070", "19c004ae-e335-471e-a7dc-909929f8b8e2", "a82312a9-0252-415b-bc53-6146aff3f3af", "--for", "2" }, "a duration without a unit" },
      { { "pause", "c871d975-416e-4563-b526-5e1fc9c9e070", "19c004ae-e335-471e-a7dc-909929f8b8e2", "a82312a9-0252-415b-bc53-6146aff3f3af", "--until", "2001-01-01T00:00:00Z" }, "--until in the past" },
      { { "pause", "c871d975-416e-4563-b526-5e1fc9c9e070", "19c004ae-e335-471e-a7dc-909929f8b8e2", "a82312a9-0252-415b-bc53-6146aff3f3af", "--until", "tomorrow" }, "--until that is not a time" },
      { { "pause", "c871d975-416e-4563-b526-5e1fc9c9e070", "19c004ae-e335-471e-a7dc-909929f8b8e2",
          "a82312a9-0252-415b-bc53-6146aff3f3af", "--for", "1h", "--until", "2099-01-01T00:00:00Z" }, "both --for and --until" },
      { { "fleet", "c871d975-416e-4563-b526-5e1fc9c9e070", "--count", "2" }, "--count without --watch" },
      { { "fleet", "c871d975-416e-4563-b526-5e1fc9c9e070", "--watch", "1s", "--count", "x" }, "a bad count" },
    }
    for _, case in ipairs(USAGE) do
      it("2 for " .. case[2], function()
        local before = support.stats().api_requests
        local out, err, code = run(case[1])
        assert.equal(2, code, err)
        assert.truthy(err:find("podero", 1, true))
        no_secret(out, err)
        assert.equal(before, support.stats().api_requests)
      end)
    end

    it("2 without credentials", function()
      local out, err, code = run({ "users", org }, { PODERO_CLIENT_ID = false, PODERO_CLIENT_SECRET = false })
      assert.equal(2, code)
      assert.truthy(err:find("credentials", 1, true))
      no_secret(out, err)
    end)

    it("1 with wrong credentials, one line, no secret", function()
      local out, err, code = run({ "users", org }, { PODERO_CLIENT_SECRET = "wrong-" .. support.CLIENT_SECRET })
      assert.equal(1, code)
      assert.equal("", out)
      assert.equal(1, select(2, err:gsub("\n", "")), err)
      assert.truthy(err:find("auth", 1, true), err)
      no_secret(out, err)
      assert.is_nil(err:find("wrong-", 1, true))
    end)

    it("password credentials work and are never printed", function()
      local out, err, code = run({ "users", org }, { PODERO_CLIENT_ID = false, PODERO_CLIENT_SECRET = false,
        PODERO_USERNAME = support.USERNAME, PODERO_PASSWORD = support.PASSWORD })
      assert.equal(0, code, err)
      no_secret(out, err)
    end)

    it("1 on a server error (503 after retries)", function()
      support.fault({ status = 503, times = 10 })
      local _, err, code = run({ "heat-pump", org, user, hp_id })
      assert.equal(1, code)
      assert.truthy(err:find("503", 1, true), err)
      assert.equal(1, select(2, err:gsub("\n", "")), err)
    end)

    it("1 when the server cannot be reached", function()
      local out, err, code = run({ "users", org }, { PODERO_BASE_URL = "http://127.0.0.1:1" })
      assert.equal(1, code)
      assert.truthy(err:find("network", 1, true), err)
      no_secret(out, err)
    end)
  end)

  it("--sandbox starts its own sandbox, uses it and stops it", function()
    local out, err, code = run({ "--sandbox", "heat-pumps", org, user },
      { PODERO_BASE_URL = false, PODERO_CLIENT_ID = false, PODERO_CLIENT_SECRET = false })
    assert.equal(0, code, err)
    assert.truthy(out:find(hp_id, 1, true))
    local url = err:match("sandbox at (http://%S+)")
    assert.truthy(url, err)
    assert.are_not.equal(support.url(), url)
    -- stopped at exit: nothing answers there any more
    local _, status = support.curl("/_sandbox/health", { url = url .. "/_sandbox/health" })
    assert.equal(0, status)
  end)
end)
