/*
 * http1.c: the sans-I/O HTTP/1.1 client framing described in http1.h.
 *
 * Implementation notes:
 *  - The hot case is a whole answer (~3 KB) in one feed. Its head is then parsed where it
 *    lies in the caller's bytes, without a copy; only a head split over several feeds is
 *    gathered in p->head (grown geometrically, at most max_head bytes).
 *  - The end of a head is found with memchr over line ends, resuming where the previous
 *    feed stopped, so 1-byte feeds stay linear.
 *  - A Content-Length body is reserved once (length + 1 for the NUL); chunked and
 *    read-to-close bodies grow geometrically, never beyond max_body + 1.
 *  - Chunk size lines and trailers are read byte by byte through small sub-states: they
 *    are short, and this way a split anywhere needs no buffering.
 *  - Error messages are built from constants and numbers only, never from input bytes, so
 *    they are always one line.
 */
#include "http1.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H1_BODY_MIN 4096        /* first allocation of a growing body */
#define H1_HEAD_MIN 1024        /* first allocation of a gathered head */
#define H1_RA_MAX   1e9         /* cap of h1_retry_after */

enum h1_state {
    ST_HEAD = 0,     /* reading a response head (also after a skipped 1xx) */
    ST_BODY_CL,      /* Content-Length body, p->remaining bytes due */
    ST_BODY_CLOSE,   /* body runs until EOF */
    ST_CHUNK_SIZE,   /* chunk size line, p->sub is enum h1_cs */
    ST_CHUNK_DATA,   /* p->remaining bytes of chunk data */
    ST_CHUNK_CR,     /* the CRLF after chunk data */
    ST_CHUNK_LF,
    ST_TRAILER,      /* trailer lines after the last chunk, p->sub is enum h1_tr */
    ST_DONE,
    ST_ERROR
};

enum h1_cs { CS_HEX = 0, CS_WS, CS_EXT, CS_LF };
enum h1_tr { TR_TEXT = 0, TR_CR };

/* ---------------------------------------------------------------------------------- */
/* small helpers                                                                       */

static int h1_fail(h1_parser *p, int kind, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets ERROR with a one-line message; returns H1_ERROR so callers can `return h1_fail(...)`. */
static int h1_fail(h1_parser *p, int kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    p->state = ST_ERROR;
    p->errkind = kind;
    p->keepalive = 0;
    return H1_ERROR;
}

static int h1_nomem(h1_parser *p) {
    return h1_fail(p, H1_E_MEMORY, "out of memory while reading the answer");
}

static int h1_is_ows(char c) { return c == ' ' || c == '\t'; }

static char h1_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

/* ASCII case-insensitive equality of s[0..n) and the lower-case literal lit (no locale). */
static int h1_ieq(const char *s, size_t n, const char *lit) {
    size_t i;
    for (i = 0; i < n; i++)
        if (lit[i] == '\0' || h1_lower(s[i]) != lit[i]) return 0;
    return lit[i] == '\0';
}

/* tchar of RFC 9110 5.6.2 */
static int h1_is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int h1_is_digit(char c) { return c >= '0' && c <= '9'; }

static int h1_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = h1_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Trims spaces and tabs on both sides of s[0..*n); returns the new start. */
static const char *h1_trim(const char *s, size_t *n) {
    while (*n > 0 && h1_is_ows(s[0])) { s++; (*n)--; }
    while (*n > 0 && h1_is_ows(s[*n - 1])) (*n)--;
    return s;
}

/* Next element of a comma list in [*s, end): sets *el and *len (trimmed, may be empty) and moves
 * *s past the comma. Returns 0 when the list is exhausted. */
static int h1_next_elem(const char **s, const char *end, const char **el, size_t *len) {
    if (*s > end) return 0;
    const char *c = memchr(*s, ',', (size_t)(end - *s));
    const char *stop = c ? c : end;
    *len = (size_t)(stop - *s);
    *el = h1_trim(*s, len);
    *s = stop + 1;       /* one past end when the last element is taken */
    return 1;
}

/* ---------------------------------------------------------------------------------- */
/* body buffer                                                                         */

/* Makes room for need bytes (body + NUL). exact: exactly need (a known Content-Length);
 * else doubling from H1_BODY_MIN, clamped to max_body + 1 so a limit is never overshot. */
static int h1_reserve(h1_parser *p, size_t need, int exact) {
    if (need > SIZE_MAX - H1_BODY_SLACK) return -1;
    need += H1_BODY_SLACK;
    if (need <= p->body_cap) return 0;
    size_t cap = need;
    if (!exact) {
        size_t limit = p->max_body < SIZE_MAX ? p->max_body + 1 : SIZE_MAX;
        cap = p->body_cap ? p->body_cap : H1_BODY_MIN;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > limit) cap = limit;
        if (cap < need) cap = need;
    }
    char *b = realloc(p->body, cap);
    if (!b) return -1;
    p->body = b;
    p->body_cap = cap;
    return 0;
}

/* Appends n body bytes (the caller checked max_body); keeps the NUL after them. */
static int h1_append(h1_parser *p, const char *d, size_t n) {
    if (h1_reserve(p, p->body_len + n + 1, 0) != 0) return h1_nomem(p);
    memcpy(p->body + p->body_len, d, n);
    p->body_len += n;
    p->body[p->body_len] = '\0';
    return H1_MORE;
}

/* The answer is complete: the body must exist (possibly "") for the caller. */
static int h1_done(h1_parser *p) {
    if (h1_reserve(p, p->body_len + 1, 0) != 0) return h1_nomem(p);
    p->body[p->body_len] = '\0';
    p->state = ST_DONE;
    return H1_DONE;
}

static int h1_too_large(h1_parser *p) {
    return h1_fail(p, H1_E_TOO_LARGE, "the answer is larger than %zu bytes", p->max_body);
}

/* ---------------------------------------------------------------------------------- */
/* the head                                                                            */

/* What the header lines of one head say about framing. */
typedef struct h1_fields {
    int conn_close, conn_keepalive;
    int te_seen, te_codings, te_other;   /* Transfer-Encoding: lines seen, codings, non-chunked ones */
    int cl_seen;
    size_t cl;
    const char *ra;                      /* first Retry-After value (trimmed), in the head */
    size_t ra_len;
    const char *rid;                     /* first X-Request-Id value (trimmed), in the head */
    size_t rid_len;
} h1_fields;

/* Looks for the blank line that ends a head in b[0..len), resuming at *scan with the
 * current line starting at *line. Returns the offset just past the blank line, or 0. */
static size_t h1_head_end(const char *b, size_t len, size_t *line, size_t *scan) {
    size_t i = *scan;
    while (i < len) {
        const char *nl = memchr(b + i, '\n', len - i);
        if (!nl) break;
        size_t at = (size_t)(nl - b), ll = at - *line;
        if (ll == 0 || (ll == 1 && b[*line] == '\r')) return at + 1;
        *line = i = at + 1;
    }
    *scan = len;
    return 0;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]"; sets *status and *http10. */
static int h1_status_line(const char *s, size_t n, int *status, int *http10) {
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !h1_is_digit(s[7]) || s[8] != ' ') return -1;
    if (!h1_is_digit(s[9]) || !h1_is_digit(s[10]) || !h1_is_digit(s[11])) return -1;
    if (n > 12 && s[12] != ' ') return -1;
    for (size_t i = 13; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return -1;   /* reason is text, no CTLs */
    }
    *status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    *http10 = s[7] == '0';
    return (*status >= 100 && *status <= 599) ? 0 : -1;
}

/* Content-Length: a list of digit strings, all equal to each other and to earlier lines. */
static int h1_content_length(h1_parser *p, h1_fields *f, const char *v, size_t n) {
    const char *s = v, *end = v + n, *el;
    size_t len;
    while (h1_next_elem(&s, end, &el, &len)) {
        size_t x = 0;
        if (len == 0)
            return h1_fail(p, H1_E_PROTOCOL, "the answer's Content-Length is not a number");
        for (size_t i = 0; i < len; i++) {
            if (!h1_is_digit(el[i]))
                return h1_fail(p, H1_E_PROTOCOL, "the answer's Content-Length is not a number");
            unsigned d = (unsigned)(el[i] - '0');
            if (x > (SIZE_MAX - d) / 10)
                return h1_fail(p, H1_E_PROTOCOL, "the answer's Content-Length is out of range");
            x = x * 10 + d;
        }
        if (f->cl_seen && f->cl != x)
            return h1_fail(p, H1_E_PROTOCOL, "the answer has conflicting Content-Length values");
        f->cl_seen = 1;
        f->cl = x;
    }
    return 0;
}

/* Transfer-Encoding: counts codings (empty list elements are ignored, RFC 9110 5.6.1). */
static void h1_transfer_encoding(h1_fields *f, const char *v, size_t n) {
    const char *s = v, *end = v + n, *el;
    size_t len;
    f->te_seen = 1;
    while (h1_next_elem(&s, end, &el, &len)) {
        if (len == 0) continue;
        f->te_codings++;
        if (!h1_ieq(el, len, "chunked")) f->te_other = 1;
    }
}

static void h1_connection(h1_fields *f, const char *v, size_t n) {
    const char *s = v, *end = v + n, *el;
    size_t len;
    while (h1_next_elem(&s, end, &el, &len)) {
        if (h1_ieq(el, len, "close")) f->conn_close = 1;
        else if (h1_ieq(el, len, "keep-alive")) f->conn_keepalive = 1;
    }
}

/* One "name: value" line (line end removed). */
static int h1_header_line(h1_parser *p, h1_fields *f, const char *s, size_t n) {
    size_t i = 0;
    if (h1_is_ows(s[0]))
        return h1_fail(p, H1_E_PROTOCOL, "the answer has a folded header line (obs-fold)");
    while (i < n && h1_is_tchar((unsigned char)s[i])) i++;
    if (i == 0 || i == n || s[i] != ':')
        return h1_fail(p, H1_E_PROTOCOL, "the answer has a malformed header line");
    const char *name = s;
    size_t nlen = i, vlen = n - i - 1;
    const char *v = h1_trim(s + i + 1, &vlen);
    for (size_t k = 0; k < vlen; k++)       /* RFC 9110 5.5: CR, LF, NUL are never data */
        if (v[k] == '\0' || v[k] == '\r')
            return h1_fail(p, H1_E_PROTOCOL, "the answer has a malformed header line");
    if (h1_ieq(name, nlen, "content-length")) return h1_content_length(p, f, v, vlen);
    if (h1_ieq(name, nlen, "transfer-encoding")) h1_transfer_encoding(f, v, vlen);
    else if (h1_ieq(name, nlen, "connection")) h1_connection(f, v, vlen);
    else if (h1_ieq(name, nlen, "retry-after") && !f->ra) { f->ra = v; f->ra_len = vlen; }
    else if (h1_ieq(name, nlen, "x-request-id") && !f->rid) { f->rid = v; f->rid_len = vlen; }
    return 0;
}

/* Splits the head h[0..len) (ending in its blank line) into lines: the status line, then
 * header lines. A CR is only allowed right before the LF. */
static int h1_parse_lines(h1_parser *p, h1_fields *f, const char *h, size_t len, int *status) {
    size_t pos = 0;
    int first = 1;
    while (pos < len) {
        const char *nl = memchr(h + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - h) : len, n = e - pos;   /* nl is always found */
        if (n > 0 && h[e - 1] == '\r') n--;
        const char *s = h + pos;
        pos = e + 1;
        if (memchr(s, '\r', n) || memchr(s, '\0', n)) {
            if (first) break;
            return h1_fail(p, H1_E_PROTOCOL, "the answer has a malformed header line");
        }
        if (first) {
            if (h1_status_line(s, n, status, &p->http10) != 0) break;
            first = 0;
            continue;
        }
        if (n == 0) return 0;                 /* the blank line */
        if (h1_header_line(p, f, s, n) != 0) return H1_ERROR;
    }
    return h1_fail(p, H1_E_PROTOCOL, "the answer is not HTTP/1.x (bad status line)");
}

/* Whether a final answer lets the connection be reused (extra bytes are checked later). */
static int h1_keepalive(const h1_parser *p, const h1_fields *f) {
    if (f->conn_close) return 0;
    if (p->http10 && (!f->conn_keepalive || f->te_seen)) return 0;
    return !(f->te_seen && f->cl_seen);
}

/* A complete head h[0..len): a 1xx is dropped, a final one chooses how the body is framed. */
static int h1_head(h1_parser *p, const char *h, size_t len) {
    h1_fields f;
    int status = 0;
    memset(&f, 0, sizeof f);
    if (h1_parse_lines(p, &f, h, len, &status) != 0) return H1_ERROR;
    if (f.te_seen && (f.te_other || f.te_codings != 1))
        return h1_fail(p, H1_E_PROTOCOL, "the answer's Transfer-Encoding is not chunked");
    if (status == 101)
        return h1_fail(p, H1_E_PROTOCOL, "the answer switches protocols (101), which was not asked for");
    if (status < 200) return H1_MORE;         /* interim: the next head follows */

    p->status = status;
    p->keepalive = h1_keepalive(p, &f);
    if (f.ra && f.ra_len < sizeof p->retry_after) {
        memcpy(p->retry_after, f.ra, f.ra_len);
        p->retry_after[f.ra_len] = '\0';
    }
    if (f.rid && f.rid_len < sizeof p->request_id) {
        memcpy(p->request_id, f.rid, f.rid_len);
        p->request_id[f.rid_len] = '\0';
    }
    if (p->head_request || status == 204 || status == 304) return h1_done(p);
    if (f.te_seen) {
        p->state = ST_CHUNK_SIZE;
        p->sub = CS_HEX;
        return H1_MORE;
    }
    if (!f.cl_seen) {
        p->keepalive = 0;
        p->state = ST_BODY_CLOSE;
        return H1_MORE;
    }
    if (f.cl > p->max_body) return h1_too_large(p);
    if (f.cl == SIZE_MAX || h1_reserve(p, f.cl + 1, 1) != 0) return h1_nomem(p);
    p->content_length = p->remaining = f.cl;
    if (f.cl == 0) return h1_done(p);
    p->state = ST_BODY_CL;
    return H1_MORE;
}

static size_t h1_head_too_large(h1_parser *p, size_t consumed) {
    h1_fail(p, H1_E_TOO_LARGE, "the answer's header block is larger than %zu bytes", p->max_head);
    return consumed;
}

/* Adds d[0..n) to the gathered head, growing it geometrically. */
static int h1_head_append(h1_parser *p, const char *d, size_t n) {
    if (p->head_len + n > p->head_cap) {
        size_t cap = p->head_cap ? p->head_cap : H1_HEAD_MIN;
        while (cap < p->head_len + n) cap *= 2;   /* bounded: head_len + n <= max_head */
        char *h = realloc(p->head, cap);
        if (!h) return -1;
        p->head = h;
        p->head_cap = cap;
    }
    memcpy(p->head + p->head_len, d, n);
    p->head_len += n;
    return 0;
}

/* ST_HEAD: returns the bytes consumed from d[0..n). */
static size_t h1_step_head(h1_parser *p, const char *d, size_t n) {
    if (p->head_len == 0) {                  /* the usual case: try the caller's bytes in place */
        size_t m = n < p->max_head ? n : p->max_head, line = 0, scan = 0;
        size_t end = h1_head_end(d, m, &line, &scan);
        if (end) {
            h1_head(p, d, end);
            return end;
        }
        if (n >= p->max_head) return h1_head_too_large(p, n);
        if (h1_head_append(p, d, n) != 0) { h1_nomem(p); return n; }
        p->head_line = line;
        p->head_scan = scan;
        return n;
    }
    size_t room = p->max_head - p->head_len, take = n < room ? n : room, old = p->head_len;
    if (h1_head_append(p, d, take) != 0) { h1_nomem(p); return n; }
    size_t end = h1_head_end(p->head, p->head_len, &p->head_line, &p->head_scan);
    if (!end) {
        if (p->head_len >= p->max_head) return h1_head_too_large(p, n);
        return take;
    }
    p->head_len = p->head_line = p->head_scan = 0;   /* ready for a head after a 1xx */
    h1_head(p, p->head, end);
    return end - old;
}

/* ---------------------------------------------------------------------------------- */
/* bodies                                                                              */

static size_t h1_step_cl(h1_parser *p, const char *d, size_t n) {
    size_t take = n < p->remaining ? n : p->remaining;
    if (h1_append(p, d, take) != H1_MORE) return n;
    p->remaining -= take;
    if (p->remaining == 0) h1_done(p);
    return take;
}

static size_t h1_step_close(h1_parser *p, const char *d, size_t n) {
    if (n > p->max_body - p->body_len) h1_too_large(p);
    else h1_append(p, d, n);
    return n;
}

/* The end of a chunk size line: the last chunk leads to the trailers. */
static void h1_chunk_line_end(h1_parser *p) {
    p->line_len = 0;
    if (p->chunk_size == 0) {
        p->state = ST_TRAILER;
        p->sub = TR_TEXT;
        p->trailer_line = 0;
        return;
    }
    if (p->chunk_size > p->max_body - p->body_len) { h1_too_large(p); return; }
    p->remaining = p->chunk_size;
    p->chunk_size = 0;
    p->state = ST_CHUNK_DATA;
}

static void h1_bad_chunk(h1_parser *p) {
    h1_fail(p, H1_E_PROTOCOL, "the answer's chunked body is malformed (bad chunk size line)");
}

/* A byte after the hex digits of a chunk size line: BWS, ";" ext, CR or LF. 0 if none. */
static int h1_chunk_after_size(h1_parser *p, char c) {
    if (h1_is_ows(c)) p->sub = CS_WS;
    else if (c == ';') p->sub = CS_EXT;
    else if (c == '\r') p->sub = CS_LF;
    else if (c == '\n') h1_chunk_line_end(p);
    else return 0;
    return 1;
}

/* One byte of a chunk size line: 1*HEXDIG [BWS ";" ext] CRLF (or bare LF). */
static void h1_chunk_size_byte(h1_parser *p, char c) {
    int x;
    if (++p->line_len > p->max_head) {
        h1_fail(p, H1_E_TOO_LARGE, "the answer's chunk size line is longer than %zu bytes", p->max_head);
        return;
    }
    switch (p->sub) {
    case CS_HEX:
        if ((x = h1_hex(c)) >= 0) {
            if (p->chunk_size > (SIZE_MAX >> 4)) {
                h1_fail(p, H1_E_PROTOCOL, "the answer's chunk size is out of range");
                return;
            }
            p->chunk_size = (p->chunk_size << 4) | (size_t)x;
            return;
        }
        /* in CS_HEX every earlier byte of the line was a digit: is there one? */
        if (p->line_len > 1 && h1_chunk_after_size(p, c)) return;
        break;
    case CS_WS:
        if (h1_chunk_after_size(p, c)) return;
        break;
    case CS_EXT:
        if (c == '\r') { p->sub = CS_LF; return; }
        if (c == '\n') { h1_chunk_line_end(p); return; }
        if (c != '\0') return;
        break;
    default:                                 /* CS_LF */
        if (c == '\n') { h1_chunk_line_end(p); return; }
        break;
    }
    h1_bad_chunk(p);
}

/* One byte of the trailer block; an empty line ends the answer. */
static void h1_trailer_byte(h1_parser *p, char c) {
    if (++p->line_len > p->max_head) {
        h1_fail(p, H1_E_TOO_LARGE, "the answer's trailer block is larger than %zu bytes", p->max_head);
        return;
    }
    if (c == '\n') {
        if (p->trailer_line == 0) { h1_done(p); return; }
        p->trailer_line = 0;
        p->sub = TR_TEXT;
        return;
    }
    if (p->sub == TR_CR || c == '\0') {       /* a CR not followed by LF, or a NUL */
        h1_fail(p, H1_E_PROTOCOL, "the answer's chunked body is malformed (bad trailer line)");
        return;
    }
    if (c == '\r') p->sub = TR_CR;
    else p->trailer_line++;
}

/* The chunked states: returns the bytes consumed from d[0..n). */
static size_t h1_step_chunked(h1_parser *p, const char *d, size_t n) {
    size_t i = 0;
    while (i < n) {
        switch (p->state) {
        case ST_CHUNK_SIZE:
            h1_chunk_size_byte(p, d[i++]);
            break;
        case ST_CHUNK_DATA: {
            size_t take = n - i < p->remaining ? n - i : p->remaining;
            if (h1_append(p, d + i, take) != H1_MORE) return n;
            i += take;
            p->remaining -= take;
            if (p->remaining == 0) p->state = ST_CHUNK_CR;
            break;
        }
        case ST_CHUNK_CR:
        case ST_CHUNK_LF: {
            char c = d[i++];
            if (c == '\r' && p->state == ST_CHUNK_CR) p->state = ST_CHUNK_LF;
            else if (c == '\n') { p->state = ST_CHUNK_SIZE; p->sub = CS_HEX; }
            else h1_fail(p, H1_E_PROTOCOL, "the answer's chunked body is malformed (no CRLF after a chunk)");
            break;
        }
        case ST_TRAILER:
            h1_trailer_byte(p, d[i++]);
            break;
        default:
            return i;                         /* DONE or ERROR */
        }
    }
    return i;
}

/* ---------------------------------------------------------------------------------- */
/* public parser API                                                                   */

void h1_init(h1_parser *p, size_t max_body) {
    memset(p, 0, sizeof *p);
    p->max_body = max_body;
    p->max_head = H1_MAX_HEAD_DEFAULT;
}

void h1_reset(h1_parser *p) {
    h1_parser keep = *p;
    memset(p, 0, sizeof *p);
    p->max_body = keep.max_body;
    p->max_head = keep.max_head;
    p->head = keep.head;
    p->head_cap = keep.head_cap;
    p->body = keep.body;
    p->body_cap = keep.body_cap;
}

void h1_free(h1_parser *p) {
    free(p->head);
    free(p->body);
    p->head = p->body = NULL;
    p->head_len = p->head_cap = p->body_len = p->body_cap = 0;
}

static int h1_result(const h1_parser *p) {
    if (p->state == ST_DONE) return H1_DONE;
    if (p->state == ST_ERROR) return H1_ERROR;
    return H1_MORE;
}

int h1_feed(h1_parser *p, const char *data, size_t n) {
    if (p->state == ST_DONE || p->state == ST_ERROR || !data) return h1_result(p);
    p->received = n > SIZE_MAX - p->received ? SIZE_MAX : p->received + n;
    while (n > 0 && p->state != ST_DONE && p->state != ST_ERROR) {
        size_t used;
        switch (p->state) {
        case ST_HEAD:       used = h1_step_head(p, data, n); break;
        case ST_BODY_CL:    used = h1_step_cl(p, data, n); break;
        case ST_BODY_CLOSE: used = h1_step_close(p, data, n); break;
        default:            used = h1_step_chunked(p, data, n); break;
        }
        data += used;
        n -= used;
    }
    if (p->state == ST_DONE && n > 0) p->keepalive = 0;   /* unasked-for bytes follow */
    return h1_result(p);
}

int h1_feed_eof(h1_parser *p) {
    switch (p->state) {
    case ST_DONE:
    case ST_ERROR:
        return h1_result(p);
    case ST_BODY_CLOSE:
        return h1_done(p);
    case ST_HEAD:
        if (p->received == 0)
            return h1_fail(p, H1_E_TRUNCATED, "the connection was closed before any answer arrived");
        return h1_fail(p, H1_E_TRUNCATED,
                       "the answer ended before its header block was complete (got %zu bytes)", p->received);
    case ST_BODY_CL:
        return h1_fail(p, H1_E_TRUNCATED, "the answer ended before its body was complete (got %zu of %zu bytes)",
                       p->body_len, p->content_length);
    default:
        return h1_fail(p, H1_E_TRUNCATED,
                       "the answer ended before its chunked body was complete (got %zu bytes)", p->body_len);
    }
}

char *h1_take_body(h1_parser *p, size_t *len) {
    char *b = p->body;
    *len = b ? p->body_len : 0;
    p->body = NULL;
    p->body_len = p->body_cap = 0;
    return b;
}

/* ---------------------------------------------------------------------------------- */
/* request bytes                                                                       */

/* Whether s may go into the request line or Host header: no CTL (CR, LF, ...), no DEL,
 * and no space unless allow_sp. */
static int h1_clean(const char *s, int allow_sp) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || (c == ' ' && !allow_sp)) return 0;
    }
    return 1;
}

static int h1_is_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!h1_is_tchar((unsigned char)*s)) return 0;
    return 1;
}

/* Copies n bytes to w and returns the end (n may be 0 with s NULL). */
static char *h1_put(char *w, const char *s, size_t n) {
    if (n) memcpy(w, s, n);
    return w + n;
}

int h1_request(char **out, size_t *out_len, const char *method, const char *hostport,
               const char *target, const char *header_lines, const char *body, size_t body_len) {
    *out = NULL;
    *out_len = 0;
    if (!method || !hostport || !target || !h1_is_token(method) || !*target ||
        !h1_clean(target, 0) || !h1_clean(hostport, 0))
        return -2;
    if (!header_lines) header_lines = "";
    if (!body) body_len = 0;
    char cl[48];
    size_t lc = body ? (size_t)snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body_len) : 0;
    size_t lm = strlen(method), lt = strlen(target), lh = strlen(hostport), lx = strlen(header_lines);
    /* "M T HTTP/1.1\r\n" "Host: H\r\n" lines CL "\r\n" body NUL */
    size_t fixed = lm + 1 + lt + 11 + 6 + lh + 2 + lx + lc + 2 + 1;
    if (body_len > SIZE_MAX - fixed) return -1;
    char *b = malloc(fixed + body_len), *w = b;
    if (!b) return -1;
    w = h1_put(h1_put(h1_put(w, method, lm), " ", 1), target, lt);
    w = h1_put(h1_put(h1_put(w, " HTTP/1.1\r\nHost: ", 17), hostport, lh), "\r\n", 2);
    w = h1_put(h1_put(h1_put(w, header_lines, lx), cl, lc), "\r\n", 2);
    w = h1_put(w, body, body_len);
    *w = '\0';
    *out = b;
    *out_len = (size_t)(w - b);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* URL                                                                                 */

static int h1_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || h1_is_digit(c) ||
           c == '-' || c == '.' || c == '_';
}

/* Whether s starts with the lower-case literal lit, ignoring ASCII case. */
static int h1_iprefix(const char *s, const char *lit) {
    for (; *lit; s++, lit++)
        if (h1_lower(*s) != *lit) return 0;      /* also stops at the end of s */
    return 1;
}

/* host[:port] or [v6][:port] in a[0..n); fills host, port (0 when absent), *v6. */
static int h1_authority(const char *a, size_t n, h1_url *u, int *v6) {
    const char *host = a, *rest;
    size_t hl;
    *v6 = n > 0 && a[0] == '[';
    if (*v6) {
        const char *close = memchr(a, ']', n);
        if (!close) return -1;
        host = a + 1;
        hl = (size_t)(close - host);
        rest = close + 1;
        for (size_t i = 0; i < hl; i++)
            if (h1_hex(host[i]) < 0 && host[i] != ':' && host[i] != '.') return -1;
        if (!memchr(host, ':', hl)) return -1;
    } else {
        const char *colon = memchr(a, ':', n);
        hl = colon ? (size_t)(colon - a) : n;
        rest = a + hl;
        for (size_t i = 0; i < hl; i++)
            if (!h1_host_char(host[i])) return -1;
    }
    if (hl == 0 || hl >= sizeof u->host) return -1;
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    size_t rl = (size_t)(a + n - rest);
    if (rl == 0) return 0;
    if (rest[0] != ':' || rl < 2 || rl > 6) return -1;
    int port = 0;
    for (size_t i = 1; i < rl; i++) {
        if (!h1_is_digit(rest[i])) return -1;
        port = port * 10 + (rest[i] - '0');
    }
    if (port < 1 || port > 65535) return -1;
    u->port = port;
    return 0;
}

int h1_split_url(const char *url, h1_url *u) {
    memset(u, 0, sizeof *u);
    if (!url) return -1;
    size_t skip;
    if (h1_iprefix(url, "http://")) skip = 7;
    else if (h1_iprefix(url, "https://")) { skip = 8; u->tls = 1; }
    else goto bad;
    const char *a = url + skip;
    size_t an = strcspn(a, "/?#");
    if (memchr(a, '@', an)) goto bad;                 /* userinfo */
    int v6 = 0;
    if (h1_authority(a, an, u, &v6) != 0) goto bad;
    int dflt = u->tls ? 443 : 80;
    if (u->port == 0) u->port = dflt;
    const char *path = a + an;
    size_t pl = strlen(path);
    if (strpbrk(path, "?#") || pl >= sizeof u->path || !h1_clean(path, 0)) goto bad;
    memcpy(u->path, path, pl + 1);
    if (u->port == dflt) snprintf(u->hostport, sizeof u->hostport, v6 ? "[%s]" : "%s", u->host);
    else snprintf(u->hostport, sizeof u->hostport, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    return 0;
bad:
    memset(u, 0, sizeof *u);
    return -1;
}

/* ---------------------------------------------------------------------------------- */
/* Retry-After                                                                         */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long h1_days(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The Gregorian year of unix seconds t (Howard Hinnant's civil_from_days, year only). */
static long long h1_year_of(double t) {
    long long z = (long long)(t / 86400.0) + 719468;
    if (t < 0 && (double)(z - 719468) * 86400.0 != t) z--;       /* floor, not truncation */
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int h1_month_days(long long y, int m) {
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return len[m - 1] + (m == 2 && leap);
}

/* A small cursor over the date text. */
typedef struct h1_cur { const char *s, *end; } h1_cur;

/* Consumes the literal lit (lower case) ignoring ASCII case; 0 if it is not next. */
static int h1_lit(h1_cur *c, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->s) < n || !h1_ieq(c->s, n, lit)) return 0;
    c->s += n;
    return 1;
}

/* Exactly n digits (or 1..n when n_min < n) into *v. */
static int h1_digits(h1_cur *c, int n_min, int n, int *v) {
    int k = 0;
    *v = 0;
    while (k < n && c->s < c->end && h1_is_digit(*c->s)) { *v = *v * 10 + (*c->s++ - '0'); k++; }
    return k >= n_min;
}

static int h1_month(h1_cur *c, int *m) {
    static const char *const names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int i = 0; i < 12; i++)
        if (h1_lit(c, names[i])) { *m = i + 1; return 1; }
    return 0;
}

/* A day name: the short one, or the long one when lng. */
static int h1_wkday(h1_cur *c, int lng) {
    static const char *const s[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    static const char *const l[7] = {"monday", "tuesday", "wednesday", "thursday", "friday",
                                     "saturday", "sunday"};
    for (int i = 0; i < 7; i++)
        if (h1_lit(c, lng ? l[i] : s[i])) return 1;
    return 0;
}

/* "HH:MM:SS" */
static int h1_time(h1_cur *c, int *h, int *mi, int *s) {
    return h1_digits(c, 2, 2, h) && h1_lit(c, ":") && h1_digits(c, 2, 2, mi) && h1_lit(c, ":") &&
           h1_digits(c, 2, 2, s) && *h <= 23 && *mi <= 59 && *s <= 60;
}

typedef struct h1_date { int y, m, d, hh, mm, ss, y2; } h1_date;

/* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT". */
static int h1_date_comma(h1_cur c, h1_date *t) {
    h1_cur c2 = c;
    if (h1_wkday(&c, 0) && h1_lit(&c, ", ") && h1_digits(&c, 2, 2, &t->d) && h1_lit(&c, " ") &&
        h1_month(&c, &t->m) && h1_lit(&c, " ") && h1_digits(&c, 4, 4, &t->y) && h1_lit(&c, " ") &&
        h1_time(&c, &t->hh, &t->mm, &t->ss) && h1_lit(&c, " gmt") && c.s == c.end)
        return 1;
    c = c2;
    t->y2 = 1;
    return h1_wkday(&c, 1) && h1_lit(&c, ", ") && h1_digits(&c, 2, 2, &t->d) && h1_lit(&c, "-") &&
           h1_month(&c, &t->m) && h1_lit(&c, "-") && h1_digits(&c, 2, 2, &t->y) && h1_lit(&c, " ") &&
           h1_time(&c, &t->hh, &t->mm, &t->ss) && h1_lit(&c, " gmt") && c.s == c.end;
}

/* asctime "Sun Nov  6 08:49:37 1994" (day as SP DIGIT or 2DIGIT). */
static int h1_date_asctime(h1_cur c, h1_date *t) {
    if (!(h1_wkday(&c, 0) && h1_lit(&c, " ") && h1_month(&c, &t->m) && h1_lit(&c, " "))) return 0;
    if (h1_lit(&c, " ")) { if (!h1_digits(&c, 1, 1, &t->d)) return 0; }
    else if (!h1_digits(&c, 2, 2, &t->d)) return 0;
    return h1_lit(&c, " ") && h1_time(&c, &t->hh, &t->mm, &t->ss) && h1_lit(&c, " ") &&
           h1_digits(&c, 4, 4, &t->y) && c.s == c.end;
}

/* Unix seconds of an HTTP-date, or -1 when s[0..n) is none. */
static int h1_http_date(const char *s, size_t n, double now, double *out) {
    h1_date t;
    memset(&t, 0, sizeof t);
    h1_cur c = {s, s + n};
    if (!h1_date_comma(c, &t)) {
        memset(&t, 0, sizeof t);
        if (!h1_date_asctime(c, &t)) return -1;
    }
    long long y = t.y;
    if (t.y2) {       /* RFC 9110 5.6.7: not more than 50 years ahead of now */
        long long cur = h1_year_of(now);
        y = cur - cur % 100 + t.y;
        if (y > cur + 50) y -= 100;
        else if (y + 100 <= cur + 50) y += 100;
    }
    if (t.d < 1 || t.d > h1_month_days(y, t.m)) return -1;
    *out = (double)h1_days(y, t.m, t.d) * 86400.0 + t.hh * 3600.0 + t.mm * 60.0 + t.ss;
    return 0;
}

double h1_retry_after(const char *v, size_t n, double now) {
    if (!v) return -1;
    v = h1_trim(v, &n);
    if (n == 0) return -1;
    size_t i = 0;
    while (i < n && h1_is_digit(v[i])) i++;
    if (i == n) {                             /* delay-seconds */
        size_t z = 0;
        while (z < n - 1 && v[z] == '0') z++;
        if (n - z > 9) return H1_RA_MAX;
        double s = 0;
        for (i = z; i < n; i++) s = s * 10 + (v[i] - '0');
        return s;
    }
    if (!(now > -1e15 && now < 1e15)) return -1;   /* also refuses NaN */
    double t;
    if (h1_http_date(v, n, now, &t) != 0) return -1;
    double d = t - now;
    if (d < 0) return 0;
    return d > H1_RA_MAX ? H1_RA_MAX : d;
}
