/*
 * lua-host.c: a minimal Lua 5.4 interpreter for `make asan`.
 *
 * Debian's lua5.4 is not built with AddressSanitizer, and preloading the sanitizer runtime
 * with LD_PRELOAD would also load it into every process the tests start (curl, nginx, the
 * podero command), some of which then hang. This host links the runtime itself, so only the
 * test runner runs under ASan+UBSan. PODERO_HOST_CPATH, when set, is put in front of
 * package.cpath (the sanitized podero.core), while child processes keep LUA_CPATH.
 *
 *   lua-host SCRIPT [ARGS...]     like `lua5.4 SCRIPT ARGS...`
 */
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

int main(int argc, char **argv) {
    lua_State *L;
    const char *cpath = getenv("PODERO_HOST_CPATH");
    int i, status;
    if (argc < 2) {
        fprintf(stderr, "usage: lua-host SCRIPT [ARGS...]\n");
        return 2;
    }
    L = luaL_newstate();
    if (!L)
        return 1;
    luaL_openlibs(L);
    if (cpath) {
        lua_getglobal(L, "package");
        lua_pushstring(L, cpath);
        lua_pushliteral(L, ";");
        lua_getfield(L, -3, "cpath");
        lua_concat(L, 3);
        lua_setfield(L, -2, "cpath");
        lua_pop(L, 1);
    }
    lua_createtable(L, argc, 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);      /* arg[0] is the script */
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    status = luaL_loadfile(L, argv[1]);
    if (status == LUA_OK) {
        for (i = 2; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = lua_pcall(L, argc - 2, 0, 1);
    }
    if (status != LUA_OK)
        fprintf(stderr, "lua-host: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
