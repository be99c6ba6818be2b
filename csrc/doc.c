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
    /* A context given by its parts (podero_doc_bind), made into the table only when asked for
     * (most answers are read and dropped): a registry ref to the client, or LUA_NOREF, and the
     * ids as 16 bytes each (n_ids: 1 the org's, 2 the org's and the user's). */
    int client_ref;
    uint8_t n_ids;
    uint8_t ids[2][16];
} podero_shared_doc;

/*
 * A view of an array or object: the document, the value, and the value's index (one uint32 per
 * element or member, see pj_index): the root's lives in the document; a nested container's is
 * built when its view is made and lives at the end of the view's own userdata, so a view is
 * one allocation and an index exists only for what was read.
 */
typedef struct podero_view {
    podero_shared_doc *sd;
    const uint32_t *idx;
    pj_val v;
    uint32_t n;
    uint8_t kind;       /* enum podero_kind */
    uint8_t is_obj;
    uint8_t pending;    /* a root view whose document is still being parsed (see view_ready) */
    uint8_t cached;     /* the cache (user value) has been made: nothing to look up before */
    uint32_t inl[];     /* a nested view's index */
} podero_view;

/* 1 when sd sits in the header of its document's block (see shared_new) */
static int shared_in_block(const podero_shared_doc *sd) { return sd->doc.hdr >= sizeof *sd; }

static void shared_release(lua_State *L, podero_shared_doc *sd) {
    if (sd && --sd->refs == 0) {
        pj_doc doc = sd->doc;   /* sd may live in the block that pj_free frees */
        luaL_unref(L, LUA_REGISTRYINDEX, sd->ctx_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, sd->client_ref);
        if (!shared_in_block(sd))
            free(sd);
        pj_free(&doc);
    }
}

/* The shared document of a parsed doc, taking it over (*doc is zeroed): in the header of its
 * block when it has one (pj_parse_hdr: the document and its bookkeeping are one allocation),
 * else on its own. NULL when that allocation fails (*doc untouched). */
static podero_shared_doc *shared_new(pj_doc *doc) {
    podero_shared_doc *sd = doc->hdr >= sizeof *sd ? (podero_shared_doc *)(void *)(doc->text - doc->hdr)
                                                  : (podero_shared_doc *)malloc(sizeof *sd);
    if (!sd)
        return NULL;
    sd->doc = *doc;
    sd->refs = 1;
    sd->ctx_ref = LUA_NOREF;
    sd->client_ref = LUA_NOREF;
    sd->n_ids = 0;
    memset(doc, 0, sizeof *doc);
    return sd;
}

typedef char podero_shared_doc_fits_the_header[sizeof(podero_shared_doc) <= PD_DOC_HEADER ? 1 : -1];

/* A root view is made before its document is parsed (so that it owns the document from the
 * start); its value and index are taken from the document on first use. */
static inline podero_view *view_ready(podero_view *v) {
    if (v->pending) {
        v->v = v->sd->doc.root;
        v->idx = v->sd->doc.root_idx;
        v->n = v->sd->doc.n_root;
        v->is_obj = v->sd->doc.text[v->v] == '{';
        v->pending = 0;
    }
    return v;
}

static podero_view *check_view(lua_State *L, int idx) {
    return view_ready((podero_view *)luaL_checkudata(L, idx, PODERO_VIEW_MT));
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

/* The views' metatable, also kept under this address in the registry: a lookup by a light
 * userdata is cheaper than luaL_setmetatable's by name, and every answer makes a view or two. */
static const char view_mt_key = 0;

/* Pushes a new view with room for an index of n entries (sd not yet set). */
static podero_view *new_view(lua_State *L, uint32_t n, int kind) {
    podero_view *v = (podero_view *)lua_newuserdatauv(L, sizeof *v + (size_t)n * sizeof v->inl[0], 1);
    v->sd = NULL;
    v->idx = v->inl;
    v->v = 0;
    v->n = n;
    v->kind = (uint8_t)kind;
    v->is_obj = 0;
    v->pending = 0;
    v->cached = 0;
    lua_pushlightuserdata(L, (void *)&view_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    init_cache(L);
    return v;
}

/* Pushes a new view of the container at val in sd (sd gains a reference), with its index
 * (one pass over the container when it has at most 64 entries, the usual case). */
static void push_view(lua_State *L, podero_shared_doc *sd, pj_val val, int kind) {
    const pj_doc *doc = &sd->doc;
    uint32_t local[64], n = pj_index_some(doc, val, local, 64);
    podero_view *v = new_view(L, n, kind);
    if (n <= 64)
        memcpy(v->inl, local, (size_t)n * sizeof *local);
    else
        pj_index(doc, val, v->inl);
    v->v = val;
    v->is_obj = doc->text[val] == '{';
    v->sd = sd;
    sd->refs++;
}

/* Pushes the number literal s[0..len) (pj_is_number_literal holds) as the number it is: an
 * integer that fits int64 as an integer, anything else as the double strtod gives, as
 * tonumber(s) would. followed: s[len] cannot extend the literal (a quote, a NUL). */
static void push_numlit(lua_State *L, const char *s, size_t len, int followed) {
    char buf[128];
    int64_t i = 0;
    double d = 0;
    int t;
    if (!followed) {
        if (len >= sizeof buf) {
            lua_pushlstring(L, s, len);     /* no Decimal is that long; keep the string */
            return;
        }
        memcpy(buf, s, len);
        buf[len] = 0;
        s = buf;
    }
    t = pj_num_text(s, &i, &d);
    if (t == PJ_INT)
        lua_pushinteger(L, (lua_Integer)i);
    else if (t == PJ_DBL)
        lua_pushnumber(L, (lua_Number)d);
    else
        lua_pushlstring(L, s, len);
}

/*
 * Pushes the string at val (a value or a key), decoded; decimal: read a JSON number literal
 * as the number (the Decimal rule). Escapes are decoded here, on read: on the C stack when
 * short, else in a scratch userdata (so that a raise leaks nothing).
 */
static void push_string(lua_State *L, const pj_doc *doc, pj_val val, int decimal) {
    const char *raw;
    size_t rawlen, n;
    char local[256], *out = local;
    if (!pj_str_raw(doc, val, &raw, &rawlen)) {
        if (decimal && pj_is_number_literal(raw, rawlen))
            push_numlit(L, raw, rawlen, 1);     /* the closing quote follows */
        else
            lua_pushlstring(L, raw, rawlen);
        return;
    }
    if (rawlen > sizeof local)
        out = (char *)lua_newuserdata(L, rawlen);
    n = pj_unescape(raw, rawlen, out);
    if (decimal && pj_is_number_literal(out, n))
        push_numlit(L, out, n, 0);
    else
        lua_pushlstring(L, out, n);
    if (out != local)
        lua_remove(L, -2);
}

static void push_number(lua_State *L, const pj_doc *doc, pj_val val) {
    int64_t i = 0;
    double d = 0;
    int t = pj_num(doc, val, &i, &d);
    if (t == PJ_INT)
        lua_pushinteger(L, (lua_Integer)i);
    else if (t == PJ_DBL)
        lua_pushnumber(L, (lua_Number)d);
    else
        luaL_error(L, "podero: no C locale to read a number with");
}

/*
 * Pushes the Lua value at val. decimal: the value is a number|string field of its kind (the
 * Decimal rule). child_kind: kind for a nested view. Returns 1 when the value is worth caching.
 */
static int push_value(lua_State *L, podero_shared_doc *sd, pj_val val, int decimal, int child_kind) {
    const pj_doc *doc = &sd->doc;
    switch (doc->text[val]) {
    case 'n': lua_pushnil(L); return 0;
    case 'f': lua_pushboolean(L, 0); return 0;
    case 't': lua_pushboolean(L, 1); return 0;
    case '"':
        /* a string is made again on each read (cheaper than a cache table for one read); only
         * nested objects and arrays are cached, so that hp.owner is the same object each time */
        push_string(L, doc, val, decimal);
        return 0;
    case '[':
    case '{':
        push_view(L, sd, val, child_kind);
        return 1;
    default:
        push_number(L, doc, val);
        return 0;
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
 * vidx (the cache table is made on the first store, with room for one: the usual hp.owner);
 * the value stays on the stack. */
static void cache_put(lua_State *L, int vidx, int kidx) {
    if (get_cache(L, vidx) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
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
    podero_view *v = view_ready((podero_view *)lua_touserdata(L, 1));
    pj_val vn;
    int decimal = 0, child_kind = PODERO_KIND_PLAIN;

    /* the cache first: a value read before */
    if (v->cached && cache_get(L, 1, 2))
        return 1;

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
    if (v->is_obj) {
        size_t klen;
        const char *k;
        if (lua_type(L, 2) != LUA_TSTRING)
            return 0;
        k = lua_tolstring(L, 2, &klen);
        vn = pj_index_find(&v->sd->doc, v->idx, v->n, k, klen);
        if (vn == PJ_NONE)
            return 0;
        if (v->kind != PODERO_KIND_PLAIN && v->sd->doc.text[vn] == '"')
            decimal = podero_kind_decimal(v->kind, k, klen);    /* the rule is about strings only */
    } else {
        lua_Integer i;
        int isnum = 0;
        i = lua_tointegerx(L, 2, &isnum);
        if (!isnum || i < 1 || (lua_Unsigned)i > v->n)
            return 0;
        vn = v->idx[i - 1];
        child_kind = podero_kind_element(v->kind);
    }
    if (push_value(L, v->sd, vn, decimal, child_kind)) {
        cache_put(L, 1, 2);
        v->cached = 1;
    }
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
    podero_view *v = view_ready((podero_view *)lua_touserdata(L, 1));
    lua_pushinteger(L, v->is_obj ? 0 : (lua_Integer)v->n);
    return 1;
}

static int view_gc(lua_State *L) {
    podero_view *v = (podero_view *)lua_touserdata(L, 1);
    shared_release(L, v->sd);
    v->sd = NULL;
    return 0;
}

static int view_tostring(lua_State *L) {
    podero_view *v = view_ready((podero_view *)lua_touserdata(L, 1));
    if (!v->is_obj)
        lua_pushfstring(L, "podero.array (%d items): %p", (int)v->n, (void *)v);
    else if (v->kind != PODERO_KIND_PLAIN)
        lua_pushfstring(L, "podero.%s: %p", podero_kind_name(v->kind), (void *)v);
    else
        lua_pushfstring(L, "podero.object (%d fields): %p", (int)v->n, (void *)v);
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
    pj_val vn_given = PJ_NONE;
    for (;;) {
        uint32_t k;
        lua_Integer last;
        if (pos < 0 || (lua_Unsigned)pos >= v->n)
            return 0;
        pos++;
        lua_pushinteger(L, pos);
        lua_replace(L, lua_upvalueindex(2));
        if (!v->is_obj) {
            lua_pushinteger(L, pos);
            break;
        }
        k = v->idx[pos - 1] & ~PJ_KEY_ESC;
        push_string(L, doc, k, 0);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNUMBER) {
            lua_pop(L, 2);              /* false: given at an earlier place */
            continue;
        }
        last = lua_tointeger(L, -1);
        lua_pop(L, 1);
        vn_given = pj_member_value(doc, v->idx[last - 1]);
        if (last != pos) {
            /* repeated later: give it here, with the last value, and never again */
            lua_pushvalue(L, -1);
            lua_pushboolean(L, 0);
            lua_rawset(L, lua_upvalueindex(3));
        }
        if (v->kind != PODERO_KIND_PLAIN) {
            /* not through the cache: a field named like a method must give the field here,
             * and must not shadow the method for later reads */
            size_t klen;
            const char *ks = lua_tolstring(L, -1, &klen);
            push_value(L, v->sd, vn_given, podero_kind_decimal(v->kind, ks, klen), PODERO_KIND_PLAIN);
            return 2;
        }
        break;
    }
    /* the key is on top: read the value as indexing would (same rules, same cache), but from
     * the entry at hand: a lookup by name per field would make this quadratic */
    {
        int kidx = lua_gettop(L), vidx;
        lua_pushvalue(L, lua_upvalueindex(1));
        vidx = lua_gettop(L);
        if (!cache_get(L, vidx, kidx)) {
            int child_kind = !v->is_obj ? podero_kind_element(v->kind) : PODERO_KIND_PLAIN;
            pj_val vn = v->is_obj ? vn_given : v->idx[pos - 1];
            if (push_value(L, v->sd, vn, 0, child_kind)) {
                cache_put(L, vidx, kidx);
                v->cached = 1;
            }
        }
        lua_remove(L, vidx);
    }
    return 2;
}

/* podero.fields(obj): for name, value in podero.fields(obj) ... (arrays: index, value) */
int podero_doc_fields(lua_State *L) {
    podero_view *v = check_view(L, 1);
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    if (v->is_obj) {
        uint32_t i;
        lua_createtable(L, 0, (int)v->n);
        for (i = 0; i < v->n; i++) {
            push_string(L, &v->sd->doc, v->idx[i] & ~PJ_KEY_ESC, 0);
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

/* Pushes the value at val as plain Lua tables (to_table). kind: the view kind of val, so that a
 * heat pump's Decimal fields (and those of each heat pump of a list) read as the lazy reader
 * reads them; nested values are plain. */
static void push_plain(lua_State *L, const pj_doc *doc, pj_val val, int kind) {
    pj_val e;
    lua_Integer i = 0;
    switch (doc->text[val]) {
    case 'n': lua_pushlightuserdata(L, NULL); break;  /* cjson.null */
    case 'f': lua_pushboolean(L, 0); break;
    case 't': lua_pushboolean(L, 1); break;
    case '"': push_string(L, doc, val, 0); break;
    case '[':
        luaL_checkstack(L, 4, "podero: document nested too deeply");
        lua_createtable(L, (int)pj_count(doc, val), 0);
        for (e = pj_first(doc, val); e != PJ_NONE; e = pj_next(doc, e, 0)) {
            push_plain(L, doc, e, podero_kind_element(kind));
            lua_rawseti(L, -2, ++i);
        }
        break;
    case '{': /* later duplicates overwrite earlier ones, as in a lookup */
        luaL_checkstack(L, 4, "podero: document nested too deeply");
        lua_createtable(L, 0, (int)pj_count(doc, val));
        for (e = pj_first(doc, val); e != PJ_NONE; e = pj_next(doc, e, 1)) {
            pj_val mv = pj_member_value(doc, e);
            push_string(L, doc, e, 0);
            if (kind != PODERO_KIND_PLAIN && doc->text[mv] == '"') {
                size_t klen;
                const char *k = lua_tolstring(L, -1, &klen);
                push_string(L, doc, mv, podero_kind_decimal(kind, k, klen));
            } else {
                push_plain(L, doc, mv, PODERO_KIND_PLAIN);
            }
            lua_rawset(L, -3);
        }
        break;
    default:
        push_number(L, doc, val);
        break;
    }
}

/* Appends the string at val to b, as JSON (decoded, then escaped as JSON requires); with
 * decimal (the Decimal rule) a number literal goes as the number to_table reads. */
static int write_string(buffer *b, const pj_doc *doc, pj_val val, int decimal) {
    const char *raw;
    size_t rawlen, n;
    char *out = NULL;
    int rc;
    if (pj_str_raw(doc, val, &raw, &rawlen)) {
        if (!(out = (char *)malloc(rawlen ? rawlen : 1)))
            return -1;
        n = pj_unescape(raw, rawlen, out);
        raw = out;
        rawlen = n;
    }
    if (decimal && pj_is_number_literal(raw, rawlen) && rawlen < 128) {
        char tmp[128], num[40];
        double d;
        memcpy(tmp, raw, rawlen);
        tmp[rawlen] = 0;
        /* the literal read as to_table reads it: an integer as an integer, else the double's
         * shortest text */
        if (!strpbrk(tmp, ".eE") && rawlen < 19) {
            snprintf(num, sizeof num, "%lld", strtoll(tmp, NULL, 10));
            rc = buf_adds(b, num);
        } else {
            rc = (pj_strtod_c(tmp, &d) != 0 || pj_format_double(d, num) < 0 || buf_adds(b, num)) ? -1 : 0;
        }
    } else {
        rc = buf_add_json_stringn(b, raw, rawlen);
    }
    free(out);
    return rc;
}

/* Appends the value at val as JSON to b: the document's values re-written (strings escaped as
 * JSON requires, numbers as their shortest round-trip text, integers as integers, the Decimal
 * rule of a heat pump as in to_table). Returns 0, or -1 out of memory. */
static int write_json(buffer *b, const pj_doc *doc, pj_val val, int kind, int depth) {
    char num[40];
    pj_val e;
    int first = 1;
    switch (doc->text[val]) {
    case 'n': return buf_adds(b, "null");
    case 'f': return buf_adds(b, "false");
    case 't': return buf_adds(b, "true");
    case '"': return write_string(b, doc, val, 0);
    case '[':
        if (depth > PJ_MAX_DEPTH || buf_add(b, "[", 1)) return -1;
        for (e = pj_first(doc, val); e != PJ_NONE; e = pj_next(doc, e, 0), first = 0) {
            if ((!first && buf_add(b, ",", 1)) ||
                write_json(b, doc, e, podero_kind_element(kind), depth + 1))
                return -1;
        }
        return buf_add(b, "]", 1);
    case '{':
        if (depth > PJ_MAX_DEPTH || buf_add(b, "{", 1)) return -1;
        for (e = pj_first(doc, val); e != PJ_NONE; e = pj_next(doc, e, 1), first = 0) {
            pj_val mv = pj_member_value(doc, e);
            int decimal = 0;
            if ((!first && buf_add(b, ",", 1)) || write_string(b, doc, e, 0) || buf_add(b, ":", 1))
                return -1;
            if (kind != PODERO_KIND_PLAIN && doc->text[mv] == '"') {
                const char *raw;
                size_t rawlen;
                pj_str_raw(doc, e, &raw, &rawlen);     /* the key as sent: field names need no escapes */
                decimal = podero_kind_decimal(kind, raw, rawlen);
            }
            if (doc->text[mv] == '"' ? write_string(b, doc, mv, decimal)
                                     : write_json(b, doc, mv, PODERO_KIND_PLAIN, depth + 1))
                return -1;
        }
        return buf_add(b, "}", 1);
    default: {
        int64_t i = 0;
        double d = 0;
        int t = pj_num(doc, val, &i, &d);
        if (t == PJ_INT) {
            snprintf(num, sizeof num, "%lld", (long long)i);
            return buf_adds(b, num);
        }
        if (t != PJ_DBL) return -1;
        if (pj_format_double(d, num) < 0)
            return buf_adds(b, "null");     /* 1e400 parsed to infinity: JSON has no such number */
        return buf_adds(b, num);
    }
    }
}

/* core.to_json(v) / v:to_json(): the value as JSON text (see write_json) */
int podero_doc_to_json(lua_State *L) {
    podero_view *v = check_view(L, 1);
    buffer b = {0};
    if (write_json(&b, &v->sd->doc, v->v, v->kind, 0) != 0) {
        buf_wipe_free(&b);
        return luaL_error(L, "not enough memory");
    }
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    free(b.p);
    return 1;
}

int podero_doc_to_table(lua_State *L) {
    podero_view *v = check_view(L, 1);
    push_plain(L, &v->sd->doc, v->v, v->kind);
    return 1;
}

/* v:raw(): the bytes of this value as received: the whole body for an answer, and for an
 * element or a nested value exactly its own bytes (never its neighbours'). */
int podero_doc_raw(lua_State *L) {
    podero_view *v = check_view(L, 1);
    size_t start, len;
    pj_span(&v->sd->doc, v->v, &start, &len);
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
    luaL_unref(L, LUA_REGISTRYINDEX, v->sd->client_ref);
    v->sd->client_ref = LUA_NOREF;
    v->sd->n_ids = 0;
    v->sd->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* pops the table */
}

static int hexnib(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* a canonical lowercase UUID (36 characters, as podero checked and lowered it) <-> 16 bytes */
static void uuid_pack(uint8_t out[16], const char *s) {
    int i, k = 0;
    for (i = 0; i < 36; i += 2) {
        if (s[i] == '-')
            i++;
        out[k++] = (uint8_t)(hexnib(s[i]) << 4 | hexnib(s[i + 1]));
    }
}

static void uuid_unpack(char out[36], const uint8_t in[16]) {
    static const char hex[] = "0123456789abcdef";
    int i, k = 0;
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[in[i] >> 4];
        out[k++] = hex[in[i] & 15];
    }
}

void podero_doc_bind(lua_State *L, int view_idx, int client_idx, const char *org, const char *user) {
    podero_shared_doc *sd;
    view_idx = lua_absindex(L, view_idx);
    client_idx = lua_absindex(L, client_idx);
    sd = check_view(L, view_idx)->sd;
    luaL_unref(L, LUA_REGISTRYINDEX, sd->ctx_ref);
    sd->ctx_ref = LUA_NOREF;
    luaL_unref(L, LUA_REGISTRYINDEX, sd->client_ref);
    lua_pushvalue(L, client_idx);
    sd->client_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    uuid_pack(sd->ids[0], org);
    sd->n_ids = 1;
    if (user) {
        uuid_pack(sd->ids[1], user);
        sd->n_ids = 2;
    }
}

/* Pushes the context table of sd (made now from its parts when it was given by them) and
 * returns 1, or pushes nothing and returns 0 when it has none. */
static int push_context(lua_State *L, podero_shared_doc *sd) {
    if (sd->ctx_ref == LUA_NOREF && sd->client_ref != LUA_NOREF) {
        static const char *const names[2] = {"org_id", "user_id"};
        char id[36];
        int i;
        lua_createtable(L, 0, 3);
        lua_rawgeti(L, LUA_REGISTRYINDEX, sd->client_ref);
        lua_setfield(L, -2, "client");
        for (i = 0; i < sd->n_ids; i++) {
            uuid_unpack(id, sd->ids[i]);
            lua_pushlstring(L, id, sizeof id);
            lua_setfield(L, -2, names[i]);
        }
        sd->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* the table holds the client now */
        luaL_unref(L, LUA_REGISTRYINDEX, sd->client_ref);
        sd->client_ref = LUA_NOREF;
        sd->n_ids = 0;
    }
    if (sd->ctx_ref == LUA_NOREF || sd->ctx_ref == LUA_REFNIL)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sd->ctx_ref);
    return 1;
}

/* Pushes the context table of the value at idx and returns 1 when it is a heat pump object
 * with the context of a user ({client, org_id, user_id}); else pushes nothing and returns 0. */
int podero_doc_push_context_at(lua_State *L, int idx) {
    podero_view *v = (podero_view *)luaL_testudata(L, idx, PODERO_VIEW_MT);
    if (!v || v->kind != PODERO_KIND_HEAT_PUMP || !push_context(L, v->sd))
        return 0;
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
    return push_context(L, v->sd);
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

static int kind_of(int result_kind) {
    return podero_result_view_kind(result_kind);
}

/* core.kind(v): the kind of a podero object: "heat_pump", "electric_vehicle", "inverter", "object"
 * (any other object or nested value) or "list" (an array); nil for anything else */
int podero_doc_kind(lua_State *L) {
    podero_view *v = (podero_view *)luaL_testudata(L, 1, PODERO_VIEW_MT);
    if (!v)
        return 0;
    view_ready(v);
    lua_pushstring(L, v->kind == PODERO_KIND_PLAIN && !v->is_obj ? "list" : podero_kind_name(v->kind));
    return 1;
}

/*
 * A document is malloc'd, out of the collector's sight: a view is a hundred bytes of the Lua
 * heap for kilobytes of body. Told nothing, the collector would let thousands of answers pile
 * up between its cycles, and each new one would land on cold memory (a sequential loop of
 * heat_pump calls ran at half the speed, with four times the page faults). So every document
 * the libcurl client makes is also a step of the collector of its size, as if the Lua heap had
 * grown by it. (Not inside nginx: there the step cost more than it saved, 55.8 against 61.5 us
 * of gateway CPU per request in make bench-nginx; a handler's garbage is short-lived.)
 */
void podero_doc_account(lua_State *L, size_t bytes) {
    if (bytes >= 1024)
        lua_gc(L, LUA_GCSTEP, (int)(bytes / 1024));
}

pj_doc *podero_doc_begin(lua_State *L, int result_kind) {
    podero_shared_doc *sd;
    podero_view *v;
    /* the view exists (and owns sd through __gc) before anything is parsed: a raise leaks nothing */
    v = new_view(L, 0, kind_of(result_kind));
    v->pending = 1;
    sd = (podero_shared_doc *)calloc(1, sizeof *sd);
    if (!sd)
        luaL_error(L, "not enough memory");
    sd->refs = 1;
    sd->ctx_ref = LUA_NOREF;
    sd->client_ref = LUA_NOREF;
    v->sd = sd;
    return &sd->doc;
}

int podero_doc_push(lua_State *L, const char *body, size_t len, int result_kind, const char *want_id,
                    long status, podero_result *res) {
    /* the view first (it may raise), then the parse (its shared document in the block's header) */
    podero_view *v = new_view(L, 0, kind_of(result_kind));
    pj_doc doc;
    v->pending = 1;
    if (podero_parse_answer(&doc, body, len, result_kind, want_id, status, res) != 0) {
        lua_pop(L, 1);
        return 0;
    }
    v->sd = shared_new(&doc);       /* in the header: cannot fail */
    podero_doc_account(L, len);
    return 1;
}

int podero_doc_push_taken(lua_State *L, podero_take_fn take, void *ud, int result_kind,
                          const char *want_id, long status, podero_result *res) {
    /* the view first (it may raise: nothing is taken yet), then the block, parsed in place */
    podero_view *v = new_view(L, 0, kind_of(result_kind));
    size_t len, cap;
    char *blk;
    pj_doc doc;
    v->pending = 1;
    blk = take(ud, &len, &cap);
    if (!blk) {
        lua_pop(L, 1);
        return podero_doc_push(L, "", 0, result_kind, want_id, status, res);
    }
    if (podero_parse_answer_block(&doc, blk, len, cap, result_kind, want_id, status, res) != 0) {
        lua_pop(L, 1);
        return 0;
    }
    v->sd = shared_new(&doc);       /* in the header: cannot fail */
    podero_doc_account(L, len);
    return 1;
}

/* Pushes the root view of an already parsed document, taking it over (*doc is zeroed). */
void podero_doc_push_parsed(lua_State *L, pj_doc *doc, int kind) {
    podero_view *v = new_view(L, 0, kind);
    v->pending = 1;
    v->sd = shared_new(doc);
    if (!v->sd)
        luaL_error(L, "not enough memory");
    podero_doc_account(L, v->sd->doc.len);
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
    lua_pushlightuserdata(L, (void *)&view_mt_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
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
