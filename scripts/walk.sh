#!/bin/sh
# make walk: the random walk (spec/walk.lua) under Lua 5.4 and LuaJIT against a sandbox of its
# own (the walk resets and writes to it). PODERO_SANITIZE=asan|valgrind runs it under Lua 5.4 in
# the sanitized host / under valgrind. PODERO_WALK_SEED=N replays one walk; see scripts/walk.lua.
# Ends with "N passed, N failed" over all runs; exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
work=$(mktemp -d)
cleanup() { bash sandbox/sandbox.sh stop "$work/sandbox" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
PODERO_SANDBOX_URL=$(SANDBOX_TLS=0 bash sandbox/sandbox.sh start "$work/sandbox")
export PODERO_SANDBOX_URL
export LUA_PATH="$top/lua/?.lua;$top/lua/?/init.lua;$top/spec/?.lua;;"
passed=0 failed=0
case "${PODERO_SANITIZE:-}" in
  asan)
    runs="asan" ;;
  valgrind)
    runs="valgrind" ;;
  *)
    runs="${PODERO_WALK_LUAS:-lua5.4 luajit}" ;;
esac
for run in $runs; do
  case "$run" in
    luajit*) export LUA_CPATH="$top/build/luajit/?.so;;"; cmd="$run" ;;
    asan)
      export LUA_CPATH="$top/build/asan/?.so;;"
      export PODERO_HOST_CPATH="$top/build/asan/?.so"
      export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=97"
      # as in scripts/run-tests.sh: no TLS walk (it can crash LeakSanitizer's tracer at exit)
      export LSAN_OPTIONS="use_tls=0:suppressions=$top/scripts/lsan.supp:print_suppressions=0"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
      cmd="$top/build/asan/lua-host" ;;
    valgrind)
      export LUA_CPATH="$top/build/5.4/?.so;;"
      export PODERO_WALK_LIGHT=1
      cmd="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$top/scripts/valgrind.supp lua5.4" ;;
    *) export LUA_CPATH="$top/build/${LUA_VERSION:-5.4}/?.so;;"; cmd="$run" ;;
  esac
  echo "# walk under $run"
  set +e
  $cmd scripts/walk.lua > "$work/out" 2>&1
  rc=$?
  set -e
  grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$work/out" || true
  p=$(grep -c '^ok ' "$work/out" || true)
  f=$(grep -c '^not ok ' "$work/out" || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "# the walk exited with $rc" >&2; fi
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
