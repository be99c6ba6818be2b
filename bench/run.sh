#!/usr/bin/env bash
# run.sh: `make bench`. Installs what is missing (as root, apt-get), builds podero and the C
# contenders, starts the sandbox (nginx + Lua, for the 50 ms latency scenario) and a
# fixed-body nginx (for loopback throughput), runs bench/run.lua, stops both servers.
# BENCH_QUICK=1: fewer rounds and smaller N (about a minute).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/out
mkdir -p "$OUT"
: > "$OUT/stderr.log"

# ---- packages (Debian 12) ----
PACKAGES="lua5.4 lua5.1 lua-socket lua-curl lua-cjson libcurl4-openssl-dev valgrind nginx libnginx-mod-http-lua curl build-essential time"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench: missing Debian packages:$missing (run as root, or: sudo apt-get install -y$missing)" >&2
    exit 1
  fi
  echo "bench: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # no nginx system service on port 80
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

# ---- builds ----
make -s -C "$ROOT" build
CC=${CC:-cc}
$CC -O2 -g -Wall -Wextra -I/usr/include/x86_64-linux-gnu -o "$OUT/c_easy" "$BENCH/c_easy.c" -lcurl
$CC -O2 -g -Wall -Wextra -DC_CURLU -I/usr/include/x86_64-linux-gnu -o "$OUT/c_curlu" "$BENCH/c_easy.c" -lcurl
$CC -O2 -g -Wall -Wextra -I/usr/include/x86_64-linux-gnu -o "$OUT/c_multi" "$BENCH/c_multi.c" -lcurl
export LUA_PATH_5_4="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH_5_4="$ROOT/build/5.4/?.so;;"

# ---- servers (127.0.0.1 only, private prefixes under bench/out) ----
SB=$OUT/sandbox FX=$OUT/fixed
rm -rf "$SB" "$FX"
stop() {
  bash "$ROOT/sandbox/sandbox.sh" stop "$SB" >/dev/null 2>&1 || true
  bash "$BENCH/fixed_server.sh" stop "$FX" >/dev/null 2>&1 || true
}
trap stop EXIT
trap 'exit 130' INT TERM
SANDBOX_URL=$(bash "$ROOT/sandbox/sandbox.sh" start "$SB" | tail -n 1)
FIXED_URL=$(bash "$BENCH/fixed_server.sh" start "$FX" | tail -n 1)
token() {
  curl -fsS -u sandbox-client:sandbox-secret -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' "$1/api/partners/v2.0/auth/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
SANDBOX_TOKEN=$(token "$SANDBOX_URL")
FIXED_TOKEN=$(token "$FIXED_URL")
# the live (not soft-deleted) heat pumps of the seed: "org user heat_pump" per line
curl -fsS "$SANDBOX_URL/_sandbox/seed" | lua5.4 -e '
  local j = require("cjson").decode(io.read("a"))
  for _, o in ipairs(j.orgs) do for _, u in ipairs(o.users) do if not u.deleted then
    for _, h in ipairs(u.heat_pumps) do if not h.deleted then print(o.id, u.id, h.id) end end
  end end end' > "$OUT/refs.txt"
echo "bench: sandbox $SANDBOX_URL, fixed-body server $FIXED_URL, $(wc -l < "$OUT/refs.txt") heat pumps" >&2

export BENCH_DIR=$BENCH BENCH_OUT=$OUT BENCH_QUICK=${BENCH_QUICK:-}
export SANDBOX_URL SANDBOX_TOKEN FIXED_URL FIXED_TOKEN
export SANDBOX_PID=$(cat "$SB/nginx.pid") FIXED_PID=$(cat "$FX/nginx.pid")
lua5.4 "$BENCH/run.lua"
