-- luacheck (Debian's lua-check), run by `make lint`. Code for Lua 5.4 and LuaJIT; the nginx
-- code with OpenResty's globals (std ngx_lua); the specs with busted's.
std = "max"
max_line_length = 160
codes = true
exclude_files = { "build/**" }

local ngx_files = { "lua/podero/ngx.lua", "examples/openresty/**", "spec-nginx/lua/**", "sandbox/lua/**",
  "bench/gateway/**" }
for _, f in ipairs(ngx_files) do
  files[f] = { std = "max+ngx_lua" }
end
-- specs keep values in locals to hold them across a collection (311) and take callback
-- arguments they do not read (212)
files["spec/**"] = { std = "max+busted", ignore = { "311", "212" }, max_line_length = 200 }
files["spec/walk.lua"] = { std = "max+ngx_lua", ignore = { "212" } } -- also runs in an nginx timer
files["spec/alloc/call.lua"] = { ignore = { "211", "311", "531" } } -- reads values to allocate them
