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
-- libcurl is found through luarocks' external dependency probe. Debian keeps curl/curl.h under
-- the multiarch include directory, which the probe does not search: there, pass
-- CURL_INCDIR=/usr/include/x86_64-linux-gnu (and CURL_LIBDIR=/usr/lib/x86_64-linux-gnu).
external_dependencies = {
   CURL = { header = "curl/curl.h", library = "curl" },
}
build = {
   type = "builtin",
   -- the local Podero (and the shell helpers it sources), so that `podero --sandbox` works from
   -- an installed rock (it needs Debian's nginx and libnginx-mod-http-lua, as `make sandbox` does)
   copy_directories = { "sandbox", "scripts" },
   modules = {
      ["podero"] = "lua/podero/init.lua",
      ["podero.steering"] = "lua/podero/steering.lua",
      ["podero.partner"] = "lua/podero/partner.lua",
      ["podero.ngx"] = "lua/podero/ngx.lua",
      ["podero.core"] = {
         -- the same list as SRC in the Makefile (spec/80-install_spec.lua checks it)
         sources = {
            "csrc/util.c",
            "csrc/buf.c",
            "csrc/result.c",
            "csrc/schema.c",
            "csrc/token.c",
            "csrc/policy.c",
            "csrc/http1.c",
            "csrc/json.c",
            "csrc/http_curl.c",
            "csrc/error.c",
            "csrc/doc.c",
            "csrc/api.c",
            "csrc/client.c",
            "csrc/cosock.c",
            "csrc/module.c",
         },
         libraries = { "curl", "m" },
         -- Lua 5.1 / LuaJIT: compat-5.3.h (Debian's lua-compat53-dev) lives in
         -- /usr/include/lua5.1, searched after $(LUA_INCDIR); unused under 5.3+.
         -- LuaJIT: luarocks --lua-version 5.1 make ... LUA_INCDIR=/usr/include/luajit-2.1
         incdirs = { "$(LUA_INCDIR)", "$(CURL_INCDIR)", "/usr/include/lua5.1" },
         libdirs = { "$(CURL_LIBDIR)" },
         defines = {},
      },
   },
   install = {
      bin = { podero = "bin/podero" },
   },
}
