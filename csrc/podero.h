/*
 * podero.h: the header of the files that call Lua (the binding). They never call libcurl: the
 * libcurl transports are reached through transport.h, which hides curl's types. See
 * csrc/README.md for the layers.
 */
#ifndef PODERO_H
#define PODERO_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 503
/* Debian's lua-compat53-dev; its functions are compiled static into each file that uses them */
#define COMPAT53_INCLUDE_SOURCE 1
#include "compat-5.3.h"
#endif
#if LUA_VERSION_NUM < 504
/* 5.1/LuaJIT: one environment table per userdata instead of user values (see doc.c) */
#define lua_newuserdatauv(L, sz, n) lua_newuserdata((L), (sz))
#endif

#include "core.h"

#define PODERO_CLIENT_MT "podero.client"
#define PODERO_ERROR_MT  "podero.error"
#define PODERO_VIEW_MT   "podero.object"

/* The view kinds (enum podero_kind, PODERO_KIND_*) and their field rules are in core.h
 * (schema.c), so that the per-kind knowledge is written once, without Lua. */

/* error.c: the Lua error type */
void podero_error_open(lua_State *L);
void podero_push_error(lua_State *L, const podero_result *res);
int podero_fail(lua_State *L, const podero_result *res);   /* pushes nil, err; returns 2 */

/* doc.c: lazy views */
void podero_doc_open(lua_State *L);     /* registers the view metatable; leaves nothing */
/* Parses body as the answer of result_kind (enum pd_result_kind, not NONE) and pushes its root
 * view: 1, or 0 with nothing pushed and res filled ("decode", "memory"). */
int podero_doc_push(lua_State *L, const char *body, size_t len, int result_kind, const char *want_id,
                    long status, podero_result *res);
void podero_doc_push_parsed(lua_State *L, pj_doc *doc, int kind);  /* takes the doc over */
/* Pushes an empty root view of result_kind and returns its document to fill (raises out of
 * memory before anything is taken); on a failed parse the caller pops the view. */
pj_doc *podero_doc_begin(lua_State *L, int result_kind);
int podero_doc_fields(lua_State *L);
int podero_doc_to_table(lua_State *L);
int podero_doc_to_json(lua_State *L);   /* core.to_json(v) */
int podero_doc_raw(lua_State *L);
int podero_doc_is_view(lua_State *L);
int podero_doc_is_heat_pump(lua_State *L);
void podero_doc_set_context(lua_State *L, int view_idx);  /* pops a table from the top */
/* The same context {client = value at client_idx, org_id = org, user_id = user (or none)}, kept
 * as its parts until it is asked for; org and user: canonical lowercase UUIDs. */
void podero_doc_bind(lua_State *L, int view_idx, int client_idx, const char *org, const char *user);
/* As podero_doc_push, but the body is taken over, not copied: take(ud, &len, &cap) returns a block
 * laid out for podero_parse_answer_block (or NULL: no body), called once the view exists. */
typedef char *(*podero_take_fn)(void *ud, size_t *len, size_t *cap);
int podero_doc_push_taken(lua_State *L, podero_take_fn take, void *ud, int result_kind,
                          const char *want_id, long status, podero_result *res);
/* a collector step for a document of that many bytes, which the Lua heap does not see */
void podero_doc_account(lua_State *L, size_t bytes);
int podero_doc_context(lua_State *L);
int podero_doc_push_context_at(lua_State *L, int idx);  /* a view's {client, org_id, user_id} */
int podero_doc_set_context_l(lua_State *L);
int podero_doc_kind(lua_State *L);      /* core.kind(v): "heat_pump", "electric_vehicle", ... or nil */

/* api.c: the endpoints, described once; the argument checks both clients run */
typedef struct pd_endpoint {
    const char *name;       /* the method name */
    const char *method;     /* HTTP method */
    const char *path;       /* template below base_url: {org_id}, {user_id}, {heat_pump_id} */
    int result;             /* enum pd_result_kind */
    int retry;              /* enum pd_retry */
} pd_endpoint;
extern const pd_endpoint pd_endpoints[];    /* ends with a NULL name */
/* Checks the arguments of endpoint ep at stack index first.. (ids, then opts) and writes the
 * path, the ids (ids[k][37], in template order) and how many there are. Raises naming the
 * argument. */
int pd_endpoint_args(lua_State *L, const pd_endpoint *ep, int first, char *path, size_t cap,
                     char ids[3][37]);
void pd_check_uuid(lua_State *L, int idx, const char *name, const char *fn, char *out);
int pd_check_uuid_l(lua_State *L);     /* core.check_uuid(v, name, fn) */
/* client:_request's arguments: method, path, body, result, expect_id at first.. */
typedef struct pd_raw_request {
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    int has_body, result, retry;
    char expect_id[37];
} pd_raw_request;
void pd_request_args(lua_State *L, int first, size_t base_len, pd_raw_request *rq);
/* Copies the options table at idx (complete, checked by lua/podero/init.lua) into cfg and
 * sec; raises only out of memory. */
void pd_config_read(lua_State *L, int idx, pd_config *cfg, podero_secrets *sec);
/* Sets the context {client = value at client_idx, org_id, user_id} of the view on top. */
void pd_bind_context(lua_State *L, int client_idx, const char *org, const char *user);
int pd_endpoints_push(lua_State *L);
/* Sets core.heat_pump_fields, core.electric_vehicle_fields, core.inverter_fields (schema.c's
 * tables) in the table on top. */
void pd_schema_set(lua_State *L);
/* The on_request table of one attempt: { method, path, endpoint, status, attempt, elapsed,
 * request_id, kind } (no secret: the path has no query, headers are not in it). */
void pd_push_attempt(lua_State *L, const pd_attempt *a, double elapsed);    /* core.endpoints: { {name=, method=, result=}, ... } */

/* client.c: the libcurl-backed client; cosock.c: the sans-I/O client that nginx drives */
void podero_client_open(lua_State *L);  /* pushes the client constructor */
void podero_cosock_open(lua_State *L);  /* pushes core.policy (the nginx client's core) */

#endif
