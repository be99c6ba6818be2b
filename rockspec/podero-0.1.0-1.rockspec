-- podero: the Podero Partner API for Lua (heat pumps), with a libcurl C core.
rockspec_format = "3.0"
package = "podero"
version = "0.1.0-1"
source = {
   url = "git+file:///dev/null",  -- installed from a checkout: luarocks make rockspec/podero-0.1.0-1.rockspec
}
description = {
   summary = "Podero Partner API client: heat pumps as lazy, read-only Lua objects",
   detailed = [[
      podero reads and steers heat pumps through the Podero Partner API. A C core on libcurl
      does the OAuth2 token, HTTP, retries and strict JSON parsing; scripts get read-only
      objects whose fields are decoded when first read.
   ]],
   license = "MIT",
   labels = { "http", "api", "energy", "libcurl" },
}
dependencies = {
   "lua >= 5.1",
   "lua-cjson",
}
-- Debian keeps curl/curl.h under the multiarch include directory, which the C compiler
-- searches by itself; so the build links -lcurl and needs no external_dependencies probe
-- (luarocks' probe looks in $(prefix)/include only and would fail there).
build = {
   type = "builtin",
   modules = {
      ["podero"] = "lua/podero/init.lua",
      ["podero.steering"] = "lua/podero/steering.lua",
      ["podero.core"] = {
         sources = { "csrc/module.c", "csrc/client.c", "csrc/doc.c", "csrc/json.c" },
         libraries = { "curl", "m" },
         -- Lua 5.1 / LuaJIT: compat-5.3.h (Debian's lua-compat53-dev) lives in
         -- /usr/include/lua5.1, searched after $(LUA_INCDIR); unused under 5.3+.
         -- LuaJIT: luarocks --lua-version 5.1 make ... LUA_INCDIR=/usr/include/luajit-2.1
         incdirs = { "$(LUA_INCDIR)", "/usr/include/lua5.1" },
         defines = {},
      },
   },
   install = {
      bin = { podero = "bin/podero" },
   },
}
