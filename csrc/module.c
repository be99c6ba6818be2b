/*
 * module.c: podero.core registration, the error type, and small shared helpers.
 *
 * podero.core is the native half of require("podero"); scripts never load it directly.
 * lua/podero/init.lua validates options and hands a complete option table to core.new.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "podero.h"

double podero_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A wipe the compiler may not remove as a dead store. */
void podero_wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

void podero_strfree(char **s) {
    if (*s) {
        podero_wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

/* ---- the error type ----------------------------------------------------------------- */

/* Every err.kind there is (podero.ERROR_KINDS; the README's table documents each). */
const char *const podero_error_kinds[] = {
    "network", "timeout", "tls", "http", "auth", "decode", "too_large", "memory", NULL
};

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

/* tostring(err): "podero: http error (HTTP 404): the API answered ... [1 attempt]" */
static int error_tostring(lua_State *L) {
    luaL_Buffer b;
    const char *kind, *msg;
    lua_Integer attempts;
    int base;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "kind");      /* 2 */
    lua_getfield(L, 1, "message");   /* 3 */
    lua_getfield(L, 1, "status");    /* 4 */
    lua_getfield(L, 1, "attempts");  /* 5 */
    base = 1;
    kind = lua_tostring(L, base + 1);
    msg = lua_tostring(L, base + 2);
    attempts = lua_tointeger(L, base + 4);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "podero: ");
    luaL_addstring(&b, kind ? kind : "?");
    luaL_addstring(&b, " error");
    if (lua_type(L, base + 3) == LUA_TNUMBER) {
        char num[40];
        snprintf(num, sizeof num, " (HTTP %d)", (int)lua_tointeger(L, base + 3));
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

/* core.error(fields): an error object made in Lua (e.g. by the OpenResty layer). */
static int l_error(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, PODERO_ERROR_MT);
    return 1;
}

static int l_curl_version(lua_State *L) {
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    lua_pushstring(L, v->version);
    lua_pushboolean(L, (v->features & CURL_VERSION_HTTP2) != 0);
    return 2;
}

/* core.parse(body [, kind]): a lazy object from a JSON string (tests, fuzzing, offline use). */
static int l_parse(lua_State *L) {
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    static const char *const kinds[] = {"object", "heat_pump", "heat_pump_list", "array", NULL};
    int k = luaL_checkoption(L, 2, "object", kinds);
    podero_result res;
    memset(&res, 0, sizeof res);
    res.retry_after = -1;
    if (!podero_doc_push(L, body, len,
                         k == 1 ? PODERO_KIND_HEAT_PUMP : k == 2 ? PODERO_KIND_HEAT_PUMP_LIST : PODERO_KIND_PLAIN,
                         k >= 2, NULL, &res))
        return podero_fail(L, &res);
    return 1;
}

int luaopen_podero_core(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"fields", podero_doc_fields},
        {"to_table", podero_doc_to_table},
        {"raw", podero_doc_raw},
        {"is_object", podero_doc_is_view},
        {"is_heat_pump", podero_doc_is_heat_pump},
        {"context", podero_doc_context},
        {"set_context", podero_doc_set_context_l},
        {"error", l_error},
        {"curl_version", l_curl_version},
        {"parse", l_parse},
        {NULL, NULL}
    };
    static int curl_ready = 0;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return luaL_error(L, "podero: curl_global_init failed");
        curl_ready = 1;
    }
    if (luaL_newmetatable(L, PODERO_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "podero.error");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    podero_doc_open(L);

    luaL_newlib(L, funcs);
    podero_client_open(L);
    lua_setfield(L, -2, "new");
    luaL_getmetatable(L, PODERO_CLIENT_MT);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, "client_methods");
    lua_pop(L, 1);
    luaL_getmetatable(L, PODERO_VIEW_MT);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, "heat_pump_methods");
    lua_getfield(L, -1, "object_methods");
    lua_setfield(L, -3, "object_methods");
    lua_pop(L, 1);
    luaL_getmetatable(L, PODERO_ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    {
        int i;
        lua_newtable(L);
        for (i = 0; podero_error_kinds[i]; i++) {
            lua_pushstring(L, podero_error_kinds[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "ERROR_KINDS");
    }
    lua_pushliteral(L, PODERO_VERSION);
    lua_setfield(L, -2, "VERSION");
    podero_schema_push(L);
    lua_setfield(L, -2, "heat_pump_fields");
    return 1;
}
