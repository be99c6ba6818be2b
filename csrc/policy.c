/*
 * policy.c: the request policy of podero, written once and free of I/O ("sans-I/O"). A
 * transport (http_curl.c: libcurl easy and multi; lua/podero/ngx.lua: nginx cosockets) asks
 * pd_next what to do, does it, and reports back with pd_answer or pd_failed:
 *
 *   pd_api_begin / pd_token_begin
 *        |
 *   pd_next --PD_SEND--> transport sends --> pd_answer(status, Retry-After, body) | pd_failed(class)
 *        |--PD_WAIT--> transport sleeps ----> pd_next
 *        |--PD_TOKEN-> transport gets a token (a grant call, or a shared cache) --> pd_next
 *        |--PD_DONE--> 2xx: the transport parses the body it holds
 *        `--PD_FAIL--> call->res, redacted
 *
 * The rules, each in one place:
 *   - the token is fetched on first use and renewed before it expires (token.c), with the
 *     refresh token when there is one, else with the configured grant; a refused refresh
 *     token falls back to the grant;
 *   - an API 401 drops the token (unless a newer one already replaced it), renews once and
 *     sends once more; a static token that is refused is an "auth" error;
 *   - retryable: transport failures (POST: only when certainly unsent), 429, 502, 503, 504;
 *     backoff is exponential with equal jitter; Retry-After is honoured, one longer than
 *     max_retry_wait is not waited for; at most 1 + max_retries attempts;
 *   - the deadline bounds the whole call: no attempt starts after it, every attempt's timeout
 *     is clamped to it, no wait goes past it;
 *   - answers are capped (max_response_bytes; token answers at 1 MiB); redirects are errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

enum { ST_READY = 0, ST_SENT, ST_WAIT, ST_DONE, ST_FAIL };

int pd_client_init(pd_client *c) {
    c->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)c << 16);
    if (c->cfg.grant == PD_GRANT_STATIC) {
        c->have_token = 1;
        return pd_build_api_headers(c);
    }
    return 0;
}

void pd_client_free(pd_client *c) {
    pd_config *o = &c->cfg;
    podero_strfree(&c->api_headers);
    podero_strfree(&c->api_json_headers);
    podero_secrets_free(&c->sec);
    podero_strfree(&o->base_url);
    podero_strfree(&o->token_url);
    podero_strfree(&o->client_id);
    podero_strfree(&o->username);
    podero_strfree(&o->user_agent);
    podero_strfree(&o->ca_file);
    podero_strfree(&o->proxy);
    c->have_token = 0;
}

/* call: zeroed, or freed (pd_call_free) since its last use. Field by field: its 1.4 KB of text
 * buffers only need to be empty strings (a memset of the whole is a tenth of a request's cost
 * in this layer). A field added to pd_call is reset here. */
static void call_reset(pd_call *call, int kind, double deadline_at) {
    call->kind = kind;
    call->state = ST_READY;
    call->method = NULL;
    call->url[0] = 0;
    call->body = NULL;
    call->body_len = 0;
    call->has_body = 0;
    call->retry = 0;
    call->attempts = 0;
    call->max_attempts = 0;
    call->renewed = 0;
    call->use_refresh = 0;
    call->gen = 0;
    call->deadline_at = deadline_at;
    call->wait = 0;
    call->status = 0;
    podero_result_init(&call->res);
    memset(&call->tbody, 0, sizeof call->tbody);
    memset(&call->theaders, 0, sizeof call->theaders);
    call->request_id[0] = 0;
    call->server_request_id[0] = 0;
    call->last_status = 0;
    call->last_kind = NULL;
}

/* The path of a URL, without scheme, authority and query. */
static void url_path(const char *url, char *out, size_t cap) {
    const char *p = strstr(url, "://"), *q;
    size_t n;
    p = p ? strchr(p + 3, '/') : NULL;
    if (!p)
        p = "/";
    q = strchr(p, '?');
    n = q ? (size_t)(q - p) : strlen(p);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

void pd_call_attempt(const pd_client *c, const pd_call *call, pd_attempt *a) {
    a->method = call->method;
    a->endpoint = call->kind == PD_CALL_TOKEN ? "token" : "api";
    url_path(call->url, a->path, sizeof a->path);
    podero_redact(&c->sec, a->path, sizeof a->path);
    a->request_id = call->server_request_id[0] ? call->server_request_id : call->request_id;
    a->status = call->last_status;
    a->kind = call->last_kind ? call->last_kind
            : (call->last_status >= 200 && call->last_status < 300) ? NULL
            : call->kind == PD_CALL_TOKEN && (call->last_status == 400 || call->last_status == 401) ? "auth"
            : "http";
    a->attempt = call->attempts;
}

void pd_call_context(const pd_client *c, const pd_call *call, podero_result *r) {
    r->attempts = call->attempts;
    r->method = call->method;
    r->endpoint = call->kind == PD_CALL_TOKEN ? "token" : "api";
    url_path(call->url, r->path, sizeof r->path);
    snprintf(r->request_id, sizeof r->request_id, "%s",
             call->server_request_id[0] ? call->server_request_id : call->request_id);
    podero_redact(&c->sec, r->message, sizeof r->message);
    podero_redact(&c->sec, r->path, sizeof r->path);
}

static void fail(pd_client *c, pd_call *call) {
    pd_call_context(c, call, &call->res);
    call->state = ST_FAIL;
}

/* Writes the 16 hex digits of w, most significant first. */
static void hex16(uint64_t w, char *out) {
    static const char hex[] = "0123456789abcdef";
    int i;
    for (i = 15; i >= 0; i--, w >>= 4)
        out[i] = hex[w & 15];
}

/* A random (version 4) UUID: a request id, not a secret. */
static void new_request_id(pd_client *c, char out[37]) {
    char d[32];
    uint64_t a = podero_rand64(&c->rng), b = podero_rand64(&c->rng);
    a = (a & ~(uint64_t)0xF000) | 0x4000;                   /* version 4 */
    b = (b & ~((uint64_t)0x3 << 62)) | ((uint64_t)0x2 << 62);   /* variant 10 */
    hex16(a, d);
    hex16(b, d + 16);
    memcpy(out, d, 8);
    out[8] = '-';
    memcpy(out + 9, d + 8, 4);
    out[13] = '-';
    memcpy(out + 14, d + 12, 4);
    out[18] = '-';
    memcpy(out + 19, d + 16, 4);
    out[23] = '-';
    memcpy(out + 24, d + 20, 12);
    out[36] = 0;
}

void pd_api_begin(pd_client *c, pd_call *call, const char *method, const char *path,
                  const char *body, size_t body_len, int has_body, int retry, double now) {
    call_reset(call, PD_CALL_API, c->cfg.deadline > 0 ? now + c->cfg.deadline : 0);
    call->method = method;
    call->body = body;
    call->body_len = body_len;
    call->has_body = has_body;
    call->retry = retry;
    call->max_attempts = 1 + c->cfg.max_retries;
    {
        size_t bl = strlen(c->cfg.base_url), pl = strlen(path);
        if (bl + pl >= sizeof call->url) {
            podero_set_result(&call->res, "network", 0, "the URL is longer than %zu bytes", sizeof call->url - 1);
            fail(c, call);
            return;
        }
        memcpy(call->url, c->cfg.base_url, bl);
        memcpy(call->url + bl, path, pl + 1);
    }
}

int pd_token_begin(pd_client *c, pd_call *call, double deadline_at) {
    call_reset(call, PD_CALL_TOKEN, deadline_at);
    call->method = "POST";
    call->retry = PD_RETRY_IDEMPOTENT;   /* a grant changes nothing but the token: safe to repeat */
    call->max_attempts = 1 + c->cfg.max_retries;
    call->use_refresh = c->sec.refresh_token != NULL;
    snprintf(call->url, sizeof call->url, "%s", c->cfg.token_url);
    if (pd_token_build(c, call)) {
        podero_set_result(&call->res, "memory", 0, "out of memory");
        fail(c, call);
        return -1;
    }
    return 0;
}

int pd_call_done(const pd_call *call) { return call->state == ST_DONE; }
int pd_call_failed(const pd_call *call) { return call->state == ST_FAIL; }

void pd_call_free(pd_call *call) {
    buf_wipe_free(&call->tbody);
    buf_wipe_free(&call->theaders);
}

static const char *what(const pd_call *call) {
    return call->kind == PD_CALL_TOKEN ? "the token endpoint" : "the API";
}

int pd_next(pd_client *c, pd_call *call, double now, pd_send *out) {
    double left = 0;
    switch (call->state) {
    case ST_DONE:
        return PD_DONE;
    case ST_FAIL:
        return PD_FAIL;
    case ST_WAIT:
        call->state = ST_READY;
        return PD_WAIT;
    case ST_SENT:
        /* the transport never reported the answer: a bug, said rather than hidden */
        podero_set_result(&call->res, "network", 0, "the transport lost a request");
        fail(c, call);
        return PD_FAIL;
    default:
        break;
    }
    if (call->kind == PD_CALL_API && !pd_token_valid(c, now))
        return PD_TOKEN;
    if (call->deadline_at > 0) {
        left = call->deadline_at - now;
        if (left <= 0.001) {
            podero_set_result(&call->res, "timeout", 0, "the deadline of %g s ran out", c->cfg.deadline);
            fail(c, call);
            return PD_FAIL;
        }
    }
    memset(out, 0, sizeof *out);
    out->method = call->method;
    out->url = call->url;
    if (call->kind == PD_CALL_API) {
        out->headers = call->has_body ? c->api_json_headers : c->api_headers;
        out->limit = c->cfg.max_response_bytes;
        c->api_requests++;
    } else {
        out->headers = call->theaders.p;
        out->limit = pd_token_limit(c);
        c->token_requests++;
    }
    /* a POST or PUT without a body (boost) is still one: an empty body, Content-Length: 0 (the
     * transports send a GET for a request without a body) */
    if (call->has_body || call->kind == PD_CALL_TOKEN || strcmp(call->method, "GET") != 0) {
        out->body = call->kind == PD_CALL_TOKEN ? call->tbody.p : (call->body ? call->body : "");
        out->body_len = call->kind == PD_CALL_TOKEN ? call->tbody.len : call->body_len;
    }
    out->timeout = c->cfg.timeout;
    if (call->deadline_at > 0 && left < out->timeout)
        out->timeout = left;
    out->connect_timeout = c->cfg.connect_timeout;
    out->token_gen = c->token_gen;
    new_request_id(c, call->request_id);
    call->server_request_id[0] = 0;
    out->request_id = call->request_id;
    call->gen = c->token_gen;
    call->attempts++;
    call->state = ST_SENT;
    return PD_SEND;
}

/* Backoff before attempt n+1 (n >= 1): equal jitter over base * 2^(n-1), at most 30 s. */
static double backoff(pd_client *c, int n) {
    double b = c->cfg.retry_base_delay * pow(2.0, (double)(n - 1));
    if (b > 30)
        b = 30;
    return b / 2 + podero_rand_unit(&c->rng) * b / 2;
}

/* A retryable outcome: wait and send again, unless the attempts or the deadline are used up.
 * Returns 1 when the call waits, 0 when it must fail with call->res. */
static int try_again(pd_client *c, pd_call *call, double wait, double now) {
    if (wait > c->cfg.max_retry_wait)
        wait = c->cfg.max_retry_wait;
    if (call->attempts >= call->max_attempts || (call->deadline_at > 0 && now + wait >= call->deadline_at))
        return 0;
    call->wait = wait;
    call->state = ST_WAIT;
    return 1;
}

static int status_retryable(long s) { return s == 429 || s == 502 || s == 503 || s == 504; }

void pd_answer(pd_client *c, pd_call *call, long status, const char *retry_after,
               const char *request_id, const char *body, size_t len, double now) {
    double ra = -1;
    if (call->state != ST_SENT)
        return;
    call->last_status = status;
    call->last_kind = NULL;
    if (request_id) {
        /* the server's own id, kept when it is printable and short */
        size_t i, n = strlen(request_id);
        if (n < sizeof call->server_request_id) {
            for (i = 0; i < n && request_id[i] > 0x20 && request_id[i] < 0x7f; i++)
                ;
            if (i == n)
                memcpy(call->server_request_id, request_id, n + 1);
        }
    }
    call->res.status = status;
    call->res.retry_after = -1;
    if (status_retryable(status) && call->retry == PD_RETRY_IDEMPOTENT) {
        if (retry_after)
            ra = h1_retry_after(retry_after, strlen(retry_after), (double)time(NULL));
        /* a Retry-After of 0 (or a date in the past) falls back to backoff, never a tight loop */
        if (ra <= c->cfg.max_retry_wait && try_again(c, call, ra > 0 ? ra : backoff(c, call->attempts), now))
            return;
        podero_http_error(&c->sec, &call->res, status, what(call), body, len);
        call->res.retry_after = ra;
        fail(c, call);
        return;
    }
    if (status >= 200 && status < 300) {
        call->status = status;
        if (call->kind == PD_CALL_TOKEN && pd_token_accept(c, body, len, now, &call->res) != 0) {
            call->res.status = status;
            call->last_kind = call->res.kind;
            fail(c, call);
            return;
        }
        call->state = ST_DONE;
        return;
    }
    if (call->kind == PD_CALL_TOKEN) {
        if (status == 400 || status == 401) {
            char srv[400];
            if (call->use_refresh) {
                /* the refresh token was refused: the grant itself, with attempts of its own */
                podero_retire(&c->sec, &c->sec.refresh_token);
                call->use_refresh = 0;
                call->attempts = 0;
                call->state = ST_READY;
                if (pd_token_build(c, call)) {
                    podero_set_result(&call->res, "memory", 0, "out of memory");
                    fail(c, call);
                }
                return;
            }
            podero_server_message(&c->sec, body, len, srv, sizeof srv);
            podero_set_result(&call->res, "auth", status,
                              "the token endpoint refused the credentials (HTTP %ld)%s%s", status,
                              srv[0] ? ": " : "", srv);
        } else {
            podero_http_error(&c->sec, &call->res, status, what(call), body, len);
        }
        fail(c, call);
        return;
    }
    if (status == 401) {
        if (c->cfg.grant != PD_GRANT_STATIC && !call->renewed) {
            call->renewed = 1;
            call->max_attempts++;
            /* the first 401 on a token renews it; calls that carried the same token retry with
             * whatever replaced it */
            if (call->gen == c->token_gen)
                pd_drop_token(c);
            call->state = ST_READY;
            return;
        }
        podero_http_error(&c->sec, &call->res, status, what(call), body, len);
        call->res.kind = "auth";
        if (c->cfg.grant == PD_GRANT_STATIC)
            strncat(call->res.message, " (the static token was refused)",
                    sizeof call->res.message - strlen(call->res.message) - 1);
    } else {
        podero_http_error(&c->sec, &call->res, status, what(call), body, len);
    }
    fail(c, call);
}

void pd_failed(pd_client *c, pd_call *call, int failure, long status, const char *message, double now) {
    static const char *const kinds[] = {"network", "network", "network", "timeout", "tls",
                                        "too_large", "memory"};
    int retryable;
    if (call->state != ST_SENT)
        return;
    if (failure < 0 || failure > PD_F_MEMORY)
        failure = PD_F_NETWORK_FATAL;
    call->res.kind = kinds[failure];
    call->last_status = status;
    call->last_kind = kinds[failure];
    call->res.status = status;
    call->res.retry_after = -1;
    if (failure == PD_F_TOO_LARGE)
        snprintf(call->res.message, sizeof call->res.message, "the %s is larger than %zu bytes",
                 call->kind == PD_CALL_TOKEN ? "token answer" : "answer",
                 call->kind == PD_CALL_TOKEN ? pd_token_limit(c) : c->cfg.max_response_bytes);
    else if (failure == PD_F_MEMORY)
        snprintf(call->res.message, sizeof call->res.message, "out of memory");
    else if (failure == PD_F_TIMEOUT && call->deadline_at > 0 && now >= call->deadline_at - 0.002)
        snprintf(call->res.message, sizeof call->res.message, "the deadline of %g s ran out", c->cfg.deadline);
    else
        snprintf(call->res.message, sizeof call->res.message, "%s", message && *message ? message : call->res.kind);
    {   /* one line */
        char *p;
        for (p = call->res.message; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
    }
    retryable = failure == PD_F_UNSENT || (failure == PD_F_NETWORK && call->retry == PD_RETRY_IDEMPOTENT);
    if (retryable && try_again(c, call, backoff(c, call->attempts), now))
        return;
    fail(c, call);
}

void pd_token_failed(pd_client *c, pd_call *call, const podero_result *token_res) {
    call->res = *token_res;     /* endpoint "token": what failed was the token request */
    podero_redact(&c->sec, call->res.message, sizeof call->res.message);
    call->state = ST_FAIL;
}
