/*
 * api.c: the endpoints of the Partner API that podero.core serves, described once, and the
 * argument checks and option reading that both clients (client.c: libcurl; cosock.c: nginx)
 * run before anything is sent, with the same messages. Adding a read endpoint is one line in
 * pd_endpoints (and its specs); the steering methods (lua/podero/steering.lua) are written on
 * top of client:_request.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podero.h"

const pd_endpoint pd_endpoints[] = {
    {"heat_pump", "GET", "/api/partners/v2.0/org/{org_id}/users/{user_id}/heat-pumps/{heat_pump_id}",
     PD_RESULT_HEAT_PUMP, PD_RETRY_IDEMPOTENT},
    {"heat_pumps", "GET", "/api/partners/v2.0/org/{org_id}/users/{user_id}/heat-pumps",
     PD_RESULT_HEAT_PUMP_LIST, PD_RETRY_IDEMPOTENT},
    {"users", "GET", "/api/partners/v2.0/org/{org_id}/users", PD_RESULT_ARRAY, PD_RETRY_IDEMPOTENT},
    {"user", "GET", "/api/partners/v2.0/org/{org_id}/users/{user_id}", PD_RESULT_OBJECT, PD_RETRY_IDEMPOTENT},
    {"building", "GET", "/api/partners/v2.0/org/{org_id}/users/{user_id}/buildings/{building_id}",
     PD_RESULT_OBJECT, PD_RETRY_IDEMPOTENT},
    {"electric_vehicles", "GET", "/api/partners/v2.0/org/{org_id}/users/{user_id}/electric-vehicles",
     PD_RESULT_ELECTRIC_VEHICLE_LIST, PD_RETRY_IDEMPOTENT},
    {"electric_vehicle", "GET",
     "/api/partners/v2.0/org/{org_id}/users/{user_id}/electric-vehicles/{electric_vehicle_id}",
     PD_RESULT_ELECTRIC_VEHICLE, PD_RETRY_IDEMPOTENT},
    {"inverters", "GET", "/api/partners/v2.0/org/{org_id}/users/{user_id}/inverters",
     PD_RESULT_INVERTER_LIST, PD_RETRY_IDEMPOTENT},
    {NULL, NULL, NULL, 0, 0}
};

/* the result names of client:_request, in enum pd_result_kind order */
static const char *const result_names[] = {"object", "heat_pump", "array", "heat_pump_list", "none",
                                           "electric_vehicle", "electric_vehicle_list",
                                           "inverter_list", NULL};

void pd_check_uuid(lua_State *L, int idx, const char *name, const char *fn, char *out) {
    size_t len;
    const char *s;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "podero: %s: %s must be a UUID string, got %s", fn, name, luaL_typename(L, idx));
    s = lua_tolstring(L, idx, &len);
    if (podero_uuid_lower(s, len, out) != 0)
        luaL_error(L, "podero: %s: %s must be a UUID (8-4-4-4-12 hex digits), got a string of %d bytes that is not one",
                   fn, name, (int)len);
}

/* core.check_uuid(v, name, fn) -> v in lower case, or raises "podero: fn: name must be a UUID..." */
int pd_check_uuid_l(lua_State *L) {
    char out[37];
    pd_check_uuid(L, 1, luaL_checkstring(L, 2), luaL_checkstring(L, 3), out);
    lua_pushstring(L, out);
    return 1;
}

/* The options table of a read: only include_deleted is known. */
static int check_request_opts(lua_State *L, int idx, const char *fn) {
    int include_deleted = 0;
    if (lua_isnoneornil(L, idx))
        return 0;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "podero: %s: opts must be a table, got %s", fn, luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "include_deleted") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                luaL_error(L, "podero: %s: opts.include_deleted must be a boolean, got %s", fn,
                           luaL_typename(L, -1));
            include_deleted = lua_toboolean(L, -1);
        } else {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            luaL_error(L, "podero: %s: unknown option '%s' in opts", fn,
                       lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    return include_deleted;
}

int pd_endpoint_args(lua_State *L, const pd_endpoint *ep, int first, char *path, size_t cap,
                     char ids[3][37]) {
    const char *p = ep->path, *b;
    size_t o = 0;
    int k = 0;
    ids[0][0] = ids[1][0] = ids[2][0] = 0;
    /* the template's text between its {ids} is copied in runs; each id is checked as it comes */
    while ((b = strchr(p, '{')) != NULL) {
        const char *e = strchr(b, '}');
        size_t run = (size_t)(b - p), nl = (size_t)(e - b - 1);
        char name[32];
        if (o + run + 36 >= cap || nl >= sizeof name)
            break;
        memcpy(path + o, p, run);
        o += run;
        memcpy(name, b + 1, nl);
        name[nl] = 0;
        pd_check_uuid(L, first + k, name, ep->name, ids[k]);
        memcpy(path + o, ids[k], 36);
        o += 36;
        k++;
        p = e + 1;
    }
    {
        size_t rest = strlen(p);
        if (o + rest >= cap)
            rest = cap - 1 - o;
        memcpy(path + o, p, rest);
        o += rest;
    }
    path[o] = 0;
    if (check_request_opts(L, first + k, ep->name))
        snprintf(path + o, cap - o, "?include_deleted=true");
    return k;
}

void pd_request_args(lua_State *L, int first, size_t base_len, pd_raw_request *rq) {
    static const char *const methods[] = {"GET", "PUT", "POST", NULL};
    int m = luaL_checkoption(L, first, NULL, methods);
    size_t plen, i;
    const char *path = luaL_checklstring(L, first + 1, &plen);
    memset(rq, 0, sizeof *rq);
    rq->method = methods[m];
    rq->path = path;
    rq->body = luaL_optlstring(L, first + 2, NULL, &rq->body_len);
    rq->has_body = rq->body != NULL;
    rq->result = luaL_checkoption(L, first + 3, "object", result_names);
    rq->retry = m == 2 ? PD_RETRY_UNSENT_ONLY : PD_RETRY_IDEMPOTENT;
    if (plen < 6 || memcmp(path, "/api/", 5) != 0 || plen + base_len >= 1200)
        luaL_error(L, "podero: _request: path must start with /api/ and be shorter than %d bytes",
                   (int)(1200 - base_len));
    for (i = 0; i < plen; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (!(isalnum(ch) || strchr("-._~/?=&%,:+", ch)))
            luaL_error(L, "podero: _request: path has a character that must be percent-encoded at byte %d",
                       (int)i + 1);
    }
    if (rq->has_body && m == 0)
        luaL_error(L, "podero: _request: a GET has no body");
    if (!lua_isnoneornil(L, first + 4))
        pd_check_uuid(L, first + 4, "expect_id", "_request", rq->expect_id);
}

static char *opt_string(lua_State *L, int idx, const char *name) {
    char *s = NULL;
    if (lua_getfield(L, idx, name) == LUA_TSTRING) {
        s = podero_strdup(lua_tostring(L, -1));
        if (!s)
            luaL_error(L, "not enough memory");
    }
    lua_pop(L, 1);
    return s;
}

static double opt_number(lua_State *L, int idx, const char *name, double dflt) {
    double v = dflt;
    if (lua_getfield(L, idx, name) == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Reads the options into cfg and sec (which the caller's userdata owns, so that a raise here
 * leaks nothing: its __gc frees what was copied). */
void pd_config_read(lua_State *L, int idx, pd_config *cfg, podero_secrets *sec) {
    char *s;
    cfg->base_url = opt_string(L, idx, "base_url");
    cfg->token_url = opt_string(L, idx, "token_url");
    cfg->client_id = opt_string(L, idx, "client_id");
    sec->client_secret = opt_string(L, idx, "client_secret");
    cfg->username = opt_string(L, idx, "username");
    sec->password = opt_string(L, idx, "password");
    sec->access_token = opt_string(L, idx, "token");
    s = opt_string(L, idx, "grant");
    cfg->grant = !s ? PD_GRANT_CLIENT_CREDENTIALS : strcmp(s, "password") == 0 ? PD_GRANT_PASSWORD
               : strcmp(s, "token") == 0 ? PD_GRANT_STATIC : PD_GRANT_CLIENT_CREDENTIALS;
    free(s);
    s = opt_string(L, idx, "token_format");
    cfg->token_form = s && strcmp(s, "form") == 0;
    free(s);
    s = opt_string(L, idx, "client_auth");
    cfg->client_auth_body = s && strcmp(s, "body") == 0;
    free(s);
    cfg->timeout = opt_number(L, idx, "timeout", 30);
    cfg->connect_timeout = opt_number(L, idx, "connect_timeout", 10);
    cfg->max_retries = (int)opt_number(L, idx, "max_retries", 2);
    cfg->max_retry_wait = opt_number(L, idx, "max_retry_wait", 10);
    cfg->retry_base_delay = opt_number(L, idx, "retry_base_delay", 0.5);
    cfg->deadline = opt_number(L, idx, "deadline", 0);
    cfg->max_response_bytes = (size_t)opt_number(L, idx, "max_response_bytes", 8 * 1024 * 1024);
    lua_getfield(L, idx, "verify_tls");
    cfg->verify_tls = lua_type(L, -1) == LUA_TBOOLEAN ? lua_toboolean(L, -1) : 1;
    lua_pop(L, 1);
    cfg->ca_file = opt_string(L, idx, "ca_file");
    lua_getfield(L, idx, "proxy");
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        cfg->proxy_mode = 2;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        cfg->proxy_mode = 1;
        cfg->proxy = podero_strdup(lua_tostring(L, -1));
        if (!cfg->proxy)
            luaL_error(L, "not enough memory");
    }
    lua_pop(L, 1);
    s = opt_string(L, idx, "user_agent");
    if (s) {
        size_t n = strlen(s) + sizeof "User-Agent: ";
        cfg->user_agent = (char *)malloc(n);
        if (cfg->user_agent)
            snprintf(cfg->user_agent, n, "User-Agent: %s", s);
        free(s);
        if (!cfg->user_agent)
            luaL_error(L, "not enough memory");
    }
    if (!cfg->base_url || !cfg->token_url || (cfg->grant == PD_GRANT_STATIC && !sec->access_token) ||
        (cfg->grant == PD_GRANT_CLIENT_CREDENTIALS && (!cfg->client_id || !sec->client_secret)) ||
        (cfg->grant == PD_GRANT_PASSWORD && (!cfg->username || !sec->password)))
        luaL_error(L, "podero: core: incomplete options (podero.new completes them)");
}

void pd_bind_context(lua_State *L, int client_idx, const char *org, const char *user) {
    podero_doc_bind(L, -1, client_idx, org, user);
}

int pd_endpoints_push(lua_State *L) {
    const pd_endpoint *ep;
    int i = 0;
    lua_newtable(L);
    for (ep = pd_endpoints; ep->name; ep++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, ep->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, ep->method);
        lua_setfield(L, -2, "method");
        lua_pushstring(L, ep->path);
        lua_setfield(L, -2, "path");
        lua_pushstring(L, result_names[ep->result]);
        lua_setfield(L, -2, "result");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

void pd_push_attempt(lua_State *L, const pd_attempt *a, double elapsed) {
    lua_createtable(L, 0, 8);
    lua_pushstring(L, a->method ? a->method : "?");
    lua_setfield(L, -2, "method");
    lua_pushstring(L, a->path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, a->endpoint);
    lua_setfield(L, -2, "endpoint");
    if (a->status > 0) {
        lua_pushinteger(L, a->status);
        lua_setfield(L, -2, "status");
    }
    lua_pushinteger(L, a->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushnumber(L, elapsed);
    lua_setfield(L, -2, "elapsed");
    if (a->request_id && a->request_id[0]) {
        lua_pushstring(L, a->request_id);
        lua_setfield(L, -2, "request_id");
    }
    if (a->kind) {
        lua_pushstring(L, a->kind);
        lua_setfield(L, -2, "kind");
    }
}

/* Pushes a field table of schema.c as { { name =, decimal =, type =, nullable =, max_length =,
 * values =, hint = }, ... } in its order (type nil for a read-only field). */
static void fields_push(lua_State *L, const podero_field *f) {
    static const char *const types[] = {NULL, "boolean", "number", "integer", "string", "time", "enum",
                                        "clock"};
    int i = 0;
    lua_newtable(L);
    for (; f->name; f++) {
        lua_createtable(L, 0, 7);
        lua_pushstring(L, f->name);
        lua_setfield(L, -2, "name");
        lua_pushboolean(L, f->decimal);
        lua_setfield(L, -2, "decimal");
        if (f->wtype != PODERO_W_NONE) {
            lua_pushstring(L, types[f->wtype]);
            lua_setfield(L, -2, "type");
            lua_pushboolean(L, f->nullable);
            lua_setfield(L, -2, "nullable");
        }
        if (f->max_length) {
            lua_pushinteger(L, f->max_length);
            lua_setfield(L, -2, "max_length");
        }
        if (f->values) {
            const char *p = f->values;
            int k = 0;
            lua_newtable(L);
            while (*p) {
                size_t n = strcspn(p, " ");
                lua_pushlstring(L, p, n);
                lua_rawseti(L, -2, ++k);
                p += n;
                while (*p == ' ')
                    p++;
            }
            lua_setfield(L, -2, "values");
        }
        if (f->hint) {
            lua_pushstring(L, f->hint);
            lua_setfield(L, -2, "hint");
        }
        lua_rawseti(L, -2, ++i);
    }
}

/* Sets core.heat_pump_fields, core.electric_vehicle_fields and core.inverter_fields in the table
 * on top (schema.c's tables). */
void pd_schema_set(lua_State *L) {
    static const int kinds[] = {PODERO_KIND_HEAT_PUMP, PODERO_KIND_ELECTRIC_VEHICLE, PODERO_KIND_INVERTER};
    size_t i;
    char name[40];
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        fields_push(L, podero_kind_fields(kinds[i]));
        snprintf(name, sizeof name, "%s_fields", podero_kind_name(kinds[i]));
        lua_setfield(L, -2, name);
    }
}
