/*
 * doc.c: lazy, read-only Lua views over a parsed JSON document.
 *
 * A view is a small userdata {doc, node, kind}. The document (json.h) is shared by all views
 * made from it and reference counted in C, so a nested object read out of a heat pump keeps
 * the body alive after the heat pump itself is gone. A value becomes a Lua value only when
 * it is read. A nested object or array read is cached in the view's user value (a table created
 * on first need), so hp.owner is the same object each time; a string, number or boolean is made
 * anew on each read, which costs less than a cache for the usual single read.
 *
 * Why userdata and not a table with __index: a userdata is truly read-only (no rawset can
 * change it), and __len/__pairs/__index/__newindex all apply to it on 5.4.
 *
 * Field rules (documented in the README, "Field rules"):
 *   - null reads as nil; integers as integers; other numbers as strtod's double;
 *   - in a heat pump object, a string in one of the number|string fields of the spec that
 *     is a JSON number literal reads as tonumber(string);
 *   - keys are looked up as sent; when a key is repeated the last one wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "podero.h"

typedef struct podero_shared_doc {
    pj_doc doc;
    long refs;
    int ctx_ref;        /* registry ref to the context table {client, org_id, user_id}, or LUA_NOREF */
} podero_shared_doc;

typedef struct podero_view {
    podero_shared_doc *sd;
    uint32_t node;
    uint8_t kind;       /* enum podero_kind */
} podero_view;

static void shared_release(lua_State *L, podero_shared_doc *sd) {
    if (sd && --sd->refs == 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, sd->ctx_ref);
        pj_free(&sd->doc);
        free(sd);
    }
}

static podero_view *check_view(lua_State *L, int idx) {
    return (podero_view *)luaL_checkudata(L, idx, PODERO_VIEW_MT);
}

/*
 * The cache of a view: its user value on 5.4. On 5.1/LuaJIT a userdata has an environment
 * table instead, which starts as the creating function's (the globals): a view is given a
 * shared empty marker table at birth, which means "no cache yet".
 */
#if LUA_VERSION_NUM >= 504
static int get_cache(lua_State *L, int idx) { return lua_getiuservalue(L, idx, 1); }
static void set_cache(lua_State *L, int idx) { lua_setiuservalue(L, idx, 1); }
static void init_cache(lua_State *L) { (void)L; }
#else
static const char no_cache_key = 0;
static void push_no_cache(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&no_cache_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}
static int get_cache(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_getfenv(L, idx);
    push_no_cache(L);
    if (lua_rawequal(L, -1, -2)) {
        lua_pop(L, 2);
        lua_pushnil(L);
        return LUA_TNIL;
    }
    lua_pop(L, 1);
    return lua_type(L, -1);
}
static void set_cache(lua_State *L, int idx) { lua_setfenv(L, idx); }
static void init_cache(lua_State *L) {   /* the new view is on top */
    push_no_cache(L);
    lua_setfenv(L, -2);
}
#endif

/* Pushes a new, empty view (sd not yet set). */
static podero_view *new_view(lua_State *L, uint32_t node, int kind) {
    podero_view *v = (podero_view *)lua_newuserdatauv(L, sizeof *v, 1);
    v->sd = NULL;
    v->node = node;
    v->kind = (uint8_t)kind;
    luaL_setmetatable(L, PODERO_VIEW_MT);
    init_cache(L);
    return v;
}

/* Pushes a new view of node in sd (sd gains a reference). */
static void push_view(lua_State *L, podero_shared_doc *sd, uint32_t node, int kind) {
    podero_view *v = new_view(L, node, kind);
    v->sd = sd;
    sd->refs++;
}

static void push_numlit(lua_State *L, const char *s, size_t len) {
    char buf[128];
    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = 0;
        if (lua_stringtonumber(L, buf))
            return;
    } else {
        lua_pushlstring(L, s, len);
        if (lua_stringtonumber(L, lua_tostring(L, -1))) {
            lua_remove(L, -2);
            return;
        }
        lua_pop(L, 1);
    }
    lua_pushlstring(L, s, len);  /* unreachable for a valid literal; keep the string */
}

/*
 * Pushes the Lua value of node n. decimal: the node is a heat pump's number|string field.
 * child_kind: kind for a nested view. Returns 1 when the value is worth caching.
 */
static int push_value(lua_State *L, podero_shared_doc *sd, uint32_t n, int decimal, int child_kind) {
    const pj_node *nd = &sd->doc.nodes[n];
    switch (nd->type) {
    case PJ_NULL: lua_pushnil(L); return 0;
    case PJ_FALSE: lua_pushboolean(L, 0); return 0;
    case PJ_TRUE: lua_pushboolean(L, 1); return 0;
    case PJ_INT: lua_pushinteger(L, (lua_Integer)nd->u.i); return 0;
    case PJ_DBL: lua_pushnumber(L, (lua_Number)nd->u.d); return 0;
    case PJ_STR: {
        size_t len;
        const char *s = pj_str(&sd->doc, nd, &len);
        if (decimal && (nd->flags & PJ_F_NUMLIT))
            push_numlit(L, s, len);
        else
            lua_pushlstring(L, s, len);
        /* a string is made again on each read (cheaper than a cache table for one read); only
         * nested objects and arrays are cached, so that hp.owner is the same object each time */
        return 0;
    }
    default:
        push_view(L, sd, n, child_kind);
        return 1;
    }
}

/* Pushes the cached value of the key at kidx in the view at vidx and returns 1, or pushes
 * nothing and returns 0. Indices are absolute. */
static int cache_get(lua_State *L, int vidx, int kidx) {
    if (get_cache(L, vidx) == LUA_TTABLE) {
        lua_pushvalue(L, kidx);
        if (lua_rawget(L, -2) != LUA_TNIL) {
            lua_remove(L, -2);
            return 1;
        }
        lua_pop(L, 2);
        return 0;
    }
    lua_pop(L, 1);
    return 0;
}

/* Stores the value on top of the stack as the cached value of the key at kidx in the view at
 * vidx (the cache table is made on the first store); the value stays on the stack. */
static void cache_put(lua_State *L, int vidx, int kidx) {
    if (get_cache(L, vidx) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
        lua_pushvalue(L, -1);
        set_cache(L, vidx);
    }
    lua_pushvalue(L, kidx);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Looks key up in view v (at stack index 1) and pushes its value, using the cache. */
static int view_index(lua_State *L) {
    podero_view *v = (podero_view *)lua_touserdata(L, 1);
    const pj_doc *doc;
    const pj_node *nd;
    uint32_t vn;
    int decimal = 0, child_kind = PODERO_KIND_PLAIN;

    /* the cache first: a value read before */
    if (cache_get(L, 1, 2))
        return 1;
    doc = &v->sd->doc;
    nd = &doc->nodes[v->node];

    /* methods come before fields, so scripts stay stable when the server adds a field of the
     * same name (podero.fields() still shows such a field): a heat pump's (upvalue 1), an
     * electric vehicle's (upvalue 3), and raw/to_table/fields on every object and array
     * (upvalue 2) */
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(v->kind == PODERO_KIND_HEAT_PUMP ? 1
                                           : v->kind == PODERO_KIND_ELECTRIC_VEHICLE ? 3 : 2)) != LUA_TNIL)
            return 1;
        lua_pop(L, 1);
    }
    if (nd->type == PJ_OBJ) {
        size_t klen;
        const char *k;
        if (lua_type(L, 2) != LUA_TSTRING)
            return 0;
        k = lua_tolstring(L, 2, &klen);
        vn = pj_obj_get(doc, v->node, k, klen);
        if (vn == PJ_NONE)
            return 0;
        decimal = podero_kind_decimal(v->kind, k, klen);
    } else {
        lua_Integer i;
        int isnum = 0;
        i = lua_tointegerx(L, 2, &isnum);
        if (!isnum || i < 1 || (lua_Unsigned)i > nd->count)
            return 0;
        vn = pj_arr_get(doc, v->node, (uint32_t)(i - 1));
        child_kind = podero_kind_element(v->kind);
    }
    if (push_value(L, v->sd, vn, decimal, child_kind))
        cache_put(L, 1, 2);
    return 1;
}

static int view_newindex(lua_State *L) {
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (lua_type(L, 2) == LUA_TNUMBER && isint) {
        char num[32];   /* %I is not in Lua 5.1's lua_pushfstring */
        snprintf(num, sizeof num, "%lld", (long long)i);
        return luaL_error(L, "podero: objects are read-only (cannot assign index %s); "
                             "use podero.to_table() for a mutable copy", num);
    }
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "podero: objects are read-only (cannot assign field '%s'); "
                             "use podero.to_table() for a mutable copy", lua_tostring(L, 2));
    return luaL_error(L, "podero: objects are read-only (cannot assign a %s key); "
                         "use podero.to_table() for a mutable copy", luaL_typename(L, 2));
}

static int view_len(lua_State *L) {
    podero_view *v = (podero_view *)lua_touserdata(L, 1);
    const pj_node *nd = &v->sd->doc.nodes[v->node];
    lua_pushinteger(L, nd->type == PJ_ARR ? (lua_Integer)nd->count : 0);
    return 1;
}

static int view_gc(lua_State *L) {
    podero_view *v = (podero_view *)lua_touserdata(L, 1);
    shared_release(L, v->sd);
    v->sd = NULL;
    return 0;
}

static int view_tostring(lua_State *L) {
    podero_view *v = (podero_view *)lua_touserdata(L, 1);
    const pj_node *nd = &v->sd->doc.nodes[v->node];
    if (nd->type == PJ_ARR)
        lua_pushfstring(L, "podero.array (%d items): %p", (int)nd->count, (void *)v);
    else if (v->kind != PODERO_KIND_PLAIN)
        lua_pushfstring(L, "podero.%s: %p", podero_kind_name(v->kind), (void *)v);
    else
        lua_pushfstring(L, "podero.object (%d fields): %p", (int)nd->count, (void *)v);
    return 1;
}

/*
 * Iterator closure: upvalue 1 = view, upvalue 2 = next position (0-based), upvalue 3 = for
 * objects, a table name -> 1-based position of its last occurrence (false once given). So a
 * repeated name comes once, at its first place, with the value of its last occurrence (the
 * one indexing reads), and the whole iteration stays linear however many keys there are.
 */
static int fields_iter(lua_State *L) {
    podero_view *v = (podero_view *)lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(2));
    const pj_doc *doc = &v->sd->doc;
    const pj_node *nd = &doc->nodes[v->node];
    uint32_t vn_given = PJ_NONE;
    for (;;) {
        uint32_t kn, vn;
        size_t klen;
        const char *k;
        lua_Integer last;
        if (pos < 0 || (lua_Unsigned)pos >= nd->count)
            return 0;
        pos++;
        lua_pushinteger(L, pos);
        lua_replace(L, lua_upvalueindex(2));
        if (nd->type == PJ_ARR) {
            lua_pushinteger(L, pos);
            break;
        }
        kn = doc->kids[nd->u.c.kids + pos - 1];
        k = pj_str(doc, &doc->nodes[kn], &klen);
        lua_pushlstring(L, k, klen);
        if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNUMBER) {
            lua_pop(L, 1);              /* false: given at an earlier place */
            continue;
        }
        last = lua_tointeger(L, -1);
        lua_pop(L, 1);
        vn = kn + 1;
        if (last != pos) {
            /* repeated later: give it here, with the last value, and never again */
            vn = doc->kids[nd->u.c.kids + last - 1] + 1;
            lua_pushlstring(L, k, klen);
            lua_pushboolean(L, 0);
            lua_rawset(L, lua_upvalueindex(3));
        }
        vn_given = vn;
        lua_pushlstring(L, k, klen);
        if (v->kind != PODERO_KIND_PLAIN) {
            /* not through the cache: a field named like a method must give the field here,
             * and must not shadow the method for later reads */
            push_value(L, v->sd, vn, podero_kind_decimal(v->kind, k, klen), PODERO_KIND_PLAIN);
            return 2;
        }
        break;
    }
    /* the key is on top: read the value as indexing would (same rules, same cache), but from
     * the node at hand: a lookup by name per field would make this quadratic */
    {
        int kidx = lua_gettop(L), vidx;
        lua_pushvalue(L, lua_upvalueindex(1));
        vidx = lua_gettop(L);
        if (!cache_get(L, vidx, kidx)) {
            int child_kind = nd->type == PJ_ARR ? podero_kind_element(v->kind) : PODERO_KIND_PLAIN;
            uint32_t vn = nd->type == PJ_ARR ? pj_arr_get(doc, v->node, (uint32_t)(pos - 1))
                                             : vn_given;
            if (push_value(L, v->sd, vn, 0, child_kind))
                cache_put(L, vidx, kidx);
        }
        lua_remove(L, vidx);
    }
    return 2;
}

/* podero.fields(obj): for name, value in podero.fields(obj) ... (arrays: index, value) */
int podero_doc_fields(lua_State *L) {
    podero_view *v = check_view(L, 1);
    const pj_doc *doc = &v->sd->doc;
    const pj_node *nd = &doc->nodes[v->node];
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    if (nd->type == PJ_OBJ) {
        uint32_t i;
        lua_createtable(L, 0, (int)nd->count);
        for (i = 0; i < nd->count; i++) {
            size_t klen;
            const char *k = pj_str(doc, &doc->nodes[doc->kids[nd->u.c.kids + i]], &klen);
            lua_pushlstring(L, k, klen);
            lua_pushinteger(L, (lua_Integer)i + 1);
            lua_rawset(L, -3);      /* a later occurrence overwrites: the last position */
        }
    } else {
        lua_pushnil(L);
    }
    lua_pushcclosure(L, fields_iter, 3);
    return 1;
}

static int view_pairs(lua_State *L) {
    podero_doc_fields(L);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Pushes node n as plain Lua tables (to_table). kind: the view kind of node n, so that a heat
 * pump's Decimal fields (and those of each heat pump of a list) read as the lazy reader reads
 * them; nested values are plain. */
static void push_plain(lua_State *L, const pj_doc *doc, uint32_t n, int kind) {
    const pj_node *nd = &doc->nodes[n];
    uint32_t i;
    switch (nd->type) {
    case PJ_NULL: lua_pushlightuserdata(L, NULL); break;  /* cjson.null */
    case PJ_FALSE: lua_pushboolean(L, 0); break;
    case PJ_TRUE: lua_pushboolean(L, 1); break;
    case PJ_INT: lua_pushinteger(L, (lua_Integer)nd->u.i); break;
    case PJ_DBL: lua_pushnumber(L, (lua_Number)nd->u.d); break;
    case PJ_STR: {
        size_t len;
        const char *s = pj_str(doc, nd, &len);
        lua_pushlstring(L, s, len);
        break;
    }
    case PJ_ARR:
        luaL_checkstack(L, 4, "podero: document nested too deeply");
        lua_createtable(L, (int)nd->count, 0);
        for (i = 0; i < nd->count; i++) {
            push_plain(L, doc, doc->kids[nd->u.c.kids + i], podero_kind_element(kind));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    default: /* PJ_OBJ: later duplicates overwrite earlier ones, as in a lookup */
        luaL_checkstack(L, 4, "podero: document nested too deeply");
        lua_createtable(L, 0, (int)nd->count);
        for (i = 0; i < nd->count; i++) {
            uint32_t kn = doc->kids[nd->u.c.kids + i];
            size_t klen;
            const char *k = pj_str(doc, &doc->nodes[kn], &klen);
            lua_pushlstring(L, k, klen);
            if (doc->nodes[kn + 1].type == PJ_STR &&
                (doc->nodes[kn + 1].flags & PJ_F_NUMLIT) && podero_kind_decimal(kind, k, klen)) {
                size_t vlen;
                const char *v = pj_str(doc, &doc->nodes[kn + 1], &vlen);
                push_numlit(L, v, vlen);
            } else {
                push_plain(L, doc, kn + 1, PODERO_KIND_PLAIN);
            }
            lua_rawset(L, -3);
        }
        break;
    }
}

/* Appends node n as JSON to b: the document's values re-written (strings escaped as JSON
 * requires, numbers as their shortest round-trip text, integers as integers, the Decimal rule of
 * a heat pump as in to_table). Returns 0, or -1 out of memory. */
static int write_json(buffer *b, const pj_doc *doc, uint32_t n, int kind, int depth) {
    const pj_node *nd = &doc->nodes[n];
    char num[40];
    uint32_t i;
    switch (nd->type) {
    case PJ_NULL: return buf_adds(b, "null");
    case PJ_FALSE: return buf_adds(b, "false");
    case PJ_TRUE: return buf_adds(b, "true");
    case PJ_INT:
        snprintf(num, sizeof num, "%lld", (long long)nd->u.i);
        return buf_adds(b, num);
    case PJ_DBL:
        if (pj_format_double(nd->u.d, num) < 0)
            return buf_adds(b, "null");     /* 1e400 parsed to infinity: JSON has no such number */
        return buf_adds(b, num);
    case PJ_STR: {
        size_t len;
        const char *s = pj_str(doc, nd, &len);
        return buf_add_json_stringn(b, s, len);
    }
    case PJ_ARR:
        if (depth > PJ_MAX_DEPTH || buf_add(b, "[", 1)) return -1;
        for (i = 0; i < nd->count; i++) {
            if ((i && buf_add(b, ",", 1)) ||
                write_json(b, doc, doc->kids[nd->u.c.kids + i], podero_kind_element(kind), depth + 1))
                return -1;
        }
        return buf_add(b, "]", 1);
    default:
        if (depth > PJ_MAX_DEPTH || buf_add(b, "{", 1)) return -1;
        for (i = 0; i < nd->count; i++) {
            uint32_t kn = doc->kids[nd->u.c.kids + i];
            size_t klen;
            const char *k = pj_str(doc, &doc->nodes[kn], &klen);
            if ((i && buf_add(b, ",", 1)) || buf_add_json_stringn(b, k, klen) || buf_add(b, ":", 1))
                return -1;
            if (doc->nodes[kn + 1].type == PJ_STR &&
                (doc->nodes[kn + 1].flags & PJ_F_NUMLIT) && podero_kind_decimal(kind, k, klen)) {
                size_t vlen;
                const char *v = pj_str(doc, &doc->nodes[kn + 1], &vlen);
                char tmp[128];
                double d;
                if (vlen >= sizeof tmp) return -1;
                memcpy(tmp, v, vlen);
                tmp[vlen] = 0;
                /* the literal read as to_table reads it: an integer as an integer, else the
                 * double's shortest text */
                if (!strpbrk(tmp, ".eE") && vlen < 19) {
                    snprintf(num, sizeof num, "%lld", strtoll(tmp, NULL, 10));
                    if (buf_adds(b, num)) return -1;
                } else if (pj_strtod_c(tmp, &d) != 0 || pj_format_double(d, num) < 0 || buf_adds(b, num)) {
                    return -1;
                }
            } else if (write_json(b, doc, kn + 1, PODERO_KIND_PLAIN, depth + 1)) {
                return -1;
            }
        }
        return buf_add(b, "}", 1);
    }
}

/* core.to_json(v) / v:to_json(): the value as JSON text (see write_json) */
int podero_doc_to_json(lua_State *L) {
    podero_view *v = check_view(L, 1);
    buffer b = {0};
    if (write_json(&b, &v->sd->doc, v->node, v->kind, 0) != 0) {
        buf_wipe_free(&b);
        return luaL_error(L, "not enough memory");
    }
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    free(b.p);
    return 1;
}

int podero_doc_to_table(lua_State *L) {
    podero_view *v = check_view(L, 1);
    push_plain(L, &v->sd->doc, v->node, v->kind);
    return 1;
}

/* v:raw(): the bytes of this value as received: the whole body for an answer, and for an
 * element or a nested value exactly its own bytes (never its neighbours'). */
int podero_doc_raw(lua_State *L) {
    podero_view *v = check_view(L, 1);
    size_t start, len;
    pj_span(&v->sd->doc, v->node, &start, &len);
    lua_pushlstring(L, v->sd->doc.text + start, len);
    return 1;
}

/*
 * The context of a document: a table that says where it came from ({client = ...,
 * org_id = ..., user_id = ...}), shared by every object read out of it, so that a heat pump
 * found inside a list can still be updated or refreshed.
 */
void podero_doc_set_context(lua_State *L, int view_idx) {
    podero_view *v = check_view(L, view_idx);
    luaL_checktype(L, -1, LUA_TTABLE);
    luaL_unref(L, LUA_REGISTRYINDEX, v->sd->ctx_ref);
    v->sd->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* pops the table */
}

/* Pushes the context table of the value at idx and returns 1 when it is a heat pump object
 * with the context of a user ({client, org_id, user_id}); else pushes nothing and returns 0. */
int podero_doc_push_context_at(lua_State *L, int idx) {
    podero_view *v = (podero_view *)luaL_testudata(L, idx, PODERO_VIEW_MT);
    if (!v || v->kind != PODERO_KIND_HEAT_PUMP || v->sd->ctx_ref == LUA_NOREF || v->sd->ctx_ref == LUA_REFNIL)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->sd->ctx_ref);
    if (lua_getfield(L, -1, "user_id") != LUA_TSTRING) {
        lua_pop(L, 2);
        return 0;
    }
    lua_pop(L, 1);
    return 1;
}

/* core.context(obj) -> the context table, or nil */
int podero_doc_context(lua_State *L) {
    podero_view *v = check_view(L, 1);
    if (v->sd->ctx_ref == LUA_NOREF || v->sd->ctx_ref == LUA_REFNIL)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->sd->ctx_ref);
    return 1;
}

/* core.set_context(obj, tbl) */
int podero_doc_set_context_l(lua_State *L) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    podero_doc_set_context(L, 1);
    return 0;
}

int podero_doc_is_view(lua_State *L) {
    lua_pushboolean(L, luaL_testudata(L, 1, PODERO_VIEW_MT) != NULL);
    return 1;
}

/* core.is_heat_pump(v): a heat pump object (an answer about a heat pump, or an element of a list
 * of them), not any other object or nested value */
int podero_doc_is_heat_pump(lua_State *L) {
    podero_view *v = (podero_view *)luaL_testudata(L, 1, PODERO_VIEW_MT);
    lua_pushboolean(L, v && v->kind == PODERO_KIND_HEAT_PUMP);
    return 1;
}

/* core.kind(v): the kind of a podero object: "heat_pump", "electric_vehicle", "inverter", "object"
 * (any other object or nested value) or "list" (an array); nil for anything else */
int podero_doc_kind(lua_State *L) {
    podero_view *v = (podero_view *)luaL_testudata(L, 1, PODERO_VIEW_MT);
    if (!v)
        return 0;
    lua_pushstring(L, v->kind == PODERO_KIND_PLAIN && v->sd->doc.nodes[v->node].type == PJ_ARR
                          ? "list" : podero_kind_name(v->kind));
    return 1;
}

pj_doc *podero_doc_begin(lua_State *L, int result_kind) {
    podero_shared_doc *sd;
    podero_view *v;
    /* the view exists (and owns sd through __gc) before anything is parsed: a raise leaks nothing */
    v = new_view(L, 0, podero_result_view_kind(result_kind));
    sd = (podero_shared_doc *)calloc(1, sizeof *sd);
    if (!sd)
        luaL_error(L, "not enough memory");
    sd->refs = 1;
    sd->ctx_ref = LUA_NOREF;
    v->sd = sd;
    return &sd->doc;
}

int podero_doc_push(lua_State *L, const char *body, size_t len, int result_kind, const char *want_id,
                    long status, podero_result *res) {
    pj_doc *doc = podero_doc_begin(L, result_kind);
    if (podero_parse_answer(doc, body, len, result_kind, want_id, status, res) != 0) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Pushes the root view of an already parsed document, taking it over (*doc is zeroed). */
void podero_doc_push_parsed(lua_State *L, pj_doc *doc, int kind) {
    podero_shared_doc *sd;
    podero_view *v = new_view(L, 0, kind);
    sd = (podero_shared_doc *)calloc(1, sizeof *sd);
    if (!sd)
        luaL_error(L, "not enough memory");
    sd->refs = 1;
    sd->ctx_ref = LUA_NOREF;
    sd->doc = *doc;
    memset(doc, 0, sizeof *doc);
    v->sd = sd;
}

void podero_doc_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__newindex", view_newindex},
        {"__len", view_len},
        {"__gc", view_gc},
        {"__tostring", view_tostring},
        {"__pairs", view_pairs},
        {NULL, NULL}
    };
#if LUA_VERSION_NUM < 504
    lua_pushlightuserdata(L, (void *)&no_cache_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
#endif
    luaL_newmetatable(L, PODERO_VIEW_MT);
    luaL_setfuncs(L, meta, 0);
    /* __index has the heat pump methods as upvalue 1, the methods of every object and array
     * as upvalue 2 and the electric vehicle methods as upvalue 3; module.c hands them to
     * lua/podero, which fills them */
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "object_methods");
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -5, "electric_vehicle_methods");
    lua_pushcclosure(L, view_index, 3);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "podero.object");
    lua_setfield(L, -2, "__metatable");   /* getmetatable() hides the real one */
    lua_pop(L, 1);
}
