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
    if (res->method) {
        lua_pushstring(L, res->method);
        lua_setfield(L, -2, "method");
    }
    if (res->endpoint) {
        lua_pushstring(L, res->endpoint);
        lua_setfield(L, -2, "endpoint");
    }
    if (res->path[0]) {
        lua_pushstring(L, res->path);
        lua_setfield(L, -2, "path");
    }
    if (res->request_id[0]) {
        lua_pushstring(L, res->request_id);
        lua_setfield(L, -2, "request_id");
    }
    luaL_setmetatable(L, PODERO_ERROR_MT);
}

int podero_fail(lua_State *L, const podero_result *res) {
    lua_pushnil(L);
    podero_push_error(L, res);
    return 2;
}

static const char *field_string(lua_State *L, int t, const char *k) {
    lua_getfield(L, t, k);
    return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;    /* left on the stack */
}

/*
 * tostring(err), one line that says each thing once:
 *   podero: http error: GET /api/partners/v2.0/org/.../heat-pumps/...: the API answered HTTP 404
 *   Not Found [2 attempts, request 3f0c...]
 * "(HTTP n)" follows the kind only when the message does not already say it.
 */
static int error_tostring(lua_State *L) {
    luaL_Buffer b;
    const char *kind, *msg, *method, *path, *rid;
    lua_Integer attempts;
    int has_status;
    char num[64];
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    kind = field_string(L, 1, "kind");          /* 2 */
    msg = field_string(L, 1, "message");        /* 3 */
    method = field_string(L, 1, "method");      /* 4 */
    path = field_string(L, 1, "path");          /* 5 */
    rid = field_string(L, 1, "request_id");     /* 6 */
    lua_getfield(L, 1, "attempts");             /* 7 */
    attempts = lua_type(L, 7) == LUA_TNUMBER ? lua_tointeger(L, 7) : 0;
    lua_getfield(L, 1, "status");               /* 8 */
    has_status = lua_type(L, 8) == LUA_TNUMBER;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "podero: ");
    luaL_addstring(&b, kind ? kind : "?");
    luaL_addstring(&b, " error");
    if (has_status) {
        snprintf(num, sizeof num, "HTTP %d", (int)lua_tointeger(L, 8));
        if (!msg || !strstr(msg, num)) {
            luaL_addstring(&b, " (");
            luaL_addstring(&b, num);
            luaL_addstring(&b, ")");
        }
    }
    if (method && path) {
        luaL_addstring(&b, ": ");
        luaL_addstring(&b, method);
        luaL_addstring(&b, " ");
        luaL_addstring(&b, path);
    }
    if (msg && *msg) {
        luaL_addstring(&b, ": ");
        luaL_addstring(&b, msg);
    }
    if (attempts > 1 || rid) {
        luaL_addstring(&b, " [");
        if (attempts > 1) {
            snprintf(num, sizeof num, "%d attempts%s", (int)attempts, rid ? ", " : "");
            luaL_addstring(&b, num);
        }
        if (rid) {
            luaL_addstring(&b, "request ");
            luaL_addstring(&b, rid);
        }
        luaL_addstring(&b, "]");
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
