-- Install: the rockspec builds and installs the package into a tree, and require("podero")
-- then works from that tree alone (plus the system's lua-cjson).
local support = require("support")

local q = support.shell_quote

local function root()
  -- spec/80-install_spec.lua -> the repository
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/spec/[^/]*$")
  if dir and dir ~= "" then
    if dir:sub(1, 1) ~= "/" then
      local p = io.popen("pwd")
      dir = p:read("l") .. "/" .. dir
      p:close()
    end
    return dir
  end
  local p = io.popen("pwd")
  local cwd = p:read("l")
  p:close()
  return cwd
end

-- the exit code comes back as the last output line: LuaJIT's p:close() (5.1 semantics) does
-- not report it the way Lua 5.4's does
local function run(cmd)
  local p = io.popen(support.CLEAN_ENV .. "sh -c " .. q(cmd .. "; echo \"exit:$?\"") .. " 2>&1", "r")
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit:(%d+)%s*$"))
  out = out:gsub("exit:%d+%s*$", "")
  return code == 0, out, code
end

local function rockspecs(dir)
  local list = {}
  local p = io.popen("ls " .. q(dir .. "/rockspec") .. " 2>/dev/null")
  for name in p:lines() do
    if name:match("%.rockspec$") then list[#list + 1] = name end
  end
  p:close()
  return list
end

describe("the rockspec", function()
  local dir = root()
  local tree

  setup(function()
    local p = io.popen("mktemp -d")
    tree = p:read("l")
    p:close()
  end)

  teardown(function()
    if tree and tree:match("^/tmp/") then os.execute("rm -rf " .. q(tree)) end
  end)

  it("is exactly one file, rockspec/podero-0.1.0-1.rockspec", function()
    assert.same({ "podero-0.1.0-1.rockspec" }, rockspecs(dir))
  end)

  it("builds podero.core from the Makefile's C sources (SRC), no more, no fewer", function()
    local ok, out = run(("make -s -C %s print-src"):format(q(dir)))
    assert.is_true(ok, out)
    local want = {}
    for l in out:gmatch("[^\n]+") do want[#want + 1] = l end
    local f = assert(io.open(dir .. "/rockspec/podero-0.1.0-1.rockspec", "rb"))
    local text = f:read("*a")
    f:close()
    local list = assert(text:match("sources = (%b{})"), "no sources list in the rockspec")
    local got = {}
    for s in list:gmatch('"([^"]+)"') do got[#got + 1] = s end
    assert.is_true(#want >= 4)
    assert.same(want, got)
  end)

  it("says how to point it at libcurl when luarocks' probe cannot find curl/curl.h", function()
    local ok, out = run(("cd %s && luarocks --lua-version 5.4 make rockspec/podero-0.1.0-1.rockspec --tree %s "
      .. "--deps-mode none CURL_INCDIR=/nonexistent"):format(q(dir), q(tree)))
    assert.is_false(ok)
    assert.truthy(out:find("CURL", 1, true), out)
  end)

  -- lua_version: luarocks' --lua-version; interp: the interpreter that then requires podero
  -- from the tree; vars: luarocks variables; integer_type: how min_solar_power_w reads
  local function install_and_require(lua_version, interp, vars, tree_dir, integer_type)
    local ok, out = run(("cd %s && luarocks --lua-version %s make rockspec/podero-0.1.0-1.rockspec --tree %s --deps-mode none "
      .. "CURL_INCDIR=/usr/include/x86_64-linux-gnu CURL_LIBDIR=/usr/lib/x86_64-linux-gnu %s")
      :format(q(dir), lua_version, q(tree_dir), vars))
    -- luarocks' builtin build leaves its objects in the checkout: take them away again
    run(("cd %s && rm -f csrc/*.o podero/core.so && rmdir podero 2>/dev/null; true"):format(q(dir)))
    assert.is_true(ok, "luarocks make failed:\n" .. out)

    -- only the tree and the system directories (for lua-cjson); the checkout must not be used
    local v = lua_version
    local path = table.concat({
      tree_dir .. "/share/lua/" .. v .. "/?.lua", tree_dir .. "/share/lua/" .. v .. "/?/init.lua",
      "/usr/local/share/lua/" .. v .. "/?.lua", "/usr/share/lua/" .. v .. "/?.lua", "/usr/share/lua/" .. v .. "/?/init.lua",
    }, ";")
    local cpath = table.concat({
      tree_dir .. "/lib/lua/" .. v .. "/?.so", "/usr/local/lib/lua/" .. v .. "/?.so",
      "/usr/lib/x86_64-linux-gnu/lua/" .. v .. "/?.so", "/usr/lib/lua/" .. v .. "/?.so",
    }, ";")
    local script = ([[
      package.path = %q
      package.cpath = %q
      local podero = require("podero")
      local core = require("podero.core")
      io.write(podero.VERSION, "\n")
      io.write(package.searchpath("podero", package.path), "\n")
      io.write(package.searchpath("podero.core", package.cpath), "\n")
      local hp = core.parse('{"min_solar_power_w":2000,"outdoor_temperature":"21.50"}', "heat_pump")
      local n = hp.min_solar_power_w
      local t = math.type and math.type(n) or (n == math.floor(n) and "whole" or "fraction")
      io.write(t, " ", tostring(hp.outdoor_temperature), "\n")
      local c = podero.new({ base_url = %q, client_id = "sandbox-client", client_secret = "sandbox-secret" })
      local d = %q
      local org, user, id = d:match("^(%%S+) (%%S+) (%%S+)$")
      local h, err = c:heat_pump(org, user, id)
      io.write(h and h.id or tostring(err), "\n")
      io.write(jit and jit.version or _VERSION, "\n")
    ]]):format(path, cpath, support.url(),
      support.demo().org_id .. " " .. support.demo().user_id .. " " .. support.demo().heat_pump_id)
    local file = os.tmpname()
    local f = assert(io.open(file, "w"))
    f:write(script)
    f:close()
    local ok2, out2 = run(("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 %s %s"):format(interp, q(file)))
    os.remove(file)
    assert.is_true(ok2, "require from the tree failed:\n" .. out2)
    local lines = {}
    for l in out2:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("0.1.0", lines[1])
    assert.equal(tree_dir, lines[2]:sub(1, #tree_dir))
    assert.equal(tree_dir, lines[3]:sub(1, #tree_dir))
    assert.equal(integer_type .. " 21.5", lines[4])
    assert.equal(support.demo().heat_pump_id, lines[5])
    return lines[6]
  end

  it("installs with luarocks make --tree DIR --deps-mode none, and require('podero') works from that tree", function()
    assert.equal("Lua 5.4", install_and_require("5.4", "lua5.4", "", tree, "integer"))
  end)

  it("installs the podero command, which finds its tree without `luarocks path`, --sandbox too", function()
    if support.LUAJIT then return pending("the 5.4 run checks the command (it runs on lua5.4)") end
    do
      -- the tree of the test above (installed again if it ran alone)
      local f = io.open(tree .. "/bin/podero", "r")
      if not f then install_and_require("5.4", "lua5.4", "", tree, "integer") else f:close() end
      local ok, out = run("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. q(tree .. "/bin/podero")
        .. " --help")
      assert.is_true(ok, out)
      assert.truthy(out:find("usage: podero", 1, true), out)
      ok, out = run("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u PODERO_BASE_URL "
        .. q(tree .. "/bin/podero") .. " --sandbox users c871d975-416e-4563-b526-5e1fc9c9e070")
      assert.is_true(ok, out)
      assert.truthy(out:find("using the local sandbox", 1, true), out)
      assert.truthy(out:find("demo.user@alpenstrom.example", 1, true), out)
    end
  end)

  -- LuaJIT: luarocks' Lua 5.1 with LuaJIT's headers (its default LUA_INCDIR is PUC Lua 5.1's);
  -- the rockspec adds /usr/include/lua5.1 for compat-5.3.h. Checked in the LuaJIT run only
  -- (the 5.4 run keeps its own install above).
  if support.LUAJIT then
    it("installs with luarocks --lua-version 5.1 make (LuaJIT headers), and require('podero') works under luajit", function()
      local p = io.popen("mktemp -d")
      local tree51 = p:read("*l")
      p:close()
      finally(function() if tree51:match("^/tmp/") then os.execute("rm -rf " .. q(tree51)) end end)
      local v = install_and_require("5.1", "luajit", "LUA_INCDIR=/usr/include/luajit-2.1", tree51, "whole")
      assert.truthy(v:find("LuaJIT", 1, true), v)
    end)
  end
end)
