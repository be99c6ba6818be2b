/*
 * token.c: the bearer token of a client. The grant requests (client_credentials, password,
 * refresh_token; JSON or form body; client authentication by Basic or in the body), the checks
 * of a token answer, the renewal time (early: 10 % of the lifetime, at most 60 s) and the API
 * header lines that carry the token. No I/O: policy.c decides when, a transport sends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

/* A token answer is a few hundred bytes; anything over 1 MiB is refused. */
#define TOKEN_ANSWER_LIMIT ((size_t)1024 * 1024)

int pd_token_valid(const pd_client *c, double now) {
    if (c->cfg.grant == PD_GRANT_STATIC)
        return c->api_headers != NULL;
    return c->have_token && now < c->token_expires && c->api_headers != NULL;
}

static void free_headers(pd_client *c) {
    podero_strfree(&c->api_headers);
    podero_strfree(&c->api_json_headers);
}

void pd_drop_token(pd_client *c) {
    if (c->cfg.grant == PD_GRANT_STATIC)
        return;
    podero_retire(&c->sec, &c->sec.access_token);
    c->have_token = 0;
    free_headers(c);
}

/* The header lines of an API request with the current token (json: with a JSON body). */
static char *api_header_lines(const pd_client *c, int json) {
    buffer b = {0};
    if (buf_adds(&b, "Authorization: Bearer ") || buf_adds(&b, c->sec.access_token) ||
        buf_adds(&b, "\r\nAccept: application/json\r\n"))
        goto oom;
    if (c->cfg.user_agent && (buf_adds(&b, c->cfg.user_agent) || buf_adds(&b, "\r\n")))
        goto oom;
    if (json && buf_adds(&b, "Content-Type: application/json\r\n"))
        goto oom;
    return b.p;
oom:
    buf_wipe_free(&b);
    return NULL;
}

int pd_build_api_headers(pd_client *c) {
    char *h, *j;
    if (!c->sec.access_token)
        return -1;
    h = api_header_lines(c, 0);
    j = api_header_lines(c, 1);
    if (!h || !j) {
        podero_strfree(&h);
        podero_strfree(&j);
        return -1;
    }
    free_headers(c);
    c->api_headers = h;
    c->api_json_headers = j;
    return 0;
}

static void take_token(pd_client *c, char *tok, double lifetime, double now) {
    double margin = lifetime * 0.1;
    pd_drop_token(c);
    c->sec.access_token = tok;
    c->token_gen++;
    if (margin > 60)
        margin = 60;
    c->token_expires = now + lifetime - margin;
    c->have_token = 1;
}

int pd_set_token(pd_client *c, const char *token, size_t len, double ttl, double now) {
    char *tok = (char *)malloc(len + 1);
    if (!tok) {
        pd_drop_token(c);
        return -1;
    }
    memcpy(tok, token, len);
    tok[len] = 0;
    pd_drop_token(c);
    c->sec.access_token = tok;
    c->token_gen++;
    c->token_expires = now + (ttl > 0 ? ttl : 1);
    c->have_token = 1;
    if (pd_build_api_headers(c)) {
        pd_drop_token(c);
        return -1;
    }
    return 0;
}

static int add_field(const pd_client *c, buffer *b, const char *name, const char *value) {
    if (c->cfg.token_form) {
        if (b->len && buf_add(b, "&", 1)) return -1;
        if (buf_adds(b, name) || buf_add(b, "=", 1) || buf_add_form(b, value)) return -1;
    } else {
        if (buf_add(b, b->len ? "," : "{", 1)) return -1;
        if (buf_add_json_string(b, name) || buf_add(b, ":", 1) || buf_add_json_string(b, value))
            return -1;
    }
    return 0;
}

int pd_token_build(pd_client *c, pd_call *call) {
    const pd_config *o = &c->cfg;
    buffer *body = &call->tbody, *h = &call->theaders, cred = {0};
    const char *secret = c->sec.client_secret ? c->sec.client_secret : "";
    body->len = h->len = 0;
    if (call->use_refresh) {
        if (add_field(c, body, "grant_type", "refresh_token") ||
            add_field(c, body, "refresh_token", c->sec.refresh_token))
            goto oom;
    } else if (o->grant == PD_GRANT_PASSWORD) {
        if (add_field(c, body, "grant_type", "password") ||
            add_field(c, body, "username", o->username) ||
            add_field(c, body, "password", c->sec.password))
            goto oom;
    } else if (add_field(c, body, "grant_type", "client_credentials")) {
        goto oom;
    }
    if (o->client_id && o->client_auth_body) {
        if (add_field(c, body, "client_id", o->client_id) ||
            add_field(c, body, "client_secret", secret))
            goto oom;
    }
    if (!o->token_form && buf_add(body, "}", 1))
        goto oom;
    if (o->client_id && !o->client_auth_body) {
        /* RFC 6749 2.3.1: form-encode id and secret, then Basic */
        if (buf_add_form(&cred, o->client_id) || buf_add(&cred, ":", 1) ||
            buf_add_form(&cred, secret) || buf_adds(h, "Authorization: Basic ") ||
            buf_add_base64(h, (const unsigned char *)cred.p, cred.len) || buf_adds(h, "\r\n"))
            goto oom;
    }
    if (buf_adds(h, o->token_form ? "Content-Type: application/x-www-form-urlencoded\r\n"
                                  : "Content-Type: application/json\r\n") ||
        buf_adds(h, "Accept: application/json\r\n"))
        goto oom;
    if (o->user_agent && (buf_adds(h, o->user_agent) || buf_adds(h, "\r\n")))
        goto oom;
    buf_wipe_free(&cred);
    return 0;
oom:
    buf_wipe_free(&cred);
    return -1;
}

size_t pd_token_limit(const pd_client *c) {
    return c->cfg.max_response_bytes < TOKEN_ANSWER_LIMIT ? c->cfg.max_response_bytes : TOKEN_ANSWER_LIMIT;
}

int pd_token_accept(pd_client *c, const char *body, size_t len, double now, podero_result *res) {
    pj_doc d;
    char err[160];
    pj_val n;
    double lifetime = 3600;
    size_t l;
    const char *s;
    char *tok = NULL, *rtok = NULL, *heap = NULL;
    int prc = pj_parse(&d, body ? body : "", len, err, sizeof err);

    if (prc == -2) {
        podero_set_result(res, "memory", 200, "out of memory");
        return -1;
    }
    if (prc != 0) {
        podero_set_result(res, "decode", 200, "the token answer is not valid JSON: %s", err);
        return -1;
    }
    if (pj_type(&d, d.root) != PJ_OBJ) {
        pj_free(&d);
        podero_set_result(res, "decode", 200, "the token answer is not a JSON object");
        return -1;
    }
    if (pj_obj_get(&d, d.root, "error", 5) != PJ_NONE) {
        pj_free(&d);
        podero_server_message(&c->sec, body, len, err, sizeof err);
        podero_set_result(res, "auth", 200, "the token endpoint refused: %s", err);
        return -1;
    }
    n = pj_obj_get(&d, d.root, "access_token", 12);
    s = n == PJ_NONE ? NULL : pj_str(&d, n, &l, &heap);
    if (!s || l == 0) {
        int oom = !s && n != PJ_NONE && pj_type(&d, n) == PJ_STR;
        pj_free(&d);
        free(heap);
        if (oom) {
            podero_set_result(res, "memory", 200, "out of memory");
            return -1;
        }
        podero_set_result(res, "auth", 200, "the token answer has no access_token string");
        return -1;
    }
    if (memchr(s, 0, l) || memchr(s, '\r', l) || memchr(s, '\n', l)) {
        pj_free(&d);
        if (heap) { podero_wipe(heap, l); free(heap); }
        podero_set_result(res, "auth", 200, "the token answer's access_token has control characters");
        return -1;
    }
    tok = (char *)malloc(l + 1);
    if (tok) { memcpy(tok, s, l); tok[l] = 0; }
    if (heap) { podero_wipe(heap, l); free(heap); heap = NULL; }
    n = pj_obj_get(&d, d.root, "token_type", 10);
    if (n != PJ_NONE) {
        s = pj_type(&d, n) == PJ_STR ? pj_str(&d, n, &l, &heap) : NULL;
        if (!s || l != 6 || strncasecmp(s, "bearer", 6) != 0) {
            pj_free(&d);
            free(heap);
            podero_strfree(&tok);
            podero_set_result(res, "auth", 200, "the token answer's token_type is not Bearer");
            return -1;
        }
        free(heap);
        heap = NULL;
    }
    n = pj_obj_get(&d, d.root, "expires_in", 10);
    if (n != PJ_NONE) {
        int64_t iv = 0;
        double dv = -1, e;
        int t = pj_num(&d, n, &iv, &dv);
        e = t == PJ_INT ? (double)iv : t == PJ_DBL ? dv : -1;
        if (e >= 1)
            lifetime = e > 31536000 ? 31536000 : floor(e);   /* clamp to a year */
    }
    n = pj_obj_get(&d, d.root, "refresh_token", 13);
    s = n == PJ_NONE ? NULL : pj_str(&d, n, &l, &heap);
    if (s && l > 0 && !memchr(s, 0, l)) {
        rtok = (char *)malloc(l + 1);
        if (rtok) { memcpy(rtok, s, l); rtok[l] = 0; }
    }
    if (heap) { podero_wipe(heap, l); free(heap); }
    pj_free(&d);
    if (!tok) {
        podero_strfree(&rtok);
        podero_set_result(res, "memory", 200, "out of memory");
        return -1;
    }
    take_token(c, tok, lifetime, now);
    if (rtok) {
        podero_retire(&c->sec, &c->sec.refresh_token);
        c->sec.refresh_token = rtok;
    }
    if (pd_build_api_headers(c)) {
        pd_drop_token(c);
        podero_set_result(res, "memory", 200, "out of memory");
        return -1;
    }
    return 0;
}
