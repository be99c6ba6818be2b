# Pieces of the nginx.conf files that the scripts generate (sandbox/sandbox.sh,
# spec-nginx/nginx.sh, bench/fixed_server.sh, bench/gateway.sh), sourced by bash.

# nginx_temp_paths DIR: every temp path inside the private prefix DIR (http context)
nginx_temp_paths() {
  local t
  for t in client_body proxy fastcgi uwsgi scgi; do
    printf '    %s_temp_path %s/temp/%s;\n' "$t" "$1" "$t"
  done
}

# nginx_lua_daemon DIR WORKERS [MOD_DIR]: the main context of a daemon nginx with the Lua
# module, in the private prefix DIR (root runs the workers as root: the prefix is root's)
nginx_lua_daemon() {
  local mods="${3:-/usr/lib/nginx/modules}"
  printf 'load_module %s/ndk_http_module.so;\nload_module %s/ngx_http_lua_module.so;\n' "$mods" "$mods"
  [ "$(id -u)" = 0 ] && echo "user root root;"
  printf 'daemon on;\nmaster_process on;\nworker_processes %s;\npid %s/nginx.pid;\nerror_log %s/logs/error.log warn;\n' \
    "$2" "$1" "$1"
}
