#!/usr/bin/env bash
# make openresty-demo: the example nginx.conf + handler against a local sandbox Podero.
#   examples/openresty/run.sh          foreground: prints the URL to open; Ctrl-C stops both
#   examples/openresty/run.sh --once   starts both, fetches the page and the JSON once, stops
# With PODERO_BASE_URL, PODERO_CLIENT_ID, PODERO_CLIENT_SECRET (and PODERO_ORG_ID,
# PODERO_USER_ID, PODERO_HEAT_PUMP_ID) set, no sandbox is started: nginx talks to that Podero.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOP="$(cd "$HERE/../.." && pwd)"
MODE="${1:-run}"
NGINX="${NGINX:-nginx}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/podero-openresty.XXXXXX")"
sandbox=0
ngx_pid=""

cleanup() {
  trap - INT TERM EXIT
  if [ -n "$ngx_pid" ] && kill -0 "$ngx_pid" 2>/dev/null; then
    kill -TERM "$ngx_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$ngx_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$ngx_pid" 2>/dev/null || true
  fi
  [ "$sandbox" = 1 ] && bash "$TOP/sandbox/sandbox.sh" stop "$tmp/sandbox" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "stopped."; exit 0' INT TERM

[ -r "$TOP/build/luajit/podero/core.so" ] || { echo "run make build first" >&2; exit 1; }

if [ -z "${PODERO_BASE_URL:-}" ]; then
  PODERO_BASE_URL="$(SANDBOX_TLS=0 bash "$TOP/sandbox/sandbox.sh" start "$tmp/sandbox")"
  sandbox=1
  PODERO_CLIENT_ID=sandbox-client PODERO_CLIENT_SECRET=sandbox-secret
  PODERO_ORG_ID=c871d975-416e-4563-b526-5e1fc9c9e070
  PODERO_USER_ID=19c004ae-e335-471e-a7dc-909929f8b8e2
  PODERO_HEAT_PUMP_ID=d37f800d-d4ae-4f4c-9ca1-f828512501d5   # Daikin with two pending actions
fi
export PODERO_BASE_URL PODERO_CLIENT_ID PODERO_CLIENT_SECRET PODERO_ORG_ID PODERO_USER_ID PODERO_HEAT_PUMP_ID

# nginx on a free loopback port: below the kernel's ephemeral range (32768-60999), where no
# outgoing connection takes it, and tried again on another one if the bind fails anyway
mkdir -p "$tmp/logs" "$tmp/temp"
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root root;"
url=""
for _ in $(seq 1 20); do
  port=$(( 20000 + RANDOM % 12000 ))
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
  sed -e "s|@PREFIX@|$tmp|g" -e "s|@PORT@|$port|g" -e "s|@PODERO@|$TOP|g" -e "s|@USER_LINE@|$user_line|" \
      -e "s|@LUA_SHARE@|/usr/share/lua/5.1|g" -e "s|@LUA_LIB@|/usr/lib/x86_64-linux-gnu/lua/5.1|g" \
      "$HERE/nginx.conf" >"$tmp/nginx.conf"
  : >"$tmp/logs/error.log"
  "$NGINX" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" &
  ngx_pid=$!
  for _ in $(seq 1 50); do
    if curl --noproxy '*' -s -o /dev/null -m 2 "http://127.0.0.1:$port/heat-pump.json"; then url="http://127.0.0.1:$port"; break; fi
    kill -0 "$ngx_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] && break
  wait "$ngx_pid" 2>/dev/null || true
  ngx_pid=""
  grep -q "Address already in use" "$tmp/logs/error.log" || { cat "$tmp/logs/error.log" >&2; exit 1; }
done
[ -n "$url" ] || { echo "no free port for nginx" >&2; cat "$tmp/logs/error.log" >&2; exit 1; }

if [ "$MODE" = "--once" ]; then
  echo "== GET $url/heat-pump.json"
  curl --noproxy '*' -s -m 30 -w '\n[HTTP %{http_code}]\n' "$url/heat-pump.json"
  echo "== GET $url/"
  curl --noproxy '*' -s -m 30 -w '\n[HTTP %{http_code}]\n' "$url/"
  exit 0
fi

cat <<INFO
podero in nginx, against ${PODERO_BASE_URL}$([ "$sandbox" = 1 ] && echo " (a local sandbox)")

  status page : $url/
  JSON        : $url/heat-pump.json
  another one : $url/?org=ORG_ID&user=USER_ID&id=HEAT_PUMP_ID

nginx.conf: $tmp/nginx.conf   error log: $tmp/logs/error.log
Press Ctrl-C to stop.
INFO
while kill -0 "$ngx_pid" 2>/dev/null; do sleep 1 & wait $! || true; done
echo "nginx exited" >&2
tail -n 20 "$tmp/logs/error.log" >&2 || true
exit 1
