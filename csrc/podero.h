/*
 * podero.h: the internal header shared by the C files of podero.core.
 *
 * One file per concern:
 *   module.c  registration of podero.core, the error type, curl_global_init
 *   client.c  the client userdata: options, transfers, retries, the token
 *   doc.c     lazy Lua views over a parsed JSON document
 *   json.c    the strict JSON parser (json.h)
 *
 * The rule that keeps libcurl and Lua apart: no Lua API call that can raise is ever made
 * while a libcurl call is on the C stack. Transfers fill plain C structs (podero_result,
 * the client's body buffer); Lua values are pushed only after curl_easy_perform returned.
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

#include "json.h"

#define PODERO_VERSION "0.1.0"

#define PODERO_CLIENT_MT "podero.client"
#define PODERO_ERROR_MT  "podero.error"
#define PODERO_VIEW_MT   "podero.object"

/* What a parsed document's root is, so that views know which field rules apply. */
enum podero_kind {
    PODERO_KIND_PLAIN = 0,      /* any JSON object/array: values read as they are */
    PODERO_KIND_HEAT_PUMP = 1,  /* a HeatPumpDetailOutput: decimal strings read as numbers */
    PODERO_KIND_HEAT_PUMP_LIST = 2  /* an array of heat pumps */
};

/* The outcome of a request, filled without touching Lua. */
typedef struct podero_result {
    const char *kind;       /* NULL on success, else one of podero_error_kinds */
    long status;            /* HTTP status of the last answer, 0 when none */
    double retry_after;     /* seconds from Retry-After, < 0 when absent */
    int attempts;           /* requests made to the endpoint that failed or answered */
    char message[512];      /* one line, secrets removed */
} podero_result;

/* module.c */
extern const char *const podero_error_kinds[];  /* the closed list of err.kind, NULL-terminated */
void podero_push_error(lua_State *L, const podero_result *res);
int podero_fail(lua_State *L, const podero_result *res);   /* pushes nil, err; returns 2 */

/* doc.c */
void podero_doc_open(lua_State *L);     /* registers the view metatable; leaves nothing */
/*
 * Parses body[0..len) and pushes the root view of the given kind. Returns 1 with the view
 * pushed, or 0 with nothing pushed and res filled as a "decode" error (the root must be an
 * object for PODERO_KIND_HEAT_PUMP/PLAIN objects, an array for ..._LIST).
 */
int podero_doc_push(lua_State *L, const char *body, size_t len, int kind, int want_array,
                    const char *want_id, podero_result *res);
/*
 * The rule of a heat pump detail answer (HeatPumpDetailOutput): the root is an object, its id is
 * absent, null or want_id (case-insensitively; want_id NULL: not checked), and it has every
 * field the contract marks required. Returns 0, or -1 with res filled as a "decode" error
 * naming the id received or the field missing. Touches no Lua.
 */
int podero_heat_pump_check(const pj_doc *doc, const char *want_id, long status, podero_result *res);
void podero_doc_push_parsed(lua_State *L, pj_doc *doc, int kind);  /* takes the doc over */
int podero_doc_fields(lua_State *L);
int podero_doc_to_table(lua_State *L);
int podero_doc_raw(lua_State *L);
int podero_doc_is_view(lua_State *L);
int podero_doc_is_heat_pump(lua_State *L);
void podero_doc_set_context(lua_State *L, int view_idx);  /* pops a table from the top */
int podero_doc_context(lua_State *L);
int podero_doc_push_context_at(lua_State *L, int idx);  /* a view's {client, org_id, user_id} */
int podero_doc_set_context_l(lua_State *L);

/* schema.c: the fields of a heat pump, as the contract describes them */
enum podero_wtype { PODERO_W_NONE = 0, PODERO_W_BOOLEAN, PODERO_W_NUMBER, PODERO_W_INTEGER,
                    PODERO_W_STRING, PODERO_W_TIME, PODERO_W_ENUM };
typedef struct podero_field {
    const char *name;
    unsigned char decimal;      /* number | string | null: a numeric string reads as a number */
    unsigned char wtype;        /* enum podero_wtype: how a partial update may set it */
    unsigned char nullable;     /* an update may set it to null */
    unsigned short max_length;  /* strings: characters */
    const char *values;         /* enums: the values, space-separated */
    const char *hint;           /* enums: how a message names the values */
} podero_field;
extern const podero_field podero_heat_pump_fields[];   /* ends with a NULL name */
int podero_is_decimal_field(const char *k, size_t klen);
void podero_schema_push(lua_State *L);  /* pushes core.heat_pump_fields */

/* client.c */
void podero_client_open(lua_State *L);  /* pushes the client constructor */

/* shared helpers (module.c) */
double podero_monotonic(void);
void podero_wipe(void *p, size_t n);
void podero_strfree(char **s);          /* wipes and frees a heap string, sets it to NULL */

#endif
