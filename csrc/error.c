/*
 * error.c: the Lua error type. A runtime failure is `nil, err`, err a table with kind,
 * status, message, retry_after and attempts, whose tostring is one line.
 */
#include <stdio.h>
#include <string.h>

#include "podero.h"

void podero_push_error(lua_State *L, const podero_result *res) {
    lua_createtable(L, 0, 5);
    lua_pushstring(L, res->kind ? res->kind : "network");
    lua_setfield(L, -2, "kind");
    if (res->status > 0) {
        lua_pushinteger(L, res->status);
        lua_setfield(L, -2, "status");
    }
    lua_pushstring(L, res->message);
    lua_setfield(L, -2, "message");
    if (res->retry_after >= 0) {
        lua_pushnumber(L, res->retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    lua_pushinteger(L, res->attempts);
    lua_setfield(L, -2, "attempts");
    luaL_setmetatable(L, PODERO_ERROR_MT);
}

int podero_fail(lua_State *L, const podero_result *res) {
    lua_pushnil(L);
    podero_push_error(L, res);
    return 2;
}

/* tostring(err): "podero: http error (HTTP 404): the API answered ... [2 attempts]" */
static int error_tostring(lua_State *L) {
    luaL_Buffer b;
    const char *kind, *msg;
    lua_Integer attempts;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "kind");      /* 2 */
    lua_getfield(L, 1, "message");   /* 3 */
    lua_getfield(L, 1, "status");    /* 4 */
    lua_getfield(L, 1, "attempts");  /* 5 */
    kind = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    msg = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
    attempts = lua_type(L, 5) == LUA_TNUMBER ? lua_tointeger(L, 5) : 0;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "podero: ");
    luaL_addstring(&b, kind ? kind : "?");
    luaL_addstring(&b, " error");
    if (lua_type(L, 4) == LUA_TNUMBER) {
        char num[40];
        snprintf(num, sizeof num, " (HTTP %d)", (int)lua_tointeger(L, 4));
        luaL_addstring(&b, num);
    }
    if (msg && *msg) {
        luaL_addstring(&b, ": ");
        luaL_addstring(&b, msg);
    }
    if (attempts > 1) {
        char num[40];
        snprintf(num, sizeof num, " [%d attempts]", (int)attempts);
        luaL_addstring(&b, num);
    }
    luaL_pushresult(&b);
    return 1;
}

void podero_error_open(lua_State *L) {
    if (luaL_newmetatable(L, PODERO_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "podero.error");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
}
