# podero: the one entry point. `make demo`, `make test`; see README.md.
LUA_VERSION ?= 5.4
LUA        ?= lua$(LUA_VERSION)
LUA_INC    ?= /usr/include/lua$(LUA_VERSION)
CURL_INC   ?= /usr/include/x86_64-linux-gnu
CC         ?= cc
CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra
PIC        := -fPIC -std=gnu11
# The C sources by layer (csrc/README.md): no Lua, no libcurl; libcurl only; Lua only.
CORE_SRC   := csrc/util.c csrc/buf.c csrc/result.c csrc/schema.c csrc/token.c csrc/policy.c \
              csrc/http1.c csrc/json.c
CURL_SRC   := csrc/http_curl.c
LUA_SRC    := csrc/error.c csrc/doc.c csrc/api.c csrc/client.c csrc/cosock.c csrc/module.c
SRC        := $(CORE_SRC) $(CURL_SRC) $(LUA_SRC)
HDR        := csrc/core.h csrc/json.h csrc/http1.h csrc/transport.h csrc/podero.h
BUILD      := build/$(LUA_VERSION)
CORE       := $(BUILD)/podero/core.so
LIBS       := -lcurl -lm

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;;

.PHONY: lint print-src all build deps test test-gc check layers ctest fuzz asan asan-build valgrind demo sandbox clean \
        walk walk-asan walk-valgrind

all: build

# luacheck (.luacheckrc: std ngx_lua for the nginx code, busted for the specs) and cppcheck
# over every C file; warnings fail.
lint: deps
	luacheck --no-color --formatter plain lua bin/podero examples spec spec-nginx sandbox/lua scripts bench
	cppcheck -q --enable=warning,portability,performance --inline-suppr --error-exitcode=1 \
	    --suppress=missingIncludeSystem --suppress=missingInclude --std=c11 -Icsrc -Itests-c \
	    csrc tests-c fuzz scripts/lua-host.c spec/alloc bench/c_easy.c bench/c_multi.c

# The C sources of podero.core, one per line (the rockspec's list is checked against it).
print-src:
	@printf '%s\n' $(SRC)

build: $(CORE) build/luajit/podero/core.so

$(CORE): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(PIC) -I$(LUA_INC) -I$(CURL_INC) -shared -o $@ $(SRC) $(LIBS)

# The same core for LuaJIT (OpenResty's luajit2 headers + Debian's lua-compat53-dev).
build/luajit/podero/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(PIC) -I/usr/include/luajit-2.1 -I/usr/include/lua5.1 -I$(CURL_INC) \
	    -shared -o $@ $(SRC) $(LIBS)

# Installs the Debian packages the project needs (only as root, only what is missing).
deps:
	@sh scripts/install-deps.sh

# The whole busted suite under Lua 5.4 and then under LuaJIT (build/luajit's core) against a
# sandbox it starts, then podero inside a real nginx (spec-nginx/, 1 and 4 workers); ends with
# one line "N passed, N failed" for all three.
test: deps build
	@PODERO_LUAS="lua5.4 luajit" sh scripts/run-tests.sh

# The layers (csrc/README.md), checked: the core includes neither Lua nor libcurl, the libcurl
# transport no Lua, the Lua binding no libcurl; and the core compiles without Lua's headers.
layers:
	@bad=$$(grep -lE '#include <(lua|lauxlib|lualib)\.h>|#include "(podero|transport)\.h"|#include <curl/' \
	    $(CORE_SRC) csrc/core.h csrc/json.h csrc/http1.h); \
	 bad="$$bad$$(grep -lE '#include <(lua|lauxlib|lualib)\.h>|#include "podero\.h"' $(CURL_SRC) csrc/transport.h)"; \
	 bad="$$bad$$(grep -lE '#include <curl/' $(LUA_SRC) csrc/podero.h)"; \
	 if [ -n "$$bad" ]; then echo "layer rule broken in: $$bad"; exit 1; fi
	@mkdir -p build/check
	$(CC) -std=gnu11 -O2 $(WARN) -Werror -Icsrc -fsyntax-only $(CORE_SRC)
	@echo "layers: ok (core: $(words $(CORE_SRC)) files, libcurl: $(words $(CURL_SRC)), Lua: $(words $(LUA_SRC)))"

# Warnings are errors, with gcc and clang.
check: deps layers ctest
	@mkdir -p build/check
	gcc   -O2 $(WARN) -Werror $(PIC) -I$(LUA_INC) -I$(CURL_INC) -shared -o build/check/gcc.so $(SRC) $(LIBS)
	clang -O2 $(WARN) -Werror $(PIC) -I$(LUA_INC) -I$(CURL_INC) -shared -o build/check/clang.so $(SRC) $(LIBS)
	gcc   -O2 $(WARN) -Werror $(PIC) -I/usr/include/luajit-2.1 -I/usr/include/lua5.1 -I$(CURL_INC) \
	    -shared -o build/check/gcc-luajit.so $(SRC) $(LIBS)

# The parser's own tests (JSONTestSuite, unit checks, allocation failures, every document
# checked against the old tape parser kept in tests-c/json_ref.c) under ASan+UBSan, twice: with
# the SSE2 string scanners (x86-64) and with the portable scalar ones (-DPJ_NO_SIMD).
JSONTESTSUITE ?= $(firstword $(wildcard ../shared/data/JSONTestSuite/test_parsing) $(wildcard shared/data/JSONTestSuite/test_parsing))
JSONTEST_CC = $(CC) -std=c11 -g -O1 $(WARN) -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=all -DPJ_TEST_WRAP -Wl,--wrap=malloc,--wrap=realloc \
	    -Icsrc -Itests-c tests-c/json_test.c csrc/json.c tests-c/json_ref.c -lm
ctest:
	@mkdir -p build/ctest
	$(JSONTEST_CC) -o build/ctest/json_test
	build/ctest/json_test $(JSONTESTSUITE) tests-c/heat_pump.json > build/ctest/json_test.log
	@tail -n 3 build/ctest/json_test.log
	$(JSONTEST_CC) -DPJ_NO_SIMD -o build/ctest/json_test_scalar
	build/ctest/json_test_scalar $(JSONTESTSUITE) tests-c/heat_pump.json > build/ctest/json_test_scalar.log
	@tail -n 3 build/ctest/json_test_scalar.log
	$(CC) -std=c11 -g -O1 $(WARN) -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=all -Icsrc tests-c/http1_test.c csrc/http1.c -lm -o build/ctest/http1_test
	build/ctest/http1_test
	for simd in "" -DPD_NO_SIMD; do \
	  $(CC) -std=gnu11 -g -O1 $(WARN) $$simd -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=all -Icsrc tests-c/uuid_test.c csrc/util.c -lm -o build/ctest/uuid_test && \
	  build/ctest/uuid_test || exit 1; \
	done

# libFuzzer, FUZZ_SECONDS each (default 60), under ASan+UBSan, each linking only the units it
# tests (no Lua, no libcurl): the JSON parser, the token answer checks, the policy behind the
# HTTP/1.1 framing, and the framing itself. Seeds live in fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_CC := clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS := json token policy http1
fuzz:
	@mkdir -p $(addprefix build/fuzz/,$(FUZZERS))
	$(FUZZ_CC) -Icsrc -Itests-c fuzz/fuzz_json.c csrc/json.c tests-c/json_ref.c -lm -o build/fuzz/fuzz_json
	$(FUZZ_CC) -Icsrc fuzz/fuzz_token.c $(CORE_SRC) -lm -o build/fuzz/fuzz_token
	$(FUZZ_CC) -Icsrc fuzz/fuzz_policy.c $(CORE_SRC) -lm -o build/fuzz/fuzz_policy
	$(FUZZ_CC) -Icsrc fuzz/fuzz_http1.c csrc/http1.c -lm -o build/fuzz/fuzz_http1
	@for t in $(FUZZERS); do \
	  echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
	    build/fuzz/$$t fuzz/corpus/$$t > build/fuzz/$$t.log 2>&1 || { tail -n 40 build/fuzz/$$t.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' build/fuzz/$$t.log; \
	done

# The suite with AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer): the test
# runner runs in scripts/lua-host.c, which links the sanitizer runtime itself.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
asan: deps build asan-build
	@PODERO_IN_PROCESS_ONLY=1 PODERO_SANITIZE=asan sh scripts/run-tests.sh

asan-build: build/asan/podero/core.so build/asan/lua-host
build/asan/podero/core.so: $(SRC) $(HDR)
	@mkdir -p build/asan/podero
	gcc -O1 -g $(SAN) $(WARN) $(PIC) -I$(LUA_INC) -I$(CURL_INC) -shared -o $@ $(SRC) $(LIBS)
build/asan/lua-host: scripts/lua-host.c
	@mkdir -p build/asan
	gcc -O1 -g $(SAN) $(WARN) -I$(LUA_INC) -o $@ scripts/lua-host.c -llua$(LUA_VERSION) -lm

# The random walk (spec/walk.lua): long-lived clients through seeded random sequences of every
# public call, each answer checked against the sandbox. Lua 5.4 and LuaJIT; walk-asan and
# walk-valgrind run it under the sanitizers. PODERO_WALK_SEED=N replays one walk;
# PODERO_WALK_STEPS sets the steps per seed (default 600 over 4 seeds).
walk: deps build
	@sh scripts/walk.sh
walk-asan: deps asan-build
	@PODERO_SANITIZE=asan PODERO_WALK_STEPS=$${PODERO_WALK_STEPS:-600} PODERO_WALK_SEEDS=$${PODERO_WALK_SEEDS:-"1 2"} sh scripts/walk.sh
walk-valgrind: deps build
	@PODERO_SANITIZE=valgrind PODERO_WALK_STEPS=$${PODERO_WALK_STEPS:-500} PODERO_WALK_SEEDS=$${PODERO_WALK_SEEDS:-"1"} sh scripts/walk.sh

# The suite with the garbage collector at its most aggressive (pause 0).
# (Not the secrets and hostile-transport specs: their subject is not object lifetimes, and they
# run under ASan and in make test.)
test-gc: deps build
	@PODERO_IN_PROCESS_ONLY=1 PODERO_NGINX_TESTS=0 BUSTED_ARGS="--helper=spec/helpers/gc_aggressive.lua --exclude-pattern=^92%- --exclude-pattern=^93%-" sh scripts/run-tests.sh

# The suite under valgrind (memcheck, leak check).
valgrind: deps build
	@PODERO_IN_PROCESS_ONLY=1 PODERO_SANITIZE=valgrind sh scripts/run-tests.sh

# The main job: a sandbox, the fleet status example against it, and the sandbox stopped.
demo: deps build
	@sh scripts/demo.sh

# A sandbox Podero in the foreground, printing its URL, credentials and ids to try.
sandbox: deps
	@bash sandbox/sandbox.sh run

clean:
	rm -rf build

include bench/bench.mk

include nginx.mk
