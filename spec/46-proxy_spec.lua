-- The proxy option (issue 11): a URL, or false for none (libcurl otherwise honours https_proxy,
-- http_proxy, all_proxy and no_proxy from the environment); a proxy that fails is named in the
-- error, without its user info.
local podero = require("podero")
local support = require("support")

describe("proxy", function()
  local d
  before_each(function()
    support.reset()
    d = support.demo()
  end)

  it("sends every request through the proxy", function()
    -- an unresolvable host: only the proxy (the sandbox, which serves absolute-form requests)
    -- can answer it
    local c = support.new_client({ base_url = "http://podero.invalid",
      token_url = "http://podero.invalid/api/partners/v2.0/auth/token", proxy = support.url() })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(err)
    assert.equal(d.heat_pump_id, hp.id)
    local api = support.requests_of("api")
    assert.equal("podero.invalid", api[#api].headers.host)
  end)

  it("a proxy that cannot be reached is named, without its user info", function()
    local c = support.new_client({ proxy = "http://proxyuser:pr0xy-s3cret@127.0.0.1:9", max_retries = 0 })
    local hp, err = c:heat_pump(d.org_id, d.user_id, d.heat_pump_id)
    assert.is_nil(hp)
    assert.equal("network", err.kind)
    assert.equal("token", err.endpoint)
    assert.truthy(err.message:find("cannot reach the proxy http://127.0.0.1:9", 1, true), err.message)
    assert.is_false(support.leaks(err, { "pr0xy-s3cret", "proxyuser" }))
  end)

  it("proxy = false reaches the API directly", function()
    local c = support.new_client({ proxy = false })
    assert(c:heat_pump(d.org_id, d.user_id, d.heat_pump_id))
  end)

  it("refuses a proxy that is not a proxy URL, naming the option", function()
    for _, bad in ipairs({ true, 3, "ftp://x", "http://", "127.0.0.1:3128", "http://h:1/path" }) do
      local ok, err = pcall(podero.new, { token = "t", proxy = bad })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("proxy", 1, true), tostring(err))
    end
  end)

  it("an environment proxy is named as such, and proxy = false bypasses it", function()
    if os.getenv("PODERO_IN_PROCESS_ONLY") == "1" then
      return pending("PODERO_IN_PROCESS_ONLY=1: no child process")
    end
    local ok, out = support.lua_child(([[
local support = require("support")
local _, err = support.new_client({ max_retries = 0 }):heat_pump(%q, %q, %q)
io.write(tostring(err and err.message), "\n")
io.write(tostring(support.new_client({ proxy = false }):heat_pump(%q, %q, %q) ~= nil), "\n")
]]):format(d.org_id, d.user_id, d.heat_pump_id, d.org_id, d.user_id, d.heat_pump_id), "http_proxy=http://127.0.0.1:9")
    assert.is_true(ok, out)
    assert.truthy(out:find("cannot reach the proxy http://127.0.0.1:9 (from the environment)", 1, true), out)
    assert.truthy(out:find("\ntrue\n", 1, true), out)
  end)

  -- A client made with no proxy variable in the environment tells libcurl "no proxy" once
  -- (it does not search the environment on every request); with one, libcurl still reads them
  -- all, no_proxy included.
  it("no_proxy from the environment is honoured beside a proxy variable", function()
    if os.getenv("PODERO_IN_PROCESS_ONLY") == "1" then
      return pending("PODERO_IN_PROCESS_ONLY=1: no child process")
    end
    local ok, out = support.lua_child(([[
local support = require("support")
local hp, err = support.new_client({ max_retries = 0 }):heat_pump(%q, %q, %q)
io.write(tostring(hp ~= nil), " ", tostring(err and err.message), "\n")
]]):format(d.org_id, d.user_id, d.heat_pump_id), "http_proxy=http://127.0.0.1:9 no_proxy=127.0.0.1")
    assert.is_true(ok, out)
    assert.truthy(out:find("true nil", 1, true), out)
  end)
end)
