/*
 * failing_alloc: runs a scripted podero call in a lua_State whose allocator fails the Nth
 * allocation, for N swept over the whole call; it must never crash (a crash or a sanitizer
 * report ends the process with a non-zero status).
 *
 *   failing_alloc SCRIPT [STRIDE [MODE]] -- ARGS...
 *     SCRIPT  a Lua file; it is loaded, then run under lua_pcall with ARGS as `...`
 *     STRIDE  sweep N = 1, 1+STRIDE, 1+2*STRIDE, ... (default 1: every allocation)
 *     MODE    "once" (default: only the Nth allocation fails) or "after" (every allocation
 *             from the Nth on fails)
 *
 * Each N gets a fresh lua_State: luaL_openlibs and require("podero") run with a working
 * allocator (LUA_PATH / LUA_CPATH come from the environment), then the failures are armed
 * and the script runs; then they are disarmed and the state is closed. A first run without
 * failures counts the allocations of the script (the total). Prints one summary line:
 *   allocations=T runs=R ok=A errors=E nomem=M
 * and exits 0, or 1 when the first run fails (the sandbox is not answering).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

typedef struct ctx {
    int armed;
    int after;          /* 1: fail every allocation from fail_at on */
    long count;         /* allocations (growths) since armed */
    long fail_at;       /* 0: never */
} ctx;

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    ctx *c = (ctx *)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (c->armed && (ptr == NULL || nsize > osize)) {
        c->count++;
        if (c->fail_at > 0 && (c->count == c->fail_at || (c->after && c->count > c->fail_at)))
            return NULL;
    }
    return realloc(ptr, nsize);
}

/* One run; returns 0 ok, 1 error (message in msg), -1 setup failure. */
static int run(const char *script, int nargs, char **args, ctx *c, char *msg, size_t cap) {
    lua_State *L = lua_newstate(failing_alloc, c);
    int i, rc;
    if (!L)
        return -1;
    c->armed = 0;
    luaL_openlibs(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "podero");
    if (lua_pcall(L, 1, 0, 0) != LUA_OK || luaL_loadfile(L, script) != LUA_OK) {
        snprintf(msg, cap, "%s", lua_tostring(L, -1));
        lua_close(L);
        return -1;
    }
    for (i = 0; i < nargs; i++)
        lua_pushstring(L, args[i]);
    lua_gc(L, LUA_GCCOLLECT, 0);
    c->count = 0;
    c->armed = 1;
    rc = lua_pcall(L, nargs, 0, 0);
    c->armed = 0;
    if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(msg, cap, "%s", m ? m : "(error object is not a string)");
    }
    lua_close(L);
    return rc == LUA_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *script;
    long stride = 1, total, n, runs = 0, ok = 0, errors = 0, nomem = 0;
    int after = 0, first = 1, nargs;
    char **args;
    char msg[512];
    ctx c;

    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT [STRIDE [once|after]] -- ARGS...\n", argv[0]);
        return 2;
    }
    script = argv[1];
    while (first < argc && strcmp(argv[first], "--") != 0)
        first++;
    if (first > 2)
        stride = atol(argv[2]);
    if (first > 3)
        after = strcmp(argv[3], "after") == 0;
    if (stride < 1)
        stride = 1;
    args = argv + (first < argc ? first + 1 : argc);
    nargs = (int)(argc - (args - argv));

    memset(&c, 0, sizeof c);
    if (run(script, nargs, args, &c, msg, sizeof msg) != 0) {
        fprintf(stderr, "failing_alloc: the run without failures failed: %s\n", msg);
        return 1;
    }
    total = c.count;
    for (n = 1; n <= total; n += stride) {
        int rc;
        memset(&c, 0, sizeof c);
        c.fail_at = n;
        c.after = after;
        msg[0] = 0;
        rc = run(script, nargs, args, &c, msg, sizeof msg);
        runs++;
        if (rc < 0) {
            fprintf(stderr, "failing_alloc: set-up failed at N=%ld: %s\n", n, msg);
            return 1;
        }
        if (rc == 0) {
            ok++;
        } else {
            errors++;
            if (strstr(msg, "not enough memory"))
                nomem++;
            else if (getenv("FAILING_ALLOC_VERBOSE"))
                fprintf(stderr, "N=%ld: %s\n", n, msg);
        }
    }
    printf("allocations=%ld runs=%ld ok=%ld errors=%ld nomem=%ld\n", total, runs, ok, errors, nomem);
    return 0;
}
