#!/bin/sh
# Installs the Debian 12 packages podero needs to build, test, run the sandbox and the demo.
# Only as root, and only when something is missing; otherwise says what to install.
set -eu
PACKAGES="build-essential pkg-config curl ca-certificates openssl
lua5.4 liblua5.4-dev lua-cjson lua-busted lua-socket luarocks libcurl4-openssl-dev
nginx libnginx-mod-http-lua clang libclang-rt-14-dev valgrind faketime
luajit2 libluajit2-5.1-dev lua-compat53-dev lua-check cppcheck wrk"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "podero: missing Debian packages:$missing" >&2
  echo "podero: run as root, or: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "podero: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx must not start its system service on port 80 while we install it
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
