/*
 * http_curl.c: the libcurl transports. They drive the policy (policy.c) and do nothing else:
 * pd_curl_run sends one call's requests on a reused easy handle; pd_curl_fetch sends many on
 * the multi interface, where a token renewal is one more transfer and stalls no other. No Lua
 * here (the build checks it): results go into plain C structs.
 *
 * Pointer ownership: every pointer handed to libcurl, and what keeps it valid.
 *   Every easy handle belongs to one slot: a malloc'd struct that never moves and lives until
 *   pd_curl_free. The multi pool grows only its array of pointers to slots.
 *     WRITEDATA, HEADERDATA, ERRORBUFFER -> &slot->x; PRIVATE -> slot.
 *     HTTPHEADER -> slot->headers, the slot's own list, rebuilt (old list freed) only while the
 *       slot's handle runs no transfer; cleared after every transfer of the sequential slot.
 *     POSTFIELDS -> the call's body (the caller's, or the token call's buffer), alive for the
 *       whole call; set for one transfer and cleared after it.
 *   SHARE -> t->share: cleaned up after every handle that uses it.
 *   URL, CAINFO, PROTOCOLS_STR: libcurl copies the strings.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "transport.h"

/* What one transfer collects. The body goes into a block with PD_DOC_HEADER bytes of room in
 * front and PJ_PAD (and room for a root index) after it, so that the sequential client can hand
 * the block itself to the parser and its document (pd_curl_take_body): no copy of the body. */
typedef struct xfer {
    char *blk;              /* the block, or NULL; the body is at blk + PD_DOC_HEADER, NUL-terminated */
    size_t cap, len;        /* bytes of the block; of the body */
    size_t limit;
    int too_large;
    char retry_after[128];  /* the raw Retry-After value of the final answer, "" when none */
    char request_id[64];    /* its X-Request-Id, "" when none */
    char err[CURL_ERROR_SIZE];
} xfer;

typedef struct slot {
    CURL *easy;
    xfer x;
    int item;                    /* the item it carries (multi), -1 idle, -2 the token call */
    double started;              /* when its transfer started (monotonic) */
    struct curl_slist *headers;  /* this slot's request headers, X-Request-Id last */
    CURLU *url;                  /* the request's URL, parsed here (see set_url), or NULL */
    int url_set;                 /* the handle has url as its CURLOPT_CURLU */
    char *request_id;            /* the 36 characters of its X-Request-Id, patched per request */
    const char *headers_src;     /* the header lines they were built from ... */
    unsigned headers_gen;        /* ... and the token generation they carry */
    long timeout_ms;             /* the options as last set on the handle (0: not yet), so that */
    size_t limit;                /* a request sets only those that change */
    int sent_body;               /* the handle's last request had a body (a PUT or POST) */
} slot;

struct pd_curl {
    slot seq;               /* the sequential handle (not a pointer: it is never in a multi) */
    CURLSH *share;          /* TLS sessions and DNS shared by all handles */
    CURLM *multi;
    slot **slots;
    int n_slots;
    slot *token_slot;       /* the token renewal of a batch */
    const pd_config *cfg;
    pd_hook hook;           /* after each attempt (on_request) */
    void *hook_ud;
};

void pd_curl_set_hook(pd_curl *t, pd_hook hook, void *ud) {
    t->hook = hook;
    t->hook_ud = ud;
}

/* ---- callbacks (never touch Lua) ------------------------------------------------------ */

#define XBODY(x) ((x)->blk ? (x)->blk + PD_DOC_HEADER : "")

/* Room in x's block for n more bytes of body, the padding and a root index. */
static int body_reserve(xfer *x, size_t n) {
    size_t need = PD_DOC_HEADER + x->len + n + PJ_PAD, nc;
    char *nb;
    if (need <= x->cap)
        return 0;
    nc = need + (x->len + n) / 10 + 32;     /* as pj_parse_hdr's reserve: a root index fits */
    if (x->cap && nc < x->cap * 2)
        nc = x->cap * 2;
    nb = (char *)realloc(x->blk, nc);
    if (!nb)
        return -1;
    x->blk = nb;
    x->cap = nc;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    xfer *x = (xfer *)ud;
    size_t n = size * nmemb;
    if (x->len + n > x->limit) {
        x->too_large = 1;
        return 0;               /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (body_reserve(x, n))
        return 0;
    memcpy(x->blk + PD_DOC_HEADER + x->len, data, n);
    x->len += n;
    x->blk[PD_DOC_HEADER + x->len] = 0;
    return n;
}

/* Copies a header's value (after "name:", trimmed) into out when it fits. */
static void header_value(const char *v, size_t vl, char *out, size_t cap) {
    while (vl && (*v == ' ' || *v == '\t')) { v++; vl--; }
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t' || v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    if (vl > 0 && vl < cap) {
        memcpy(out, v, vl);
        out[vl] = 0;
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
    xfer *x = (xfer *)ud;
    size_t n = size * nmemb;
    static const char ra[] = "retry-after:", rid[] = "x-request-id:";
    char c0 = (char)(data[0] | 0x20);   /* the first letter decides before any comparison */
    if (c0 == 'h' && n > 5 && memcmp(data, "HTTP/", 5) == 0) {
        x->retry_after[0] = 0;          /* a new answer (after 1xx) starts afresh */
        x->request_id[0] = 0;
    } else if (c0 == 'r' && n > sizeof ra - 1 && !x->retry_after[0] && strncasecmp(data, ra, sizeof ra - 1) == 0) {
        header_value(data + sizeof ra - 1, n - (sizeof ra - 1), x->retry_after, sizeof x->retry_after);
    } else if (c0 == 'x' && n > sizeof rid - 1 && !x->request_id[0] && strncasecmp(data, rid, sizeof rid - 1) == 0) {
        header_value(data + sizeof rid - 1, n - (sizeof rid - 1), x->request_id, sizeof x->request_id);
    }
    return n;
}

int pd_curl_global_init(void) {
    static int ready = 0;
    if (!ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -1;
        ready = 1;
    }
    return 0;
}

const char *pd_curl_version(int *http2) {
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    *http2 = (v->features & CURL_VERSION_HTTP2) != 0;
    return v->version;
}

/* ---- handles ----------------------------------------------------------------------------- */

static long to_ms(double s) {
    double ms = s * 1000 + 0.999;
    if (!(ms >= 1))
        return 1;               /* never 0: libcurl reads 0 as "no timeout" */
    if (ms > 1e9)
        return 1000000000L;
    return (long)ms;
}

/* 1 when the environment names no proxy at all (none of the variables libcurl reads for one):
 * then a handle is told "no proxy" once, and libcurl does not search the environment on every
 * request (about 2k instructions and a walk over environ each time). */
static int env_has_no_proxy(void) {
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                       "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", NULL};
    const char *const *v;
    for (v = vars; *v; v++) {
        const char *e = getenv(*v);
        if (e && *e)
            return 0;
    }
    return 1;
}

static CURLcode configure(const pd_curl *t, slot *s) {
    CURLcode rc = CURLE_OK;
    const pd_config *o = t->cfg;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(s->easy, opt, val)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &s->x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, &s->x);
    SET(CURLOPT_ERRORBUFFER, s->x.err);
    SET(CURLOPT_CONNECTTIMEOUT_MS, to_ms(o->connect_timeout));
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_SSL_VERIFYPEER, o->verify_tls ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, o->verify_tls ? 2L : 0L);
    if (o->ca_file)
        SET(CURLOPT_CAINFO, o->ca_file);
    if (o->proxy_mode == 1) {
        SET(CURLOPT_PROXY, o->proxy);
    } else if (o->proxy_mode == 2 || env_has_no_proxy()) {
        SET(CURLOPT_PROXY, "");         /* none, whatever the environment says (or will say) */
        SET(CURLOPT_NOPROXY, "");       /* and no lookup of no_proxy either */
    }
    if (t->share)
        SET(CURLOPT_SHARE, t->share);
    SET(CURLOPT_PRIVATE, (void *)s);
#undef SET
    return rc;
}

#define RID_LINE "X-Request-Id: 00000000-0000-0000-0000-000000000000"

/* The header lines as a libcurl list, with an X-Request-Id line last whose value is patched in
 * place for each request (*rid: where); "Expect:" keeps libcurl from waiting for 100-continue. */
static struct curl_slist *header_list(const char *lines, int has_body, char **rid) {
    struct curl_slist *h = NULL, *n;
    const char *p = lines ? lines : "";
    char tmp[2048];
    while (*p) {
        const char *e = strstr(p, "\r\n");
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= sizeof tmp)
            l = sizeof tmp - 1;
        memcpy(tmp, p, l);
        tmp[l] = 0;
        if (!(n = curl_slist_append(h, tmp)))
            goto oom;
        h = n;
        p = e ? e + 2 : p + l;
    }
    podero_wipe(tmp, sizeof tmp);
    if (has_body) {
        if (!(n = curl_slist_append(h, "Expect:")))
            goto oom;
        h = n;
    }
    if (!(n = curl_slist_append(h, RID_LINE)))
        goto oom;
    h = n;
    while (n->next)
        n = n->next;
    *rid = n->data + sizeof "X-Request-Id: " - 1;
    return h;
oom:
    podero_wipe(tmp, sizeof tmp);
    {
        struct curl_slist *i;
        for (i = h; i; i = i->next)
            podero_wipe(i->data, strlen(i->data));
    }
    curl_slist_free_all(h);
    return NULL;
}

/* The header lists carry the token: wipe its bytes before freeing them. */
static void free_list(struct curl_slist **l) {
    struct curl_slist *i;
    for (i = *l; i; i = i->next)
        podero_wipe(i->data, strlen(i->data));
    curl_slist_free_all(*l);
    *l = NULL;
}

static void slot_clear(slot *s) {
    if (s->easy)
        curl_easy_cleanup(s->easy);
    s->easy = NULL;
    if (s->url)
        curl_url_cleanup(s->url);   /* after the handle that used it */
    s->url = NULL;
    s->url_set = 0;
    free_list(&s->headers);
    if (s->x.blk) {
        podero_wipe(s->x.blk, s->x.cap);   /* it may hold a token answer */
        free(s->x.blk);
    }
    s->x.blk = NULL;
    s->x.cap = s->x.len = 0;
}

static int slot_init(pd_curl *t, slot *s) {
    memset(s, 0, sizeof *s);
    s->item = -1;
    s->easy = curl_easy_init();
    if (!s->easy || configure(t, s) != CURLE_OK) {
        slot_clear(s);
        return -1;
    }
    return 0;
}

pd_curl *pd_curl_new(const pd_config *cfg, char *err, size_t errlen) {
    pd_curl *t = (pd_curl *)calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "not enough memory");
        return NULL;
    }
    t->cfg = cfg;
    t->share = curl_share_init();
    if (!t->share) {
        snprintf(err, errlen, "podero: curl_share_init failed");
        free(t);
        return NULL;
    }
    /* one TLS session cache and DNS cache for all the client's handles */
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (slot_init(t, &t->seq) != 0) {
        snprintf(err, errlen, "podero: libcurl refused an option");
        curl_share_cleanup(t->share);
        free(t);
        return NULL;
    }
    return t;
}

static void pool_free(pd_curl *t) {
    int i;
    for (i = 0; i < t->n_slots; i++) {
        slot *s = t->slots[i];
        if (t->multi && s->item != -1)
            curl_multi_remove_handle(t->multi, s->easy);
        slot_clear(s);
        free(s);
    }
    free(t->slots);
    t->slots = NULL;
    t->n_slots = 0;
    if (t->token_slot) {
        if (t->multi && t->token_slot->item != -1)
            curl_multi_remove_handle(t->multi, t->token_slot->easy);
        slot_clear(t->token_slot);
        free(t->token_slot);
        t->token_slot = NULL;
    }
    if (t->multi) {
        curl_multi_cleanup(t->multi);
        t->multi = NULL;
    }
}

void pd_curl_free(pd_curl *t) {
    if (!t)
        return;
    pool_free(t);
    slot_clear(&t->seq);
    if (t->share)
        curl_share_cleanup(t->share);   /* after every handle that used it */
    free(t);
}

/* ---- one transfer ------------------------------------------------------------------------- */

/* Gives s's handle the URL of a request. Parsed here into the slot's CURLU handle and given to
 * libcurl as CURLOPT_CURLU, the URL is not parsed, normalised and printed back again by libcurl
 * on every transfer, as a CURLOPT_URL string is (about 19k instructions a request, a fifth of
 * what the whole transfer costs on a kept-alive connection). A URL the URL API refuses goes as
 * CURLOPT_URL, so that libcurl reports it as before. Returns 0, or -1 out of memory. */
static int set_url(slot *s, const char *url) {
    if (!s->url)
        s->url = curl_url();
    if (s->url && curl_url_set(s->url, CURLUPART_URL, url, 0) == CURLUE_OK) {
        if (!s->url_set) {
            if (curl_easy_setopt(s->easy, CURLOPT_CURLU, s->url) != CURLE_OK)
                return -1;
            s->url_set = 1;
        }
        return 0;
    }
    if (s->url_set) {
        curl_easy_setopt(s->easy, CURLOPT_CURLU, NULL);
        s->url_set = 0;
    }
    /* libcurl copies the URL: only out of memory fails */
    return curl_easy_setopt(s->easy, CURLOPT_URL, url) == CURLE_OK ? 0 : -1;
}

/* Prepares s's handle for the request *r. Returns 0, or -1 out of memory. */
static int prepare(slot *s, const pd_send *r, int cache_headers) {
    CURL *h = s->easy;
    if (!s->headers || !cache_headers || s->headers_src != r->headers || s->headers_gen != r->token_gen) {
        char *rid = NULL;
        struct curl_slist *l = header_list(r->headers, r->body != NULL, &rid);
        if (!l)
            return -1;
        free_list(&s->headers);
        s->headers = l;
        s->request_id = rid;
        s->headers_src = cache_headers ? r->headers : NULL;
        s->headers_gen = r->token_gen;
    }
    s->x.len = 0;
    if (s->x.blk)
        s->x.blk[PD_DOC_HEADER] = 0;
    s->x.too_large = 0;
    s->x.retry_after[0] = 0;
    s->x.request_id[0] = 0;
    memcpy(s->request_id, r->request_id, 36);
    s->x.limit = r->limit;
    s->x.err[0] = 0;
    if (set_url(s, r->url) != 0)
        return -1;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    if (to_ms(r->timeout) != s->timeout_ms) {
        s->timeout_ms = to_ms(r->timeout);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    }
    if (r->limit != s->limit) {
        s->limit = r->limit;
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->limit);
    }
    if (r->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(r->method, "POST") != 0 ? r->method : NULL);
        s->sent_body = 1;
    } else if (s->sent_body) {
        /* this handle sent a PUT or POST before: back to a plain GET (only then: the options
         * set on every request are most of what a request costs here beside the transfer) */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        s->sent_body = 0;
    }
    return 0;
}

/* After a transfer: the handle keeps no pointer to a body that may go away. */
static void unprepare(slot *s, const pd_send *r) {
    if (r->body) {
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
        s->sent_body = 0;
    }
}

static int failure_class(CURLcode rc) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return PD_F_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return PD_F_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return PD_F_TOO_LARGE;
    case CURLE_OUT_OF_MEMORY:
        return PD_F_MEMORY;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return PD_F_UNSENT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        return PD_F_NETWORK;
    default:
        return PD_F_NETWORK_FATAL;
    }
}

/* The proxy a request to url goes through, for messages, without user info: the configured
 * one, or the environment's that libcurl reads when none is configured. 0 when there is none. */
static int proxy_shown(const pd_config *o, const char *url, char *out, size_t cap) {
    const char *p = NULL, *at, *sep;
    if (o->proxy_mode == 2)
        return 0;
    if (o->proxy_mode == 1) {
        p = o->proxy;
    } else {
        static const char *const https_vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL};
        static const char *const http_vars[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
        const char *const *v = strncmp(url, "https:", 6) == 0 ? https_vars : http_vars;
        for (; *v && !(p && *p); v++)
            p = getenv(*v);
        if (!p || !*p)
            return 0;
    }
    sep = strstr(p, "://");
    at = strchr(sep ? sep + 3 : p, '@');
    if (at && (!strchr(sep ? sep + 3 : p, '/') || at < strchr(sep ? sep + 3 : p, '/')))
        snprintf(out, cap, "%.*s%s", sep ? (int)(sep + 3 - p) : 0, p, at + 1);   /* user info dropped */
    else
        snprintf(out, cap, "%s", p);
    if (o->proxy_mode == 0) {
        size_t n = strlen(out);
        snprintf(out + n, n < cap ? cap - n : 0, " (from the environment)");
    }
    return 1;
}

/* Tells the policy how the transfer on s ended. */
static void report(pd_client *c, pd_call *call, slot *s, CURLcode rc) {
    double now = podero_monotonic();
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK) {
        pd_answer(c, call, status, s->x.retry_after[0] ? s->x.retry_after : NULL,
                  s->x.request_id[0] ? s->x.request_id : NULL, XBODY(&s->x), s->x.len, now);
    } else if (s->x.too_large) {
        pd_failed(c, call, PD_F_TOO_LARGE, status, NULL, now);
    } else {
        char msg[CURL_ERROR_SIZE + 160];
        const char *what = s->x.err[0] ? s->x.err : curl_easy_strerror(rc);
        char shown[160];
        if ((rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT) &&
            proxy_shown(&c->cfg, call->url, shown, sizeof shown)) {
            /* name the proxy (without its user info), not the API that was never reached */
            snprintf(msg, sizeof msg, "cannot reach the proxy %s: %s", shown, what);
            what = msg;
        }
        pd_failed(c, call, failure_class(rc), status, what, now);
    }
}

/* Sends every request of call on the sequential handle until the call is done, failed or
 * needs a token. Returns the action that stopped it. */
static int run_seq(pd_curl *t, pd_client *c, pd_call *call) {
    for (;;) {
        pd_send r;
        int act = pd_next(c, call, podero_monotonic(), &r);
        if (act == PD_WAIT) {
            podero_sleep(call->wait);
        } else if (act == PD_SEND) {
            CURLcode rc = CURLE_OUT_OF_MEMORY;
            double t0 = podero_monotonic();
            if (prepare(&t->seq, &r, call->kind == PD_CALL_API) == 0)
                rc = curl_easy_perform(t->seq.easy);
            /* the handle keeps no pointer to a list or body that may be freed (the slot keeps
             * its list for the next request with the same header lines and token) */
            curl_easy_setopt(t->seq.easy, CURLOPT_HTTPHEADER, NULL);
            unprepare(&t->seq, &r);
            report(c, call, &t->seq, rc);
            if (t->hook)
                t->hook(t->hook_ud, call, podero_monotonic() - t0);
        } else {
            return act;
        }
    }
}

static int ensure_token(pd_curl *t, pd_client *c, double deadline_at, int force, podero_result *res) {
    pd_call tc;
    int act;
    if (!force && pd_token_valid(c, podero_monotonic()))
        return 0;
    if (c->cfg.grant == PD_GRANT_STATIC) {
        if (pd_build_api_headers(c) == 0)
            return 0;
        podero_set_result(res, "memory", 0, "out of memory");
        return -1;
    }
    pd_drop_token(c);
    memset(&tc, 0, sizeof tc);
    pd_token_begin(c, &tc, deadline_at);
    act = run_seq(t, c, &tc);
    if (act != PD_DONE)
        *res = tc.res;
    pd_call_free(&tc);
    return act == PD_DONE ? 0 : -1;
}

int pd_curl_token(pd_curl *t, pd_client *c, int force, podero_result *res) {
    double now = podero_monotonic();
    return ensure_token(t, c, c->cfg.deadline > 0 ? now + c->cfg.deadline : 0, force, res);
}

int pd_curl_run(pd_curl *t, pd_client *c, pd_call *call) {
    for (;;) {
        int act = run_seq(t, c, call);
        if (act == PD_TOKEN) {
            podero_result r;
            podero_result_init(&r);
            if (ensure_token(t, c, call->deadline_at, 0, &r) != 0)
                pd_token_failed(c, call, &r);
            continue;
        }
        return act;
    }
}

char *pd_curl_take_body(void *ud, size_t *len, size_t *cap) {
    xfer *x = &((pd_curl *)ud)->seq.x;
    char *b = x->blk;
    *len = x->len;
    *cap = x->cap;
    /* what lies past the body is an earlier answer's (a token answer's, maybe): the document
     * must not carry it away */
    if (b)
        memset(b + PD_DOC_HEADER + x->len, 0, x->cap - PD_DOC_HEADER - x->len);
    x->blk = NULL;
    x->cap = x->len = 0;
    return b;
}

/* ---- fetch_heat_pumps on the multi interface ------------------------------------------------ */

enum { ITEM_QUEUED = 0, ITEM_RUNNING, ITEM_WAITING, ITEM_NEEDS_TOKEN, ITEM_DONE };

/* Makes sure there are at least n idle slots and a token slot. 0, or -1 out of memory. */
static int pool_ensure(pd_curl *t, int n) {
    slot **a;
    if (!t->multi) {
        t->multi = curl_multi_init();
        if (!t->multi)
            return -1;
        curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    }
    if (!t->token_slot) {
        slot *s = (slot *)calloc(1, sizeof *s);
        if (!s || slot_init(t, s) != 0) {
            free(s);
            return -1;
        }
        t->token_slot = s;
    }
    if (n <= t->n_slots)
        return 0;
    /* only the array of pointers moves; the slots libcurl points into stay where they are */
    a = (slot **)realloc(t->slots, (size_t)n * sizeof *a);
    if (!a)
        return -1;
    t->slots = a;
    while (t->n_slots < n) {
        slot *s = (slot *)calloc(1, sizeof *s);
        if (!s || slot_init(t, s) != 0) {
            free(s);
            return -1;
        }
        t->slots[t->n_slots++] = s;
    }
    return 0;
}

typedef struct batch {
    pd_curl *t;
    pd_client *c;
    pd_fetch_item *items;
    int n, done, failed;
    int *ready, n_ready;        /* items to step (fresh ones are taken from next_fresh) */
    int next_fresh;
    int *waiting, n_waiting;    /* items in a backoff or Retry-After wait */
    int *parked, n_parked;      /* items waiting for the token */
    double deadline_at;        /* of the whole batch */
    pd_call tcall;              /* the token renewal, while token_running */
    int token_running;
    double token_not_before;
    int token_broken;           /* the token could not be had: the rest fail with token_err */
    podero_result token_err;
    int (*progress)(void *, int, int);
    void *ud;
} batch;

/* An item is finished: parse and check a 2xx, count. Returns non-zero to abort. */
 /* s: the slot that holds the answer of a done call */
static int finish(batch *b, pd_fetch_item *it, int act, slot *s) {
    it->state = ITEM_DONE;
    if (act == PD_DONE) {
        if (!s)
            podero_set_result(&it->res, "network", 0, "the transport lost an answer");
        else if (it->result == PD_RESULT_NONE)
            it->ok = 1;
        else if (podero_parse_answer(&it->doc, XBODY(&s->x), s->x.len, it->result,
                                     podero_result_checks_id(it->result) ? it->hp : NULL,
                                     it->call.status, &it->res) == 0)
            it->ok = it->has_doc = 1;
        if (!it->ok)
            pd_call_context(b->c, &it->call, &it->res);
    } else {
        it->res = it->call.res;
    }
    pd_call_free(&it->call);
    b->done++;
    if (!it->ok)
        b->failed++;
    return b->progress && b->progress(b->ud, b->done, b->n);
}

/* Starts the token call on the token slot, or fails what waits for it. */
static void token_start(batch *b) {
    memset(&b->tcall, 0, sizeof b->tcall);
    pd_drop_token(b->c);
    pd_token_begin(b->c, &b->tcall, b->deadline_at);
    b->token_running = 1;
    b->token_not_before = 0;
}

/* Steps the token call: sends, or settles a done/failed renewal. Returns 1 when it changed
 * what parked items may do. */
static int token_step(batch *b, double now) {
    pd_send r;
    int act;
    if (!b->token_running || b->t->token_slot->item == -2 || now < b->token_not_before)
        return 0;
    act = pd_next(b->c, &b->tcall, now, &r);
    if (act == PD_WAIT) {
        b->token_not_before = now + b->tcall.wait;
        return 0;
    }
    if (act == PD_SEND) {
        slot *s = b->t->token_slot;
        if (prepare(s, &r, 0) == 0 && curl_multi_add_handle(b->t->multi, s->easy) == CURLM_OK) {
            s->item = -2;
            s->started = now;
            return 0;
        }
        pd_failed(b->c, &b->tcall, PD_F_MEMORY, 0, NULL, now);
        return token_step(b, now);
    }
    /* done or failed: the parked items go on */
    if (act != PD_DONE) {
        b->token_broken = 1;
        b->token_err = b->tcall.res;
    }
    pd_call_free(&b->tcall);
    b->token_running = 0;
    while (b->n_parked > 0)
        b->ready[b->n_ready++] = b->parked[--b->n_parked];
    return 1;
}

/* Steps item i (not running): starts its next request on s, or parks/queues/finishes it.
 * Returns 1 when it took the slot, 0 when not, -1 to abort (progress raised). */
static int item_step(batch *b, int i, slot *s, double now) {
    pd_fetch_item *it = &b->items[i];
    pd_send r;
    int act = pd_next(b->c, &it->call, now, &r);
    switch (act) {
    case PD_SEND:
        if (prepare(s, &r, 1) == 0 && curl_multi_add_handle(b->t->multi, s->easy) == CURLM_OK) {
            s->item = i;
            s->started = now;
            it->state = ITEM_RUNNING;
            return 1;
        }
        pd_failed(b->c, &it->call, PD_F_MEMORY, 0, NULL, now);
        return item_step(b, i, s, now);
    case PD_WAIT:
        it->state = ITEM_WAITING;
        it->not_before = now + it->call.wait;
        b->waiting[b->n_waiting++] = i;
        return 0;
    case PD_TOKEN:
        if (b->token_broken) {
            pd_token_failed(b->c, &it->call, &b->token_err);
            return finish(b, it, PD_FAIL, NULL) ? -1 : 0;
        }
        it->state = ITEM_NEEDS_TOKEN;
        b->parked[b->n_parked++] = i;
        if (!b->token_running)
            token_start(b);
        return 0;
    default:
        return finish(b, it, act, NULL) ? -1 : 0;
    }
}

int pd_curl_fetch(pd_curl *t, pd_client *c, pd_fetch_item *items, int n, int concurrency,
                  int (*progress)(void *, int, int), void *ud) {
    batch b;
    int i, aborted = 0, rc;
    double deadline_at = c->cfg.deadline > 0 ? podero_monotonic() + c->cfg.deadline : 0;
    memset(&b, 0, sizeof b);
    if (n == 0)
        return 0;
    if (concurrency > n)
        concurrency = n;
    if (pool_ensure(t, concurrency) != 0)
        return -2;
    b.t = t;
    b.c = c;
    b.items = items;
    b.n = n;
    b.deadline_at = deadline_at;
    b.progress = progress;
    b.ud = ud;
    b.ready = (int *)malloc((size_t)n * sizeof(int));
    b.waiting = (int *)malloc((size_t)n * sizeof(int));
    b.parked = (int *)malloc((size_t)n * sizeof(int));
    if (!b.ready || !b.waiting || !b.parked) {
        free(b.ready); free(b.waiting); free(b.parked);
        return -2;
    }
    for (i = 0; i < n; i++) {
        pd_fetch_item *it = &items[i];
        it->state = ITEM_QUEUED;
        podero_result_init(&it->res);
    }
    while (b.done < n && !aborted) {
        double now = podero_monotonic(), next_wake = 1.0;
        int s, running = 0, msgs, still;
        CURLMsg *m;
        /* waits that are over, and the token */
        for (i = 0; i < b.n_waiting;) {
            if (items[b.waiting[i]].not_before <= now) {
                b.ready[b.n_ready++] = b.waiting[i];
                b.waiting[i] = b.waiting[--b.n_waiting];
            } else {
                i++;
            }
        }
        token_step(&b, now);
        /* fill the idle slots */
        for (s = 0; s < concurrency && !aborted; s++) {
            slot *sl = t->slots[s];
            while (sl->item == -1 && (b.n_ready > 0 || b.next_fresh < n)) {
                int k;
                if (b.n_ready > 0) {
                    k = b.ready[--b.n_ready];
                } else {
                    k = b.next_fresh++;
                    pd_api_begin(c, &items[k].call, items[k].method, items[k].path, items[k].body,
                                 items[k].body_len, items[k].body != NULL, items[k].retry, now);
                    items[k].call.deadline_at = deadline_at;
                }
                if (item_step(&b, k, sl, now) < 0) {
                    aborted = 1;
                    break;
                }
            }
            if (sl->item >= 0)
                running++;
        }
        if (aborted || b.done >= n)
            break;
        if (running > 0 || t->token_slot->item == -2) {
            int finished_any = 0;
            curl_multi_perform(t->multi, &still);
            while ((m = curl_multi_info_read(t->multi, &msgs)) != NULL) {
                slot *sl;
                int k;
                if (m->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
                rc = m->data.result;
                curl_multi_remove_handle(t->multi, sl->easy);
                finished_any = 1;
                k = sl->item;
                if (k == -2) {
                    sl->item = -1;
                    report(c, &b.tcall, sl, (CURLcode)rc);
                    if (t->hook)
                        t->hook(t->hook_ud, &b.tcall, podero_monotonic() - sl->started);
                    token_step(&b, podero_monotonic());
                    continue;
                }
                report(c, &items[k].call, sl, (CURLcode)rc);
                if (t->hook)
                    t->hook(t->hook_ud, &items[k].call, podero_monotonic() - sl->started);
                /* a done call's body is in the slot: read it before the slot is reused */
                {
                    pd_send r;
                    int act = pd_next(c, &items[k].call, podero_monotonic(), &r);
                    if (act == PD_DONE || act == PD_FAIL) {
                        if (finish(&b, &items[k], act, sl)) {
                            sl->item = -1;
                            aborted = 1;
                            break;
                        }
                    } else if (act == PD_WAIT) {
                        items[k].state = ITEM_WAITING;
                        items[k].not_before = podero_monotonic() + items[k].call.wait;
                        b.waiting[b.n_waiting++] = k;
                    } else if (act == PD_TOKEN) {
                        if (b.token_broken) {
                            pd_token_failed(c, &items[k].call, &b.token_err);
                            if (finish(&b, &items[k], PD_FAIL, NULL)) {
                                sl->item = -1;
                                aborted = 1;
                                break;
                            }
                        } else {
                            items[k].state = ITEM_NEEDS_TOKEN;
                            b.parked[b.n_parked++] = k;
                            if (!b.token_running)
                                token_start(&b);
                        }
                    } else {
                        /* PD_SEND: pd_next already counted it; undo by sending it now */
                        sl->item = -1;
                        if (prepare(sl, &r, 1) == 0 && curl_multi_add_handle(t->multi, sl->easy) == CURLM_OK) {
                            sl->item = k;
                            sl->started = podero_monotonic();
                            continue;
                        }
                        pd_failed(c, &items[k].call, PD_F_MEMORY, 0, NULL, podero_monotonic());
                        b.ready[b.n_ready++] = k;
                    }
                }
                sl->item = -1;
            }
            if (finished_any)
                continue;
        }
        if (aborted || b.done >= n)
            break;
        /* wait for sockets (curl's own timers included), the first retry due, or the token */
        now = podero_monotonic();
        for (i = 0; i < b.n_waiting; i++) {
            double d = items[b.waiting[i]].not_before - now;
            if (d < next_wake)
                next_wake = d;
        }
        if (b.token_running && t->token_slot->item != -2 && b.token_not_before - now < next_wake)
            next_wake = b.token_not_before - now;
        if (next_wake > 0)
            curl_multi_poll(t->multi, NULL, 0, (int)(next_wake * 1000) + 1, NULL);
    }
    /* detach whatever still runs (only after an aborted progress callback) */
    for (i = 0; i < t->n_slots; i++) {
        if (t->slots[i]->item >= 0) {
            curl_multi_remove_handle(t->multi, t->slots[i]->easy);
            t->slots[i]->item = -1;
        }
    }
    if (t->token_slot->item == -2) {
        curl_multi_remove_handle(t->multi, t->token_slot->easy);
        t->token_slot->item = -1;
    }
    if (b.token_running)
        pd_call_free(&b.tcall);
    for (i = 0; i < n; i++)
        if (items[i].state != ITEM_DONE)
            pd_call_free(&items[i].call);
    free(b.ready); free(b.waiting); free(b.parked);
    return aborted ? -1 : b.failed;
}
