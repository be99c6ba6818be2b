#!/bin/sh
# Runs the busted suite against a sandbox started on a free loopback port, then stops it.
# PODERO_SANITIZE=asan|valgrind runs the same suite under a sanitizer.
# Ends with the line "N passed, N failed"; exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
work=$(mktemp -d)
cleanup() { bash sandbox/sandbox.sh stop "$work/sandbox" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
PODERO_SANDBOX_URL=$(bash sandbox/sandbox.sh start "$work/sandbox")
PODERO_SANDBOX_DIR="$work/sandbox"
export PODERO_SANDBOX_URL PODERO_SANDBOX_DIR
top=$(pwd)
LUA_VERSION=${LUA_VERSION:-5.4}
export LUA_PATH="$top/lua/?.lua;$top/lua/?/init.lua;$top/spec/?.lua;;"
export LUA_CPATH="$top/build/$LUA_VERSION/?.so;;"
runner="$LUA /usr/bin/busted"
case "${PODERO_SANITIZE:-}" in
  asan)
    # only the runner is sanitized; processes it starts (curl, nginx, lua5.4) are not
    runner="$top/build/asan/lua-host /usr/bin/busted"
    PODERO_HOST_CPATH="$top/build/asan/?.so"
    ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=97"
    LSAN_OPTIONS="suppressions=$top/scripts/lsan.supp:print_suppressions=0"
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export PODERO_HOST_CPATH ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS ;;
  valgrind)
    runner="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$(pwd)/scripts/valgrind.supp $runner" ;;
esac
set +e
$runner -o TAP ${BUSTED_ARGS:-} spec > "$work/tap" 2> "$work/stderr"
rc=$?
set -e
cat "$work/tap"
[ -s "$work/stderr" ] && cat "$work/stderr" >&2
passed=$(grep -c '^ok ' "$work/tap" || true)
failed=$(grep -c '^not ok ' "$work/tap" || true)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "# the runner exited with $rc" >&2; fi
# podero inside a real nginx (spec-nginx/), counted with the rest; not under a sanitizer
if [ -z "${PODERO_SANITIZE:-}" ] && [ "${PODERO_NGINX_TESTS:-1}" = 1 ]; then
  echo "# podero inside nginx (scripts/test-nginx.sh)"
  set +e
  sh scripts/test-nginx.sh > "$work/nginx" 2>&1
  nrc=$?
  set -e
  grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$work/nginx" || true
  np=$(grep -c '^ok ' "$work/nginx" || true)
  nf=$(grep -c '^not ok ' "$work/nginx" || true)
  if [ "$nrc" -ne 0 ] && [ "$nf" -eq 0 ]; then nf=1; echo "# test-nginx exited with $nrc" >&2; fi
  passed=$((passed + np))
  failed=$((failed + nf))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
