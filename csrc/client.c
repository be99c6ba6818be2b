/*
 * client.c: the Lua binding of the libcurl client (core.new). A method checks its arguments
 * (raising on misuse, api.c), hands the call to the policy and the libcurl transport
 * (policy.c, http_curl.c; no Lua runs while libcurl is on the stack), then pushes the answer
 * as a lazy view (doc.c) or nil, err (error.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podero.h"
#include "transport.h"

typedef struct podero_client {
    pd_client pc;           /* options, secrets, token: the policy's state */
    pd_curl *t;             /* the libcurl handles */
    int closed;
    int in_fetch;           /* a fetch_heat_pumps batch runs: the client is busy */
    int in_hook;            /* its on_request function runs: the client is busy */
    int has_hook;           /* on_request is set (the function is the userdata's user value) */
    lua_State *L;           /* the thread of the method running now (for on_request) */
} podero_client;

/* The on_request function lives in the client userdata's user value (5.4), or in its
 * environment table (5.1/LuaJIT), so that it is collected with the client. */
static void push_hook_fn(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 504
    lua_getiuservalue(L, idx, 1);
#else
    lua_getfenv(L, idx);
    lua_getfield(L, -1, "on_request");
    lua_remove(L, -2);
#endif
}

/* (protected) on_request(info): args: the attempt (light userdata), elapsed, the client */
static int hook_protected(lua_State *L) {
    const pd_attempt *a = (const pd_attempt *)lua_touserdata(L, 1);
    double elapsed = lua_tonumber(L, 2);
    push_hook_fn(L, 3);
    pd_push_attempt(L, a, elapsed);
    lua_call(L, 1, 0);
    return 0;
}

/* The transport's hook: calls on_request under lua_pcall, with no libcurl call on the stack;
 * what it raises is reported on stderr and does not break the call. */
static void on_attempt(void *ud, const pd_call *call, double elapsed) {
    podero_client *c = (podero_client *)ud;
    lua_State *L = c->L;
    pd_attempt a;
    if (!L || !c->has_hook || !lua_checkstack(L, 6))
        return;
    pd_call_attempt(&c->pc, call, &a);
    lua_pushcfunction(L, hook_protected);
    lua_pushlightuserdata(L, &a);
    lua_pushnumber(L, elapsed);
    lua_pushvalue(L, 1);                /* the client: index 1 of every method */
    c->in_hook = 1;
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        fprintf(stderr, "podero: on_request raised (ignored): %s\n",
                lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)");
        lua_pop(L, 1);
    }
    c->in_hook = 0;
}

static podero_client *check_client(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    if (c->closed)
        luaL_error(L, "podero: client is closed");
    if (c->in_fetch)
        luaL_error(L, "podero: client is busy: a call on the client that runs fetch_heat_pumps "
                      "cannot be made from its progress callback");
    if (c->in_hook)
        luaL_error(L, "podero: client is busy: a call on the client cannot be made from its "
                      "on_request function");
    c->L = L;
    return c;
}

static void client_free(podero_client *c) {
    pd_curl_free(c->t);
    c->t = NULL;
    pd_client_free(&c->pc);
    c->in_fetch = 0;
    c->closed = 1;
}

static int l_close(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    if (c->in_hook)
        return luaL_error(L, "podero: client is busy: close() cannot be called from its on_request function");
    if (c->in_fetch)
        return luaL_error(L, "podero: client is busy: close() cannot be called from the progress "
                             "callback of its own fetch_heat_pumps");
    client_free(c);
    return 0;
}

static int l_gc(lua_State *L) {
    client_free((podero_client *)lua_touserdata(L, 1));
    return 0;
}

static int l_tostring(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    static const char *const grants[] = {"client_credentials", "password", "token"};
    if (c->closed)
        lua_pushfstring(L, "podero.client (closed): %p", (void *)c);
    else
        lua_pushfstring(L, "podero.client %s (%s): %p", c->pc.cfg.base_url, grants[c->pc.cfg.grant], (void *)c);
    return 1;
}

/* Runs call to its end and pushes the answer as result kind rk: a view (with its context when
 * org is given), true for PD_RESULT_NONE, or nil, err. */
static int run_and_push(lua_State *L, podero_client *c, pd_call *call, int rk, const char *want_id,
                        const char *org, const char *user) {
    podero_result res;
    if (pd_curl_run(c->t, &c->pc, call) != PD_DONE)
        return podero_fail(L, &call->res);
    if (rk == PD_RESULT_NONE) {
        lua_pushboolean(L, 1);
        return 1;
    }
    podero_result_init(&res);
    /* the answer's block becomes the document's: no copy of the body */
    if (!podero_doc_push_taken(L, pd_curl_take_body, c->t, rk, want_id, call->status, &res)) {
        pd_call_context(&c->pc, call, &res);
        return podero_fail(L, &res);
    }
    if (org)
        pd_bind_context(L, 1, org, user);
    return 1;
}

/* client:<endpoint>(ids..., [opts]): one closure per entry of pd_endpoints (upvalue 1). */
static int l_endpoint(lua_State *L) {
    const pd_endpoint *ep = &pd_endpoints[lua_tointeger(L, lua_upvalueindex(1))];
    podero_client *c = check_client(L);
    char path[400], ids[3][37];
    pd_call call;
    int k = pd_endpoint_args(L, ep, 2, path, sizeof path, ids);
    pd_api_begin(&c->pc, &call, ep->method, path, NULL, 0, 0, ep->retry, podero_monotonic());
    return run_and_push(L, c, &call, ep->result, k == 3 ? ids[2] : NULL, ids[0], k >= 2 ? ids[1] : NULL);
}

/*
 * client:_request(method, path [, json_body [, result [, expect_id]]]): the primitive behind the
 * Lua-level calls in lua/podero/. method: "GET", "PUT" or "POST"; path: below base_url, starting
 * with "/api/"; json_body: a JSON text (sent with Content-Type: application/json); result:
 * "object" (default), "heat_pump", "array", "heat_pump_list", "electric_vehicle",
 * "electric_vehicle_list", "inverter_list" or "none" (any 2xx body, answered as true). GET and PUT follow the retry rules of heat_pump; POST is retried only when the
 * request never left (connection refused, DNS). expect_id (with result "heat_pump"): the id the
 * answer must be about (podero_heat_pump_check).
 */
static int l_request(lua_State *L) {
    podero_client *c = check_client(L);
    pd_raw_request rq;
    pd_call call;
    pd_request_args(L, 2, strlen(c->pc.cfg.base_url), &rq);
    pd_api_begin(&c->pc, &call, rq.method, rq.path, rq.body, rq.body_len, rq.has_body, rq.retry,
                 podero_monotonic());
    return run_and_push(L, c, &call, rq.result, rq.expect_id, NULL, NULL);
}

/* ---- fetch_heat_pumps ------------------------------------------------------------------------ */

typedef struct fetch_batch {
    int n;
    pd_fetch_item *items;   /* freed by __gc, with any documents left in it */
} fetch_batch;

#define FETCH_BATCH_MT "podero.fetch_batch"

static int batch_gc(lua_State *L) {
    fetch_batch *b = (fetch_batch *)lua_touserdata(L, 1);
    int i;
    if (b->items) {
        for (i = 0; i < b->n; i++) {
            if (b->items[i].has_doc)
                pj_free(&b->items[i].doc);
            pd_call_free(&b->items[i].call);
        }
        free(b->items);
        b->items = NULL;
    }
    return 0;
}

/* Reads refs[i] into item: { org_id, user_id, heat_pump_id } positional or named, or a heat
 * pump object (its org and user from where it came from, its id). Raises. */
static void fetch_read_ref(lua_State *L, int refs, int i, pd_fetch_item *it) {
    static const char *const names[] = {"org_id", "user_id", "heat_pump_id"};
    char *dst[3];
    char what[64];
    int k;
    dst[0] = it->org; dst[1] = it->user; dst[2] = it->hp;
    lua_rawgeti(L, refs, i);
    if (podero_doc_push_context_at(L, -1)) {
        /* a heat pump object: { org_id, user_id } of its context, and its id */
        int ctx = lua_gettop(L);
        for (k = 0; k < 3; k++) {
            if (k < 2)
                lua_getfield(L, ctx, names[k]);
            else
                lua_getfield(L, ctx - 1, "id");
            snprintf(what, sizeof what, "refs[%d].%s", i, k < 2 ? names[k] : "id");
            pd_check_uuid(L, lua_gettop(L), what, "fetch_heat_pumps", dst[k]);
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "podero: fetch_heat_pumps: refs[%d] must be a table { org_id, user_id, heat_pump_id } "
                      "or a heat pump object, got %s", i,
                   luaL_testudata(L, -1, PODERO_VIEW_MT) ? "a podero object that is not a heat pump of a client"
                                                         : luaL_typename(L, -1));
    for (k = 0; k < 3; k++) {
        if (lua_getfield(L, -1, names[k]) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_rawgeti(L, -1, k + 1);
        }
        snprintf(what, sizeof what, "refs[%d].%s", i, names[k]);
        pd_check_uuid(L, lua_gettop(L), what, "fetch_heat_pumps", dst[k]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* The progress callback (stack index 4) under lua_pcall, called by the transport between
 * libcurl calls. Returns non-zero when it raised (the error is left on the stack). */
static int call_progress(void *ud, int done, int n) {
    lua_State *L = (lua_State *)ud;
    lua_pushvalue(L, 4);
    lua_pushinteger(L, done);
    lua_pushinteger(L, n);
    return lua_pcall(L, 2, 0, 0) != LUA_OK;
}

/* Reads the options of a batch at index 3 (concurrency, progress, and include_deleted when
 * allowed), leaves the progress function (or nil) at index 4 and the batch userdata, made for
 * the n elements of the table at index 2, at index 5. Raises on misuse. */
static fetch_batch *batch_begin(lua_State *L, const char *fn, int allow_deleted, int *concurrency,
                                int *include_deleted, int *progress) {
    fetch_batch *b;
    int n;
    *concurrency = 16;
    *include_deleted = *progress = 0;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            if (strcmp(k, "concurrency") == 0) {
                int isint;
                lua_Integer v = lua_tointegerx(L, -1, &isint);
                if (!isint || v < 1 || v > 256)
                    luaL_error(L, "podero: %s: opts.concurrency must be an integer from 1 to 256", fn);
                *concurrency = (int)v;
            } else if (allow_deleted && strcmp(k, "include_deleted") == 0) {
                if (lua_type(L, -1) != LUA_TBOOLEAN)
                    luaL_error(L, "podero: %s: opts.include_deleted must be a boolean, got %s", fn,
                               luaL_typename(L, -1));
                *include_deleted = lua_toboolean(L, -1);
            } else if (strcmp(k, "progress") == 0) {
                if (lua_type(L, -1) != LUA_TFUNCTION)
                    luaL_error(L, "podero: %s: opts.progress must be a function, got %s", fn,
                               luaL_typename(L, -1));
                *progress = 1;
            } else {
                luaL_error(L, "podero: %s: unknown option '%s' in opts", fn, k);
            }
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 3);
    if (*progress)
        lua_getfield(L, 3, "progress");             /* 4 */
    else
        lua_pushnil(L);
    n = (int)luaL_len(L, 2);
    if (n < 0 || n > 1000000)
        luaL_error(L, "podero: %s: at most 1000000 elements", fn);
    b = (fetch_batch *)lua_newuserdatauv(L, sizeof *b, 0);   /* 5 */
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, FETCH_BATCH_MT)) {
        lua_pushcfunction(L, batch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    b->items = (pd_fetch_item *)calloc((size_t)(n ? n : 1), sizeof *b->items);
    if (!b->items)
        luaL_error(L, "not enough memory");
    b->n = n;
    return b;
}

/* Runs the batch and pushes results, errs, failed: a view (with its context when the item has
 * one), true for a 2xx of result "none", or the error. */
static int batch_finish(lua_State *L, podero_client *c, fetch_batch *b, int concurrency, int progress) {
    int i, n = b->n, failed;
    luaL_checkstack(L, 8, "podero: batch");
    c->in_fetch = 1;
    failed = pd_curl_fetch(c->t, &c->pc, b->items, n, concurrency, progress ? call_progress : NULL, L);
    c->in_fetch = 0;
    if (failed == -1)
        return lua_error(L);    /* the progress callback's error */
    if (failed < 0)
        return luaL_error(L, "not enough memory");
    lua_createtable(L, n, 0);   /* results */
    lua_createtable(L, n, 0);   /* errs */
    lua_newtable(L);            /* context tables by org/user, shared by the objects of one user */
    for (i = 0; i < n; i++) {
        pd_fetch_item *it = &b->items[i];
        if (it->ok && !it->has_doc) {
            lua_pushboolean(L, 1);
            lua_rawseti(L, -4, i + 1);
        } else if (it->ok) {
            podero_doc_push_parsed(L, &it->doc, podero_result_view_kind(it->result));
            it->has_doc = 0;
            if (it->org[0]) {
                lua_pushfstring(L, "%s/%s", it->org, it->user);
                if (lua_rawget(L, -3) != LUA_TTABLE) {
                    lua_pop(L, 1);
                    lua_createtable(L, 0, 3);
                    lua_pushvalue(L, 1);
                    lua_setfield(L, -2, "client");
                    lua_pushstring(L, it->org);
                    lua_setfield(L, -2, "org_id");
                    if (it->user[0]) {
                        lua_pushstring(L, it->user);
                        lua_setfield(L, -2, "user_id");
                    }
                    lua_pushfstring(L, "%s/%s", it->org, it->user);
                    lua_pushvalue(L, -2);
                    lua_rawset(L, -5);
                }
                podero_doc_set_context(L, -2);
            }
            lua_rawseti(L, -4, i + 1);
        } else {
            podero_push_error(L, &it->res);
            lua_rawseti(L, -3, i + 1);
        }
    }
    lua_pop(L, 1);
    lua_pushinteger(L, failed);
    return 3;
}

/*
 * client:fetch_heat_pumps(refs [, opts]) -> hps, errs, failed
 * opts: concurrency (1..256, default 16), include_deleted, progress = function(done, total).
 */
static int l_fetch_heat_pumps(lua_State *L) {
    podero_client *c = check_client(L);
    int i, concurrency, include_deleted, progress;
    fetch_batch *b = batch_begin(L, "fetch_heat_pumps", 1, &concurrency, &include_deleted, &progress);
    /* every id is checked before anything is sent */
    for (i = 0; i < b->n; i++) {
        pd_fetch_item *it = &b->items[i];
        fetch_read_ref(L, 2, i + 1, it);
        it->method = "GET";
        it->result = PD_RESULT_HEAT_PUMP;
        it->retry = PD_RETRY_IDEMPOTENT;
        snprintf(it->path, sizeof it->path, "/api/partners/v2.0/org/%s/users/%s/heat-pumps/%s%s",
                 it->org, it->user, it->hp, include_deleted ? "?include_deleted=true" : "");
    }
    return batch_finish(L, c, b, concurrency, progress);
}

/*
 * client:_batch(reqs [, opts]) -> results, errs, failed: many client:_request calls at once on
 * the multi interface, results aligned with reqs. reqs[i] = { method, path [, body [, result
 * [, expect_id]]], org_id =, user_id = } (the context of the answer, optional); the checks and
 * retry rules of _request. opts: concurrency, progress. The primitive of client:fleet and
 * client:update_heat_pumps (lua/podero/steering.lua).
 */
static int l_batch(lua_State *L) {
    podero_client *c = check_client(L);
    int i, concurrency, include_deleted, progress;
    size_t base_len = strlen(c->pc.cfg.base_url);
    fetch_batch *b = batch_begin(L, "_batch", 0, &concurrency, &include_deleted, &progress);
    for (i = 0; i < b->n; i++) {
        pd_fetch_item *it = &b->items[i];
        pd_raw_request rq;
        int k, top;
        char what[48];
        if (lua_rawgeti(L, 2, i + 1) != LUA_TTABLE)
            luaL_error(L, "podero: _batch: reqs[%d] must be a table, got %s", i + 1, luaL_typename(L, -1));
        top = lua_gettop(L);
        for (k = 1; k <= 5; k++)
            lua_rawgeti(L, top, k);
        pd_request_args(L, top + 1, base_len, &rq);
        if (strlen(rq.path) >= sizeof it->path)
            luaL_error(L, "podero: _batch: reqs[%d]: path is too long", i + 1);
        it->method = rq.method;
        snprintf(it->path, sizeof it->path, "%s", rq.path);
        it->body = rq.body;     /* a string of reqs[i]: alive while reqs is on the stack */
        it->body_len = rq.body_len;
        it->result = rq.result;
        it->retry = rq.retry;
        memcpy(it->hp, rq.expect_id, sizeof it->hp);
        lua_settop(L, top);
        if (lua_getfield(L, top, "org_id") != LUA_TNIL) {
            snprintf(what, sizeof what, "reqs[%d].org_id", i + 1);
            pd_check_uuid(L, -1, what, "_batch", it->org);
            if (lua_getfield(L, top, "user_id") != LUA_TNIL) {
                snprintf(what, sizeof what, "reqs[%d].user_id", i + 1);
                pd_check_uuid(L, -1, what, "_batch", it->user);
            }
        }
        lua_settop(L, top - 1);
    }
    return batch_finish(L, c, b, concurrency, progress);
}

/*
 * client:token([force]) -> access_token, renew_in: a valid bearer token of this client,
 * fetched or renewed exactly as the API calls do it, and the seconds until it is due for
 * renewal (nil for a static token). nil, err on failure. The string is a secret.
 */
static int l_token(lua_State *L) {
    podero_client *c = check_client(L);
    podero_result res;
    podero_result_init(&res);
    if (pd_curl_token(c->t, &c->pc, lua_toboolean(L, 2), &res) != 0)
        return podero_fail(L, &res);
    lua_pushstring(L, c->pc.sec.access_token);
    if (c->pc.cfg.grant == PD_GRANT_STATIC)
        lua_pushnil(L);
    else
        lua_pushnumber(L, c->pc.token_expires - podero_monotonic());
    return 2;
}

/* client:stats(): counters of requests made (for tests and monitoring; no secrets). */
static int l_stats(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, c->pc.token_requests);
    lua_setfield(L, -2, "token_requests");
    lua_pushinteger(L, c->pc.api_requests);
    lua_setfield(L, -2, "api_requests");
    lua_pushboolean(L, !c->closed && c->pc.have_token);
    lua_setfield(L, -2, "has_token");
    return 1;
}

/* core.new(opts): opts has been validated and completed by lua/podero/init.lua. */
static int l_new(lua_State *L) {
    podero_client *c;
    char err[128];
    luaL_checktype(L, 1, LUA_TTABLE);
    c = (podero_client *)lua_newuserdatauv(L, sizeof *c, 1);
    memset(c, 0, sizeof *c);
    c->closed = 1;              /* until complete: __gc frees whatever is there */
    luaL_setmetatable(L, PODERO_CLIENT_MT);
    if (lua_getfield(L, 1, "on_request") == LUA_TFUNCTION) {
#if LUA_VERSION_NUM >= 504
        lua_setiuservalue(L, -2, 1);
#else
        lua_createtable(L, 0, 1);
        lua_insert(L, -2);
        lua_setfield(L, -2, "on_request");
        lua_setfenv(L, -2);
#endif
        c->has_hook = 1;
    } else {
        lua_pop(L, 1);
    }
    pd_config_read(L, 1, &c->pc.cfg, &c->pc.sec);
    if (pd_client_init(&c->pc) != 0)
        return luaL_error(L, "not enough memory");
    c->t = pd_curl_new(&c->pc.cfg, err, sizeof err);
    if (!c->t)
        return luaL_error(L, "%s", err);
    pd_curl_set_hook(c->t, on_attempt, c);
    c->closed = 0;
    return 1;
}

void podero_client_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"close", l_close},
        {"stats", l_stats},
        {"token", l_token},
        {"_request", l_request},
        {"fetch_heat_pumps", l_fetch_heat_pumps},
        {"_batch", l_batch},
        {NULL, NULL}
    };
    int i;
    luaL_newmetatable(L, PODERO_CLIENT_MT);
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, methods);
    for (i = 0; pd_endpoints[i].name; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, l_endpoint, 1);
        lua_setfield(L, -2, pd_endpoints[i].name);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");     /* the Lua layer adds methods here */
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "podero.client");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
}
