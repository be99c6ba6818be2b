/*
 * buf.c: growable byte buffers and the encoders the requests need.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int buf_reserve(buffer *b, size_t extra) {
    size_t need = b->len + extra + 1, cap;
    char *p;
    if (need < b->len)
        return -1;
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

int buf_add(buffer *b, const char *s, size_t n) {
    if (buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int buf_adds(buffer *b, const char *s) { return buf_add(b, s, strlen(s)); }

void buf_wipe_free(buffer *b) {
    if (b->p) {
        podero_wipe(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
}

int buf_add_json_stringn(buffer *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;
    if (buf_reserve(b, n + 2) || buf_add(b, "\"", 1))
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[7];
        size_t el = 0;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\'; esc[1] = (char)ch; el = 2;
        } else if (ch == '\n' || ch == '\r' || ch == '\t' || ch == '\b' || ch == '\f') {
            esc[0] = '\\';
            esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : ch == '\b' ? 'b' : 'f';
            el = 2;
        } else if (ch < 0x20) {
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15]; el = 6;
        } else {
            continue;
        }
        /* the plain bytes before this one, then its escape */
        if (buf_add(b, s + run, i - run) || buf_add(b, esc, el))
            return -1;
        run = i + 1;
    }
    if (buf_add(b, s + run, n - run))
        return -1;
    return buf_add(b, "\"", 1);
}

int buf_add_json_string(buffer *b, const char *s) { return buf_add_json_stringn(b, s, strlen(s)); }

/* HTML form encoding: space is '+' */
int buf_add_form(buffer *b, const char *s) {
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

int buf_add_base64(buffer *b, const unsigned char *s, size_t n) {
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
