#!/bin/sh
# make test-nginx: podero inside a real nginx (spec-nginx/). Needs make build (both cores).
# PODERO_CORE_DIR=DIR runs the nginx side with DIR/podero/core.so instead of build/luajit.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
export PODERO_TOP="$top"
export LUA_PATH="$top/lua/?.lua;$top/lua/?/init.lua;;"
export LUA_CPATH="$top/build/5.4/?.so;;"
exec lua5.4 spec-nginx/driver.lua
