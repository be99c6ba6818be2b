/*
 * module.c: luaopen_podero_core, which calls each file's *_open and fills the module table.
 *
 * podero.core is the native half of require("podero"); scripts never load it directly.
 * lua/podero/init.lua validates options and hands a complete option table to core.new (the
 * libcurl client) or, inside nginx, to core.policy (the client whose transport is nginx's).
 */
#include <string.h>

#include "podero.h"
#include "transport.h"

/* core.error(fields): an error object made in Lua (e.g. by the OpenResty layer). */
static int l_error(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, PODERO_ERROR_MT);
    return 1;
}

static int l_curl_version(lua_State *L) {
    int http2;
    lua_pushstring(L, pd_curl_version(&http2));
    lua_pushboolean(L, http2);
    return 2;
}

/* core.parse(body [, kind]): a lazy object from a JSON string (tests, fuzzing, offline use). */
static int l_parse(lua_State *L) {
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    static const char *const kinds[] = {"object", "heat_pump", "heat_pump_list", "array", "electric_vehicle",
                                        "electric_vehicle_list", "inverter_list", NULL};
    int k = luaL_checkoption(L, 2, "object", kinds);
    podero_result res;
    memset(&res, 0, sizeof res);
    res.retry_after = -1;
    static const int results[] = {PD_RESULT_OBJECT, PD_RESULT_HEAT_PUMP, PD_RESULT_HEAT_PUMP_LIST,
                                  PD_RESULT_ARRAY, PD_RESULT_ELECTRIC_VEHICLE,
                                  PD_RESULT_ELECTRIC_VEHICLE_LIST, PD_RESULT_INVERTER_LIST};
    if (!podero_doc_push(L, body, len, results[k], NULL, 0, &res))
        return podero_fail(L, &res);
    return 1;
}

int luaopen_podero_core(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"fields", podero_doc_fields},
        {"to_table", podero_doc_to_table},
        {"to_json", podero_doc_to_json},
        {"raw", podero_doc_raw},
        {"is_object", podero_doc_is_view},
        {"is_heat_pump", podero_doc_is_heat_pump},
        {"kind", podero_doc_kind},
        {"context", podero_doc_context},
        {"set_context", podero_doc_set_context_l},
        {"error", l_error},
        {"curl_version", l_curl_version},
        {"parse", l_parse},
        {"check_uuid", pd_check_uuid_l},
        {NULL, NULL}
    };
    if (pd_curl_global_init() != 0)
        return luaL_error(L, "podero: curl_global_init failed");
    podero_error_open(L);
    podero_doc_open(L);

    luaL_newlib(L, funcs);
    podero_client_open(L);
    lua_setfield(L, -2, "new");
    podero_cosock_open(L);
    lua_setfield(L, -2, "policy");
    pd_endpoints_push(L);
    lua_setfield(L, -2, "endpoints");
    luaL_getmetatable(L, PODERO_CLIENT_MT);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, "client_methods");
    lua_pop(L, 1);
    luaL_getmetatable(L, PODERO_VIEW_MT);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -3, "heat_pump_methods");
    lua_getfield(L, -1, "object_methods");
    lua_setfield(L, -3, "object_methods");
    lua_getfield(L, -1, "electric_vehicle_methods");
    lua_setfield(L, -3, "electric_vehicle_methods");
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
    pd_schema_set(L);
    return 1;
}
