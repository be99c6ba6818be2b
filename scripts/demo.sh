#!/bin/sh
# make demo: start a sandbox Podero, show the demo user's organisation with
# examples/fleet_status.lua, stop the sandbox. With PODERO_BASE_URL (and credentials, and
# PODERO_ORG_ID) set, runs the same example against that Podero instead.
set -eu
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
if [ -n "${PODERO_BASE_URL:-}" ]; then
  exec $LUA examples/fleet_status.lua "$@"
fi
work=$(mktemp -d)
trap 'bash sandbox/sandbox.sh stop "$work/sandbox" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM
url=$(bash sandbox/sandbox.sh start "$work/sandbox")
ids=$(curl -fsS "$url/_sandbox/seed" | $LUA -e '
  local seed = require("cjson").decode(io.read("a"))
  print(seed.demo.org_id, seed.demo.user_id)')
org=${ids%%	*}
echo "sandbox Podero at $url (client sandbox-client); organisation $org:"
echo
PODERO_BASE_URL=$url PODERO_CLIENT_ID=sandbox-client PODERO_CLIENT_SECRET=sandbox-secret \
  $LUA examples/fleet_status.lua "$org"
