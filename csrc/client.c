/*
 * client.c: the client userdata. It owns one reused libcurl easy handle (connections and
 * TLS sessions stay alive between calls), the options, the token state, and the buffers of
 * the current transfer.
 *
 * A call is: check the arguments (raise on misuse), run the request policy in plain C
 * (token, attempts, waits; nothing here touches Lua), then push the result. The policy:
 *   - the token is fetched on first use and renewed before it expires (monotonic clock),
 *     with the refresh token when there is one, else with the configured grant;
 *   - retryable: connection failures, 429, 502, 503, 504 (token endpoint too);
 *     backoff is exponential with equal jitter, Retry-After is honoured, one longer than
 *     max_retry_wait is not waited for; at most 1 + max_retries attempts;
 *   - a 401 from the API renews the token once and retries once;
 *   - redirects are never followed; only http and https are spoken.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "podero.h"

/*
 * Pointer ownership: every pointer this file hands to libcurl, and the rule that keeps it valid
 * for as long as libcurl may read or write through it.
 *
 *   c->curl (the sequential handle)
 *     WRITEDATA, HEADERDATA, ERRORBUFFER -> &c->x, inside the client userdata. Lua never moves
 *       a userdata; the handle is cleaned up (client_free) before c->x's buffer is freed.
 *     HTTPHEADER -> c->api_headers / c->api_json_headers, or token_request's own list. Set
 *       before each curl_easy_perform and cleared (NULL) after it: a list may be freed (token
 *       renewal, the end of token_request) only while no perform runs, and the handle never
 *       keeps a pointer to a freed list.
 *     POSTFIELDS -> the caller's body (a local buffer, or the Lua string argument of _request,
 *       on the Lua stack for the whole call). Set for one perform, cleared after it.
 *     SHARE -> c->share: cleaned up after every handle that uses it (client_free).
 *     URL, CAINFO, PROTOCOLS_STR: libcurl copies the strings.
 *   the fetch slots (fetch_heat_pumps)
 *     Each slot is one malloc'd fetch_slot that never moves and lives until fetch_pool_free;
 *     the pool grows by reallocating c->slots, an array of pointers to slots, which libcurl
 *     never sees.
 *     WRITEDATA, HEADERDATA, ERRORBUFFER -> &slot->x; PRIVATE -> slot.
 *     HTTPHEADER -> slot->headers: the slot's own copy of the API headers, rebuilt (old list
 *       freed) only in fetch_start, when the slot's handle is in no multi handle, and when the
 *       token changed since it was built. So a token renewal in the middle of a batch frees no
 *       list that a running transfer still reads.
 *     The multi handle: every slot's handle is removed from it before it is cleaned up.
 *   The client is busy during a batch (c->in_fetch): a progress callback that calls back into
 *   the same client (a method, close) raises instead of changing what libcurl points at.
 */

enum grant { GRANT_CLIENT_CREDENTIALS, GRANT_PASSWORD, GRANT_STATIC };

/* A token answer is a few hundred bytes; anything over 1 MiB is refused. */
#define TOKEN_ANSWER_LIMIT ((size_t)1024 * 1024)

typedef struct buffer {
    char *p;
    size_t len, cap;
} buffer;

#define MAX_OLD_SECRETS 8

/* What a transfer collects; one per easy handle. */
typedef struct xfer {
    buffer body;
    size_t limit;
    int too_large;
    double retry_after;      /* < 0: none */
    char err[CURL_ERROR_SIZE];
} xfer;

typedef struct podero_client {
    CURL *curl;
    int closed;
    /* options */
    char *base_url;          /* without a trailing slash */
    char *token_url;         /* absolute */
    int grant;
    char *client_id, *client_secret, *username, *password;
    int token_form;          /* 1: application/x-www-form-urlencoded */
    int client_auth_body;    /* 1: client_id/client_secret as body fields */
    long timeout_ms, connect_timeout_ms;
    int max_retries;
    double max_retry_wait, retry_base_delay;
    double deadline;         /* seconds for a whole call, retries and waits included; 0: none */
    double deadline_at;      /* monotonic end of the current call; 0: none */
    size_t max_response_bytes;
    /* token */
    char *access_token, *refresh_token;
    double token_expires;    /* monotonic seconds; renewal is due before this */
    int have_token;
    struct curl_slist *api_headers;       /* Authorization, Accept */
    struct curl_slist *api_json_headers;  /* the same and Content-Type: application/json */
    xfer x;                  /* the state of the current transfer on c->curl */
    char url[1024];
    /* fetch_heat_pumps: a multi handle and a pool of easy handles, made on first use. Each
     * slot is its own allocation: libcurl holds pointers into it (see "Pointer ownership"),
     * so growing the pool grows only this array of pointers, never moves a slot. */
    CURLM *multi;
    struct fetch_slot **slots;
    int n_slots;
    CURLSH *share;           /* connections, TLS sessions and DNS shared by all handles */
    int in_fetch;            /* a fetch_heat_pumps batch is running: the client is busy */
    unsigned token_gen;      /* counts tokens obtained, so a batch renews once per 401 wave */
    /* tokens this client held before: kept (until close) only to redact them from messages,
     * should a server echo an old one back */
    char *old_secrets[MAX_OLD_SECRETS];
    int next_old;
    int verify_tls;
    char *ca_file, *user_agent;
    uint64_t rng;
    /* counters, for tostring and tests */
    long token_requests, api_requests;
} podero_client;

/* ---- small helpers ---------------------------------------------------------------- */

static char *dupstr(const char *s) {
    size_t n;
    char *d;
    if (!s)
        return NULL;
    n = strlen(s);
    d = (char *)malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static int buf_reserve(buffer *b, size_t extra) {
    size_t need = b->len + extra + 1, cap;
    char *p;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    p = (char *)realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(buffer *b, const char *s, size_t n) {
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int buf_adds(buffer *b, const char *s) { return buf_add(b, s, strlen(s)); }

static void buf_wipe_free(buffer *b) {
    if (b->p) {
        podero_wipe(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

/* JSON string literal of s (with quotes). */
static int buf_add_json_string(buffer *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (buf_add(b, "\"", 1))
        return -1;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[7];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\'; esc[1] = (char)ch;
            if (buf_add(b, esc, 2)) return -1;
        } else if (ch < 0x20) {
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
            if (buf_add(b, esc, 6)) return -1;
        } else if (buf_add(b, (const char *)&ch, 1)) {
            return -1;
        }
    }
    return buf_add(b, "\"", 1);
}

/* application/x-www-form-urlencoded (HTML form encoding: space is '+'). */
static int buf_add_form(buffer *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '*') {
            if (buf_add(b, (const char *)&ch, 1)) return -1;
        } else if (ch == ' ') {
            if (buf_add(b, "+", 1)) return -1;
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            if (buf_add(b, esc, 3)) return -1;
        }
    }
    return 0;
}

static int buf_add_base64(buffer *b, const unsigned char *s, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        char o[4] = {tbl[s[i] >> 2], tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                     tbl[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], tbl[s[i + 2] & 63]};
        if (buf_add(b, o, 4)) return -1;
    }
    if (n - i == 1) {
        char o[4] = {tbl[s[i] >> 2], tbl[(s[i] & 3) << 4], '=', '='};
        if (buf_add(b, o, 4)) return -1;
    } else if (n - i == 2) {
        char o[4] = {tbl[s[i] >> 2], tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                     tbl[(s[i + 1] & 15) << 2], '='};
        if (buf_add(b, o, 4)) return -1;
    }
    return 0;
}

static double rand_unit(podero_client *c) {
    /* xorshift64*: jitter only, not for secrets */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void sleep_seconds(double s) {
    struct timespec ts, rem;
    if (!(s > 0))
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
        ts = rem;
}

static void set_result(podero_result *res, const char *kind, long status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static void set_result(podero_result *res, const char *kind, long status, const char *fmt, ...) {
    va_list ap;
    res->kind = kind;
    res->status = status;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
}

/* Replaces every occurrence of secret in msg by "[redacted]". */
static void redact_one(char *msg, size_t cap, const char *secret) {
    size_t sl, ml;
    char *p;
    static const char red[] = "[redacted]";
    if (!secret || (sl = strlen(secret)) < 3)
        return;
    while ((p = strstr(msg, secret)) != NULL) {
        ml = strlen(msg);
        if (ml - sl + sizeof red > cap) {
            *p = 0;
            return;
        }
        memmove(p + sizeof red - 1, p + sl, ml - (size_t)(p - msg) - sl + 1);
        memcpy(p, red, sizeof red - 1);
    }
}

/* Replaces every secret this client holds or held in text (NUL-terminated, cap bytes). */
static void redact_text(const podero_client *c, char *text, size_t cap) {
    int i;
    redact_one(text, cap, c->client_secret);
    redact_one(text, cap, c->password);
    redact_one(text, cap, c->access_token);
    redact_one(text, cap, c->refresh_token);
    for (i = 0; i < MAX_OLD_SECRETS; i++)
        redact_one(text, cap, c->old_secrets[i]);
}

/* No secret ever reaches an error message, even when a server echoes one back. */
static void redact(const podero_client *c, podero_result *res) {
    redact_text(c, res->message, sizeof res->message);
}

/* Moves a token out of use into the redaction history (the oldest is wiped and freed). */
static void retire_secret(podero_client *c, char **s) {
    if (!*s)
        return;
    podero_strfree(&c->old_secrets[c->next_old]);
    c->old_secrets[c->next_old] = *s;
    c->next_old = (c->next_old + 1) % MAX_OLD_SECRETS;
    *s = NULL;
}

/*
 * Appends ": " (unless first) and at most maxlen bytes of s to out. The whole text is redacted
 * before it is cut, so a secret that crosses the cut cannot leave a prefix behind.
 */
static void append_server_text(const podero_client *c, char *out, size_t cap, size_t *o,
                               const char *s, size_t sl, size_t maxlen) {
    char tmp[4096 + 16];
    size_t n = sl < 4096 ? sl : 4096, i;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    redact_text(c, tmp, sizeof tmp);
    n = strlen(tmp);
    if (n > maxlen) {
        /* do not cut inside a UTF-8 sequence */
        n = maxlen;
        while (n > 0 && ((unsigned char)tmp[n] & 0xC0) == 0x80)
            n--;
    }
    i = (size_t)snprintf(out + *o, *o < cap ? cap - *o : 0, "%s%.*s", *o ? ": " : "", (int)n, tmp);
    *o += i;
    if (*o >= cap)
        *o = cap - 1;
}

/* One line from the server's error body: detail / error_description / error. */
static void server_message(const podero_client *c, const char *body, size_t len, char *out, size_t cap) {
    pj_doc d;
    char err[64];
    size_t o = 0;
    uint32_t n;
    out[0] = 0;
    if (len == 0 || len > 65536 || pj_parse(&d, body, len, err, sizeof err) != 0)
        return;
    if (d.nodes[0].type == PJ_OBJ) {
        static const char *const keys[] = {"error", "error_description", "detail", "message"};
        size_t k;
        for (k = 0; k < 4; k++) {
            n = pj_obj_get(&d, 0, keys[k], strlen(keys[k]));
            if (n == PJ_NONE)
                continue;
            if (d.nodes[n].type == PJ_STR) {
                size_t sl;
                const char *s = pj_str(&d, &d.nodes[n], &sl);
                append_server_text(c, out, cap, &o, s, sl, 300);
            } else if (d.nodes[n].type == PJ_ARR && d.nodes[n].count > 0) {
                /* Django Ninja's 422: [{"loc": [...], "msg": "..."}] */
                uint32_t e = pj_arr_get(&d, n, 0), m, l;
                if (d.nodes[e].type == PJ_OBJ) {
                    m = pj_obj_get(&d, e, "msg", 3);
                    l = pj_obj_get(&d, e, "loc", 3);
                    if (l != PJ_NONE && d.nodes[l].type == PJ_ARR && d.nodes[l].count > 0) {
                        uint32_t last = pj_arr_get(&d, l, d.nodes[l].count - 1);
                        if (d.nodes[last].type == PJ_STR) {
                            size_t sl;
                            const char *s = pj_str(&d, &d.nodes[last], &sl);
                            append_server_text(c, out, cap, &o, s, sl, 80);
                        }
                    }
                    if (m != PJ_NONE && d.nodes[m].type == PJ_STR) {
                        size_t sl;
                        const char *s = pj_str(&d, &d.nodes[m], &sl);
                        append_server_text(c, out, cap, &o, s, sl, 200);
                    }
                }
            }
            if (o + 1 >= cap)
                break;
        }
    }
    pj_free(&d);
    /* one line, printable */
    for (o = 0; out[o]; o++)
        if ((unsigned char)out[o] < 0x20 || out[o] == 0x7f)
            out[o] = ' ';
}

/* ---- libcurl callbacks (never touch Lua) -------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    xfer *x = (xfer *)ud;
    size_t n = size * nmemb;
    if (x->body.len + n > x->limit) {
        x->too_large = 1;
        return 0;               /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (buf_add(&x->body, data, n))
        return 0;
    return n;
}

static double parse_retry_after(const char *v, size_t n) {
    char tmp[128];
    size_t i;
    while (n && (*v == ' ' || *v == '\t')) { v++; n--; }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    for (i = 0; i < n && isdigit((unsigned char)tmp[i]); i++)
        ;
    if (i == n) {                       /* delay-seconds */
        if (n > 9)
            return 1e9;                 /* absurd: longer than anyone waits */
        return (double)strtol(tmp, NULL, 10);
    }
    {                                   /* HTTP-date */
        time_t t = curl_getdate(tmp, NULL);
        double d;
        if (t == (time_t)-1)
            return -1;
        d = difftime(t, time(NULL));
        return d < 0 ? 0 : d;
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
    xfer *x = (xfer *)ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > 5 && memcmp(data, "HTTP/", 5) == 0)
        x->retry_after = -1;            /* a new answer (after 1xx) starts afresh */
    else if (n > sizeof name - 1 && x->retry_after < 0 &&
             strncasecmp(data, name, sizeof name - 1) == 0)
        x->retry_after = parse_retry_after(data + sizeof name - 1, n - (sizeof name - 1));
    return n;
}

/* ---- one transfer -------------------------------------------------------------------- */

static const char *classify_curl(CURLcode rc, int *retryable) {
    *retryable = 0;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
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
        return "tls";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
        *retryable = 1;
        return "network";
    default:
        return "network";
    }
}

/* What a request is retried for. */
enum retry_policy {
    RETRY_IDEMPOTENT,   /* GET, PUT: connection failures, 429, 502, 503, 504 */
    RETRY_UNSENT_ONLY   /* POST: only when the request certainly never left (refused, DNS) */
};

typedef struct request {
    const char *method;          /* "GET", "POST" or "PUT" */
    const char *url;
    struct curl_slist *headers;
    const buffer *body;          /* NULL: no body */
    size_t limit;                /* max answer bytes */
    int policy;                  /* enum retry_policy */
    const char *what;            /* "the API", "the token endpoint": for messages */
    long *counter;               /* counts attempts */
} request;

/*
 * Performs one attempt. On a transport failure fills res (kind, message) and returns -1 with
 * *retryable set per the request's policy; otherwise returns the HTTP status with the body in
 * c->x.body.
 */
static long transfer(podero_client *c, const request *rq, podero_result *res, int *retryable) {
    CURLcode rc;
    long status = 0, timeout_ms = c->timeout_ms;
    c->x.body.len = 0;
    if (c->x.body.p)
        c->x.body.p[0] = 0;
    c->x.too_large = 0;
    c->x.retry_after = -1;
    c->x.limit = rq->limit;
    c->x.err[0] = 0;
    *retryable = 0;
    if (c->deadline_at > 0) {
        double left = c->deadline_at - podero_monotonic();
        if (left <= 0.001) {
            set_result(res, "timeout", 0, "the deadline of %g s ran out", c->deadline);
            return -1;
        }
        if (left * 1000 < (double)timeout_ms)
            timeout_ms = (long)(left * 1000) + 1;
    }
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_URL, rq->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, rq->headers);
    curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->limit);
    if (rq->body) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)rq->body->len);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, rq->body->p ? rq->body->p : "");
        if (strcmp(rq->method, "POST") != 0)
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, rq->method);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    rc = curl_easy_perform(c->curl);
    /* the handle keeps no pointer to a list or body that may be freed before the next perform */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    if (rq->body) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    res->status = status;
    if (rc == CURLE_OK)
        return status;
    if (c->x.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        set_result(res, "too_large", status, "the answer is larger than %zu bytes", rq->limit);
        return -1;
    }
    res->kind = classify_curl(rc, retryable);
    if (rq->policy == RETRY_UNSENT_ONLY)
        *retryable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                     rc == CURLE_COULDNT_RESOLVE_PROXY;
    snprintf(res->message, sizeof res->message, "%s",
             c->x.err[0] ? c->x.err : curl_easy_strerror(rc));
    if (rc == CURLE_OPERATION_TIMEDOUT && c->deadline_at > 0 && podero_monotonic() >= c->deadline_at - 0.001)
        snprintf(res->message, sizeof res->message, "the deadline of %g s ran out", c->deadline);
    return -1;
}

static int status_retryable(long s) { return s == 429 || s == 502 || s == 503 || s == 504; }

static const char *status_text(long s) {
    switch (s) {
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

static void http_error_x(const podero_client *c, const xfer *x, podero_result *res, long status,
                         const char *what) {
    char srv[400];
    server_message(c, x->body.p, x->body.len, srv, sizeof srv);
    if (status >= 300 && status < 400)
        snprintf(srv, sizeof srv, "redirect not followed");
    set_result(res, "http", status, "%s answered HTTP %ld%s%s%s%s", what, status,
               status_text(status)[0] ? " " : "", status_text(status), srv[0] ? ": " : "", srv);
}

static void http_error(podero_client *c, podero_result *res, long status, const char *what) {
    http_error_x(c, &c->x, res, status, what);
}

/* Backoff before attempt n+1 (n >= 1): equal jitter over base * 2^(n-1). */
static double backoff(podero_client *c, int n) {
    double b = c->retry_base_delay * pow(2.0, (double)(n - 1));
    if (b > 30)
        b = 30;
    return b / 2 + rand_unit(c) * b / 2;
}

/*
 * The retry rule, shared by the sequential calls and fetch_heat_pumps. After an attempt that
 * gave `status` (or -1 for a transport failure already described in res, with `retryable`),
 * decides: 0 = keep this answer; 1 = retry after *wait seconds; -1 = failed, res filled.
 * With a deadline, no wait goes past it: the last error is returned instead.
 */
static int after_attempt(podero_client *c, const xfer *x, long status, int retryable, int policy,
                         int attempts, int max_attempts, const char *what, podero_result *res,
                         double *wait) {
    if (status >= 0 && (policy == RETRY_UNSENT_ONLY || !status_retryable(status)))
        return 0;
    if (status >= 0) {
        res->retry_after = x->retry_after;
        if (x->retry_after > c->max_retry_wait) {
            http_error_x(c, x, res, status, what);
            return -1;
        }
    } else if (!retryable) {
        return -1;
    }
    /* a Retry-After of 0 (or a date in the past) falls back to backoff, never to a tight loop */
    *wait = (status >= 0 && x->retry_after > 0) ? x->retry_after : backoff(c, attempts);
    if (*wait > c->max_retry_wait)
        *wait = c->max_retry_wait;
    if (attempts >= max_attempts ||
        (c->deadline_at > 0 && podero_monotonic() + *wait >= c->deadline_at)) {
        if (status >= 0)
            http_error_x(c, x, res, status, what);
        return -1;
    }
    return 1;
}

/*
 * The retry loop of the sequential calls (token endpoint and API). Returns the final HTTP
 * status (body in c->x.body), or -1 with res filled. res->attempts counts the requests;
 * max_attempts bounds it.
 */
static long request_with_retries(podero_client *c, const request *rq, podero_result *res,
                                 int max_attempts) {
    for (;;) {
        int retryable, decision;
        long status;
        double wait = 0;
        res->attempts++;
        (*rq->counter)++;
        res->retry_after = -1;
        status = transfer(c, rq, res, &retryable);
        decision = after_attempt(c, &c->x, status, retryable, rq->policy, res->attempts,
                                 max_attempts, rq->what, res, &wait);
        if (decision == 0)
            return status;
        if (decision < 0)
            return -1;
        sleep_seconds(wait);
    }
}

/* ---- the token ----------------------------------------------------------------------- */

/* The header lists carry the token: wipe its bytes before freeing them. */
static void free_slist_wiped(struct curl_slist *l) {
    struct curl_slist *i;
    for (i = l; i; i = i->next)
        podero_wipe(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

/* Only the sequential handle uses these lists, and only during a perform (see "Pointer
 * ownership"): they can be freed at any time no perform runs. */
static void free_api_headers(podero_client *c) {
    free_slist_wiped(c->api_headers);
    free_slist_wiped(c->api_json_headers);
    c->api_headers = c->api_json_headers = NULL;
}

static void drop_token(podero_client *c) {
    retire_secret(c, &c->access_token);
    c->have_token = 0;
    free_api_headers(c);
}

static int add_field(podero_client *c, buffer *b, const char *name, const char *value) {
    if (c->token_form) {
        if (b->len && buf_add(b, "&", 1)) return -1;
        if (buf_adds(b, name) || buf_add(b, "=", 1) || buf_add_form(b, value)) return -1;
    } else {
        if (buf_add(b, b->len ? "," : "{", 1)) return -1;
        if (buf_add_json_string(b, name) || buf_add(b, ":", 1) || buf_add_json_string(b, value))
            return -1;
    }
    return 0;
}

/* Reads a token answer (200). Returns 0 and stores the token, or -1 with res filled. */
static int accept_token(podero_client *c, podero_result *res) {
    pj_doc d;
    char err[160];
    uint32_t n;
    double lifetime = 3600, margin;
    size_t l;
    const char *s;
    char *tok = NULL, *rtok = NULL;

    {
        int prc = pj_parse(&d, c->x.body.p ? c->x.body.p : "", c->x.body.len, err, sizeof err);
        if (prc == -2) {
            set_result(res, "memory", 200, "out of memory");
            return -1;
        }
        if (prc != 0) {
            set_result(res, "decode", 200, "the token answer is not valid JSON: %s", err);
            return -1;
        }
    }
    if (d.nodes[0].type != PJ_OBJ) {
        pj_free(&d);
        set_result(res, "decode", 200, "the token answer is not a JSON object");
        return -1;
    }
    if (pj_obj_get(&d, 0, "error", 5) != PJ_NONE) {
        pj_free(&d);
        server_message(c, c->x.body.p, c->x.body.len, err, sizeof err);
        set_result(res, "auth", 200, "the token endpoint refused: %s", err);
        return -1;
    }
    n = pj_obj_get(&d, 0, "access_token", 12);
    if (n == PJ_NONE || d.nodes[n].type != PJ_STR || d.nodes[n].u.s.len == 0) {
        pj_free(&d);
        set_result(res, "auth", 200, "the token answer has no access_token string");
        return -1;
    }
    s = pj_str(&d, &d.nodes[n], &l);
    if (memchr(s, 0, l) || memchr(s, '\r', l) || memchr(s, '\n', l)) {
        pj_free(&d);
        set_result(res, "auth", 200, "the token answer's access_token has control characters");
        return -1;
    }
    tok = (char *)malloc(l + 1);
    if (tok) { memcpy(tok, s, l); tok[l] = 0; }
    n = pj_obj_get(&d, 0, "token_type", 10);
    if (n != PJ_NONE) {
        s = d.nodes[n].type == PJ_STR ? pj_str(&d, &d.nodes[n], &l) : "";
        if (d.nodes[n].type != PJ_STR || l != 6 || strncasecmp(s, "bearer", 6) != 0) {
            pj_free(&d);
            podero_strfree(&tok);
            set_result(res, "auth", 200, "the token answer's token_type is not Bearer");
            return -1;
        }
    }
    n = pj_obj_get(&d, 0, "expires_in", 10);
    if (n != PJ_NONE) {
        double e = d.nodes[n].type == PJ_INT ? (double)d.nodes[n].u.i
                 : d.nodes[n].type == PJ_DBL ? d.nodes[n].u.d : -1;
        if (e >= 1)
            lifetime = e > 31536000 ? 31536000 : floor(e);   /* clamp to a year */
    }
    n = pj_obj_get(&d, 0, "refresh_token", 13);
    if (n != PJ_NONE && d.nodes[n].type == PJ_STR && d.nodes[n].u.s.len > 0) {
        s = pj_str(&d, &d.nodes[n], &l);
        rtok = (char *)malloc(l + 1);
        if (rtok) { memcpy(rtok, s, l); rtok[l] = 0; }
    }
    pj_free(&d);
    if (!tok) {
        podero_strfree(&rtok);
        set_result(res, "memory", 200, "out of memory");
        return -1;
    }
    drop_token(c);
    c->access_token = tok;
    c->token_gen++;
    if (rtok) {
        retire_secret(c, &c->refresh_token);
        c->refresh_token = rtok;
    }
    /* renew early: 10 % of the lifetime, at most 60 s */
    margin = lifetime * 0.1;
    if (margin > 60)
        margin = 60;
    c->token_expires = podero_monotonic() + lifetime - margin;
    c->have_token = 1;
    return 0;
}

/* One grant request (with retries). use_refresh: the refresh_token grant. */
static int token_request(podero_client *c, int use_refresh, podero_result *res) {
    buffer body = {0}, auth = {0}, cred = {0};
    struct curl_slist *h = NULL, *t;
    int rc = -1, basic;
    long status;
    size_t limit;
    podero_result r;

    memset(&r, 0, sizeof r);
    r.retry_after = -1;
    basic = c->client_id && !c->client_auth_body;
    if (use_refresh) {
        if (add_field(c, &body, "grant_type", "refresh_token") ||
            add_field(c, &body, "refresh_token", c->refresh_token))
            goto oom;
    } else if (c->grant == GRANT_PASSWORD) {
        if (add_field(c, &body, "grant_type", "password") ||
            add_field(c, &body, "username", c->username) ||
            add_field(c, &body, "password", c->password))
            goto oom;
    } else if (add_field(c, &body, "grant_type", "client_credentials")) {
        goto oom;
    }
    if (c->client_id && c->client_auth_body) {
        if (add_field(c, &body, "client_id", c->client_id) ||
            add_field(c, &body, "client_secret", c->client_secret ? c->client_secret : ""))
            goto oom;
    }
    if (!c->token_form && buf_add(&body, "}", 1))
        goto oom;
    if (basic) {
        /* RFC 6749 2.3.1: form-encode id and secret, then Basic */
        if (buf_add_form(&cred, c->client_id) || buf_add(&cred, ":", 1) ||
            buf_add_form(&cred, c->client_secret ? c->client_secret : "") ||
            buf_adds(&auth, "Authorization: Basic ") ||
            buf_add_base64(&auth, (const unsigned char *)cred.p, cred.len))
            goto oom;
        if (!(t = curl_slist_append(h, auth.p))) goto oom;
        h = t;
    }
    if (!(t = curl_slist_append(h, c->token_form ? "Content-Type: application/x-www-form-urlencoded"
                                                 : "Content-Type: application/json")))
        goto oom;
    h = t;
    if (!(t = curl_slist_append(h, "Accept: application/json"))) goto oom;
    h = t;
    if (!(t = curl_slist_append(h, "Expect:"))) goto oom;
    h = t;
    if (c->user_agent && !(t = curl_slist_append(h, c->user_agent))) goto oom;
    h = t;

    limit = c->max_response_bytes < TOKEN_ANSWER_LIMIT ? c->max_response_bytes : TOKEN_ANSWER_LIMIT;
    {
        request rq = {"POST", c->token_url, h, &body, limit, RETRY_IDEMPOTENT,
                      "the token endpoint", &c->token_requests};
        /* a grant request changes nothing on the server but the token: safe to repeat */
        status = request_with_retries(c, &rq, &r, 1 + c->max_retries);
    }
    if (status < 0) {
        if (r.kind && strcmp(r.kind, "too_large") == 0)
            snprintf(r.message, sizeof r.message, "the token answer is larger than %zu bytes", limit);
    } else if (status >= 200 && status < 300) {
        rc = accept_token(c, &r);
    } else if (status == 400 || status == 401) {
        char srv[400];
        server_message(c, c->x.body.p, c->x.body.len, srv, sizeof srv);
        set_result(&r, "auth", status, "the token endpoint refused the credentials (HTTP %ld)%s%s",
                   status, srv[0] ? ": " : "", srv);
    } else {
        http_error(c, &r, status, "the token endpoint");
    }
    goto done;
oom:
    set_result(&r, "memory", 0, "out of memory");
done:
    free_slist_wiped(h);
    buf_wipe_free(&body);
    buf_wipe_free(&auth);
    buf_wipe_free(&cred);
    if (rc != 0) {
        *res = r;
        redact(c, res);
    }
    return rc;
}

/* A new list of the API request headers with the current token (json: for a request with a
 * JSON body), or NULL out of memory. The caller owns it (free_slist_wiped). */
static struct curl_slist *make_api_headers(const podero_client *c, int json) {
    buffer b = {0};
    struct curl_slist *h = NULL, *t;
    if (buf_adds(&b, "Authorization: Bearer ") || buf_adds(&b, c->access_token))
        goto oom;
    if (!(h = curl_slist_append(NULL, b.p))) goto oom;
    if (!(t = curl_slist_append(h, "Accept: application/json"))) goto oom;
    h = t;
    /* the User-Agent as a header line: libcurl would format CURLOPT_USERAGENT anew each time */
    if (c->user_agent && !(t = curl_slist_append(h, c->user_agent))) goto oom;
    h = t;
    if (json) {
        if (!(t = curl_slist_append(h, "Content-Type: application/json"))) goto oom;
        h = t;
        if (!(t = curl_slist_append(h, "Expect:"))) goto oom;
        h = t;
    }
    buf_wipe_free(&b);
    return h;
oom:
    buf_wipe_free(&b);
    free_slist_wiped(h);
    return NULL;
}

static int build_api_headers(podero_client *c) {
    struct curl_slist *h = make_api_headers(c, 0), *j = make_api_headers(c, 1);
    if (!h || !j) {
        free_slist_wiped(h);
        free_slist_wiped(j);
        return -1;
    }
    free_api_headers(c);
    c->api_headers = h;
    c->api_json_headers = j;
    return 0;
}

/* Makes sure a valid token is at hand. force: renew even if the cached one looks valid. */
static int ensure_token(podero_client *c, int force, podero_result *res) {
    if (c->grant == GRANT_STATIC) {
        if (!c->api_headers && build_api_headers(c)) {
            set_result(res, "memory", 0, "out of memory");
            return -1;
        }
        return 0;
    }
    if (!force && c->have_token && podero_monotonic() < c->token_expires)
        return 0;
    drop_token(c);
    if (c->refresh_token) {
        podero_result r;
        memset(&r, 0, sizeof r);
        if (token_request(c, 1, &r) == 0)
            goto got;
        if (!r.kind || strcmp(r.kind, "auth") != 0) {
            *res = r;          /* the refresh token is kept for the next try */
            return -1;
        }
        /* the refresh token was refused: fall back to the grant itself */
        retire_secret(c, &c->refresh_token);
    }
    {
        podero_result r;
        memset(&r, 0, sizeof r);
        if (token_request(c, 0, &r) != 0) {
            *res = r;
            return -1;
        }
    }
got:
    if (build_api_headers(c)) {
        drop_token(c);
        set_result(res, "memory", 0, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * A request to the API with the token: method, c->url, an optional JSON body. Returns 0 with
 * the 2xx body in c->body, or -1 with res filled.
 */
static int api_call(podero_client *c, const char *method, const buffer *body, int policy,
                    podero_result *res) {
    int renewed = 0;
    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    for (;;) {
        long status;
        if (ensure_token(c, 0, res) != 0) {
            redact(c, res);
            return -1;
        }
        {
            request rq = {method, c->url, body ? c->api_json_headers : c->api_headers, body,
                          c->max_response_bytes, policy, "the API", &c->api_requests};
            status = request_with_retries(c, &rq, res, 1 + c->max_retries + renewed);
        }
        if (status < 0) {
            redact(c, res);
            return -1;
        }
        if (status >= 200 && status < 300) {
            res->kind = NULL;
            return 0;
        }
        if (status == 401) {
            if (c->grant != GRANT_STATIC && !renewed) {
                renewed = 1;
                drop_token(c);
                continue;
            }
            http_error(c, res, status, "the API");
            res->kind = "auth";
            if (c->grant == GRANT_STATIC)
                strncat(res->message, " (the static token was refused)",
                        sizeof res->message - strlen(res->message) - 1);
            redact(c, res);
            return -1;
        }
        http_error(c, res, status, "the API");
        redact(c, res);
        return -1;
    }
}

/* ---- the Lua side ------------------------------------------------------------------ */

static podero_client *check_client(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    if (c->closed)
        luaL_error(L, "podero: client is closed");
    if (c->in_fetch)
        luaL_error(L, "podero: client is busy: a call on the client that runs fetch_heat_pumps "
                      "cannot be made from its progress callback");
    return c;
}

static void fetch_pool_free(podero_client *c);

static void client_free(podero_client *c) {
    fetch_pool_free(c);
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    if (c->share) {
        curl_share_cleanup(c->share);   /* after every handle that used it */
        c->share = NULL;
    }
    c->in_fetch = 0;
    podero_strfree(&c->ca_file);
    podero_strfree(&c->user_agent);
    {
        int i;
        for (i = 0; i < MAX_OLD_SECRETS; i++)
            podero_strfree(&c->old_secrets[i]);
    }
    free_api_headers(c);
    podero_strfree(&c->base_url);
    podero_strfree(&c->token_url);
    podero_strfree(&c->client_id);
    podero_strfree(&c->client_secret);
    podero_strfree(&c->username);
    podero_strfree(&c->password);
    podero_strfree(&c->access_token);
    podero_strfree(&c->refresh_token);
    buf_wipe_free(&c->x.body);
    c->have_token = 0;
    c->closed = 1;
}

static int l_close(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    if (c->in_fetch)
        return luaL_error(L, "podero: client is busy: close() cannot be called from the progress "
                             "callback of its own fetch_heat_pumps");
    client_free(c);
    return 0;
}

static int l_tostring(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    static const char *const grants[] = {"client_credentials", "password", "token"};
    if (c->closed)
        lua_pushfstring(L, "podero.client (closed): %p", (void *)c);
    else
        lua_pushfstring(L, "podero.client %s (%s): %p", c->base_url, grants[c->grant], (void *)c);
    return 1;
}

/* Checks a UUID argument and writes it lower-case into out[37]. Raises naming the argument. */
static void check_uuid(lua_State *L, int idx, const char *name, const char *fn, char *out) {
    size_t len, i;
    const char *s;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "podero: %s: %s must be a UUID string, got %s", fn, name, luaL_typename(L, idx));
    s = lua_tolstring(L, idx, &len);
    if (len != 36)
        goto bad;
    for (i = 0; i < 36; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                goto bad;
        } else if (!isxdigit(ch)) {
            goto bad;
        }
        out[i] = (char)tolower(ch);
    }
    out[36] = 0;
    return;
bad:
    luaL_error(L, "podero: %s: %s must be a UUID (8-4-4-4-12 hex digits), got a string of %d bytes that is not one",
               fn, name, (int)len);
}

/* Reads the options table of a request: only include_deleted is known. */
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

/* Sets the context {client, org_id, user_id} of the view on top of the stack. */
static void bind_context(lua_State *L, const char *org, const char *user) {
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "client");
    lua_pushstring(L, org);
    lua_setfield(L, -2, "org_id");
    if (user) {
        lua_pushstring(L, user);
        lua_setfield(L, -2, "user_id");
    }
    podero_doc_set_context(L, -2);
}

/* The common tail of the GET calls: runs the request and pushes a view or nil, err. */
static int get_and_push(lua_State *L, podero_client *c, int kind, int want_array,
                        const char *org, const char *user, const char *want_id) {
    podero_result res;
    c->deadline_at = c->deadline > 0 ? podero_monotonic() + c->deadline : 0;
    if (api_call(c, "GET", NULL, RETRY_IDEMPOTENT, &res) != 0)
        return podero_fail(L, &res);
    if (!podero_doc_push(L, c->x.body.p ? c->x.body.p : "", c->x.body.len, kind, want_array,
                         want_id, &res))
        return podero_fail(L, &res);
    bind_context(L, org, user);
    return 1;
}

static int l_heat_pump(lua_State *L) {
    podero_client *c = check_client(L);
    char org[37], user[37], hp[37];
    int del;
    check_uuid(L, 2, "org_id", "heat_pump", org);
    check_uuid(L, 3, "user_id", "heat_pump", user);
    check_uuid(L, 4, "heat_pump_id", "heat_pump", hp);
    del = check_request_opts(L, 5, "heat_pump");
    snprintf(c->url, sizeof c->url, "%s/api/partners/v2.0/org/%s/users/%s/heat-pumps/%s%s",
             c->base_url, org, user, hp, del ? "?include_deleted=true" : "");
    return get_and_push(L, c, PODERO_KIND_HEAT_PUMP, 0, org, user, hp);
}

static int l_users(lua_State *L) {
    podero_client *c = check_client(L);
    char org[37];
    int del;
    check_uuid(L, 2, "org_id", "users", org);
    del = check_request_opts(L, 3, "users");
    snprintf(c->url, sizeof c->url, "%s/api/partners/v2.0/org/%s/users%s", c->base_url, org,
             del ? "?include_deleted=true" : "");
    return get_and_push(L, c, PODERO_KIND_PLAIN, 1, org, NULL, NULL);
}

static int l_heat_pumps(lua_State *L) {
    podero_client *c = check_client(L);
    char org[37], user[37];
    int del;
    check_uuid(L, 2, "org_id", "heat_pumps", org);
    check_uuid(L, 3, "user_id", "heat_pumps", user);
    del = check_request_opts(L, 4, "heat_pumps");
    snprintf(c->url, sizeof c->url, "%s/api/partners/v2.0/org/%s/users/%s/heat-pumps%s",
             c->base_url, org, user, del ? "?include_deleted=true" : "");
    return get_and_push(L, c, PODERO_KIND_HEAT_PUMP_LIST, 1, org, user, NULL);
}

/*
 * client:_request(method, path [, json_body [, result [, expect_id]]]): the primitive behind the Lua-level
 * calls in lua/podero/. method: "GET", "PUT" or "POST"; path: below base_url, starting
 * with "/api/"; json_body: a JSON text (sent with Content-Type: application/json); result:
 * "object" (default), "heat_pump", "array", "heat_pump_list" or "none" (any 2xx body, answered
 * as true). GET and PUT follow the retry rules of heat_pump; POST is retried only when the
 * request never left (connection refused, DNS). expect_id (with result "heat_pump"): the id the
 * answer must be about (podero_heat_pump_check).
 */
static int l_request(lua_State *L) {
    podero_client *c = check_client(L);
    static const char *const methods[] = {"GET", "PUT", "POST", NULL};
    static const char *const results[] = {"object", "heat_pump", "array", "heat_pump_list", "none", NULL};
    int m = luaL_checkoption(L, 2, NULL, methods);
    size_t plen, blen = 0, i;
    const char *path = luaL_checklstring(L, 3, &plen);
    const char *json = luaL_optlstring(L, 4, NULL, &blen);
    int r = luaL_checkoption(L, 5, "object", results);
    char want_id[37] = "";
    buffer body = {0};
    podero_result res;
    int rc;
    if (plen < 6 || memcmp(path, "/api/", 5) != 0 || plen + strlen(c->base_url) >= sizeof c->url)
        return luaL_error(L, "podero: _request: path must start with /api/ and be shorter than %d bytes",
                          (int)(sizeof c->url - strlen(c->base_url)));
    for (i = 0; i < plen; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (!(isalnum(ch) || strchr("-._~/?=&%,:+", ch)))
            return luaL_error(L, "podero: _request: path has a character that must be percent-encoded at byte %d",
                              (int)i + 1);
    }
    if (json && m == 0)
        return luaL_error(L, "podero: _request: a GET has no body");
    if (!lua_isnoneornil(L, 6))
        check_uuid(L, 6, "expect_id", "_request", want_id);
    snprintf(c->url, sizeof c->url, "%s%.*s", c->base_url, (int)plen, path);
    body.p = (char *)json;
    body.len = blen;
    c->deadline_at = c->deadline > 0 ? podero_monotonic() + c->deadline : 0;
    rc = api_call(c, methods[m], json ? &body : NULL, m == 2 ? RETRY_UNSENT_ONLY : RETRY_IDEMPOTENT, &res);
    if (rc != 0)
        return podero_fail(L, &res);
    if (r == 4) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (!podero_doc_push(L, c->x.body.p ? c->x.body.p : "", c->x.body.len,
                         r == 1 ? PODERO_KIND_HEAT_PUMP : r == 3 ? PODERO_KIND_HEAT_PUMP_LIST : PODERO_KIND_PLAIN,
                         r >= 2, r == 1 ? want_id : NULL, &res))
        return podero_fail(L, &res);
    return 1;
}

/* Sets every option a handle of this client needs; its callbacks write into x. */
static CURLcode configure_easy(podero_client *c, CURL *h, xfer *x) {
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->err);
    SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
    if (c->ca_file)
        SET(CURLOPT_CAINFO, c->ca_file);
    if (c->share)
        SET(CURLOPT_SHARE, c->share);
#undef SET
    return rc;
}

/* ---- fetch_heat_pumps: many heat pumps at once on libcurl's multi interface ------------ */

typedef struct fetch_slot {
    CURL *easy;
    xfer x;
    int item;               /* the item it carries, -1 when idle */
    struct curl_slist *headers;  /* this slot's API headers (see "Pointer ownership") */
    unsigned headers_gen;   /* the token generation they carry */
} fetch_slot;

enum { ITEM_WAITING = 0, ITEM_RUNNING, ITEM_DONE };

typedef struct fetch_item {
    char org[37], user[37], hp[37];
    int state, attempts, renewed;
    unsigned gen;           /* token generation the last attempt carried */
    double not_before;      /* monotonic time before which a retry may not start */
    int has_doc;
    pj_doc doc;
    podero_result res;      /* when done without a doc */
} fetch_item;

typedef struct fetch_batch {
    int n;
    fetch_item *items;      /* malloc'd; freed by __gc with any documents left in it */
    int *retry_q;
} fetch_batch;

#define FETCH_BATCH_MT "podero.fetch_batch"

static int batch_gc(lua_State *L) {
    fetch_batch *b = (fetch_batch *)lua_touserdata(L, 1);
    int i;
    if (b->items) {
        for (i = 0; i < b->n; i++)
            if (b->items[i].has_doc)
                pj_free(&b->items[i].doc);
        free(b->items);
        b->items = NULL;
    }
    free(b->retry_q);
    b->retry_q = NULL;
    return 0;
}

static void fetch_pool_free(podero_client *c) {
    int i;
    for (i = 0; i < c->n_slots; i++) {
        fetch_slot *sl = c->slots[i];
        if (c->multi && sl->item >= 0)
            curl_multi_remove_handle(c->multi, sl->easy);
        if (sl->easy)
            curl_easy_cleanup(sl->easy);
        free_slist_wiped(sl->headers);
        buf_wipe_free(&sl->x.body);
        free(sl);
    }
    free(c->slots);
    c->slots = NULL;
    c->n_slots = 0;
    if (c->multi) {
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
    }
}

/* Makes sure there are at least n configured idle slots. Returns 0, or -1 out of memory. */
static int fetch_pool_ensure(podero_client *c, int n) {
    fetch_slot **s;
    if (!c->multi) {
        c->multi = curl_multi_init();
        if (!c->multi)
            return -1;
        /* HTTP/2 multiplexing where the server offers it (the default since 7.62; said here) */
        curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    }
    if (n <= c->n_slots)
        return 0;
    /* only the array of pointers moves; the slots libcurl points into stay where they are */
    s = (fetch_slot **)realloc(c->slots, (size_t)n * sizeof *s);
    if (!s)
        return -1;
    c->slots = s;
    while (c->n_slots < n) {
        fetch_slot *sl = (fetch_slot *)calloc(1, sizeof *sl);
        if (!sl)
            return -1;
        sl->item = -1;
        sl->x.retry_after = -1;
        sl->easy = curl_easy_init();
        if (!sl->easy || configure_easy(c, sl->easy, &sl->x) != CURLE_OK) {
            if (sl->easy)
                curl_easy_cleanup(sl->easy);
            free(sl);
            return -1;
        }
        curl_easy_setopt(sl->easy, CURLOPT_PRIVATE, (void *)sl);
        c->slots[c->n_slots++] = sl;
    }
    return 0;
}

static void item_fail(fetch_item *it, const podero_result *r) {
    it->res = *r;
    it->res.attempts = it->attempts;
    it->state = ITEM_DONE;
}

/* Starts item i on the idle slot sl. Returns 0, or -1 (out of memory; nothing started). */
static int fetch_start(podero_client *c, fetch_batch *b, int i, fetch_slot *sl, int include_deleted) {
    fetch_item *it = &b->items[i];
    long timeout_ms = c->timeout_ms;
    if (!sl->headers || sl->headers_gen != c->token_gen) {
        /* the slot is idle (in no multi handle): its old list can go */
        struct curl_slist *h = make_api_headers(c, 0);
        if (!h)
            return -1;
        free_slist_wiped(sl->headers);
        sl->headers = h;
        sl->headers_gen = c->token_gen;
    }
    snprintf(c->url, sizeof c->url, "%s/api/partners/v2.0/org/%s/users/%s/heat-pumps/%s%s",
             c->base_url, it->org, it->user, it->hp, include_deleted ? "?include_deleted=true" : "");
    if (c->deadline_at > 0) {
        double left = c->deadline_at - podero_monotonic();
        if (left * 1000 < (double)timeout_ms)
            timeout_ms = (long)(left * 1000) + 1;
    }
    sl->x.body.len = 0;
    sl->x.too_large = 0;
    sl->x.retry_after = -1;
    sl->x.limit = c->max_response_bytes;
    sl->x.err[0] = 0;
    if (curl_easy_setopt(sl->easy, CURLOPT_URL, c->url) != CURLE_OK)
        return -1;              /* libcurl copies the URL: only out of memory fails */
    curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, sl->headers);
    curl_easy_setopt(sl->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(sl->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
    curl_easy_setopt(sl->easy, CURLOPT_HTTPGET, 1L);
    if (curl_multi_add_handle(c->multi, sl->easy) != CURLM_OK)
        return -1;
    sl->item = i;
    it->state = ITEM_RUNNING;
    it->attempts++;
    it->gen = c->token_gen;
    c->api_requests++;
    return 0;
}

/*
 * A transfer of the batch ended: apply the same rules as a sequential call. Returns 1 when
 * the item is finished (done or failed), 0 when it was queued again.
 */
static int fetch_finish(podero_client *c, fetch_batch *b, fetch_slot *sl, CURLcode rc,
                        int *n_retry, podero_result *token_err, int *token_broken) {
    fetch_item *it = &b->items[sl->item];
    podero_result r;
    long status = 0;
    int retryable = 0, decision;
    double wait = 0;
    int i = sl->item;
    memset(&r, 0, sizeof r);
    r.retry_after = -1;
    sl->item = -1;
    curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = status;
    if (rc != CURLE_OK) {
        if (sl->x.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            set_result(&r, "too_large", status, "the answer is larger than %zu bytes", sl->x.limit);
        } else {
            r.kind = classify_curl(rc, &retryable);
            snprintf(r.message, sizeof r.message, "%s", sl->x.err[0] ? sl->x.err : curl_easy_strerror(rc));
        }
        status = -1;
    }
    decision = after_attempt(c, &sl->x, status, retryable, RETRY_IDEMPOTENT, it->attempts,
                             1 + c->max_retries + it->renewed, "the API", &r, &wait);
    if (decision == 1) {
        it->state = ITEM_WAITING;
        it->not_before = podero_monotonic() + wait;
        b->retry_q[(*n_retry)++] = i;
        return 0;
    }
    if (decision < 0) {
        redact(c, &r);
        item_fail(it, &r);
        return 1;
    }
    if (status >= 200 && status < 300) {
        char err[200];
        int prc = pj_parse(&it->doc, sl->x.body.p ? sl->x.body.p : "", sl->x.body.len, err, sizeof err);
        if (prc == 0 && podero_heat_pump_check(&it->doc, it->hp, status, &r) == 0) {
            it->has_doc = 1;
            it->state = ITEM_DONE;
            return 1;
        }
        if (prc == 0)
            pj_free(&it->doc);
        else if (prc == -2)
            set_result(&r, "memory", status, "out of memory");
        else
            set_result(&r, "decode", status, "the answer is not valid JSON: %s", err);
        item_fail(it, &r);
        return 1;
    }
    if (status == 401 && c->grant != GRANT_STATIC && !it->renewed) {
        it->renewed = 1;
        if (it->gen == c->token_gen && !*token_broken) {
            /* the first 401 on this token renews it; the others of the wave just retry */
            drop_token(c);
            if (ensure_token(c, 0, token_err) != 0) {
                redact(c, token_err);
                *token_broken = 1;
            }
        }
        if (*token_broken) {
            item_fail(it, token_err);
            return 1;
        }
        it->state = ITEM_WAITING;
        it->not_before = 0;
        b->retry_q[(*n_retry)++] = i;
        return 0;
    }
    http_error_x(c, &sl->x, &r, status, "the API");
    if (status == 401)
        r.kind = "auth";
    redact(c, &r);
    item_fail(it, &r);
    return 1;
}

/* Reads refs[i] into item: { org_id, user_id, heat_pump_id } positional or named, or a heat
 * pump object (its org and user from where it came from, its id). Raises. */
static void fetch_read_ref(lua_State *L, int refs, int i, fetch_item *it) {
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
            check_uuid(L, lua_gettop(L), what, "fetch_heat_pumps", dst[k]);
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
        check_uuid(L, lua_gettop(L), what, "fetch_heat_pumps", dst[k]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Calls progress (stack index 4) with (done, total) under lua_pcall, with no libcurl call on
 * the C stack. Returns 0, or 1 when it raised (the error is left on the stack). */
static int call_progress(lua_State *L, int done, int n) {
    lua_pushvalue(L, 4);
    lua_pushinteger(L, done);
    lua_pushinteger(L, n);
    return lua_pcall(L, 2, 0, 0) != LUA_OK;
}

/*
 * client:fetch_heat_pumps(refs [, opts]) -> hps, errs, failed
 * opts: concurrency (1..256, default 16), include_deleted, progress = function(done, total).
 */
static int l_fetch_heat_pumps(lua_State *L) {
    podero_client *c = check_client(L);
    int n, i, concurrency = 16, include_deleted = 0, progress = 0, failed = 0, done = 0;
    int next_fresh = 0, n_retry = 0, running = 0, token_broken = 0, aborted = 0;
    fetch_batch *b;
    podero_result token_err;

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
                    luaL_error(L, "podero: fetch_heat_pumps: opts.concurrency must be an integer from 1 to 256");
                concurrency = (int)v;
            } else if (strcmp(k, "include_deleted") == 0) {
                if (lua_type(L, -1) != LUA_TBOOLEAN)
                    luaL_error(L, "podero: fetch_heat_pumps: opts.include_deleted must be a boolean, got %s",
                               luaL_typename(L, -1));
                include_deleted = lua_toboolean(L, -1);
            } else if (strcmp(k, "progress") == 0) {
                if (lua_type(L, -1) != LUA_TFUNCTION)
                    luaL_error(L, "podero: fetch_heat_pumps: opts.progress must be a function, got %s",
                               luaL_typename(L, -1));
                progress = 1;
            } else {
                luaL_error(L, "podero: fetch_heat_pumps: unknown option '%s' in opts", k);
            }
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 3);
    if (progress)
        lua_getfield(L, 3, "progress");             /* 4 */
    else
        lua_pushnil(L);
    n = (int)luaL_len(L, 2);
    if (n < 0 || n > 1000000)
        luaL_error(L, "podero: fetch_heat_pumps: refs must hold at most 1000000 references");

    b = (fetch_batch *)lua_newuserdatauv(L, sizeof *b, 0);   /* 5 */
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, FETCH_BATCH_MT)) {
        lua_pushcfunction(L, batch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    b->items = (fetch_item *)calloc((size_t)(n ? n : 1), sizeof *b->items);
    b->retry_q = (int *)malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!b->items || !b->retry_q)
        return luaL_error(L, "not enough memory");
    b->n = n;
    /* every id is checked before anything is sent */
    for (i = 0; i < n; i++)
        fetch_read_ref(L, 2, i + 1, &b->items[i]);
    if (concurrency > n)
        concurrency = n ? n : 1;
    if (fetch_pool_ensure(c, concurrency) != 0)
        return luaL_error(L, "not enough memory");
    luaL_checkstack(L, 8, "podero: fetch_heat_pumps");

    /* ---- the loop: no Lua call in here can raise (progress runs under lua_pcall) ---- */
    memset(&token_err, 0, sizeof token_err);
    c->deadline_at = c->deadline > 0 ? podero_monotonic() + c->deadline : 0;
    c->in_fetch = 1;
    while (done < n && !aborted) {
        int s, still, msgs;
        double now = podero_monotonic(), next_wake = 1.0;
        CURLMsg *m;
        /* start what may start */
        for (s = 0; s < concurrency && (next_fresh < n || n_retry > 0); s++) {
            int pick = -1, q;
            if (c->slots[s]->item >= 0)
                continue;
            for (q = 0; q < n_retry; q++) {
                if (b->items[b->retry_q[q]].not_before <= now) {
                    pick = b->retry_q[q];
                    b->retry_q[q] = b->retry_q[--n_retry];
                    break;
                }
            }
            if (pick < 0 && next_fresh < n)
                pick = next_fresh++;
            if (pick < 0)
                break;
            if (c->deadline_at > 0 && now >= c->deadline_at) {
                podero_result r;
                memset(&r, 0, sizeof r);
                r.retry_after = -1;
                set_result(&r, "timeout", 0, "the deadline of %g s ran out", c->deadline);
                item_fail(&b->items[pick], &r);
            } else if (token_broken || ensure_token(c, 0, &token_err) != 0) {
                if (!token_broken)
                    redact(c, &token_err);
                token_broken = 1;
                item_fail(&b->items[pick], &token_err);
            } else if (fetch_start(c, b, pick, c->slots[s], include_deleted) == 0) {
                running++;
                continue;
            } else {
                podero_result r;
                memset(&r, 0, sizeof r);
                r.retry_after = -1;
                set_result(&r, "memory", 0, "out of memory");
                item_fail(&b->items[pick], &r);
            }
            /* finished without a transfer */
            done++;
            failed++;
            s--;    /* the slot is still free */
            if (progress && call_progress(L, done, n)) {
                aborted = 1;
                break;
            }
        }
        if (aborted)
            break;
        if (running > 0) {
            int finished_any = 0;
            curl_multi_perform(c->multi, &still);
            while ((m = curl_multi_info_read(c->multi, &msgs)) != NULL) {
                fetch_slot *sl;
                int idx;
                if (m->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
                curl_multi_remove_handle(c->multi, sl->easy);
                running--;
                finished_any = 1;
                idx = sl->item;
                if (fetch_finish(c, b, sl, m->data.result, &n_retry, &token_err, &token_broken)) {
                    done++;
                    if (!b->items[idx].has_doc)
                        failed++;
                    if (progress && call_progress(L, done, n)) {
                        aborted = 1;
                        break;
                    }
                }
            }
            /* refill the freed slots before waiting on the others */
            if (finished_any)
                continue;
        }
        if (aborted || done >= n)
            break;
        /* wait for sockets (curl's own timers included), or for the first retry that is due */
        now = podero_monotonic();
        for (i = 0; i < n_retry; i++) {
            double d = b->items[b->retry_q[i]].not_before - now;
            if (d < next_wake)
                next_wake = d;
        }
        if (next_wake > 0)
            curl_multi_poll(c->multi, NULL, 0, (int)(next_wake * 1000) + 1, NULL);
    }
    /* detach whatever still runs (only after an aborted progress callback) */
    for (i = 0; i < c->n_slots; i++) {
        if (c->slots[i]->item >= 0) {
            curl_multi_remove_handle(c->multi, c->slots[i]->easy);
            c->slots[i]->item = -1;
        }
    }
    c->in_fetch = 0;
    if (aborted)
        return lua_error(L);

    /* ---- the answers ---- */
    lua_createtable(L, n, 0);   /* hps */
    lua_createtable(L, n, 0);   /* errs */
    lua_newtable(L);            /* context tables by org/user, shared by the heat pumps of one user */
    for (i = 0; i < n; i++) {
        fetch_item *it = &b->items[i];
        if (it->has_doc) {
            podero_doc_push_parsed(L, &it->doc, PODERO_KIND_HEAT_PUMP);
            it->has_doc = 0;
            lua_pushfstring(L, "%s/%s", it->org, it->user);
            if (lua_rawget(L, -3) != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_createtable(L, 0, 3);
                lua_pushvalue(L, 1);
                lua_setfield(L, -2, "client");
                lua_pushstring(L, it->org);
                lua_setfield(L, -2, "org_id");
                lua_pushstring(L, it->user);
                lua_setfield(L, -2, "user_id");
                lua_pushfstring(L, "%s/%s", it->org, it->user);
                lua_pushvalue(L, -2);
                lua_rawset(L, -5);
            }
            podero_doc_set_context(L, -2);
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
 * client:token([force]) -> access_token, renew_in: a valid bearer token of this client,
 * fetched or renewed exactly as the API calls do it (refresh token first, retries, the same
 * errors), and the seconds until it is due for renewal (nil for a static token). force: renew
 * even if the cached one looks valid. nil, err on failure. For lua/podero/ngx.lua, which
 * shares one token between nginx workers; the string is a secret and must never be logged.
 */
static int l_token(lua_State *L) {
    podero_client *c = check_client(L);
    int force = lua_toboolean(L, 2);
    podero_result res;
    memset(&res, 0, sizeof res);
    res.retry_after = -1;
    c->deadline_at = c->deadline > 0 ? podero_monotonic() + c->deadline : 0;
    if (ensure_token(c, force, &res) != 0)
        return podero_fail(L, &res);
    lua_pushstring(L, c->access_token);
    if (c->grant == GRANT_STATIC)
        lua_pushnil(L);
    else
        lua_pushnumber(L, c->token_expires - podero_monotonic());
    return 2;
}

/* client:stats(): counters of requests made (for tests and monitoring; no secrets). */
static int l_stats(lua_State *L) {
    podero_client *c = (podero_client *)luaL_checkudata(L, 1, PODERO_CLIENT_MT);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, c->token_requests);
    lua_setfield(L, -2, "token_requests");
    lua_pushinteger(L, c->api_requests);
    lua_setfield(L, -2, "api_requests");
    lua_pushboolean(L, c->have_token);
    lua_setfield(L, -2, "has_token");
    return 1;
}

/* Seconds to libcurl milliseconds: never 0 (which libcurl reads as "no timeout"), no overflow. */
static long seconds_to_ms(double s) {
    double ms = ceil(s * 1000);
    if (!(ms >= 1))
        return 1;
    if (ms > 1e9)
        return 1000000000L;     /* about 11.5 days: as good as none */
    return (long)ms;
}

/* ---- construction ---------------------------------------------------------------------- */

static char *opt_string(lua_State *L, const char *name) {
    char *s = NULL;
    if (lua_getfield(L, 1, name) == LUA_TSTRING)
        s = dupstr(lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

static double opt_number(lua_State *L, const char *name, double dflt) {
    double v = dflt;
    if (lua_getfield(L, 1, name) == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, const char *name, int dflt) {
    int v = dflt;
    if (lua_getfield(L, 1, name) == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/*
 * core.new(opts): opts has been validated and completed by lua/podero/init.lua; here we
 * only copy it into C. Raises only for out-of-memory or a libcurl that refuses an option.
 */
static int l_new(lua_State *L) {
    podero_client *c;
    char *s;
    CURLcode rc = CURLE_OK;
    luaL_checktype(L, 1, LUA_TTABLE);
    c = (podero_client *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->closed = 1;              /* until complete: __gc frees whatever is there */
    luaL_setmetatable(L, PODERO_CLIENT_MT);

    c->base_url = opt_string(L, "base_url");
    c->token_url = opt_string(L, "token_url");
    c->client_id = opt_string(L, "client_id");
    c->client_secret = opt_string(L, "client_secret");
    c->username = opt_string(L, "username");
    c->password = opt_string(L, "password");
    c->access_token = opt_string(L, "token");
    s = opt_string(L, "grant");
    c->grant = !s ? GRANT_CLIENT_CREDENTIALS : strcmp(s, "password") == 0 ? GRANT_PASSWORD
             : strcmp(s, "token") == 0 ? GRANT_STATIC : GRANT_CLIENT_CREDENTIALS;
    free(s);
    s = opt_string(L, "token_format");
    c->token_form = s && strcmp(s, "form") == 0;
    free(s);
    s = opt_string(L, "client_auth");
    c->client_auth_body = s && strcmp(s, "body") == 0;
    free(s);
    c->timeout_ms = seconds_to_ms(opt_number(L, "timeout", 30));
    c->connect_timeout_ms = seconds_to_ms(opt_number(L, "connect_timeout", 10));
    c->max_retries = (int)opt_number(L, "max_retries", 2);
    c->max_retry_wait = opt_number(L, "max_retry_wait", 10);
    c->retry_base_delay = opt_number(L, "retry_base_delay", 0.5);
    c->deadline = opt_number(L, "deadline", 0);
    c->max_response_bytes = (size_t)opt_number(L, "max_response_bytes", 8 * 1024 * 1024);
    c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 88172645463325252ULL;
    c->x.retry_after = -1;

    if (!c->base_url || !c->token_url || (c->grant == GRANT_STATIC && !c->access_token) ||
        (c->grant == GRANT_CLIENT_CREDENTIALS && (!c->client_id || !c->client_secret)) ||
        (c->grant == GRANT_PASSWORD && (!c->username || !c->password)))
        return luaL_error(L, "not enough memory");
    c->have_token = c->grant == GRANT_STATIC;
    c->curl = curl_easy_init();
    if (!c->curl)
        return luaL_error(L, "podero: curl_easy_init failed");

    c->verify_tls = opt_bool(L, "verify_tls", 1);
    c->ca_file = opt_string(L, "ca_file");
    s = opt_string(L, "user_agent");
    if (s) {
        size_t n = strlen(s) + sizeof "User-Agent: ";
        c->user_agent = (char *)malloc(n);
        if (c->user_agent)
            snprintf(c->user_agent, n, "User-Agent: %s", s);
        free(s);
    }
    c->share = curl_share_init();
    if (!c->share)
        return luaL_error(L, "podero: curl_share_init failed");
    /* one TLS session cache and DNS cache for all the client's handles; connections are
     * pooled per handle set (the sequential handle keeps its own; fetch_heat_pumps' handles
     * share the multi handle's pool) */
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    rc = configure_easy(c, c->curl, &c->x);
    if (rc != CURLE_OK)
        return luaL_error(L, "podero: libcurl refused an option: %s", curl_easy_strerror(rc));
    c->closed = 0;
    return 1;
}

static int l_gc(lua_State *L) {
    podero_client *c = (podero_client *)lua_touserdata(L, 1);
    client_free(c);
    return 0;
}

void podero_client_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"heat_pump", l_heat_pump},
        {"users", l_users},
        {"heat_pumps", l_heat_pumps},
        {"close", l_close},
        {"stats", l_stats},
        {"token", l_token},
        {"_request", l_request},
        {"fetch_heat_pumps", l_fetch_heat_pumps},
        {NULL, NULL}
    };
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
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");     /* the Lua layer adds methods here */
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "podero.client");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
}
