/*
 * result.c: the outcome of a request (podero_result), the closed list of error kinds, the
 * messages made from a server's answer, and redaction: no secret a client holds or held ever
 * reaches a message, even when a server echoes one back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

/* Every err.kind there is (podero.ERROR_KINDS; the README's table documents each). */
const char *const podero_error_kinds[] = {
    "network", "timeout", "tls", "http", "auth", "decode", "too_large", "memory", NULL
};

void podero_result_init(podero_result *res) {
    /* field by field: the text buffers only need to be empty strings */
    res->kind = NULL;
    res->status = 0;
    res->retry_after = -1;
    res->attempts = 0;
    res->message[0] = 0;
    res->method = NULL;
    res->endpoint = NULL;
    res->path[0] = 0;
    res->request_id[0] = 0;
}

void podero_set_result(podero_result *res, const char *kind, long status, const char *fmt, ...) {
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

void podero_redact(const podero_secrets *s, char *text, size_t cap) {
    int i;
    redact_one(text, cap, s->client_secret);
    redact_one(text, cap, s->password);
    redact_one(text, cap, s->access_token);
    redact_one(text, cap, s->refresh_token);
    for (i = 0; i < PODERO_OLD_SECRETS; i++)
        redact_one(text, cap, s->old[i]);
}

void podero_retire(podero_secrets *s, char **slot) {
    if (!*slot)
        return;
    podero_strfree(&s->old[s->next_old]);
    s->old[s->next_old] = *slot;
    s->next_old = (s->next_old + 1) % PODERO_OLD_SECRETS;
    *slot = NULL;
}

void podero_secrets_free(podero_secrets *s) {
    int i;
    podero_strfree(&s->client_secret);
    podero_strfree(&s->password);
    podero_strfree(&s->access_token);
    podero_strfree(&s->refresh_token);
    for (i = 0; i < PODERO_OLD_SECRETS; i++)
        podero_strfree(&s->old[i]);
}

/*
 * Appends ": " (unless first) and at most maxlen bytes of s to out. The whole text is redacted
 * before it is cut, so a secret that crosses the cut cannot leave a prefix behind.
 */
static void append_server_text(const podero_secrets *sec, char *out, size_t cap, size_t *o,
                               const char *s, size_t sl, size_t maxlen) {
    char tmp[4096 + 16];
    size_t n = sl < 4096 ? sl : 4096, i;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    podero_redact(sec, tmp, sizeof tmp);
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

/* append_server_text of the string value v of d (nothing when it cannot be decoded) */
static void append_server_string(const podero_secrets *sec, const pj_doc *d, pj_val v, char *out,
                                 size_t cap, size_t *o, size_t max) {
    size_t sl;
    char *heap;
    const char *s = pj_str(d, v, &sl, &heap);
    if (s)
        append_server_text(sec, out, cap, o, s, sl, max);
    free(heap);
}

void podero_server_message(const podero_secrets *sec, const char *body, size_t len, char *out, size_t cap) {
    pj_doc d;
    char err[64];
    size_t o = 0;
    uint32_t n;
    out[0] = 0;
    if (!body || len == 0 || len > 65536 || pj_parse(&d, body, len, err, sizeof err) != 0)
        return;
    if (pj_type(&d, d.root) == PJ_OBJ) {
        static const char *const keys[] = {"error", "error_description", "detail", "message"};
        size_t k;
        for (k = 0; k < 4; k++) {
            n = pj_obj_get(&d, d.root, keys[k], strlen(keys[k]));
            if (n == PJ_NONE)
                continue;
            if (pj_type(&d, n) == PJ_STR) {
                append_server_string(sec, &d, n, out, cap, &o, 300);
            } else if (pj_type(&d, n) == PJ_ARR && pj_count(&d, n) > 0) {
                /* Django Ninja's 422: [{"loc": [...], "msg": "..."}] */
                uint32_t e = pj_arr_get(&d, n, 0), m, l, nl;
                if (pj_type(&d, e) == PJ_OBJ) {
                    m = pj_obj_get(&d, e, "msg", 3);
                    l = pj_obj_get(&d, e, "loc", 3);
                    if (l != PJ_NONE && pj_type(&d, l) == PJ_ARR && (nl = pj_count(&d, l)) > 0) {
                        uint32_t last = pj_arr_get(&d, l, nl - 1);
                        if (pj_type(&d, last) == PJ_STR)
                            append_server_string(sec, &d, last, out, cap, &o, 80);
                    }
                    if (m != PJ_NONE && pj_type(&d, m) == PJ_STR)
                        append_server_string(sec, &d, m, out, cap, &o, 200);
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

void podero_http_error(const podero_secrets *sec, podero_result *res, long status, const char *what,
                       const char *body, size_t len) {
    char srv[400];
    const char *st = status_text(status);
    podero_server_message(sec, body, len, srv, sizeof srv);
    if (status >= 300 && status < 400)
        snprintf(srv, sizeof srv, "redirect not followed");
    else if (st[0] && strcasecmp(srv, st) == 0)
        srv[0] = 0;             /* {"detail": "Not Found"} says nothing the status does not */
    podero_set_result(res, "http", status, "%s answered HTTP %ld%s%s%s%s", what, status,
                      st[0] ? " " : "", st, srv[0] ? ": " : "", srv);
    podero_redact(sec, res->message, sizeof res->message);
}
