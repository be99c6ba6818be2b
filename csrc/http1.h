/*
 * http1.h: sans-I/O HTTP/1.1 client framing for the nginx cosocket transport.
 *
 * Nothing here touches a socket: the Lua side builds the request bytes with h1_request,
 * writes them itself, then hands every piece it reads (sock:receiveany) to h1_feed, which
 * answers "need more" (H1_MORE), "done" (H1_DONE) or "error" (H1_ERROR). When the peer
 * closes, h1_feed_eof says whether that ended the answer (a read-to-close body) or cut it
 * short. The parser follows RFC 9112 strictly but practically (see the rules at h1_feed);
 * it holds no global state, allocates only through malloc/realloc/free and reports an
 * allocation failure as an error, so any input (it is fuzzed) ends in one of the three
 * results without a crash or a leak.
 *
 * Only libc and libm: no Lua, no curl, no other podero header.
 */
#ifndef PODERO_HTTP1_H
#define PODERO_HTTP1_H

#include <stddef.h>

/* --- URL: split an absolute http(s) URL once (client creation) --------------------- */

typedef struct h1_url {
    int tls;              /* 1 for https */
    char host[256];       /* host name or IPv4, or IPv6 literal WITHOUT brackets */
    int port;             /* explicit or 80/443 */
    char hostport[300];   /* the Host header value: host, [v6], with ":port" only when not default */
    char path[1024];      /* the path prefix (may be empty), no query/fragment allowed */
} h1_url;

/*
 * 0 ok, -1 malformed: scheme not http/https (case-insensitive), empty host, userinfo,
 * port not 1..65535 (an empty port after ':' is refused too), a query or fragment, a
 * host or path too long for its field, a control character or space anywhere, a host
 * with characters outside letters, digits, '-', '.', '_' (or an IPv6 literal with
 * characters outside hex digits, ':' and '.'). *u is zeroed first, so it is never
 * half-filled on failure.
 */
int h1_split_url(const char *url, h1_url *u);

/* --- request bytes ------------------------------------------------------------------ */

/*
 * Builds "METHOD target HTTP/1.1\r\nHost: hostport\r\n<header_lines>Content-Length: n\r\n\r\n<body>"
 * header_lines: zero or more complete "Name: value\r\n" lines (caller-built, trusted; NULL
 * for none). Content-Length only when body != NULL (also for an empty body). On success
 * returns 0 with a malloc'd buffer in *out (NUL-terminated after *out_len, for
 * convenience) and its length. -1: out of memory. -2: refused, nothing allocated: the
 * method is not a token, the target is empty or holds a control character or space, the
 * hostport holds a control character (CR, LF, ...) or space, or one of them is NULL.
 */
int h1_request(char **out, size_t *out_len, const char *method, const char *hostport,
               const char *target, const char *header_lines, const char *body, size_t body_len);

/* --- response parser, fed in pieces ------------------------------------------------- */

enum { H1_MORE = 0, H1_DONE = 1, H1_ERROR = -1 };
enum h1_errkind { H1_E_NONE = 0, H1_E_PROTOCOL, H1_E_TOO_LARGE, H1_E_TRUNCATED, H1_E_MEMORY };

#define H1_MAX_HEAD_DEFAULT 65536

typedef struct h1_parser {
    /* settings (set after h1_init, before feeding) */
    size_t max_body;        /* body bytes allowed (SIZE_MAX: no limit); more -> H1_ERROR with
                               H1_E_TOO_LARGE as soon as known: a Content-Length over it fails at
                               the head, a chunk size over what is left fails at its size line, a
                               read-to-close body fails when it grows past it */
    size_t max_head;        /* bytes of one response head (status line to blank line, each 1xx
                               head counted on its own; also bounds a chunk size line and the
                               trailer block); default 65536 */
    int head_request;       /* the request was HEAD: no body whatever the headers say. Cleared by
                               h1_reset, since it describes one request. */

    /* results */
    int status;             /* status of the final (non-1xx) response, 0 until its head is read */
    int keepalive;          /* valid at DONE: the connection can be reused (HTTP/1.1 without
                               Connection: close, or HTTP/1.0 with Connection: keep-alive; body
                               framed by Content-Length, chunked or absent; no Transfer-Encoding
                               with Content-Length; no extra bytes after the answer in its feed) */
    char retry_after[128];  /* the Retry-After value (trimmed), "" when absent or too long */
    char request_id[64];    /* the X-Request-Id value (trimmed), "" when absent or too long */
    char *body;             /* the (de-chunked) body, NUL-terminated after body_len; owned by the
                               parser; never NULL at DONE (an empty body is "") */
    size_t body_len;
    size_t received;        /* bytes fed since h1_init/h1_reset (interim 1xx heads included): 0 at
                               an EOF error means the peer closed without answering at all, which
                               for a reused connection is the usual "stale keep-alive" race */
    int errkind;            /* enum h1_errkind at H1_ERROR */
    char errmsg[160];       /* one line, no CR/LF, never quotes input bytes */

    /* internal state: read only through the fields above */
    int state;              /* enum h1_state in http1.c */
    int sub;                /* sub-state of the chunk size line / trailer line */
    int http10;             /* the final response is HTTP/1.0 */
    char *head;             /* a head that did not arrive in one piece is gathered here */
    size_t head_len, head_cap;
    size_t head_line;       /* offset in head of the line being scanned */
    size_t head_scan;       /* offset in head up to which the blank line was looked for */
    size_t body_cap;
    size_t remaining;       /* Content-Length: body bytes still due; chunked: bytes left in the chunk */
    size_t content_length;
    size_t chunk_size;      /* the size being read on a chunk size line */
    size_t line_len;        /* bytes of the current chunk size line, or of the trailer block */
    size_t trailer_line;    /* bytes of the current trailer line (CR excluded) */
} h1_parser;

/* Zeroes *p and sets max_body and max_head (H1_MAX_HEAD_DEFAULT). Allocates nothing. */
void h1_init(h1_parser *p, size_t max_body);

/* Ready for the next response on the same connection: keeps max_body, max_head and the
 * buffers' memory, clears everything else (head_request included). */
void h1_reset(h1_parser *p);

/* Frees everything; safe twice; safe on a zeroed struct. The parser can be h1_init'ed again. */
void h1_free(h1_parser *p);

/*
 * Feeds n bytes (data may be NULL when n == 0). Returns H1_MORE, H1_DONE or H1_ERROR; after
 * DONE or ERROR it returns the same result again without reading. Rules (RFC 9112):
 *  - status line "HTTP/1.x SP 3DIGIT [SP reason]", status 100..599; lines end in CRLF or a
 *    bare LF; a bare CR or a NUL anywhere in the head is a protocol error; no empty line
 *    may precede the status line.
 *  - interim 1xx heads (except 101, a protocol error) are skipped; 101 is refused.
 *  - header names are tokens directly followed by ':'; a line starting with space or tab
 *    (obs-fold) is a protocol error; names match case-insensitively.
 *  - Transfer-Encoding must be exactly "chunked" (one coding, any number of lines adding up
 *    to it); a Content-Length beside it is ignored (but must still be well-formed) and the
 *    connection is not reused. HTTP/1.0 with Transfer-Encoding is never reused either.
 *  - Content-Length: digits only, a comma list and several lines must all agree; overflow
 *    is a protocol error.
 *  - 204, 304 and a HEAD request have no body; otherwise without Transfer-Encoding and
 *    Content-Length the body runs to EOF (never reused).
 *  - chunked: hex size (overflow is an error), optional BWS and ";ext", CRLF, data, CRLF;
 *    after the last chunk, trailers up to an empty line, ignored but bounded by max_head.
 *  - bytes after the end of the answer in the same feed clear keepalive.
 */
int h1_feed(h1_parser *p, const char *data, size_t n);

/* The peer closed: H1_DONE if the body is read-to-close, else H1_ERROR with
 * H1_E_TRUNCATED (or the same result as before, after DONE or ERROR). */
int h1_feed_eof(h1_parser *p);

/* Steals the body buffer (caller frees; NUL-terminated after *len); the parser forgets it.
 * NULL with *len 0 when there is none. */
char *h1_take_body(h1_parser *p, size_t *len);

/* Writable bytes the body buffer always has after the body and its NUL, so that a consumer
 * can pad it in place (pj_parse_owned needs PJ_PAD = 32 after the body). */
#define H1_BODY_SLACK 32

/* --- Retry-After -------------------------------------------------------------------- */

/*
 * v[0..n) is delay-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime; RFC 9110
 * 5.6.7), surrounding spaces/tabs allowed. Returns the delay in seconds relative to now
 * (unix seconds), >= 0, or -1 when unparseable. Delay-seconds whose value needs more than
 * 9 digits (leading zeros aside), and dates further than that in the future, give 1e9. A
 * date in the past gives 0. RFC 850's two-digit year is read as the year nearest to now
 * that is at most 50 years ahead.
 */
double h1_retry_after(const char *v, size_t n, double now);

#endif
