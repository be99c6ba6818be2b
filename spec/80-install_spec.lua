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

local function run(cmd)
  local p = io.popen(support.CLEAN_ENV .. "sh -c " .. q(cmd) .. " 2>&1", "r")
  local out = p:read("a")
  local ok, how, code = p:close()
  return ok == true, out, code
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

  it("installs with luarocks make --tree DIR --deps-mode none, and require('podero') works from that tree", function()
    local ok, out = run(("cd %s && luarocks --lua-version 5.4 make rockspec/podero-0.1.0-1.rockspec --tree %s --deps-mode none")
      :format(q(dir), q(tree)))
    assert.is_true(ok, "luarocks make failed:\n" .. out)

    -- only the tree and the system directories (for lua-cjson); the checkout must not be used
    local path = table.concat({
      tree .. "/share/lua/5.4/?.lua", tree .. "/share/lua/5.4/?/init.lua",
      "/usr/local/share/lua/5.4/?.lua", "/usr/share/lua/5.4/?.lua", "/usr/share/lua/5.4/?/init.lua",
    }, ";")
    local cpath = table.concat({
      tree .. "/lib/lua/5.4/?.so", "/usr/local/lib/lua/5.4/?.so",
      "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so", "/usr/lib/lua/5.4/?.so",
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
      io.write(math.type(hp.min_solar_power_w), " ", tostring(hp.outdoor_temperature), "\n")
      local c = podero.new({ base_url = %q, client_id = "sandbox-client", client_secret = "sandbox-secret" })
      local d = %q
      local org, user, id = d:match("^(%%S+) (%%S+) (%%S+)$")
      local h, err = c:heat_pump(org, user, id)
      io.write(h and h.id or tostring(err), "\n")
    ]]):format(path, cpath, support.url(),
      support.demo().org_id .. " " .. support.demo().user_id .. " " .. support.demo().heat_pump_id)
    local file = os.tmpname()
    local f = assert(io.open(file, "w"))
    f:write(script)
    f:close()
    local ok2, out2 = run(("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 lua5.4 %s"):format(q(file)))
    os.remove(file)
    assert.is_true(ok2, "require from the tree failed:\n" .. out2)
    local lines = {}
    for l in out2:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("0.1.0", lines[1])
    assert.equal(tree, lines[2]:sub(1, #tree))
    assert.equal(tree, lines[3]:sub(1, #tree))
    assert.equal("integer 21.5", lines[4])
    assert.equal(support.demo().heat_pump_id, lines[5])
  end)
end)
