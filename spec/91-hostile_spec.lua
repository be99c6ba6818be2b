-- Hostile input: every JSONTestSuite file as a heat pump body, a real body truncated at every
-- byte, misuse of the API (bad ids, bad URLs), the client's life cycle (close, <close>, __gc)
-- and reads under the most aggressive garbage collector settings.
local support = require("support")
local hard = require("servers.hardening")
local podero = require("podero")
local core = require("podero.core")

-- JSONTestSuite: ../shared/data/JSONTestSuite/test_parsing relative to the repository (as
-- in CI), else /work/shared/..., else $JSONTESTSUITE.
local function suite_dir()
  local root = hard.repo_root()
  for _, d in ipairs({ os.getenv("JSONTESTSUITE") or "", root .. "/../shared/data/JSONTestSuite/test_parsing",
                       "/work/shared/data/JSONTestSuite/test_parsing" }) do
    if d ~= "" and hard.read_file(d .. "/y_object_basic.json") then return d end
  end
end

local function list_dir(d)
  local p = assert(io.popen("ls -1 " .. support.shell_quote(d)))
  local out = {}
  for name in p:lines() do
    if name:match("%.json$") then out[#out + 1] = name end
  end
  p:close()
  table.sort(out)
  return out
end

-- Reads every field of v, recursively (podero.fields on objects and arrays). Returns the
-- number of values seen.
local function walk(v, n)
  n = (n or 0) + 1
  if podero.is_object(v) then
    for k, x in podero.fields(v) do
      assert(k ~= nil)
      n = walk(x, n)
      -- a read by key gives the same as the iteration (last duplicate wins for reads, so
      -- only check that it does not raise)
      local _ = v[k]
    end
    local _ = #v
    podero.to_table(v)
  end
  return n
end

local DIR = suite_dir()
local describe_suite = DIR and describe or pending

describe_suite("JSONTestSuite as heat pump bodies", function()
  local files = list_dir(DIR or ".")
  local counts = { y_obj = 0, y_other = 0, n = 0, i = 0 }

  it("has the expected files", function()
    assert.is_true(#files >= 300, #files .. " files")
  end)

  it("reads every y_ object completely; every y_ non-object is a decode error", function()
    for _, name in ipairs(files) do
      if name:sub(1, 2) == "y_" then
        local body = assert(hard.read_file(DIR .. "/" .. name))
        local hp, err = core.parse(body, "heat_pump")
        local is_obj = body:match("^[ \t\r\n]*{") ~= nil
        if is_obj then
          assert(hp, name .. ": " .. tostring(err))
          walk(hp)
          assert.equal(body, hp:raw())
          counts.y_obj = counts.y_obj + 1
        else
          assert(hp == nil, name .. " was accepted as a heat pump")
          assert(err.kind == "decode", name .. ": kind " .. tostring(err.kind))
          counts.y_other = counts.y_other + 1
        end
      end
    end
    assert.is_true(counts.y_obj >= 10)
    assert.is_true(counts.y_other >= 50)
  end)

  it("answers decode for every n_ file (including n_structure_100000_opening_arrays)", function()
    local seen_deep = false
    for _, name in ipairs(files) do
      if name:sub(1, 2) == "n_" then
        local body = assert(hard.read_file(DIR .. "/" .. name))
        for _, kind in ipairs({ "heat_pump", "object", "array" }) do
          local hp, err = core.parse(body, kind)
          assert(hp == nil, name .. " was accepted as " .. kind)
          assert(err.kind == "decode", name .. ": kind " .. tostring(err.kind))
          assert(#err.message <= 512)
        end
        if name == "n_structure_100000_opening_arrays.json" then seen_deep = true end
        counts.n = counts.n + 1
      end
    end
    assert.is_true(seen_deep)
    assert.is_true(counts.n >= 180)
  end)

  it("gives the same outcome on two runs for every i_ file", function()
    local function outcome(body)
      local hp, err = core.parse(body, "heat_pump")
      if hp then
        walk(hp)
        return "ok " .. require("cjson").encode(podero.to_table(hp))
      end
      return "err " .. err.kind .. " " .. err.message
    end
    for _, name in ipairs(files) do
      if name:sub(1, 2) == "i_" then
        local body = assert(hard.read_file(DIR .. "/" .. name))
        local a, b = outcome(body), outcome(body)
        collectgarbage("collect")
        local c = outcome(body)
        assert(a == b and b == c, name .. " differs between runs")
        counts.i = counts.i + 1
      end
    end
    assert.is_true(counts.i >= 30)
  end)

  describe("over the network (sandbox fault body, status 200)", function()
    before_each(function() support.reset() end)

    -- none is a heat pump answer: valid JSON that is not an object, or an object without the
    -- fields a heat pump requires, is a decode error as much as invalid JSON is
    local cases = {
      "y_object_basic.json", "y_object_empty.json", "y_structure_lonely_int.json",
      "y_array_empty.json", "n_object_trailing_comma.json", "n_structure_100000_opening_arrays.json",
      "n_structure_open_object.json", "n_number_NaN.json",
    }
    for _, name in ipairs(cases) do
      it(name .. " is a decode error, not retried", function()
        local body = hard.read_file(DIR .. "/" .. name)
        if not body then return pending("missing " .. name) end
        local demo = support.demo()
        local c = support.new_client()
        support.fault({ status = 200, body = body, headers = { ["Content-Type"] = "application/json" } })
        local hp, err = c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id)
        assert.is_nil(hp)
        assert.equal("decode", err.kind)
        assert.equal(200, err.status)
        assert.equal(1, err.attempts)
        c:close()
      end)
    end
  end)
end)

describe("a real heat pump body truncated at every byte offset", function()
  it("is a decode error each time (and the whole body reads)", function()
    local demo = support.demo()
    local body, status = support.api_get(support.hp_path(demo.org_id, demo.user_id, demo.heat_pump_all_actions_id))
    assert.equal(200, status)
    assert.is_true(#body > 1000)
    local hp = assert(core.parse(body, "heat_pump"))
    assert.is_true(walk(hp) > 60)
    -- the body has no trailing whitespace, so every proper prefix is incomplete
    assert.is_nil(body:find("%s$"))
    for i = 0, #body - 1 do
      local v, err = core.parse(body:sub(1, i), "heat_pump")
      if v ~= nil or err.kind ~= "decode" then
        error("prefix of " .. i .. " bytes: " .. (v and "accepted" or err.kind))
      end
    end
  end)
end)

describe("hostile sizes stay linear", function()
  -- a quadratic walk (a lookup by name per field) took 7 s for 50 000 keys; linear is ~0.05 s
  it("podero.fields over an object with 100 000 keys, a repeated one among them", function()
    local parts = {}
    for i = 1, 100000 do parts[i] = ('"k%06d":%d'):format(i, i) end
    parts[#parts + 1] = '"k000007":-7'
    local obj = assert(core.parse("{" .. table.concat(parts, ",") .. "}"))
    local t0 = os.clock()
    local n, sum, seven = 0, 0, nil
    for k, v in podero.fields(obj) do
      n = n + 1
      sum = sum + v
      if k == "k000007" then seven = v end
    end
    local elapsed = os.clock() - t0
    assert.equal(100000, n)
    assert.equal(-7, seven)
    assert.equal(100000 * 100001 / 2 - 7 - 7, sum)
    assert.truthy(elapsed < 3, ("took %.2f s of CPU"):format(elapsed))
  end)

  it("podero.fields over an array of 200 000 elements", function()
    local arr = assert(core.parse("[" .. ("1,"):rep(199999) .. "1]", "array"))
    local t0 = os.clock()
    local n = 0
    for _, v in podero.fields(arr) do n = n + v end
    assert.equal(200000, n)
    assert.truthy(os.clock() - t0 < 3)
  end)
end)

describe("misuse raises naming the argument", function()
  local client, demo

  setup(function()
    demo = support.demo()
    client = support.new_client()
  end)
  teardown(function() client:close() end)

  local bad_ids = {
    { "../../../etc/passwd", "dot-dot" },
    { "%2e%2e%2f%2e%2e", "encoded dot-dot" },
    { "c871d975-416e-4563-b526-5e1fc9c9e07\r", "CR" },
    { "c871d975-416e-4563-b526-5e1fc9c9e07\n", "LF" },
    { "c871d975-416e-4563-b526-5e1fc9c9e070\r\nX-Evil: 1", "header injection" },
    { "c871d975-416e-4563-b526-5e1fc9c9e07\0", "NUL" },
    { "c871d975-416e-4563-b526-5e1fc9c9e070\0", "NUL after a UUID" },
    { "c871d975-416e-4563-b526-5e1fc9c9e070/../x", "UUID then path" },
    { "c871d975-416e-4563-b526-5e1fc9c9e070?include_deleted=true", "UUID then query" },
    { "c871d975%2D416e-4563-b526-5e1fc9c9e070", "encoded dash" },
    { "c871d975-416e-4563-b526-5e1fc9c9e0７0", "full-width digit" },
    { string.rep("a", 1024 * 1024), "1 MB string" },
    { "", "empty" },
    { " c871d975-416e-4563-b526-5e1fc9c9e070", "leading space" },
    { 42, "number" },
    { {}, "table" },
    { true, "boolean" },
    { false, "false" },
    { print, "function" },
    { nil, "nil" },
  }

  it("for every id position and every bad id, before anything is sent", function()
    assert.truthy(client:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id))
    local before = support.stats()
    local names = { "org_id", "user_id", "heat_pump_id" }
    for _, bad in ipairs(bad_ids) do
      for pos = 1, 3 do
        local args = { demo.org_id, demo.user_id, demo.heat_pump_id }
        args[pos] = bad[1]
        local ok, msg = pcall(client.heat_pump, client, args[1], args[2], args[3])
        assert(not ok, bad[2] .. " at " .. names[pos] .. " was accepted")
        assert(tostring(msg):find(names[pos], 1, true), bad[2] .. ": message does not name " .. names[pos] .. ": " .. tostring(msg))
        assert(#tostring(msg) < 400, bad[2] .. ": message of " .. #tostring(msg) .. " bytes")
        assert(not tostring(msg):find("\0", 1, true) and not tostring(msg):find("\n", 1, true),
          bad[2] .. ": message carries the raw input")
      end
      -- heat_pumps and users too
      local ok, msg = pcall(client.heat_pumps, client, demo.org_id, bad[1])
      assert(not ok and tostring(msg):find("user_id", 1, true), bad[2] .. " in heat_pumps")
      ok, msg = pcall(client.users, client, bad[1])
      assert(not ok and tostring(msg):find("org_id", 1, true), bad[2] .. " in users")
    end
    local after = support.stats()
    assert.equal(before.api_requests, after.api_requests)
    assert.equal(before.token_requests, after.token_requests)
  end)

  it("for bad request options", function()
    for _, opts in ipairs({ { include_deleted = "yes" }, { include_delted = true }, "x", 1, { [1] = true } }) do
      local ok, msg = pcall(client.heat_pump, client, demo.org_id, demo.user_id, demo.heat_pump_id, opts)
      assert(not ok)
      assert(tostring(msg):find("opts", 1, true) or tostring(msg):find("include_deleted", 1, true), tostring(msg))
    end
  end)

  local bad_urls = {
    { "http://user:pass@127.0.0.1:1", "user info" },
    { "http://user@127.0.0.1:1", "user name" },
    { "http://127.0.0.1:1/?x=1", "query" },
    { "http://127.0.0.1:1/#frag", "fragment" },
    { "http://127.0.0.1:1/a?", "empty query" },
    { "http://127.0.0.1:1\r\nX: 1", "CR/LF" },
    { "http://127.0.0.1:1/\0", "NUL" },
    { "file:///etc/passwd", "file scheme" },
    { "gopher://127.0.0.1:1", "gopher scheme" },
    { "ftp://127.0.0.1:1", "ftp scheme" },
    { "//127.0.0.1:1", "no scheme" },
    { "http://", "no host" },
    { "http://" .. string.rep("a", 1024 * 1024), "1 MB host" },
  }

  it("for base URLs with user info, query, fragment, other schemes", function()
    for _, bad in ipairs(bad_urls) do
      local ok, msg = pcall(podero.new, { base_url = bad[1], token = "x" })
      assert(not ok, bad[2] .. " was accepted")
      assert(tostring(msg):find("base_url", 1, true), bad[2] .. ": " .. tostring(msg))
      assert(not tostring(msg):find("pass", 1, true), bad[2] .. ": message shows the user info")
    end
  end)

  it("for absolute token URLs with user info, query, fragment, other schemes", function()
    for _, bad in ipairs(bad_urls) do
      if bad[1]:find("://", 1, true) then
        local ok, msg = pcall(podero.new, { base_url = support.url(), token_url = bad[1],
                                            client_id = "a", client_secret = "b" })
        assert(not ok, bad[2] .. " was accepted as token_url")
        assert(tostring(msg):find("token_url", 1, true), bad[2] .. ": " .. tostring(msg))
      end
    end
  end)

  it("for non-string and odd option values", function()
    for _, o in ipairs({
      { base_url = 1 }, { client_secret = {} }, { timeout = "10" }, { timeout = -1 }, { timeout = 0 / 0 },
      { timeout = math.huge }, { max_retries = 1.5 }, { max_retries = 11 }, { max_response_bytes = 0 },
      { verify_tls = "no" }, { deadline = -1 }, { user_agent = "a\r\nX-Evil: 1" }, { token_format = "xml" },
    }) do
      local name = next(o)
      local ok, msg = pcall(support.new_client, o)
      assert(not ok, name .. " was accepted")
      assert(tostring(msg):find(name, 1, true), name .. ": " .. tostring(msg))
    end
  end)
end)

describe("client life cycle", function()
  local demo
  setup(function() demo = support.demo() end)

  it("close() twice is harmless; a call after close raises 'client is closed'", function()
    local c = support.new_client()
    assert.truthy(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id))
    c:close()
    c:close()
    assert.matches("%(closed%)", tostring(c))
    for _, f in ipairs({
      function() return c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id) end,
      function() return c:heat_pumps(demo.org_id, demo.user_id) end,
      function() return c:users(demo.org_id) end,
    }) do
      local ok, msg = pcall(f)
      assert.is_false(ok)
      assert.matches("client is closed", tostring(msg))
    end
    -- stats still answer (no secrets, no network)
    assert.equal("table", type(c:stats()))
  end)

  it("objects read before close stay readable after close", function()
    local c = support.new_client()
    local hp = assert(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_all_actions_id))
    c:close()
    c = nil
    collectgarbage("collect")
    assert.equal(demo.heat_pump_all_actions_id, hp.id)
    assert.truthy(#hp.actions > 0)
  end)

  -- `local c <close>` is Lua 5.4 syntax (a syntax error under LuaJIT, which has no
  -- to-be-closed variables: there c:close() and __gc release a client), so these two cases are
  -- compiled with load() on 5.4 only and are pending under LuaJIT.
  local close_chunk = function(body)
    return assert(load("local support, demo, set_ref = ...\n" .. body, "=<close> case", "t", _G))
  end
  if _VERSION < "Lua 5.4" then
    pending("local c <close> releases on normal exit (Lua 5.4 syntax; LuaJIT has no to-be-closed variables)")
    pending("local c <close> releases on error (Lua 5.4 syntax; LuaJIT has no to-be-closed variables)")
  else
    it("local c <close> releases on normal exit", function()
      local ref
      close_chunk([[
        local c <close> = support.new_client()
        set_ref(c)
        assert(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id))
      ]])(support, demo, function(c) ref = c end)
      assert.matches("%(closed%)", tostring(ref))
      assert.has_error(function() ref:users(demo.org_id) end, nil)
    end)

    it("local c <close> releases on error", function()
      local ref
      local ok, msg = pcall(close_chunk([[
        local c <close> = support.new_client()
        set_ref(c)
        assert(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id))
        error("boom")
      ]]), support, demo, function(c) ref = c end)
      assert.is_false(ok)
      assert.matches("boom", msg)
      assert.matches("%(closed%)", tostring(ref))
    end)
  end

  it("clients that are only garbage collected are freed (many, with and without calls)", function()
    for i = 1, 200 do
      local c = support.new_client()
      if i % 20 == 0 then assert.truthy(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id)) end
    end
    collectgarbage("collect")
    collectgarbage("collect")
    local c = support.new_client()
    assert.truthy(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id))
    c:close()
  end)
end)

describe("aggressive garbage collection", function()
  local demo
  setup(function() demo = support.demo() end)
  -- LuaJIT (Lua 5.1) has no collectgarbage("incremental"/"generational"): its incremental
  -- collector is tuned with "setpause"/"setstepmul" (defaults 200/200; 5.4's are 200/100), and
  -- it has no generational mode (that case is pending there).
  local function incremental(pause, stepmul)
    if support.LUAJIT then
      collectgarbage("setpause", pause)
      collectgarbage("setstepmul", stepmul)
    else
      collectgarbage("incremental", pause, stepmul)
    end
  end
  after_each(function()
    incremental(200, support.LUAJIT and 200 or 100)
    collectgarbage("restart")
  end)

  local function exercise(c)
    for _ = 1, 5 do
      local hp = assert(c:heat_pump(demo.org_id, demo.user_id, demo.heat_pump_all_actions_id))
      local owner = hp.owner
      local actions = hp.actions
      local dm = hp.device_model
      local raw = hp:raw()
      hp = nil
      collectgarbage("collect")
      assert.truthy(owner.email)
      collectgarbage("step")
      local a1 = actions[1]
      actions = nil
      collectgarbage("collect")
      assert.truthy(a1.code)
      local link = a1.resolution_link
      a1 = nil
      collectgarbage("step")
      if link then assert.truthy(link.url) end
      if dm then
        local dt = dm.device_type
        dm = nil
        collectgarbage("collect")
        assert.equal("Heat pump", dt.long_name)
      end
      -- an iterator keeps its object alive
      local it = podero.fields(owner)
      owner = nil
      collectgarbage("collect")
      local n = 0
      for k in it do
        n = n + 1
        assert.equal("string", type(k))
        collectgarbage("step")
      end
      assert.is_true(n > 0)
      -- a list, its elements kept after the list is gone
      local list = assert(c:heat_pumps(demo.org_id, demo.user_id))
      local first = list[1]
      list = nil
      collectgarbage("collect")
      assert.truthy(first.id)
      assert.is_true(#raw > 0)
    end
  end

  it("with setpause 0 (incremental, the collector never rests)", function()
    incremental(0, 100)
    local c = support.new_client()
    exercise(c)
    c:close()
  end)

  if support.LUAJIT then
    pending("in generational mode with a tiny step (LuaJIT has no generational collector)")
  else
    it("in generational mode with a tiny step", function()
      collectgarbage("generational", 1, 1)
      local c = support.new_client()
      exercise(c)
      c = nil
      collectgarbage("collect")
    end)
  end

  it("JSONTestSuite y_ objects and truncated bodies under setpause 0", function()
    incremental(0, 100)
    local hp0 = assert(support.new_client():heat_pump(demo.org_id, demo.user_id, demo.heat_pump_id))
    local body = hp0:raw()
    hp0 = nil
    for i = #body - 200, #body do
      local v = core.parse(body:sub(1, i), "heat_pump")
      if i == #body then assert.truthy(v) else assert.is_nil(v) end
    end
    local parsed = {}
    for i = 1, 50 do parsed[i] = assert(core.parse(body, "heat_pump")).owner end
    collectgarbage("collect")
    for i = 1, 50 do assert.truthy(parsed[i].email) end
  end)
end)
