/*
 * cosock.c: the Lua binding of the sans-I/O client that nginx drives (lua/podero/ngx.lua).
 * Nothing here does I/O: ngx.lua owns the cosockets and asks a call what to send, feeds it what
 * it reads, and takes the answer as a lazy view. The policy (policy.c), the HTTP/1.1 framing
 * (http1.c), the argument checks (api.c), the parsing (json.c, schema.c) are the ones the
 * libcurl client uses: the nginx transport adds only the socket calls.
 *
 *   local p = core.policy(opts)                       -- per client: options, secrets, token
 *   local call = p:call("heat_pump", org, user, id)   -- checks the arguments (raises)
 *   repeat
 *     local act, a, b, c = call:next()
 *     -- "send", bytes, timeout_ms, connect_timeout_ms, to_token_endpoint
 *     --     -> write bytes; call:feed(piece) until not "more" (call:eof() at close,
 *     --        call:failed(class, message) on a socket error)
 *     -- "wait", seconds     -> ngx.sleep
 *     -- "token"             -> p:set_token(...) from the cache, or a p:token_call()
 *   until act == "done" or act == "fail"
 *   return call:result(p, client)                     -- the view, true, or nil, err
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podero.h"
#include "http1.h"

#define POLICY_MT "podero.policy"
#define CALL_MT "podero.call"

typedef struct policy {
    pd_client pc;
    h1_url api, token;
    int ok;                 /* fully made */
} policy;

typedef struct call {
    pd_call call;
    h1_parser h1;
    int sent;               /* a request is out, its answer not yet complete */
    int result;             /* enum pd_result_kind */
    char ids[3][37];
    int n_ids;
    char *body;             /* _request's body, owned */
    int answered;           /* the parser holds the answer of the last request */
} call;

static policy *check_policy_at(lua_State *L, int idx) {
    policy *p = (policy *)luaL_checkudata(L, idx, POLICY_MT);
    if (!p->ok)
        luaL_error(L, "podero: client is closed");
    return p;
}

#define check_policy(L) check_policy_at((L), 1)

static int policy_gc(lua_State *L) {
    policy *p = (policy *)luaL_checkudata(L, 1, POLICY_MT);
    pd_client_free(&p->pc);
    p->ok = 0;
    return 0;
}

/* core.policy(opts) */
static int l_policy(lua_State *L) {
    policy *p;
    luaL_checktype(L, 1, LUA_TTABLE);
    p = (policy *)lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    luaL_setmetatable(L, POLICY_MT);
    pd_config_read(L, 1, &p->pc.cfg, &p->pc.sec);
    if (h1_split_url(p->pc.cfg.base_url, &p->api) != 0)
        return luaL_error(L, "podero.new: base_url is not a URL podero can reach from nginx");
    if (h1_split_url(p->pc.cfg.token_url, &p->token) != 0)
        return luaL_error(L, "podero.new: token_url is not a URL podero can reach from nginx");
    if (pd_client_init(&p->pc) != 0)
        return luaL_error(L, "not enough memory");
    p->ok = 1;
    return 1;
}

/* p:target([token]) -> host, port, tls, sni: where the API (or the token endpoint) is */
static int l_target(lua_State *L) {
    policy *p = check_policy(L);
    const h1_url *u = lua_toboolean(L, 2) ? &p->token : &p->api;
    lua_pushstring(L, u->host);
    lua_pushinteger(L, u->port);
    lua_pushboolean(L, u->tls);
    return 3;
}

/* A call ready for a new request: a new userdata, or (recycled) one that a finished call
 * leaves behind, whose buffers are kept. */
static call *new_call(lua_State *L, policy *p, call *recycled) {
    call *c = recycled;
    if (c) {
        h1_parser h = c->h1;
        pd_call_free(&c->call);
        free(c->body);
        memset(c, 0, sizeof *c);
        c->h1 = h;
        h1_reset(&c->h1);
        c->h1.max_body = p->pc.cfg.max_response_bytes;
        lua_pushvalue(L, 2);
        return c;
    }
    c = (call *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CALL_MT);
    h1_init(&c->h1, p->pc.cfg.max_response_bytes);
    return c;
}

/* p:call(endpoint_name, ids..., [opts]) -> call; p:recall(call, endpoint_name, ids..., [opts])
 * -> call, reusing a finished call (its memory) */
static int endpoint_call(lua_State *L, call *recycled, int first) {
    policy *p = check_policy(L);
    const char *name = luaL_checkstring(L, first);
    const pd_endpoint *ep;
    char path[400], ids[3][37];
    call *c;
    int k;
    for (ep = pd_endpoints; ep->name && strcmp(ep->name, name) != 0; ep++)
        ;
    if (!ep->name)
        return luaL_error(L, "podero: no endpoint %s", name);
    k = pd_endpoint_args(L, ep, first + 1, path, sizeof path, ids);
    c = new_call(L, p, recycled);
    memcpy(c->ids, ids, sizeof ids);
    c->n_ids = k;
    c->result = ep->result;
    pd_api_begin(&p->pc, &c->call, ep->method, path, NULL, 0, 0, ep->retry, podero_monotonic());
    return 1;
}

static int l_call(lua_State *L) { return endpoint_call(L, NULL, 2); }

static int l_recall(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 2, CALL_MT);
    return endpoint_call(L, c, 3);
}

/* p:request(method, path [, body [, result [, expect_id [, org_id [, user_id]]]]]) -> call
 * (client:_request; org_id/user_id: the context of the answer, as client:_batch takes it) */
static int l_request(lua_State *L) {
    policy *p = check_policy(L);
    pd_raw_request rq;
    call *c;
    char org[37] = "", user[37] = "";
    pd_request_args(L, 2, strlen(p->pc.cfg.base_url), &rq);
    if (!lua_isnoneornil(L, 7)) {
        pd_check_uuid(L, 7, "org_id", "_batch", org);
        if (!lua_isnoneornil(L, 8))
            pd_check_uuid(L, 8, "user_id", "_batch", user);
    }
    c = new_call(L, p, NULL);
    if (org[0]) {
        memcpy(c->ids[0], org, sizeof org);
        memcpy(c->ids[1], user, sizeof user);
        c->n_ids = user[0] ? 2 : 1;
    }
    if (rq.has_body) {
        c->body = (char *)malloc(rq.body_len + 1);
        if (!c->body)
            return luaL_error(L, "not enough memory");
        memcpy(c->body, rq.body, rq.body_len);
        c->body[rq.body_len] = 0;
    }
    c->result = rq.result;
    memcpy(c->ids[2], rq.expect_id, sizeof rq.expect_id);
    pd_api_begin(&p->pc, &c->call, rq.method, rq.path, c->body, rq.body_len, rq.has_body, rq.retry,
                 podero_monotonic());
    return 1;
}

/* p:token_call([for_call]) -> call: a grant, within the deadline of for_call */
static int l_token_call(lua_State *L) {
    policy *p = check_policy(L);
    call *of = (call *)luaL_testudata(L, 2, CALL_MT);
    call *c = new_call(L, p, NULL);
    c->result = PD_RESULT_NONE;
    h1_free(&c->h1);
    h1_init(&c->h1, pd_token_limit(&p->pc));
    pd_token_begin(&p->pc, &c->call, of ? of->call.deadline_at : 0);
    return 1;
}

/* p:token() -> access_token, renew_in | nil: the token the policy holds (a secret) */
static int l_token(lua_State *L) {
    policy *p = check_policy(L);
    if (!pd_token_valid(&p->pc, podero_monotonic())) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, p->pc.sec.access_token);
    if (p->pc.cfg.grant == PD_GRANT_STATIC)
        lua_pushnil(L);
    else
        lua_pushnumber(L, p->pc.token_expires - podero_monotonic());
    return 2;
}

/* p:set_token(token, ttl): a token from the shared cache */
static int l_set_token(lua_State *L) {
    policy *p = check_policy(L);
    size_t len;
    const char *tok = luaL_checklstring(L, 2, &len);
    if (p->pc.cfg.grant == PD_GRANT_STATIC)
        return 0;
    if (pd_set_token(&p->pc, tok, len, luaL_checknumber(L, 3), podero_monotonic()) != 0)
        return luaL_error(L, "not enough memory");
    return 0;
}

static int l_drop_token(lua_State *L) {
    pd_drop_token(&check_policy(L)->pc);
    return 0;
}

static int l_pstats(lua_State *L) {
    policy *p = (policy *)luaL_checkudata(L, 1, POLICY_MT);
    lua_pushinteger(L, p->pc.token_requests);
    lua_pushinteger(L, p->pc.api_requests);
    lua_pushboolean(L, p->ok && pd_token_valid(&p->pc, podero_monotonic()));
    return 3;
}

static int l_close(lua_State *L) {
    return policy_gc(L);
}

/* ---- calls ---------------------------------------------------------------------------------- */

static int call_gc(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    pd_call_free(&c->call);
    h1_free(&c->h1);
    free(c->body);
    c->body = NULL;
    return 0;
}

static long ms(double s) {
    double v = s * 1000 + 0.999;
    return v < 1 ? 1 : v > 1e9 ? 1000000000L : (long)v;
}

/* call:next(p) -> action, ... (see the top of this file) */
static int l_next(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    policy *p = check_policy_at(L, 2);
    pd_send r;
    int act;
    if (c->sent)
        return luaL_error(L, "podero: call:next before the answer was fed");
    act = pd_next(&p->pc, &c->call, podero_monotonic(), &r);
    switch (act) {
    case PD_SEND: {
        char *bytes = NULL;
        size_t n = 0;
        const h1_url *u = c->call.kind == PD_CALL_TOKEN ? &p->token : &p->api;
        char target[1400];
        const char *path = r.url + strlen(c->call.kind == PD_CALL_TOKEN ? "" : p->pc.cfg.base_url);
        int rc;
        if (c->call.kind == PD_CALL_TOKEN) {
            /* the token URL's own path */
            snprintf(target, sizeof target, "%s", u->path[0] ? u->path : "/");
        } else {
            snprintf(target, sizeof target, "%s%s", u->path, path);
        }
        {
            /* the header lines and this attempt's X-Request-Id */
            char lines[2048], *all = lines;
            size_t hl = strlen(r.headers ? r.headers : ""), need = hl + sizeof "X-Request-Id: \r\n" + 36;
            if (need > sizeof lines && !(all = (char *)malloc(need))) {
                rc = -1;
            } else {
                snprintf(all, need, "%sX-Request-Id: %s\r\n", r.headers ? r.headers : "", r.request_id);
                rc = h1_request(&bytes, &n, r.method, u->hostport, target, all, r.body, r.body_len);
                podero_wipe(all, need);     /* the token is among the lines */
                if (all != lines)
                    free(all);
            }
        }
        if (rc != 0) {
            pd_failed(&p->pc, &c->call, rc == -1 ? PD_F_MEMORY : PD_F_NETWORK_FATAL, 0,
                      "the request could not be framed", podero_monotonic());
            return l_next(L);
        }
        h1_reset(&c->h1);
        c->h1.max_body = r.limit;
        c->sent = 1;
        lua_pushliteral(L, "send");
        lua_pushlstring(L, bytes, n);
        podero_wipe(bytes, n);
        free(bytes);
        lua_pushinteger(L, ms(r.timeout));
        lua_pushinteger(L, ms(r.connect_timeout < r.timeout ? r.connect_timeout : r.timeout));
        lua_pushboolean(L, c->call.kind == PD_CALL_TOKEN);
        return 5;
    }
    case PD_WAIT:
        lua_pushliteral(L, "wait");
        lua_pushnumber(L, c->call.wait);
        return 2;
    case PD_TOKEN:
        lua_pushliteral(L, "token");
        return 1;
    case PD_DONE:
        lua_pushliteral(L, "done");
        return 1;
    default:
        lua_pushliteral(L, "fail");
        return 1;
    }
}

/* After a complete answer or an error of the parser: tells the policy. */
static void settle(policy *p, call *c, int rc) {
    double now = podero_monotonic();
    c->sent = 0;
    if (rc == H1_DONE) {
        pd_answer(&p->pc, &c->call, c->h1.status, c->h1.retry_after[0] ? c->h1.retry_after : NULL,
                  c->h1.request_id[0] ? c->h1.request_id : NULL, c->h1.body, c->h1.body_len, now);
        c->answered = 1;
    } else {
        static const int classes[] = {PD_F_NETWORK_FATAL, PD_F_NETWORK_FATAL, PD_F_TOO_LARGE,
                                      PD_F_NETWORK, PD_F_MEMORY};
        int k = c->h1.errkind >= 0 && c->h1.errkind <= H1_E_MEMORY ? c->h1.errkind : 0;
        pd_failed(&p->pc, &c->call, classes[k], c->h1.status, c->h1.errmsg, now);
    }
}

/* call:feed(p, bytes) -> "more" | "answered" | "done" | "fail", keepalive: "done"/"fail" when
 * the answer settled the call (no call:next needed), "answered" when the call goes on */
static int l_feed(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    policy *p = check_policy_at(L, 2);
    size_t n;
    const char *data = luaL_checklstring(L, 3, &n);
    int rc;
    if (!c->sent)
        return luaL_error(L, "podero: call:feed without a request");
    rc = h1_feed(&c->h1, data, n);
    if (rc == H1_MORE) {
        lua_pushliteral(L, "more");
        return 1;
    }
    settle(p, c, rc);
    if (pd_call_done(&c->call))
        lua_pushliteral(L, "done");
    else if (c->call.res.kind && pd_call_failed(&c->call))
        lua_pushliteral(L, "fail");
    else
        lua_pushliteral(L, "answered");
    lua_pushboolean(L, rc == H1_DONE && c->h1.keepalive);
    return 2;
}

/* call:eof(p) -> "answered" | "stale": the peer closed. "stale": it closed before sending a
 * byte (a reused connection the server had dropped): the caller may send again on a new
 * connection, which the policy does not count. */
static int l_eof(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    policy *p = check_policy_at(L, 2);
    int rc;
    if (!c->sent)
        return luaL_error(L, "podero: call:eof without a request");
    if (lua_toboolean(L, 3) && c->h1.received == 0) {
        lua_pushliteral(L, "stale");
        return 1;
    }
    rc = h1_feed_eof(&c->h1);
    settle(p, c, rc);
    lua_pushliteral(L, "answered");
    return 1;
}

/* call:failed(p, class, message): a socket error. class: "unsent" (connect failed), "timeout",
 * "tls", "network". */
static int l_failed(lua_State *L) {
    static const char *const names[] = {"network", "unsent", "timeout", "tls", NULL};
    static const int classes[] = {PD_F_NETWORK, PD_F_UNSENT, PD_F_TIMEOUT, PD_F_TLS};
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    policy *p = check_policy_at(L, 2);
    int k = luaL_checkoption(L, 3, NULL, names);
    const char *msg = luaL_optstring(L, 4, NULL);
    if (!c->sent)
        return luaL_error(L, "podero: call:failed without a request");
    c->sent = 0;
    pd_failed(&p->pc, &c->call, classes[k], c->h1.status, msg, podero_monotonic());
    return 0;
}

/* call:result(p, client) -> the view (with its context {client, org_id, user_id}), true, or
 * nil, err */
static int l_result(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    policy *p = check_policy_at(L, 2);
    podero_result res;
    if (!pd_call_done(&c->call) || !c->answered) {
        if (c->call.res.kind)
            return podero_fail(L, &c->call.res);
        return luaL_error(L, "podero: call:result before the call ended");
    }
    if (c->result == PD_RESULT_NONE) {
        lua_pushboolean(L, 1);
        return 1;
    }
    podero_result_init(&res);
    {
        /* the view first (it may raise), then the body moves from the parser into its document */
        pj_doc *doc = podero_doc_begin(L, c->result);
        size_t len;
        char *body = h1_take_body(&c->h1, &len);
        c->answered = 0;
        if (podero_parse_answer_owned(doc, body, len, c->result, c->ids[2], c->call.status, &res) != 0) {
            lua_pop(L, 1);
            pd_call_context(&p->pc, &c->call, &res);
            return podero_fail(L, &res);
        }
    }
    if (c->n_ids >= 1)
        pd_bind_context(L, 3, c->ids[0], c->n_ids >= 2 ? c->ids[1] : NULL);
    return 1;
}

/* call:attempt(p, elapsed) -> the on_request table of the attempt that just ended */
static int l_attempt(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    policy *p = check_policy_at(L, 2);
    pd_attempt a;
    pd_call_attempt(&p->pc, &c->call, &a);
    pd_push_attempt(L, &a, luaL_checknumber(L, 3));
    return 1;
}

/* call:error() -> err (after "fail") */
static int l_error(lua_State *L) {
    call *c = (call *)luaL_checkudata(L, 1, CALL_MT);
    podero_push_error(L, &c->call.res);
    return 1;
}

void podero_cosock_open(lua_State *L) {
    static const luaL_Reg pmethods[] = {
        {"call", l_call},
        {"recall", l_recall},
        {"request", l_request},
        {"token_call", l_token_call},
        {"token", l_token},
        {"set_token", l_set_token},
        {"drop_token", l_drop_token},
        {"stats", l_pstats},
        {"target", l_target},
        {"close", l_close},
        {NULL, NULL}
    };
    static const luaL_Reg cmethods[] = {
        {"next", l_next},
        {"feed", l_feed},
        {"eof", l_eof},
        {"failed", l_failed},
        {"result", l_result},
        {"error", l_error},
        {"attempt", l_attempt},
        {NULL, NULL}
    };
    luaL_newmetatable(L, POLICY_MT);
    lua_pushcfunction(L, policy_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, pmethods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, CALL_MT);
    lua_pushcfunction(L, call_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, cmethods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_policy);
}
